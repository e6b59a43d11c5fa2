#!/usr/bin/env python3
"""seeds.py OUTDIR: write the seed corpora of the fuzz targets (tests/fuzz/)
into OUTDIR/TARGET/, from every fixture image directory and every stepper
script and test line:

  image, show   one input per image file of tests/fixtures/criu-4.2/*/images
                (pages-*.img excepted: raw, nothing to parse): a type byte,
                the index of the file's type in images/image.c's img_descs[]
                (read from that file, so the two never disagree), then the file
  check         one input per fixture directory, in fuzz_check.c's format
  stepper       each script of tests/stepper, each -ex group of the
                integration tests, each command line of the tests, the
                generated protocol scripts and the README's examples
"""
import glob
import hashlib
import os
import re
import shlex
import struct
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(TOP, "tests", "fixtures", "criu-4.2")


def put(outdir, target, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def image_prefixes():
    src = open(os.path.join(TOP, "images", "image.c")).read()
    return re.findall(r'^\s*D\("[A-Z_]+", "([^"]*)"', src, re.M)


def image_type(prefixes, name):
    for i, p in enumerate(prefixes):
        if name.startswith(p):
            return i
    return None


def fixture_dirs():
    return sorted(d for d in glob.glob(os.path.join(FIXTURES, "*", "images")) if os.path.isdir(d))


def image_seeds(outdir):
    prefixes = image_prefixes()
    for d in fixture_dirs():
        for name in sorted(os.listdir(d)):
            sel = image_type(prefixes, name)
            if sel is None or name.startswith("pages-"):
                continue
            data = open(os.path.join(d, name), "rb").read()
            for target in ("image", "show"):
                put(outdir, target, bytes([sel]) + data)


def check_seeds(outdir):
    for d in fixture_dirs():
        out = b""
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            n = name.encode()
            if name.startswith("pages-"):
                out += bytes([len(n)]) + n + struct.pack("<I", os.path.getsize(path))
                continue
            data = open(path, "rb").read()
            out += bytes([len(n)]) + n + struct.pack("<I", len(data)) + data
        put(outdir, "check", out)


def script_lines(text):
    """A script's commands, as load_script() keeps them."""
    lines = []
    for line in text.splitlines():
        line = line.strip(" \t\r")
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def ex_groups(text):
    """The -ex arguments of each command line of a shell test."""
    groups = []
    for line in text.replace("\\\n", " ").splitlines():
        if "-ex" not in line:
            continue
        try:
            words = shlex.split(line, comments=False)
        except ValueError:
            continue
        group = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-ex"]
        if group and not any("$" in g for g in group):
            groups.append(group)
    return groups


def stepper_seeds(outdir):
    scripts = []
    for path in sorted(glob.glob(os.path.join(TOP, "tests", "stepper", "*.x"))):
        scripts.append(script_lines(open(path).read()))
    session = os.path.join(TOP, "tests", "stepper", "session.criu4.txt")
    if os.path.exists(session):
        scripts.append([l.replace("\\t", "\t") for l in open(session).read().splitlines()])
    for fx in ("counter", "tree"):
        for variant in ("legacy", "seed", "criu4", "pre-restorer"):
            r = subprocess.run(["sh", os.path.join(TOP, "tests", "stepper", "protocol-script.sh"), fx, variant],
                               capture_output=True, text=True)
            if r.returncode == 0:
                scripts.append(script_lines(r.stdout))
    for path in sorted(glob.glob(os.path.join(TOP, "tests", "integration", "*.sh")) +
                       [os.path.join(TOP, "tests", "bench.sh"), os.path.join(TOP, "README.md")]):
        scripts.extend(ex_groups(open(path).read()))
    readme = open(os.path.join(TOP, "README.md")).read()
    scripts.append([l[len("(crstep) "):] for l in readme.splitlines() if l.startswith("(crstep) ")])
    scripts.append([l[len(" : "):] for l in readme.splitlines() if l.startswith(" : ")])
    lines = set()
    for s in scripts:
        if s:
            put(outdir, "stepper", "\n".join(s).encode())
            lines.update(s)
    for line in sorted(lines):
        put(outdir, "stepper", line.encode())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: seeds.py OUTDIR")
    outdir = sys.argv[1]
    image_seeds(outdir)
    check_seeds(outdir)
    stepper_seeds(outdir)


main()
