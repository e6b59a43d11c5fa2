#!/bin/sh
# inetsk.sh: inet sockets (issue 15), with the inetsk fixture (CRIU 4.2
# images: TCP listeners on 127.0.0.1 and ::1, UDP and UDP-Lite sockets, a
# socket filter, a shut down socket, socket options, two established TCP
# connections with bytes queued each way).  Every protocol variant restores
# it in soak.sh; here: the restore continues (check.sh connects to it) with
# exactly the image's fds; a connection without its tcp-stream image is
# refused before anything runs; a port taken by someone else fails the
# restore with one line and leaves nothing; and the next restore works.
. "$(dirname "$0")/../lib.sh"

F=$FIX/criu-4.2/inetsk
IMG=$F/images

restore_ok() {	# DESC: restore, check.sh, the fds, kill
	sh "$F/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	expect_run 0 "$1: restore --batch --detach" "$CRSTEP" restore "$IMG" --batch --detach \
		--pidfile "$TMP/pid" || return
	pid=$(cat "$TMP/pid")
	sleep 0.6
	sh "$F/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "$1: the sockets work after the restore: $(cat "$TMP/check")"
	check_fds "$1" "$pid" "$F"
	kill_tree "$pid"
	ok $? "$1: the restored tree is gone after kill"
}

restore_ok "inetsk"

# A TCP connection without its stream image: refused up front.
cp -r "$IMG" "$TMP/nostream"
rm "$TMP/nostream/tcp-stream-6abe75.img"
msg="nostream/fdinfo-2.img: TCP connection id 14 (ESTABLISHED): $TMP/nostream/tcp-stream-6abe75.img: No such file"
"$CRSTEP" check --restorable "$TMP/nostream" >"$TMP/out" 2>"$TMP/err"
[ $? -eq 2 ] && [ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -qF "crstep: $TMP/$msg" "$TMP/err"
ok $? "no tcp-stream image: check --restorable names the connection and the image: $(head -1 "$TMP/err")"
sh "$F/prepare.sh" >/dev/null 2>&1
if expect_run 2 "no tcp-stream image: restore refused" "$CRSTEP" restore "$TMP/nostream" --batch; then
	grep -qF "crstep: $TMP/$msg" "$TMP/err"
	ok $? "no tcp-stream image: the same line"
fi
no_restored
ok $? "no tcp-stream image: nothing was forked"

# The listener's port held by another socket (no SO_REUSEPORT): the
# controller cannot bind it; the restore fails before any fork.
python3 -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 31611))
s.listen(1)
print("bound", flush=True)
time.sleep(60)
' >"$TMP/held" 2>&1 &
holder=$!
i=0
while ! grep -q bound "$TMP/held" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sh "$F/prepare.sh" >/dev/null 2>&1
if expect_run 2 "port taken: restore fails" "$CRSTEP" restore "$IMG" --batch; then
	grep -q "inet socket id 5: cannot bind to port 31611: Address already in use" "$TMP/err"
	ok $? "port taken: the error names the socket and the port: $(grep 31611 "$TMP/err" | head -1)"
fi
no_restored
ok $? "port taken: nothing restored is left"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

restore_ok "after a failed restore"
done_testing
