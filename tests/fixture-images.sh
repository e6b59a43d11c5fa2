#!/bin/sh
# fixture-images.sh NAME OUTDIR: print the path of a fixture directory
# (prepare.sh, check.sh, images/) for workload NAME that this machine can
# restore: the bundled CRIU 4.2 one when this CPU has the state it was dumped
# with, otherwise one dumped here by `crstep dump` into OUTDIR (the CRIU images
# were made on an AVX-512 machine; their glibc picked AVX-512 code, which
# cannot run without it).
top=$(cd "$(dirname "$0")/.." && pwd)
name=$1 out=$2
fx=$top/tests/fixtures/criu-4.2/$name
if "$top/crstep" check --restorable "$fx/images" >/dev/null 2>"$out.why"; then
	rm -f "$out.why"
	echo "$fx"
	exit 0
fi
echo "fixture-images: the CRIU $name images cannot run here: $(sed 's/^crstep: //' "$out.why")" >&2
echo "fixture-images: dumping the same workload here with crstep dump instead" >&2
rm -f "$out.why"
sh "$top/tests/fixture-local.sh" "$name" "$out" >&2 || exit 1
echo "$out"
