#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec's approved installers on the Debian kernel, in enforce mode: dpkg
# (a configured installer) installs a .deb whose program, shared library
# and maintainer script's output then run, while a copy made by anyone
# else does not and a change to an installed file taints it;
# `keelctl run-installer` makes what its command writes trusted, also
# across a rename, and refuses an unprivileged caller; `keelctl trust
# import-dpkg` trusts the files of installed packages that still match
# dpkg's md5sums and reports the others.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq gcc ldd dpkg dpkg-deb setpriv md5sum

T=$KEEL_TMP
DB=$T/trust.db
SRC=$KEEL_TOP/tests/integration/exec_dpkg

keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $DB" \
	"installers = $(realpath /usr/bin/dpkg)"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"
on_exit '"$KEELCTL" exec mode audit'

refused() {
	local out
	out=$("$@" 2>&1) && { echo "ran: $out"; return 1; }
	grep -qiE "not permitted|EPERM|error while loading" <<<"$out" || { echo "$out"; return 1; }
}

# --- the package, built before any enforce ---------------------------------
P=$T/pkg
mkdir -p "$P/DEBIAN" "$P/usr/bin" "$P/usr/lib"
check "build libkdemo.so" gcc -shared -fPIC -o "$P/usr/lib/libkdemo.so" "$SRC/kdemo.c"
check "build kprog linking it" gcc -o "$P/usr/bin/kprog" "$SRC/kprog.c" -L"$P/usr/lib" -lkdemo \
	'-Wl,-rpath,$ORIGIN/../lib'
cp "$SRC/control" "$SRC/postinst" "$P/DEBIAN/"
chmod 0755 "$P/DEBIAN" "$P/DEBIAN/postinst"
check "dpkg-deb --build" dpkg-deb -Znone --root-owner-group --build "$P" "$T/kdemo.deb"

# a root and a database of its own for dpkg (the VM's / is read-only)
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" \
	"$R/var/log"
: >"$R/var/lib/dpkg/status"

# --- enroll what this test runs ----------------------------------------------
tools="bash sh cat cp chmod chown mv rm ln mkdir touch sleep grep jq seq sed head tail env cut tar dpkg dpkg-deb dpkg-split dpkg-query dpkg-trigger setpriv unshare md5sum realpath stat"
# ls itself is what the test package installs: only its libraries now
exec_trust "$KEELCTL" $tools --libs-of /usr/bin/ls
mkdir -p "$T/bin"
check "keelctl install keelctl" "$KEELCTL" install "$KEELCTL" "$T/bin/keelctl"
KEELCTL=$T/bin/keelctl

check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce

# --- dpkg, a configured installer ------------------------------------------
check "enforce: dpkg -i installs the package" dpkg --root="$R" --force-script-chrootless \
	--log="$T/dpkg.log" -i "$T/kdemo.deb"
check "exec.installer event for dpkg" wait_event exec.installer '"comm":"dpkg"'
check_eq "enforce: the installed program runs (and maps its library)" \
	"kprog: libkdemo says hello" "$("$R/usr/bin/kprog" 2>&1)"
check "the maintainer script ran" test -s "$R/postinst-ran"
check_eq "enforce: the maintainer script's copy of the program runs" \
	"kprog: libkdemo says hello" "$("$R/usr/bin/kprog-postinst" 2>&1)"
# recorded under FILE.dpkg-new or FILE, depending on who was first:
# keeld or dpkg's rename (the record follows the rename either way)
check "exec.trust event with reason installer for kprog" \
	wait_event exec.trust "\"path\":\"$R/usr/bin/kprog[.\"].*\"reason\":\"installer\""
check "trust list: kprog recorded by the installer under its final name" sh -c \
	"$KEELCTL trust list | grep -E '^trusted .* installer +$R/usr/bin/kprog\$'"
check "trust list: no FILE.dpkg-new left" sh -c "! $KEELCTL trust list | grep -q dpkg-new"
check "trust verify kprog and libkdemo.so (inode, stamp, SHA-256)" \
	"$KEELCTL" trust verify "$R/usr/bin/kprog" "$R/usr/lib/libkdemo.so"

