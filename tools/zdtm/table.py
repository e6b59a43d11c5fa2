#!/usr/bin/python3
# table.py OUT [RERUN]: the table of a `make zdtm` run from zdtm's TAP
# reports OUT/criu/criu-testreport.tap and OUT/crstep/criu-testreport.tap
# (either may be missing; RERUN/crstep/criu-testreport.tap, a later run of some
# tests with crstep only, replaces their crstep results, marked with *): per test the result with each restorer and, when crstep's
# failed, one line saying why (the first crstep error of the restore, else the
# step zdtm failed at and the test's own FAIL line), then `N passed, N failed`
# per restorer and crstep's failure reasons grouped by count.
import collections
import os
import re
import sys

import yaml


def parse_tap(path):
    """{test: (PASS|FAIL|SKIP, output or skip reason)}"""
    res = {}
    if not os.path.exists(path):
        return None
    with open(path, errors='replace') as f:
        lines = f.read().split('\n')
    i = 0
    while i < len(lines):
        m = re.match(r'(not ok|ok) \d+ - (\S+)(?: # (.*))?$', lines[i])
        i += 1
        if not m:
            continue
        ok, name, note = m.groups()
        name = name.replace('zdtm/static/', '')
        if ok == 'ok':
            if note and note.startswith('SKIP'):
                res[name] = ('SKIP', note[4:].strip())
            else:
                res[name] = ('PASS', '')
            continue
        out = ''
        if i < len(lines) and lines[i].startswith('---'):
            j = i
            while j < len(lines) and lines[j] != '...':
                j += 1
            try:
                out = (yaml.safe_load('\n'.join(lines[i:j + 1])) or {}).get('output', '')
            except yaml.YAMLError:
                out = '\n'.join(lines[i:j])
            i = j + 1
        res[name] = ('FAIL', out)
    return res


def reason(out):
    """One line: why a test failed, from zdtm's output for it."""
    r = reason_raw(out)
    # zdtm prints log lines as Python bytes (b'...'); image paths relative
    # to zdtm's dump dir name the test, which the table already says.
    r = r.rstrip('\'"')
    return re.sub(r'dump/zdtm/static/[^/]+/\d+/\d+/', '', r)


def reason_raw(out):
    m = re.search(r'Error \(criu-crstep\): (?:crstep restore exited with \d+: )?(.*)', out)
    if m and m.group(1).strip():
        return m.group(1).strip()
    m = re.search(r'Error \(criu-crstep\): (.*)', out)
    if m:
        return m.group(1).strip()
    m = re.search(r'FAIL at (.+?) #*\s*$', out, re.M)
    step = m.group(1).strip() if m else 'unknown (see the log)'
    if step == 'result check':
        fails = re.findall(r'^.*\bFAIL:(.*)$', out, re.M)
        if fails:
            return 'result check: ' + fails[0].strip()
        return 'result check: no PASS from the test'
    return step


def group(r):
    """A reason's kind, to count alike failures together."""
    m = re.match(r'fdinfo-\d+\.img: entry \d+: fd \d+ is an? (\S+): not restored yet', r)
    if m:
        return 'refused: an fd of kind %s' % m.group(1)
    if r.startswith('result check:'):
        return "restored, then the test's own check failed"
    m = re.match(r"crstep has no counterpart for criu's (--[\w-]+)", r)
    if m:
        return 'not tried: the test restores with criu %s' % m.group(1)
    g = re.sub(r'(?<=\s)/[^\s:]+', 'PATH', r)
    g = re.sub(r'0x[0-9a-f]+', '0x…', g)
    return re.sub(r'\b\d+\b', 'N', g)


def main():
    out = sys.argv[1]
    runs = {k: parse_tap(os.path.join(out, k, 'criu-testreport.tap')) for k in ('criu', 'crstep')}
    rerun = parse_tap(os.path.join(sys.argv[2], 'crstep', 'criu-testreport.tap')) if len(sys.argv) > 2 else None
    if rerun and runs['crstep'] is not None:
        st = [v[0] for v in runs['crstep'].values()]
        print('crstep before the rerun: %d passed, %d failed' % (st.count('PASS'), st.count('FAIL')))
        for n, v in rerun.items():
            runs['crstep'][n] = (v[0] + '*', v[1])
    names = sorted(set().union(*[set(r) for r in runs.values() if r]))
    rows = []
    for n in names:
        c = runs['criu'].get(n, ('-', ''))[0] if runs['criu'] else '-'
        s, o = runs['crstep'].get(n, ('-', '')) if runs['crstep'] else ('-', '')
        if c == 'SKIP' and s in ('SKIP', '-'):
            continue
        rows.append((n, c, s, reason(o) if s.startswith('FAIL') else ''))
    w = max([len(r[0]) for r in rows] + [4])
    print('| %-*s | criu | crstep | why crstep failed |' % (w, 'test'))
    print('|%s|------|--------|-------------------|' % ('-' * (w + 2)))
    for r in rows:
        print('| %-*s | %-4s | %-6s | %s |' % (w, r[0], r[1], r[2], r[3].replace('|', '\\|')))
    print()
    for k in ('criu', 'crstep'):
        if not runs[k]:
            continue
        st = [v[0].rstrip('*') for v in runs[k].values()]
        print('%s: %d passed, %d failed (%d skipped by zdtm)' %
              (k, st.count('PASS'), st.count('FAIL'), st.count('SKIP')))
    if runs['criu'] and runs['crstep']:
        both = [r for r in rows if r[1] == 'PASS']
        print('crstep passes %d of the %d tests criu passes' %
              (sum(1 for r in both if r[2].startswith('PASS')), len(both)))
    fails = collections.Counter(group(r[3]) for r in rows if r[2].startswith('FAIL'))
    if fails:
        print()
        print('crstep failures by reason:')
        for g, k in fails.most_common():
            print('%5d  %s' % (k, g))


main()
