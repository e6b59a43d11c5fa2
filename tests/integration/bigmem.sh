#!/bin/sh
# bigmem.sh: memory layouts zdtm found crstep restoring wrong (issue 12),
# in the bigmem workload (CRIU 4.2 images): 5000 one-page VMAs (the blob
# once had room for 1024 and overran it: SIGABRT, or mremap EINVAL on
# garbage), a 512 MiB mapping with 8 pages touched, a memfd and a shared
# anonymous area each mapped shared twice at different offsets and private
# once (the private one was mapped shared: its own page overwrote the
# object's), a 6-byte memfd (the fill grew it to a page), and a
# MAP_NORESERVE and a MAP_DROPPABLE mapping (premapped without those flags,
# zdtm's maps02).  The workload checks its memory every 50 ms; check.sh
# counts the VMAs and reads the two mappings' VmFlags.
. "$(dirname "$0")/../lib.sh"

FX=$FIX/criu-4.2/bigmem
if ! "$CRSTEP" check --restorable "$FX/images" >/dev/null 2>&1; then
	skip "bigmem: this CPU lacks the state the images were dumped with"
	done_testing
	exit
fi
for variant in criu4 legacy; do
	sh "$FX/prepare.sh" >/dev/null 2>&1
	rm -f "$TMP/pid"
	start=$(date +%s%N)
	expect_run 0 "bigmem/$variant: restore --batch --detach" "$CRSTEP" restore "$FX/images" \
		--protocol "$variant" --batch --detach --pidfile "$TMP/pid" || continue
	ms=$((($(date +%s%N) - start) / 1000000))
	pid=$(cat "$TMP/pid")
	sleep 0.6
	sh "$FX/check.sh" "$pid" >"$TMP/check" 2>&1
	ok $? "bigmem/$variant: restored in $ms ms: $(tail -1 "$TMP/check")"
	kill_tree "$pid" && no_restored
	ok $? "bigmem/$variant: nothing of the tree is left after kill"
done
done_testing
