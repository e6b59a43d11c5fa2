#!/bin/sh
# install.sh: `make install DESTDIR=...` puts crstep, crstep(1) and the bash
# completion where PREFIX says; the man page renders without a warning and
# documents every subcommand, restore option, stepper command and exit code
# crstep's own help lists; the completion loads and completes.
. "$(dirname "$0")/../lib.sh"
D=$TMP/destdir
make -s -C "$TOP" install DESTDIR="$D" PREFIX=/usr >"$TMP/inst" 2>&1
ok $? "make install DESTDIR=... PREFIX=/usr" || sed 's/^/# /' "$TMP/inst"
[ -x "$D/usr/bin/crstep" ] && [ -f "$D/usr/share/man/man1/crstep.1" ] &&
	[ -f "$D/usr/share/bash-completion/completions/crstep" ]
ok $? "installed: bin/crstep, man1/crstep.1, bash-completion/completions/crstep"
"$D/usr/bin/crstep" --version >"$TMP/version"
ok $? "the installed crstep runs"
grep -q "^images: CRIU's format, inventory img_version 2 " "$TMP/version"
ok $? "--version states the image format version it reads"
MAN=$D/usr/share/man/man1/crstep.1
if command -v man >/dev/null 2>&1; then
	LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -l "$MAN" >"$TMP/man.txt" 2>"$TMP/man.err"
	[ $? -eq 0 ] && [ ! -s "$TMP/man.err" ] && grep -q "EXIT STATUS" "$TMP/man.txt"
	ok $? "man -l renders crstep(1) without warnings" || sed 's/^/# /' "$TMP/man.err"
else
	skip "no man here"
fi
# Everything the binary's own help names is in the page.
missing=
for w in restore show check dump attach watch; do
	grep -q "^\.BI\? \"\?$w\|^\.B crstep $w\|^\.BI \"$w " "$MAN" || missing="$missing $w"
done
for o in $("$CRSTEP" restore --help 2>&1 | grep -o '^  --\?[a-z-]*' | tr -d ' '); do
	grep -q -- "$(echo "$o" | sed 's/-/\\\\-/g')" "$MAN" || missing="$missing $o"
done
for c in $(printf 'help\nquit\n' | "$CRSTEP" restore --cli "$FIX/criu-4.2/counter/images" 2>/dev/null |
	sed -n 's/^(crstep) Commands.*//; s/^  \([a-z]*\)[ ,].*/\1/p'); do
	grep -Eq "^\.B[IR]? (.* )?\"?$c[ \",]" "$MAN" || grep -Eq "^\.B[IR]? (.* )?$c\$" "$MAN" ||
		missing="$missing cmd:$c"
done
for x in 0 1 2 3 4; do
	grep -q "^\.B $x\$" "$MAN" || missing="$missing exit:$x"
done
[ -z "$missing" ]
ok $? "the page documents every subcommand, restore option, stepper command and exit code${missing:+ (missing:$missing)}"
no_restored
bash -c ". '$D/usr/share/bash-completion/completions/crstep'; COMP_WORDS=(crstep res); COMP_CWORD=1; _crstep;
	[ \"\${COMPREPLY[*]}\" = restore ] && COMP_WORDS=(crstep restore --prot) && COMP_CWORD=2 && _crstep &&
	[ \"\${COMPREPLY[*]}\" = --protocol ] && COMP_WORDS=(crstep restore --protocol cr) && COMP_CWORD=3 && _crstep &&
	[ \"\${COMPREPLY[*]}\" = criu4 ]"
ok $? "bash completion: subcommands, options, protocol variants"
done_testing
