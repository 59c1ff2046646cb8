#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec: scripts given to an interpreter (docs/exec.md, "Scripts given to an
# interpreter").  In enforce mode python3, perl, bash and dash run directly
# refuse to open as their script a file that was never installed: an
# argument (absolute, relative, through a symlink, after options, python3
# -m), and a file on standard input (sh < x.sh, bash -s, python3 -, perl:
# the interpreter is killed before it reads it); the deny event names the
# script (op script) and the interpreter (comm).  Trusted scripts run and
# read untrusted data; a trusted #! script too.  Documented limits run:
# code on the command line (-c, -e), code through a pipe, `. x.sh` in a
# shell that is not strict.  A strict interpreter refuses `. x.sh` of an
# untrusted file.  Audit mode runs the untrusted script and reports it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq python3 perl dash bash ldd

T=$KEEL_TMP
mkdir -p "$T/bin" "$T/data"
keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db" \
	"strict_interpreters = $T/bin/strictsh"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)" || exit 1
on_exit '"$KEELCTL" exec mode audit'

# --- what this test runs, enrolled before any enforce ----------------------
tools="bash sh dash perl python3 cat ln grep dirname head sed seq sleep"
exec_trust "$KEELCTL" /etc/ld.so.cache $tools || exit 1

cat >"$T/good.py" <<'EOF'
import sys
if len(sys.argv) > 1:
    print("data:", open(sys.argv[1]).read().strip())
print("PY-OK")
EOF
printf 'print "PL-OK\\n";\n' >"$T/good.pl"
printf 'echo SH-OK\nif [ -n "${1:-}" ]; then read -r line <"$1"; echo "data: $line"; fi\n' >"$T/good.sh"
printf '#!/bin/sh\nread -r line <"$1"; echo "hashbang data: $line"\n' >"$T/hashbang.sh"
printf 'cd "$(dirname "$0")" && . ./evil.sh\necho SOURCED-DONE\n' >"$T/sources.sh"
for f in good.py good.pl good.sh sources.sh; do
	"$KEELCTL" install "$T/$f" "$T/bin/$f" >/dev/null || die "keelctl install $f"
done
"$KEELCTL" install --mode 0755 "$T/hashbang.sh" "$T/bin/hashbang.sh" >/dev/null ||
	die "keelctl install hashbang.sh"
check "keelctl install a copy of dash as the strict interpreter $T/bin/strictsh" \
	"$KEELCTL" install --mode 0755 "$(realpath "$(command -v dash)")" "$T/bin/strictsh"
printf 'print("EVIL-RAN")\n' >"$T/bin/evil.py"
printf 'print "EVIL-RAN\\n";\n' >"$T/bin/evil.pl"
printf 'echo EVIL-RAN\n' >"$T/bin/evil.sh"
ln -s evil.py "$T/bin/link.py"
echo "untrusted data" >"$T/data/input.txt"

refused_run() {	# CMD...: the untrusted script did not run
	local out
	out=$("$@" 2>&1)
	grep -q EVIL-RAN <<<"$out" && { echo "it ran: $out"; return 1; }
	echo "$out" | head -n 3
	return 0
}
runs() {	# WANT CMD...: the output has WANT
	local want=$1 out
	shift
	out=$("$@" 2>&1)
	grep -q -- "$want" <<<"$out" || { echo "no '$want' in: $out"; return 1; }
}
stdin_of() {	# FILE CMD...: CMD with FILE on its standard input
	local f=$1
	shift
	"$@" <"$f"
}
deny_for() {	# PATH COMM: exec.deny of op script for PATH, by COMM
	wait_event exec.deny "\"path\":\"$1\"" || return 1
	"$KEELCTL" events --type exec.deny | grep "\"path\":\"$1\"" | grep '"op":"script"' |
		grep -q "\"comm\":\"$2\""
}

cd "$T/bin" || die "cd $T/bin"

# --- audit: the untrusted script runs and is reported -----------------------
check "audit: python3 runs an untrusted script" runs EVIL-RAN python3 "$T/bin/evil.py"
check "audit: exec.allow_audit op script for evil.py" \
	wait_event exec.allow_audit "\"path\":\"$T/bin/evil.py\".*\"op\":\"script\""

# --- enforce ----------------------------------------------------------------
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce || exit 1
check "trusted: python3 good.py (relative) reads an untrusted data file" \
	runs "data: untrusted data" python3 good.py "$T/data/input.txt"
check "trusted: python3 -m good runs" runs PY-OK python3 -m good
check "trusted: perl good.pl runs" runs PL-OK perl good.pl
check "trusted: bash good.sh reads an untrusted data file" \
	runs "data: untrusted data" bash good.sh "$T/data/input.txt"
check "trusted: dash /abs/good.sh runs" runs SH-OK dash "$T/bin/good.sh"
check "trusted: sh < good.sh runs" runs SH-OK stdin_of "$T/bin/good.sh" sh
check "trusted: a #! script reads an untrusted data file" \
	runs "hashbang data: untrusted" "$T/bin/hashbang.sh" "$T/data/input.txt"

check "untrusted: python3 /abs/evil.py refused" refused_run python3 "$T/bin/evil.py"
check "  exec.deny op script names evil.py, comm python3" deny_for "$T/bin/evil.py" python3
check "untrusted: python3 -u ./link.py (relative, a symlink to evil.py) refused" \
	refused_run python3 -u ./link.py
check "untrusted: python3 -m evil refused" refused_run python3 -m evil
check "untrusted: perl evil.pl refused" refused_run perl evil.pl
check "  exec.deny for evil.pl, comm perl" deny_for "$T/bin/evil.pl" perl
check "untrusted: bash evil.sh refused" refused_run bash evil.sh
check "untrusted: bash -e -o pipefail evil.sh refused" refused_run bash -e -o pipefail evil.sh
check "untrusted: dash /abs/evil.sh refused" refused_run dash "$T/bin/evil.sh"
check "  exec.deny for evil.sh, comm dash" deny_for "$T/bin/evil.sh" dash
check "untrusted: sh < evil.sh: sh killed before it runs" refused_run stdin_of evil.sh sh
check "untrusted: bash -s < evil.sh refused" refused_run stdin_of evil.sh bash -s
check "untrusted: python3 < evil.py refused" refused_run stdin_of evil.py python3
check "untrusted: perl < evil.pl refused" refused_run stdin_of evil.pl perl
check "  exec.deny op script for evil.py read on standard input (its name)" \
	wait_event exec.deny '"path":"evil.py".*"op":"script"'

# documented limits (docs/exec.md): these run
check "limit: bash -c CODE runs (code on the command line)" runs C-OK bash -c 'echo C-OK'
check "limit: perl -e CODE runs" runs E-OK perl -e 'print "E-OK\n"'
check "limit: cat evil.sh | sh runs (code through a pipe)" runs EVIL-RAN sh -c "cat evil.sh | sh"
check "limit: a trusted bash script sourcing evil.sh runs it (bash is not strict)" \
	runs EVIL-RAN bash "$T/bin/sources.sh"

# a strict interpreter: . x.sh of an untrusted file is refused too
check "strict: strictsh runs a trusted script" runs SH-OK "$T/bin/strictsh" "$T/bin/good.sh"
check "strict: strictsh refuses '. ./evil.sh' inside a trusted script" \
	refused_run "$T/bin/strictsh" "$T/bin/sources.sh"
cd "$KEEL_TOP" || true
