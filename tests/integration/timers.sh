#!/bin/sh
# timers.sh: itimers, POSIX timers and seccomp (issue 16).  The timers
# workload (CRIU 4.2 images) is restored under every protocol variant: its
# check.sh finds the timers under their dumped ids, clocks and signals, each
# thread's seccomp mode and filter count as dumped, and the timers still
# firing.  Images whose timers or filters cannot be set up are refused
# before anything is forked, naming the image.
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/timers
CORRUPT="python3 $TOP/tests/corrupt.py"
# Skipped only on a CPU that lacks the dumped state: a refusal of the
# timers or filters themselves is a failure below.
if ! "$CRSTEP" check --restorable "$FX/images" >/dev/null 2>"$TMP/why" &&
	grep -q "CPU state this CPU lacks" "$TMP/why"; then
	skip "timers: this CPU lacks the state the images were dumped with"
	done_testing
	exit
fi
for variant in criu4 pre-restorer seed legacy; do
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	expect_run 0 "timers/$variant: restore --batch --detach" "$CRSTEP" restore "$FX/images" \
		--protocol "$variant" --batch --detach --pidfile "$TMP/pid" || continue
	pid=$(cat "$TMP/pid")
	sleep 0.6
	sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "timers/$variant: $(tail -1 "$TMP/check")"
	kill_tree "$pid" && no_restored
	ok $? "timers/$variant: nothing of the tree is left after kill"
done

# refused IMAGE-TEXT DESC: `crstep restore $TMP/bad` exits 2, one line
# naming the image, and starts nothing.
refused() {
	sh "$FX/prepare.sh" >/dev/null 2>&1
	expect_run 2 "$2: refused" "$CRSTEP" restore "$TMP/bad" --batch || return
	[ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -q "$1" "$TMP/err"
	ok $? "$2: one line naming $1: $(head -1 "$TMP/err")"
	no_restored
	ok $? "$2: nothing was started"
}
rm -rf "$TMP/bad" && cp -r "$FX/images" "$TMP/bad"
$CORRUPT seccomp-filter "$TMP/bad/core-31802.img" 99
refused "seccomp.img: thread 31802's filter chain names filter 99" "a seccomp chain past seccomp.img"
rm -rf "$TMP/bad" && cp -r "$FX/images" "$TMP/bad"
$CORRUPT timer-thread "$TMP/bad/core-31800.img" 31802
refused "core-31800.img: POSIX timer 2: signals thread 31802" "a timer to a thread of another process"
done_testing
