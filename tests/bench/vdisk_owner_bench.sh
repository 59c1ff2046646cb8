#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Disk ownership benchmark (figures, never asserted).  Two disk servers on
# this host (their own runtime directories and host ids, one datastore
# directory, release listeners on 127.0.0.1), a 64 MiB VMDK:
#
#  1. cooperative handoff latency, N handoffs A→B→A… on an idle disk:
#     keel-vdisk handoff's wall time (CLI start to "owner"), p50 and p99.
#     Peer, in the same run: the handoff keel replaces, stopping the old
#     host's qemu-nbd (SIGTERM, wait) and starting qemu-nbd on the new host
#     until it answers a read.
#  2. the same with a client writing through the owner (qemu-io, 4 KiB
#     writes back to back) during each handoff.
#  3. dead-owner takeover: the owner SIGKILLed, keel-vdisk handoff's wall
#     time against the configured lease (goal: lease + 1 s).
#
# OWNER_BENCH_N handoffs (default 40), OWNER_BENCH_LEASE_MS (default 2000).
# Needs qemu-io, qemu-img, qemu-nbd, nbdkit, jq.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P)
VDISK=${BUILD:-$top/build}/keel-vdisk
N=${OWNER_BENCH_N:-40}
LEASE=${OWNER_BENCH_LEASE_MS:-2000}
for c in qemu-io qemu-img qemu-nbd nbdkit jq awk; do
	command -v $c >/dev/null || { echo "vdisk owner bench: skipped: needs $c"; exit 0; }
