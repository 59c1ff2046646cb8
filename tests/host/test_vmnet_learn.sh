#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The learning policy ([vmnet] learn) and the per-port caps: with the
# default (inventory) a guest that claims an address this host does not
# know (say, a VM's on another host) does not get it whitelisted; with
# "first" a NIC keeps the first address it used and nothing more; with
# "any" a port learns at most port_max_ips addresses; a guest making up
# MACs arrives with at most port_max_macs of them.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq nsenter python3

vmnet_topo_up || die "setting up the namespaces"
echo "vm1 $VM_MAC $VM_IP" >"$KEEL_TMP/inv/vms"
G=keel-vmG-$VMNET_ID
on_exit "ip netns del $G"
ip netns add "$G"
GMAC=52:54:00:77:00:20
OTHER_IP=10.77.0.50		# a VM on another host: not in this inventory
ip -n "$NS_B" link add vnetV type veth peer name eth1 netns "$G"
ip -n "$G" link set eth1 address $VM_MAC up
ip -n "$NS_B" link set vnetV master br0 up
# a fresh port each time: the bridge's FDB remembers the made-up MACs, and
# a keeld started later finds them there (and caps them again)
guest_port() {
	ip -n "$NS_B" link del vnetS 2>/dev/null
	ip -n "$NS_B" link add vnetS type veth peer name eth0 netns "$G"
	ip -n "$G" link set eth0 address $GMAC up
	ip -n "$NS_B" link set vnetS master br0 up
}
guest_port

vm_ips() {	# MAC: its addresses, sorted, comma-separated
	kc b vm list --json | jq -r --arg m "$1" '[.[] | select(.mac == $m) | .ips[].ip] | sort | join(",")'
}
refused() {	# MAC IP: a vm.learn_refused for them
	ev_any b vm.learn_refused ".mac == \"$1\" and .ip == \"$2\""
}

# the default policy: inventory
vmnet_keeld_conf b
vmnet_keeld_start b || die "keeld on host B did not start"
check "B: both ports attached" wait_until 5 sh -c "[ \$(grep -c '\"type\":\"vmnet.port_add\"' '$KEEL_TMP/b.events') -ge 2 ]"
check_eq "B: keelctl status says learn = inventory" inventory \
	"$(kc b status --json | jq -r '[.. | .learn? // empty | strings] | .[0]')"
in_ns $G python3 "$FRAME" eth1 ipsrc $VM_MAC $VM_IP
check "B: vm1's own frames: it arrives with its inventory address" \
	wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]"
in_ns $G python3 "$FRAME" eth0 ipsrc $GMAC $OTHER_IP
in_ns $G python3 "$FRAME" eth0 garp $GMAC 10.77.0.51
check "B: a guest not in the inventory claiming $OTHER_IP: vm.learn_refused" wait_until 5 refused $GMAC $OTHER_IP
check "B: ... and by gratuitous ARP 10.77.0.51: vm.learn_refused" wait_until 5 refused $GMAC 10.77.0.51
check_eq "B: $OTHER_IP is not whitelisted" none "$(wl_state b $OTHER_IP)"
check_eq "B: 10.77.0.51 is not whitelisted" none "$(wl_state b 10.77.0.51)"
check_eq "B: the guest is here but has no address" "here:" \
	"$(kc b vm list --json | jq -r --arg m $GMAC '.[] | select(.mac == $m) | "\(.state):\([.ips[].ip] | join(","))"')"
in_ns $G python3 "$FRAME" eth1 ipsrc $VM_MAC 10.77.0.52
check "B: vm1 claiming an address outside its inventory entry: refused too" wait_until 5 refused $VM_MAC 10.77.0.52
check_eq "B: vm1 keeps only its inventory address" "$VM_IP" "$(vm_ips $VM_MAC)"

