#!/bin/sh
# creds.sh: credentials as CRIU restores them.  The creds fixture is a root
# task that set PR_SET_KEEPCAPS, kept one capability in its bounding set,
# called setgroups and setres[ug]id(1000) and capset to that capability;
# credthreads has four threads with credentials of their own.  Both were
# dumped and restored by upstream CRIU 4.2.  Each is restored here in both
# pid namespace modes: the restore completes, check.sh finds every thread's
# Uid/Gid/Groups/Cap*/NoNewPrivs/Seccomp as dumped and the workload going
# on (it checks its own credentials every 50 ms), and the images are left
# unchanged.
. "$(dirname "$0")/../lib.sh"

for name in creds credthreads; do
	fx=$FIX/criu-4.2/$name
	sum=$(cat "$fx"/images/* | md5sum)
	for pidns in new host; do
		sh "$fx/prepare.sh" >/dev/null 2>&1
		rm -f "$TMP/pid"
		expect_run 0 "$name, --pidns=$pidns: restore --batch --detach" \
			"$CRSTEP" restore "$fx/images" --batch --detach --pidns=$pidns --pidfile "$TMP/pid" ||
			continue
		pid=$(cat "$TMP/pid" 2>/dev/null)
		sleep 0.6
		sh "$fx/check.sh" "$pid" >"$TMP/check" 2>&1
		ok $? "$name, --pidns=$pidns: credentials as dumped, the workload continues: $(cat "$TMP/check")"
		kill_tree "$pid"
		ok $? "$name, --pidns=$pidns: the restored tree is gone after kill"
	done
	[ "$(cat "$fx"/images/* | md5sum)" = "$sum" ]
	ok $? "$name: the images are unchanged"
done

done_testing
