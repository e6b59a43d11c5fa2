#!/bin/sh
# check.sh: `crstep check DIR` at the command line.  Every fixture is
# consistent (exit 0); copies with one fault exit 2 with one line naming the
# image and the entry; no argument is a usage error (exit 4); and nothing in
# the fixture directories changes.
. "$(dirname "$0")/../lib.sh"

CORRUPT="python3 $TOP/tests/corrupt.py"

sums() {
	find "$FIX"/criu-4.2/*/images -type f | sort | xargs md5sum
}
sums >"$TMP/md5-before"

for dir in "$FIX"/criu-4.2/*/images; do
	fx=$(basename "$(dirname "$dir")")
	expect_run 0 "$fx: check passes" "$CRSTEP" check "$dir"
done

# broken NAME FILE ENTRY-TEXT DESC: `crstep check $TMP/NAME` exits 2 with
# exactly one line on stderr naming $TMP/NAME/FILE and ENTRY-TEXT.
broken() {
	name=$1 file=$2 entry=$3 desc=$4
	expect_run 2 "$desc" "$CRSTEP" check "$TMP/$name" || return
	lines=$(wc -l <"$TMP/err")
	first=$(head -n 1 "$TMP/err")
	case $first in
	"crstep: $TMP/$name/$file: "*"$entry"*) st=$((lines != 1)) ;;
	*) st=1 ;;
	esac
	ok $st "$desc: one line naming $file${entry:+ and \"$entry\"}"
	[ $st -eq 0 ] || sed 's/^/# err: /' "$TMP/err"
}

copy() {	# copy FIXTURE NAME
	cp -r "$FIX/criu-4.2/$1/images" "$TMP/$2"
}

copy counter short-pages
$CORRUPT cut "$TMP/short-pages/pages-1.img" -4096
broken short-pages pagemap-30100.img "entry 0: task 30100:" "a pages file cut short"

copy counter vma-overlap
$CORRUPT vma-overlap "$TMP/vma-overlap/mm-30100.img" 4
broken vma-overlap mm-30100.img "entry 0: task 30100:" "a VMA overlapping the next"

copy shm vma-unsorted
$CORRUPT vma-swap "$TMP/vma-unsorted/mm-30501.img" 8
broken vma-unsorted mm-30501.img "entry 0: task 30501:" "VMAs out of order"

copy tree no-core
rm "$TMP/no-core/core-30202.img"
broken no-core core-30202.img "" "a task without its core"

copy fdmix bad-fd
$CORRUPT fd-file "$TMP/bad-fd/fdinfo-2.img" 4 777
broken bad-fd fdinfo-2.img "entry 4: task 30700:" "an fd whose file id is missing"

copy counter cut-core
$CORRUPT cut "$TMP/cut-core/core-30100.img" 100
broken cut-core core-30100.img "entry 0: " "a core cut inside its entry"

copy tree cut-pstree
$CORRUPT cut "$TMP/cut-pstree/pstree.img" -1
broken cut-pstree pstree.img "entry 2: " "pstree cut inside its last entry"

expect_run 4 "no argument is a usage error" "$CRSTEP" check
expect_run 4 "two arguments are a usage error" "$CRSTEP" check "$TMP/a" "$TMP/b"
expect_run 2 "a directory that does not exist" "$CRSTEP" check "$TMP/nonexistent"

sums >"$TMP/md5-after"
cmp -s "$TMP/md5-before" "$TMP/md5-after"
ok $? "the fixture images are unchanged"

done_testing
