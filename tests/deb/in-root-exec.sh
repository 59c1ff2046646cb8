#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# tests/deb/in-root-exec.sh SECTION...: run by tests/deb/vm-exec inside a
# Debian 12 root with keel installed (chrooted, in the VM, on a tmpfs),
# where keeld, keelctl, dpkg and this script are the root's own, as on a
# host running keel: paths the kernel reports for dpkg's writes are the
# ones keeld resolves.  Sections (in order):
#   prerm    keel's prerm with exec enforcing (debian/keel.prerm)
#   upgrade  dpkg -i of the next keel version with exec enforcing
# The packages are /tmp/keel-debs/keel_VERSION_amd64.deb (the installed
# version) and, for upgrade, the next one (KEEL_DEB_NEXT, a file name there).
# Exec is switched back to audit and keeld stopped at exit (pins removed),
# so the VM's own tools run again after.
. "$(dirname "$0")/../integration/lib.sh"
sections=" $* "
debs=/tmp/keel-debs
deb=$debs/$KEEL_DEB_NAME
next=${KEEL_DEB_NEXT:+$debs/$KEEL_DEB_NEXT}
pins=/sys/fs/bpf/keel
conf=/etc/keel-test.conf
T=$KEEL_TMP
keeld_pid=
n=0

status() {
	# the package's state (a refused removal leaves the selection "deinstall")
	dpkg-query -W -f='${db:Status-Status}' keel 2>&1
}
installed_version() {
	dpkg-query -W -f='${Version}' keel 2>/dev/null
}

# only exec: the other subsystems have nothing to do with dpkg
cat >"$conf" <<CONF
[exec]
enabled = true
[blk]
enabled = false
[kmod]
enabled = false
[vmnet]
enabled = false
[memh]
enabled = false
[vdisk]
enabled = false
CONF
mkdir -p /run/keel

# keeld_start: the installed keeld in the background, as its unit runs it
# (systemd's restart is stop + start: there is no systemd here), events in
# $T/events.N; waits until it answers
keeld_start() {
	n=$((n + 1))
	"${1:-/usr/sbin/keeld}" -c "$conf" >"$T/events.$n" 2>"$T/keeld.$n" &
	keeld_pid=$!
	# until it answers, for at most 120 s, or until it exits
	local end=$((SECONDS + 120))
	until keelctl status >/dev/null 2>&1; do
		if [ $SECONDS -ge $end ] || ! kill -0 "$keeld_pid" 2>/dev/null; then
			sed 's/^/    | /' "$T/keeld.$n"
			keeld_pid=
			return 1
		fi
		sleep 0.05
	done
}
keeld_stop() {
	[ -n "$keeld_pid" ] || return 0
	kill -TERM "$keeld_pid" && wait "$keeld_pid"
	keeld_pid=
}
# Spare names (hard links) of the running keeld and of keelctl, for after
# the removal test: a keeld to record keel's reinstall, a keelctl for this
# script.  Made by an approved installer, whose link keeps the trust
# (anybody else's would taint it); dpkg's unlink of the installed names
# taints them, so they serve in audit mode only, not to undo enforcement.
spare=/keel-test/keeld-spare
keep_spare() {
	keelctl run-installer -- ln -f "$(readlink -f /proc/"$keeld_pid"/exe)" "$spare" >/dev/null &&
		keelctl run-installer -- ln -f /usr/bin/keelctl /keel-test/keelctl >/dev/null
}
# this script's keelctl: the installed one, else the spare
keelctl() {
	if [ -x /usr/bin/keelctl ]; then
		/usr/bin/keelctl "$@"
	else
		/keel-test/keelctl "$@"
	fi
}
# leave no enforcement behind: the VM's own tools are not trusted
restore_audit() {
	if [ -d "$pins/exec" ]; then
		[ -n "$keeld_pid" ] || keeld_start >/dev/null 2>&1 || keeld_start "$spare" >/dev/null 2>&1
		keelctl exec mode audit >/dev/null 2>&1 ||
			{ keeld_stop; keeld_start "$spare" >/dev/null 2>&1 && keelctl exec mode audit >/dev/null 2>&1; }
	fi
	keeld_stop
}
on_exit restore_audit

# the running keeld's version, as keelctl status shows it
keeld_version() {
	keelctl status | sed -n '1s/^keeld \([^ ]*\) .*/\1/p'
}
denials() {
	cat "$T"/events.* 2>/dev/null | grep '"type":"exec.deny"' |
		sed -n 's/.*"comm":"\([^"]*\)".*"path":"\([^"]*\)".*/\1 \2/p' | sort -u
}

# --- what dpkg -r/-i of keel runs, trusted -----------------------------------
# Found, not listed by hand: keeld runs in audit mode while dpkg removes and
# installs keel (and upgrades it and goes back), and every program, library
# and script audit mode reports (exec.allow_audit: what enforce would
# refuse) is trusted with the whole package that owns it (keelctl trust
# import-dpkg), or by itself when no package does (this script); plus this
# shell and keeld and what they have mapped (they map it before keeld's
# programs are attached).  What dpkg wrote
# meanwhile (keel's files, its maintainer scripts) is trusted as the
# approved installer's.
keeld_start || die "the root's keeld did not start"
check_eq "exec runs, in audit mode" audit "$(keelctl exec mode 2>&1)"
cp /usr/bin/true "$T/x" && rm -f "$T/x"	# cp and rm, used below
check "audit: dpkg -r keel" dpkg -r keel
check "audit: dpkg -i keel ($(basename "$deb"))" dpkg -i "$deb"
if [ -n "$next" ]; then
	check "audit: dpkg -i keel ($(basename "$next"), an upgrade)" dpkg -i "$next"
	check "audit: dpkg -i keel ($(basename "$deb"), back)" dpkg -i "$deb"
