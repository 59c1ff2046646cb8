#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The provider hook as docs/vmnet.md suggests for an HTTP API: curl as
# provider_command, against a small local API server (tests/host/vmnet/
# http_api.py).  A VM's arrival reaches the API as a POST naming the host
# and the IP, with a JSON body; an API answering 503 is an
# eni.provider_error with curl's message and is retried until it answers
# 200; the departure reaches it as a remove.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vmnet/lib.sh"
need_root
need_cmd jq nsenter python3 curl

vmnet_topo_up || die "setting up the namespaces"
echo "vm1 $VM_MAC $VM_IP" >"$KEEL_TMP/inv/vms"
api=$KEEL_TMP/api
mkdir -p "$api"
echo 503 >"$api/status"		# the API is down at first
# the API in host B's namespace, where keeld runs its hooks
nsenter --net="/run/netns/$NS_B" python3 "$KEEL_TOP/tests/host/vmnet/http_api.py" "$api" \
	</dev/null >"$KEEL_TMP/api.log" 2>&1 &
api_pid=$!
on_exit "kill $api_pid"
wait_until 5 test -s "$api/port" || die "the API server did not start: $(cat "$KEEL_TMP/api.log")"
port=$(cat "$api/port")
note "API on 127.0.0.1:$port in host B's namespace"

# one word per argument: the command runs without a shell
vmnet_keeld_conf b "provider_command = curl -fsS --noproxy * -m 2 -X POST -H Content-Type:application/json -d {\"ip\":\"{ip}\",\"mac\":\"{mac}\",\"vm\":\"{vm}\"} http://127.0.0.1:$port/eni/{host}/ips/{ip}?action={action}" \
	"provider_backoff_ms = 100"
vmnet_keeld_start b || die "keeld on host B did not start"
G=keel-vmG-$VMNET_ID
on_exit "ip netns del $G"
ip netns add "$G"
ip -n "$NS_B" link add vnetV type veth peer name eth0 netns "$G"
ip -n "$G" link set eth0 address $VM_MAC up
ip -n "$NS_B" link set vnetV master br0 up
check "B: vnetV becomes a VM port" wait_until 5 ev_any b vmnet.port_add '.port == "vnetV"'

in_ns $G python3 "$FRAME" eth0 rarp $VM_MAC
check "B: vm1 arrives, $VM_IP whitelisted while the API is down" \
	wait_until 5 kc_jq b ".ips[] | select(.ip == \"$VM_IP\") | .state == \"whitelisted\"" eni list --json
check "B: the API's 503 is an eni.provider_error with curl's message" \
	wait_until 5 ev_any b eni.provider_error ".ip == \"$VM_IP\" and .action == \"add\" and (.error | test(\"503\"))"
req() {	# METHOD ACTION STATUS: a request for vm1's IP with that action and answer
	jq_true "select(.method == \"$1\" and .path == \"/eni/host-b/ips/$VM_IP?action=$2\" and .status == $3) | .content_type == \"application/json\" and (.body | fromjson) == {ip: \"$VM_IP\", mac: \"$VM_MAC\", vm: \"vm1\"}" <"$api/requests"
}
check "B: ... the request reached the API: POST /eni/host-b/ips/$VM_IP?action=add, JSON body (ip, mac, vm)" \
	req POST add 503
rm -f "$api/status"
check "B: once the API answers 200 the add is confirmed (eni.provider_ok)" \
	wait_until 5 ev_any b eni.provider_ok ".ip == \"$VM_IP\" and .action == \"add\" and .attempts >= 2"
check "B: ... after a request answered 200" req POST add 200
check_eq "B: keelctl eni list says provider ok" ok "$(wl_field b $VM_IP provider)"

ip -n "$NS_B" link del vnetV
check "B: vnetV removed: after the grace period the remove is confirmed" \
	wait_until 5 ev_any b eni.provider_ok ".ip == \"$VM_IP\" and .action == \"remove\""
check "B: ... POST /eni/host-b/ips/$VM_IP?action=remove reached the API" req POST remove 200
check_eq "B: then the entry is gone" none "$(wl_state b $VM_IP)"
note "requests: $(jq -c '[.method, .path, .status]' "$api/requests" | tr '\n' ' ')"
vmnet_keeld_stop b
check_eq "B: keeld exits 0" 0 "$KEELD_STATUS"
