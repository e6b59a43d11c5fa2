#!/bin/sh
# show.sh: `crstep show` against crit's own output for every fixture image.
#
# Each image with a crit/IMG.json is shown and compared by value with
# tools/jsoncmp.py (hex strings equal numbers, flag strings compare as sets);
# a byte-for-byte match is also required, because crstep lays its JSON out as
# crit does.  `show --tree` must print crit's `x ps` lines, plus only the
# documented " (zombie)" / " (N threads)" annotations.
. "$(dirname "$0")/../lib.sh"

JSONCMP="python3 $TOP/tools/jsoncmp.py"

for dir in "$FIX"/criu-4.2/*/images; do
	fx=$(basename "$(dirname "$dir")")
	crit=$(dirname "$dir")/crit
	for img in "$dir"/*; do
		name=$(basename "$img" .img)
		want=$crit/$name.json
		[ -f "$want" ] || continue
		if ! "$CRSTEP" show "$img" >"$TMP/got.json" 2>"$TMP/err"; then
			ok 1 "$fx/$name: crstep show failed"
			sed 's/^/# err: /' "$TMP/err"
			continue
		fi
		diff=$($JSONCMP "$TMP/got.json" "$want" 2>&1)
		st=$?
		if [ $st -eq 0 ] && ! cmp -s "$TMP/got.json" "$want"; then
			diff="equal by value but not byte for byte"
			st=1
		fi
		ok $st "$fx/$name matches crit show"
		[ $st -eq 0 ] || echo "# $diff"
	done

	# The tree: crit's lines once the annotations are taken off.
	if "$CRSTEP" show --tree "$dir" >"$TMP/tree" 2>"$TMP/err"; then
		sed -e 's/ (zombie)//' -e 's/ ([0-9]* threads)$//' "$TMP/tree" >"$TMP/tree.crit"
		cmp -s "$TMP/tree.crit" "$crit/x-ps.txt"
		st=$?
		ok $st "$fx: show --tree matches crit x ps"
		[ $st -eq 0 ] && continue
		diff "$TMP/tree.crit" "$crit/x-ps.txt" | sed 's/^/# /'
	else
		ok 1 "$fx: show --tree failed"
		sed 's/^/# err: /' "$TMP/err"
	fi
done

# The annotations, where the fixtures have something to say.
"$CRSTEP" show --tree "$FIX/criu-4.2/zombie/images" >"$TMP/tree" 2>&1
grep -q '^  30401  30400  30400       zombie (zombie)$' "$TMP/tree"
ok $? "zombie: the dead child is marked (zombie)"
"$CRSTEP" show --tree "$FIX/criu-4.2/threads/images" >"$TMP/tree" 2>&1
grep -q '^  30300  30300  30300   threads (4 threads)$' "$TMP/tree"
ok $? "threads: the process is marked (4 threads)"
"$CRSTEP" show --tree "$FIX/criu-4.2/credthreads/images" >"$TMP/tree" 2>&1
grep -q '^  30900  30900  30900   credthreads (4 threads)$' "$TMP/tree"
ok $? "credthreads: the process is marked (4 threads)"
"$CRSTEP" show --tree "$FIX/criu-4.2/attrs/images" >"$TMP/tree" 2>&1
grep -q '^  31000  31000  31000   attrs (2 threads)$' "$TMP/tree"
ok $? "attrs: the process is marked (2 threads)"
"$CRSTEP" show --tree "$FIX/criu-4.2/pending/images" >"$TMP/tree" 2>&1
grep -q '^  31200  31200  31200   pending (2 threads)$' "$TMP/tree"
ok $? "pending: the process is marked (2 threads)"
"$CRSTEP" show --tree "$FIX/criu-4.2/stopped/images" >"$TMP/tree" 2>&1
grep -q '^  31251  31250  31250       stopped (2 threads)$' "$TMP/tree"
ok $? "stopped: the child of two threads is marked (2 threads)"
"$CRSTEP" show --tree "$FIX/criu-4.2/timers/images" >"$TMP/tree" 2>&1
grep -q '^  31800  31800  31800   timers (2 threads)$' "$TMP/tree" &&
	grep -q '^  31802  31800  31800       timers (2 threads)$' "$TMP/tree"
ok $? "timers: P and its child C are marked (2 threads)"
"$CRSTEP" show --tree "$FIX/criu-4.2/helper/images" >"$TMP/tree" 2>&1
grep -q '^  31853  31851  31850       helper (zombie)$' "$TMP/tree"
ok $? "helper: the zombie in a group whose leader is gone is marked (zombie)"
n=$(cat "$FIX"/criu-4.2/*/crit/x-ps.txt | wc -l)
for dir in "$FIX"/criu-4.2/*/images; do
	"$CRSTEP" show --tree "$dir"
done 2>&1 | grep -c '(' >"$TMP/count"
[ "$(cat "$TMP/count")" -eq 9 ]
ok $? "no other line of the $n tree lines is annotated"

# The comparer itself must see a difference.
want=$FIX/criu-4.2/counter/crit/mm-30100.json
sed 's/"PROT_READ | PROT_EXEC"/"PROT_READ"/' "$want" >"$TMP/bad.json"
$JSONCMP "$TMP/bad.json" "$want" >/dev/null
[ $? -eq 1 ]
ok $? "jsoncmp reports a changed flag set"
sed 's/"PROT_READ | PROT_EXEC"/"PROT_EXEC | PROT_READ"/; s/"0x401000"/4198400/' "$want" >"$TMP/same.json"
$JSONCMP "$TMP/same.json" "$want"
ok $? "jsoncmp: flag order and hex-vs-number do not matter"

# Errors: one line on stderr, nothing on stdout.
expect_run 2 "a nonexistent image" "$CRSTEP" show "$TMP/core-1.img"
[ "$(wc -l <"$TMP/err")" -eq 1 ] && [ ! -s "$TMP/out" ]
ok $? "a nonexistent image: one line of error"
expect_run 2 "a file that is not an image name" "$CRSTEP" show "$FIX/criu-4.2/README.md"
[ "$(wc -l <"$TMP/err")" -eq 1 ]
ok $? "not an image name: one line of error"
cp "$FIX/criu-4.2/counter/images/core-30100.img" "$TMP/mm-1.img"
expect_run 2 "an image whose magic does not match its name" "$CRSTEP" show "$TMP/mm-1.img"
expect_run 2 "raw pages" "$CRSTEP" show "$FIX/criu-4.2/counter/images/pages-1.img"
expect_run 2 "--tree on a directory without images" "$CRSTEP" show --tree "$TMP"
expect_run 4 "no arguments" "$CRSTEP" show
expect_run 4 "an unknown option" "$CRSTEP" show --bogus x
expect_run 0 "--help" "$CRSTEP" show --help

done_testing
