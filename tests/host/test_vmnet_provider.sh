#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The provider hook never gives up on a change: an outage of the cloud API
# longer than provider_retries attempts marks the entry failed, keeps
# retrying it at the longest backoff with an eni.provider_error each time,
# and the add reaches the provider once the API is back.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq nsenter python3

vmnet_topo_up || die "setting up the namespaces"
echo "vm1 $VM_MAC $VM_IP" >"$KEEL_TMP/inv/vms"
mkdir -p "$KEEL_TMP/hook-b"
echo down >"$KEEL_TMP/hook-b/mode"
touch "$KEEL_TMP/hook-b/down"
# budget: 3 attempts at 20, 40, 80 ms, then every 64 x 20 = 1280 ms
vmnet_keeld_conf b "provider_command = $KEEL_TOP/tests/host/vmnet/hook.sh $KEEL_TMP/hook-b {action} {ip} {mac}" \
	"provider_retries = 3" "provider_backoff_ms = 20"
vmnet_keeld_start b || die "keeld on host B did not start"
G=keel-vmG-$VMNET_ID
on_exit "ip netns del $G"
ip netns add "$G"
ip -n "$NS_B" link add vnetV type veth peer name eth0 netns "$G"
ip -n "$G" link set eth0 address $VM_MAC up
ip -n "$NS_B" link set vnetV master br0 up
check "B: vnetV becomes a VM port" wait_until 5 grep -q '"port":"vnetV"' "$KEEL_TMP/b.events"

in_ns $G python3 "$FRAME" eth0 rarp $VM_MAC
check "B: vm1 arrives, $VM_IP whitelisted during the provider outage" \
	wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/b.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]"
errors() { ev_count b eni.provider_error; }
at_least() { [ "$("$2")" -ge "$1" ]; }
check "B: the outage outlasts the budget: 6 failed attempts (budget 3)" wait_until 10 at_least 6 errors
check_eq "B: keelctl eni list says provider failed" failed "$(wl_field b $VM_IP provider)"
check "B: past the budget each error says failed and the next try in 1280 ms" \
	ev_set b eni.provider_error '[.[] | select(.attempt >= 3)] | length >= 3 and all(.failed == true and .retry_in_ms == 1280)'
check "B: and before it, a doubling backoff (20, 40 ms)" \
	ev_set b eni.provider_error '[.[] | select(.attempt < 3) | .retry_in_ms] == [20, 40]'
check "B: the hook's stderr is in the error" ev_all b eni.provider_error '.error | test("simulated outage")'
n0=$(errors)
sleep 3
n1=$(errors)
check "B: still retried after the budget: $((n1 - n0)) more attempts in 3 s" test $((n1 - n0)) -ge 1
check "B: ... and not in a loop (at most 3 in 3 s at 1280 ms)" test $((n1 - n0)) -le 3
rm -f "$KEEL_TMP/hook-b/down"
note "the provider is back after $n1 failed attempts"
check "B: the add reaches the provider once it is back" \
	wait_until 5 grep -q "^add $VM_IP $VM_MAC" "$KEEL_TMP/hook-b/log"
check "B: eni.provider_ok for the add, after more attempts than the budget" \
	wait_until 3 ev_any b eni.provider_ok ".ip == \"$VM_IP\" and .action == \"add\" and .attempts > 3"
check_eq "B: keelctl eni list says provider ok" ok "$(wl_field b $VM_IP provider)"

# a removal during a second outage: the new change starts a fresh budget
touch "$KEEL_TMP/hook-b/down"
ip -n "$NS_B" link del vnetV
check "B: vm1 departs (port_gone)" \
	wait_until 5 ev_any b vm.depart ".mac == \"$VM_MAC\" and .reason == \"port_gone\""
rmerrors() { ev_count b eni.provider_error '.action == "remove"'; }
check "B: the remove fails past its own budget too" wait_until 10 at_least 4 rmerrors
check "B: ... a fresh budget for the new change: failed from its 3rd attempt" \
	ev_set b eni.provider_error '[.[] | select(.action == "remove") | .failed][0:4] == [false, false, true, true]'
check "B: the removed entry stays listed until the provider confirms" \
	kc_jq b ".ips[] | select(.ip == \"$VM_IP\") | .state == \"removed\" and .provider == \"failed\"" eni list --json
rm -f "$KEEL_TMP/hook-b/down"
check "B: the remove reaches the provider once it is back" \
	wait_until 5 grep -q "^remove $VM_IP $VM_MAC" "$KEEL_TMP/hook-b/log"
check_eq "B: then the entry is gone" none "$(wl_state b $VM_IP)"
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"
