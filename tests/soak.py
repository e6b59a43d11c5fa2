#!/usr/bin/env python3
"""soak.py [--tap] [--runs N] [--load-runs N] [--spread] [--jobs N]
[--fixture NAME]... [--protocol P]...: restore every fixture (tests/fixtures/*/*/ with prepare.sh,
images/ and check.sh) many times in a row for real and count what goes wrong.

Phase 1: every fixture --runs times in a row (SOAK_RUNS, default 200) under
every protocol variant; phase 2: the same --load-runs times (SOAK_LOAD_RUNS,
default 50) with two CPU-burning processes running.  --spread instead runs
each fixture --runs times in all, cycling through the variants (the short
version `make check` runs).  With --jobs N (SOAK_JOBS), N fixtures' blocks
run at the same time, one process each (their paths and pids do not
overlap); each fixture's runs are still in a row.

One run: prepare.sh; `crstep restore --batch --detach --pidfile F --protocol P
DIR/images` (its wall time is the restore time); the restored tree's
processes are noted (the root, every descendant and thread, the reaper
that is their pid namespace's init); no restored task or the reaper may hold
an fd of crstep's (its stdout/stderr files here), and, through the hook
SOAK_FD_CHECK, each task's fds may be compared with its fdinfo image; then,
0.5 s after crstep returned (check.sh's contract: it runs once the restore
has been running for >= 0.5 s), check.sh ROOT_PID; then tests/lib-kill.sh's
kill_tree; then nothing may be left: none of the noted processes, no crstep
and no other process descended from this script (it is a child subreaper,
so whatever crstep leaves behind is reparented to it and found here).

Prints one line per fixture, variant and phase (runs, failures, p50/p99
restore time, processes and fds left behind), every failure with its exact
command and output, and at the end "N passed, N failed" (runs).  --tap
prints TAP instead: one test per fixture, variant and phase.

SOAK_FD_CHECK (hook): a shell command, run as `sh -c "$SOAK_FD_CHECK" fdcheck
ROOT_PID IMAGES_DIR` right after the restore with the tree running; a
non-zero exit counts as fds left behind and its output is printed.  When
unset: tests/fds.py, every task's fds against its images (flags and pos;
the fixture's moving fds from tests/lib-fds.sh); empty: no fd check.
"""
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRSTEP = os.environ.get('CRSTEP', os.path.join(TOP, 'crstep'))
FIXTURES = os.path.join(TOP, 'tests', 'fixtures')
# criu4, the default, first: a soak cut short has covered it
VARIANTS = ['criu4', 'pre-restorer', 'seed', 'legacy']
# a block prints its first failures in full, the rest in one line each
FULL_REPORTS = 3
# check.sh's contract: run once the restore has been running for >= 0.5 s.
SETTLE = 0.5
# A restore that has not returned by then is killed and counted as failed:
# well past the default watchdog (5 s), which should have ended it first.
RESTORE_LIMIT = 60

PR_SET_CHILD_SUBREAPER = 36


def fixtures(names):
    out = []
    for dirpath, dirs, files in sorted(os.walk(FIXTURES)):
        dirs.sort()
        if {'prepare.sh', 'check.sh'} <= set(files) and 'images' in dirs:
            name = os.path.basename(dirpath)
            if not names or name in names:
                out.append((name, dirpath))
    return out


def fd_check_cmd():
    cmd = os.environ.get('SOAK_FD_CHECK')
    if cmd is not None:
        return cmd or None
    # tests/fds.py with the fixture's moving fds: $1 the root, $2 images/.
    return ('. "%s/tests/lib-fds.sh"; $FDS_PYTHON "%s/tests/fds.py" "%s" "$1" "$2" '
            '"$(fds_moving "$2")"' % (TOP, TOP, CRSTEP))


