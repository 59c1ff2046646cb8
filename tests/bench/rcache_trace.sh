#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# rcache benchmark (figures, never asserted), on the host, root: a recorded
# block trace replayed through NBD with keel's read cache on, its measured
# hit ratio against what keel-cachesim predicts for the same trace and cache
# size, and a hit's latency against a local read of the same size.
#
#   tests/bench/rcache_trace.sh           (KEEL_TRACES: ../shared/traces)
#
# Trace: cloudPhysicsIO.csv (a VMware vSCSI trace of one VM disk), its reads
# only (op 28; a read cache skips writes, and so does keel-cachesim
# --reads-only), each rounded out to whole 4 KiB blocks as keel-cachesim's
# block mode splits it.  The disk: a flat VMDK over a sparse 32 GiB file,
# chain "stats cache", keel-rcache of RCACHE_TRACE_BLOCKS blocks (default
# 8192 and 16000: below 16384 the store's index is one three-queue cache, as
# keel-cachesim's; from 16384 blocks on it is cut into 16 shards by hash).
# The reads go in the trace's order through one qemu-io (one NBD
# connection, one request at a time).  Measured: hit blocks / looked-up
# blocks from keelctl rcache stats; predicted: keel-cachesim -p keel
# --mode block --block-size 4096 --reads-only at the same size, in blocks.
# pred16_hits: keel-cachesim -p keel-16, the same cache cut into 16 shards
# by hash, as the store's index is from 16384 blocks on.
#
# Latency (RCACHE_TRACE_LAT_READS reads, default 2000): 4 KiB random reads
# of blocks cached in keel-rcache through NBD, against the same reads of a
# local file in the page cache and with O_DIRECT of the cache file itself,
# each the wall time of one qemu-io reading the same commands (qemu-io's
# own cost per command is in all three) divided by the reads.  Also the
# metadata bytes per cached block against dm-cache smq's about 25 B.
# RCACHE_TRACE_DEBUG=1 also prints the cache filter's counters after each replay.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P)
build=${BUILD:-$top/build}
traces=${KEEL_TRACES:-$top/../shared/traces}
trace=$traces/cloudPhysicsIO.csv
sizes=${RCACHE_TRACE_BLOCKS:-8192 16000}
skip() { echo "rcache trace bench: skipped: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (the cache's memory handles fall back to process_vm_writev)"
for c in qemu-io qemu-img nbdkit jq awk; do
	command -v $c >/dev/null || skip "needs $c"
done
[ -r "$trace" ] || { echo "rcache trace bench: no $trace (set KEEL_TRACES to ../shared/traces)"; exit 1; }
for b in keel-rcache keel-vdisk keelctl keel-cachesim; do
	[ -x "$build/$b" ] || { echo "rcache trace bench: no $build/$b: run make"; exit 1; }
done
# /var/tmp by default: the replay's disk and cache files are too big for a
# tmpfs /tmp
T=$(mktemp -d "${TMPDIR:-/var/tmp}/keel-rcache-trace.XXXXXX") ||
	{ echo "rcache trace bench: cannot make a scratch directory"; exit 1; }
RC_PID= VD_PID=
cleanup() {
	[ -n "$VD_PID" ] && kill "$VD_PID" 2>/dev/null
	[ -n "$RC_PID" ] && kill "$RC_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# the reads, for keel-cachesim (csv) and for qemu-io (whole blocks)
awk -F, 'NR == 1 || $3 == "28"' "$trace" >"$T/reads.csv"
awk -F, 'NR > 1 && $3 == "28" {
	first = int($5 * 512 / 4096); last = int(($5 * 512 + $4 - 1) / 4096)
	printf "read -q %.0f %.0f\n", first * 4096, (last - first + 1) * 4096 }' "$trace" >"$T/reads.qio"
nreads=$(wc -l <"$T/reads.qio")

qemu-img create -q -f vmdk -o subformat=monolithicFlat "$T/disk.vmdk" 32G || exit 1
printf '[vdisk]\nfilters = stats cache\n[filter.cache]\nsocket = %s/rc.sock\ndirty_dir = %s/rc/dirty\nconnections = 1\n' \
	"$T" "$T" >"$T/disk.vmdk.keel"
export KEEL_VDISK_RUN_DIR=$T/run

start() {	# start BLOCKS
	rm -rf "$T/rc"
	"$build/keel-rcache" --dir "$T/rc" --size $(($1 * 4))K --socket "$T/rc.sock" \
		--size-interval 0 --events "$T/rc.ndjson" 2>"$T/rc.log" &
	RC_PID=$!
	for _ in $(seq 50); do [ -S "$T/rc.sock" ] && break; sleep 0.1; done
	"$build/keel-vdisk" serve "$T/disk.vmdk" --socket "$T/nbd.sock" --events "$T/vd.ndjson" \
		2>"$T/vd.log" &
	VD_PID=$!
	for _ in $(seq 100); do
		qemu-io -r -f raw -c "read -q 0 4096" "nbd+unix:///?socket=$T/nbd.sock" >/dev/null 2>&1 && break
		sleep 0.1
	done
	"$build/keelctl" rcache flush --rcache-socket "$T/rc.sock" >/dev/null
}
stop() {
	kill "$VD_PID" "$RC_PID" 2>/dev/null
	wait "$VD_PID" "$RC_PID" 2>/dev/null
	VD_PID= RC_PID=
}
stat() { "$build/keelctl" rcache stats --json --rcache-socket "$T/rc.sock"; }

echo "trace: $trace, $nreads reads rounded out to 4 KiB blocks"
printf '%-8s %-8s %12s %12s %12s %12s %10s %10s %10s %8s\n' blocks shards looked_up hits pred_hits pred16_hits measured predicted diff seconds
for n in $sizes; do
	start "$n"
	s0=$(stat)
	t0=$(date +%s%N)
	qemu-io -f raw "nbd+unix:///?socket=$T/nbd.sock" <"$T/reads.qio" >/dev/null 2>"$T/qio.err" ||
		{ echo "replay failed"; cat "$T/qio.err"; exit 1; }
	t1=$(date +%s%N)
	s1=$(stat)
	h=$(($(jq .hit_blocks <<<"$s1") - $(jq .hit_blocks <<<"$s0")))
	m=$(($(jq .miss_blocks <<<"$s1") - $(jq .miss_blocks <<<"$s0")))
	sim=$("$build/keel-cachesim" -q -f csv -m block --block-size 4096 --reads-only \
		-p keel,keel-16 -s "$n" --json "$T/reads.csv")
	pred=$(jq '.[0].miss_ratio' <<<"$sim")
	printf '%-8s %-8s %12d %12d %12d %12d %10.4f %10.4f %+10.4f %8.1f\n' "$n" \
		"$([ "$n" -ge 16384 ] && echo 16 || echo 1)" $((h + m)) "$h" \
		"$(jq '.[0].requests - .[0].misses' <<<"$sim")" \
		"$(jq '.[1].requests - .[1].misses' <<<"$sim")" \
		"$(echo "$h $m" | awk '{ print $1 / ($1 + $2) }')" \
		"$(echo "$pred" | awk '{ print 1 - $1 }')" \
		"$(echo "$h $m $pred" | awk '{ print $1 / ($1 + $2) - (1 - $3) }')" \
		"$(echo "$t0 $t1" | awk '{ print ($2 - $1) / 1e9 }')"
	[ -n "${RCACHE_TRACE_DEBUG:-}" ] && "$build/keel-vdisk" info "$T/disk.vmdk" --json | jq -c ".filters[] | select(.name == \"cache\") | .stats"
	stop
done

# hit latency: 8 MiB written and read twice (cached), then the same random
# 4 KiB reads through NBD (all hits), from the flat extent in the page
# cache, and from keel-rcache's cache file with O_DIRECT (qemu-io -t none),
# each by one qemu-io reading the same commands: the tool's own cost is in
# all three
lat=${RCACHE_TRACE_LAT_READS:-2000}
start 8192
qemu-io -f raw -c "write -q -P 0x5c 0 8M" -c "read -q 0 8M" -c "read -q 0 8M" \
	"nbd+unix:///?socket=$T/nbd.sock" || { echo "latency setup failed"; exit 1; }
awk -v n="$lat" 'BEGIN { srand(7); for (i = 0; i < n; i++) printf "read -q %d 4096\n", int(rand() * 2048) * 4096 }' \
	>"$T/lat.qio"
timed() {	# timed ARGS...: mean microseconds per read of lat.qio
	local t0 t1
	t0=$(date +%s%N)
	qemu-io "$@" <"$T/lat.qio" >/dev/null 2>"$T/lat.err" || { cat "$T/lat.err"; exit 1; }
	t1=$(date +%s%N)
	echo "$t0 $t1 $lat" | awk '{ printf "%.1f", ($2 - $1) / 1e3 / $3 }'
}
s0=$(stat)
nbd_us=$(timed -f raw "nbd+unix:///?socket=$T/nbd.sock")
s1=$(stat)
pc_us=$(timed -r -f raw "$T/disk-flat.vmdk")
od_us=$(timed -r -t none -f raw "$T/rc/cache")
hits=$(($(jq .hit_blocks <<<"$s1") - $(jq .hit_blocks <<<"$s0")))
echo
echo "hit latency, $lat random 4 KiB reads at depth 1 ($hits of them hits in keel-rcache):"
printf '  %-44s %8s us\n' "keel rcache hit through NBD" "$nbd_us" \
	"local read, page cache (the flat extent)" "$pc_us" \
	"local read, O_DIRECT of the cache file" "$od_us"
echo "$nbd_us $pc_us $od_us" | awk '{ printf "  keel / page cache %.2f, keel / O_DIRECT %.2f\n", $1 / $2, $1 / $3 }'
echo "metadata per cached block: keel $(jq .bytes_per_entry <<<"$s1") B, dm-cache smq about 25 B" \
	"(ratio $(jq '.bytes_per_entry / 25 * 100 | round / 100' <<<"$s1"))"
stop
