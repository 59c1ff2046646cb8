#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vmnet end to end: two hosts as network namespaces, each with a bridge, an
# uplink into a shared fabric and its own keeld; a QEMU guest (no OS) on
# host A is live-migrated to host B with QEMU's own migration.  keeld on B
# whitelists the VM's IP on B's uplink from the RARP QEMU sends, keeld on A
# removes it after the grace period; the client's traffic for the VM then
# passes B's uplink and is dropped at A's.  The provider hook fails twice on
# B and hangs once on A, and every change still reaches it.  Then keeld on
# A is stopped, the VM migrated back to A, keeld on A started: it finds the
# VM through the bridge's FDB and converges.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq socat nsenter python3 qemu-system-x86_64 bpftool

vmnet_topo_up || die "setting up the namespaces"
echo "vm1 $VM_MAC $VM_IP" >"$KEEL_TMP/inv/vms"
mkdir -p "$KEEL_TMP/hook-a" "$KEEL_TMP/hook-b"
echo hang1 >"$KEEL_TMP/hook-a/mode"
echo fail2 >"$KEEL_TMP/hook-b/mode"
hook=$KEEL_TOP/tests/host/vmnet/hook.sh
vmnet_keeld_conf a "provider_command = $hook $KEEL_TMP/hook-a {action} {ip} {mac}" \
	"provider_timeout_ms = 1000" "provider_backoff_ms = 100"
# B's hook fails by itself; a longer time limit there keeps a slow machine
# from adding a third failure (a killed attempt) to the two counted below.
vmnet_keeld_conf b "provider_command = $hook $KEEL_TMP/hook-b {action} {ip} {mac}" \
	"provider_timeout_ms = 5000" "provider_backoff_ms = 100"
vmnet_keeld_start a || die "keeld on host A did not start"
vmnet_keeld_start b || die "keeld on host B did not start"
note "keeld A and B run in their namespaces"
check "vmnet runs on A in enforce mode" \
	kc_jq a '.mode == "enforce" and .uplink == "upa"' eni list --json
check_eq "before any VM: the VM's IP is not whitelisted on A" none "$(wl_state a $VM_IP)"

qemu_start vmA a tapA || die "QEMU guest on host A did not start"
qemu_start vmB b tapB "unix:$KEEL_TMP/mig.sock" || die "QEMU destination on host B did not start"
note "QEMU guest on A (tapA), destination waiting on B (tapB, -incoming)"
check "keeld A attached to tapA" wait_until 5 sh -c "grep -q '\"port\":\"tapA\"' '$KEEL_TMP/a.events'"
check "A: tapA is a tun device, the guest's frames on its ingress" \
	ev_any a vmnet.port_add '.port == "tapA" and .kind == "tun" and .guest_frames == "ingress"'
hmp vmA announce_self >/dev/null
check "A: the guest's RARP whitelists $VM_IP" wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/a.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]"
check "A: keelctl vm list shows vm1 here on tapA" \
	kc_jq a ".[] | select(.mac == \"$VM_MAC\") | .state == \"here\" and .port == \"tapA\" and .vm == \"vm1\"" vm list --json
check "A: the hung provider hook is killed and retried: add confirmed" \
	wait_until 10 grep -q "^add $VM_IP" "$KEEL_TMP/hook-a/log"
check "A: ... the hung attempt is an eni.provider_error (killed after provider_timeout_ms)" \
	ev_any a eni.provider_error ".ip == \"$VM_IP\" and .action == \"add\" and (.error | startswith(\"killed after 1000 ms\"))"
check "A: ... and the second attempt is confirmed (eni.provider_ok, attempts 2)" \
	wait_until 3 ev_any a eni.provider_ok ".ip == \"$VM_IP\" and .action == \"add\" and .attempts == 2"

in_ns c python3 "$FRAME" cl udp $CLIENT_IP $VM_MAC $VM_IP 20 0
check "A: the uplink passed the client's traffic for the VM" \
	wait_until 3 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/a.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .rx_packets')\" -ge 20 ]"
check_eq "B: the VM's IP is not whitelisted yet" none "$(wl_state b $VM_IP)"

# live migration with QEMU's own protocol
t0=$(date +%s%N)
migrate_start vmA "unix:$KEEL_TMP/mig.sock"
check "migration completes" wait_until 30 migrated vmA
check "B: RARP from tapB whitelists $VM_IP on B" wait_until 10 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]"
check "B: vm.arrive names tapB and reason rarp" \
	ev_any b vm.arrive ".mac == \"$VM_MAC\" and .port == \"tapB\" and .reason == \"rarp\""
