#!/bin/sh
# fds.sh: a restored task holds exactly the fds it had at dump, whatever
# crstep's own stdin/stdout/stderr are and whatever options run (issue 10,
# part 1).  Every check is tests/fds.py through lib.sh's check_fds:
#  1. the regression: o=$(crstep restore --batch --detach --pidfile p
#     -ex 'break RESTORE' -ex continue -ex 'expect performer == root'
#     -ex continue tree/images 2>&1) returns (the children of the root held
#     crstep's stderr — here its stdout pipe — as fd 1001, so it never did);
#  2. crstep's stdio as pipes, as files and as a terminal (script(1)), with
#     -ex scripts, --trace, --stats and --detach: the tree holds its dumped
#     fds and nothing else, the reaper nothing of crstep's;
#  3. stopped before COMPLETE (no workload code has run): every pos exact;
#  4. --keep: a tree kept stopped after a hang holds its dumped fds and no
#     output of crstep's (a captured run returns); --pidns host;
#  5. a task whose fds sit where crstep kept its own (1000, 1001) and far
#     above (4000; tests/highfd.c), dumped here: restored exactly (crstep's
#     service fds go above every dumped fd).
. "$(dirname "$0")/../lib.sh"

# The tree fixture: the CRIU images where this CPU runs them, else the
# same workload dumped here.
FX=$FIX/criu-4.2/tree
if ! "$CRSTEP" check --restorable "$FX/images" >/dev/null 2>&1; then
	FX=$TMP/tree
	if ! sh "$TOP/tests/fixture-local.sh" tree "$FX" >"$TMP/mk" 2>&1; then
		ok 1 "tree: dumped here with crstep dump"
		sed 's/^/# /' "$TMP/mk"
		done_testing
		exit
	fi
fi
SCRIPT="-ex 'break RESTORE' -ex continue -ex 'expect performer == root' -ex continue"

# captured DESC SECS CMD: run the shell line CMD with its stdout and stderr
# on one pipe (as o=$(CMD 2>&1) does) and pass when the pipe reaches EOF
# within SECS: a restored task holding crstep's output keeps it open for
# ever.  The output is in $TMP/cap, ending with "exit N".  A tree left
# behind ($TMP/pid) is killed, so that the test itself always ends.
captured() {
	c_desc=$1 c_secs=$2
	rm -f "$TMP/cap"
	(sh -c "$3" 2>&1; echo "exit $?") | cat >"$TMP/cap" &
	c_pid=$!
	i=0
	while kill -0 $c_pid 2>/dev/null && [ $i -lt $((c_secs * 20)) ]; do
		sleep 0.05
		i=$((i + 1))
	done
	if kill -0 $c_pid 2>/dev/null; then
		ok 1 "$c_desc: the output reaches EOF (still open after $c_secs s: $(tail -1 "$TMP/cap"))"
		[ -s "$TMP/pid" ] ||
			sed -n 's/^kept: root .* is pid \([0-9]*\) here, stopped$/\1/p' "$TMP/cap" | head -1 >"$TMP/pid"
		if [ -s "$TMP/pid" ]; then
			check_fds "$c_desc" "$(cat "$TMP/pid")" "$FX"
			kill_whole_tree "$(cat "$TMP/pid")"
		fi
		i=0
		while kill -0 $c_pid 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.05
			i=$((i + 1))
		done
		kill $c_pid 2>/dev/null
		wait $c_pid
		return 1
	fi
	wait $c_pid
	ok 0 "$c_desc: the output reaches EOF ($(tail -1 "$TMP/cap"))"
}

# 1. The regression of issue 10.
sh "$FX/prepare.sh" >/dev/null 2>&1
rm -f "$TMP/pid"
if captured "o=\$(crstep ... -ex scripts --detach 2>&1)" 10 \
	"'$CRSTEP' restore --batch --detach --pidfile '$TMP/pid' $SCRIPT '$FX/images'"; then
	grep -q '^exit 0$' "$TMP/cap" && grep -q '^ok 1 - performer == root' "$TMP/cap"
	ok $? "the script ran and crstep exited 0" || sed 's/^/# /' "$TMP/cap" | tail -5
	if [ -s "$TMP/pid" ]; then
		check_fds "-ex scripts, output captured" "$(cat "$TMP/pid")" "$FX" &&
			! grep -q '^task .*extra fd 1001' "$TMP/fds"
		ok $? "no task holds an fd 1001"
		kill_tree "$(cat "$TMP/pid")"
	fi
fi

