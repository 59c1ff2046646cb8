#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vmnet benchmark (figures, never asserted), on the two-host namespace setup
# of tests/host/test_vmnet_migrate.sh (tests/host/vmnet/lib.sh):
#  1. detection: VMNET_BENCH_N arrivals (a fresh inventory MAC/IP each, one
#     QEMU-style RARP, VMNET_BENCH_US apart) on a VM port of host B; keel's
#     whitelist entry versus the peer's, a user-space AF_PACKET detector
#     writing the same entry into its own BPF map, both running at once and
#     timed from the sender's timestamp (CLOCK_BOOTTIME before send()).
#  2. the provider hook (tests/host/vmnet/hook.sh): eni.add to
#     eni.provider_ok, against the hook run alone back to back.
#  3. frames lost: a real QEMU guest live-migrated VMNET_BENCH_MIGRATIONS
#     times between A and B while a client streams UDP to its IP (every
#     VMNET_BENCH_STREAM_US); what the destination's uplink dropped after
#     the VM's first RARP (vmnet_denied), and what the peer would have.
# Needs root, python3, jq, bpftool, socat, qemu-system-x86_64.
bench=${1:-$(cd "$(dirname "$0")/../.." && pwd -P)/build/tests/bench/vmnet_bench}
[ "$(id -u)" -eq 0 ] || { echo "vmnet bench: skipped: needs root"; exit 0; }
for c in python3 jq bpftool socat nsenter qemu-system-x86_64; do
	command -v $c >/dev/null || { echo "vmnet bench: skipped: needs $c"; exit 0; }
done
. "$(dirname "$0")/../integration/lib.sh"
. "$KEEL_TOP/tests/host/vmnet/lib.sh"
# interrupted: exit, so that lib.sh's EXIT trap removes namespaces and processes
trap 'exit 130' INT TERM HUP
N=${VMNET_BENCH_N:-300}
GAP_US=${VMNET_BENCH_US:-4000}
MIGRATIONS=${VMNET_BENCH_MIGRATIONS:-2}
STREAM_US=${VMNET_BENCH_STREAM_US:-100}
PY=$KEEL_TOP/tests/bench/vmnet_bench.py
declare -A BG=()
bg_stop() {
	[ -n "${BG[$1]:-}" ] || return 0
	kill -TERM "${BG[$1]}" 2>/dev/null
	wait "${BG[$1]}" 2>/dev/null
	unset "BG[$1]"
}
bg_stop_all() {
	local k
	for k in "${!BG[@]}"; do kill -KILL "${BG[$k]}" 2>/dev/null; done
}
wl_json() {
	bpftool -j map dump pinned "/sys/fs/bpf/keel-test-vmnet-$1-$VMNET_ID/vmnet/vmnet_whitelist"
}
denied_rx() {
	bpftool -j map dump pinned "/sys/fs/bpf/keel-test-vmnet-$1-$VMNET_ID/vmnet/vmnet_denied" 2>/dev/null |
		jq --argjson a "[${2//./,}]" '[.[] | select(.formatted.key.addr[-4:] == $a) | .formatted.value.rx_packets] | add // 0'
}

vmnet_topo_up || die "setting up the namespaces"
on_exit bg_stop_all
G=keel-vmG-$VMNET_ID
ip netns add "$G" || die "creating namespace $G"
on_exit "ip netns del $G"
echo "vm1 $VM_MAC $VM_IP" >"$KEEL_TMP/inv/vms"
for ((i = 0; i < N; i++)); do
	printf 'b%d 52:54:01:00:%02x:%02x 10.78.%d.%d\n' $i $((i >> 8)) $((i & 255)) \
		$((i / 250)) $((i % 250 + 1))
done >"$KEEL_TMP/inv/bench"
hook=$KEEL_TOP/tests/host/vmnet/hook.sh
for h in a b; do
	mkdir -p "$KEEL_TMP/hook-$h"
	vmnet_keeld_conf $h "provider_command = $hook $KEEL_TMP/hook-$h {action} {ip} {mac}" \
		"provider_max_running = 16"
	printf '[events]\nbacklog = 16\n' >>"$KEEL_TMP/$h.conf"
	vmnet_keeld_start $h || die "keeld on host $h did not start"
done
echo "host: $(nproc) CPUs, kernel $(uname -r); keeld A and B in their namespaces"