# port_max_macs (default 4): a guest making up MACs on vnetS
for i in 1 2 3 4 5 6; do
	in_ns $G python3 "$FRAME" eth0 rarp 52:54:00:99:00:0$i
done
check "B: made-up MACs beyond port_max_macs: vmnet.limit port_macs" \
	wait_until 5 ev_any b vmnet.limit '.what == "port_macs" and .port == "vnetS" and .max == 4'
check_eq "B: 4 NICs here on vnetS (the guest's own and 3 made up)" 4 \
	"$(kc b vm list --json | jq '[.[] | select(.state == "here" and .port == "vnetS")] | length')"
check_eq "B: vm1 on vnetV is not affected" here \
	"$(kc b vm list --json | jq -r --arg m $VM_MAC '.[] | select(.mac == $m) | .state')"
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"

# first: a NIC keeps the first address it uses
: >"$KEEL_TMP/b.events"
guest_port
vmnet_keeld_conf b "learn = first"
vmnet_keeld_start b || die "keeld on host B did not start (learn = first)"
wait_until 5 sh -c "[ \$(grep -c '\"type\":\"vmnet.port_add\"' '$KEEL_TMP/b.events') -ge 2 ]"
in_ns $G python3 "$FRAME" eth0 ipsrc $GMAC 10.77.0.60
check "B (first): the guest's first address is learned and whitelisted" \
	wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"10.77.0.60\") | .mac')\" = $GMAC ]"
in_ns $G python3 "$FRAME" eth0 ipsrc $GMAC 10.77.0.61
check "B (first): its second address is refused" wait_until 5 refused $GMAC 10.77.0.61
check_eq "B (first): the guest has only 10.77.0.60" 10.77.0.60 "$(vm_ips $GMAC)"
check_eq "B (first): 10.77.0.61 is not whitelisted" none "$(wl_state b 10.77.0.61)"
in_ns $G python3 "$FRAME" eth1 ipsrc $VM_MAC 10.77.0.62
check "B (first): vm1 has its inventory address: it learns nothing more" wait_until 5 refused $VM_MAC 10.77.0.62
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"

# any, with port_max_ips = 2
: >"$KEEL_TMP/b.events"
guest_port
vmnet_keeld_conf b "learn = any" "port_max_ips = 2"
vmnet_keeld_start b || die "keeld on host B did not start (learn = any)"
wait_until 5 sh -c "[ \$(grep -c '\"type\":\"vmnet.port_add\"' '$KEEL_TMP/b.events') -ge 2 ]"
for a in 70 71 72; do
	in_ns $G python3 "$FRAME" eth0 ipsrc $GMAC 10.77.0.$a
	sleep 0.1
done
check "B (any): the third address on vnetS is over port_max_ips: vmnet.limit port_ips" \
	wait_until 5 ev_any b vmnet.limit '.what == "port_ips" and .port == "vnetS" and .ip == "10.77.0.72" and .max == 2'
check_eq "B (any): the guest learned two addresses" "10.77.0.70,10.77.0.71" "$(vm_ips $GMAC)"
check_eq "B (any): 10.77.0.72 is not whitelisted" none "$(wl_state b 10.77.0.72)"
in_ns $G python3 "$FRAME" eth0 ipsrc 52:54:00:99:00:07 $VM_IP
check "B (any): a made-up MAC claiming vm1's address: vm.conflict" \
	wait_until 5 ev_any b vm.conflict ".ip == \"$VM_IP\" and .mac == \"52:54:00:99:00:07\""
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"

# a bad policy is refused before anything starts
vmnet_keeld_conf b "learn = sometimes"
out=$(nsenter --net="/run/netns/$NS_B" "$VMNET_KEELD" -c "$KEEL_TMP/b.conf" 2>&1 </dev/null)
check_eq "B: keeld refuses learn = sometimes with status 2" 2 "$?"
check "B: ... naming the key and the choices: $out" \
	sh -c "echo '$out' | grep -q 'learn.*inventory, first or any'"
