#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec, refused metadata changes: uid 65534 repeating changes the kernel
# refuses on a trusted root-owned file (chmod, chown, utimes with explicit
# times, user.* and security.* attributes, removing security.capability, a
# POSIX ACL, file flags) never makes the file unusable for root meanwhile:
# every PROT_EXEC mapping and every run of it succeeds, in enforce mode, on
# ext4; the file stays trusted afterwards.  (A change the kernel makes
# still taints: test_exec_writes.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd mkfs.ext4

T=$KEEL_TMP
bin=$(built_helper exec_attack_helper) || exit 1
mkdir -p "$T/bin" "$T/ext4"
truncate -s 32M "$T/ext4.img"
check "mkfs.ext4 on a loop image (user.* attributes, ACLs, file flags)" \
	mkfs.ext4 -q -F "$T/ext4.img" || exit 1
check "mount it" mount -o loop "$T/ext4.img" "$T/ext4" || exit 1
on_exit umount "$T/ext4"

keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"
on_exit '"$KEELCTL" exec mode audit'

tools="bash sh cat grep jq sed"
exec_trust "$KEELCTL" $tools || exit 1
check "keelctl install keelctl, the helper and a copy of true on ext4" sh -c \
	"$KEELCTL install $KEELCTL $T/bin/keelctl && $KEELCTL install $bin $T/bin/helper &&
	 $KEELCTL install /bin/true $T/ext4/victim"
KEELCTL=$T/bin/keelctl
H=$T/bin/helper
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce || exit 1

for op in fchmod fchown futimes fsetxattr-user fsetxattr-security fremovecap setacl setflags; do
	out=$("$H" race "$op" "$T/ext4/victim" 3000)
	rc=$?
	note "$out"
	check_eq "$op refused to uid 65534, repeated: root maps and runs the file every time" \
		0 "$rc"
done
check "the file still runs" "$T/ext4/victim"
check_eq "no exec.taint event" 0 "$("$KEELCTL" events --type exec.taint | grep -c victim)"
check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
