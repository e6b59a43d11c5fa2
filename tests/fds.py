#!/usr/bin/env python3
"""tests/fds.py CRSTEP ROOT_PID IMAGES [MOVING]: a restored tree holds
exactly the fds its images say, and nothing of crstep's.

ROOT_PID is the restored root as the caller sees it (crstep --pidfile).
Every live task of the tree (found from ROOT_PID through /proc children,
matched to its image by the last pid of NSpid) is compared with
ids-PID.img -> fdinfo-FILES_ID.img -> files.img (read with `crstep show`):

  fd set     /proc/PID/fd is the image's fds, no more, no less (an extra fd
             is printed with what it points to: crstep's stdout, a log...)
  file       each fd is the dumped file: a regular file, directory or FIFO
             by its path; a pipe is pipe:[ino], and fds of one pipe id share
             one inode (and different pipe ids do not); a memfd is
             /memfd:NAME; a unix or inet socket is socket:[ino]; an eventfd,
             signalfd, timerfd, epoll, pidfd, inotify or fanotify its
             anon_inode:[kind]
  flags      /proc/PID/fdinfo flags == the file's dumped flags, plus
             O_CLOEXEC exactly when the fdinfo entry has FD_CLOEXEC
  sharing    a files.img id is one open file description: fds of one id,
             in one task or in several, are one file (kcmp KCMP_FILE), fds
             of different ids are not; tasks whose ids-PID.img name the same
             files_id share one fd table (KCMP_FILES), others do not
  pos        /proc/PID/fdinfo pos == the dumped pos.  The workload runs
             after the restore, so MOVING names the fds it moves, by fd
             number in every task ("4+ 5*"): FD+ is a file the workload only
             reads or writes forward (pos >= dumped), FD* one it also seeks
             back (pos unchecked).  Where nothing has run yet (a stop before
             COMPLETE) MOVING is empty and every pos is exact.  FD? is an
             fd the workload opens and closes again after the restore: it
             may be there besides the image's fds.

The reaper (the root's parent named crstep-reaper, pid 1 of the tree's pid
namespace) may hold only /dev/null on 0, 1 and 2: nothing of crstep's.
Zombies hold no fds and are skipped.  Prints one line per problem and a
summary last; exits 0 when all holds."""
import ctypes
import functools
import json
import os
import subprocess
import sys

# The names `crstep show` (and crit) gives the open flags.
OFLAGS = {
    "O_WRONLY": 0o1, "O_RDWR": 0o2, "O_CREAT": 0o100, "O_EXCL": 0o200,
    "O_NOCTTY": 0o400, "O_TRUNC": 0o1000, "O_APPEND": 0o2000,
    "O_NONBLOCK": 0o4000, "O_DSYNC": 0o10000, "FASYNC": 0o20000,
    "O_DIRECT": 0o40000, "O_LARGEFILE": 0o100000, "O_DIRECTORY": 0o200000,
    "O_NOFOLLOW": 0o400000, "O_NOATIME": 0o1000000, "O_CLOEXEC": 0o2000000,
}
O_CLOEXEC = 0o2000000
# open() drops these for good (CRIU restores without them, and so must we).
OPEN_ONLY = 0o100 | 0o200 | 0o1000 | 0o400


def oflags(v):
    if isinstance(v, int):
        return v
    n = 0
    for part in (p.strip() for p in str(v).split("|")):
        if not part:
            continue
        if part in OFLAGS:
            n |= OFLAGS[part]
        else:
            n |= int(part, 0)
    return n


class Images:
    def __init__(self, crstep, d):
        self.crstep, self.dir, self.cache = crstep, d, {}

    def show(self, name):
        if name not in self.cache:
            path = os.path.join(self.dir, name)
            if not os.path.exists(path):
                self.cache[name] = []
            else:
                out = subprocess.run([self.crstep, "show", path], check=True,
                                     capture_output=True, text=True).stdout
                self.cache[name] = json.loads(out)["entries"]
        return self.cache[name]

    def files(self):
        return {e["id"]: e for e in self.show("files.img")}


