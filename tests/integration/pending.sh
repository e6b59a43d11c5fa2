#!/bin/sh
# pending.sh: what zdtm's sigpending and stopped* tests found lost (issue 12),
# on CRIU 4.2 images: the pending fixture (pending signals on the leader's
# queue — 64 of one real-time signal —, on a second thread's queue and on the
# process-wide queue, each with its siginfo) and the stopped fixture (a
# two-thread child stopped by SIGSTOP, a child stopped by SIGTSTP, their
# parent told so).  Each restored tree is proven by the workload's check.sh:
# pending's takes every signal and checks its siginfo, stopped's sees the
# children stopped, sends SIGCONT and sees them count on.
. "$(dirname "$0")/../lib.sh"

for name in pending stopped; do
	FX=$FIX/criu-4.2/$name
	if ! "$CRSTEP" check --restorable "$FX/images" >/dev/null 2>&1; then
		skip "$name: this CPU lacks the state the images were dumped with"
		continue
	fi
	for variant in criu4 legacy; do
		sh "$FX/prepare.sh" >/dev/null 2>&1
		rm -f "$TMP/pid"
		expect_run 0 "$name/$variant: restore --batch --detach" "$CRSTEP" restore "$FX/images" \
			--protocol "$variant" --batch --detach --pidfile "$TMP/pid" || continue
		pid=$(cat "$TMP/pid")
		sleep 0.6
		check_fds "$name/$variant" "$pid" "$FX"
		sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
		ok $? "$name/$variant: $(tail -1 "$TMP/check")"
		kill_tree "$pid" && no_restored
		ok $? "$name/$variant: nothing of the tree is left after kill"
	done
done

# A pending SIGSTOP cannot be queued again while the restorer blocks
# everything (it would stop the task inside the restorer; CRIU's dump turns
# it into the stopped state instead): refused before anything is forked,
# naming the image.  T's first SIGRTMIN (signo 34, si_code SI_QUEUE) made a
# SIGSTOP in a copy of the images, the siginfo's length unchanged.
FX=$FIX/criu-4.2/pending
mkdir "$TMP/stop" && cp "$FX"/images/* "$TMP/stop/" && python3 - "$TMP/stop/core-31201.img" <<'PY'
import sys
p = sys.argv[1]
b = open(p, 'rb').read()
old = bytes([34, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
assert old in b
open(p, 'wb').write(b.replace(old, bytes([19]) + old[1:], 1))
PY
ok $? "a copy of pending with a pending SIGSTOP on T's queue"
sh "$FX/prepare.sh" >/dev/null 2>&1
expect_run 2 "pending SIGSTOP: refused" "$CRSTEP" restore "$TMP/stop" --batch --detach --pidfile "$TMP/pid" --watchdog 3 &&
	grep -qF "crstep: core-31201.img: signals_p entry 0: pending signal 19 cannot be queued again" "$TMP/err"
ok $? "pending SIGSTOP: one line names the image and the signal: $(head -1 "$TMP/err")"
[ -s "$TMP/pid" ] && kill_tree "$(cat "$TMP/pid")"
no_restored
ok $? "pending SIGSTOP: nothing was forked"
done_testing
