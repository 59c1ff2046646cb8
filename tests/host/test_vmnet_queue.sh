#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The provider hook never holds up detection: a burst of 30 VM arrivals
# while every hook takes 0.5 s (at most 16 at once) and the spawner's queue
# holds one request.  All 30 addresses are whitelisted while hooks are still
# pending; the full queue is reported (eni.provider_queue_full) and no change
# is lost: every add reaches the provider in the end.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq nsenter python3
bench=$KEEL_BUILD/tests/bench/vmnet_bench
[ -x "$bench" ] || skip "build/tests/bench/vmnet_bench is missing: run make"
N=30

vmnet_topo_up || die "setting up the namespaces"
for ((i = 0; i < N; i++)); do
	printf 'q%d 52:54:02:00:00:%02x 10.79.0.%d\n' $i $i $((i + 1))
done >"$KEEL_TMP/set"
cp "$KEEL_TMP/set" "$KEEL_TMP/inv/burst"
mkdir -p "$KEEL_TMP/hook-b"
echo slow >"$KEEL_TMP/hook-b/mode"
vmnet_keeld_conf b "provider_command = $KEEL_TOP/tests/host/vmnet/hook.sh $KEEL_TMP/hook-b {action} {ip} {mac}" \
	"provider_max_running = 16" "provider_queue = 1" "provider_timeout_ms = 20000" \
	"port_max_macs = 64"	# all 30 arrive on one port
vmnet_keeld_start b || die "keeld on host B did not start"
G=keel-vmG-$VMNET_ID
on_exit "ip netns del $G"
ip netns add "$G"
ip -n "$NS_B" link add vnetP type veth peer name eth0 netns "$G"
ip -n "$G" link set eth0 up
ip -n "$NS_B" link set vnetP master br0 up
check "B: vnetP becomes a VM port" wait_until 5 grep -q '"port":"vnetP"' "$KEEL_TMP/b.events"

in_ns $G "$bench" send eth0 "$KEEL_TMP/set" $N 200 "$KEEL_TMP/send.log" || die "sending the RARPs"
whitelisted() {
	[ "$(kc b eni list --json | jq '[.ips[] | select(.state == "whitelisted")] | length')" = $N ]
}
check "B: all $N arrivals whitelisted" wait_until 5 whitelisted
pending=$(kc b eni list --json | jq '[.ips[] | select(.provider != "ok")] | length')
check "B: ... while provider hooks were still pending or running ($pending of $N)" \
	test "$pending" -gt 0
check "B: the full spawn queue is reported (eni.provider_queue_full)" \
	wait_until 5 grep -q '"type":"eni.provider_queue_full"' "$KEEL_TMP/b.events"
check "B: keelctl status counts it (provider_queue_full)" \
	kc_jq b '[.. | .provider_queue_full? // empty] | .[0] > 0' status --json
check "B: no change lost: the provider confirmed all $N adds" \
	wait_until 30 sh -c "[ \$(wc -l <'$KEEL_TMP/hook-b/log') -ge $N ]"
check_eq "B: every whitelist entry says provider ok" $N \
	"$(kc b eni list --json | jq '[.ips[] | select(.provider == "ok")] | length')"
check_eq "B: no hook failed (eni.provider_error)" 0 \
	"$(grep -c '"type":"eni.provider_error"' "$KEEL_TMP/b.events")"
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"
