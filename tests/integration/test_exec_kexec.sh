#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec: code the kernel loads for itself or for a device.  In enforce mode
# kexec_file_load refuses a kernel image that was never installed (EPERM,
# exec.deny op kexec) and loads a trusted copy (unloaded at once: nothing
# is ever booted); kexec_load (segments from memory, no file to check) is
# refused (op kexec_from_memory) unless [exec] allow_kexec_load; a firmware
# file requested by a driver (lib/test_firmware.ko, from a firmware_class
# path under the test's directory) is refused unless trusted (op
# firmware).  Audit mode allows and reports.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq modprobe

T=$KEEL_TMP
kernel=/boot/vmlinuz-$(uname -r)
[ -r "$kernel" ] || skip "no $kernel to load"
bin=$(built_helper exec_kexec_helper) || exit 1
mkdir -p "$T/fw"
fwdir=/sys/devices/virtual/misc/test_firmware
fwpath=/sys/module/firmware_class/parameters/path
modprobe test_firmware 2>/dev/null && on_exit 'rmmod test_firmware'
old_fwpath=$(cat "$fwpath" 2>/dev/null)
on_exit 'printf "%s" "$old_fwpath" >"$fwpath"'

start() {	# CONF-LINES...: (re)start keeld with them, in audit mode
	# a stop in audit mode removes the pins: nothing stays enforcing if the start fails
	[ -n "$KEELD_PID" ] && "$KEELCTL" exec mode audit >/dev/null
	keeld_stop
	keeld_conf "[events]" "backlog = 1024" "[exec]" "trust_db = $T/trust.db" "$@"
	keeld_start || die "keeld did not start"
}
start
on_exit '"$KEELCTL" exec mode audit'

# keeld, keelctl, the tools; the helper is installed below: its libraries
exec_trust "$KEELCTL" "$KEELD" sh grep seq sleep head cp cat --libs-of "$bin" || exit 1
check "keelctl install the helper" "$KEELCTL" install "$bin" "$T/kexec"
check "keelctl install a copy of $kernel" "$KEELCTL" install "$kernel" "$T/vmlinuz-trusted"
cp "$kernel" "$T/vmlinuz-untrusted"
EPERM="errno 1 (Operation not permitted)"

check_eq "audit: kexec_file_load of an untrusted kernel is allowed" ok \
	"$("$T/kexec" file "$T/vmlinuz-untrusted")"
check "audit: exec.allow_audit op kexec for it" wait_event exec.allow_audit '"op":"kexec"'
check_eq "audit: kexec_load is allowed" ok "$("$T/kexec" mem)"
check "audit: exec.allow_audit op kexec_from_memory" \
	wait_event exec.allow_audit '"op":"kexec_from_memory"'

check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce || exit 1
check_eq "enforce: kexec_file_load of an untrusted kernel is refused" "$EPERM" \
	"$("$T/kexec" file "$T/vmlinuz-untrusted")"
check "enforce: exec.deny op kexec names it" \
	wait_event exec.deny "\"path\":\"$T/vmlinuz-untrusted\".*\"op\":\"kexec\""
check_eq "enforce: kexec_file_load of a trusted kernel loads (then unloaded)" ok \
	"$("$T/kexec" file "$T/vmlinuz-trusted")"
check_eq "enforce: kexec_load is refused" "$EPERM" "$("$T/kexec" mem)"
check "enforce: exec.deny op kexec_from_memory reason no_file" \
	wait_event exec.deny '"op":"kexec_from_memory".*"reason":"no_file"'

if [ -w "$fwdir/trigger_request" ] && [ -w "$fwpath" ]; then
	printf '%s' "$T/fw" >"$fwpath"
	head -c 4096 /dev/urandom >"$T/fw-src"
	cp "$T/fw-src" "$T/fw/keel-untrusted.bin"
	"$KEELCTL" install "$T/fw-src" "$T/fw/keel-trusted.bin" >/dev/null
	fw() { printf '%s' "$1" >"$fwdir/trigger_request" 2>/dev/null && echo loaded || echo failed; }
	check_eq "enforce: an untrusted firmware file is refused to the driver" failed \
		"$(fw keel-untrusted.bin)"
	check "enforce: exec.deny op firmware names it" \
		wait_event exec.deny "\"path\":\"$T/fw/keel-untrusted.bin\".*\"op\":\"firmware\""
	check_eq "enforce: a trusted firmware file loads" loaded "$(fw keel-trusted.bin)"
else
	note "no test_firmware module: firmware loads not exercised"
fi

note "[exec] allow_kexec_load = true, check_firmware = false"
start "allow_kexec_load = true" "check_firmware = false"
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce || exit 1
check_eq "enforce, allow_kexec_load: kexec_load is allowed" ok "$("$T/kexec" mem)"
check_eq "enforce, allow_kexec_load: kexec_file_load of an untrusted kernel still refused" \
	"$EPERM" "$("$T/kexec" file "$T/vmlinuz-untrusted")"
if [ -w "$fwdir/trigger_request" ]; then
	check_eq "enforce, check_firmware = false: the untrusted firmware loads" loaded \
		"$(fw keel-untrusted.bin)"
fi
