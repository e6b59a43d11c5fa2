#!/bin/sh
# restore.sh: real restores of the counter workload, end to end, through
# the full stage protocol, for every protocol variant; and clean failures.
#
# Two image sets: the CRIU 4.2 fixture (restored when this CPU has the
# state it was dumped with — it was dumped on an AVX-512 machine — and
# refused cleanly otherwise), and images of the same workload dumped here by
# `crstep dump` (tests/fixture-local.sh), which always run.
. "$(dirname "$0")/../lib.sh"

CRIU_FX=$FIX/criu-4.2/counter

# restore_and_check FXDIR VARIANT: prepare, restore detached, check.sh, kill.
restore_and_check() {
	fx=$1 variant=$2
	sh "$fx/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	expect_run 0 "$variant: restore $(basename "$fx") --batch --detach" \
		"$CRSTEP" restore "$fx/images" --protocol "$variant" --batch --detach --pidfile "$TMP/pid" \
		--trace "$TMP/trace.jsonl" --stats || return
	cp "$TMP/out" "$TMP/log"
	pid=$(cat "$TMP/pid" 2>/dev/null)
	sleep 0.6
	sh "$fx/check.sh" "$pid" >"$TMP/check" 2>&1
	st=$?
	ok $st "$variant: the restored counter continues: $(cat "$TMP/check")"
	check_fds "$variant --trace --stats --detach" "$pid" "$fx"
	case $variant in
	legacy) who=controller from=FORKING ;;
	pre-restorer) who=root from=PRE_RESTORER ;;
	*) who=root from=FORKING ;;
	esac
	grep -q "^$from -> RESTORE  by $who (pid [0-9]*)  nr_in_progress=1\$" "$TMP/log"
	ok $? "$variant: $from -> RESTORE performed by the $who"
	grep -q "^RESTORE_CREDS -> COMPLETE  by controller" "$TMP/log"
	ok $? "$variant: the controller switches COMPLETE"
	grep -q '"type": *"SWITCH"' "$TMP/trace.jsonl" && grep -q '"type": *"ARRIVE"' "$TMP/trace.jsonl"
	ok $? "$variant: --trace wrote switch and arrival events"
	kill_tree "$pid"
	ok $? "$variant: the restored tree is gone after kill"
}

