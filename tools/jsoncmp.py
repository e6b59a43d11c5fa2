#!/usr/bin/env python3
"""jsoncmp.py GOT.json WANT.json: compare two crit-style JSON documents by value.

Equal means: the same keys, the same list lengths, and equal leaves, where
  - a hex string ("0x1f") equals a number of the same value, and two hex
    strings are equal when their values are;
  - flag strings ("PROT_READ | PROT_EXEC") are compared as sets of names;
  - everything else must be equal exactly (a bool never equals a number).
Prints the path of the first difference and exits 1; exits 0 when equal and
2 when a file cannot be read or parsed.
"""
import json
import re
import sys

HEX = re.compile(r'^-?0x[0-9a-fA-F]+$')
FLAG = re.compile(r'^(?:[A-Z_][A-Z0-9_]*|0x[0-9a-fA-F]+)$')


def as_int(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and HEX.match(v):
        return int(v, 16)
    return None


def flag_set(s):
    names = s.split(' | ') if s else []
    if all(FLAG.match(n) for n in names):
        return frozenset(names)
    return None


def leaf_equal(a, b):
    if type(a) is type(b) and a == b:
        return True
    ia, ib = as_int(a), as_int(b)
    if ia is not None and ib is not None:
        return ia == ib
    if isinstance(a, str) and isinstance(b, str):
        fa, fb = flag_set(a), flag_set(b)
        return fa is not None and fa == fb
    return False


def first_diff(a, b, path):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b:
                return '%s.%s: only in the first' % (path, k)
        for k in b:
            if k not in a:
                return '%s.%s: missing from the first' % (path, k)
        for k in a:
            d = first_diff(a[k], b[k], '%s.%s' % (path, k))
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, '%s[%d]' % (path, i))
            if d:
                return d
        if len(a) != len(b):
            return '%s: %d elements, want %d' % (path, len(a), len(b))
        return None
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return '%s: %s, want %s' % (path, type(a).__name__, type(b).__name__)
    if not leaf_equal(a, b):
        return '%s: %r, want %r' % (path, a, b)
    return None


def main(argv):
    if len(argv) != 3:
        sys.stderr.write('usage: jsoncmp.py GOT.json WANT.json\n')
        return 2
    docs = []
    for name in argv[1:]:
        try:
            with open(name) as f:
                docs.append(json.load(f))
        except (OSError, ValueError) as e:
            sys.stderr.write('jsoncmp: %s: %s\n' % (name, e))
            return 2
    d = first_diff(docs[0], docs[1], '')
    if d:
        print(d)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
