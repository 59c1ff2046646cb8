#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec: trust ends with its file system.  A script installed on an ext4
# image mounted from a loop device runs in enforce mode; the image is
# unmounted and a copy of it, whose script's text was changed in place
# (same inode, generation, ctime and i_version: the key and stamp keel
# recorded), is mounted at the same place from the same loop device
# (same device number).  Its script must be refused, with an exec.taint
# op unmount and the store row tainted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd mkfs.ext4 losetup mount umount jq grep dd

T=$KEEL_TMP
keeld_conf "[events]" "backlog = 1024" "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
on_exit '"$KEELCTL" exec mode audit'
exec_trust "$KEELCTL" sh || exit 1
exec_image_script "$T"
check_eq "enforce: the installed script runs" RAN-FROM-IMAGE-AAAA "$(exec_enforced "$T/mnt/prog")"
check "unmount the image, detach $loop" sh -c "umount '$T/mnt' && losetup -d '$loop'"
check "exec.taint op unmount for the image's device" wait_event exec.taint '"op":"unmount"'
check "the store row is tainted" sh -c "'$KEELCTL' trust list | grep '^tainted' | grep -q '$T/mnt/prog'"

# a copy with the script's text changed in place: no metadata moves
cp "$T/a.img" "$T/b.img"
off=$(grep -obUa RAN-FROM-IMAGE-AAAA "$T/b.img" | head -n 1 | cut -d: -f1)
[ -n "$off" ] || die "the script's text is not in the image"
printf 'RAN-FROM-IMAGE-BBBB' | dd of="$T/b.img" bs=1 seek="$off" conv=notrunc status=none
check "attach the changed copy to the same $loop, mount it at the same place" \
	sh -c "losetup '$loop' '$T/b.img' && mount -t ext4 '$loop' '$T/mnt'"
note "device of the copy: $(stat -c %d "$T/mnt/prog"), inode $(stat -c %i "$T/mnt/prog")"
not_ran() { echo "$1"; ! grep -q RAN-FROM-IMAGE <<<"$1"; }
check "enforce: the changed script on the new file system does not run" \
	not_ran "$(exec_enforced "$T/mnt/prog")"
check "exec.deny for it" wait_event exec.deny "\"path\":\"$T/mnt/prog\""
