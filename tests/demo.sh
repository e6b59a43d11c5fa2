#!/bin/sh
# demo.sh (make demo): restore the tree workload (a root, a child writing
# into a pipe, a child reading it into out.txt) for real.  On a terminal the
# full-screen UI opens, stopped before the first switch (c continues, q
# quits); without one, --batch prints the switch log — note the root, not
# crstep, switching FORKING -> RESTORE — and out.txt is shown growing past
# the dump.  Leaves nothing running.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/crstep-demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fx=$(sh "$top/tests/fixture-images.sh" tree "$tmp/tree") || exit 1
out=/tmp/crstep-fx/tree/out.txt
. "$top/tests/lib-kill.sh"

sh "$fx/prepare.sh"
if [ -t 0 ] && [ -t 1 ]; then
	"$top/crstep" restore "$fx/images" --tui --pidfile "$tmp/pid"
	rc=$?
	[ -s "$tmp/pid" ] && kill_tree "$(cat "$tmp/pid")"
	exit $rc
fi
echo "== out.txt at the dump: $(wc -l < "$out") lines, ending $(tail -1 "$out" | tr -d '\n')"
echo "== crstep restore $fx/images --batch --detach --stats"
"$top/crstep" restore "$fx/images" --batch --detach --stats --pidfile "$tmp/pid" || exit $?
pid=$(cat "$tmp/pid")
sleep 1
echo "== one second later: $(wc -l < "$out") lines, ending $(tail -1 "$out" | tr -d '\n')"
sh "$fx/check.sh" "$pid"
rc=$?
# The restored tasks hold exactly their dumped fds, none of crstep's.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
fds=$($py "$top/tests/fds.py" "$top/crstep" "$pid" "$fx/images" "4+") || rc=1
echo "== fds: $fds"
kill_tree "$pid"
exit $rc
