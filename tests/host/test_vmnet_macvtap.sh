#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# VMs on macvtap ports.  A guest's frames enter a macvtap device through
# its character device (/dev/tapN) and leave through the device, on its
# way to the lower one: they are the macvtap's TC egress, and frames to the
# guest its ingress (the reverse of a tap).  The device's MAC is the
# guest's.  Here a process writes into the character device as QEMU does
# (a 10-byte virtio-net header, then the frame): its RARP and gratuitous
# ARP are arrivals on that port; a DHCPACK sent to the guest through the
# lower device teaches its address, and the DHCP server is not taken for
# a VM.  Then a QEMU guest given a macvtap's /dev/tapN as its tap fd (as
# libvirt does): its RARP arrives with QEMU's pid, and QEMU's exit (KVM's
# vm.destroy) makes it depart; SKIP line without /dev/kvm.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq nsenter python3 mknod

vmnet_topo_up || die "setting up the namespaces"
echo "vm1 $VM_MAC $VM_IP" >"$KEEL_TMP/inv/vms"
MAC2=52:54:00:77:00:21	# a second guest, not in the inventory
IP2=10.77.0.21
DHCP_IP=10.77.0.22
# the lower device: a veth whose peer (the network, the DHCP server) is in G
G=keel-vmG-$VMNET_ID
on_exit "ip netns del $G"
ip netns add "$G"
ip -n "$NS_B" link add lowM type veth peer name eth0 netns "$G" || die "creating the veth"
ip -n "$G" link set eth0 up
ip -n "$NS_B" link set lowM up
SRV_MAC=$(ip -n "$G" -j link show eth0 | jq -r '.[0].address')

# macvtap0 for vm1 and macvtap1 for the second guest, as libvirt makes them
# (bridge mode, the guest's MAC); each one's character device made here
# from its sysfs entry, so nothing depends on udev
macvtap_dev() {	# NAME MAC: create NAME, print the path of its character device
	local idx num
	ip -n "$NS_B" link add link lowM name "$1" address "$2" type macvtap mode bridge || return 1
	ip -n "$NS_B" link set "$1" up
	idx=$(ip -n "$NS_B" -j link show "$1" | jq -r '.[0].ifindex')
	# sysfs shows a namespace's devices to a sysfs mounted in it: ip netns exec
	num=$(ip netns exec "$NS_B" cat "/sys/class/net/$1/macvtap/tap$idx/dev") || return 1
	mknod "$KEEL_TMP/tap$idx" c "${num%:*}" "${num#*:}" || return 1
	echo "$KEEL_TMP/tap$idx"
}
dev0=$(macvtap_dev macvtap0 $VM_MAC) || skip "no macvtap device over a veth with its character device here (macvtap module, sysfs, mknod)"
dev1=$(macvtap_dev macvtap1 $MAC2) || die "creating macvtap1"
note "macvtap0: $dev0, macvtap1: $dev1, lower lowM, DHCP server $SRV_MAC"

VMNET_PORTS="tap*,vnet*,macvtap*" vmnet_keeld_conf b "learn = any"
vmnet_keeld_start b || die "keeld on host B did not start"
for p in macvtap0 macvtap1; do
	check "B: $p is a VM port of kind macvtap, guest frames on its egress" \
		wait_until 5 ev_any b vmnet.port_add ".port == \"$p\" and .kind == \"macvtap\" and .guest_frames == \"egress\""
done

in_ns b python3 "$FRAME" "$dev0" rarp $VM_MAC
check "B: vm1's RARP written into macvtap0's character device: vm.arrive (rarp) on macvtap0" \
	wait_until 5 ev_any b vm.arrive ".mac == \"$VM_MAC\" and .port == \"macvtap0\" and .reason == \"rarp\""
check "B: ... on macvtap0 only (not on macvtap1, which the broadcast reached too)" \
	kc_jq b ".[] | select(.mac == \"$VM_MAC\") | .port == \"macvtap0\" and .state == \"here\"" vm list --json
check "B: ... and $VM_IP whitelisted" wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]"

in_ns b python3 "$FRAME" "$dev1" garp $MAC2 $IP2
check "B: the second guest's gratuitous ARP: vm.arrive (garp) on macvtap1" \
	wait_until 5 ev_any b vm.arrive ".mac == \"$MAC2\" and .port == \"macvtap1\" and .reason == \"garp\""
check "B: ... here on macvtap1" \
	kc_jq b ".[] | select(.mac == \"$MAC2\") | .port == \"macvtap1\" and .state == \"here\"" vm list --json
