#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The VM harness (tests/vm/run) gives tests the machine they expect.
. "$(dirname "$0")/lib.sh"
need_vm
need_root

mount_field() {	# mount_field MOUNTPOINT FIELD(3=type,4=options)
	awk -v m="$1" -v f="$2" '$2 == m { v = $f } END { print v }' /proc/self/mounts
}
writable() {
	local f="$1/.keel-write-test.$$"
	echo x >"$f" && [ "$(cat "$f")" = x ] && rm -f "$f"
}

check "root file system is read-only" \
	sh -c "mount_opts='$(mount_field / 4)'; case ,\$mount_opts, in *,ro,*) exit 0;; esac; exit 1"
check "cannot write to /etc" sh -c '! touch /etc/.keel-write-test 2>/dev/null'
for d in /tmp /run /var /var/tmp; do
	check "$d is writable" writable "$d"
done
check "the checkout ($KEEL_TOP) is writable" writable "$KEEL_TOP"
mkdir -p "$KEEL_BUILD"
check "build/ is writable" writable "$KEEL_BUILD"
check_eq "the working directory is the checkout" "$KEEL_TOP" "$(pwd -P)"

check_eq "/sys/fs/bpf file system" bpf "$(mount_field /sys/fs/bpf 3)"
check_eq "/sys/fs/cgroup file system" cgroup2 "$(mount_field /sys/fs/cgroup 3)"
check_eq "/sys/kernel/tracing file system" tracefs "$(mount_field /sys/kernel/tracing 3)"
check_eq "/sys/kernel/debug file system" debugfs "$(mount_field /sys/kernel/debug 3)"
check_eq "/sys/kernel/security file system" securityfs "$(mount_field /sys/kernel/security 3)"
check "bpf is in the active LSM list" \
	sh -c 'tr , "\n" </sys/kernel/security/lsm | grep -qx bpf'
note "lsm: $(cat /sys/kernel/security/lsm 2>/dev/null)"

kver=$(uname -r)
check "kernel $kver is an installed Debian kernel" \
	sh -c "[ -f /boot/vmlinuz-$kver ] && [ -d /lib/modules/$kver/kernel ] && uname -v | grep -q Debian"
check "kernel has BTF" test -r /sys/kernel/btf/vmlinux
kprobe_try() {
	echo "p:keel_harness_test $1" >>/sys/kernel/tracing/kprobe_events &&
		echo "-:keel_harness_test" >>/sys/kernel/tracing/kprobe_events
}
check "a kprobe can be placed (on vfs_read)" kprobe_try vfs_read
check "module loading is enabled" \
	sh -c '[ "$(cat /proc/sys/kernel/modules_disabled)" = 0 ]'
check "lo is up" sh -c 'ip -o link show lo | grep -q "[<,]UP[,>]"'
check "scratch disk ${KEEL_VM_SCRATCH:-/dev/vda} is a block device" test -b "${KEEL_VM_SCRATCH:-/dev/vda}"
check "loop devices are available" test -c /dev/loop-control
