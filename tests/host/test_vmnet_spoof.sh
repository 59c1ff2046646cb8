#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vmnet learning and its guard: a VM port (veth vnet*) whose guest learns an
# address from its own frames, then spoofs another VM's inventory address
# (gratuitous ARP) and another VM's MAC: neither is whitelisted, both are
# reported as vm.conflict.  Also the KVM lifecycle source: a QEMU started
# with KVM raises vm.create and vm.destroy (SKIP where /dev/kvm is absent).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq nsenter python3

vmnet_topo_up || die "setting up the namespaces"
echo "vm1 $VM_MAC $VM_IP" >"$KEEL_TMP/inv/vms"
vmnet_keeld_conf b "learn = any"	# the default policy: test_vmnet_learn.sh
vmnet_keeld_start b || die "keeld on host B did not start"
kvm_src=$(events_in b vmnet.kvm_source | tail -1 | jq -r '.source // empty')
note "KVM lifecycle source: $(events_in b vmnet.kvm_source | tail -1)"
check "B: keeld says which KVM lifecycle source it uses (vmnet.kvm_source)" test -n "$kvm_src"
check "B: ... and keelctl status says the same (kvm_source $kvm_src)" \
	kc_jq b "[.. | .kvm_source? // empty] | .[0] == \"$kvm_src\"" status --json
G=keel-vmG-$VMNET_ID
on_exit "ip netns del $G"
ip netns add "$G"
SPOOF_MAC=52:54:00:77:00:99
ip -n "$NS_B" link add vnetS type veth peer name eth0 netns "$G"
ip -n "$G" link set eth0 address $SPOOF_MAC up
ip -n "$NS_B" link set vnetS master br0 up
check "B: vnetS becomes a VM port" wait_until 5 sh -c "grep -q '\"port\":\"vnetS\"' '$KEEL_TMP/b.events'"
check "B: ... a veth, the guest's frames on its ingress" \
	ev_any b vmnet.port_add '.port == "vnetS" and .kind == "veth" and .guest_frames == "ingress"'
ip -n "$NS_B" link add vnetV type veth peer name eth1 netns "$G"
ip -n "$G" link set eth1 address $VM_MAC up
ip -n "$NS_B" link set vnetV master br0 up
wait_until 5 sh -c "grep -q '\"port\":\"vnetV\"' '$KEEL_TMP/b.events'"
in_ns $G python3 "$FRAME" eth1 rarp $VM_MAC
check "B: vm1 arrives on vnetV, $VM_IP whitelisted" wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]"

in_ns $G python3 "$FRAME" eth0 ipsrc $SPOOF_MAC 10.77.0.99
check "B: an address seen on the guest's own port is learned and whitelisted" \
	wait_until 5 kc_jq b ".ips[] | select(.ip == \"10.77.0.99\") | .mac == \"$SPOOF_MAC\"" eni list --json
check "B: vm.learn says source ip" ev_any b vm.learn '.ip == "10.77.0.99" and .source == "ip"'

in_ns $G python3 "$FRAME" eth0 garp $SPOOF_MAC $VM_IP
check "B: a gratuitous ARP for vm1's address from another port is a vm.conflict" \
	wait_until 5 ev_any b vm.conflict ".ip == \"$VM_IP\" and .mac == \"$SPOOF_MAC\""
check "B: $VM_IP still belongs to vm1's MAC" \
	kc_jq b "[.ips[] | select(.ip == \"$VM_IP\")] | length == 1 and .[0].mac == \"$VM_MAC\"" eni list --json
check "B: the spoofer has only its own address" \
	kc_jq b ".[] | select(.mac == \"$SPOOF_MAC\") | [.ips[].ip] == [\"10.77.0.99\"]" vm list --json

in_ns $G python3 "$FRAME" eth0 ipsrc $VM_MAC 10.77.0.98
check "B: vm1's MAC on another port is a vm.conflict" \
	wait_until 5 ev_any b vm.conflict ".mac == \"$VM_MAC\" and .port == \"vnetS\""
check "B: ... that does not move vm1 from vnetV" \
	kc_jq b ".[] | select(.mac == \"$VM_MAC\") | .port == \"vnetV\"" vm list --json
check_eq "B: 10.77.0.98 was not whitelisted" none "$(wl_state b 10.77.0.98)"

ip -n "$NS_B" link del vnetV
check "B: vnetV removed: vm1 departs (port_gone)" \
	wait_until 5 ev_any b vm.depart ".mac == \"$VM_MAC\" and .reason == \"port_gone\""
check "B: ... and $VM_IP leaves after the grace period" \
	wait_until 5 kc_jq b "[.ips[] | select(.ip == \"$VM_IP\")] | length == 0" eni list --json

# KVM's uevents: a QEMU that creates a KVM VM (stopped at once: -S, no
# guest code runs) and exits.  Where /dev/kvm exists these checks assert.
if [ ! -e /dev/kvm ]; then
	echo "  SKIP: vm.create/vm.destroy from KVM: /dev/kvm does not exist on this host"
elif ! command -v qemu-system-x86_64 >/dev/null; then
	echo "  SKIP: vm.create/vm.destroy from KVM: qemu-system-x86_64 is not installed"
else
	nsenter --net="/run/netns/$NS_B" qemu-system-x86_64 -accel kvm -S -m 32 -display none \
		-nodefaults -no-user-config </dev/null >/dev/null 2>"$KEEL_TMP/kvm.err" &
	qpid=$!	# nsenter execs QEMU: this is the VMM's pid
	on_exit "kill -KILL $qpid"
	check "B: vm.create ($kvm_src) with the VMM's pid $qpid" \
		wait_until 5 ev_any b vm.create ".pid == $qpid and .source == \"$kvm_src\""
	kill -0 $qpid 2>/dev/null || note "QEMU exited: $(tail -1 "$KEEL_TMP/kvm.err")"
	kill -TERM $qpid 2>/dev/null
	wait $qpid 2>/dev/null
	check "B: vm.destroy ($kvm_src) with the same pid once QEMU exits" \
		wait_until 5 ev_any b vm.destroy ".pid == $qpid and .source == \"$kvm_src\""
	check_eq "B: one vm.create and one vm.destroy for it" "1 1" \
		"$(ev_count b vm.create ".pid == $qpid") $(ev_count b vm.destroy ".pid == $qpid")"
fi
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"
