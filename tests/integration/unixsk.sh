#!/bin/sh
# unixsk.sh: unix sockets (issue 15).  The unixsk workload (CRIU 4.2
# images) holds stream, datagram and seqpacket socketpairs with data queued
# both ways, a listener with a connection not yet accepted, a bound datagram
# socket with a client, SCM_RIGHTS pipes in flight and a pair shut down one
# way; restored under every protocol variant, its check.sh makes the tasks
# read every queue back in order, accept the queued connection and a new
# one, and see EOF after the last words.  A socket crstep cannot rebuild
# (an external one) is refused before anything is forked, by name, and
# check --restorable says the same.
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/unixsk
# Skipped only for the CPU: a refusal of the sockets is a failure.
if ! "$CRSTEP" check --restorable "$FX/images" >/dev/null 2>"$TMP/err" &&
	grep -q "CPU state this CPU lacks" "$TMP/err"; then
	skip "unixsk: this CPU lacks the state the images were dumped with"
	done_testing
	exit
fi
for variant in criu4 legacy seed pre-restorer; do
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	expect_run 0 "unixsk/$variant: restore --batch --detach" "$CRSTEP" restore "$FX/images" \
		--protocol "$variant" --batch --detach --pidfile "$TMP/pid" || continue
	pid=$(cat "$TMP/pid")
	sleep 0.6
	# Before check.sh: then the workload opens the new connection's fds.
	check_fds "unixsk/$variant" "$pid" "$FX"
	sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "unixsk/$variant: $(tail -1 "$TMP/check")"
	kill_tree "$pid" && no_restored
	ok $? "unixsk/$variant: nothing of the tree is left after kill"
done

# A name taken by a file that is not a socket stays, and the restore fails
# before the fork, leaving none of the socket files it bound (srv.sock).
sh "$FX/prepare.sh" >/dev/null 2>&1
echo keep >/tmp/crstep-fx/unixsk/dg.sock
if expect_run 2 "unixsk: dg.sock taken by a file: the restore fails" "$CRSTEP" restore "$FX/images" --batch; then
	grep -q "cannot bind /tmp/crstep-fx/unixsk/dg.sock" "$TMP/err"
	ok $? "unixsk: the error names the socket and its path: $(head -1 "$TMP/err")"
fi
[ "$(cat /tmp/crstep-fx/unixsk/dg.sock)" = keep ] && [ ! -e /tmp/crstep-fx/unixsk/srv.sock ]
ok $? "unixsk: the file at dg.sock is untouched and srv.sock, bound before, is gone"
no_restored
ok $? "unixsk: nothing was started for the failed restore"

# The first unix socket of files.img marked external (uflags USK_EXTERN):
# its entry's flags (field 5, 0x2) and uflags (field 6, 0) are the bytes
# 28 02 30 00; the 0 becomes 1, the length stays.
B=$TMP/extern
rm -rf "$B" && cp -r "$FX/images" "$B"
python3 - "$B/files.img" <<'PY'
import sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
i = d.find(b"\x28\x02\x30\x00")
assert i > 0
d[i + 3] = 1
open(p, "wb").write(bytes(d))
PY
msg="outside the dumped tree, the peer of a socket in it (criu restore --ext-unix-sk): not restored yet"
if expect_run 2 "unixsk: an external socket is refused" "$CRSTEP" restore "$B" --batch; then
	[ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -q "crstep: files.img: unix socket id [0-9]* (ino [0-9]*, [a-z]*): $msg" "$TMP/err"
	ok $? "unixsk: one line names the image, the socket and the feature: $(head -1 "$TMP/err")"
fi
no_restored
ok $? "unixsk: nothing was started for the refused images"
"$CRSTEP" check --restorable "$B" >"$TMP/out" 2>"$TMP/err"
[ $? -eq 2 ] && grep -q "$msg" "$TMP/err"
ok $? "unixsk: check --restorable says the same: $(head -1 "$TMP/err")"
done_testing