check "A: vm.depart, the VM was announced elsewhere" \
	wait_until 5 ev_any a vm.depart ".mac == \"$VM_MAC\" and .reason == \"announced_elsewhere\""
check "A: after the grace period $VM_IP left A's whitelist" \
	wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/a.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '[.ips[] | select(.ip == \"$VM_IP\" and .state != \"removed\")] | length')\" = 0 ]"
note "migration to whitelisted on B: $((($(date +%s%N) - t0) / 1000000)) ms wall clock, arrive latency $(events_in b eni.add | jq -r .latency_ns | tail -1) ns"
check "B: provider failed twice, then add confirmed" wait_until 10 grep -q "^add $VM_IP" "$KEEL_TMP/hook-b/log"
check_eq "B: two eni.provider_error events for the add" 2 \
	"$(ev_count b eni.provider_error ".ip == \"$VM_IP\" and .action == \"add\"")"
check "B: ... then eni.provider_ok on the third attempt" \
	wait_until 3 ev_any b eni.provider_ok ".ip == \"$VM_IP\" and .action == \"add\" and .attempts == 3"
check "A: provider hook told to remove $VM_IP (after its hang)" \
	wait_until 10 grep -q "^remove $VM_IP" "$KEEL_TMP/hook-a/log"

# traffic for the VM now passes B and is dropped at A
rx_b0=$(wl_field b $VM_IP rx_packets)
in_ns c python3 "$FRAME" cl udp $CLIENT_IP $VM_MAC $VM_IP 30 0
check "B: the uplink passed the 30 new frames" \
	wait_until 3 sh -c "[ \$((\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .rx_packets') - $rx_b0)) -ge 30 ]"
pin_a=/sys/fs/bpf/keel-test-vmnet-a-$VMNET_ID/vmnet
denied=$(bpftool -j map dump pinned "$pin_a/vmnet_denied" 2>/dev/null |
	jq '[.[] | select(.formatted.key.addr[-4:] == [10,77,0,10]) | .formatted.value.rx_packets] | add // 0')
check "A: the uplink dropped them (vmnet_denied, via bpftool): $denied" test "${denied:-0}" -ge 30
check "B: whitelist map inspectable with bpftool (BTF field names)" \
	sh -c "bpftool -j map dump pinned /sys/fs/bpf/keel-test-vmnet-b-$VMNET_ID/vmnet/vmnet_whitelist | jq -s -e 'length == 1 and (.[0] | length > 0 and all(.formatted.value | has(\"rx_packets\")))'"
check "B: tapB carried the frames to the guest" \
	sh -c "[ \$(ip -n $NS_B -j -s link show tapB | jq '.[0].stats64.tx.packets') -ge 30 ]"

# keeld on A restarted in the middle of a migration back to A
qemu_stop vmA
check "A: tapA gone, vmnet.port_remove" wait_until 5 sh -c "grep -q '\"type\":\"vmnet.port_remove\"' '$KEEL_TMP/a.events'"
vmnet_keeld_stop a
check_eq "A: keeld exits 0" 0 "$KEELD_STATUS"
check "A: keeld removed its clsact qdisc from upa" sh -c "! ip netns exec $NS_A tc qdisc show dev upa | grep -q clsact"
qemu_start vmA2 a tapA2 "unix:$KEEL_TMP/mig2.sock" || die "QEMU destination on A did not start"
migrate_start vmB "unix:$KEEL_TMP/mig2.sock"
check "migration back to A completes" wait_until 30 migrated vmB
sleep 1
vmnet_keeld_start a || die "keeld on A did not start again"
check "A: restarted keeld finds the VM on tapA2 (FDB) and whitelists $VM_IP" \
	wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/a.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]"
[ "$(wl_state a $VM_IP)" = whitelisted ] || {
	note "A's events since the restart:"
	tail -n 20 "$KEEL_TMP/a.events" | cut -c1-300 | sed 's/^/    | /'
	note "A's bridge FDB: $(bridge -n $NS_A fdb show br br0 | grep -i $VM_MAC | tr '\n' ';')"
}
check "B: $VM_IP left B's whitelist" \
	wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '[.ips[] | select(.ip == \"$VM_IP\" and .state != \"removed\")] | length')\" = 0 ]"
check "B: provider hook told to remove $VM_IP" wait_until 10 grep -q "^remove $VM_IP" "$KEEL_TMP/hook-b/log"

vmnet_keeld_stop a
check_eq "A: keeld exits 0" 0 "$KEELD_STATUS"
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"
check "B: no keel filter left on upb" sh -c "! ip netns exec $NS_B tc filter show dev upb ingress | grep -q vmnet"
