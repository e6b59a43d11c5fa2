#!/bin/sh
# fdkinds.sh: the fd kinds of an event loop (issue 15), restored from CRIU
# 4.2 images (the fdkinds fixture): FIFOs with their queued records, both
# ends and a half-open one, an eventfd's count, a signalfd's mask, two
# timerfds (one absolute and periodic), an epoll's targets and readiness, a
# pidfd of the child, an inotify watch.  The workload checks its part every
# round; check.sh reads /proc's fdinfo; fds.py compares every fd with the
# images.  What is still not restored is refused before anything is forked,
# with one line naming the image and the feature.
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/fdkinds
if ! "$CRSTEP" check --restorable "$FX/images" >"$TMP/out" 2>&1; then
	ok 1 "fdkinds: check --restorable: $(cat "$TMP/out")"
	done_testing
	exit
fi
ok 0 "fdkinds: check --restorable accepts every fd kind of the images"
for variant in criu4 legacy; do
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	expect_run 0 "fdkinds/$variant: restore --batch --detach" "$CRSTEP" restore "$FX/images" \
		--protocol "$variant" --batch --detach --pidfile "$TMP/pid" || continue
	pid=$(cat "$TMP/pid")
	sleep 0.6
	sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "fdkinds/$variant: $(tail -1 "$TMP/check")"
	check_fds "fdkinds/$variant" "$pid" "$FX"
	kill_tree "$pid" && no_restored
	ok $? "fdkinds/$variant: nothing of the tree is left after kill"
done

# Refused up front, by name (files.img entries: 14 the epoll, 15 the pidfd,
# 10 the eventfd; fdinfo-2.img entry 7 is fd 7, the eventfd).
# refused NAME MESSAGE CORRUPT-ARGS...: a copy of the images changed by
# corrupt.py (one or more "IMG N PATH VALUE" groups) must be refused.
refused() {
	name=$1 msg=$2
	shift 2
	B=$TMP/$name
	rm -rf "$B" && cp -r "$FX/images" "$B"
	while [ $# -ge 4 ]; do
		python3 "$TOP/tests/corrupt.py" field "$B/$1" "$2" "$3" "$4"
		shift 4
	done
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	if expect_run 2 "fdkinds/$name: refused" "$CRSTEP" restore "$B" --batch --detach --pidfile "$TMP/pid"; then
		[ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -qF "crstep: $msg" "$TMP/err"
		ok $? "fdkinds/$name: one line names the image and the feature: $(head -1 "$TMP/err")"
	fi
	[ -s "$TMP/pid" ] && kill_tree "$(cat "$TMP/pid")"	# restored after all: do not leave it
	no_restored
	ok $? "fdkinds/$name: nothing was forked"
	"$CRSTEP" check --restorable "$B" >/dev/null 2>"$TMP/err"
	[ $? -eq 2 ] && grep -qF "crstep: $msg" "$TMP/err"
	ok $? "fdkinds/$name: check --restorable says the same"
}
refused epoll-target "files.img: entry 14: eventpoll file id 15: target fd 40 is not an fd of task 31700: not restored yet" \
	files.img 14 9.4.2 40
refused pidfd-outside "files.img: entry 15: a pidfd of pid 31799, not a task of the tree: not restored yet" \
	files.img 15 22.4 31799
refused tty "fdinfo-2.img: entry 7: fd 7 is a TTY: not restored yet" \
	files.img 10 1 11 fdinfo-2.img 7 3 11
done_testing
