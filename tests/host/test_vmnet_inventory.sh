#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The inventory directory while keeld runs: a changed file takes effect
# (an address added is whitelisted for the VM that is here, one removed
# leaves the whitelist); a file rewritten with a bad line is reported with
# its file and line and changes nothing (the VM keeps its addresses); once
# the file is correct again it applies.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq nsenter python3

vmnet_topo_up || die "setting up the namespaces"
INV=$KEEL_TMP/inv/vms
IP2=10.77.0.11
# written beside the directory and renamed into it, as docs/vmnet.md says
inv_write() {
	printf '%s\n' "$@" >"$KEEL_TMP/vms.new" && mv "$KEEL_TMP/vms.new" "$INV"
}
inv_write "vm1 $VM_MAC $VM_IP"
G=keel-vmG-$VMNET_ID
on_exit "ip netns del $G"
ip netns add "$G"
ip -n "$NS_B" link add vnetV type veth peer name eth1 netns "$G"
ip -n "$G" link set eth1 address $VM_MAC up
ip -n "$NS_B" link set vnetV master br0 up
vmnet_keeld_conf b
vmnet_keeld_start b || die "keeld on host B did not start"
check "B: vnetV attached" wait_until 5 ev_any b vmnet.port_add '.port == "vnetV"'
in_ns $G python3 "$FRAME" eth1 ipsrc $VM_MAC $VM_IP
check "B: vm1 arrives with its inventory address" \
	wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]"

vm_ips() {
	kc b vm list --json | jq -r --arg m $VM_MAC '[.[] | select(.mac == $m) | .ips[].ip] | sort | join(",")'
}
inv_write "vm1 $VM_MAC $VM_IP $IP2"
check "B: an address added to vm1's line: $IP2 whitelisted" \
	wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$IP2\") | .state')\" = whitelisted ]"
check_eq "B: vm1 holds both addresses" "$VM_IP,$IP2" "$(vm_ips)"
check "B: the last reading says applied, 1 NIC, 0 errors" \
	ev_set b vmnet.inventory '.[-1] | .applied == true and .nics == 1 and .errors == 0'

# an edit gone wrong: vm1's line broken, another VM added
inv_write "vm1 $VM_MAC-broken $VM_IP $IP2" "vm2 52:54:00:77:00:21 10.77.0.21"
check "B: the bad line is reported with its file and line" \
	wait_until 5 ev_any b vmnet.inventory_error ".file == \"$INV\" and .line == 1"
check "B: the reading says applied false, 1 error" \
	wait_until 5 ev_any b vmnet.inventory '.applied == false and .errors == 1'
check_eq "B: vm1 keeps both addresses" "$VM_IP,$IP2" "$(vm_ips)"
check_eq "B: $VM_IP still whitelisted" whitelisted "$(wl_state b $VM_IP)"
check_eq "B: $IP2 still whitelisted" whitelisted "$(wl_state b $IP2)"
check_eq "B: vm2 from the bad reading is not known" 0 \
	"$(kc b vm list --json | jq '[.[] | select(.mac == "52:54:00:77:00:21")] | length')"

# corrected: vm1 back to one address, vm2 known
inv_write "vm1 $VM_MAC $VM_IP" "vm2 52:54:00:77:00:21 10.77.0.21"
not_listed() { [ "$(wl_state b "$1")" != whitelisted ]; }
check "B: the corrected file applies: $IP2 leaves the whitelist" wait_until 5 not_listed $IP2
check_eq "B: vm1 holds its one address" "$VM_IP" "$(vm_ips)"
check "B: vm2 is known from the inventory" \
	kc_jq b '.[] | select(.mac == "52:54:00:77:00:21") | .vm == "vm2"' vm list --json
check "B: the last reading says applied, 2 NICs" \
	wait_until 5 ev_set b vmnet.inventory '.[-1] | .applied == true and .nics == 2'
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"
