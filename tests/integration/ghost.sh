#!/bin/sh
# ghost.sh: files deleted or unlinked while open (issue 12; CRIU's
# remap-fpath.img, ghost-file-N.img and link remaps).  The ghost fixture
# (tests/fixtures/criu-4.2/ghost, dumped by CRIU 4.2 with --link-remap):
# P holds a sparse deleted file, a small deleted one (owner, mode, mtime),
# a file unlinked while another name links it (a link remap) and maps a
# deleted file; its child C holds the sparse one.  They are restored by
# their own names ("NAME (deleted)" in /proc), with their contents and
# holes, and the restore leaves no ghost behind, failed or not; criu's
# link remap goes after a successful restore and stays after a failed one.
# What crstep does not restore of them is refused before anything runs.
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/ghost
D=/tmp/crstep-fx/ghost
LR=$(grep -o 'link_remap\.[0-9]*' "$FX/crit/files.json" | head -n 1)
md5_before=$(cat "$FX"/images/* | md5sum)

# The files in $D, one line.
listing() { ls -A "$D" | sort | tr '\n' ' ' | sed 's/ $//'; }

# restore_ok DESC: restore detached, check.sh, the fds, kill.
restore_ok() {
	rm -f "$TMP/pid"
	expect_run 0 "$1: restore --batch --detach" \
		"$CRSTEP" restore "$FX/images" --batch --detach --pidfile "$TMP/pid" || return
	pid=$(cat "$TMP/pid" 2>/dev/null)
	sleep 0.6
	sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "$1: the restored tree continues with its deleted files: $(cat "$TMP/check")"
	check_fds "$1" "$pid" "$FX"
	kill_tree "$pid"
	ok $? "$1: the restored tree is gone after kill"
}

sh "$FX/prepare.sh" >/dev/null 2>&1
restore_ok "ghost"
[ "$(listing)" = "ghost other.txt out.txt" ]
ok $? "ghost: the link remap $LR was removed after the restore: $(listing)"

# A failure late in the restore (every task has its files open): exit 2,
# nothing restored is left, no ghost, and the link remap is still there.
sh "$FX/prepare.sh" >/dev/null 2>&1
for stage in RESTORE RESTORE_CREDS; do
	if expect_run 2 "ghost: injected failure of C at $stage: restore fails" \
		"$CRSTEP" restore "$FX/images" --batch --inject "fail:task=31101:stage=$stage"; then
		grep -q "stage $stage: injected fail" "$TMP/err"
		ok $? "ghost: failure at $stage: $(tail -1 "$TMP/err")"
	fi
	no_restored
	ok $? "ghost: failure at $stage: no restored process is left"
	[ "$(listing)" = "ghost $LR other.txt out.txt" ]
	ok $? "ghost: failure at $stage: no ghost left, the link remap kept: $(listing)"
done
restore_ok "ghost after two failed restores"

# A failure while the ghosts are made (the third cannot be created): the
# two made before it are removed again, nothing is forked.
sh "$FX/prepare.sh" >/dev/null 2>&1
echo taken > "$D/small.txt.cr.3.ghost"
if expect_run 2 "ghost: a ghost cannot be created: restore fails" "$CRSTEP" restore "$FX/images" --batch; then
	[ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -q "crstep: ghost-file-3.img: cannot create the ghost $D/small.txt.cr.3.ghost: File exists" "$TMP/err"
	ok $? "ghost: one line names the ghost image and the file: $(cat "$TMP/err")"
fi
no_restored
ok $? "ghost: a ghost cannot be created: nothing was forked"
[ "$(listing)" = "ghost $LR other.txt out.txt small.txt.cr.3.ghost" ]
ok $? "ghost: the ghosts made before were removed: $(listing)"

# Refused before anything runs, naming the image and the feature: a ghost
# that was a FIFO opened as a regular file (a FIFO entry opens a ghost FIFO:
# fdkinds.sh), a /proc/PID of a dead task.
for case in "fifo:ghost-file-3.img: $D/small.txt was a deleted FIFO (mode 10400) that no FIFO file opens: not restored yet" \
	"procfs:remap-fpath.img: entry 2: $D/small.txt of a dead task (a procfs remap): not restored yet"; do
	mode=${case%%:*} msg=${case#*:}
	B=$TMP/ghost-$mode
	rm -rf "$B" && cp -r "$FX" "$B"
	case $mode in
	fifo) python3 "$TOP/tests/corrupt.py" ghost-mode "$B/images/ghost-file-3.img" 0o10400 ;;
	procfs) python3 "$TOP/tests/corrupt.py" remap-type "$B/images/remap-fpath.img" 2 2 ;;
	esac
	sh "$B/prepare.sh" >/dev/null 2>&1
	if expect_run 2 "ghost/$mode: refused" "$CRSTEP" restore "$B/images" --batch; then
		[ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -qF "crstep: $msg" "$TMP/err"
		ok $? "ghost/$mode: one line names the image and the feature: $(head -1 "$TMP/err")"
	fi
	no_restored
	ok $? "ghost/$mode: nothing was forked"
	[ "$(listing)" = "ghost $LR other.txt out.txt" ]
	ok $? "ghost/$mode: no file was made: $(listing)"
done

# refuse/deleted (made for the refusal of deleted files) is restored now.
R=$FIX/criu-4.2/refuse
sh "$R/prepare.sh" deleted >/dev/null 2>&1
rm -f "$TMP/pid"
if expect_run 0 "refuse/deleted: restored" "$CRSTEP" restore "$R/deleted/images" --batch --detach \
	--pidfile "$TMP/pid"; then
	pid=$(cat "$TMP/pid")
	sleep 0.6
	sh "$R/check.sh" deleted "$pid" >"$TMP/check" 2>&1 &&
		[ "$(readlink "/proc/$pid/fd/4")" = "/tmp/crstep-fx/refuse/victim (deleted)" ]
	ok $? "refuse/deleted: continues with fd 4 on the deleted victim: $(cat "$TMP/check")"
	kill_tree "$pid"
fi
[ "$(cat "$FX"/images/* | md5sum)" = "$md5_before" ]
ok $? "ghost: the images were not modified"
done_testing