def nspid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return pid


def state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def tree(root):
    todo, seen = [root], []
    while todo:
        p = todo.pop(0)
        seen.append(p)
        todo.extend(children(p))
    return seen


def fdinfo(pid, fd):
    d = {}
    with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
        for line in f:
            k, _, v = line.partition(":")
            d[k.strip()] = v.strip()
    return int(d["pos"]), int(d["flags"], 8)


def expected_file(fe):
    """(kind, flags, pos, name or pipe id) of a files.img entry."""
    t = fe.get("type")
    if t == "REG":
        r = fe["reg"]
        return "reg", oflags(r.get("flags", 0)) & ~OPEN_ONLY, int(r.get("pos", 0)), r["name"]
    if t == "PIPE":
        p = fe["pipe"]
        return "pipe", oflags(p.get("flags", 0)), 0, p["pipe_id"]
    if t == "MEMFD":
        m = fe["memfd"]
        return "memfd", oflags(m.get("flags", 0)) & ~OPEN_ONLY, int(m.get("pos", 0)), m.get("inode_id")
    if t == "UNIXSK":
        u = fe["usk"]
        return "unixsk", oflags(u.get("flags", 0)), 0, u["ino"]
    if t == "INETSK":
        return "socket", oflags(fe["isk"].get("flags", 0)), 0, fe["isk"]["ino"]
    if t in ANON_KINDS:
        part, link = ANON_KINDS[t]
        flags = oflags(fe[part].get("flags", 0))
        if t == "PIDFD":
            flags |= 0o2	# criu dumps a pidfd's flags without its O_RDWR
        return "anon", flags, 0, link
    return t, None, None, None


# The fd kinds of fdkinds.proto: files.img part and /proc/PID/fd link.
ANON_KINDS = {
    "EVENTFD": ("efd", "anon_inode:[eventfd]"), "SIGNALFD": ("sgfd", "anon_inode:[signalfd]"),
    "TIMERFD": ("tfd", "anon_inode:[timerfd]"), "EVENTPOLL": ("epfd", "anon_inode:[eventpoll]"),
    "PIDFD": ("pidfd", "anon_inode:[pidfd]"), "INOTIFY": ("ify", "anon_inode:inotify"),
    "FANOTIFY": ("ffy", "anon_inode:[fanotify]"),
}


def expected_fifo(fe, files):
    """A FIFO is its path's REG entry (regf_id), at pos 0; a tty its path
    with the tty entry's flags."""
    part = fe["fifo"] if fe["type"] == "FIFO" else fe["tty"]
    reg = files.get(part.get("regf_id", fe["id"]), {}).get("reg")
    if reg is None:
        return fe["type"], None, None, None
    flags = part["flags"] if fe["type"] == "TTY" else reg.get("flags", 0)
    return "reg", oflags(flags) & ~OPEN_ONLY, 0, reg["name"]


SYS_KCMP, KCMP_FILE, KCMP_FILES = 312, 0, 2
_libc = ctypes.CDLL(None, use_errno=True)


def kcmp(pid1, pid2, kind, a=0, b=0):
    """0 same object, 1 or 2 an order between two different ones."""
    r = _libc.syscall(SYS_KCMP, pid1, pid2, kind, ctypes.c_ulong(a), ctypes.c_ulong(b))
    if r < 0:
        raise OSError(ctypes.get_errno(), "kcmp(%d, %d, %d, %d, %d)" % (pid1, pid2, kind, a, b))
    return r


