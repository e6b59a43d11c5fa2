#!/bin/sh
# tests/run.sh [--sanitize]: run every unit test binary (build/tests/test_*)
# and every integration script (tests/integration/*.sh), each a TAP producer;
# print each test's lines, then the total as one TAP plan-like summary line
# "N passed, N failed".
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export CRSTEP_SANITIZE=
[ "${1-}" = --sanitize ] && CRSTEP_SANITIZE=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0
for t in build/tests/test_* tests/integration/*.sh; do
	[ -e "$t" ] || continue
	echo "# $t"
	case $t in
	*.sh) out=$(sh "$t" 2>&1) ;;
	*) out=$("$t" 2>&1) ;;
	esac
	rc=$?
	echo "$out"
	p=$(echo "$out" | grep -c '^ok ')
	f=$(echo "$out" | grep -c '^not ok ')
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $t exited $rc"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