def stat_of(pid):
    """(ppid, starttime, state) of pid, or None once it is gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(')') + 2:].split()
    return int(fields[1]), int(fields[19]), fields[0]


def comm_of(pid):
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip()
    except OSError:
        return '?'


def proc_tree(root):
    """root and all its descendants (pids), through /proc/P/task/T/children."""
    seen, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        try:
            tids = os.listdir('/proc/%d/task' % p)
        except OSError:
            continue
        for t in tids:
            try:
                with open('/proc/%d/task/%s/children' % (p, t)) as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
    return seen


def descendants(me, skip):
    """Every live process below me (any depth), except the pids in skip."""
    kids = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        st = stat_of(int(d))
        if st:
            kids.setdefault(st[0], []).append(int(d))
    out, todo = [], list(kids.get(me, []))
    while todo:
        p = todo.pop()
        if p in skip:
            continue
        out.append(p)
        todo += kids.get(p, [])
    return out


def fd_targets(pid):
    d = '/proc/%d/fd' % pid
    out = {}
    try:
        for fd in os.listdir(d):
            try:
                out[int(fd)] = os.readlink('%s/%s' % (d, fd))
            except OSError:
                pass
    except OSError:
        pass
    return out


def reap(pids):
    """Collect the exit status of those of pids that are our children (the
    reaper, reparented to us as a subreaper once crstep exits)."""
    for p in pids:
        try:
            os.waitpid(p, os.WNOHANG)
        except ChildProcessError:
            pass


def alive(noted, deadline):
    """The noted (pid, starttime) that still exist (same start time: not a
    reused pid), waiting until deadline for the kernel to finish."""
    while True:
        reap([p for p, _ in noted])
        left = [(p, s) for p, s in noted if (stat_of(p) or (0, None))[1] == s]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.02)


def sh(cmd, *args, timeout=60):
    """cmd in a session of its own: on a timeout, its whole process group
    goes (what a check.sh started is no leftover of the restore)."""
    p = subprocess.Popen(['sh', '-c', cmd, 'soak'] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors='replace')
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        out, _ = p.communicate()
        return -1, out.decode(errors='replace') + '\n(timed out after %d s)' % timeout


class Run:
    def __init__(self):
        self.ok = True
        self.secs = None
        self.procs_left = []
        self.fds_left = []
        self.why = []
        self.skipped = None    # prepare.sh's reason when it exited 77

    def fail(self, what, out=''):
        self.ok = False
        self.why.append((what, out))


def one_run(name, fdir, variant, tmp, fdcheck, burners):
    r = Run()
    images = os.path.join(fdir, 'images')
    pidfile = os.path.join(tmp, 'pid')
    outf, errf = os.path.join(tmp, 'out'), os.path.join(tmp, 'err')
    rc, out = sh('sh "$1"', os.path.join(fdir, 'prepare.sh'))
    if rc == 77:    # the machine lacks what the fixture needs (hugemem: huge pages)
        r.skipped = (out.strip().splitlines() or ['prepare.sh exited 77'])[-1]
        return r
    if rc:
        r.fail('%s/prepare.sh exited %d' % (fdir, rc), out)
        return r
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    argv = [CRSTEP, 'restore', '--batch', '--detach', '--pidfile', pidfile, '--protocol', variant, images]
    cmdline = ' '.join(argv)
    with open(outf, 'w') as o, open(errf, 'w') as e:
        t0 = time.monotonic()
        # its own session: a crstep that never returns is killed with all
        # it started
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=o, stderr=e, start_new_session=True)
        try:
            rc = p.wait(RESTORE_LIMIT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            rc = p.wait()
            r.fail('%s did not return within %d s (killed)' % (cmdline, RESTORE_LIMIT))
        t1 = time.monotonic()
    r.secs = t1 - t0
    crstep_out = open(outf).read() + open(errf).read()
    root = None
    try:
        root = int(open(pidfile).read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    if rc != 0:
        r.fail('%s exited %d' % (cmdline, rc), crstep_out)
    elif root is None:
        r.fail('%s exited 0 without a pid in --pidfile' % cmdline, crstep_out)
    # note the tree before anything can change it: the root, its reaper, every
    # descendant with its threads
    noted, reaper = [], None
    if root is not None and stat_of(root):
        ppid = stat_of(root)[0]
        if comm_of(ppid) == 'crstep-reaper':
            reaper = ppid
        for q in proc_tree(reaper or root):
            st = stat_of(q)
            if st:
                noted.append((q, st[1]))
    # fds: nothing of crstep's (its stdout/stderr here) in the tree or the
    # reaper; the reaper holds nothing but /dev/null
    mine = {outf, errf}
    for q, _ in noted:
        for fd, tgt in sorted(fd_targets(q).items()):
            if tgt in mine or tgt.startswith(tmp) or (q == reaper and tgt != '/dev/null'):
                r.fds_left.append('%s %d fd %d -> %s' % (comm_of(q), q, fd, tgt))
    if fdcheck and root is not None and r.ok:
        frc, fout = sh(fdcheck, root, images)
        if frc:
            r.fds_left.append('SOAK_FD_CHECK %d %s exited %d: %s' % (root, images, frc, fout.strip()))
    if r.ok:
        time.sleep(max(0.0, t1 + SETTLE - time.monotonic()))
        crc, cout = sh('sh "$1" "$2"', os.path.join(fdir, 'check.sh'), root)
        if crc:
            r.fail('%s/check.sh %d exited %d (after %s)' % (fdir, root, crc, cmdline), cout + crstep_out)
    if root is not None:
        sh('. "$1"; kill_tree "$2"', os.path.join(TOP, 'tests', 'lib-kill.sh'), root)
    left = alive(noted, time.monotonic() + 5)
    r.procs_left += ['%s %d' % (comm_of(q), q) for q, _ in left]
    # anything else below us (crstep itself, a helper it forked, a task that
    # escaped the tree) except the CPU burners
    extra = descendants(os.getpid(), set(burners))
    if extra:
        deadline = time.monotonic() + 5
        while extra and time.monotonic() < deadline:
            reap(extra)
            time.sleep(0.02)
            extra = descendants(os.getpid(), set(burners))
        r.procs_left += ['%s %d (below soak)' % (comm_of(q), q) for q in extra if q not in [x for x, _ in left]]
    if r.procs_left or r.fds_left:
        r.why.append(('left behind after %s' % cmdline,
                      '\n'.join(['process ' + x for x in r.procs_left] + ['fd ' + x for x in r.fds_left])))
        for q in extra:
            try:
                os.kill(q, signal.SIGKILL)
            except OSError:
                pass
    return r


def pct(xs, q):
    if not xs:
        return float('nan')
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def start_burners(n):
    return [subprocess.Popen(['sh', '-c', 'while :; do :; done'], stdin=subprocess.DEVNULL)
            for _ in range(n)]


def run_block(name, fdir, variants, n, phase, tmp, fdcheck, burners, say):
    """n runs of one fixture in a row, cycling through variants; the failures
    said as they come.  Returns (row, nr passed, nr failed)."""
    res, passed, failed, skipped = [], 0, 0, None
    for i in range(n):
        v = variants[i % len(variants)]
        r = one_run(name, fdir, v, tmp, fdcheck, burners)
        if r.skipped:
            skipped = r.skipped
            continue
        res.append(r)
        if r.ok and not r.procs_left and not r.fds_left:
            passed += 1
            continue
        failed += 1
        say('FAIL %s %s%s run %d of %d:' % (name, v, ' (load)' if phase else '', i + 1, n))
        for what, out in r.why:
            say('  ' + what)
            if failed > FULL_REPORTS:
                # the lines that say what went wrong: crstep's error, check.sh's FAIL
                lines = out.strip().splitlines() or ['']
                for line in [x for x in lines if re.search(r'crstep:|FAIL|^(fd|process) ', x)][:4] or lines[:1]:
                    say('    | ' + line)
                continue
            for line in out.rstrip().splitlines()[:40]:
                say('    | ' + line)
        sys.stdout.flush()
    secs = [r.secs for r in res if r.secs is not None]
    label = '%-8s %-12s %-4s' % (name, variants[0] if len(variants) == 1 else 'spread', phase or '-')
    row = '%s runs %4d  failures %3d  p50 %6.0f ms  p99 %6.0f ms  processes left %d  fds left %d' % (
        label, len(res), sum(1 for r in res if not r.ok), pct(secs, 0.5) * 1000, pct(secs, 0.99) * 1000,
        sum(len(r.procs_left) for r in res), sum(len(r.fds_left) for r in res))
    if skipped:
        row += '  skipped %d (%s)' % (n - len(res), skipped)
    return row, passed, failed


def parallel_blocks(fx, variants, n, phase, jobs, tmp, fdcheck, burners, say):
    """Up to jobs fixtures at a time, one process each and each a subreaper
    of its own (so what a run leaves behind is found by the worker that made
    it).  Their reports come back in fixture order."""
    running, done = {}, {}
    todo = list(enumerate(fx))
    while todo or running:
        while todo and len(running) < jobs:
            k, (name, fdir) = todo.pop(0)
            out = tempfile.mkdtemp(prefix='worker-%d.' % k, dir=tmp)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    f = open(os.path.join(out, 'log'), 'w')
                    os.dup2(f.fileno(), 1)
                    sys.stdout = f
                    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
                    row, p, q = run_block(name, fdir, variants, n, phase, out, fdcheck, burners, say)
                    with open(os.path.join(out, 'result'), 'w') as r:
                        r.write('%d %d %s' % (p, q, row))
                    code = 0
                finally:
                    sys.stdout.flush()
                    os._exit(code)
            running[pid] = (k, name, out)
        pid, _ = os.wait()
        if pid in running:	# else an orphan of a worker that died
            k, name, out = running.pop(pid)
            done[k] = (name, out)
    results = []
    for k in sorted(done):
        name, out = done[k]
        sys.stdout.write(open(os.path.join(out, 'log')).read())
        try:
            p, q, row = open(os.path.join(out, 'result')).read().split(' ', 2)
            results.append((row, int(p), int(q)))
        except (OSError, ValueError):
            results.append(('%-8s worker died' % name, 0, 1))
    return results


def main():
    args = sys.argv[1:]
    tap = spread = False
    jobs = int(os.environ.get('SOAK_JOBS', 1))
    runs = int(os.environ.get('SOAK_RUNS', 200))
    load_runs = int(os.environ.get('SOAK_LOAD_RUNS', 50))
    names, variants = [], []
    while args:
        a = args.pop(0)
        if a == '--tap':
            tap = True
        elif a == '--spread':
            spread = True
        elif a == '--jobs':
            jobs = int(args.pop(0))
        elif a == '--runs':
            runs = int(args.pop(0))
        elif a == '--load-runs':
            load_runs = int(args.pop(0))
        elif a == '--fixture':
            names.append(args.pop(0))
        elif a == '--protocol':
            variants.append(args.pop(0))
        else:
            print(__doc__, file=sys.stderr)
            return 4
    variants = variants or VARIANTS
    fx = fixtures(names)
    if not fx:
        print('soak: no fixture found under %s' % FIXTURES, file=sys.stderr)
        return 4
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0):
        print('soak: prctl(PR_SET_CHILD_SUBREAPER) failed', file=sys.stderr)
        return 2
    fdcheck = fd_check_cmd()
    say = (lambda s: print('# ' + s)) if tap else print
    say('soak: %s, %d fixture(s): %s; protocols %s; %s%s; fd check against the images: %s' % (
        CRSTEP, len(fx), ' '.join(n for n, _ in fx), ' '.join(variants),
        '%d runs per fixture spread over the protocols' % runs if spread else
        '%d runs in a row per fixture and protocol, then %d with 2 CPU burners' % (runs, load_runs),
        ', %d fixtures at a time' % jobs if jobs > 1 else '', fdcheck or 'none (set SOAK_FD_CHECK)'))
    # (phase, variants cycled through, runs in a row): a block is one
    # fixture's runs
    if spread:
        plan = [('', variants, runs)]
    else:
        plan = [('', [v], runs) for v in variants] + [('load', [v], load_runs) for v in variants]
    tmp = tempfile.mkdtemp(prefix='crstep-soak.')
    passed = failed = n_test = 0
    rows = []
    t_start = time.monotonic()

    def report(row, p, q):
        nonlocal passed, failed, n_test
        passed += p
        failed += q
        rows.append(row)
        if tap:
            n_test += 1
            print('%s %d - soak %s' % ('not ok' if q else 'ok', n_test, row))
        else:
            print('%s  (%s)' % (row, time.strftime('%H:%M:%S')))
        sys.stdout.flush()

    for phase, vs, n in plan:
        if n <= 0:
            continue
        burners = start_burners(2) if phase == 'load' else []
        pids = [b.pid for b in burners]
        try:
            if jobs > 1:
                for res in parallel_blocks(fx, vs, n, phase, jobs, tmp, fdcheck, pids, say):
                    report(*res)
            else:
                for name, fdir in fx:
                    report(*run_block(name, fdir, vs, n, phase, tmp, fdcheck, pids, say))
        finally:
            for b in burners:
                b.kill()
                b.wait()
    say('soak: %.0f s in all' % (time.monotonic() - t_start))
    if not tap:
        print('per fixture, protocol and phase (load: 2 CPU burners):')
        for row in rows:
            print('  ' + row)
        print('%d passed, %d failed' % (passed, failed))
    else:
        print('# %d runs passed, %d failed' % (passed, failed))
        print('1..%d' % n_test)
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
