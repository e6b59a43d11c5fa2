#!/usr/bin/python3
# zdtm-root.py CRIU_SRC/test/zdtm.py ARGS...: run zdtm with its tests as root.
#
# zdtm starts every test that is not flagged `suid` under the uid 18943
# (ZDTM_UID/ZDTM_GID/ZDTM_GROUPS in the test's environment).  criu dumps the
# test's rlimits with prlimit(), which for a task of another uid needs
# CAP_SYS_RESOURCE; a machine (or container) without that capability fails
# every such dump.  So the tests keep root: this launcher drops those three
# variables from the environment of whatever zdtm starts, through an audit
# hook on subprocess.Popen (zdtm itself is run unchanged).  zdtm re-executes
# itself through ./zdtm_ct to enter its own pid namespace; that child is
# pointed back at this launcher so the hook is there too.
import os
import runpy
import sys

DROP = ('ZDTM_UID', 'ZDTM_GID', 'ZDTM_GROUPS')
ME = os.path.abspath(__file__)


def hook(event, args):
    if event != 'subprocess.Popen':
        return
    argv, env = args[1], args[3]
    if isinstance(env, dict):
        for k in DROP:
            env.pop(k, None)
    # ["./zdtm_ct", "zdtm.py"]: the test's own zdtm process.
    if isinstance(argv, list) and len(argv) >= 2 and \
            os.path.basename(str(argv[0])) == 'zdtm_ct' and argv[1] == 'zdtm.py':
        argv[1:2] = [ME, os.path.abspath('zdtm.py')]


if len(sys.argv) < 2:
    sys.exit("usage: zdtm-root.py PATH/zdtm.py ARGS...")
zdtm = os.path.abspath(sys.argv[1])
sys.argv = [zdtm] + sys.argv[2:]
sys.path.insert(0, os.path.dirname(zdtm))
sys.addaudithook(hook)
runpy.run_path(zdtm, run_name='__main__')