# 2. crstep's stdio as pipes, files and a terminal, with every option.
OPTS="--batch --detach --pidfile '$TMP/pid' --trace '$TMP/trace.jsonl' --stats $SCRIPT"
for stdio in pipes files terminal; do
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid" "$TMP/trace.jsonl"
	cmd="'$CRSTEP' restore '$FX/images' $OPTS"
	case $stdio in
	pipes) line="echo | $cmd" ;;
	files) echo >"$TMP/in" && line="$cmd <'$TMP/in' >'$TMP/out' 2>'$TMP/err'; st=\$?; cat '$TMP/out' '$TMP/err'; exit \$st" ;;
	terminal) line="script -qec \"$cmd\" /dev/null </dev/null" ;;
	esac
	captured "stdio on $stdio" 15 "$line" || continue
	pid=$(cat "$TMP/pid" 2>/dev/null)
	[ -n "$pid" ] && grep -q '^Restore complete' "$TMP/cap" && [ -s "$TMP/trace.jsonl" ]
	ok $? "stdio on $stdio: the restore completes with --trace and --stats" || sed 's/^/# /' "$TMP/cap" | tail -5
	if [ -n "$pid" ]; then
		sleep 0.3
		check_fds "stdio on $stdio, -ex --trace --stats --detach" "$pid" "$FX"
		kill_tree "$pid"
	fi
done

# 3. Stopped before COMPLETE, under each protocol variant.
for v in legacy criu4 pre-restorer; do
	check_fds_stopped "tree/$v" "$FX" --protocol $v
done

# 4. --keep: a hang in the root's restorer; the tree is kept stopped with
# every fd in place and none of crstep's, so a captured run returns.
sh "$FX/prepare.sh" >/dev/null 2>&1
rm -f "$TMP/pid"
captured "--keep with the output captured" 10 \
	"'$CRSTEP' restore '$FX/images' --batch --watchdog 1 --keep --inject hang:task=root:stage=RESTORE_CREDS"
kept=$(sed -n 's/^kept: root .* is pid \([0-9]*\) here, stopped$/\1/p' "$TMP/cap" | head -1)
grep -q '^exit 3$' "$TMP/cap" && [ -n "$kept" ]
ok $? "--keep: the hung tree is kept (root pid ${kept:-none}), exit 3" || sed 's/^/# /' "$TMP/cap" | tail -5
if [ -n "$kept" ]; then
	check_fds "--keep, kept stopped" "$kept" "$FX" ""
	kill_tree "$kept"
	ok $? "--keep: the kept tree is gone once killed"
fi

# --pidns host: no reaper; crstep is the root's parent.
sh "$FX/prepare.sh" >/dev/null 2>&1
busy=$(grep -v '^#' "$FX/pids.txt" | awk '{ print $1 }' | while read -r p; do [ -e "/proc/$p" ] && echo "$p"; done)
if [ -n "$busy" ]; then
	skip "--pidns host: pid(s) $busy of the images in use here"
else
	check_fds_stopped "tree --pidns host" "$FX" --pidns host
fi

# 5. High fds, dumped here with crstep dump.
HF=$TMP/highfd
mkdir -p "$HF/images"
printf 'hello, highfd\n' >"$HF/data.txt" && : >"$HF/log.txt"
if cc -O2 -Wall -o "$HF/highfd" "$TOP/tests/highfd.c" && cc -O2 -Wall -o "$TMP/launch" "$TOP/tests/launch.c"; then
	"$TMP/launch" "$HF" "$HF/highfd" >"$HF/pid" &
	lpid=$!
	i=0
	while [ ! -s "$HF/pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	sleep 0.3
	"$CRSTEP" dump -t "$(cat "$HF/pid")" -D "$HF/images" >"$TMP/out" 2>&1
	ok $? "highfd: dumped here with crstep dump" || sed 's/^/# /' "$TMP/out"
	kill -TERM $lpid 2>/dev/null
	wait $lpid
	printf '#!/bin/sh\n' >"$HF/prepare.sh"
	rm -f "$TMP/pid"
	captured "highfd: restore with fds 1000 1001 1002 1003 4000" 15 \
		"'$CRSTEP' restore '$HF/images' --batch --detach --pidfile '$TMP/pid'"
	grep -q '^exit 0$' "$TMP/cap"
	ok $? "highfd: the restore completes" || sed 's/^/# /' "$TMP/cap" | tail -3
	if [ -s "$TMP/pid" ]; then
		check_fds "highfd" "$(cat "$TMP/pid")" "$HF" ""
		kill_tree "$(cat "$TMP/pid")"
	fi
else
	ok 1 "highfd: tests/highfd.c builds"
fi

done_testing
