#!/bin/sh
# soak.sh: the short soak in `make check`: every fixture (tests/fixtures/*/*
# with prepare.sh, images/ and check.sh) restored SOAK_RUNS (10) times in a
# row, cycling through the protocol variants, for real: check.sh must pass
# each time and nothing may be left behind (processes of the restore, fds of
# crstep's in the tree or the reaper).  Two fixtures at a time, to stay
# within about a minute.  `make soak` is the long one (tests/soak.py).
. "$(dirname "$0")/../lib.sh"

python3 "$TOP/tests/soak.py" --tap --spread --jobs 2 --runs "${SOAK_RUNS:-10}"
