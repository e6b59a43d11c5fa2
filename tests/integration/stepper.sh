#!/bin/sh
# stepper.sh: the stepper on real restores (no mock of the engine).
#  1. the protocol's regression suite: for each (fixture, variant) of
#     tests/stepper/protocol.tab, stop before every switch and `expect` the
#     stage, the count, the arrivals and the performer; then check.sh;
#  2. holding a task at a barrier: outstanding, nr_in_progress=1, continue;
#  3. conditions, continue N, tbreak, display, step, commands (batch);
#  4. every exit code (0, 1, 2, 4), script errors with FILE:LINE / -ex N;
#  5. an interactive session on a pty: TAB completion, unique prefixes,
#     RET repeating the last command, commands/silent/end, history file;
#  6. zero cost: with nothing armed, the same events and no HOLD.
. "$(dirname "$0")/../lib.sh"

STEP=$TOP/tests/stepper
export HOME="$TMP/home"	# the line interface keeps ~/.crstep_history
mkdir -p "$HOME"

# fixture_dir NAME: the fixture folder (prepare.sh, check.sh, images/) for
# NAME, made on first use; empty when NAME cannot be restored here.
fixture_dir() {
	case $1 in
	counter)
		if [ ! -d "$TMP/fx-counter/images" ]; then
			sh "$TOP/tests/fixture-local.sh" counter "$TMP/fx-counter" >"$TMP/mk" 2>&1 ||
				{ sed 's/^/# /' "$TMP/mk"; return; }
		fi
		echo "$TMP/fx-counter" ;;
	*)	# the tree fixture, once process trees restore
		[ -d "$FIX/criu-4.2/$1/images" ] &&
			"$CRSTEP" check --restorable "$FIX/criu-4.2/$1/images" >/dev/null 2>&1 &&
			echo "$FIX/criu-4.2/$1" ;;
	esac
}

# tap_clean FILE: every TAP line of crstep's output is ok and the plan
# counts them all.
tap_clean() {
	n=$(grep -c '^ok ' "$1")
	! grep -q '^not ok ' "$1" && [ "$n" -gt 0 ] && grep -q "^1\.\.$n\$" "$1"
}

show_out() {
	grep -E '^(not ok|#|crstep)' "$TMP/out" | head -20 | sed 's/^/# out: /'
	head -10 "$TMP/err" | sed 's/^/# err: /'
}

# run_script FX VARIANT SCRIPT DESC: restore FX under VARIANT running the
# batch SCRIPT, detached; expect exit 0, clean TAP, and check.sh to pass.
run_script() {
	fx=$1 variant=$2 script=$3 desc=$4
	sh "$fx/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	"$CRSTEP" restore "$fx/images" --protocol "$variant" --batch -x "$script" --detach \
		--pidfile "$TMP/pid" >"$TMP/out" 2>"$TMP/err"
	st=$?
	ok $st "$desc: exit $st" || show_out
	tap_clean "$TMP/out"
	ok $? "$desc: every expect held ($(grep -c '^ok ' "$TMP/out") ok, plan printed)" || show_out
	pid=$(cat "$TMP/pid" 2>/dev/null)
	sleep 0.5
	sh "$fx/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "$desc: the restored counter continues: $(cat "$TMP/check")"
	[ -n "$pid" ] && check_fds "$desc" "$pid" "$fx"
	[ -n "$pid" ] && kill_tree "$pid"
	cp "$TMP/out" "$TMP/last.out"
}

# 1. The protocol's regression suite, one generated script per row group.
pairs=$(awk '!/^#/ && NF { print $1 " " $2 }' "$STEP/protocol.tab" | uniq)
echo "$pairs" | while read -r fxname variant; do
	fx=$(fixture_dir "$fxname")
	if [ -z "$fx" ]; then
		skip "$fxname $variant: the fixture cannot be restored here"
		continue
	fi
	sh "$STEP/protocol-script.sh" "$fxname" "$variant" >"$TMP/$fxname.$variant.x"
	run_script "$fx" "$variant" "$TMP/$fxname.$variant.x" "protocol $fxname $variant"
	stops=$(grep -c '^Breakpoint [0-9]*, switch ' "$TMP/last.out")
	rows=$(awk -v f="$fxname" -v v="$variant" '$1 == f && $2 == v' "$STEP/protocol.tab" | wc -l)
	[ "$stops" -eq "$rows" ]
	ok $? "protocol $fxname $variant: one stop per switch ($stops of $rows)"
