#!/bin/sh
# counter-images.sh OUTDIR: print the path of a counter fixture directory
# (prepare.sh, check.sh, images/) that this machine can restore: the bundled
# CRIU 4.2 one when this CPU has the state it was dumped with, otherwise one
# dumped here by `crstep dump` into OUTDIR (the CRIU images were made on an
# AVX-512 machine; their glibc picked AVX-512 code, which cannot run here).
top=$(cd "$(dirname "$0")/.." && pwd)
fx=$top/tests/fixtures/criu-4.2/counter
out=$1
if "$top/crstep" check --restorable "$fx/images" >/dev/null 2>"$out.why"; then
	echo "$fx"
	exit 0
fi
echo "counter-images: the CRIU fixture cannot run here: $(sed 's/^crstep: //' "$out.why")" >&2
echo "counter-images: dumping the same workload here with crstep dump instead" >&2
sh "$top/tests/fixture-local.sh" counter "$out" >&2 || exit 1
echo "$out"
