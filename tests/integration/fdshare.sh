#!/bin/sh
# fdshare.sh: open file descriptions and fd tables as zdtm checks them
# (issue 12): a file opened before a fork shares its offset between parent
# and child, each pipe open is its own description (O_NONBLOCK per end, a
# /proc/self/fd reopen), a CLONE_FILES child shares its parent's fd table,
# F_SETOWN/F_SETSIG, and flock, POSIX and OFD locks.  The fdshare workload
# (CRIU 4.2 images) checks its part every 50 ms; check.sh reads the fds and
# /proc/locks; fds.py compares descriptions and tables with kcmp.
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/fdshare
if ! "$CRSTEP" check --restorable "$FX/images" >/dev/null 2>&1; then
	skip "fdshare: this CPU lacks the state the images were dumped with"
	done_testing
	exit
fi
for variant in criu4 legacy pre-restorer; do
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	expect_run 0 "fdshare/$variant: restore --batch --detach" "$CRSTEP" restore "$FX/images" \
		--protocol "$variant" --batch --detach --pidfile "$TMP/pid" || continue
	pid=$(cat "$TMP/pid")
	sleep 0.6
	sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "fdshare/$variant: $(tail -1 "$TMP/check")"
	check_fds "fdshare/$variant" "$pid" "$FX"
	kill_tree "$pid" && no_restored
	ok $? "fdshare/$variant: nothing of the tree is left after kill"
done

# A lease being broken is refused before anything is forked, by name: the
# lock image of the fixture with its flock turned into a breaking lease
# (flag 8, type F_WRLCK|LEASE_BREAKING).
B=$TMP/breaking
rm -rf "$B" && cp -r "$FX/images" "$B"
python3 - "$B/filelocks.img" <<'PY'
import struct, sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
# entry 0 (after the two magic words): u32 length, then field 1 (flag,
# varint, tag 0x08) and field 2 (type, tag 0x10): one byte each here.
assert d[12] == 0x08 and d[14] == 0x10, d[8:20]
d[13], d[15] = 8, 5
open(p, "wb").write(bytes(d))
PY
if expect_run 2 "fdshare: a breaking lease is refused" "$CRSTEP" restore "$B" --batch; then
	grep -q "filelocks.img: entry 0: a lease being broken" "$TMP/err"
	ok $? "fdshare: the refusal names the image and the feature: $(head -1 "$TMP/err")"
fi
no_restored
ok $? "fdshare: nothing was started for the refused images"
done_testing