done > "$TMP/suite.tap"
# The loop ran in a subshell: renumber its TAP lines into ours.
while IFS= read -r line; do
	case $line in
	"ok "*" # SKIP "*) skip "${line#* # SKIP }" ;;
	"ok "*) ok 0 "${line#ok [0-9]* - }" ;;
	"not ok "*) ok 1 "${line#not ok [0-9]* - }" ;;
	*) echo "$line" ;;
	esac
done < "$TMP/suite.tap"

FX=$(fixture_dir counter)
if [ -z "$FX" ]; then
	skip "no local counter image set: the other stepper tests need one"
	done_testing
	exit
fi
ROOTPID=$(grep -v '^#' "$FX/pids.txt" | awk 'NR == 1 { print $1 }')

# 2. Holding the root at a barrier.
run_script "$FX" legacy "$STEP/hold.legacy.x" "hold legacy"
grep -q "^Breakpoint 1, task $ROOTPID arriving at FORKING, nr_in_progress=1\$" "$TMP/last.out"
ok $? "hold legacy: the report names the task, the stage and the count"
grep -q "^Outstanding: $ROOTPID (root)\$" "$TMP/last.out" && grep -q '^nr_in_progress: 1 ' "$TMP/last.out"
ok $? "hold legacy: info barrier shows it outstanding with nr_in_progress=1"
grep -q "^\* $ROOTPID .*gate (breakpoint 1)" "$TMP/last.out"
ok $? "hold legacy: info tasks shows it parked at the gate"
run_script "$FX" criu4 "$STEP/hold.criu4.x" "hold criu4"
grep -q "^Outstanding: $ROOTPID (root)\$" "$TMP/last.out"
ok $? "hold criu4: info barrier shows the root outstanding in RESTORE"
sh "$FX/prepare.sh" >/dev/null 2>&1
expect_run 4 "criu4: break task root FORKING is refused (the root never arrives there)" \
	"$CRSTEP" restore "$FX/images" --batch -ex 'break task root FORKING' -ex continue
grep -q "^-ex 1: under protocol criu4 the root (task $ROOTPID) never arrives at FORKING; it arrives at: RESTORE" "$TMP/err"
ok $? "criu4: the refusal says where the root does arrive: $(head -1 "$TMP/err")"
no_restored
ok $? "criu4: the refused script left nothing running"

# 3. Conditions, ignore counts, tbreak, display, step, commands.
run_script "$FX" legacy "$STEP/features.legacy.x" "features legacy"
grep -q '^Temporary breakpoint 2, switch RESTORE_SIGCHLD -> RESTORE_CREDS by controller' "$TMP/last.out"
ok $? "features: tbreak reports itself as temporary"
grep -q '^Will ignore next 2 crossings of breakpoint 1' "$TMP/last.out"
ok $? "features: continue 3 ignores 2 crossings"
[ "$(grep -c '^1: nr_in_progress = ' "$TMP/last.out")" -ge 5 ]
ok $? "features: display prints at every stop"
[ "$(grep -c '^commands of breakpoint 1 ran$' "$TMP/last.out")" -eq 3 ]
ok $? "features: commands run at each of the 3 stops of breakpoint 1"
grep -q '^Step: switch RESTORE_CREDS -> COMPLETE by controller' "$TMP/last.out"
ok $? "features: step stops at the next event"
# Hits count as gdb's: only when the condition holds (RESTORE_SIGCHLD did not).
awk '/^Num /{t=1} t && /^2 /{bad=1} t && /^1 .*task .* arriving at any stage *5$/{good=1} END{exit !(good && !bad)}' \
	"$TMP/last.out"
ok $? "features: info breakpoints: the tbreak is gone, breakpoint 1 counts 5 hits"

# 4. Exit codes.
sh "$FX/prepare.sh" >/dev/null 2>&1
expect_run 0 "exit 0: a script whose expects hold" "$CRSTEP" restore "$FX/images" --batch --detach \
	--pidfile "$TMP/pid" -ex 'break RESTORE' -ex continue -ex 'expect to == RESTORE'
