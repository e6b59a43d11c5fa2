#!/bin/sh
# bench.sh (make bench): figures, not a test.  For the counter workload:
#  - the median wall time of a whole `crstep restore --detach` (process
#    start to exit) over N runs (BENCH_RUNS, default 25), and the median time
#    spent in each stage (from --stats);
#  - per protocol variant, the median voluntary context switches of the
#    controller and of the restored task during a restore (from getrusage and
#    /proc at the final rt_sigreturn), without breakpoints and with one armed
#    (a switch breakpoint the root hits: FORKING->RESTORE), and the
#    difference legacy - seed (CRIU's "Relax the FORKING stage" claims 2).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
n=${BENCH_RUNS:-25}
tmp=$(mktemp -d /tmp/crstep-bench.XXXXXX)
trap 'rm -rf "$tmp" "$tmp.why"' EXIT
fx=$(sh "$top/tests/fixture-images.sh" counter "$tmp/counter") || exit 1

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# run TAG ARGS...: n restores, keeping each --stats output as $tmp/TAG.I
run() {
	tag=$1
	shift
	i=0
	: >"$tmp/$tag.wall"
	while [ $i -lt "$n" ]; do
		sh "$fx/prepare.sh" >/dev/null
		t0=$(date +%s%N)
		"$top/crstep" restore "$fx/images" --batch --detach --stats --pidfile "$tmp/pid" "$@" \
			>"$tmp/$tag.$i" 2>/dev/null || { echo "bench: restore failed ($tag)"; exit 1; }
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000)) >>"$tmp/$tag.wall"
		pid=$(cat "$tmp/pid")
		kill -KILL "$pid"
		while [ -e "/proc/$pid" ]; do sleep 0.01; done
		i=$((i + 1))
	done
}

csw() {	# csw TAG FIELD: median of "context switches: controller A ..., restored threads B"
	cat "$tmp/$1".[0-9]* | awk -v f="$2" '/^context switches:/ { print (f == "ctl" ? $4 : $8) }' | median
}

run criu4 --protocol criu4
echo "crstep restore of $fx/images, $n runs each"
printf "  wall time (criu4, no breakpoint), median: %.2f ms (min %.2f, max %.2f)\n" \
	"$(median < "$tmp/criu4.wall" | awk '{print $1 / 1000}')" \
	"$(sort -n "$tmp/criu4.wall" | head -1 | awk '{print $1 / 1000}')" \
	"$(sort -n "$tmp/criu4.wall" | tail -1 | awk '{print $1 / 1000}')"
echo "  time in each stage, median over the runs (us):"
for st in $(awk '/^[A-Z_]+ +[0-9.]+ us/ { print $1 }' "$tmp/criu4.0"); do
	v=$(cat "$tmp"/criu4.[0-9]* | awk -v s="$st" '$1 == s { print $2 }' | median)
	printf "    %-20s %10s\n" "$st" "$v"
done

echo "  voluntary context switches, median (controller / restored task):"
for v in legacy seed criu4 pre-restorer; do
	[ "$v" = criu4 ] || run "$v" --protocol "$v"
	bp=FORKING-\>RESTORE
	[ "$v" = pre-restorer ] && bp=PRE_RESTORER-\>RESTORE
	run "$v.bp" --protocol "$v" -ex "break $bp" -ex continue
	printf "    %-13s no breakpoint: %4s / %-4s   break %s: %4s / %-4s\n" "$v" \
		"$(csw "$v" ctl)" "$(csw "$v" task)" "$bp" "$(csw "$v.bp" ctl)" "$(csw "$v.bp" task)"
done
printf "  legacy - seed, controller: %s (CRIU's seed patch claims 2)\n" \
	"$(echo "$(csw legacy ctl) - $(csw seed ctl)" | bc 2>/dev/null || awk "BEGIN { print $(csw legacy ctl) - $(csw seed ctl) }")"
