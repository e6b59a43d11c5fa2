#!/bin/sh
# tests/fuzz/run.sh RUNS TARGET...: `make fuzz`.  Runs each libFuzzer target
# (build/fuzz/fuzz_TARGET) for RUNS executions under nice, on its corpus
# (build/fuzz/corpus/TARGET, kept between runs and grown by it) plus the
# seeds and the regression inputs, and prints per target the executions,
# crashes and time, then "N passed, N failed" (targets).  libFuzzer stops at
# the first crash; the input is kept in build/fuzz/crashes/TARGET/.
#   FUZZ_TIMEOUT  seconds one input may take (default 10: beyond is a hang)
#   FUZZ_TIME     seconds a target may run in all (default 0: no limit)
#   FUZZ_RSS_MB   memory limit (default 2048)
#   FUZZ_JOBS     targets run at once (default 1)
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
runs=${1:?usage: run.sh RUNS TARGET...}
shift
passed=0 failed=0
for t in "$@"; do
	corpus=build/fuzz/corpus/$t crashes=build/fuzz/crashes/$t log=build/fuzz/$t.log
	mkdir -p "$corpus" "$crashes"
	regress=tests/fuzz/regress/$t
	[ -d "$regress" ] || regress=
	before=$(ls "$crashes" | wc -l)
	start=$(date +%s)
	nice -n 10 "build/fuzz/fuzz_$t" -runs="$runs" -timeout="${FUZZ_TIMEOUT:-10}" \
		-max_total_time="${FUZZ_TIME:-0}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
		-close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$crashes/" \
		"$corpus" "build/fuzz/seeds/$t" $regress >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	new=$(($(ls "$crashes" | wc -l) - before))
	[ $rc -ne 0 ] && [ "$new" -eq 0 ] && new=1
	printf '%-8s %10s execs  %d crashes  %5d s  %s exec/s  corpus %d\n' "$t" "${execs:-?}" "$new" "$secs" \
		"${rate:-?}" "$(ls "$corpus" | wc -l)"
	if [ "$new" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" | sed 's/^/    /'
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