[ -s "$TMP/pid" ] && check_fds "exit 0: -ex script" "$(cat "$TMP/pid")" "$FX"
[ -s "$TMP/pid" ] && kill_tree "$(cat "$TMP/pid")"
sh "$FX/prepare.sh" >/dev/null 2>&1
rm -f "$TMP/pid"
expect_run 1 "exit 1: an expect fails" "$CRSTEP" restore "$FX/images" --batch --detach --pidfile "$TMP/pid" \
	-ex 'break RESTORE' -ex continue -ex 'expect nr_in_progress == 7 seven' -ex 'expect stage == FORKING'
grep -q '^not ok 1 - seven$' "$TMP/out" && grep -q '^#   nr_in_progress == 7: left = 1, right = 7$' "$TMP/out" &&
	grep -q '^ok 2 - stage == FORKING$' "$TMP/out" && grep -q '^1\.\.2$' "$TMP/out"
ok $? "exit 1: TAP names the failed expect and explains it, the plan follows"
[ -s "$TMP/pid" ] && kill -KILL "$(cat "$TMP/pid")" && gone "$(cat "$TMP/pid")"

sh "$FX/prepare.sh" >/dev/null 2>&1
rm -f /tmp/crstep-fx/counter/counter
expect_run 2 "exit 2: the restore fails (the exe is missing)" "$CRSTEP" restore "$FX/images" --batch \
	-ex 'break abort' -ex continue -ex 'info barrier' -ex continue -ex 'expect stage == FAIL'
grep -q "^Breakpoint 1, abort by root (pid $ROOTPID) at FORKING" "$TMP/out"
ok $? "exit 2: break abort stops when the root aborts: $(grep '^Breakpoint 1, ' "$TMP/out")"
grep -q '^Restore failed at FORKING\.$' "$TMP/out" && grep -q '^ok 1 - stage == FAIL$' "$TMP/out"
ok $? "exit 2: 'Restore failed at FORKING.' and the script still runs at the final stop"
no_restored
ok $? "exit 2: nothing restored is left"

sh "$FX/prepare.sh" >/dev/null 2>&1
printf '# a script with a typo on line 4\nbreak FORKING\n\ncontinu\nbogus 1\n' >"$TMP/typo.x"
expect_run 4 "exit 4: an unknown command in -x" "$CRSTEP" restore "$FX/images" --batch -x "$TMP/typo.x"
[ "$(cat "$TMP/err")" = "$TMP/typo.x:5: unknown command 'bogus' (try help)" ]
ok $? "exit 4: reported as FILE:LINE before anything runs: $(cat "$TMP/err")"
printf 'break FORKING\ncontinue\nexpect stage == (1\n' >"$TMP/syntax.x"
expect_run 4 "exit 4: an expression syntax error" "$CRSTEP" restore "$FX/images" --batch -x "$TMP/syntax.x"
[ "$(cat "$TMP/err")" = "$TMP/syntax.x:3: expect: column 12: expected ')'" ]
ok $? "exit 4: the expression error carries the column: $(cat "$TMP/err")"
expect_run 4 "exit 4: an ambiguous prefix in -ex" "$CRSTEP" restore "$FX/images" --batch -ex 'break FORKING' -ex co
grep -q "^-ex 2: ambiguous command 'co': commands, condition, continue\$" "$TMP/err"
ok $? "exit 4: -ex N names the bad line: $(cat "$TMP/err")"
printf 'break FORKING\ncontinue\nbreak task 99999\ncontinue\n' >"$TMP/late.x"
expect_run 4 "exit 4: a bad breakpoint found while restoring" "$CRSTEP" restore "$FX/images" --batch -x "$TMP/late.x"
grep -q "^$TMP/late.x:3: no task 99999 in this restore" "$TMP/err"
ok $? "exit 4: reported with FILE:LINE, the restore is killed: $(head -1 "$TMP/err")"
no_restored
ok $? "exit 4: nothing restored is left"
"$CRSTEP" restore --help | grep -q '1 an expect failed, 2 the restore'
ok $? "crstep restore --help documents the exit codes"