def check_sharing(fds, tables, problems):
    """fds: (id, host, fd, where) of every fd checked; tables: (files_id,
    host, pid) of every task checked."""
    first = {}
    for fid, host, fd, where in fds:
        if fid not in first:
            first[fid] = (host, fd, where)
            continue
        h0, fd0, w0 = first[fid]
        try:
            if kcmp(h0, host, KCMP_FILE, fd0, fd):
                problems.append("%s: file id %d is another open file description than in %s" % (where, fid, w0))
        except OSError as err:
            problems.append("%s: %s" % (where, err))
    # One description per id: sorted in kcmp's order, no two ids are equal.
    reps = sorted(first.items())

    def order(a, b):
        r = kcmp(a[1][0], b[1][0], KCMP_FILE, a[1][1], b[1][1])
        return 0 if r == 0 else (-1 if r == 1 else 1)
    try:
        reps.sort(key=functools.cmp_to_key(order))
        for a, b in zip(reps, reps[1:]):
            if order(a, b) == 0:
                problems.append("%s: file ids %d and %d are one open file description (%s)" % (
                    a[1][2], a[0], b[0], b[1][2]))
    except OSError as err:
        problems.append("comparing open file descriptions: %s" % err)
    for i, (fid_a, ha, pa) in enumerate(tables):
        for fid_b, hb, pb in tables[i + 1:]:
            try:
                same = kcmp(ha, hb, KCMP_FILES) == 0
            except OSError as err:
                problems.append("tasks %d and %d: %s" % (pa, pb, err))
                continue
            if same != (fid_a == fid_b):
                problems.append("tasks %d and %d: %s one fd table, their images say files_id %d and %d" % (
                    pa, pb, "share" if same else "do not share", fid_a, fid_b))


def parse_moving(spec):
    moving = {}
    for w in spec.split():
        moving[int(w[:-1])] = w[-1]
    return moving


def check_task(img, files, host, pid, moving, pipes, problems, fds, tables):
    ids = img.show("ids-%d.img" % pid)
    if not ids:
        problems.append("task %d (pid %d here): no ids-%d.img" % (pid, host, pid))
        return 0
    tables.append((ids[0]["files_id"], host, pid))
    want = {e["fd"]: e for e in img.show("fdinfo-%d.img" % ids[0]["files_id"])}
    have = {}
    for name in os.listdir("/proc/%d/fd" % host):
        try:
            have[int(name)] = os.readlink("/proc/%d/fd/%s" % (host, name))
        except OSError:
            pass
    for fd in sorted(set(have) - set(want)):
        if moving.get(fd) == "?":
            continue
        problems.append("task %d (pid %d here): extra fd %d -> %s" % (pid, host, fd, have[fd]))
    for fd in sorted(set(want) - set(have)):
        problems.append("task %d (pid %d here): fd %d of the image is missing" % (pid, host, fd))
    for fd in sorted(set(want) & set(have)):
        e = want[fd]
        fe = files.get(e["id"])
        where = "task %d (pid %d here) fd %d" % (pid, host, fd)
        if fe is None:
            problems.append("%s: file id %d not in files.img" % (where, e["id"]))
            continue
        kind, flags, pos, ident = expected_fifo(fe, files) if fe.get("type") in ("FIFO", "TTY") else expected_file(fe)
        fds.append((e["id"], host, fd, where))
        if flags is None:
            problems.append("%s: file type %s not checked" % (where, kind))
            continue
        link = have[fd]
        if kind == "reg":
            if link != ident and link != ident + " (deleted)":
                problems.append("%s: is %s, the image says %s" % (where, link, ident))
        elif kind == "pipe":
            if not link.startswith("pipe:["):
                problems.append("%s: is %s, the image says pipe %d" % (where, link, ident))
            elif pipes.setdefault(ident, link) != link:
                problems.append("%s: pipe %d is %s here, %s in another fd" % (where, ident, link, pipes[ident]))
        elif kind == "unixsk" and not link.startswith("socket:["):
            problems.append("%s: is %s, the image says a unix socket" % (where, link))
        elif kind == "socket" and not link.startswith("socket:["):
            problems.append("%s: is %s, the image says a socket" % (where, link))
        elif kind == "memfd" and not link.startswith("/memfd:"):
            problems.append("%s: is %s, the image says a memfd" % (where, link))
        elif kind == "anon" and link != ident:
            problems.append("%s: is %s, the image says %s" % (where, link, ident))
        try:
            now_pos, now_flags = fdinfo(host, fd)
        except OSError as err:
            problems.append("%s: fdinfo: %s" % (where, err))
            continue
        want_flags = flags | (O_CLOEXEC if e.get("flags", 0) & 1 else 0)
        if now_flags != want_flags:
            problems.append("%s (%s): flags 0%o, the image says 0%o" % (where, link, now_flags, want_flags))
        how = moving.get(fd)
        if how == "*":
            continue
        if (how == "+" and now_pos < pos) or (how != "+" and now_pos != pos):
            problems.append("%s (%s): pos %d, the image says %d%s" % (
                where, link, now_pos, pos, " or more" if how == "+" else ""))
    return len(want)


