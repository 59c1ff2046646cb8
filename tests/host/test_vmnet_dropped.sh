#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vmnet's ring buffer full: every learning record the kernel could not hand
# to keeld is counted in the vmnet counters' "dropped" and announced by a
# vmnet.dropped event (docs/events.md), never lost silently.  keeld is
# stopped (SIGSTOP) while a guest sends frames from 6000 addresses, each a
# new record; the ring buffer (256 KiB, about 4700 records) overflows.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq nsenter python3

N=6000
vmnet_topo_up || die "setting up the namespaces"
G=keel-vmG-$VMNET_ID
on_exit "ip netns del $G"
ip netns add "$G"
GMAC=52:54:00:77:00:20
ip -n "$NS_B" link add vnetS type veth peer name eth0 netns "$G"
ip -n "$G" link set eth0 address $GMAC up
ip -n "$NS_B" link set vnetS master br0 up

vmnet_keeld_conf b
vmnet_keeld_start b || die "keeld on host B did not start"
check "B: the guest's port is attached" \
	wait_until 5 ev_any b vmnet.port_add '.port == "vnetS"'

counter() {	# NAME: vmnet's counter NAME on B
	kc b status --json | jq ".subsystems[] | select(.name == \"vmnet\") | .counters.$1"
}
records0=$(counter records) dropped0=$(counter dropped)

kill -STOP "${KEELD_PIDS[b]}"
in_ns $G python3 "$FRAME" eth0 ipsrcs $GMAC 10.80.0.1 $N
kill -CONT "${KEELD_PIDS[b]}"
# the drop timer runs once a second
wait_until 5 ev_any b vmnet.dropped true >/dev/null
records=$(($(counter records) - records0))
dropped=$(($(counter dropped) - dropped0))
total=$(events_in b vmnet.dropped | tail -n 1 | jq .total)
note "$N frames from $N addresses with keeld stopped: $records records delivered, $dropped dropped"

check_drops "learning records" "$N" "$records" "$dropped" "$total"
check "keeld still answers after the flood" kc b status

vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"
