#!/usr/bin/env python3
"""participants.py CRSTEP IMAGES: print "PID ROLE" for every participant of a
restore of IMAGES (root, task, thread, zombie), read with `crstep show`."""
import json
import subprocess
import sys

crstep, images = sys.argv[1:3]


def show(name):
    out = subprocess.run([crstep, 'show', '%s/%s' % (images, name)], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)['entries']


for i, t in enumerate(show('pstree.img')):
    core = show('core-%d.img' % t['pid'])[0]
    state = core.get('tc', {}).get('task_state')
    if state not in (1, 'Alive'):
        print(t['pid'], 'zombie')
        continue
    print(t['pid'], 'root' if i == 0 else 'task')
    for tid in t['threads'][1:]:
        print(tid, 'thread')
