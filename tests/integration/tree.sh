#!/bin/sh
# tree.sh: real restores of process trees, threads, zombies, pipes, shared
# memory, signals and fds (the tree, threads, zombie, shm, signals and fdmix
# workloads), under every protocol variant, each proven by the workload's own
# check.sh; the recorded event sequence of the tree under criu4 and legacy;
# and a broken child failing the whole restore cleanly.
#
# The images are dumped here by crstep dump (tests/fixture-local.sh): the
# bundled CRIU 4.2 ones need AVX-512 (see README).  On a CPU that has it, the
# CRIU images are restored too.
. "$(dirname "$0")/../lib.sh"

# restore_check FX NAME VARIANT: restore detached, run check.sh, kill the tree.
restore_check() {
	fx=$1 name=$2 variant=$3
	sh "$fx/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	expect_run 0 "$name/$variant: restore --batch --detach" "$CRSTEP" restore "$fx/images" \
		--protocol "$variant" --batch --detach --pidfile "$TMP/pid" --trace "$TMP/$name.$variant.jsonl" || return
	pid=$(cat "$TMP/pid")
	sleep 0.6
	# The fds after check.sh, whose timing some workloads' checks depend
	# on; before it for signals, whose check.sh kills its process.
	case $name in *signals) check_fds "$name/$variant" "$pid" "$fx" ;; esac
	sh "$fx/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "$name/$variant: $(tail -1 "$TMP/check")"
	case $name in *signals) ;; *) check_fds "$name/$variant" "$pid" "$fx" ;; esac
	kill_tree "$pid" && no_restored
	ok $? "$name/$variant: nothing of the tree is left after kill"
}

for name in tree threads zombie shm signals fdmix; do
	FX=$TMP/$name
	if ! sh "$TOP/tests/fixture-local.sh" "$name" "$FX" >"$TMP/mk" 2>&1; then
		ok 1 "$name: dumped here with crstep dump"
		sed 's/^/# /' "$TMP/mk"
		continue
	fi
	for v in legacy seed criu4 pre-restorer; do
		restore_check "$FX" "$name" "$v"
	done
	# Before any workload code runs again, every pos is exact too.
	check_fds_stopped "$name/criu4" "$FX"
done

# The tree's recorded events: counts, arrivals and performers of each switch.
for v in criu4 legacy; do
	python3 "$TOP/tests/participants.py" "$CRSTEP" "$TMP/tree/images" >"$TMP/parts" &&
		python3 "$TOP/tests/events.py" "$TMP/parts" "$TMP/tree.$v.jsonl" "$v" >"$TMP/ev" 2>&1
	ok $? "tree/$v: the recorded event sequence is CRIU's: $(tail -1 "$TMP/ev")"
	[ -s "$TMP/ev" ] && sed 's/^/# /' "$TMP/ev" | head -30
done

# A broken child fails the whole restore cleanly.
if [ -d "$TMP/tree/images" ]; then
	B=$TMP/tree-broken
	rm -rf "$B" && cp -r "$TMP/tree" "$B"
	child=$(grep -v '^#' "$B/pids.txt" | awk 'NR == 2 { print $1 }')
	python3 "$TOP/tests/corrupt.py" cut "$B/images/pages-2.img" -4096
	sh "$B/prepare.sh" >/dev/null 2>&1
	if expect_run 2 "tree: a child's pages cut short: refused" "$CRSTEP" restore "$B/images" --batch; then
		[ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -q "pages-2.img" "$TMP/err"
		ok $? "tree: one line names the image: $(cat "$TMP/err")"
	fi
	no_restored
	ok $? "tree: nothing was left"
	for kind in fail crash; do
		sh "$TMP/tree/prepare.sh" >/dev/null 2>&1
		if expect_run 2 "tree: child $child $kind at RESTORE fails the whole restore" "$CRSTEP" restore \
			"$TMP/tree/images" --batch --inject "$kind:task=$child:stage=RESTORE"; then
			grep -q "task $child at stage RESTORE" "$TMP/err"
			ok $? "tree: the report names the child and the stage: $(tail -1 "$TMP/err")"
		fi
		no_restored
		ok $? "tree: no process of the tree is left after the $kind"
	done
fi

# The CRIU 4.2 images themselves, where this CPU can run them.
for name in tree threads zombie shm signals fdmix; do
	CF=$FIX/criu-4.2/$name
	if "$CRSTEP" check --restorable "$CF/images" >/dev/null 2>&1; then
		restore_check "$CF" "criu-$name" criu4
		check_fds_stopped "criu-$name/criu4" "$CF"
	else
		skip "CRIU fixture $name: this CPU lacks the state it was dumped with"
	fi
done

# --trace-format chrome: the Chrome trace event format, valid and complete.
CF=$FIX/criu-4.2/tree
sh "$CF/prepare.sh" >/dev/null 2>&1
rm -f "$TMP/pid"
if expect_run 0 "tree: restore --trace-format chrome" "$CRSTEP" restore "$CF/images" --batch --detach \
	--pidfile "$TMP/pid" --trace "$TMP/tree.chrome.json" --trace-format chrome; then
	python3 "$TOP/tests/chrome_trace.py" "$TMP/tree.chrome.json" >"$TMP/chrome" 2>&1
	ok $? "chrome trace: JSON, every event has ph/ts/pid/tid, the slices of each track nest" ||
		sed 's/^/# /' "$TMP/chrome"
	grep -q "^0: stages: ROOT_TASK PREPARE_NAMESPACES FORKING RESTORE RESTORE_SIGCHLD RESTORE_CREDS$" "$TMP/chrome" &&
		grep -q "^30200: root 30200: .*RESTORE" "$TMP/chrome" &&
		grep -q "^30201: task 30201: FORKING RESTORE RESTORE_SIGCHLD RESTORE_CREDS$" "$TMP/chrome" &&
		grep -q "^30202: task 30202: FORKING RESTORE RESTORE_SIGCHLD RESTORE_CREDS$" "$TMP/chrome"
	ok $? "chrome trace: a stage track, and a track per task with a slice per stage it finished"
	grep -q '"name":"FORKING -> RESTORE  by root (pid 30200)[^"]*","cat":"SWITCH","ts":[0-9.]*,"pid":1,"tid":30200' \
		"$TMP/tree.chrome.json"
	ok $? "chrome trace: the switch FORKING -> RESTORE is an instant on the root's track"
	kill_tree "$(cat "$TMP/pid")"
fi
expect_run 4 "--trace-format of another kind is a usage error" "$CRSTEP" restore "$CF/images" --trace-format xml

done_testing
