#!/bin/sh
# exitcodes.sh: the exit code of a batch script, on real restores of the
# counter fixture, for every combination of
#   the script's expect: holds / fails,
#   the script's last command: continue / kill / detach / quit,
#   the restore: completes / fails (--inject fail) / hangs (--inject hang,
#   --watchdog 1),
# against the documented precedence: 3 hang > 2 restore failed > 1 expect
# failed > 0.  A script's own kill, detach or quit is no restore failure.
# Each script is `break RESTORE`, `continue`, the expect, the last command:
# the faults hit the root at FORKING, before the breakpoint, so the expect
# and the last command run at the final stop (STOP_FAILED); the expects
# (nr_tasks) mean the same at every stop.  After each run nothing restored
# may be left but a tree the script left running (detach, continue), which
# must be the counter going on (check.sh).  Also: the issue's own example
# (expect performer == controller, then kill, at FORKING->RESTORE) and a
# kill at the COMPLETE stop.
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/counter
ROOT=30100

if ! "$CRSTEP" check --restorable "$FX/images" >"$TMP/chk" 2>&1; then
	skip "counter images not restorable here: $(tail -1 "$TMP/chk")"
	done_testing
	exit
fi

# run WANT DESC ARGS...: prepare, restore the counter with ARGS, want exit
# WANT; then a tree left running must pass check.sh, and nothing restored
# may be left once it is killed.
run() {
	want=$1 desc=$2
	shift 2
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	"$CRSTEP" restore "$FX/images" --batch --detach --pidfile "$TMP/pid" "$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	why=
	if [ -s "$TMP/pid" ] && [ -e "/proc/$(cat "$TMP/pid")" ]; then
		pid=$(cat "$TMP/pid")
		sleep 0.5
		sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1 || why="left running but $(tail -1 "$TMP/check")"
		kill_tree "$pid"
	fi
	no_restored || why="$why; restored processes left"
	[ "$got" -eq "$want" ] && [ -z "$why" ]
	ok $? "$desc: exit $got, want $want$why"
	if [ "$got" -ne "$want" ]; then
		sed 's/^/# out: /' "$TMP/out" | tail -8
		sed 's/^/# err: /' "$TMP/err" | tail -4
	fi
}

for restore in ok failed hang; do
	case $restore in
	ok) fault= ;;
	failed) fault="--inject fail:task=root:stage=FORKING" ;;
	hang) fault="--inject hang:task=root:stage=FORKING --watchdog 1" ;;
	esac
	for expect in holds fails; do
		case $expect in
		holds) e='expect nr_tasks == 1' ;;
		fails) e='expect nr_tasks == 2 deliberately wrong' ;;
		esac
		for last in continue kill detach quit; do
			case $restore/$expect in
			hang/*) want=3 ;;
			failed/*) want=2 ;;
			*/fails) want=1 ;;
			*) want=0 ;;
			esac
			# shellcheck disable=SC2086 # the fault options split
			run $want "restore $restore, expect $expect, script ends with $last" $fault \
				-ex 'break RESTORE' -ex continue -ex "$e" -ex "$last"
		done
	done
done

# The issue's example: the deliberate kill must not hide the failed expect.
run 1 "expect performer == controller fails at FORKING->RESTORE (criu4: the root switches), then kill" \
	-ex 'break RESTORE' -ex continue -ex 'expect performer == controller' -ex kill
grep -q '^not ok 1 - performer == controller$' "$TMP/out" && grep -q '^1\.\.1$' "$TMP/out"
ok $? "the failed expect is in the TAP output, the plan follows"
run 0 "expect performer == root holds, then kill" \
	-ex 'break RESTORE' -ex continue -ex 'expect performer == root' -ex kill
# kill at the COMPLETE stop: the script's choice, no failure either.
run 0 "kill at the COMPLETE stop, expects held" \
	-ex 'break RESTORE' -ex continue -ex 'expect nr_tasks == 1' -ex continue -ex kill
run 1 "kill at the COMPLETE stop, an expect failed" \
	-ex 'break RESTORE' -ex continue -ex 'expect nr_tasks == 2' -ex continue -ex kill
# The failure wins over the kill at its final stop: still the restore's 2.
run 2 "restore failed at RESTORE_CREDS after the expect held, then kill" \
	--inject fail:task=root:stage=RESTORE_CREDS \
	-ex 'break RESTORE' -ex continue -ex 'expect nr_tasks == 1' -ex continue -ex kill
"$CRSTEP" restore --help | grep -q '3 hang > 2 restore failed > 1 expect failed > 0'
ok $? "crstep restore --help documents the precedence"
"$CRSTEP" --help | grep -q '3 hang > 2 restore failed > 1 expect failed > 0'
ok $? "crstep --help documents the precedence"

done_testing
