#!/bin/sh
# modules.sh: the module graph, derived from the #include lines of every
# source and header, reads top-down (DESIGN.md, Layout):
#   ui -> stepper, restore, attach, dump, images, lib
#   stepper -> restore, images, lib      (never ui: front ends come in through
#                                         struct stepper_frontend)
#   restore -> images, lib               (never stepper or ui: stops go out
#                                         through struct restore_observer)
#   attach -> restore (public headers), images, lib (never stepper or ui)
#   dump -> images, lib;  images -> lib;  lib -> nothing
#   restore/pie (the freestanding restorer) -> the barrier, protocol and
#   restorer headers and lib's freestanding sysraw.h and clock.h only.
# A header in include/ belongs to the module named in HEADERS below; a header
# inside a module's folder is that module's private one.  Any edge outside
# these, any cycle, and any include/ header no module claims fail the test.
. "$(dirname "$0")/../lib.sh"

python3 - "$TOP" >"$TMP/modules" 2>&1 <<'PYEOF'
import os, re, sys
top = sys.argv[1]
HEADERS = {
    'lib': ['log.h', 'sysraw.h', 'clock.h'],
    'images': ['image.h'],
    'restore': ['restore.h', 'protocol.h', 'barrier.h', 'restorer.h', 'sigframe.h', 'trace.h'],
    'dump': ['dump.h'],
    'attach': ['attach.h'],
    'stepper': ['stepper.h'],
    'ui': ['ui.h', 'json.h'],
}
ALLOWED = {
    'ui': {'stepper', 'restore', 'attach', 'dump', 'images', 'lib'},
    'attach': {'restore', 'images', 'lib'},
    'stepper': {'restore', 'images', 'lib'},
    'restore': {'images', 'lib'},
    'dump': {'images', 'lib'},
    'images': {'lib'},
    'lib': set(),
}
PIE_HEADERS = {'barrier.h', 'protocol.h', 'restorer.h', 'sysraw.h', 'clock.h'}
owner = {h: m for m, hs in HEADERS.items() for h in hs}
bad = []
for h in sorted(os.listdir(os.path.join(top, 'include'))):
    if h.endswith('.h') and h not in owner:
        bad.append('include/%s: no module claims it' % h)

def module_of(path):
    parts = path.split('/')
    if parts[0] == 'include':
        return owner.get(parts[1])
    if parts[:2] == ['restore', 'pie']:
        return 'pie'
    return parts[0] if parts[0] in ALLOWED else None

edges = {}
files = []
for d in ['include', 'lib', 'images', 'restore', 'restore/pie', 'dump', 'attach', 'stepper', 'ui']:
    if not os.path.isdir(os.path.join(top, d)):
        continue
    for f in sorted(os.listdir(os.path.join(top, d))):
        if f.endswith(('.c', '.h')):
            files.append(d + '/' + f)
for f in files:
    m = module_of(f)
    if m is None:
        continue
    for n, line in enumerate(open(os.path.join(top, f)), 1):
        g = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
        if not g:
            continue
        h = os.path.basename(g.group(1))
        if h.endswith('.pb-c.h'):
            to = 'images'
        elif os.path.exists(os.path.join(top, os.path.dirname(f), h)) and not f.startswith('include/'):
            to = m if m != 'pie' else 'restore'	# a private header of its own folder
        else:
            to = owner.get(h)
        if to is None:
            bad.append('%s:%d: includes "%s", which no module claims' % (f, n, h))
            continue
        if m == 'pie':
            if h not in PIE_HEADERS:
                bad.append('%s:%d: the restorer includes "%s"' % (f, n, h))
            continue
        if to != m:
            edges.setdefault(m, set()).add(to)
            if to not in ALLOWED[m]:
                bad.append('%s:%d: %s -> %s ("%s")' % (f, n, m, to, h))

def cycle():
    state = {}
    def visit(m, path):
        state[m] = 1
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                return path + [t]
            if not state.get(t):
                c = visit(t, path + [t])
                if c:
                    return c
        state[m] = 2
        return None
    for m in sorted(edges):
        if not state.get(m):
            c = visit(m, [m])
            if c:
                return c
    return None

c = cycle()
if c:
    bad.append('cycle: ' + ' -> '.join(c))
for m in sorted(edges):
    print('# %s -> %s' % (m, ', '.join(sorted(edges[m]))))
for b in bad:
    print('BAD ' + b)
PYEOF
st=$?
grep '^# ' "$TMP/modules"
[ $st -eq 0 ]
ok $? "the include graph was read"
grep -q '^BAD ' "$TMP/modules"
[ $? -ne 0 ]
ok $? "every #include goes down the layers, no cycle, every header has a module"
grep '^BAD ' "$TMP/modules" | sed 's/^BAD /# /'
done_testing
