#!/bin/sh
# helper.sh: CRIU's helper tasks (issue 16): the helper workload (CRIU 4.2
# images) holds a live task and a zombie in a process group whose leader is
# gone.  Restored under every protocol variant, a helper with the leader's
# pid recreates the group, takes part in FORKING and RESTORE (nr_helpers,
# role helper, a breakpoint holds it) and is gone when the restore ends.
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/helper
# Skipped only on a CPU that lacks the dumped state: a refusal of the tree
# itself is a failure below.
if ! "$CRSTEP" check --restorable "$FX/images" >/dev/null 2>"$TMP/why" &&
	grep -q "CPU state this CPU lacks" "$TMP/why"; then
	skip "helper: this CPU lacks the state the images were dumped with"
	done_testing
	exit
fi
HELPER=31851
for variant in criu4 pre-restorer seed legacy; do
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	expect_run 0 "helper/$variant: restore --batch --detach" "$CRSTEP" restore "$FX/images" \
		--protocol "$variant" --batch --detach --pidfile "$TMP/pid" \
		-ex "break task $HELPER RESTORE" -ex continue -ex 'info tasks' \
		-ex 'expect nr_helpers == 1 "one helper counted"' -ex continue || continue
	pid=$(cat "$TMP/pid")
	grep -q "^Breakpoint 1, task $HELPER arriving at RESTORE" "$TMP/out"
	ok $? "helper/$variant: break task $HELPER RESTORE holds the helper" || sed 's/^/# /' "$TMP/out"
	grep -q "^[* ] *$HELPER .*helper" "$TMP/out"
	ok $? "helper/$variant: info tasks shows $HELPER as a helper"
	sleep 0.6
	sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "helper/$variant: $(tail -1 "$TMP/check")"
	kill_tree "$pid" && no_restored
	ok $? "helper/$variant: nothing of the tree is left after kill"
done
done_testing
