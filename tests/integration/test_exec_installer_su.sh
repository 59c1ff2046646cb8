#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec, installers and user changes: a process of an installer's tree that
# becomes another, non-root user (setpriv --reuid, su) is no installer any
# more: the files it writes are not trusted, while what the rest of the
# tree writes (before and after, as root) is; a process that only changes
# its group, or changes its uid to 0, stays an installer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
need_root
need_vm
need_cmd jq setpriv su

T=$KEEL_TMP
D=$T/out
mkdir -p "$D"
chmod 0755 "$T"
chmod 1777 "$D"
keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"

trusted() { "$KEELCTL" trust list | grep -q " $1\$"; }
untrusted() { ! trusted "$1"; }

check "run-installer: root writes a copy, setpriv to uid 65534 writes one, root writes another" \
	"$KEELCTL" run-installer -q -- sh -c "cp /bin/true $D/root1 &&
	 setpriv --reuid=65534 --regid=65534 --clear-groups cp /bin/true $D/setpriv &&
	 cp /bin/true $D/root2"
check "  root's first copy is trusted" trusted "$D/root1"
check "  the copy written as uid 65534 (setpriv) is not" untrusted "$D/setpriv"
check "  root's copy written after it is trusted" trusted "$D/root2"

check "run-installer: su -s /bin/sh nobody -c 'cp ...'" \
	"$KEELCTL" run-installer -q -- su -s /bin/sh nobody -c "cp /bin/true $D/su"
check "  the copy written as nobody (su) is not trusted" untrusted "$D/su"
check "  exec.install_refused says the process changed to a non-root user" \
	wait_event exec.install_refused "non-root user"

check "run-installer: setpriv to group 65534 only, and to uid 0" \
	"$KEELCTL" run-installer -q -- sh -c "
	 setpriv --regid=65534 --clear-groups cp /bin/true $D/gid &&
	 setpriv --reuid=0 cp /bin/true $D/uid0"
check "  the copy written after a group change is trusted" trusted "$D/gid"
check "  the copy written after setuid(0) is trusted" trusted "$D/uid0"
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
