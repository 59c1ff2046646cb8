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
# VMNET_BENCH_HOOK=0 runs without a provider hook (detection alone).
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
N=${VMNET_BENCH_N:-200}
GAP_US=${VMNET_BENCH_US:-3000}
MIGRATIONS=${VMNET_BENCH_MIGRATIONS:-2}
STREAM_US=${VMNET_BENCH_STREAM_US:-100}
PY=$KEEL_TOP/tests/bench/vmnet_bench.py
declare -A BG=()
# in the background: nsenter itself (it execs the program), so that $! is
# the program and bg_stop reaches it
bg_in_ns() {
	local name=$1 ns
	ns=$(ns_of "$2")
	shift 2
	nsenter --net="/run/netns/$ns" "$@" &
	BG[$name]=$!
}
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
# three sets of fresh MACs/IPs: keel alone, the peer alone, both at once;
# the peer-alone set is not in keeld's inventory (its port is not a VM port)
for k in 0 1 2; do
	for ((i = 0; i < N; i++)); do
		printf 'b%d 52:54:01:%02x:%02x:%02x 10.78.%d.%d\n' $((k * N + i)) $k $((i >> 8)) \
			$((i & 255)) $(((k * N + i) / 250)) $(((k * N + i) % 250 + 1))
	done >"$KEEL_TMP/set$k"
done
cp "$KEEL_TMP/set0" "$KEEL_TMP/inv/bench0"
cp "$KEEL_TMP/set2" "$KEEL_TMP/inv/bench2"
hook=$KEEL_TOP/tests/host/vmnet/hook.sh
for h in a b; do
	mkdir -p "$KEEL_TMP/hook-$h"
	# every arrival comes in on one bridge port: lift the per-port MAC cap
	if [ "${VMNET_BENCH_HOOK:-1}" = 1 ]; then
		vmnet_keeld_conf $h "provider_command = $hook $KEEL_TMP/hook-$h {action} {ip} {mac}" \
			"provider_max_running = 16" "port_max_macs = 4096"
	else
		# VMNET_BENCH_HOOK=0: no provider hook
		vmnet_keeld_conf $h "port_max_macs = 4096"
	fi
	printf '[events]\nbacklog = 16\n' >>"$KEEL_TMP/$h.conf"
	vmnet_keeld_start $h || die "keeld on host $h did not start"
done

echo "host: $(nproc) CPUs, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); keeld A and B in their namespaces"

# 1. detection latency.  vnetP is a VM port (keeld attaches); xpq0 is not
# (only the peer listens there).  Both are bridge ports with a sender in $G.
for p in vnetP:eth0 xpq0:eth1; do
	ip -n "$NS_B" link add ${p%:*} type veth peer name ${p#*:} netns "$G"
	ip -n "$G" link set ${p#*:} up
	ip -n "$NS_B" link set ${p%:*} master br0 up
done
wait_until 5 grep -q '"port":"vnetP"' "$KEEL_TMP/b.events" || die "keeld B did not attach to vnetP"
echo
echo "== detection: $N arrivals per run, one RARP each, ${GAP_US} us apart (+0-25%)"
detect_run() {	# TITLE SET SEND_IFACE PEER_PORT|-
	echo "-- $1"
	: >"$KEEL_TMP/peer$2.log"
	if [ "$4" != - ]; then
		: >"$KEEL_TMP/peer$2.err"
		bg_in_ns peer b "$bench" peer $4 "$KEEL_TMP/set$2" "$KEEL_TMP/peer$2.log" 2>"$KEEL_TMP/peer$2.err"
		wait_until 5 grep -q ready "$KEEL_TMP/peer$2.err" ||
			die "the peer did not start: $(cat "$KEEL_TMP/peer$2.err")"
	fi
	in_ns $G "$bench" send $3 "$KEEL_TMP/set$2" "$N" "$GAP_US" "$KEEL_TMP/send$2.log" ||
		die "sending the RARPs"
	sleep 0.3
	bg_stop peer
	wl_json b >"$KEEL_TMP/wl$2.json"
	python3 "$PY" detect "$KEEL_TMP/send$2.log" "$KEEL_TMP/peer$2.log" "$KEEL_TMP/wl$2.json" \
		"$KEEL_TMP/set$2" | sed 's/^/  /'
}
detect_run "keel alone (vnetP)" 0 eth0 -
detect_run "the peer alone (xpq0, not a VM port)" 1 eth1 xpq0
detect_run "keel and the peer at once, on the same frames (vnetP)" 2 eth0 vnetP

# 2. provider hook
[ "${VMNET_BENCH_HOOK:-1}" = 1 ] && {
echo
echo "== provider hook (hook.sh): the $((2 * N)) adds above, at most 16 hooks at once"
wait_until 30 sh -c "[ \$(grep -c '\"type\":\"eni.provider_ok\"' '$KEEL_TMP/b.events') -ge $((2 * N)) ]" ||
	echo "  (not every add was confirmed within 30 s)"
mkdir -p "$KEEL_TMP/hook-floor"
"$bench" hookrun 50 "$hook" "$KEEL_TMP/hook-floor" add 10.78.0.1 52:54:01:00:00:00 >"$KEEL_TMP/floor"
python3 "$PY" provider "$KEEL_TMP/b.events" "$KEEL_TMP/floor" 10.78.
}

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
	bg_in_ns peer $dst "$bench" peer tap$m "$KEEL_TMP/inv1" "$KEEL_TMP/peerm$m.log" 2>"$KEEL_TMP/peerm$m.err"
	wait_until 5 grep -q ready "$KEEL_TMP/peerm$m.err"
	d0=$(denied_rx $dst $VM_IP)
	bg_in_ns stream c "$bench" stream cl $CLIENT_IP $VM_MAC $VM_IP "$STREAM_US" "$KEEL_TMP/stream$m.log"
	sleep 0.2
	t0=$(date +%s%N)
	migrate_start vm$((m - 1)) "unix:$KEEL_TMP/mig$m.sock" || die "migration $m did not start"
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