check "B: ... and its address $IP2 learned and whitelisted" \
	wait_until 5 kc_jq b ".ips[] | select(.ip == \"$IP2\") | .mac == \"$MAC2\" and .state == \"whitelisted\"" eni list --json

in_ns $G python3 "$FRAME" eth0 dhcpack 10.77.0.1 $MAC2 $DHCP_IP
check "B: a DHCPACK to the second guest through the lower device: vm.learn (dhcp) on macvtap1" \
	wait_until 5 ev_any b vm.learn ".mac == \"$MAC2\" and .ip == \"$DHCP_IP\" and .port == \"macvtap1\" and .source == \"dhcp\""
check "B: ... $DHCP_IP whitelisted for it" \
	wait_until 5 kc_jq b ".ips[] | select(.ip == \"$DHCP_IP\") | .mac == \"$MAC2\"" eni list --json
check "B: the DHCP server's frame to the guest did not make it a VM" \
	kc_jq b "[.[] | select(.mac == \"$SRV_MAC\")] | length == 0" vm list --json
check_eq "B: nothing learned 10.77.0.1 (the server's address)" none "$(wl_state b 10.77.0.1)"

# a real VMM: QEMU given macvtap2's character device as its tap fd, as
# libvirt does.  Its RARP (announce_self) arrives with QEMU's pid (keeld
# finds the VMM holding /dev/tapN when KVM reports the VM), and when QEMU
# exits, KVM's vm.destroy makes the NIC depart.
if [ ! -e /dev/kvm ]; then
	echo "  SKIP: a QEMU guest on macvtap (vm.destroy departs it): /dev/kvm does not exist on this host"
elif ! command -v qemu-system-x86_64 >/dev/null || ! command -v socat >/dev/null; then
	echo "  SKIP: a QEMU guest on macvtap: qemu-system-x86_64 or socat is not installed"
else
	MAC3=52:54:00:77:00:30
	echo "vm3 $MAC3 10.77.0.30" >"$KEEL_TMP/inv/vm3"
	dev2=$(macvtap_dev macvtap2 $MAC3) || die "creating macvtap2"
	wait_until 5 ev_any b vmnet.port_add '.port == "macvtap2"'
	nsenter --net="/run/netns/$NS_B" qemu-system-x86_64 -accel kvm -m 32 -display none \
		-nodefaults -no-user-config -netdev tap,id=n0,fd=3 \
		-device "virtio-net-pci,netdev=n0,mac=$MAC3" \
		-monitor "unix:$KEEL_TMP/vm3.mon,server=on,wait=off" \
		3<>"$dev2" </dev/null >"$KEEL_TMP/vm3.log" 2>&1 &
	qpid=$!
	on_exit "kill -KILL $qpid"
	check "B: QEMU on macvtap2 runs (its monitor answers)" \
		wait_until 10 sh -c "echo 'info status' | socat -t 1 - 'UNIX-CONNECT:$KEEL_TMP/vm3.mon' | grep -q 'VM status'"
	check "B: vm.create with QEMU's pid $qpid" wait_until 5 ev_any b vm.create ".pid == $qpid"
	hmp vm3 announce_self >/dev/null
	check "B: QEMU's RARP through macvtap2: vm3 arrives there with QEMU's pid" \
		wait_until 5 ev_any b vm.arrive ".mac == \"$MAC3\" and .port == \"macvtap2\" and .reason == \"rarp\" and .pid == $qpid"
	check "B: ... 10.77.0.30 whitelisted" \
		wait_until 5 kc_jq b '.ips[] | select(.ip == "10.77.0.30") | .state == "whitelisted"' eni list --json
	kill -TERM $qpid
	wait $qpid 2>/dev/null
	check "B: QEMU exits: vm.destroy, and vm3 departs (vm_destroyed)" \
		wait_until 5 ev_any b vm.depart ".mac == \"$MAC3\" and .reason == \"vm_destroyed\""
	[ -s "$KEEL_TMP/vm3.log" ] && note "QEMU: $(tr '\n' ' ' <"$KEEL_TMP/vm3.log" | cut -c1-300)"
fi

ip -n "$NS_B" link del macvtap0
check "B: macvtap0 removed: vm1 departs (port_gone)" \
	wait_until 5 ev_any b vm.depart ".mac == \"$VM_MAC\" and .reason == \"port_gone\""
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"
check "B: no keel filter left on macvtap1" \
	sh -c "! tc -n $NS_B filter show dev macvtap1 ingress | grep -q vmnet && ! tc -n $NS_B filter show dev macvtap1 egress | grep -q vmnet"
