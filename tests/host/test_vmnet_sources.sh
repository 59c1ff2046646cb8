#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Learning sources not covered elsewhere (learn = any): a plain ARP request
# (not gratuitous: sender and target address differ), an IPv6 source
# address, and the target of an IPv6 neighbour advertisement sent from the
# guest's link-local address.  Each address is learned with its source and
# whitelisted.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq nsenter python3

vmnet_topo_up || die "setting up the namespaces"
echo "vm1 $VM_MAC $VM_IP" >"$KEEL_TMP/inv/vms"
G=keel-vmG-$VMNET_ID
on_exit "ip netns del $G"
ip netns add "$G"
GMAC=52:54:00:77:00:30
ip -n "$NS_B" link add vnetS type veth peer name eth0 netns "$G"
ip -n "$G" link set eth0 address $GMAC up
ip -n "$NS_B" link set vnetS master br0 up
vmnet_keeld_conf b "learn = any"
vmnet_keeld_start b || die "keeld on host B did not start"
check "B: vnetS attached" wait_until 5 ev_any b vmnet.port_add '.port == "vnetS"'

learned() {	# IP SOURCE: a vm.learn for the guest's MAC, and IP whitelisted
	ev_any b vm.learn ".mac == \"$GMAC\" and .ip == \"$1\" and .source == \"$2\"" &&
		[ "$(wl_state b "$1")" = whitelisted ]
}
in_ns $G python3 "$FRAME" eth0 arp $GMAC 10.77.0.30 10.77.0.1
check "B: a plain ARP request from 10.77.0.30: learned (source arp), whitelisted" \
	wait_until 5 learned 10.77.0.30 arp
in_ns $G python3 "$FRAME" eth0 ip6src $GMAC 2001:db8::30
check "B: an IPv6 source 2001:db8::30: learned (source ip), whitelisted" \
	wait_until 5 learned 2001:db8::30 ip
in_ns $G python3 "$FRAME" eth0 na $GMAC 2001:db8::31
check "B: a neighbour advertisement for 2001:db8::31 from fe80::: learned (source na), whitelisted" \
	wait_until 5 learned 2001:db8::31 na
check_eq "B: the guest holds the three addresses" "10.77.0.30,2001:db8::30,2001:db8::31" \
	"$(kc b vm list --json | jq -r --arg m $GMAC '[.[] | select(.mac == $m) | .ips[].ip] | sort | join(",")')"
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"
