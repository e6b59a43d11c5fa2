#!/bin/sh
# tui.sh: the full-screen UI on real restores, driven through tmux at
# 120x40 with TERM and the locale pinned (as tmux's regress/*.sh: start,
# drive, capture the screen, compare with an expected file).
#  1. golden screens (tests/tui/*.txt): stopped at FORKING -> RESTORE
#     (criu4, `:b RESTORE`, c), the complete restore, the hold of the root
#     at FORKING (legacy, `:break task root FORKING`), a failed restore;
#     times and pids masked by tests/tui/mask.pl;
#  2. q asks before killing a restore in progress; after COMPLETE it leaves
#     the tree running, and the restored counter has no terminal;
#  3. SIGSEGV and SIGTERM to crstep mid-UI: the terminal modes (stty -a
#     inside the pane) are as before and nothing restored survives;
#  4. held stderr is replayed once curses is gone; 80x24 still draws.
# TUI_FIXTURES="counter tree" picks the fixtures (default: counter, plus
# tree when tests/fixture-local.sh can make it).  TUI_REGEN=1 rewrites the
# golden files from this run instead of comparing.
. "$(dirname "$0")/../lib.sh"

GOLD=$TOP/tests/tui
MASK="perl $GOLD/mask.pl"
export HOME="$TMP/home"
mkdir -p "$HOME"

if ! command -v tmux >/dev/null 2>&1 || ! command -v perl >/dev/null 2>&1; then
	skip "tmux or perl missing"
	done_testing
	exit
fi
if ! "$CRSTEP" restore --help | grep -q -- '--tui'; then
	skip "crstep restore has no --tui option yet"
	done_testing
	exit
fi

SOCK="$TMP/tmux.sock"
T="tmux -S $SOCK"
trap '$T kill-server 2>/dev/null; rm -rf "$TMP"' EXIT

# What a restore of this test left behind: a task of the fixture in a pid
# namespace that is not ours (its pid there, NSpid's last field, is one
# of the images' pids), or its reaper.  Other tests on the machine restore
# other dumps, with other pids.  Waits up to 5 s for the kernel.
no_restored() {
	i=0
	while [ $i -lt 100 ]; do
		left=$(for p in /proc/[0-9]*; do
			awk -v p="${p#/proc/}" '/^NSpid:/ && NF > 2 { print $NF, p }' "$p/status" 2>/dev/null
		done | awk 'NR == FNR { if ($1 !~ /^#/) pids[$1] = 1; next } ($1 in pids) { printf " %s", $2 }' \
			"$FX/pids.txt" -)
		[ -z "$left" ] && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "# left:$left"
	return 1
}

# start W H CMD: CMD in a fresh tmux session W x H, TERM and locale pinned;
# the pane's shell records crstep's pid and, after the modes it left
# (stty-after: written first, so that a test that saw the exit code reads
# them whole), its exit code.
start() {
	w=$1 h=$2
	shift 2
	$T kill-server 2>/dev/null
	rm -f "$TMP/crstep.pid" "$TMP/exit" "$TMP/stty-before" "$TMP/stty-after"
	printf 'echo $$ >"%s"\nexec %s\n' "$TMP/crstep.pid" "$*" >"$TMP/inner.sh"
	cat >"$TMP/run.sh" <<EOF_RUN
stty -a >"$TMP/stty-before"
sh "$TMP/inner.sh"
st=\$?
stty -a >"$TMP/stty-after"
echo \$st >"$TMP/exit"
sleep 60
EOF_RUN
	env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME="$HOME" \
		tmux -S "$SOCK" -f /dev/null new-session -d -x "$w" -y "$h" "sh '$TMP/run.sh'"
	$T set-option -g status off >/dev/null
}

capture() {
	$T capture-pane -p >"$TMP/screen" 2>/dev/null
}

# wait_for TEXT: until the screen shows TEXT (up to 10 s).
wait_for() {
	i=0
	while [ $i -lt 100 ]; do
		capture
		grep -qF -- "$1" "$TMP/screen" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "# waited in vain for: $1"
	sed 's/^/# screen: /' "$TMP/screen" | grep -v '^# screen: $'
	return 1
}

