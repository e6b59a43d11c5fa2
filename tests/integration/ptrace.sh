#!/bin/sh
# ptrace.sh: the controller's waits for its tracees (issue 10, sections 2, 4).
#
# Every ptrace stop reaches the wait that expects it: restores stepped over
# FORKING->RESTORE, and restores whose controller runs under strace (slow
# syscalls widen any window between two waits), never lose a stop.  Every
# wait has a deadline: a thread that hangs, fails or crashes after COMPLETE,
# while the controller steps it to its rt_sigreturn, ends the restore within
# the watchdog + 2 s, with one line naming it, and leaves nothing behind.
. "$(dirname "$0")/../lib.sh"

CRIU=$FIX/criu-4.2
RUNS=${PTRACE_RUNS:-20}
WATCHDOG=1

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# loop NAME FX PREFIX... -- ARGS...: RUNS detached restores of FX, each run
# as PREFIX crstep restore ARGS; each must complete with the root alive; the
# last one is checked with the fixture's check.sh.
loop() {
	name=$1 fx=$2
	shift 2
	prefix=
	while [ "$1" != -- ]; do
		prefix="$prefix $1"
		shift
	done
	shift
	bad=0 first=
	run=0
	while [ $run -lt "$RUNS" ]; do
		run=$((run + 1))
		sh "$fx/prepare.sh" >/dev/null 2>&1
		rm -f "$TMP/pid"
		# shellcheck disable=SC2086
		$prefix "$CRSTEP" restore "$fx/images" --batch --detach --pidfile "$TMP/pid" "$@" \
			>"$TMP/out" 2>"$TMP/err"
		st=$?
		pid=$(cat "$TMP/pid" 2>/dev/null)
		if [ $st -ne 0 ] || [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
			bad=$((bad + 1))
			[ -n "$first" ] || first="run $run: exit $st: $(tail -1 "$TMP/err")"
		elif [ $run -eq "$RUNS" ]; then
			sleep 0.6
			sh "$fx/check.sh" "$pid" >"$TMP/check" 2>&1 || {
				bad=$((bad + 1))
				first="run $run: $(cat "$TMP/check")"
			}
		fi
		[ -z "$pid" ] || kill_tree "$pid"
	done
	[ $bad -eq 0 ]
	ok $? "$name: $RUNS restores, $bad failed${first:+ (first: $first)}"
	no_restored
	ok $? "$name: nothing was left"
}

restorable() { "$CRSTEP" check --restorable "$1/images" >/dev/null 2>&1; }

for fx in tree threads; do
	if restorable "$CRIU/$fx"; then
		loop "$fx: stepped over FORKING->RESTORE" "$CRIU/$fx" -- \
			-ex 'break FORKING->RESTORE' -ex continue
	else
		skip "CRIU fixture $fx: this CPU lacks the state it was dumped with"
	fi
done

# strace without -f: only the controller is slowed, the tree is not traced.
if ! command -v strace >/dev/null 2>&1; then
	skip "strace is not installed"
elif ! restorable "$CRIU/counter"; then
	skip "CRIU fixture counter: this CPU lacks the state it was dumped with"
else
	# LeakSanitizer cannot run in a traced process (SANITIZE=1): it exits 1.
	loop "counter: the controller under strace -c" "$CRIU/counter" \
		env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -c -o /dev/null --
	loop "threads: the controller under strace -c" "$CRIU/threads" \
		env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -c -o /dev/null --
fi

# after_complete FX NAME TID KIND WANT: KIND injected in thread TID once it
# sees COMPLETE, when it is under the controller's ptrace.
after_complete() {
	afx=$1 aname=$2 tid=$3 kind=$4 want=$5
	sh "$afx/prepare.sh" >/dev/null 2>&1
	t0=$(ms_now)
	"$CRSTEP" restore "$afx/images" --batch --watchdog $WATCHDOG \
		--inject "$kind:task=$tid:stage=COMPLETE" >"$TMP/out" 2>"$TMP/err"
	st=$?
	el=$(($(ms_now) - t0))
	line=$(tail -1 "$TMP/err")
	[ $st -eq "$want" ] && [ $el -le $((WATCHDOG * 1000 + 2000)) ] &&
		echo "$line" | grep -q "task $tid" && echo "$line" | grep -q "stage COMPLETE" && no_restored
	ok $? "$aname: $kind in $tid after COMPLETE: exit $st in $el ms: $line"
	if [ "$kind" = hang ] && [ $st -eq 3 ]; then
		grep -q "^  [a-z]* $tid: has not stopped" "$TMP/out" && grep -q "wchan sigsuspend" "$TMP/out"
		ok $? "$aname: the hang report shows $tid in its sigsuspend"
	fi
}

for fx in counter threads; do
	if ! restorable "$CRIU/$fx"; then
		skip "CRIU fixture $fx: this CPU lacks the state it was dumped with"
		continue
	fi
	# The root, and the last thread of the threads fixture.
	for tid in $(python3 "$TOP/tests/participants.py" "$CRSTEP" "$CRIU/$fx/images" |
		awk '$2 == "root" { r = $1 } $2 == "thread" { t = $1 } END { print r, t }'); do
		after_complete "$CRIU/$fx" "$fx" "$tid" hang 3
		after_complete "$CRIU/$fx" "$fx" "$tid" crash 2
		after_complete "$CRIU/$fx" "$fx" "$tid" fail 2
	done
done

# --pidns=host: crstep is the root's parent and its tracer at once.
if restorable "$CRIU/counter"; then
	root=$(python3 "$TOP/tests/participants.py" "$CRSTEP" "$CRIU/counter/images" | awk '$2 == "root" { print $1 }')
	sh "$CRIU/counter/prepare.sh" >/dev/null 2>&1
	t0=$(ms_now)
	"$CRSTEP" restore "$CRIU/counter/images" --batch --pidns=host --watchdog $WATCHDOG \
		--inject "hang:task=$root:stage=COMPLETE" >"$TMP/out" 2>"$TMP/err"
	st=$?
	el=$(($(ms_now) - t0))
	[ $st -eq 3 ] && [ $el -le $((WATCHDOG * 1000 + 2000)) ] && gone "$root"
	ok $? "--pidns=host: hang after COMPLETE: exit $st in $el ms, pid $root gone: $(tail -1 "$TMP/err")"
fi

done_testing