# 1. detection latency
ip -n "$NS_B" link add vnetP type veth peer name eth0 netns "$G"
ip -n "$G" link set eth0 up
ip -n "$NS_B" link set vnetP master br0 up
wait_until 5 grep -q '"port":"vnetP"' "$KEEL_TMP/b.events" || die "keeld B did not attach to vnetP"
in_ns b "$bench" peer vnetP "$KEEL_TMP/inv/bench" "$KEEL_TMP/peer1.log" 2>"$KEEL_TMP/peer1.err" &
BG[peer]=$!
wait_until 5 grep -q ready "$KEEL_TMP/peer1.err" || die "the peer did not start: $(cat "$KEEL_TMP/peer1.err")"
echo
echo "== detection: $N arrivals, one RARP each, ${GAP_US} us apart, keel and the peer at once"
in_ns $G "$bench" send eth0 "$KEEL_TMP/inv/bench" "$N" "$GAP_US" "$KEEL_TMP/send.log" ||
	die "sending the RARPs"
sleep 0.3
bg_stop peer
wl_json b >"$KEEL_TMP/wl1.json"
python3 "$PY" detect "$KEEL_TMP/send.log" "$KEEL_TMP/peer1.log" "$KEEL_TMP/wl1.json" "$KEEL_TMP/inv/bench"

# 2. provider hook
echo
echo "== provider hook (hook.sh): $N adds, at most 16 hooks at once"
wait_until 30 sh -c "[ \$(grep -c '\"type\":\"eni.provider_ok\"' '$KEEL_TMP/b.events') -ge $N ]" ||
	echo "  (not every add was confirmed within 30 s)"
mkdir -p "$KEEL_TMP/hook-floor"
"$bench" hookrun 50 "$hook" "$KEEL_TMP/hook-floor" add 10.78.0.1 52:54:01:00:00:00 >"$KEEL_TMP/floor"
python3 "$PY" provider "$KEEL_TMP/b.events" "$KEEL_TMP/floor" 10.78.

# 3. frames lost during live migrations
echo
echo "== frames lost: $MIGRATIONS live migration(s) of a QEMU guest, UDP to $VM_IP every ${STREAM_US} us"
qemu_start vm0 a tap0 || die "QEMU guest on host A did not start"
wait_until 5 grep -q '"port":"tap0"' "$KEEL_TMP/a.events"
hmp vm0 announce_self >/dev/null
wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/a.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]" >/dev/null ||
	die "the guest was not whitelisted on A"
src=a
for ((m = 1; m <= MIGRATIONS; m++)); do
	dst=$([ $src = a ] && echo b || echo a)
	# the destination must have let the address go (grace period) first
	wait_until 10 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/$dst.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '[.ips[] | select(.ip == \"$VM_IP\" and .state != \"removed\")] | length')\" = 0 ]" >/dev/null
	qemu_start vm$m $dst tap$m "unix:$KEEL_TMP/mig$m.sock" || die "QEMU destination on $dst did not start"
	wait_until 5 grep -q "\"port\":\"tap$m\"" "$KEEL_TMP/$dst.events"
	echo "vm1 $VM_MAC $VM_IP" >"$KEEL_TMP/inv1"
	in_ns $dst "$bench" peer tap$m "$KEEL_TMP/inv1" "$KEEL_TMP/peerm$m.log" 2>"$KEEL_TMP/peerm$m.err" &
	BG[peer]=$!
	wait_until 5 grep -q ready "$KEEL_TMP/peerm$m.err"
	d0=$(denied_rx $dst $VM_IP)
	in_ns c "$bench" stream cl $CLIENT_IP $VM_MAC $VM_IP "$STREAM_US" "$KEEL_TMP/stream$m.log" &
	BG[stream]=$!
	sleep 0.2
	t0=$(date +%s%N)
	hmp vm$((m - 1)) "migrate unix:$KEEL_TMP/mig$m.sock" >/dev/null
	wait_until 60 migrated vm$((m - 1)) >/dev/null || die "migration $m did not complete"
	t1=$(date +%s%N)
	wait_until 5 sh -c "[ \"\$(KEEL_SOCKET=$KEEL_TMP/$dst.sock '$KEEL_BUILD/keelctl' eni list --json | jq -r '.ips[] | select(.ip == \"$VM_IP\") | .state')\" = whitelisted ]" >/dev/null
	sleep 0.2
	bg_stop stream
	bg_stop peer
	sleep 0.1
	d1=$(denied_rx $dst $VM_IP)
	wl_json $dst >"$KEEL_TMP/wlm$m.json"
	echo "migration $m, $src -> $dst: $(((t1 - t0) / 1000000)) ms until QEMU reported completed"
	python3 "$PY" migrate "$KEEL_TMP/stream$m.log" "$KEEL_TMP/wlm$m.json" "$d0" "$d1" \
		"$KEEL_TMP/peerm$m.log" $VM_IP | sed 's/^/  /'
	qemu_stop vm$((m - 1))
	src=$dst
done
vmnet_keeld_stop a
vmnet_keeld_stop b
