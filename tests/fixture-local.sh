#!/bin/sh
# tests/fixture-local.sh NAME OUTDIR: make a fixture folder like
# tests/fixtures/criu-4.2/NAME, but dumped on THIS machine by `crstep dump`,
# so that its glibc ifuncs and xsave state fit this CPU.  OUTDIR gets bin/,
# prepare.sh, check.sh, NAME.c, pids.txt (this run's PID), images/ and
# out-at-dump.txt; the contract (prepare.sh, restore, check.sh) then works on
# OUTDIR unchanged.  The workload is started as the fixtures' launch.c does
# (tests/launch.c), runs about 1 s, and is killed by the dump.
# Handles the single-process, single-thread workloads with regular files
# only: counter.  CRSTEP names the binary (default: ./crstep of this tree).
set -u
name=${1-} out=${2-}
if [ -z "$name" ] || [ -z "$out" ]; then
	echo "usage: $0 NAME OUTDIR" >&2
	exit 4
fi
top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
src=$top/tests/fixtures/criu-4.2/$name
crstep=${CRSTEP:-$top/crstep}
[ -d "$src" ] || { echo "$0: no fixture $src" >&2; exit 4; }
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1
rm -rf "$out/images" "$out/bin"
cp -R "$src/bin" "$out/bin" &&
	cp "$src/prepare.sh" "$src/check.sh" "$src/$name.c" "$out/" || exit 1

# prepare.sh recreates /tmp/crstep-fx/NAME with out.txt = out-at-dump.txt:
# empty for a fresh start, the real one is taken at the dump.
: > "$out/out-at-dump.txt"
printf '# PID role -- PIDs of the local dump (a restore into a new PID namespace does not need them free)\n' > "$out/pids.txt"
sh "$out/prepare.sh" > /dev/null || exit 1

launch=$out/.launch
cc -O2 -Wall -o "$launch" "$top/tests/launch.c" || exit 1
dir=/tmp/crstep-fx/$name
"$launch" "$dir" "$dir/$name" > "$out/.pid" &
lpid=$!
i=0
while [ ! -s "$out/.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
pid=$(cat "$out/.pid")
[ -n "$pid" ] || { echo "$0: $name did not start" >&2; kill "$lpid" 2>/dev/null; exit 1; }
echo "$pid root: the $name workload (dumped by crstep dump)" >> "$out/pids.txt"
sleep 1
"$crstep" dump -t "$pid" -D "$out/images"
rc=$?
if [ $rc -ne 0 ]; then
	kill -KILL "$pid" 2>/dev/null
	wait "$lpid"
	rm -f "$launch" "$out/.pid"
	echo "$0: crstep dump of $name ($pid) failed (exit $rc)" >&2
	exit $rc
fi
wait "$lpid"	# the launcher reaps the killed workload
cp "$dir/out.txt" "$out/out-at-dump.txt" || exit 1
rm -f "$launch" "$out/.pid"
echo "$name: dumped pid $pid into $out/images ($(wc -l < "$out/out-at-dump.txt" | tr -d ' ') lines in out-at-dump.txt)"