wait_exit() {
	i=0
	while [ ! -s "$TMP/exit" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	cat "$TMP/exit" 2>/dev/null
}

keys() {
	$T send-keys "$@"
	sleep 0.2
}

# golden NAME FIXTURE DESC: the masked screen against tests/tui/NAME.txt,
# once it is steady (a stop redraws every 0.5 s: tasks that were still
# working when the stop began have arrived by then).
golden() {
	i=0
	capture
	$MASK "$2/pids.txt" "$TMP" <"$TMP/screen" >"$TMP/$1.txt"
	while [ $i -lt 10 ]; do
		sleep 0.6
		capture
		$MASK "$2/pids.txt" "$TMP" <"$TMP/screen" >"$TMP/$1.next"
		cmp -s "$TMP/$1.txt" "$TMP/$1.next" && break
		mv "$TMP/$1.next" "$TMP/$1.txt"
		i=$((i + 1))
	done
	if [ -n "${TUI_REGEN-}" ]; then
		cp "$TMP/$1.txt" "$GOLD/$1.txt"
		ok 0 "$3 (golden $1.txt regenerated)"
		return
	fi
	if [ ! -f "$GOLD/$1.txt" ]; then
		ok 1 "$3: no golden file tests/tui/$1.txt (TUI_REGEN=1 makes it)"
		return
	fi
	diff -u "$GOLD/$1.txt" "$TMP/$1.txt" >"$TMP/diff"
	st=$?
	ok $st "$3 (tests/tui/$1.txt)"
	[ $st -eq 0 ] || sed 's/^/# /' "$TMP/diff"
}

# fixture NAME: the fixture folder, made on first use; empty if it cannot be.
fixture() {
	if [ ! -f "$TMP/fx-$1/images/inventory.img" ]; then
		if ! sh "$TOP/tests/fixture-local.sh" "$1" "$TMP/fx-$1" >"$TMP/mk" 2>&1; then
			sed 's/^/# /' "$TMP/mk" | tail -3 >&2
			rm -rf "$TMP/fx-$1"
			return
		fi
	fi
	echo "$TMP/fx-$1"
}

restore_cmd() {	# restore_cmd FX [OPTIONS]: crstep restore in the UI
	fx=$1
	shift
	echo "'$CRSTEP' restore '$fx/images' --tui --pidfile '$TMP/pid' $*"
}

stty_same() {
	[ -s "$TMP/stty-before" ] && [ -s "$TMP/stty-after" ] && cmp -s "$TMP/stty-before" "$TMP/stty-after"
}

fixtures=${TUI_FIXTURES-counter}
if [ -z "${TUI_FIXTURES-}" ] && [ -d "$FIX/criu-4.2/tree" ] &&
	grep -q 'tree' "$TOP/tests/fixture-local.sh" && [ -n "$(fixture tree 2>/dev/null)" ]; then
	fixtures="counter tree"
fi

for name in $fixtures; do
	FX=$(fixture "$name")
	if [ -z "$FX" ]; then
		skip "$name: the fixture cannot be made here"
		continue
	fi

	# 1a. criu4: stopped where the root switches FORKING -> RESTORE.
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	start 120 40 "$(restore_cmd "$FX" --protocol criu4)"
	wait_for "stopped before the first switch" >/dev/null
	keys ':' 'b RESTORE' Enter
	wait_for 'Breakpoint 1: switch into RESTORE' >/dev/null
	keys c
	if wait_for 'stopped at breakpoint 1'; then
		sleep 0.3
		golden "$name-criu4-forking-restore" "$FX" "$name criu4: stopped at FORKING -> RESTORE, the root held"
	else
		ok 1 "$name criu4: stopped at FORKING -> RESTORE"
	fi

	# 1b. ... continue to the end.
	keys c
	if wait_for 'q quit (the tree is left running)'; then
		golden "$name-criu4-complete" "$FX" "$name criu4: the end of a complete restore"
		grep -q '4\*FORKING -> RESTORE  *root ' "$TMP/screen"
		ok $? "$name criu4: the switch log marks the root-driven FORKING -> RESTORE"
	else
		ok 1 "$name criu4: the restore completes"
	fi

	# 2. q after COMPLETE: exit 0, the tree left running, no terminal in it.
	keys q
	st=$(wait_exit)
	[ "$st" = 0 ]
	ok $? "$name criu4: q after COMPLETE exits 0 (exit ${st:-none})"
	capture
	grep -q '^The restored tree is left running' "$TMP/screen"
	ok $? "$name criu4: the last stop's report is printed once curses is gone"
	pid=$(cat "$TMP/pid" 2>/dev/null)
	if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
		ttys=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -cE '/dev/(pts|tty)')
		tty_nr=$(awk '{ print $7 }' "/proc/$pid/stat")
		[ "$ttys" -eq 0 ] && [ "$tty_nr" -eq 0 ]
		ok $? "$name criu4: the restored root has no terminal (fds on a tty: $ttys, tty_nr $tty_nr)"
		sleep 0.3
		sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
		ok $? "$name criu4: the restored workload continues: $(head -1 "$TMP/check")"
		check_fds "$name criu4 --tui" "$pid" "$FX"
		# The namespace goes with its init, the reaper (the root's parent).
		ppid=$(awk '{ print $4 }' "/proc/$pid/stat")
		if [ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = crstep-reaper ]; then
			kill -KILL "$ppid"
		else
			kill -KILL "$pid"
		fi
	else
		ok 1 "$name criu4: the restored root runs (pid ${pid:-none})"
	fi
	stty_same
	ok $? "$name criu4: the terminal modes are as before"

	# 1c. legacy: the root held before it finishes FORKING; q asks first.
	sh "$FX/prepare.sh" >/dev/null 2>&1
	start 120 40 "$(restore_cmd "$FX" --protocol legacy)"
	wait_for "stopped before the first switch" >/dev/null
	keys ':' 'break task root FORKING' Enter
	keys c
	if wait_for 'stopped at breakpoint 1'; then
		sleep 0.3
		golden "$name-legacy-hold" "$FX" "$name legacy: the root held at FORKING, outstanding"
	else
		ok 1 "$name legacy: the root held at FORKING"
	fi
	keys q
	wait_for 'Kill the restore in progress and quit? (y/n)' >/dev/null
	ok $? "$name legacy: q asks before killing the restore"
	keys n
	capture
	! grep -qF '(y/n)' "$TMP/screen" && [ ! -s "$TMP/exit" ]
	ok $? "$name legacy: n keeps the restore"
	keys q
	keys y
	st=$(wait_exit)
	# killing on request is no failure (issue 10, section 7)
	[ "$st" = 0 ]
	ok $? "$name legacy: q y kills the restore (exit ${st:-none}, want 0)"
	no_restored
	ok $? "$name legacy: nothing restored is left"
	capture
	grep -q 'crstep: restore killed at stage FORKING' "$TMP/screen"
	ok $? "$name legacy: the held stderr is replayed after the UI"

	# 1d. a failed restore: the exe is gone.
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "/tmp/crstep-fx/$name/$name"
	start 120 40 "$(restore_cmd "$FX")"
	wait_for "stopped before the first switch" >/dev/null
	keys c
	if wait_for 'failed at FORKING'; then
		golden "$name-failed" "$FX" "$name: a failed restore (the exe removed)"
	else
		ok 1 "$name: a failed restore shows 'failed at FORKING'"
	fi
	keys q
	st=$(wait_exit)
	[ "$st" = 2 ]
	ok $? "$name: the failed restore exits 2 (exit ${st:-none})"
	capture
	grep -q '^crstep: restore failed' "$TMP/screen" && stty_same
	ok $? "$name: its error is replayed on the terminal, the modes restored"
	no_restored
	ok $? "$name: nothing restored is left after the failure"

	# 3. A crash and a kill mid-UI, with the root held at a gate.
	for sig in SEGV:11 TERM:15; do
		signo=${sig#*:} sig=${sig%:*}
		sh "$FX/prepare.sh" >/dev/null 2>&1
		start 120 40 "$(restore_cmd "$FX" --protocol legacy)"
		wait_for "stopped before the first switch" >/dev/null
		keys ':' 'break task root FORKING' Enter
		keys c
		wait_for 'stopped at breakpoint 1' >/dev/null
		kill -"$sig" "$(cat "$TMP/crstep.pid")"
		st=$(wait_exit)
		want=$((128 + signo))
		[ "$st" = "$want" ]
		ok $? "SIG$sig mid-UI: crstep dies of it (exit ${st:-none}, want $want)"
		stty_same
		ok $? "SIG$sig mid-UI: the terminal modes are restored (stty -a)" ||
			diff "$TMP/stty-before" "$TMP/stty-after" | sed 's/^/# /'
		capture
		! grep -q 'Switch log' "$TMP/screen"
		ok $? "SIG$sig mid-UI: curses left the alternate screen"
		no_restored
		ok $? "SIG$sig mid-UI: no restored task survives"
	done

	# 4. 80x24: every pane still there; Ctrl-L and a resize redraw.
	sh "$FX/prepare.sh" >/dev/null 2>&1
	start 80 24 "$(restore_cmd "$FX")"
	wait_for "stopped before the first switch" >/dev/null
	capture
	grep -q '^ Tasks' "$TMP/screen" && grep -q '^ Barrier' "$TMP/screen" && grep -q 'Timeline' "$TMP/screen" &&
		grep -q '^c continue' "$TMP/screen"
	ok $? "80x24: header, tasks, barrier, timeline and the key line are drawn"
	$T resize-window -x 120 -y 40 2>/dev/null
	keys C-l
	wait_for 'Switch log   by: root / controller' >/dev/null
	ok $? "resize to 120x40: redrawn at the new size"
	keys q y
	st=$(wait_exit)
	[ "$st" = 0 ]
	ok $? "q y before the first switch: exit 0, a quit is no failure (exit ${st:-none})"
	no_restored
	ok $? "q y before the first switch: nothing restored is left"
done

# 5. `crstep attach` in the same UI: crstep's own restore of the tree,
#    hung by a task in RESTORE, looked at read-only.
A=$FIX/criu-4.2/tree
sh "$A/prepare.sh" >/dev/null 2>&1
"$CRSTEP" restore --batch --watchdog 0 --timeout 60 --inject hang:task=30201:stage=RESTORE "$A/images" \
	>"$TMP/own.out" 2>&1 &
own=$!
i=0
until "$CRSTEP" attach $own --batch -ex 'info barrier' 2>/dev/null | grep -q "nr_in_progress=2 of 3"; do
	i=$((i + 1))
	[ $i -lt 100 ] || break
	sleep 0.1
done
start 120 40 "'$CRSTEP' attach $own --watchdog 1"
wait_for "hang at RESTORE" >/dev/null
ok $? "attach, full screen: the watchdog's hang at RESTORE in the header"
capture
grep -q "attached to crstep (this build) pid $own" "$TMP/screen" &&
	grep -q "^ outstanding: 30200 (root) 30201 (task)" "$TMP/screen" &&
	grep -q "^ *30202 *[0-9]* *task *RESTORE *start word (RESTORE)" "$TMP/screen" &&
	grep -q "4\*FORKING -> RESTORE *root 30200" "$TMP/screen" && grep -q "Held by: task 30201" "$TMP/screen"
ok $? "attach, full screen: the tasks, who is outstanding, the root-driven switch, the hang report" ||
	sed 's/^/# screen: /' "$TMP/screen"
keys :
keys 'info barrier' Enter
wait_for "stage RESTORE (start=4): nr_in_progress=2 of 3 participants" >/dev/null
ok $? "attach, full screen: ':' runs a command into the output pane"
keys q
st=$(wait_exit)
[ "$st" = 3 ] && stty_same
ok $? "attach, full screen: q leaves; exit 3 (a hang was seen), terminal modes restored (exit ${st:-none})"
kill -0 $own 2>/dev/null && "$CRSTEP" attach $own --batch -ex 'info barrier' 2>/dev/null | grep -q "nr_in_progress=2 of 3"
ok $? "attach, full screen: read-only, the restore is still where it was"
kill $own 2>/dev/null
wait $own 2>/dev/null

done_testing