cp "$R/usr/bin/kprog" "$R/usr/bin/kprog-copy"
check "enforce: a copy made by a non-installer is refused" refused "$R/usr/bin/kprog-copy"
cp /bin/true "$T/true-copy"
check "enforce: a non-installer copy of a trusted tool is refused" refused "$T/true-copy"

: >>"$R/usr/bin/kprog-postinst"
check "exec.taint when a non-installer opens an installed file for writing" \
	wait_event exec.taint "$R/usr/bin/kprog-postinst"
check "enforce: the modified file is refused" refused "$R/usr/bin/kprog-postinst"
check_eq "enforce: the untouched program still runs" \
	"kprog: libkdemo says hello" "$("$R/usr/bin/kprog" 2>&1)"

# --- dpkg run by anybody but root of the initial user namespace -------------
# dpkg -x needs no privilege: were it an installer, any user could make
# any file trusted.
chmod 0711 "$KEEL_TMP"
chmod 0644 "$T/kdemo.deb"
U=$T/unpriv
mkdir -p "$U"
chown 65534:65534 "$U"
check "as uid 65534: dpkg -x extracts the package" \
	setpriv --reuid=65534 --regid=65534 --clear-groups dpkg -x "$T/kdemo.deb" "$U/x"
check "  exec.install_refused: dpkg run by uid 65534 is not an installer" \
	wait_event exec.install_refused '"uid":65534,.*root of the initial user namespace'
check "enforce: the program a non-root dpkg extracted is refused" refused "$U/x/usr/bin/kprog"
check "  and its library: the installed kprog refuses to map it (LD_LIBRARY_PATH)" \
	refused env LD_LIBRARY_PATH="$U/x/usr/lib" "$R/usr/bin/kprog"
check "  nothing it extracted is in the trust store" \
	sh -c "! $KEELCTL trust list | grep -q ' $U/'"
# root of a user namespace of its own (kernel uid still 0) is not root of the system's
if unshare -U -r true 2>/dev/null; then
	check "unshare -U -r (root of a new user namespace): dpkg -x extracts the package" \
		unshare -U -r dpkg -x "$T/kdemo.deb" "$U/ns"
	check "  exec.install_refused for it too" \
		wait_event exec.install_refused '"uid":0,.*root of the initial user namespace'
	check "enforce: the program dpkg extracted in a user namespace is refused" \
		refused "$U/ns/usr/bin/kprog"
else
	note "unshare -U -r is not allowed here: user namespace case not tried"
fi

# --- keelctl run-installer ----------------------------------------------------
mkdir -p "$T/stage" "$T/dest"
check "run-installer -- sh -c 'cp /bin/true DEST'" \
	"$KEELCTL" run-installer -- sh -c "cp /bin/true $T/dest/true"
check "enforce: DEST runs" "$T/dest/true"
check "trust list: DEST recorded with source installer" sh -c \
	"$KEELCTL trust list | grep -E '^trusted .* installer +$T/dest/true\$'"
check "run-installer: written in one directory, renamed into another" \
	"$KEELCTL" run-installer -- sh -c "cp /bin/true $T/stage/t && mv $T/stage/t $T/dest/moved"
check "enforce: the renamed file runs" "$T/dest/moved"
check "trust list: recorded under the new name" sh -c \
	"$KEELCTL trust list | grep -qE ' $T/dest/moved\$'"
check_eq "run-installer exits with its command's status" 3 \
	"$("$KEELCTL" run-installer -q -- sh -c 'exit 3'; echo $?)"
printf x >>"$T/dest/true"
check "enforce: DEST modified afterwards by a non-installer is refused" refused "$T/dest/true"

# an unprivileged caller: can reach the socket, is not in the [control] group
chmod 0711 "$KEEL_TMP" "$T/bin"
out=$(setpriv --reuid=65534 --regid=65534 --groups=0 \
	"$KEELCTL" run-installer -- touch /tmp/keel-unpriv-ran 2>&1)
status=$?
check "an unprivileged user cannot use run-installer" test "$status" -ne 0
check "  and keeld says why" grep -q "needs root or the \[control\] group" <<<"$out"
check "  and the command did not run" test ! -e /tmp/keel-unpriv-ran

