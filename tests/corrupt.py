#!/usr/bin/env python3
"""corrupt.py: rewrite one CRIU image in place to make a test case.

Needs no protobuf module: it parses the wire format (varints and
length-delimited fields) of the one message it changes and re-frames the
file ([magic words][u32 len][msg]...).  Never point it at a fixture: copy
the images directory first.

  corrupt.py vma-overlap MM_IMG N     vma N ends one page into vma N+1
  corrupt.py vma-swap MM_IMG N        swap vmas N and N+1 (unsorted)
  corrupt.py fd-file FDINFO_IMG N ID  fdinfo entry N refers to file id ID
  corrupt.py cut FILE BYTES           keep the first BYTES bytes (negative:
                                      drop that many from the end)
  corrupt.py secbits CORE_IMG VALUE   the thread's creds say securebits VALUE
  corrupt.py field IMG N F.G.H VALUE  in entry N, the varint field H of the
                                      (first) message G inside the message
                                      F ... is VALUE
  corrupt.py ghost-mode GHOST_IMG MODE  the ghost file's mode is MODE (the
                                      contents after its entry are kept)
  corrupt.py remap-type REMAP_IMG N T remap-fpath entry N has remap_type T
  corrupt.py seccomp-filter CORE_IMG N  the thread's seccomp chain starts at
                                      filter N of seccomp.img
  corrupt.py timer-thread CORE_IMG TID  the task's SIGEV_THREAD_ID POSIX
                                      timers signal thread TID
"""
import struct
import sys


def varint(buf, off):
    shift = val = 0
    while True:
        b = buf[off]
        off += 1
        val |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return val, off


def enc_varint(val):
    out = bytearray()
    while True:
        b = val & 0x7F
        val >>= 7
        if val:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def parse(msg):
    """[(field, wiretype, value)]: value an int (varint) or bytes."""
    fields, off = [], 0
    while off < len(msg):
        key, off = varint(msg, off)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, off = varint(msg, off)
        elif wt == 1:
            val, off = msg[off:off + 8], off + 8
        elif wt == 2:
            n, off = varint(msg, off)
            val, off = msg[off:off + n], off + n
        elif wt == 5:
            val, off = msg[off:off + 4], off + 4
        else:
            raise ValueError("wire type %d" % wt)
        fields.append([num, wt, val])
    return fields


def build(fields):
    out = bytearray()
    for num, wt, val in fields:
        out += enc_varint(num << 3 | wt)
        if wt == 0:
            out += enc_varint(val)
        elif wt == 2:
            out += enc_varint(len(val)) + val
        else:
            out += val
    return bytes(out)


def read_image(path):
    data = open(path, "rb").read()
    magic = 4 if path.endswith("inventory.img") else 8
    entries, off = [], magic
    while off < len(data):
        (n,) = struct.unpack_from("<I", data, off)
        entries.append(data[off + 4:off + 4 + n])
        off += 4 + n
    return data[:magic], entries


def write_image(path, magic, entries):
    with open(path, "wb") as f:
        f.write(magic)
        for e in entries:
            f.write(struct.pack("<I", len(e)) + e)


def get(fields, num):
    return next(f for f in fields if f[0] == num)


def vmas_of(mm):
    return [f for f in mm if f[0] == 14]


def main(argv):
    op, path = argv[1], argv[2]
    if op == "cut":
        data = open(path, "rb").read()
        n = int(argv[3])
        open(path, "wb").write(data[:n] if n >= 0 else data[:len(data) + n])
        return 0
    if op == "ghost-mode":
        # Only entry 0 is framed as the others: raw contents or chunks follow.
        data = open(path, "rb").read()
        (n,) = struct.unpack_from("<I", data, 8)
        gfe = parse(data[12:12 + n])
        get(gfe, 3)[2] = int(argv[3], 0)
        msg = build(gfe)
        open(path, "wb").write(data[:8] + struct.pack("<I", len(msg)) + msg + data[12 + n:])
        return 0
    magic, entries = read_image(path)
    if op in ("vma-overlap", "vma-swap"):
        n = int(argv[3])
        mm = parse(entries[0])
        vmas = vmas_of(mm)
        if op == "vma-overlap":
            this, nxt = parse(vmas[n][2]), parse(vmas[n + 1][2])
            get(this, 2)[2] = get(nxt, 1)[2] + 4096       # end = next start + 1 page
            vmas[n][2] = build(this)
        else:
            vmas[n][2], vmas[n + 1][2] = vmas[n + 1][2], vmas[n][2]
        entries[0] = build(mm)
    elif op == "fd-file":
        n, fid = int(argv[3]), int(argv[4])
        fe = parse(entries[n])
        get(fe, 1)[2] = fid
        entries[n] = build(fe)
    elif op == "secbits":
        # core_entry.thread_core (5) -> thread_core_entry.creds (10) ->
        # creds_entry.secbits (13)
        core = parse(entries[0])
        tc = parse(get(core, 5)[2])
        creds = parse(get(tc, 10)[2])
        get(creds, 13)[2] = int(argv[3], 0)
        get(tc, 10)[2] = build(creds)
        get(core, 5)[2] = build(tc)
        entries[0] = build(core)
    elif op == "field":
        n, nums, value = int(argv[3]), [int(x) for x in argv[4].split(".")], int(argv[5], 0)

        def set_in(msg, nums):
            fields = parse(msg)
            f = get(fields, nums[0])
            f[2] = value if len(nums) == 1 else set_in(f[2], nums[1:])
            return build(fields)
        entries[n] = set_in(entries[n], nums)
    elif op == "seccomp-filter":
        # core_entry.thread_core (5) -> thread_core_entry.seccomp_filter (12)
        core = parse(entries[0])
        tc = parse(get(core, 5)[2])
        get(tc, 12)[2] = int(argv[3])
        get(core, 5)[2] = build(tc)
        entries[0] = build(core)
    elif op == "timer-thread":
        # core_entry.tc (3) -> task_core_entry.timers (7) -> posix (4):
        # notify_thread_id (11) where it_sigev_notify (4) is SIGEV_THREAD_ID
        core = parse(entries[0])
        tc = parse(get(core, 3)[2])
        timers = parse(get(tc, 7)[2])
        for f in timers:
            if f[0] == 4:
                pt = parse(f[2])
                if get(pt, 4)[2] == 4:
                    get(pt, 11)[2] = int(argv[3]) & 0xffffffffffffffff
                    f[2] = build(pt)
        get(tc, 7)[2] = build(timers)
        get(core, 3)[2] = build(tc)
        entries[0] = build(core)
    elif op == "remap-type":
        n = int(argv[3])
        rpe = [f for f in parse(entries[n]) if f[0] != 3] + [[3, 0, int(argv[4])]]
        entries[n] = build(rpe)
    else:
        sys.stderr.write(__doc__)
        return 4
    write_image(path, magic, entries)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
