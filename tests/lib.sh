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
