#!/bin/sh
# tests/fixture-local.sh NAME OUTDIR: make a fixture folder like
# tests/fixtures/criu-4.2/NAME, but dumped on THIS machine by `crstep dump`,
# so that its glibc ifuncs and xsave state fit this CPU.  OUTDIR gets bin/,
# prepare.sh, check.sh, NAME.c, pids.txt (this run's PIDs), images/ and the
# dump-time copies prepare.sh puts back (out-at-dump.txt; shm: out-p-,
# out-c-at-dump.txt and data-at-dump.bin; fdmix: work-at-dump/), so that the
# contract (prepare.sh, restore, check.sh) works on OUTDIR unchanged.
# NAME: counter tree threads zombie shm signals fdmix.
# The workload is started as the fixtures' launch.c does (tests/launch.c,
# under a child subreaper that reaps the whole tree), runs about 1 s, and is
# killed by the dump; on any failure or interrupt it is killed all the same.
# /tmp/crstep-fx/NAME is shared by every test on the machine: the launch,
# the dump and the copies are made under flock /tmp/crstep-fx.lock.
# CRSTEP names the binary (default: ./crstep of this tree).
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
rm -rf "$out/images" "$out/bin" "$out/work-at-dump"
cp -R "$src/bin" "$out/bin" &&
	cp "$src/prepare.sh" "$src/check.sh" "$src/$name.c" "$out/" || exit 1

launch=$out/.launch
cc -O2 -Wall -o "$launch" "$top/tests/launch.c" || exit 1
dir=/tmp/crstep-fx/$name
lpid=

cleanup() {
	if [ -n "$lpid" ]; then
		kill -TERM "$lpid" 2>/dev/null	# the launcher SIGKILLs the workload's group
		wait "$lpid" 2>/dev/null
	fi
	rm -f "$launch" "$out/.pid"
}
trap 'cleanup; exit 130' INT TERM HUP
trap cleanup EXIT

exec 9>/tmp/crstep-fx.lock
flock 9

# A fresh start: only the binary, where the images will say it is.
rm -rf "$dir" && mkdir -p "$dir" && cp -p "$out/bin/$name" "$dir/$name" && chmod 0755 "$dir/$name" || exit 1

"$launch" "$dir" "$dir/$name" > "$out/.pid" 9>&- &
lpid=$!
i=0
while [ ! -s "$out/.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
pid=$(cat "$out/.pid")
[ -n "$pid" ] || { echo "$0: $name did not start" >&2; exit 1; }
sleep 1

# pids.txt: every task and thread, as the fixtures list them.
tasks() {	# tasks PID: PID, its threads, then its children's, depth first
	for t in /proc/$1/task/*; do
		t=${t##*/}
		echo "$t"
	done
	for t in /proc/$1/task/*; do
		for c in $(cat "$t/children" 2>/dev/null); do tasks "$c"; done
	done
}
{
	printf '# PID role -- PIDs of the local dump (a restore into a new PID namespace does not need them free)\n'
	tasks "$pid" | awk -v root="$pid" -v n="$name" '{ print $1, ($1 == root ? "root: the " n " workload (dumped by crstep dump)" : "task or thread") }'
} > "$out/pids.txt"

"$crstep" dump -t "$pid" -D "$out/images"
rc=$?
if [ $rc -ne 0 ]; then
	echo "$0: crstep dump of $name ($pid) failed (exit $rc)" >&2
	exit $rc
fi
wait "$lpid"	# the launcher reaps the killed tree
lpid=
# The files as they were at the dump (the tasks are dead now).
case $name in
shm)
	cp "$dir/out-p.txt" "$out/out-p-at-dump.txt" &&
		cp "$dir/out-c.txt" "$out/out-c-at-dump.txt" &&
		cp "$dir/data.bin" "$out/data-at-dump.bin" || exit 1
	lines="$(wc -l < "$out/out-p-at-dump.txt" | tr -d ' ')+$(wc -l < "$out/out-c-at-dump.txt" | tr -d ' ') lines in out-p/out-c"
	;;
*)
	cp "$dir/out.txt" "$out/out-at-dump.txt" || exit 1
	[ "$name" != fdmix ] || cp -Rp "$dir/work" "$out/work-at-dump" || exit 1
	lines="$(wc -l < "$out/out-at-dump.txt" | tr -d ' ') lines in out-at-dump.txt"
	;;
esac
echo "$name: dumped pid $pid into $out/images ($lines)"
