#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec, mmap_file: a shared writable mapping of a trusted file that the
# kernel refuses (the descriptor is read-only: EACCES), by uid 65534 or by
# root, leaves the file trusted, with no exec.taint event, and it still
# runs in enforce mode; one the kernel allows (a descriptor open for
# writing) taints it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd

T=$KEEL_TMP
bin=$(built_helper exec_attack_helper) || exit 1
mkdir -p "$T/bin"
chmod 0755 "$T"

keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"
on_exit '"$KEELCTL" exec mode audit'

tools="bash sh cat grep jq sleep stat sed seq"
exec_trust "$KEELCTL" $tools || exit 1
check "keelctl install keelctl, the helper and two copies of true" sh -c \
	"$KEELCTL install $KEELCTL $T/bin/keelctl && $KEELCTL install $bin $T/bin/helper &&
	 $KEELCTL install /bin/true $T/bin/victim && $KEELCTL install /bin/true $T/bin/written"
KEELCTL=$T/bin/keelctl
H=$T/bin/helper
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce || exit 1

ino() { stat -c %i "$1"; }
taints_of() {
	"$KEELCTL" events --type exec.taint | grep -c "\"inode\":$1[,}]"
}

check "uid 65534: MAP_SHARED PROT_WRITE of the trusted victim is refused by the kernel" \
	"$H" mmap-shared-write "$T/bin/victim" nobody
check "root: the same from a read-only descriptor is refused by the kernel" \
	"$H" mmap-shared-write "$T/bin/victim"
check "  the victim still runs in enforce mode" "$T/bin/victim"
check_eq "  no exec.taint event for it" 0 "$(taints_of "$(ino "$T/bin/victim")")"

# the same kind of mapping, allowed: a descriptor open for writing
w=$(ino "$T/bin/written")
check "root: MAP_SHARED PROT_WRITE from a read-write descriptor" \
	"$H" mmap-shared-write "$T/bin/written" rw
check "  the written file is refused afterwards" bash -c "! $T/bin/written 2>/dev/null"
check "  and has an exec.taint event" wait_event exec.taint "\"inode\":$w[,}]" ||
	"$KEELCTL" events --type exec.taint | sed 's/^/    | /'
check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
