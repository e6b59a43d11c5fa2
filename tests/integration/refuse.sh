#!/bin/sh
# refuse.sh: images holding what crstep does not restore are refused before
# anything is forked, with one line naming the image and the feature (issue
# 12): a task in its own network namespace, an AIO ring, a guard region
# (tests/fixtures/criu-4.2/refuse, CRIU 4.2 images that criu itself
# restores).  Their fourth set, a deleted open file, is restored now
# (ghost.sh).
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/refuse
for case in "netns:ids-200.img: task 200 was dumped inside its own network namespace" \
	"aio:mm-200.img: 1 AIO ring(s) (io_setup): not restored yet" \
	"guard:mm-200.img: MADV_GUARD_INSTALL guard region(s) at "; do
	mode=${case%%:*} msg=${case#*:}
	sh "$FX/prepare.sh" "$mode" >/dev/null 2>&1
	rm -f "$TMP/pid"
	if expect_run 2 "refuse/$mode: refused" "$CRSTEP" restore "$FX/$mode/images" --batch --detach \
		--pidfile "$TMP/pid"; then
		[ "$(grep -c . "$TMP/err")" -eq 1 ] && grep -qF "crstep: $msg" "$TMP/err"
		ok $? "refuse/$mode: one line names the image and the feature: $(head -1 "$TMP/err")"
	fi
	[ -s "$TMP/pid" ] && kill_tree "$(cat "$TMP/pid")"	# restored after all: do not leave it
	no_restored
	ok $? "refuse/$mode: nothing was forked"
	"$CRSTEP" check --restorable "$FX/$mode/images" >"$TMP/out" 2>"$TMP/err"
	[ $? -eq 2 ] && grep -qF "crstep: $msg" "$TMP/err"
	ok $? "refuse/$mode: check --restorable says the same: $(head -1 "$TMP/err")"
done
done_testing
