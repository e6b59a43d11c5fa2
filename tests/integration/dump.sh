#!/bin/sh
# dump.sh: `crstep dump` makes a local copy of every CRIU 4.2 fixture
# workload (tests/fixture-local.sh: counter tree threads zombie shm signals
# fdmix), each dumped once per run.  For each: the dumped tree is gone, crstep
# check accepts the images, crstep show decodes them all, the image set and
# each image's keys are those of the CRIU fixture's crit JSON (pids, pipe
# and shmem inodes mapped), and a real restore passes the fixture's own
# check.sh.  The counter set is also checked field by field for CRIU's
# shapes (62 sigactions, 16 rlimits, VMA statuses, pages).
. "$(dirname "$0")/../lib.sh"

if ! "$CRSTEP" dump --help >/dev/null 2>&1; then
	skip "crstep dump is not in this build"
	done_testing
	exit
fi
have_py=1
command -v python3 >/dev/null 2>&1 || have_py=

# The restore runs under a child subreaper (tests/launch.c -r), which reaps
# the detached restore's reaper and tasks once they are killed.
launch=$TMP/launch
cc -O2 -Wall -o "$launch" "$TOP/tests/launch.c" 2>"$TMP/err"
ok $? "tests/launch.c builds"
lp=
trap '[ -z "$lp" ] || { kill -TERM "$lp" 2>/dev/null; wait "$lp"; }; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP

# shape NAME OUT: one line per difference from the CRIU fixture's crit set.
shape() {
	python3 - "$TMP/json-$1" "$FIX/criu-4.2/$1/crit" "$2/images" <<'PYEOF'
import json, os, sys
mine_dir, criu_dir, img = sys.argv[1:4]

def load(d, name):
    with open(os.path.join(d, name + '.json')) as f:
        return json.load(f)['entries']

# pids by position: task i's thread j here is task i's thread j there.
pm, pc = load(mine_dir, 'pstree'), load(criu_dir, 'pstree')
if len(pm) != len(pc):
    print('pstree: %d tasks, criu %d' % (len(pm), len(pc)))
pidmap = {}
for a, b in zip(pc, pm):
    pidmap[str(a['pid'])] = str(b['pid'])
    if len(a['threads']) != len(b['threads']):
        print('task %s: %d threads, criu %d' % (b['pid'], len(b['threads']), len(a['threads'])))
    for x, y in zip(a['threads'], b['threads']):
        pidmap.setdefault(str(x), str(y))

def mine_name(c):
    pre, _, num = c.rpartition('-')
    # timens-N is numbered by namespace, not by task (a zombie's thread
    # list holds tid 0, which must not turn timens-0 into a pid).
    if num in pidmap and pre != 'timens':
        return pre + '-' + pidmap[num]
    if pre == 'pagemap-shmem':
        got = [f[:-5] for f in os.listdir(mine_dir) if f.startswith('pagemap-shmem-')]
        return got[0] if len(got) == 1 else c
    return c

def keys(a, b, path, skip):
    if isinstance(a, dict) and isinstance(b, dict):
        if any(path.endswith(x) for x in skip):
            return
        for k in sorted(set(a) ^ set(b)):
            print('%s.%s only in %s' % (path, k, 'mine' if k in a else 'criu'))
        for k in set(a) & set(b):
            keys(a[k], b[k], path + '.' + k, skip)
    elif isinstance(a, list) and isinstance(b, list) and a and b and isinstance(a[0], dict):
        keys(a[0], b[0], path + '[]', skip)

# The xsave components present depend on the CPU (AVX-512 there, PKRU here).
skip = {'.thread_info.fpregs.xsave'}
want = sorted(f[:-5] for f in os.listdir(criu_dir)
              if f.endswith('.json') and not f.startswith('stats-'))
have = set(f[:-5] for f in os.listdir(mine_dir))
for c in want:
    m = mine_name(c)
    if m not in have:
        print('%s.img (criu %s) missing' % (m, c))
        continue
    a, b = load(mine_dir, m), load(criu_dir, c)
    if len(a) != len(b) and not c.startswith('pagemap'):
        print('%s: %d entries, criu %d' % (m, len(a), len(b)))
    if c.startswith('pagemap'):
        keys(a[0], b[0], m + ' head', skip)
        if len(a) > 1 and len(b) > 1:
            keys(a[1], b[1], m + ' entry', skip)
        continue
    # files.img and fdinfo mix kinds: compare each entry with criu's same index
    for x, y in zip(a, b):
        keys(x, y, m, skip)
extra = have - set(mine_name(c) for c in want)
for m in sorted(extra):
    print('%s.img is not in the criu set' % m)

# pages-N.img: as many as pagemaps, each as large as its pagemap says.
for f in os.listdir(mine_dir):
    if not f.startswith('pagemap'):
        continue
    pm = load(mine_dir, f[:-5])
    size = os.path.getsize(os.path.join(img, 'pages-%d.img' % pm[0]['pages_id']))
    pages = sum(e['nr_pages'] for e in pm[1:])
    if pages * 4096 != size:
        print('%s says %d pages, pages-%d.img has %d bytes' % (f[:-5], pages, pm[0]['pages_id'], size))
PYEOF
}