def check_reaper(root, problems):
    try:
        with open("/proc/%d/stat" % root) as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return "the root is gone"
    try:
        with open("/proc/%d/comm" % ppid) as f:
            if f.read().strip() != "crstep-reaper":
                return "no reaper (--pidns host)"
    except OSError:
        return "no reaper"
    fds = {}
    for name in os.listdir("/proc/%d/fd" % ppid):
        try:
            fds[int(name)] = os.readlink("/proc/%d/fd/%s" % (ppid, name))
        except OSError:
            pass
    bad = {fd: l for fd, l in fds.items() if fd > 2 or l != "/dev/null"}
    for fd in sorted(bad):
        problems.append("reaper (pid %d here): holds fd %d -> %s" % (ppid, fd, bad[fd]))
    return "the reaper holds %s" % (" ".join("%d" % fd for fd in sorted(fds)) + " on /dev/null" if fds else "nothing")


def main():
    if len(sys.argv) < 4:
        print("usage: fds.py CRSTEP ROOT_PID IMAGES [MOVING]", file=sys.stderr)
        return 4
    crstep, root, images = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    moving = parse_moving(sys.argv[4] if len(sys.argv) > 4 else "")
    img = Images(crstep, images)
    files = img.files()
    image_pids = {e["pid"] for e in img.show("pstree.img")}
    problems, pipes, nr_tasks, nr_fds, fds, tables = [], {}, 0, 0, [], []
    try:
        hosts = tree(root)
    except OSError as err:
        print("root %d: %s" % (root, err))
        return 1
    seen = set()
    for host in hosts:
        try:
            if state(host) in "ZX":
                continue
            pid = nspid(host)
        except OSError:
            continue
        if pid not in image_pids:
            continue	# a child the workload made after the restore
        seen.add(pid)
        nr_tasks += 1
        try:
            nr_fds += check_task(img, files, host, pid, moving, pipes, problems, fds, tables)
        except OSError as err:
            problems.append("task %d (pid %d here): %s" % (pid, host, err))
    if not nr_tasks:
        problems.append("no live task of the images under pid %d" % root)
    check_sharing(fds, tables, problems)
    if len(set(pipes.values())) != len(pipes):
        problems.append("two pipe ids share one pipe here: %s" % pipes)
    reaper = check_reaper(root, problems)
    for p in problems:
        print(p)
    if problems:
        print("FAIL: %d problem(s) in %d task(s)" % (len(problems), nr_tasks))
        return 1
    print("%d task(s) hold exactly their %d dumped fd(s) (flags, pos, shared descriptions and tables%s); %s" % (
        nr_tasks, nr_fds, ", moving: " + " ".join("%d%s" % kv for kv in sorted(moving.items())) if moving else "",
        reaper))
    return 0


if __name__ == "__main__":
    sys.exit(main())
