#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# deploy/man/keel.conf.5.sh KEELD: write keel.conf(5) to stdout, made from
# `KEELD --print-config` (every key, its help, range and default), so the
# manual page cannot differ from the keys keeld accepts.
set -eu
keeld=$1
version=$("$keeld" --version | sed -n '1s/^keeld //p')
cat <<HEAD
.TH KEEL.CONF 5 "" "keel $version" "File Formats"
.\" left-aligned: a long list of defaults (below) breaks only at commas,
.\" and a line of it has no space to stretch for justification
.ad l
.SH NAME
keel.conf \- configuration of keeld, keel's agent
.SH SYNOPSIS
.B /etc/keel/keel.conf
.SH DESCRIPTION
keeld runs with embedded defaults; an INI file (\fB\-\-config\fR \fIPATH\fR, or
/etc/keel/keel.conf when it exists) overrides them key by key.
A file with an unknown section or key, a value out of range or a syntax
error is refused whole, with a message naming the file, the line and the key
(exit status 2 at start; at a reload, SIGHUP, the running configuration stays).
\fBkeeld \-\-print\-config\fR prints the effective configuration.
.PP
Booleans are true/false, yes/no, on/off or 1/0; numbers are decimal, in the
range given.  The sections and keys follow, each with its default.
HEAD
"$keeld" --print-config | sed -n \
	-e 's/\\/\\\\/g' \
	-e 's/^\[\(.*\)\]$/.SH [\1]/p' \
	-e 's/^; \(.*\)$/.\\" help\n\1/p' \
	-e 's/^\([a-z_]*\) = \(.*\)$/.\\" key \1 \2/p' |
awk '
/^\.\\" help$/ { getline help; next }
/^\.\\" key / {
	key = $3; def = substr($0, length(".\\\" key " key) + 2)
	gsub(/-/, "\\-", def)
	# a list of paths or types is one long word: let groff break it
	# after each comma (\: is a zero-width break point), else it cannot
	# fill the line ("cannot adjust line", which lintian reports)
	gsub(/,/, ",\\:", def)
	# a line starting with a quote or a dot would be read as a request
	if (help ~ /^['"'"'.]/)
		help = "\\&" help
	printf ".TP\n.B %s\n", key
	printf "%s.  Default: \\fB%s\\fR.\n", help, def == "" ? "(empty)" : def
	next
}
{ print }'
cat <<TAIL
.SH RELOAD
SIGHUP (\fBsystemctl reload keeld\fR) reads the file again: the [events] keys of
the event record apply at once; other changed keys are reported as needing a
restart (event keel.reload) and keep their running value.
.SH FILES
/etc/keel/keel.conf, /etc/keel/keel.conf.example
.SH SEE ALSO
.BR keeld (8),
.BR keelctl (1),
docs/configuration.md and docs/operations.md in keel's source.
TAIL