# --- keelctl trust import-dpkg ------------------------------------------------
# a fake package database: one good file, one altered, one missing, a symlink
F=$T/froot
A=$T/fadmin
mkdir -p "$F/usr/bin" "$A/info"
cp /bin/true "$F/usr/bin/good"
cp /bin/true "$F/usr/bin/bad"
ln -s good "$F/usr/bin/link"
m=$(md5sum </bin/true | cut -d' ' -f1)
printf '%s  usr/bin/good\n%s  usr/bin/bad\n%s  usr/bin/gone\n%s  usr/bin/link\n' \
	"$m" "$m" "$m" "$m" >"$A/info/fakepkg.md5sums"
printf x >>"$F/usr/bin/bad"
out=$("$KEELCTL" trust import-dpkg --admindir "$A" --root "$F" --json)
status=$?
check_eq "import-dpkg (fake database): exit 1, some files not trusted" 1 "$status"
check_eq "  summary: trusted, mismatched, missing, skipped" "1 1 1 1" \
	"$(jq -r '"\(.trusted) \(.mismatched) \(.missing) \(.skipped)"' <<<"$out")"
check "  the altered file is reported as a mismatch" \
	jq -e ".problems[] | select(.problem == \"mismatch\" and .path == \"$F/usr/bin/bad\")" <<<"$out"
check "enforce: the matching file runs" "$F/usr/bin/good"
check "enforce: the altered file is refused" refused "$F/usr/bin/bad"

# the host's own packages: coreutils's /usr/bin/*.  The VM hides the
# host's /var (tmpfs), so without its database a stand-in lists the real
# files with md5s taken here: the same import, of real files under /.
check "enforce: /usr/bin/ls is refused before the import" refused /usr/bin/ls /
D=/var/lib/dpkg
if [ ! -r $D/info/coreutils.md5sums ]; then
	D=$T/hostdb
	mkdir -p $D/info
	(cd / && md5sum usr/bin/ls usr/bin/cat usr/bin/date usr/bin/sort usr/bin/wc) \
		>$D/info/coreutils.md5sums
	note "no /var/lib/dpkg here: coreutils.md5sums made from the files themselves"
fi
out=$("$KEELCTL" trust import-dpkg --admindir "$D" coreutils 2>&1)
status=$?
check "import-dpkg coreutils ran (1: a file differs from dpkg's md5)" test "$status" -le 1
note "$(tail -1 <<<"$out")"
check "enforce: /usr/bin/ls runs after the import" /usr/bin/ls /
check "trust list: /usr/bin/ls with source dpkg" sh -c \
	"$KEELCTL trust list | grep -qE '^trusted .* dpkg +$(realpath /usr/bin/ls)\$'"

# --- a restart: what installers wrote comes back from the store -------------
"$KEELCTL" exec mode audit >/dev/null
keeld_stop
# and a small limit, to see what happens beyond it
keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $DB" \
	"installers = $(realpath /usr/bin/dpkg)" "max_installing = 16"
keeld_start || die "keeld did not restart"
check "after a restart: trust verify of the package's files, its maintainer script (renamed across directories by dpkg) and run-installer's renamed file" \
	"$KEELCTL" trust verify "$R/usr/bin/kprog" "$R/usr/lib/libkdemo.so" \
	"$R/var/lib/dpkg/info/keel-kdemo.postinst" "$T/dest/moved"
check_eq "exec.loaded: no record had to be re-hashed or was tainted" "0 0" \
	"$("$KEELCTL" events --type exec.loaded | tail -1 | jq -r '"\(.rehashed) \(.tainted)"')"
mkdir -p "$T/lim"
"$KEELCTL" run-installer -q -- bash -c "for i in \$(seq 1 20); do exec {fd}>$T/lim/f\$i; done"
check_eq "max_installing = 16: 4 of 20 files held open at once are refused, with an event" 4 \
	"$("$KEELCTL" events --type exec.install_refused | grep -c 'raise \[exec\] max_installing')"
check_eq "  and only the 16 tracked ones are trusted" 16 \
	"$("$KEELCTL" trust list | grep -c " $T/lim/f")"
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce
check_eq "enforce after the restart: the installed program runs" \
	"kprog: libkdemo says hello" "$("$R/usr/bin/kprog" 2>&1)"

check "no exec.install_failed events" sh -c "! $KEELCTL events --type exec.install_failed | grep -q ."
