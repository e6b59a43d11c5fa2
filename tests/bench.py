#!/usr/bin/env python3
"""tests/bench.py (`make bench`, after bench.sh): figures, not a test.

Wall time of a whole restore command, per workload: `crstep restore IMAGES
--batch --detach` and, when CRIU=/path/to/criu is set, upstream `criu restore
-D IMAGES -d` of the very same images, the two alternating run by run; the
median and the minimum of BENCH_RUNS runs (default 11) of each, and the
ratio of the medians.  Workloads (BENCH_WORKLOADS, default all):
  counter     the counter fixture (1 process)
  tree10      10 processes in 3 levels
  mem68       2 processes, 68 MiB private (copy-on-write shared) + a shared page
  big512      1 process, 512 MiB private anonymous, incompressible
  fanout101   a root and 100 children
  fanout1000  a root and 999 children
Each is tests/benchwl.c started here and dumped once, by CRIU when it is
given (so both restore CRIU's images), else by `crstep dump`.  This process
is a child subreaper: every restored tree comes back to it, is killed and
reaped before the next run, so the pids are free again for criu."""
import ctypes
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRSTEP = os.path.join(TOP, 'crstep')
CRIU = os.environ.get('CRIU') or None
RUNS = int(os.environ.get('BENCH_RUNS', '11'))
ALL = ['counter', 'tree10', 'mem68', 'big512', 'fanout101', 'fanout1000']
WORKLOADS = os.environ.get('BENCH_WORKLOADS', ' '.join(ALL)).split()
ARGS = {'tree10': ('tree', '0'), 'mem68': ('mem', '68'), 'big512': ('big', '512'),
        'fanout101': ('fanout', '101'), 'fanout1000': ('fanout', '1000')}
PR_SET_CHILD_SUBREAPER = 36


def descendants():
    """Every process below this one, parents first."""
    out, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop(0)
        try:
            tids = os.listdir('/proc/%d/task' % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open('/proc/%d/task/%s/children' % (pid, tid)) as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def kill_all():
    """Kill what a restore left (the tree, criu's or crstep's pid-namespace
    reaper with it) and reap it all: the pids must be free for the next."""
    for pid in descendants():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def make_images(name, tmp):
    """The images of a workload and what to run before each restore."""
    if name == 'counter':
        fx = subprocess.run(['sh', os.path.join(TOP, 'tests/fixture-images.sh'), 'counter',
                             os.path.join(tmp, 'counter')], capture_output=True, text=True, check=True)
        fx = fx.stdout.strip()
        # A copy: criu writes its stats into the images directory.
        images = os.path.join(tmp, 'counter-images')
        shutil.copytree(os.path.join(fx, 'images'), images)
        return images, ['sh', os.path.join(fx, 'prepare.sh')]
    d = os.path.join(tmp, name)
    os.makedirs(d)
    exe = os.path.join(d, 'benchwl')
    subprocess.run(['cc', '-O2', '-static', '-o', exe, os.path.join(TOP, 'tests/benchwl.c')], check=True)
    r, w = os.pipe()

    def child_setup():
        os.dup2(w, 3)	# kept (pass_fds); every other fd is closed after this
        os.setsid()

    wl = subprocess.Popen([exe] + list(ARGS[name]), cwd=d, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={},
                          pass_fds=(3,), preexec_fn=child_setup)
    os.close(w)
    ready = os.read(r, 16)
    os.close(r)
    if ready != b'ready\n':
        sys.exit('bench: the %s workload did not start' % name)
    images = os.path.join(d, 'images')
    os.makedirs(images)
    cmd = ([CRIU, 'dump', '-t', str(wl.pid), '-D', images, '-o', 'dump.log'] if CRIU else
           [CRSTEP, 'dump', '-t', str(wl.pid), '-D', images])
    dump = subprocess.run(cmd, capture_output=True, text=True)
    wl.wait()
    kill_all()
    if dump.returncode:
        sys.exit('bench: dump of %s failed: %s' % (name, dump.stderr.strip()[-300:]))
    return images, None


def timed(cmd):
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t = time.monotonic() - t0
    kill_all()
    return t, r


def bench(name, tmp):
    images, prepare = make_images(name, tmp)
    pidfile = os.path.join(tmp, 'pid')
    runners = [('crstep', [CRSTEP, 'restore', images, '--batch', '--detach', '--watchdog', '60',
                           '--pidfile', pidfile])]
    if CRIU:
        runners.append(('criu', [CRIU, 'restore', '-D', images, '-d', '--pidfile', pidfile,
                                 '-o', 'restore.log']))
    times = {who: [] for who, _ in runners}
    for i in range(RUNS):
        for who, cmd in (runners if i % 2 == 0 else runners[::-1]):
            if prepare:
                subprocess.run(prepare, stdout=subprocess.DEVNULL, check=True)
            if os.path.exists(pidfile):
                os.unlink(pidfile)	# criu refuses to write over one
            t, r = timed(cmd)
            if r.returncode:
                err = r.stderr.strip()
                log = os.path.join(images, 'restore.log')
                if who == 'criu' and os.path.exists(log):
                    err = '\n'.join(line for line in open(log) if 'Error' in line)
                sys.exit('bench: %s restore of %s failed (exit %d): %s' % (who, name, r.returncode, err[-500:]))
            times[who].append(t * 1000)
    return times


def main():
    if os.geteuid():
        sys.exit('bench: run as root')
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0):
        sys.exit('bench: prctl(PR_SET_CHILD_SUBREAPER) failed')
    model = next((line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo')
                  if line.startswith('model name')), '?')
    print('restore wall time, %d runs each%s; %s, %d CPUs (%s), load %.2f' %
          (RUNS, ', alternating with %s' % CRIU if CRIU else ' (CRIU= not set: crstep only)',
           platform.release(), os.cpu_count(), model, os.getloadavg()[0]))
    print('  %-11s %14s %10s %14s %10s %7s' % ('workload', 'crstep median', 'min', 'criu median', 'min',
                                              'ratio'))
    tmp = tempfile.mkdtemp(prefix='crstep-bench.')
    try:
        for name in WORKLOADS:
            if name not in ALL:
                sys.exit('bench: no workload %s (%s)' % (name, ' '.join(ALL)))
            t = bench(name, tmp)
            c = statistics.median(t['crstep'])
            line = '  %-11s %11.1f ms %7.1f ms' % (name, c, min(t['crstep']))
            if CRIU:
                k = statistics.median(t['criu'])
                line += ' %11.1f ms %7.1f ms %7.2f' % (k, min(t['criu']), c / k)
            print(line, flush=True)
    finally:
        kill_all()
        shutil.rmtree(tmp, ignore_errors=True)
    print('load at the end %.2f' % os.getloadavg()[0])


if __name__ == '__main__':
    main()