# 5. An interactive session on a pseudo-terminal.
sh "$FX/prepare.sh" >/dev/null 2>&1
rm -f "$TMP/pid" "$HOME/.crstep_history"
# The check runs in the session: when its leader exits, the terminal's
# hangup would reach the restored tree.
python3 "$STEP/pty-session.py" "$STEP/session.criu4.txt" sh -c \
	"'$CRSTEP' restore '$FX/images' --cli --pidfile '$TMP/pid'; st=\$?; sleep 0.5; sh '$FX/check.sh' \$(cat '$TMP/pid'); $FDS_PYTHON '$TOP/tests/fds.py' '$CRSTEP' \$(cat '$TMP/pid') '$FX/images' '$(fds_moving "$FX")' >'$TMP/pty-fds' 2>&1; echo \$? >>'$TMP/pty-fds'; kill -KILL \$(cat '$TMP/pid'); exit \$st" \
	>"$TMP/pty" 2>&1
ok $? "pty: the session ends with exit 0" || sed 's/^/# /' "$TMP/pty" | tail -20
[ "$(tail -1 "$TMP/pty-fds" 2>/dev/null)" = 0 ]
ok $? "pty: crstep on a terminal (--cli): fds as dumped: $(tail -2 "$TMP/pty-fds" 2>/dev/null | head -1)" ||
	sed 's/^/# /' "$TMP/pty-fds" 2>/dev/null | head -10
grep -q '^Breakpoint 1: switch into FORKING' "$TMP/pty"
ok $? "pty: TAB completed 'br<TAB>FORK<TAB>' to 'break FORKING'"
grep -q '^Temporary breakpoint 2: switch into RESTORE_CREDS' "$TMP/pty"
ok $? "pty: TAB completed 'tb<TAB>RESTORE_C<TAB>'"
! grep -q '^Breakpoint 1, ' "$TMP/pty" && grep -q '^Stage: PREPARE_NAMESPACES' "$TMP/pty"
ok $? "pty: commands/silent/end: no report, the commands ran (info barrier)"
[ "$(grep -c '^Step: ' "$TMP/pty")" -eq 2 ]
ok $? "pty: an empty line repeated step"
grep -q '^  4   FORKING -> RESTORE  *root' "$TMP/pty"
ok $? "pty: unique prefixes ('cont', 'inf sw')"
grep -q '^Restore complete\.' "$TMP/pty" && grep -q '^counter: OK' "$TMP/pty"
ok $? "pty: the restore completes and the counter continues: $(grep '^counter:' "$TMP/pty")"
grep -q '^break\\040FORKING' "$HOME/.crstep_history" 2>/dev/null
ok $? "pty: the history is kept in ~/.crstep_history"

# --cli on a pipe: plain lines, EOF quits (and kills a restore in progress).
sh "$FX/prepare.sh" >/dev/null 2>&1
printf 'break RESTORE\nc\ninfo tasks\n' | "$CRSTEP" restore "$FX/images" --cli >"$TMP/out" 2>"$TMP/err"
st=$?
[ $st -eq 0 ] && grep -q "^\* $ROOTPID .*gate (breakpoint 1)" "$TMP/out" &&
	grep -q '^Restore killed (by a command) at ' "$TMP/out"
ok $? "--cli on a pipe: commands run, EOF quits and kills the restore, no failure (exit $st, want 0)"
no_restored
ok $? "--cli on a pipe: nothing restored is left"

# 6. Zero cost: nothing armed, nothing held.
for mode in plain stepper; do
	sh "$FX/prepare.sh" >/dev/null 2>&1
	if [ $mode = plain ]; then
		"$CRSTEP" restore "$FX/images" --batch --detach --pidfile "$TMP/pid" --trace "$TMP/$mode.jsonl" >/dev/null 2>&1
	else
		"$CRSTEP" restore "$FX/images" --batch --detach --pidfile "$TMP/pid" --trace "$TMP/$mode.jsonl" \
			-ex 'info protocol' >/dev/null 2>&1
	fi
	[ -s "$TMP/pid" ] && kill -KILL "$(cat "$TMP/pid")" && gone "$(cat "$TMP/pid")"
done
n_plain=$(grep -c . "$TMP/plain.jsonl")
n_step=$(grep -c . "$TMP/stepper.jsonl")
[ "$n_plain" -gt 0 ] && [ "$n_plain" -eq "$n_step" ] && ! grep -qE '"type":"(HOLD|RELEASE)"' "$TMP/plain.jsonl" "$TMP/stepper.jsonl"
ok $? "zero cost: a plain --batch restore and one with an idle stepper record the same $n_plain events, no HOLD"

done_testing
