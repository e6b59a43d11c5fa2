#!/usr/bin/env python3
"""chrome_trace.py FILE: check a Chrome trace event file as crstep writes it
(--trace-format chrome) against the format: a JSON object with traceEvents;
every event has ph, ts, pid and tid, ts and dur are numbers >= 0; the
complete ("X") slices of one track nest (none starts inside another and ends
after it).  Prints the tracks and exits 0, or prints what is wrong and
exits 1."""
import json
import sys

def main(path):
    try:
        doc = json.load(open(path))
    except (OSError, ValueError) as e:
        print('not JSON: %s' % e)
        return 1
    evs = doc.get('traceEvents') if isinstance(doc, dict) else None
    if not isinstance(evs, list) or not evs:
        print('no traceEvents list')
        return 1
    names, slices = {}, {}
    for i, e in enumerate(evs):
        for k in ('ph', 'ts', 'pid', 'tid'):
            if k not in e:
                print('event %d has no %s: %s' % (i, k, e))
                return 1
        if not isinstance(e['ts'], (int, float)) or e['ts'] < 0:
            print('event %d: bad ts %r' % (i, e['ts']))
            return 1
        if e['ph'] == 'M' and e['name'] == 'thread_name':
            names[e['tid']] = e['args']['name']
        elif e['ph'] == 'X':
            if not isinstance(e.get('dur'), (int, float)) or e['dur'] < 0:
                print('event %d: bad dur %r' % (i, e.get('dur')))
                return 1
            slices.setdefault(e['tid'], []).append((e['ts'], e['ts'] + e['dur'], e['name']))
        elif e['ph'] not in ('M', 'i', 'I', 'B', 'E'):
            print('event %d: unexpected ph %r' % (i, e['ph']))
            return 1
    eps = 0.001
    for tid, ss in slices.items():
        ss.sort(key=lambda s: (s[0], -s[1]))
        stack = []
        for a, b, n in ss:
            while stack and stack[-1][1] <= a + eps:
                stack.pop()
            if stack and b > stack[-1][1] + eps:
                print('track %s: slice %s [%.3f, %.3f] overlaps %s [%.3f, %.3f]' % (tid, n, a, b, stack[-1][2], stack[-1][0], stack[-1][1]))
                return 1
            stack.append((a, b, n))
    for tid in sorted(names):
        print('%s: %s: %s' % (tid, names[tid], ' '.join(n for _, _, n in sorted(slices.get(tid, [])))))
    return 0

if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
