#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keel.ko loads, creates /dev/keel, answers KEEL_IOC_VERSION, unloads, and
# the kernel log stays free of warnings.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd insmod rmmod modinfo dmesg
[ "$(cat /proc/sys/kernel/modules_disabled 2>/dev/null)" = 1 ] &&
	skip "module loading is disabled on this kernel"

ko=$KEEL_KO
kver=$(uname -r)
if [ ! -f "$ko" ]; then
	[ -d "/lib/modules/$kver/build" ] || skip "no $ko and no headers for $kver to build it"
	note "building keel.ko (make kmod)"
	make -s -C "$KEEL_TOP" kmod KVER="$kver" >"$KEEL_TMP/make.log" 2>&1 ||
		{ cat "$KEEL_TMP/make.log"; die "make kmod"; }
fi
vermagic=$(modinfo -F vermagic "$ko" | awk '{ print $1 }')
[ "$vermagic" = "$kver" ] ||
	skip "keel.ko is built for $vermagic, the running kernel is $kver"

helper=$(built_helper keel_version) || exit 1

if grep -q '^keel ' /proc/modules; then
	note "keel is loaded already; unloading it first"
	unload_keel_ko
fi

dmesg_new() {	# kernel messages since the test started
	dmesg | tail -n +$((dmesg_start + 1))
}
dmesg_start=$(dmesg | wc -l)
on_exit 'grep -q "^keel " /proc/modules && rmmod keel'

check "insmod keel.ko" insmod "$ko"
check "keel is in /proc/modules" grep -q '^keel ' /proc/modules
for _ in $(seq 50); do [ -c /dev/keel ] && break; sleep 0.1; done
check "/dev/keel is a character device" test -c /dev/keel
check_eq "/dev/keel mode" 600 "$(stat -c %a /dev/keel 2>/dev/null)"
check_eq "/dev/keel owner" root "$(stat -c %U /dev/keel 2>/dev/null)"
out=$("$helper" /dev/keel 2>&1)
check "KEEL_IOC_VERSION works and unknown ioctls fail with ENOTTY" test $? -eq 0
note "keel_version: $out"
abi=$(sed -n 's/^#define KEEL_ABI_VERSION \([0-9]*\).*/\1/p' "$KEEL_TOP/include/keel/keel_uapi.h")
check_eq "ioctl version" "abi=$abi flags=0 version=$(modinfo -F version "$ko")" "$out"
check_eq "sysfs module version" "$(modinfo -F version "$ko")" "$(cat /sys/module/keel/version 2>/dev/null)"
check "load message in dmesg" sh -c "dmesg | tail -n +$((dmesg_start + 1)) | grep -q 'keel: loaded'"

check "rmmod keel" rmmod keel
check "keel is gone from /proc/modules" sh -c '! grep -q "^keel " /proc/modules'
for _ in $(seq 50); do [ -e /dev/keel ] || break; sleep 0.1; done
check "/dev/keel is gone" test ! -e /dev/keel
check "unload message in dmesg" sh -c "dmesg | tail -n +$((dmesg_start + 1)) | grep -q 'keel: unloaded'"
dmesg_new >"$KEEL_TMP/dmesg"
check "no WARNING, BUG, Oops or call trace in dmesg" \
	sh -c "! grep -E 'WARNING|BUG|Oops|Call Trace|general protection' '$KEEL_TMP/dmesg'"
sed 's/^/  # dmesg: /' "$KEEL_TMP/dmesg"