# A local image set of the counter workload, dumped here.
LOCAL=$TMP/local-counter
if sh "$TOP/tests/fixture-local.sh" counter "$LOCAL" >"$TMP/mk" 2>&1; then
	ok 0 "made a local counter image set with crstep dump"
	for v in legacy seed criu4 pre-restorer; do
		restore_and_check "$LOCAL" $v
	done
	# --pidns=host, waiting for the root: crstep exits with its status.
	sh "$LOCAL/prepare.sh" >/dev/null 2>&1
	"$CRSTEP" restore "$LOCAL/images" --pidns=host --pidfile "$TMP/hpid" >"$TMP/hout" 2>&1 &
	crpid=$!
	sleep 0.8
	hpid=$(cat "$TMP/hpid" 2>/dev/null)
	[ -n "$hpid" ] && [ "$hpid" = "$(grep -v '^#' "$LOCAL/pids.txt" | awk 'NR == 1 { print $1 }')" ]
	ok $? "--pidns=host: the root has its dumped pid ($hpid)"
	sh "$LOCAL/check.sh" "$hpid" >"$TMP/check" 2>&1
	ok $? "--pidns=host: the counter continues with its dumped pid $hpid: $(cat "$TMP/check")" ||
		sed 's/^/# /' "$TMP/hout"
	check_fds "--pidns=host, crstep waiting" "$hpid" "$LOCAL"
	kill -TERM "$hpid" 2>/dev/null
	wait $crpid
	st=$?
	[ $st -eq 143 ]
	ok $? "--pidns=host: crstep waited for the root and exited with its status ($st)"

	# Failures at run time: the task cannot open its exe (FORKING).
	sh "$LOCAL/prepare.sh" >/dev/null 2>&1
	rm -f /tmp/crstep-fx/counter/counter
	if expect_run 2 "missing exe: restore fails" "$CRSTEP" restore "$LOCAL/images" --batch; then
		grep -q "restore failed: task [0-9]* at stage FORKING: .*counter" "$TMP/err"
		ok $? "missing exe: one line names the task, the stage and the file"
	fi
	no_restored
	ok $? "missing exe: no restored process is left"

	# Broken images: refused before anything runs.
	for broken in short-pages overlap missing-core; do
		B=$TMP/$broken
		rm -rf "$B" && cp -r "$LOCAL" "$B"
		sh "$B/prepare.sh" >/dev/null 2>&1
		case $broken in
		short-pages) python3 "$TOP/tests/corrupt.py" cut "$B/images/pages-1.img" -4096 ;;
		overlap) python3 "$TOP/tests/corrupt.py" vma-overlap "$B/images"/mm-*.img 1 ;;
		missing-core) rm -f "$B/images"/core-*.img ;;
		esac
		if expect_run 2 "$broken: restore refused" "$CRSTEP" restore "$B/images" --batch; then
			[ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -q 'img' "$TMP/err"
			ok $? "$broken: one line naming the image: $(head -1 "$TMP/err")"
		fi
		no_restored
		ok $? "$broken: no restored process is left"
	done
else
	ok 1 "made a local counter image set with crstep dump"
	sed 's/^/# /' "$TMP/mk"
fi

# The CRIU 4.2 fixture: dumped on a CPU with AVX-512.
md5_before=$(cat "$CRIU_FX"/images/* | md5sum)
sh "$CRIU_FX/prepare.sh" >/dev/null 2>&1
"$CRSTEP" restore "$CRIU_FX/images" --batch --detach --pidfile "$TMP/pid" >"$TMP/out" 2>"$TMP/err"
st=$?
if grep -q "CPU state this CPU lacks" "$TMP/err"; then
	[ $st -eq 2 ] && [ "$(grep -c . "$TMP/err")" -eq 1 ]
	ok $? "CRIU fixture: refused on this CPU with one line, exit 2: $(cat "$TMP/err")"
	no_restored
	ok $? "CRIU fixture: nothing was started"
	skip "CRIU fixture: check.sh after restore (this CPU lacks AVX-512, which the image uses)"
else
	ok $st "CRIU fixture: restore --batch --detach (exit $st)"
	pid=$(cat "$TMP/pid" 2>/dev/null)
	sleep 0.6
	sh "$CRIU_FX/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "CRIU fixture: the counter continues: $(cat "$TMP/check")"
	check_fds "CRIU fixture" "$pid" "$CRIU_FX"
	kill_tree "$pid"
fi
[ "$(cat "$CRIU_FX"/images/* | md5sum)" = "$md5_before" ]
ok $? "CRIU fixture: the images were not modified"

# The restored clocks continue from the dump (timens-0.img) whatever time
# namespace crstep itself runs in: the offsets the kernel takes are against
# the host's clocks, not crstep's.  Restored from the host's namespace and
# from one 100000 s ahead, the tree's namespace gets the same offsets.
# timens_mono [UNSHARE-ARGS...]: the restored tree's monotonic offset (s).
timens_mono() {
	sh "$CRIU_FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	"$@" "$CRSTEP" restore "$CRIU_FX/images" --batch --detach --pidfile "$TMP/pid" >/dev/null 2>&1
	tpid=$(cat "$TMP/pid" 2>/dev/null)
	[ -n "$tpid" ] || return
	awk '$1 == "monotonic" { print $2 }' "/proc/$tpid/timens_offsets"
	kill_tree "$tpid"
}
if unshare -T --monotonic 1 true 2>/dev/null; then
	base=$(timens_mono env)
	ahead=$(timens_mono unshare -T --monotonic 100000 --boottime 100000)
	[ -n "$base" ] && [ -n "$ahead" ] && [ $((ahead - base)) -le 5 ] && [ $((base - ahead)) -le 5 ]
	ok $? "timens: crstep inside a time namespace 100000 s ahead gives the restored tree the host-based offset ($ahead s; from the host's namespace $base s)"
else
	skip "timens: unshare -T --monotonic is not available"
fi

done_testing
