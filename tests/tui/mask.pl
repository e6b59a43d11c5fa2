#!/usr/bin/perl
# mask.pl PIDFILE [TMPDIR] < capture: make a captured TUI screen comparable
# with a golden one.  Times become <t>, the images' pids <P1>.. (from the
# fixture's pids.txt), any other pid (host pids) <h>, the /proc state and
# wchan of the task rows <proc>, the timeline's bars ~ (their proportions
# are times), the header's directory <DIR>; $TMP becomes <TMP>.  A masked value keeps the width of the
# column it was in (when it was padded), so the layout is still compared.
use strict;
use warnings;

my ($pids, $tmp) = @ARGV;
my (%map, $n);
open(my $f, '<', $pids) or die "$pids: $!";
while (<$f>) {
	next if /^\s*(#|$)/;
	my ($pid) = split;
	$map{$pid} = '<P' . ++$n . '>';
}
close $f;

# The token in place of TEXT followed by SPACES: the same width when the
# spaces are a column's padding (2 or more), else as it comes.
sub fit {
	my ($tok, $text, $sp) = @_;
	return $tok . $sp if length($sp) < 2;
	my $pad = length($text) + length($sp) - length($tok);
	return $tok . ' ' x ($pad < 1 ? 1 : $pad);
}
# Right-aligned: SPACES before TEXT.
sub rfit {
	my ($tok, $sp, $text) = @_;
	return $sp . $tok if length($sp) < 2;
	my $pad = length($sp) + length($text) - length($tok);
	return ' ' x ($pad < 1 ? 1 : $pad) . $tok;
}

my ($st_col, $width) = (undef, $ENV{TUI_WIDTH} || 120);
while (my $l = <STDIN>) {
	chomp $l;
	# A line the screen's edge cut: pids of another length moved the cut.
	my $cut = length($l) >= $width - 1;
	$l =~ s/\Q$tmp\E/<TMP>/g if defined $tmp && length $tmp;
	$l =~ s/( *)(\d+\.\d (?:us|ms|s))(?![A-Za-z])/rfit('<t>', $1, $2)/ge;
	# A held task's report: the others may still be on their way.
	$l =~ s/(arriving at \S+, nr_in_progress=)\d+/$1<n>/;
	# The header ends with the image directory, cut where the times' widths say.
	$l =~ s/(  elapsed <t>  ).*/$1<DIR>/;
	$l =~ s/\b(\d{2,7})\b( *)/exists $map{$1} ? fit($map{$1}, $1, $2) : $1 . $2/ge;
	$l =~ s/\b(\d{3,7})\b( *)/fit('<h>', $1, $2)/ge;
	$st_col = index($l, ' ST WCHAN') + 1 if index($l, ' ST WCHAN') >= 0;
	if (defined $st_col && $l =~ /^[ *] <P\d+>/ && length($l) > $st_col) {
		$l = substr($l, 0, $st_col) . '<proc>';
	}
	if ($l =~ /^( \S+ +\S+ +\|)(.*)(\|)$/) {
		my ($a, $bar, $b) = ($1, $2, $3);
		$bar =~ tr/=.!-/~/;
		$l = $a . $bar . $b;
	}
	$l = substr($l, 0, $width - 12) . '...' if $cut && length($l) > $width - 12;
	$l =~ s/\s+$//;
	print "$l\n";
}