# The counter set's own CRIU shapes beyond the keys.
counter_fields() {
	python3 - "$TMP/json-counter" "$FIX/criu-4.2/counter/crit" "$1" <<'PYEOF'
import json, os, sys
mine_dir, criu_dir, pid = sys.argv[1:4]
def load(d, name):
    with open(os.path.join(d, name + '.json')) as f:
        return json.load(f)['entries']
core = load(mine_dir, 'core-' + pid)[0]
if len(core['tc']['sigactions']) != 62:
    print('sigactions: %d, want 62' % len(core['tc']['sigactions']))
if len(core['tc']['rlimits']['rlimits']) != 16:
    print('rlimits: %d, want 16' % len(core['tc']['rlimits']['rlimits']))
g = core['thread_info']['gpregs']
# Stopped in clock_nanosleep: -EINTR as CRIU records it, or 0 when the
# sleep had just ended.
if int(g['orig_ax'], 16) == 230 and int(g['ax'], 16) not in (0, 2**64 - 4):
    print('clock_nanosleep not recorded as -EINTR: ax %s' % g['ax'])
if g['mode'] != 'NATIVE':
    print('gpregs mode %s' % g['mode'])
def statuses(vmas):
    return set(v['status'] for v in vmas)
va, vb = load(mine_dir, 'mm-' + pid)[0]['vmas'], load(criu_dir, 'mm-30100')[0]['vmas']
if statuses(va) != statuses(vb):
    print('VMA statuses differ: mine %s, criu %s' % (sorted(statuses(va)), sorted(statuses(vb))))
for kind in ('VMA_AREA_VVAR', 'VMA_AREA_VDSO', 'VMA_AREA_HEAP', 'VMA_AREA_VSYSCALL'):
    n = sum(1 for v in va if kind in v['status'])
    if n != 1:
        print('%d VMAs with %s, want 1' % (n, kind))
vvar = [v for v in va if 'VMA_AREA_VVAR' in v['status']]
if vvar and int(vvar[0]['end'], 16) - int(vvar[0]['start'], 16) != 24576:
    print('the vvar VMA is not the merged 24 KiB one')
PYEOF
}

# fds_of_restore NAME OUT: tests/fds.py on the restored tree, into
# OUT/fds.out with its exit code last.
fds_of_restore() {
	$FDS_PYTHON "$TOP/tests/fds.py" "$CRSTEP" "$(cat "$2/restore.pid")" "$2/images" \
		"$(fds_moving "$1")" >"$2/fds.out" 2>&1
	echo $? >>"$2/fds.out"
}

