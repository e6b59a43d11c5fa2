#!/bin/sh
# fanout.sh: a tree wider than any fixed table: a root and 299 children
# (tests/fanout.c), dumped by `crstep dump` on this machine and restored
# (its own pid namespace, --detach): every task comes back under its pid,
# the root's children are all there, each asleep where it was; then the
# namespace's reaper takes them all.  (Before the slots were sized from the
# images: "pstree.img: more than 256 tasks".)
. "$(dirname "$0")/../lib.sh"
N=300
mkdir -p "$TMP/fx" && cc -O2 -static -o "$TMP/fx/fanout" "$TOP/tests/fanout.c" &&
	cc -O2 -o "$TMP/launch" "$TOP/tests/launch.c"
ok $? "the fanout workload and the launcher build"
"$TMP/launch" "$TMP/fx" "$TMP/fx/fanout" >"$TMP/pid" &
lpid=$!
i=0
until [ -s "$TMP/pid" ] && [ "$(wc -w < "/proc/$(cat "$TMP/pid")/task/$(cat "$TMP/pid")/children" 2>/dev/null)" = $((N - 1)) ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || break
	sleep 0.1
done
root=$(cat "$TMP/pid")
expect_run 0 "crstep dump of a root with $((N - 1)) children" "$CRSTEP" dump -t "$root" -D "$TMP/images"
wait $lpid
[ "$(ls "$TMP"/images/core-*.img | wc -l)" = $N ]
ok $? "$N core images"
expect_run 0 "crstep check of $N tasks" "$CRSTEP" check "$TMP/images"
expect_run 0 "restore of $N tasks (--detach)" "$CRSTEP" restore "$TMP/images" --batch --detach --watchdog 60 \
	--pidfile "$TMP/rpid"
r=$(cat "$TMP/rpid" 2>/dev/null)
[ -n "$r" ] && [ "$(awk '/^NSpid:/ { print $NF }' "/proc/$r/status")" = "$root" ]
ok $? "the root is pid $root in its namespace"
[ "$(wc -w < "/proc/$r/task/$r/children")" = $((N - 1)) ]
ok $? "the root has its $((N - 1)) children again"
for c in $(cat "/proc/$r/task/$r/children"); do
	awk '/^State:/ { s = $2 } /^NSpid:/ { p = $NF } END { print p, s }' "/proc/$c/status"
done | sort -n >"$TMP/kids"
ls "$TMP"/images/core-*.img | sed 's/.*core-\([0-9]*\).img/\1/' | grep -vx "$root" | sort -n | sed 's/$/ S/' >"$TMP/want"
cmp -s "$TMP/kids" "$TMP/want"
ok $? "every child has its dumped pid and sleeps (S) where it was" || diff "$TMP/want" "$TMP/kids" | head -5 | sed 's/^/# /'
check_fds fanout "$r" "$TMP" ""
reaper=$(awk '/^PPid:/ { print $2 }' "/proc/$r/status")
kill -KILL "$reaper"
i=0
while [ -e "/proc/$r" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ ! -e "/proc/$r" ]
ok $? "killing the namespace's reaper takes the tree"
done_testing
