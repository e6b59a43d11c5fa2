#!/bin/sh
# run.sh: `make zdtm` — CRIU's own test suite (zdtm), static tests in the host
# flavour, dumped by upstream criu and restored twice over: by upstream criu,
# then by crstep (through tools/zdtm/criu-crstep).  Prints one table (test,
# criu, crstep, crstep's one-line reason) and `N passed, N failed` for each.
#
#   CRIU_SRC    upstream CRIU's source tree, built (shared/tools/build-criu.sh)
#   CRIU_BIN    its criu (default: the bin/ next to CRIU_SRC, else CRIU_SRC/criu/criu)
#   ZDTM_TESTS  a subset: test names, e.g. "env00 pipe00" (default: every static test)
#   ZDTM_ONLY   criu | crstep: run one restorer only
#   ZDTM_JOBS   zdtm's parallel runs (default 2)
#   ZDTM_KEEP   zdtm's -k: never (default) | failed | always (images under CRIU_SRC/test/dump)
#   ZDTM_OUT    where the reports go (default build/zdtm)
#   CRSTEP      the crstep to test (default ./crstep; copied first, so a rebuild
#               during the run does not change it)
#
# Runs as root (zdtm needs it) under nice -n 10, with Debian's python3 (zdtm
# needs its python3-protobuf and python3-yaml).  Not part of `make check`.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${CRIU_SRC:?set CRIU_SRC to upstream CRIU's built source tree}"
CRIU_SRC=$(cd "$CRIU_SRC" && pwd)
test=$CRIU_SRC/test
bin=$(dirname "$CRIU_SRC")/bin
if [ -z "${CRIU_BIN:-}" ]; then
	CRIU_BIN=$bin/criu
	[ -x "$CRIU_BIN" ] || CRIU_BIN=$CRIU_SRC/criu/criu
fi
CRIT_BIN=$bin/crit
[ -x "$CRIT_BIN" ] || CRIT_BIN=$CRIU_SRC/crit/crit
jobs=${ZDTM_JOBS:-2}
keep=${ZDTM_KEEP:-never}
out=${ZDTM_OUT:-$top/build/zdtm}
only=${ZDTM_ONLY:-}

[ -f "$test/zdtm.py" ] || { echo "zdtm: no $test/zdtm.py" >&2; exit 2; }
[ -x "$CRIU_BIN" ] || { echo "zdtm: no criu at $CRIU_BIN (build it: shared/tools/build-criu.sh)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "zdtm: run as root" >&2; exit 2; }
CRSTEP=${CRSTEP:-$top/crstep}
[ -x "$CRSTEP" ] || { echo "zdtm: build crstep first (make)" >&2; exit 2; }
# zdtm's hooks run `python3` from PATH: Debian's, which has the protobuf and
# yaml modules zdtm needs (and no version-manager shim to start every time).
PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH

# zdtm's test programs: built once (zdtm.py would build them too, but one test
# at a time and with the whole machine's cores).
if [ ! -f "$test/zdtm/lib/libzdtmtst.a" ] || [ ! -x "$test/zdtm/static/env00" ]; then
	echo "zdtm: building the test programs in $test/zdtm (a few minutes)"
	nice -n 10 make -s -j"$(nproc)" -C "$test/zdtm" >"$out.build.log" 2>&1 ||
		{ tail -20 "$out.build.log"; exit 2; }
fi
for t in zdtm_ct umount2; do
	[ -x "$test/$t" ] || make -s -C "$test" "$t" >/dev/null
done

# The tests: every static one, or ZDTM_TESTS.  zdtm matches -T from the start
# of the name; anchor it at the end too.
if [ -n "${ZDTM_TESTS:-}" ]; then
	re=$(printf '%s\n' $ZDTM_TESTS | sed 's,^zdtm/static/,,' | paste -sd'|')
	re="zdtm/static/($re)\$"
else
	re='zdtm/static/.*'
fi

mkdir -p "$out"
cp "$CRSTEP" "$out/crstep.bin"
run() {	# NAME CRIU-BINARY: one zdtm run, its TAP report in $out/NAME/
	rm -rf "$out/$1" && mkdir -p "$out/$1"
	echo "zdtm: $1 restores ($jobs parallel runs; log in $out/$1.log)"
	start=$(date +%s)
	(cd "$test" && CRIU="$CRIU_BIN" CRSTEP="$out/crstep.bin" nice -n 10 \
		/usr/bin/python3 "$top/tools/zdtm/zdtm-root.py" "$test/zdtm.py" run -T "$re" -f h \
		--keep-going --ignore-taint -p "$jobs" -k "$keep" --report "$out/$1" \
		--criu-bin "$2" --crit-bin "$CRIT_BIN") >"$out/$1.log" 2>&1 || true
	echo "zdtm: $1 done in $(( $(date +%s) - start )) s"
	[ -f "$out/$1/criu-testreport.tap" ] ||
		{ tail -20 "$out/$1.log"; echo "zdtm: $1 wrote no report" >&2; exit 2; }
}
[ "$only" = crstep ] || run criu "$CRIU_BIN"
[ "$only" = criu ] || run crstep "$top/tools/zdtm/criu-crstep"

/usr/bin/python3 "$top/tools/zdtm/table.py" "$out" | tee "$out/RESULTS.md"
