#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec's configured installers are files, not paths, on the Debian kernel:
# another trusted program bind-mounted over an installer's path is not an
# installer (what it writes stays untrusted), while the installer itself
# reinstalled at its path (a new inode) still is.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd mount umount

T=$KEEL_TMP
mkdir -p "$T/bin"
keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db" \
	"installers = $T/bin/inst-sh"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"
[ -e "$KEELD_PINS/exec/exec_installer_inodes" ] ||
	skip "this build's bpf/exec.bpf.c matches installers by path (no exec_installer_inodes)"
on_exit '"$KEELCTL" exec mode audit'

refused() {
	local out
	out=$("$@" 2>&1) && { echo "ran: $out"; return 1; }
	grep -qiE "not permitted" <<<"$out" || { echo "$out"; return 1; }
}

tools="bash sh cat cp rm sleep grep jq seq sed head realpath mount umount"
exec_trust "$KEELCTL" $tools --libs-of "$KEELD"
bash=$(realpath "$(command -v bash)")
check "keelctl install keeld, keelctl, the installer (a copy of bash) and another copy of bash" \
	sh -c "$KEELCTL install $KEELD $T/bin/keeld && $KEELCTL install $KEELCTL $T/bin/keelctl &&
	 $KEELCTL install $bash $T/bin/inst-sh && $KEELCTL install $bash $T/bin/other-sh"
keeld_stop
KEELD=$T/bin/keeld
KEELCTL=$T/bin/keelctl
keeld_start || die "the installed keeld did not start"
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce

check "the installer writes a program" "$T/bin/inst-sh" -c "cp /bin/true $T/bin/out1"
check "  which runs" "$T/bin/out1"

mount --bind "$T/bin/other-sh" "$T/bin/inst-sh" || die "bind mount"
check "another trusted program bind-mounted at the installer's path writes a program" \
	"$T/bin/inst-sh" -c "cp /bin/true $T/bin/out2"
check "  which is refused: that program is not the installer" refused "$T/bin/out2"
check "  and not in the trust store" sh -c "! $KEELCTL trust list | grep -q ' $T/bin/out2\$'"
umount "$T/bin/inst-sh"

check "the installer reinstalled at its path (a new inode)" "$KEELCTL" install "$bash" "$T/bin/inst-sh"
check "  still is the installer" "$T/bin/inst-sh" -c "cp /bin/true $T/bin/out3"
check "  what it writes runs" "$T/bin/out3"
check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
