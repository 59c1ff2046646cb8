#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vmnet's KVM lifecycle source in the VM (Debian 6.1, kprobes attach):
# started before kvm is loaded, keeld says it uses the uevents; when kvm is
# loaded it attaches its kprobes and says so (vmnet.kvm_source, keelctl
# status).  Where /dev/kvm exists (TCG may emulate SVM/VMX), a VM created
# and destroyed with KVM_CREATE_VM + close raises vm.create and vm.destroy
# from the kprobes with the creating pid and comm (asserted wherever
# /dev/kvm exists; a SKIP line where it does not).  When kvm is unloaded,
# keeld falls back to the uevents.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
need_root
need_vm
need_cmd jq modprobe
helper=$KEEL_BUILD/tests/kvm_vm
[ -x "$helper" ] || skip "build/tests/kvm_vm is missing: run make"
[ "$(cat /proc/sys/kernel/modules_disabled 2>/dev/null)" = 1 ] &&
	skip "module loading is disabled on this kernel"

case $(grep -o -m1 -w 'svm\|vmx' /proc/cpuinfo) in
svm) vendor=kvm_amd ;;
vmx) vendor=kvm_intel ;;
*) vendor= ;;
esac
note "CPU virtualization flag: ${vendor:-none} ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2))"
for m in kvm_amd kvm_intel kvm; do modprobe -r $m 2>/dev/null; done

# lib.sh has a quiet wait_until; this one ends with a last try whose output shows
wait_until() {	# SECS CMD...: retry every 50 ms
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	"$@"
}
# ev_any TYPE FILTER: some event of TYPE satisfies the jq FILTER; fails
# when none came (jq 1.6 -e exits 0 on empty input: "grep | jq -e" cannot)
ev_any() {
	grep -hF "\"type\":\"$1\"" "$KEELD_EVENTS" | jq -s -e "any(.[]; $2)" >/dev/null
}
# destroyed PID: a vm.destroy from the kprobe for the VM PID created
destroyed() {
	local id
	id=$(grep -hF '"type":"vm.create"' "$KEELD_EVENTS" | jq -r "select(.pid == $1) | .vm_id" | head -n 1)
	[ -n "$id" ] && ev_any vm.destroy ".pid == $1 and .vm_id == \"$id\" and .source == \"kprobe\""
}
kvm_source() {
	"$KEELCTL" status --json | jq -r '[.. | .kvm_source? // empty] | .[0]'
}
keeld_conf "[exec]" "enabled = false" "[blk]" "enabled = false" "[kmod]" "enabled = false" \
	"[vmnet]" "inventory_dir = $KEEL_TMP/inv" "state_file = $KEEL_TMP/vmnet.state"
mkdir -p "$KEEL_TMP/inv"
keeld_start || die "keeld did not start"
check_eq "kvm not loaded: keeld uses the uevents (keelctl status kvm_source)" uevent "$(kvm_source)"
check "... and says why (vmnet.kvm_source)" \
	ev_any vmnet.kvm_source '.reason | test("not loaded")'

if ! modprobe kvm; then
	note "modprobe kvm failed: no kprobe target in this kernel"
	keeld_stop
	check_eq "keeld exits 0" 0 "$KEELD_STATUS"
	exit 0
fi
[ -n "$vendor" ] && { modprobe $vendor 2>"$KEEL_TMP/modprobe.err" ||
	note "modprobe $vendor: $(tail -1 "$KEEL_TMP/modprobe.err")"; }
on_exit 'for m in kvm_amd kvm_intel kvm; do modprobe -r $m 2>/dev/null; done'
note "KVM functions in kallsyms: $(grep -ow 'kvm_create_vm\|kvm_destroy_vm\|kvm_arch_init_vm\|kvm_arch_destroy_vm\|kvm_vm_release\|kvm_dev_ioctl' /proc/kallsyms | sort -u | tr '\n' ' ')"
check "kvm loaded: keeld attaches its kprobes (kvm_source kprobe)" \
	wait_until 10 sh -c "[ \"\$('$KEELCTL' status --json | jq -r '[.. | .kvm_source? // empty] | .[0]')\" = kprobe ]"
src=$(grep '"type":"vmnet.kvm_source"' "$KEELD_EVENTS" | tail -1)
note "vmnet.kvm_source: $src"
check "vmnet.kvm_source names the probed functions" \
	sh -c "echo '$src' | jq -s -e 'length == 1 and (.[0] | .source == \"kprobe\" and (.create | length) > 0 and (.destroy | length) > 0)'"

# where /dev/kvm exists a VM must be created and both probes must fire
if [ ! -c /dev/kvm ]; then
	echo "  SKIP: vm.create/vm.destroy from the kprobes: /dev/kvm does not exist (${vendor:-no SVM/VMX}: no vendor module loaded); the kprobes' attachment is checked"
else
	pid=$("$helper" 300 2>"$KEEL_TMP/kvm.err")
	check "/dev/kvm exists: kvm_vm creates a VM (KVM_CREATE_VM) and closes it${pid:+ (pid $pid)}" \
		sh -c "[ -n '$pid' ] || { cat '$KEEL_TMP/kvm.err'; exit 1; }"
	check "vm.create from the kprobe with the creator's pid $pid and comm" \
		wait_until 5 ev_any vm.create ".pid == ${pid:-0} and .by_pid == ${pid:-0} and .comm == \"kvm_vm\" and .source == \"kprobe\""
	check "vm.destroy from the kprobe for the same VM (pid, vm_id)" \
		wait_until 5 destroyed "${pid:-0}"
	check_eq "each reported once (no uevent duplicate)" 2 \
		"$(grep '"type":"vm.\(create\|destroy\)"' "$KEELD_EVENTS" | jq -c "select(.pid == ${pid:-0})" | wc -l)"
	note "$(grep '"type":"vm.\(create\|destroy\)"' "$KEELD_EVENTS" | jq -c "select(.pid == ${pid:-0}) | {type, pid, by_pid, comm, vm_id, function}" | tr '\n' ' ')"
fi

for m in kvm_amd kvm_intel kvm; do modprobe -r $m 2>/dev/null; done
if ! grep -q '^kvm ' /proc/modules; then
	check "kvm unloaded: keeld falls back to the uevents" \
		wait_until 5 sh -c "[ \"\$('$KEELCTL' status --json | jq -r '[.. | .kvm_source? // empty] | .[0]')\" = uevent ]"
fi
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
