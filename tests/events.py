#!/usr/bin/env python3
"""events.py PARTICIPANTS TRACE VARIANT: check the recorded barrier events of
a tree restore (crstep --trace JSON lines) against CRIU's protocol: the order
of the switches, who performed each, the count each set, and which
participants arrived at each stage before the switch out of it.
PARTICIPANTS is tests/participants.py's output: "PID ROLE" lines."""
import json
import sys

parts_file, trace, variant = sys.argv[1:4]
parts = [l.split() for l in open(parts_file) if l.strip()]
tasks = [int(p) for p, _ in parts]
root = tasks[0]
procs = [int(p) for p, r in parts if r != 'thread']
ev = [json.loads(l) for l in open(trace)]
sw = [e for e in ev if e['type'] == 'SWITCH']
arr = [e for e in ev if e['type'] == 'ARRIVE']
nt = len(procs)
bad = []

def want(cond, msg):
    if not cond:
        bad.append(msg)

seq = [(e['from'], e['to']) for e in sw]
stages = ['ROOT_TASK', 'PREPARE_NAMESPACES', 'FORKING', 'RESTORE', 'RESTORE_SIGCHLD', 'RESTORE_CREDS', 'COMPLETE']
want([t for _, t in seq] == stages, 'switch order %s' % seq)
by = {e['to']: e for e in sw}
root_switches = {'criu4': ['PREPARE_NAMESPACES', 'FORKING', 'RESTORE'], 'legacy': []}[variant]
for st in stages:
    if st not in by:
        continue
    e = by[st]
    role = e.get('role')
    exp = 'root' if st in root_switches else 'controller'
    want(role == exp, '%s switched by %s, want %s' % (st, role, exp))
    if exp == 'root':
        want(e.get('pid') == root, '%s switched by pid %s, want the root %d' % (st, e.get('pid'), root))
counts = {'ROOT_TASK': 1, 'PREPARE_NAMESPACES': 1, 'FORKING': nt, 'RESTORE': len(tasks),
          'RESTORE_SIGCHLD': len(tasks), 'RESTORE_CREDS': len(tasks)}
for st, n in counts.items():
    if st in by:
        got = by[st].get('count_set', by[st].get('count'))
        want(got == n, '%s set nr_in_progress=%s, want %d' % (st, got, n))
# Arrivals at each stage, before the switch out of it.
finishers = {
    'criu4': {'FORKING': set(procs) - {root}, 'RESTORE': set(tasks)},
    'legacy': {'ROOT_TASK': {root}, 'PREPARE_NAMESPACES': {root}, 'FORKING': set(procs), 'RESTORE': set(tasks)},
}[variant]
finishers['RESTORE_SIGCHLD'] = set(tasks)
finishers['RESTORE_CREDS'] = set(tasks)
nxt = dict(zip(stages, stages[1:]))
for st, who in finishers.items():
    out_seq = by[nxt[st]]['seq'] if nxt.get(st) in by else 1 << 62
    got = {e['pid'] for e in arr if e['from'] == st and e['seq'] < out_seq}
    want(got == who, 'arrivals at %s before the switch out: %s, want %s' % (st, sorted(got), sorted(who)))
for e in sw:
    print('%s -> %s by %s (pid %s) count %s' % (e['from'], e['to'], e.get('role'), e.get('pid'),
                                               e.get('count_set', e.get('count'))))
if bad:
    print('\n'.join(bad))
    sys.exit(1)
print('%d switches, %d arrivals as CRIU runs them' % (len(sw), len(arr)))
