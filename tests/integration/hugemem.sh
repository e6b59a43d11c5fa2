#!/bin/sh
# hugemem.sh: hugetlb memory (issue 12: zdtm's maps09 and memfd02-hugetlb
# found it restored as ordinary memory, "Mapping dev mismatch").  The
# hugemem workload (CRIU 4.2 images) has a private and a shared anonymous
# MAP_HUGETLB page and a hugetlb memfd mapped shared and private; it checks
# their devices, contents and sharing every 50 ms, check.sh counts the
# hugetlb VMAs.  Skipped when the machine has too few free huge pages
# (prepare.sh exits 77).
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/hugemem
if ! "$CRSTEP" check --restorable "$FX/images" >/dev/null 2>&1; then
	skip "hugemem: this CPU lacks the state the images were dumped with"
	done_testing
	exit
fi
for variant in criu4 legacy; do
	sh "$FX/prepare.sh" >"$TMP/prep" 2>&1
	if [ $? = 77 ]; then
		skip "hugemem/$variant: $(tail -1 "$TMP/prep")"
		continue
	fi
	rm -f "$TMP/pid"
	expect_run 0 "hugemem/$variant: restore --batch --detach" "$CRSTEP" restore "$FX/images" \
		--protocol "$variant" --batch --detach --pidfile "$TMP/pid" || continue
	pid=$(cat "$TMP/pid")
	sleep 0.6
	sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "hugemem/$variant: $(tail -1 "$TMP/check")"
	kill_tree "$pid" && no_restored
	ok $? "hugemem/$variant: nothing of the tree is left after kill"
done
done_testing
