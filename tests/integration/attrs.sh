#!/bin/sh
# attrs.sh: what a task keeps of itself besides memory, registers and fds,
# found missing by CRIU's zdtm (issue 12): per-thread nice and scheduling
# policy, the parent-death signal, the child-subreaper flag, oom_score_adj,
# THP-disable and a memfd's mode.  The attrs workload (CRIU 4.2 images)
# checks its own attributes every 50 ms; its check.sh reads them from /proc.
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/attrs
if ! "$CRSTEP" check --restorable "$FX/images" >/dev/null 2>&1; then
	skip "attrs: this CPU lacks the state the images were dumped with"
	done_testing
	exit
fi
for variant in criu4 legacy; do
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	expect_run 0 "attrs/$variant: restore --batch --detach" "$CRSTEP" restore "$FX/images" \
		--protocol "$variant" --batch --detach --pidfile "$TMP/pid" || continue
	pid=$(cat "$TMP/pid")
	sleep 0.6
	sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "attrs/$variant: $(tail -1 "$TMP/check")"
	kill_tree "$pid" && no_restored
	ok $? "attrs/$variant: nothing of the tree is left after kill"
done
done_testing
