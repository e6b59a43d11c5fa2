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
