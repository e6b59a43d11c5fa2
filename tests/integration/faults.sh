#!/bin/sh
# faults.sh: fault injection and hang diagnosis on real restores.
#
# The matrix: for each image set, every stage a participant leaves, every
# participant, and each of fail, hang, crash: the restore ends within the
# watchdog + 2 s with the documented exit code (2 failed, 3 hung), one line
# names the task and the stage, nothing restored survives (no process in
# another pid namespace is left), and the images are unchanged.
. "$(dirname "$0")/../lib.sh"

WATCHDOG=1

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# one_case FX NAME PID STAGE KIND
one_case() {
	fx=$1 name=$2 pid=$3 stage=$4 kind=$5
	case $kind in hang) want=3 ;; *) want=2 ;; esac
	sh "$fx/prepare.sh" >/dev/null 2>&1
	t0=$(ms_now)
	"$CRSTEP" restore "$fx/images" --batch --watchdog $WATCHDOG \
		--inject "$kind:task=$pid:stage=$stage" >"$TMP/out" 2>"$TMP/err"
	st=$?
	el=$(($(ms_now) - t0))
	line=$(tail -1 "$TMP/err")
	[ $st -eq $want ] && [ $el -le $((WATCHDOG * 1000 + 2000)) ] &&
		echo "$line" | grep -q "task $pid" && echo "$line" | grep -q "stage $stage" && no_restored
	ok $? "$name: $kind in $pid at $stage: exit $st in ${el} ms: $line"
	if [ "$kind" = hang ] && [ $st -eq 3 ]; then
		# The report names the task with what the kernel says of it.
		grep -q "^  [a-z]* $pid: has not" "$TMP/out" && grep -q "wchan sigsuspend" "$TMP/out" &&
			grep -q "syscall 130" "$TMP/out"
		ok $? "$name: the hang report shows $pid's wchan and syscall"
	fi
}

# matrix FX NAME: every stage each participant finishes or leaves under
# criu4 (COMPLETE aside: nobody finishes it), for every participant.
matrix() {
	fx=$1 name=$2
	sum=$(cat "$fx"/images/* | md5sum)
	python3 "$TOP/tests/participants.py" "$CRSTEP" "$fx/images" >"$TMP/parts" || {
		ok 1 "$name: list the participants"
		return
	}
	while read -r pid role; do
		case $role in
		root) stages="ROOT_TASK PREPARE_NAMESPACES FORKING RESTORE RESTORE_SIGCHLD RESTORE_CREDS" ;;
		task) stages="FORKING RESTORE RESTORE_SIGCHLD RESTORE_CREDS" ;;
		thread) stages="RESTORE RESTORE_SIGCHLD RESTORE_CREDS" ;;
		zombie) stages="FORKING RESTORE" ;;
		esac
		for stage in $stages; do
			for kind in fail hang crash; do
				one_case "$fx" "$name" "$pid" "$stage" "$kind" </dev/null
			done
		done
	done <"$TMP/parts"
	[ "$(cat "$fx"/images/* | md5sum)" = "$sum" ]
	ok $? "$name: the images are unchanged"
}

LOCAL=$TMP/local-counter
if sh "$TOP/tests/fixture-local.sh" counter "$LOCAL" >"$TMP/mk" 2>&1; then
	matrix "$LOCAL" counter

	# slow arrives late but arrives: the restore completes.
	sh "$LOCAL/prepare.sh" >/dev/null 2>&1
	root=$(grep -v '^#' "$LOCAL/pids.txt" | awk 'NR == 1 { print $1 }')
	expect_run 0 "slow:300 at FORKING: the restore completes" "$CRSTEP" restore "$LOCAL/images" --batch \
		--detach --pidfile "$TMP/pid" --inject "slow:300:task=root:stage=FORKING"
	sleep 0.6
	sh "$LOCAL/check.sh" "$(cat "$TMP/pid")" >"$TMP/check" 2>&1
	ok $? "slow: the counter continues: $(cat "$TMP/check")"
	check_fds "slow:300 at FORKING" "$(cat "$TMP/pid")" "$LOCAL"
	kill_tree "$(cat "$TMP/pid")"

	# exit: an unexpected clean exit is a failure too.
	one_case "$LOCAL" counter "$root" RESTORE exit

	# --keep: a hung tree is left stopped, its pids printed.
	sh "$LOCAL/prepare.sh" >/dev/null 2>&1
	"$CRSTEP" restore "$LOCAL/images" --batch --watchdog 1 --keep \
		--inject "hang:task=root:stage=FORKING" >"$TMP/out" 2>"$TMP/err"
	st=$?
	kept=$(sed -n 's/^kept: .* is pid \([0-9]*\) here, stopped$/\1/p' "$TMP/out" | head -1)
	[ $st -eq 3 ] && [ -n "$kept" ] && [ "$(awk '{ print $3 }' "/proc/$kept/stat" 2>/dev/null)" = T ]
	ok $? "--keep: the hung root is left stopped (pid $kept, exit $st)"
	# Mid-restore its fds are not the image's yet, but none is crstep's.
	held=$(ls -l "/proc/$kept/fd" 2>/dev/null | grep -F -e "$TMP/out" -e "$TMP/err")
	[ -n "$kept" ] && [ -z "$held" ]
	ok $? "--keep: the kept task holds none of crstep's output${held:+: $held}"
	[ -n "$kept" ] && kill -KILL "$kept" 2>/dev/null
	no_restored
	ok $? "--keep: killing the kept task ends its namespace"

	# Usage errors.
	expect_run 4 "--inject with an unknown kind is a usage error" \
		"$CRSTEP" restore "$LOCAL/images" --inject "boom:task=root:stage=FORKING"
	expect_run 4 "--inject without a stage is a usage error" \
		"$CRSTEP" restore "$LOCAL/images" --inject "fail:task=root"
	expect_run 4 "--watchdog needs a number" "$CRSTEP" restore "$LOCAL/images" --watchdog soon
else
	ok 1 "made a local counter image set with crstep dump"
	sed 's/^/# /' "$TMP/mk"
fi

# The matrix over trees, threads and zombies.
for name in tree threads zombie; do
	if sh "$TOP/tests/fixture-local.sh" "$name" "$TMP/$name" >"$TMP/mk" 2>&1; then
		matrix "$TMP/$name" "$name"
	else
		ok 1 "$name: dumped here with crstep dump"
		sed 's/^/# /' "$TMP/mk"
	fi
done

done_testing
