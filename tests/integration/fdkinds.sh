#!/bin/sh
# fdkinds.sh: the fd kinds of an event loop (issue 15), restored from CRIU
# 4.2 images (the fdkinds fixture): FIFOs with their queued records, both
# ends and a half-open one, an eventfd's count, a signalfd's mask, two
# timerfds (one absolute and periodic), an epoll's targets and readiness, a
# pidfd of the child, an inotify watch; and a pty pair with its settings,
# queued bytes and the session it controls (the ptys fixture).  The workload checks its part every
# round; check.sh reads /proc's fdinfo; fds.py compares every fd with the
# images.  What is still not restored is refused before anything is forked,
# with one line naming the image and the feature.
. "$(dirname "$0")/../lib.sh"

for fx in fdkinds ptys; do
	"$CRSTEP" check --restorable "$FIX/criu-4.2/$fx/images" >"$TMP/out" 2>&1
	ok $? "$fx: check --restorable accepts every fd kind of the images: $(cat "$TMP/out")"
done
for fx in fdkinds ptys; do
	for variant in criu4 legacy; do
		sh "$FIX/criu-4.2/$fx/prepare.sh" >/dev/null 2>&1
		rm -f "$TMP/pid"
		expect_run 0 "$fx/$variant: restore --batch --detach" "$CRSTEP" restore "$FIX/criu-4.2/$fx/images" \
			--protocol "$variant" --batch --detach --pidfile "$TMP/pid" || continue
		pid=$(cat "$TMP/pid")
		sleep 0.6
		sh "$FIX/criu-4.2/$fx/check.sh" "$pid" >"$TMP/check" 2>&1
		ok $? "$fx/$variant: $(tail -1 "$TMP/check")"
		check_fds "$fx/$variant" "$pid" "$FIX/criu-4.2/$fx"
		kill_tree "$pid" && no_restored
		ok $? "$fx/$variant: nothing of the tree is left after kill"
	done
done

# Refused up front, by name (fdkinds' files.img entries: 14 the epoll, 15
# the pidfd; ptys' tty-info.img entries: 0 the master, 1 the slave).
# refused FX NAME MESSAGE CORRUPT-ARGS...: a copy of FX's images changed by
# corrupt.py (one or more "IMG N PATH VALUE" groups) must be refused.
refused() {
	fx=$1 name=$2 msg=$3
	shift 3
	B=$TMP/$name
	rm -rf "$B" && cp -r "$FIX/criu-4.2/$fx/images" "$B"
	while [ $# -ge 4 ]; do
		python3 "$TOP/tests/corrupt.py" field "$B/$1" "$2" "$3" "$4"
		shift 4
	done
	sh "$FIX/criu-4.2/$fx/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	if expect_run 2 "$fx/$name: refused" "$CRSTEP" restore "$B" --batch --detach --pidfile "$TMP/pid"; then
		[ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -qF "crstep: $msg" "$TMP/err"
		ok $? "$fx/$name: one line names the image and the feature: $(head -1 "$TMP/err")"
	fi
	[ -s "$TMP/pid" ] && kill_tree "$(cat "$TMP/pid")"	# restored after all: do not leave it
	no_restored
	ok $? "$fx/$name: nothing was forked"
	"$CRSTEP" check --restorable "$B" >/dev/null 2>"$TMP/err"
	[ $? -eq 2 ] && grep -qF "crstep: $msg" "$TMP/err"
	ok $? "$fx/$name: check --restorable says the same"
}
refused fdkinds epoll-target "files.img: entry 14: eventpoll file id 15: target fd 40 is not an fd of task 31700: not restored yet" \
	files.img 14 9.4.2 40
refused fdkinds pidfd-outside "files.img: entry 15: a pidfd of pid 31799, not a task of the tree: not restored yet" \
	files.img 15 22.4 31799
refused ptys console "tty-info.img: tty 15 (CONSOLE, rdev 5:2): only ptys are restored yet" \
	tty-info.img 0 2 2
refused ptys no-master "tty-info.img: tty 15: pty 7, whose master no task holds (criu's --shell-job): not restored yet" \
	tty-info.img 0 8 34823
refused ptys foreign-session "tty-info.img: tty 15: pty 7 controls session 31799, whose leader is not a live task of the tree: not restored yet" \
	tty-info.img 0 6 31799
done_testing
