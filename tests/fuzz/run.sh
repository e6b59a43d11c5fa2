#!/bin/sh
# tests/fuzz/run.sh RUNS TARGET...: `make fuzz`.  Runs each libFuzzer target
# (build/fuzz/fuzz_TARGET) for RUNS executions under nice, on its corpus
# (build/fuzz/corpus/TARGET, kept between runs and grown by them) plus the
# seeds and the regression inputs, and prints per target the executions,
# crashes and time, then "N passed, N failed" (targets).  libFuzzer stops at
# the first crash and keeps the input in build/fuzz/crashes/TARGET/.
#   FUZZ_TIMEOUT   seconds one input may take (default 10: beyond is a hang)
#   FUZZ_TIME      seconds each target may run in all (default 0: no limit)
#   FUZZ_RSS_MB    memory limit of each target (default 2048)
#   FUZZ_PARALLEL  1: run the targets at once, not one after the other
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
runs=${1:?usage: run.sh RUNS TARGET...}
shift
# A small quarantine: freed memory is reused sooner, which spares a page
# fault per allocation (2x the executions); use-after-free is still caught.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=8}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
	t=$1
	corpus=build/fuzz/corpus/$t crashes=build/fuzz/crashes/$t log=build/fuzz/$t.log
	mkdir -p "$corpus" "$crashes"
	regress=tests/fuzz/regress/$t
	[ -d "$regress" ] || regress=
	before=$(ls "$crashes" | wc -l)
	start=$(date +%s)
	nice -n 10 "build/fuzz/fuzz_$t" -runs="$runs" -timeout="${FUZZ_TIMEOUT:-10}" \
		-max_total_time="${FUZZ_TIME:-0}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
		-close_fd_mask=3 -print_final_stats=1 -print_funcs=0 -artifact_prefix="$crashes/" \
		"$corpus" "build/fuzz/seeds/$t" $regress >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	new=$(($(ls "$crashes" | wc -l) - before))
	[ $rc -ne 0 ] && [ "$new" -eq 0 ] && new=1
	printf '%-8s %10s execs  %d crashes  %6d s  %6s exec/s  corpus %d\n' "$t" "${execs:-?}" "$new" "$secs" \
		"$(( ${execs:-0} / (secs ? secs : 1) ))" "$(ls "$corpus" | wc -l)" >"build/fuzz/$t.result"
	[ "$new" -eq 0 ] || grep -E '^(==[0-9]+==ERROR|SUMMARY|.*Test unit written)' "$log" | sed 's/^/    /' \
		>>"build/fuzz/$t.result"
}

for t in "$@"; do
	rm -f "build/fuzz/$t.result"
	if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
		run_one "$t" &
	else
		run_one "$t"
		cat "build/fuzz/$t.result"
	fi
done
wait
passed=0 failed=0
for t in "$@"; do
	[ "${FUZZ_PARALLEL:-0}" = 1 ] && cat "build/fuzz/$t.result"
	if grep -q ' 0 crashes' "build/fuzz/$t.result"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