# try_restore NAME OUT: prepare.sh, restore detached, check.sh ROOT, kill.
try_restore() {
	(
		flock 9
		sh "$2/prepare.sh" >/dev/null 2>&1
		rm -f "$2/restore.pid" "$2/restore.status" "$2/fds.out"
		"$launch" -r "$2/restore.status" "$CRSTEP" restore "$2/images" --batch --detach \
			--pidfile "$2/restore.pid" >"$2/restore.out" 2>&1 9>&- &
		echo $! > "$2/restore.launch"
		i=0
		while [ ! -s "$2/restore.status" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
		st=$(cat "$2/restore.status" 2>/dev/null)
		if [ "$st" = 0 ]; then
			sleep 0.6
			# The fds after check.sh, whose timing some workloads' checks
			# depend on; before it for signals, whose check.sh kills its
			# process.
			[ "$1" != signals ] || fds_of_restore "$1" "$2"
			sh "$2/check.sh" "$(cat "$2/restore.pid")" >"$2/check.out" 2>&1
			st=$?
			[ "$1" = signals ] || fds_of_restore "$1" "$2"
		else
			echo "restore exit ${st:-none}" > "$2/check.out"
			st=2
		fi
		kill -TERM "$(cat "$2/restore.launch")" 2>/dev/null
		wait
		exit $st
	) 9>/tmp/crstep-fx.lock
}

for name in counter tree threads zombie shm signals fdmix; do
	out=$TMP/$name
	CRSTEP=$CRSTEP sh "$TOP/tests/fixture-local.sh" "$name" "$out" >"$TMP/fx.out" 2>"$TMP/fx.err"
	st=$?
	ok $st "$name: fixture-local.sh dumps the running workload"
	if [ $st -ne 0 ]; then
		sed 's/^/# /' "$TMP/fx.err" | head -5
		continue
	fi
	img=$out/images
	left=
	for p in $(awk '!/^#/ { print $1 }' "$out/pids.txt"); do
		[ ! -e "/proc/$p" ] || left="$left $p"
	done
	[ -z "$left" ]
	ok $? "$name: every dumped task is gone after the dump${left:+ (left:$left)}"

	expect_run 0 "$name: crstep check accepts the local images" "$CRSTEP" check "$img"

	mkdir -p "$TMP/json-$name"
	bad=
	for f in "$img"/*.img; do
		b=$(basename "$f" .img)
		case $b in pages-*) continue ;; esac
		"$CRSTEP" show "$f" >"$TMP/json-$name/$b.json" 2>"$TMP/err" || bad="$bad $b"
	done
	[ -z "$bad" ]
	ok $? "$name: crstep show decodes every image${bad:+ (failed:$bad)}"

	if [ -n "$have_py" ]; then
		shape "$name" "$out" >"$TMP/shape" 2>&1
		st=$?
		[ $st -eq 0 ] && [ ! -s "$TMP/shape" ]
		ok $? "$name: the same images and keys as the CRIU fixture's crit set"
		sed 's/^/# /' "$TMP/shape" | head -20
		if [ $name = counter ]; then
			counter_fields "$(awk '!/^#/ { print $1; exit }' "$out/pids.txt")" >"$TMP/shape" 2>&1
			st=$?
			[ $st -eq 0 ] && [ ! -s "$TMP/shape" ]
			ok $? "counter: CRIU's shapes (62 sigactions, 16 rlimits, syscall state, VMA statuses)"
			sed 's/^/# /' "$TMP/shape" | head -20
		fi
	else
		skip "$name: python3 missing: no comparison with the crit set"
	fi

	try_restore "$name" "$out"
	st=$?
	ok $st "$name: crstep restore of the local images passes the fixture's check.sh"
	[ $st -eq 0 ] || sed 's/^/# /' "$out/check.out" "$out/restore.out" | tail -8
	if [ -s "$out/fds.out" ]; then
		[ "$(tail -1 "$out/fds.out")" = 0 ]
		ok $? "$name: fds as dumped: $(tail -2 "$out/fds.out" | head -1)" || sed 's/^/# /' "$out/fds.out" | head -10
	fi
done

# A tree crstep cannot dump (a FIFO in the child): refused with one line
# naming the task and fd, after the whole tree was frozen; every task is let
# go untraced and keeps running.
mkfifo "$TMP/fifo"
# Under the subreaper, which reaps both once they are killed.
"$launch" -r "$TMP/fifo.st" sh -c 'sleep 30 3<>"$1" & exec sleep 30' sh "$TMP/fifo" &
lp=$!
sleep 0.3
root=$(cat /proc/$lp/task/$lp/children 2>/dev/null | tr -d ' ')
kid=$(cat /proc/$root/task/$root/children 2>/dev/null | tr -d ' ')
expect_run 2 "a tree with an unsupported fd is refused" "$CRSTEP" dump -t "$root" -D "$TMP/fifo-img"
grep -q "dump $kid: fd 3 is $TMP/fifo" "$TMP/err" || grep -q "dump $kid: fd 3: $TMP/fifo" "$TMP/err"
ok $? "the error names the child and its fd ($(head -1 "$TMP/err"))"
st=
for p in $root $kid; do
	st="$st$(awk '/^State:/ { print $2 } /^TracerPid:/ { print $2 }' /proc/$p/status 2>/dev/null | tr -d '\n')"
done
[ "$st" = "S0S0" ]
ok $? "both tasks run on untraced after the refusal (state+tracer: $st)"
kill -TERM "$lp"
wait "$lp"
lp=

# A PID that cannot exist (above pid_max): a clear line and exit 2.
expect_run 2 "dumping a pid that does not exist fails" "$CRSTEP" dump -t 99999999 -D "$TMP/none"
grep -q "no process with pid 99999999" "$TMP/err"
ok $? "the error names the missing pid"
expect_run 4 "dump without -D is a usage error" "$CRSTEP" dump -t 1

done_testing
