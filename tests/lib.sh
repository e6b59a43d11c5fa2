# tests/lib.sh: sourced by the integration tests (tests/integration/*.sh).
# Each test script is a small TAP producer: ok/not ok lines and a plan.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CRSTEP=$TOP/crstep
FIX=$TOP/tests/fixtures
TMP=$(mktemp -d /tmp/crstep-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
t_n=0 t_failed=0

ok() {	# ok COND-EXIT-STATUS DESCRIPTION
	t_n=$((t_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $t_n - $2"
	else
		echo "not ok $t_n - $2"
		t_failed=$((t_failed + 1))
	fi
}

# expect_run CODE DESC CMD...: run CMD, the test passes when it exits CODE.
expect_run() {
	want=$1 desc=$2
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	got=$?
	[ "$got" -eq "$want" ]
	st=$?
	ok $st "$desc (exit $got, want $want)"
	if [ $st -ne 0 ]; then
		sed 's/^/# out: /' "$TMP/out" | head -20
		sed 's/^/# err: /' "$TMP/err" | head -20
	fi
	return $st
}

skip() {
	t_n=$((t_n + 1))
	echo "ok $t_n # SKIP $*"
}

done_testing() {
	echo "1..$t_n"
	[ "$t_failed" -eq 0 ]
}

. "$TOP/tests/lib-kill.sh"

# The pid namespaces that exist before the test: restores of others.  Only
# processes in our mount namespace count: what this test restores inherits
# it, while other checkouts restoring at the same time under
# /work/wt/isolated (or alike) have one of their own.  One find(1) reads
# every link: a fork per process is too slow on a loaded machine.
foreign_ns() {
	find /proc/self/ns/pid /proc/self/ns/mnt /proc/[0-9]*/ns/pid /proc/[0-9]*/ns/mnt -maxdepth 0 \
		-printf '%p %l\n' 2>/dev/null | awk '
	{ split($1, f, "/"); v[f[3], f[5]] = $2; if (f[3] != "self") p[f[3]] = 1 }
	END {
		for (q in p)
			if (v[q, "mnt"] == v["self", "mnt"] && v[q, "pid"] != "" && v[q, "pid"] != v["self", "pid"])
				print v[q, "pid"], q
	}'
}
foreign_ns | awk '{ print $1 }' | sort -u >"$TMP/ns-before"

# no_restored: nothing this test restored is left — no process in a pid
# namespace other than ours that was not there when the test began (the
# restored trees live in their own) — waiting up to 5 s for the kernel.
no_restored() {
	i=0
	while [ $i -lt 100 ]; do
		left=$(foreign_ns | grep -vFf "$TMP/ns-before" | awk '{ printf " %s", $2 }')
		[ -z "$left" ] && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "# left:$left"
	return 1
}

# --- fds: a restored tree holds exactly the fds it had at dump -------------
#
# tests/fds.py compares every live task of a restored tree with its fdinfo
# and files images: the fd set (an extra fd — crstep's stdout, a log, a
# terminal — fails it), each fd's file, its flags with O_CLOEXEC, its pos;
# and that the reaper holds nothing of crstep's.  The rule for pos: exact,
# except for the fds the workload moves once it runs again, which a test
# names by fd number ("4+": only forward, pos >= dumped; "5*": it also
# seeks back, pos unchecked).  check_fds_stopped looks before any workload
# code has run (a stop at the switch into COMPLETE), where every pos must be
# exact.

. "$TOP/tests/lib-fds.sh"

# check_fds DESC ROOT_PID FX [MOVING]: one TAP line; MOVING defaults to the
# fixture's (fds_moving).
check_fds() {
	$FDS_PYTHON "$TOP/tests/fds.py" "$CRSTEP" "$2" "$3/images" "${4-$(fds_moving "$3")}" >"$TMP/fds" 2>&1
	fds_st=$?
	ok $fds_st "$1: fds as dumped: $(tail -1 "$TMP/fds")"
	[ $fds_st -eq 0 ] || sed 's/^/# /' "$TMP/fds" | head -20
	return $fds_st
}

# tree_root CRSTEP_PID: the restored root under a running crstep (the
# reaper's child, or crstep's own with --pidns host).
tree_root() {
	tr_c=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
	tr_c=${tr_c%% *}
	[ -n "$tr_c" ] && [ "$(cat "/proc/$tr_c/comm" 2>/dev/null)" = crstep-reaper ] &&
		tr_c=$(cat "/proc/$tr_c/task/$tr_c/children" 2>/dev/null) && tr_c=${tr_c%% *}
	echo "$tr_c"
}

# kill_whole_tree PID: kill_tree, and first every descendant of PID (with
# --pidns host there is no namespace to take them along).
kill_whole_tree() {
	kw_all=$1 kw_todo=$1
	while [ -n "$kw_todo" ]; do
		kw_next=
		for kw_p in $kw_todo; do
			kw_next="$kw_next $(cat "/proc/$kw_p/task/$kw_p/children" 2>/dev/null)"
		done
		kw_todo=$(echo $kw_next)
		kw_all="$kw_all $kw_todo"
	done
	for kw_p in $kw_all; do
		[ "$kw_p" = "$1" ] || kill -KILL "$kw_p" 2>/dev/null
	done
	kill_tree "$1"
}

# check_fds_stopped DESC FX [OPTION...]: restore FX with --cli on a fifo,
# stop at the switch into COMPLETE (every task restored and waiting in the
# restorer: no workload code has run, so every pos is exact) and check;
# continue detached, check the running tree (check_fds) and kill it.
# stdout and stderr of crstep go to $TMP/fds-out and $TMP/fds-err.
check_fds_stopped() {
	cs_desc=$1 cs_fx=$2
	shift 2
	sh "$cs_fx/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/fds-in" "$TMP/fds-pid"
	mkfifo "$TMP/fds-in"
	"$CRSTEP" restore "$cs_fx/images" --cli --detach --pidfile "$TMP/fds-pid" "$@" \
		<"$TMP/fds-in" >"$TMP/fds-out" 2>"$TMP/fds-err" &
	cs_pid=$!
	exec 7>"$TMP/fds-in"
	printf 'break COMPLETE\ncontinue\n' >&7
	i=0
	while ! grep -q '^(crstep) Breakpoint 1,' "$TMP/fds-out" && [ $i -lt 600 ] && kill -0 $cs_pid 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	cs_root=$(tree_root $cs_pid)
	if [ -n "$cs_root" ]; then
		check_fds "$cs_desc, stopped before COMPLETE" "$cs_root" "$cs_fx" ""
	else
		ok 1 "$cs_desc: stopped before COMPLETE"
		sed 's/^/# /' "$TMP/fds-out" "$TMP/fds-err" | tail -10
	fi
	printf 'continue\n' >&7
	exec 7>&-
	wait $cs_pid
	cs_st=$?
	cs_root=$(cat "$TMP/fds-pid" 2>/dev/null)
	[ $cs_st -eq 0 ] && [ -n "$cs_root" ]
	ok $? "$cs_desc: the restore completes detached (exit $cs_st)" || sed 's/^/# /' "$TMP/fds-err" | tail -5
	if [ -n "$cs_root" ]; then
		sleep 0.3
		check_fds "$cs_desc, running" "$cs_root" "$cs_fx"
		kill_whole_tree "$cs_root"
	fi
}
