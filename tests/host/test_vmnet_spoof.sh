#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vmnet learning and its guard: a VM port (veth vnet*) whose guest learns an
# address from its own frames, then spoofs another VM's inventory address
# (gratuitous ARP) and another VM's MAC: neither is whitelisted, both are
# reported as vm.conflict.  Also the KVM uevent source: a QEMU started with
# KVM raises vm.create/vm.destroy when /dev/kvm works.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq nsenter python3

vmnet_topo_up || die "setting up the namespaces"
echo "vm1 $VM_MAC $VM_IP" >"$KEEL_TMP/inv/vms"
vmnet_keeld_conf b "learn = any"	# the default policy: test_vmnet_learn.sh
vmnet_keeld_start b || die "keeld on host B did not start"
kvm_src=$(grep '"type":"vmnet.kvm_source"' "$KEEL_TMP/b.events" | tail -1)
note "KVM lifecycle source: $kvm_src"
check "B: keeld says which KVM lifecycle source it uses (vmnet.kvm_source, keelctl status)" \
	sh -c "[ -n '$(echo "$kvm_src" | jq -r .source 2>/dev/null)' ] && KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' status --json | jq -e '[.. | .kvm_source? // empty] | .[0] == \"$(echo "$kvm_src" | jq -r .source 2>/dev/null)\"'"
G=keel-vmG-$VMNET_ID
on_exit "ip netns del $G"
ip netns add "$G"
SPOOF_MAC=52:54:00:77:00:99
ip -n "$NS_B" link add vnetS type veth peer name eth0 netns "$G"
ip -n "$G" link set eth0 address $SPOOF_MAC up
ip -n "$NS_B" link set vnetS master br0 up
check "B: vnetS becomes a VM port" wait_until 5 sh -c "grep -q '\"port\":\"vnetS\"' '$KEEL_TMP/b.events'"
ip -n "$NS_B" link add vnetV type veth peer name eth1 netns "$G"
ip -n "$G" link set eth1 address $VM_MAC up
ip -n "$NS_B" link set vnetV master br0 up
wait_until 5 sh -c "grep -q '\"port\":\"vnetV\"' '$KEEL_TMP/b.events'"
in_ns $G python3 "$FRAME" eth1 rarp $VM_MAC
check "B: vm1 arrives on vnetV, $VM_IP whitelisted" wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]"

in_ns $G python3 "$FRAME" eth0 ipsrc $SPOOF_MAC 10.77.0.99
check "B: an address seen on the guest's own port is learned and whitelisted" \
	wait_until 5 sh -c "KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -e '.ips[] | select(.ip == \"10.77.0.99\") | .mac == \"$SPOOF_MAC\"'"
check "B: vm.learn says source ip" sh -c "grep '\"type\":\"vm.learn\"' '$KEEL_TMP/b.events' | jq -e 'select(.ip == \"10.77.0.99\") | .source == \"ip\"'"

in_ns $G python3 "$FRAME" eth0 garp $SPOOF_MAC $VM_IP
check "B: a gratuitous ARP for vm1's address from another port is a vm.conflict" \
	wait_until 5 sh -c "grep '\"type\":\"vm.conflict\"' '$KEEL_TMP/b.events' | jq -e 'select(.ip == \"$VM_IP\") | .mac == \"$SPOOF_MAC\"'"
check "B: $VM_IP still belongs to vm1's MAC" \
	sh -c "KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -e '[.ips[] | select(.ip == \"$VM_IP\")] | length == 1 and .[0].mac == \"$VM_MAC\"'"
check "B: the spoofer has only its own address" \
	sh -c "KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' vm list --json | jq -e '.[] | select(.mac == \"$SPOOF_MAC\") | [.ips[].ip] == [\"10.77.0.99\"]'"

in_ns $G python3 "$FRAME" eth0 ipsrc $VM_MAC 10.77.0.98
check "B: vm1's MAC on another port does not move it or teach it an address" \
	wait_until 5 sh -c "grep '\"type\":\"vm.conflict\"' '$KEEL_TMP/b.events' | jq -e 'select(.mac == \"$VM_MAC\" and .port == \"vnetS\")' && [ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' vm list --json | jq -r '.[] | select(.mac == \"$VM_MAC\") | .port')\" = vnetV ]"
check_eq "B: 10.77.0.98 was not whitelisted" none "$(wl_state b 10.77.0.98)"

ip -n "$NS_B" link del vnetV
check "B: vnetV removed: vm1 departs (port_gone) and leaves after the grace period" \
	wait_until 5 sh -c "grep '\"type\":\"vm.depart\"' '$KEEL_TMP/b.events' | jq -e 'select(.mac == \"$VM_MAC\") | .reason == \"port_gone\"' && [ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '[.ips[] | select(.ip == \"$VM_IP\")] | length')\" = 0 ]"

if [ -w /dev/kvm ] && command -v qemu-system-x86_64 >/dev/null; then
	in_ns b timeout 3 qemu-system-x86_64 -accel kvm -S -m 32 -display none -nodefaults \
		-no-user-config </dev/null >/dev/null 2>&1
	if grep -q '"type":"vm.create"' "$KEEL_TMP/b.events"; then
		check "B: KVM uevent: vm.create with the VMM's pid" \
			sh -c "grep '\"type\":\"vm.create\"' '$KEEL_TMP/b.events' | jq -e '.pid > 0'"
		check "B: KVM uevent: vm.destroy with the same pid once QEMU exits" \
			wait_until 3 sh -c "[ \"\$(grep '\"type\":\"vm.destroy\"' '$KEEL_TMP/b.events' | jq -r .pid)\" = \"\$(grep '\"type\":\"vm.create\"' '$KEEL_TMP/b.events' | jq -r .pid)\" ]"
		check "B: both say their source (uevent)" \
			sh -c "grep -h '\"type\":\"vm.\(create\|destroy\)\"' '$KEEL_TMP/b.events' | jq -e 'select(.source != \"uevent\")' | grep -q . && exit 1 || exit 0"
	else
		note "no KVM uevent seen (QEMU could not create a KVM VM here): not checked"
	fi
fi
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"
