#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec: file systems whose content can change without keel seeing it, and
# trust bound to a file system's UUID.
#  - defaults ([exec] unstable_fs lists 9p): keeld refuses to trust a file
#    on the VM's 9p root, and refuses to switch to enforce while the root
#    is on 9p (nothing there could run, keelctl included);
#  - with 9p allowed: a script installed on an ext4 image runs in enforce,
#    and its store row carries the image's UUID; with ext4 made unstable in
#    the configuration it is refused (exec.deny reason unstable_fs) and
#    trust add refuses it;
#  - keeld stopped in audit, the image unmounted and a copy mounted from
#    the same loop device, with the script's text changed in place and a
#    new UUID (same device, inode, generation, ctime, i_version): at the
#    next start the row is not loaded as it is but re-hashed, tainted, and
#    the script does not run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd mkfs.ext4 e2fsck tune2fs losetup mount umount jq grep dd

T=$KEEL_TMP

note "defaults: 9p is one of [exec] unstable_fs"
KEELD_ALLOW_FS= keeld_conf "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
out=$("$KEELCTL" trust add /usr/bin/true 2>&1)
check "trust add of a file on the 9p root is refused" test $? -ne 0
check "... saying it is on 9p, one of [exec] unstable_fs" \
	grep -q "of type 9p, one of \[exec\] unstable_fs" <<<"$out"
echo "$out" | sed 's/^/  # /'
# Should the switch succeed, nothing on 9p could run, keelctl included: a
# way back that needs nothing from 9p (keelctl, its libraries and ld.so
# copied to tmpfs, which is not unstable, and trusted there).
mkdir -p "$T/rescue/lib"
cp "$KEELCTL" "$T/rescue/keelctl"
for l in $(ldd "$KEELCTL" | grep -o '/[^ ]*'); do cp -L "$l" "$T/rescue/lib/"; done
cp -L "$(ldd "$KEELCTL" | grep -o '/[^ ]*ld-linux[^ ]*' | head -n 1)" "$T/rescue/ld.so"
check "trust add a copy of keelctl, its libraries and ld.so on tmpfs" \
	"$KEELCTL" trust add "$T/rescue/keelctl" "$T/rescue/ld.so" "$T"/rescue/lib/*
rkeelctl() { "$T/rescue/ld.so" --library-path "$T/rescue/lib" "$T/rescue/keelctl" "$@"; }
on_exit rkeelctl exec mode audit
out=$("$KEELCTL" exec mode enforce 2>&1)
check "keelctl exec mode enforce is refused while the root is on 9p" test $? -ne 0
check "... naming 9p and allow_unstable_fs" grep -q "9p.*allow_unstable_fs" <<<"$out"
echo "$out" | sed 's/^/  # /'
check_eq "the mode stays audit" audit "$(rkeelctl exec mode)"
rkeelctl exec mode audit >/dev/null
keeld_stop

note "9p allowed (as in every other test): a script on an ext4 image"
keeld_conf "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
on_exit '"$KEELCTL" exec mode audit'
exec_trust "$KEELCTL" sh || exit 1
exec_image_script "$T"
check_eq "enforce: the installed script runs" RAN-FROM-IMAGE-AAAA "$(exec_enforced "$T/mnt/prog")"
uuid=$(tune2fs -l "$loop" | sed -n 's/^Filesystem UUID: *//p' | tr -d -)
check_eq "its store row carries the image's UUID" "$uuid" \
	"$("$KEELCTL" trust list --json | jq -r ".[] | select(.path == \"$T/mnt/prog\") | .fs_uuid")"
keeld_stop

note "ext4 made unstable in the configuration"
keeld_conf "[exec]" "trust_db = $T/trust.db" "unstable_fs = ext4"
keeld_start || die "keeld did not start"
not_ran() { echo "$1"; ! grep -q RAN-FROM-IMAGE <<<"$1"; }
check "enforce: the trusted script on ext4 is refused" not_ran "$(exec_enforced "$T/mnt/prog")"
check "exec.deny reason unstable_fs for it" \
	wait_event exec.deny "\"path\":\"$T/mnt/prog\".*\"reason\":\"unstable_fs\""
out=$("$KEELCTL" trust add "$T/mnt/prog" 2>&1)
check "trust add of it is refused" test $? -ne 0
check "... naming ext4" grep -q "of type ext4, one of \[exec\] unstable_fs" <<<"$out"
check_eq "the mode is audit" audit "$("$KEELCTL" exec mode | awk '{ print $NF }')"
keeld_stop

note "another file system on the same device: same inode and stamp, new UUID"
# keeld is stopped in audit mode: no program sees the unmount (the drop of
# test_exec_fs cannot happen), so only the UUID tells the two apart
umount "$T/mnt" && losetup -d "$loop" || die "unmount the image"
cp "$T/a.img" "$T/b.img"
off=$(grep -obUa RAN-FROM-IMAGE-AAAA "$T/b.img" | head -n 1 | cut -d: -f1)
[ -n "$off" ] || die "the script's text is not in the image"
printf 'RAN-FROM-IMAGE-BBBB' | dd of="$T/b.img" bs=1 seek="$off" conv=notrunc status=none
# tune2fs -U wants a freshly checked file system (the copy was mounted)
e2fsck -fy "$T/b.img" >/dev/null 2>&1
tune2fs -U random "$T/b.img" >/dev/null 2>&1 || die "tune2fs -U"
check "attach the changed copy to the same $loop, mount it at the same place" \
	sh -c "losetup '$loop' '$T/b.img' && mount -t ext4 '$loop' '$T/mnt'"
note "the copy: device $(stat -c %d "$T/mnt/prog"), inode $(stat -c %i "$T/mnt/prog"), ctime $(stat -c %z "$T/mnt/prog")"
keeld_conf "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
check "the row was re-hashed and tainted at start" \
	wait_event exec.taint "\"path\":\"$T/mnt/prog\".*\"reason\":\"changed while keeld was not running\""
check "enforce: the changed script on the other file system does not run" \
	not_ran "$(exec_enforced "$T/mnt/prog")"
check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