fi
keep_spare
sleep 1
{
	grep -h '"type":"exec.allow_audit"' "$T"/events.* |
		sed -n 's/.*"path":"\(\/[^"]*\)".*/\1/p'
	# this shell and keeld map their libraries before any keel program
	# is attached to see it: what they have mapped
	readlink -f "/proc/$$/exe" "$0"
	awk '$6 ~ /^\// { print $6 }' "/proc/$$/maps" "/proc/$keeld_pid/maps"
} | sort -u >"$T/audited"
pkgs= loose=
while read -r f; do
	[ -f "$f" ] || continue
	# dpkg knows /lib/x86_64-linux-gnu/... where the kernel says /usr/lib/...
	p=$(dpkg -S "$f" 2>/dev/null || dpkg -S "${f#/usr}" 2>/dev/null) || p=
	if [ -n "$p" ]; then
		pkgs="$pkgs ${p%%:*}"
	else
		loose="$loose $f"
	fi
done <"$T/audited"
pkgs=$(printf '%s\n' $pkgs | sed 's/,.*//' | sort -u | tr '\n' ' ')
note "$(wc -l <"$T/audited") files reported in audit mode; packages: $pkgs; others: $loose"
check "trust import-dpkg of those packages" keelctl trust import-dpkg $pkgs
[ -z "$loose" ] || check "trust add of the others" keelctl trust add $loose
# the keeld that runs from here on is the installed one
keeld_stop
keeld_start || die "the installed keeld did not start"
check "a spare name of the running keeld, by an installer (run-installer ln)" keep_spare

# --- keel's prerm ------------------------------------------------------------
if [[ $sections == *" prerm "* ]]; then
	check "keelctl exec mode enforce" keelctl exec mode enforce || exit 1
	keeld_stop
	check "keeld stopped in enforce mode: exec's programs stay pinned ($pins/exec)" \
		test -d "$pins/exec"
	out=$(dpkg -r keel 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    | /'
	check "keeld not answering: dpkg -r keel is refused" test $rc -ne 0
	check "... by keel's prerm, saying what to do" \
		grep -qF "run 'systemctl start keeld && keelctl exec mode audit', then remove keel again" <<<"$out"
	check_eq "... keel is still installed" installed "$(status)"
	check "... and exec still enforces (pins in place)" test -d "$pins/exec"

	keeld_start || die "the installed keeld did not start over its pins"
	check_eq "keeld took its pins back, in enforce mode" enforce "$(keelctl exec mode 2>&1)"
	out=$(dpkg -r keel 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    | /'
	check "keeld answering: dpkg -r keel succeeds" test $rc -eq 0
	check_eq "... keel is removed (its configuration kept)" config-files "$(status)"
	check_eq "... the prerm switched exec to audit" audit "$(keelctl exec mode 2>&1)"
	keeld_stop
	check "... and keeld's stop (in audit mode) removed exec's pins" test ! -e "$pins/exec"
	# keel is removed: the spare keeld records the reinstall
	keeld_start "$spare" || die "the spare keeld did not start"
	check "dpkg -i keel again" dpkg -i "$deb"
	keeld_stop
	keeld_start || die "the installed keeld did not start"
	keep_spare
fi

# --- an upgrade with exec enforcing -------------------------------------------
if [[ $sections == *" upgrade "* ]]; then
	old=$(installed_version)
	new=$(dpkg-deb -f "$next" Version)
	check "keelctl exec mode enforce" keelctl exec mode enforce || exit 1
	check_eq "keeld runs keel $old" "$old" "$(keeld_version)"
	# keeld stopped (systemctl stop) in enforce mode: nobody would record
	# dpkg's files nor let the new keeld take the pins over
	keeld_stop
	out=$(dpkg -i "$next" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    | /'
	check "keeld stopped in enforce mode: dpkg -i keel $new is refused" test $rc -ne 0
	check "... by keel's prerm, saying what to do" \
		grep -qF "run 'systemctl start keeld', then upgrade keel again" <<<"$out"
	check_eq "... keel $old stays installed and configured" "installed $old" \
		"$(status) $(installed_version)"
	keeld_start
	check "... keeld starts again" test $? -eq 0
	check_eq "... it is keel $old, enforcing" "$old enforce" "$(keeld_version) $(keelctl exec mode 2>&1)"
	# what apt upgrade does: keeld runs on while dpkg unpacks the new files
	# (keel's prerm stops it only for a removal), so it records them
	out=$(dpkg -i "$next" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    | /'
	check "dpkg -i keel $new over $old succeeds with exec enforcing" test $rc -eq 0
	check_eq "... keel $new is installed and configured" "installed $new" "$(status) $(installed_version)"
	# then the postinst's `deb-systemd-invoke restart keeld`
	keeld_stop
	keeld_start
	check "keeld restarted after the upgrade" test $? -eq 0 && keep_spare
	check_eq "... it is keel $new" "$new" "$(keeld_version)"
	check_eq "... and exec still enforces" enforce "$(keelctl exec mode 2>&1)"
	cp /usr/bin/true "$T/untrusted"
	out=$("$T/untrusted" 2>&1)
	rc=$?
	check "... an untrusted program is refused ($out)" test $rc -ne 0
	check "... a trusted one runs (dpkg --version)" dpkg --version
fi

denials >"$T/denied"
[ -s "$T/denied" ] && { note "exec.deny events while enforcing:"; sed 's/^/    denied: /' "$T/denied"; }
check "switch exec back to audit" keelctl exec mode audit
keeld_stop
check "keeld's stop removed exec's pins" test ! -e "$pins/exec"
exit 0
