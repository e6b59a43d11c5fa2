#!/bin/sh
# bench.sh (make bench): restore the counter workload N times (default 25),
# print the median wall time of a whole `crstep restore --detach` and the
# median time spent in each stage (from --stats).  Figures, not a test.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
n=${BENCH_RUNS:-25}
tmp=$(mktemp -d /tmp/crstep-bench.XXXXXX)
trap 'rm -rf "$tmp" "$tmp.why"' EXIT
fx=$(sh "$top/tests/counter-images.sh" "$tmp/counter") || exit 1
i=0
while [ $i -lt "$n" ]; do
	sh "$fx/prepare.sh" >/dev/null
	t0=$(date +%s%N)
	"$top/crstep" restore "$fx/images" --detach --stats --pidfile "$tmp/pid" >"$tmp/stats.$i" || exit 1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000)) >>"$tmp/wall"
	pid=$(cat "$tmp/pid")
	kill -KILL "$pid"
	while [ -e "/proc/$pid" ]; do sleep 0.01; done
	i=$((i + 1))
done
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "crstep restore of $fx/images, $n runs (--detach, process start to exit):"
printf "  wall time, median: %.2f ms (min %.2f, max %.2f)\n" \
	"$(median < "$tmp/wall" | awk '{print $1 / 1000}')" \
	"$(sort -n "$tmp/wall" | head -1 | awk '{print $1 / 1000}')" \
	"$(sort -n "$tmp/wall" | tail -1 | awk '{print $1 / 1000}')"
echo "  time in each stage, median over the runs (us):"
for st in $(awk '/^[A-Z_]+ / { print $1 }' "$tmp/stats.0"); do
	v=$(cat "$tmp"/stats.* | awk -v s="$st" '$1 == s { print $2 }' | median)
	printf "    %-20s %10s\n" "$st" "$v"
done
