#!/bin/sh
# demo.sh (make demo): restore the counter workload for real and show it
# continue: the switch log of the stage protocol, then out.txt growing past
# the dump point.  Leaves nothing running.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/crstep-demo.XXXXXX)
trap 'rm -rf "$tmp" "$tmp.why"' EXIT
fx=$(sh "$top/tests/counter-images.sh" "$tmp/counter") || exit 1
out=/tmp/crstep-fx/counter/out.txt

sh "$fx/prepare.sh"
echo "== out.txt at the dump: $(wc -l < "$out") lines, ending $(tail -1 "$out" | tr -d '\n')"
echo "== crstep restore $fx/images --batch --detach"
"$top/crstep" restore "$fx/images" --batch --detach --stats --pidfile "$tmp/pid" || exit $?
pid=$(cat "$tmp/pid")
sleep 1
echo "== one second later: $(wc -l < "$out") lines, ending $(tail -1 "$out" | tr -d '\n')"
sh "$fx/check.sh" "$pid"
rc=$?
kill -KILL "$pid" 2>/dev/null
exit $rc