done
[ -x "$VDISK" ] || { echo "vdisk owner bench: no $VDISK: run make"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/keel-owner-bench.XXXXXX")
D=$T/ds/vm.vmdk
declare -A PID=() PORT=([a]=17700 [b]=17701)
cleanup() {
	local k
	for k in "${!PID[@]}"; do kill -KILL "${PID[$k]}" 2>/dev/null; done
	[ -n "${writer:-}" ] && kill "$writer" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/ds"
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$D" 64M
head -c 32 /dev/urandom >"$T/key" && chmod 600 "$T/key"

ms() { echo $(($(date +%s%N) / 1000000)); }
ctl() { local n=$1 c=$2; shift 2; KEEL_VDISK_RUN_DIR=$T/run-$n "$VDISK" "$c" "$D" "$@"; }
serve() {
	local n=$1
	shift
	mkdir -p "$T/run-$n"
	KEEL_VDISK_RUN_DIR=$T/run-$n "$VDISK" serve "$D" --socket "$T/$n.nbd" \
		--owner-listen "tcp:127.0.0.1:${PORT[$n]}" --cluster-key "$T/key" --host-id "bench-$n" \
		--lease-ms "$LEASE" --renew-ms $((LEASE / 5)) --events "$T/$n.ev" "$@" \
		</dev/null 2>>"$T/$n.log" &
	PID[$n]=$!
	for _ in $(seq 100); do
		[ -S "$T/$n.nbd" ] && ctl "$n" owner --json 2>/dev/null | jq -e .server >/dev/null && return 0
		sleep 0.05
	done
	echo "server $n did not start"; cat "$T/$n.log"; exit 1
}
pct() {	# pct P < numbers: the P-th percentile (nearest rank)
	sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }'
}

# keel: N handoffs; wall ms of each into $1
keel_handoffs() {
	local out=$1 cur=a other i t0
	: >"$out"
	for i in $(seq "$N"); do
		other=$([ $cur = a ] && echo b || echo a)
		t0=$(ms)
		ctl $other handoff >/dev/null || { echo "handoff $i failed"; exit 1; }
		echo $(($(ms) - t0)) >>"$out"
		cur=$other
	done
}

serve a
serve b --standby
ctl a migrating on >/dev/null
ctl b migrating on >/dev/null
keel_handoffs "$T/idle"

# with writes in flight: a writer through whichever server owns the disk
# (it reconnects when its server releases)
(
	while :; do
		for n in a b; do
			qemu-io -f raw -c "write -P 0x5a 0 4k" -c "write -P 0x5a 4k 4k" -c "write -P 0x5a 8k 4k" \
				-c "write -P 0x5a 12k 4k" "nbd+unix:///?socket=$T/$n.nbd" >/dev/null 2>&1
		done
	done
) &
writer=$!
keel_handoffs "$T/busy"
kill $writer 2>/dev/null
wait $writer 2>/dev/null
writer=

# takeover of a SIGKILLed owner, 3 times
: >"$T/takeover"
for i in 1 2 3; do
	own=$(ctl a owner --json | jq -r '.record.host | sub("bench-"; "")')
	other=$([ "$own" = a ] && echo b || echo a)
	kill -KILL "${PID[$own]}"
	wait "${PID[$own]}" 2>/dev/null
	t0=$(ms)
	ctl "$other" handoff >/dev/null || { echo "takeover $i failed"; exit 1; }
	echo $(($(ms) - t0)) >>"$T/takeover"
	serve "$own" --standby
	ctl "$own" migrating on >/dev/null
done
for n in a b; do kill -KILL "${PID[$n]}" 2>/dev/null; wait "${PID[$n]}" 2>/dev/null; done
PID=()

# peer: qemu-nbd stopped on the old host, started on the new one, until a read answers
qemu_handoffs() {
	local out=$1 cur=a other i t0 p
	: >"$out"
	qemu-nbd -t -f vmdk -k "$T/a.qnbd" "$D" >/dev/null 2>&1 &
	p=$!
	sleep 0.5
	for i in $(seq "$N"); do
		other=$([ $cur = a ] && echo b || echo a)
		t0=$(ms)
		kill -TERM $p 2>/dev/null
		wait $p 2>/dev/null
		qemu-nbd -t -f vmdk -k "$T/$other.qnbd" "$D" >/dev/null 2>&1 &
		p=$!
		until qemu-io -r -f raw -c "read 0 512" "nbd+unix:///?socket=$T/$other.qnbd" >/dev/null 2>&1; do
			sleep 0.005
		done
		echo $(($(ms) - t0)) >>"$out"
		cur=$other
	done
	kill -TERM $p 2>/dev/null
	wait $p 2>/dev/null
}
qemu_handoffs "$T/peer"

row() {	# row WHAT KEELFILE PEERFILE
	local k50 k99 p50 p99
	k50=$(pct 50 <"$2") k99=$(pct 99 <"$2")
	p50=$(pct 50 <"$3") p99=$(pct 99 <"$3")
	printf '%-34s %8s %8s %8s %8s %7s %7s\n' "$1" "$p50" "$p99" "$k50" "$k99" \
		"$(awk -v a="$k50" -v b="$p50" 'BEGIN { printf "%.2f", a / b }')" \
		"$(awk -v a="$k99" -v b="$p99" 'BEGIN { printf "%.2f", a / b }')"
}
echo "vdisk ownership handoff, $N handoffs each, lease $LEASE ms (ms, wall time of the command)"
printf '%-34s %8s %8s %8s %8s %7s %7s\n' "" "peer p50" "peer p99" "keel p50" "keel p99" "p50 k/p" "p99 k/p"
row "idle disk" "$T/idle" "$T/peer"
row "writes in flight" "$T/busy" "$T/peer"
echo "peer: qemu-nbd stopped (SIGTERM) on the old host, started on the new one, until a read answers"
echo "keel's own measure of the idle handoffs (vdisk.acquired ms, in the server): p50 $(grep -h '"vdisk.acquired"' "$T"/*.ev | jq -r 'select(.how=="released") | .ms' | head -n "$N" | pct 50) ms, p99 $(grep -h '"vdisk.acquired"' "$T"/*.ev | jq -r 'select(.how=="released") | .ms' | head -n "$N" | pct 99) ms"
echo "takeover of a SIGKILLed owner: $(tr '\n' ' ' <"$T/takeover")ms; lease $LEASE ms; goal lease + 1000 = $((LEASE + 1000)) ms; median/lease $(awk -v a="$(pct 50 <"$T/takeover")" -v b="$LEASE" 'BEGIN { printf "%.2f", a / b }')"
