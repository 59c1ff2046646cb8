#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# rcache benchmark (figures, never asserted), in the VM (device-mapper is
# there, not on the development host): keel's read cache against dm-cache
# with its smq policy, same workload, same cache size, same slow origin
# latency, measured in the same run.
#
#   tests/vm/run -- tests/bench/rcache_dmcache.sh
#
# Origin: 128 MiB of random bytes, read at 2 ms per request: for dm-cache a
# dm-delay device (2 ms on reads) over a loop device; for keel a flat VMDK
# over another loop device whose chain is "stats cache throttle" with the
# throttle at 500 IOPS below the cache (only misses pay, 2 ms each at depth
# 1).  Cache: 16 MiB for both (dm-cache: 512 blocks of 32 KiB, its smallest
# block; keel: 4096 blocks of 4 KiB).  Client: the kernel's block layer in
# both cases, fio libaio direct, depth 1: /dev/mapper/keel-bench-cached for
# dm-cache, /dev/nbd0 (nbd-client over TCP) for keel.  Workload: 4 KiB
# reads, Zipf theta 1.2 over the 128 MiB, RCACHE_BENCH_IOS reads (default
# 6000) after a warm-up of the same length with seed 42; the measured pass
# uses seed RCACHE_BENCH_SEED (default 42: the warm-up's sequence again).  Printed: hit
# ratio (dm-cache: read hits / reads of its status; keel: hit blocks /
# looked-up blocks of keel-rcache's stats), IOPS and p99 latency, and the
# ratios keel / dm-cache.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P)
ios=${RCACHE_BENCH_IOS:-6000}
seed=${RCACHE_BENCH_SEED:-42}
skip() { echo "rcache bench: skipped: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (run it in the VM: tests/vm/run -- $0)"
for c in fio dmsetup losetup nbd-client qemu-img jq modprobe; do
	command -v $c >/dev/null || skip "needs $c"
done
[ -x "$top/build/keel-rcache" ] && [ -x "$top/build/keel-vdisk" ] || skip "run make"
modprobe dm-delay 2>/dev/null && modprobe dm-cache 2>/dev/null && modprobe dm-cache-smq 2>/dev/null ||
	skip "no dm-delay/dm-cache modules on this kernel"
modprobe nbd nbds_max=1 2>/dev/null || skip "no nbd module"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcache-bench.XXXXXX")
pids=() loops=()
cleanup() {
	nbd-client -d /dev/nbd0 >/dev/null 2>&1
	dmsetup remove keel-bench-cached 2>/dev/null
	dmsetup remove keel-bench-slow 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	rmmod nbd 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
export KEEL_VDISK_RUN_DIR=$tmp/run
size=$((128 << 20))
sectors=$((size / 512))
loop() { local l; l=$(losetup -f --show "$1") || exit 1; loops+=("$l"); echo "$l"; }

head -c $size /dev/urandom >"$tmp/origin-dm.raw"
cp "$tmp/origin-dm.raw" "$tmp/origin-keel.raw"
truncate -s 16M "$tmp/cache.raw"
truncate -s 8M "$tmp/meta.raw"
o_dm=$(loop "$tmp/origin-dm.raw")
o_keel=$(loop "$tmp/origin-keel.raw")
c_dm=$(loop "$tmp/cache.raw")
m_dm=$(loop "$tmp/meta.raw")
dd if=/dev/zero of="$m_dm" bs=4k count=1 2>/dev/null	# a fresh cache metadata device
devno() { printf '%d:%d' "0x$(stat -c %t "$1")" "0x$(stat -c %T "$1")"; }
# no udev in the VM: tables name devices by number, nodes made by mknodes
dmsetup create keel-bench-slow --table "0 $sectors delay $(devno "$o_dm") 0 2 $(devno "$o_dm") 0 0" ||
	skip "dmsetup delay failed"
dmsetup mknodes keel-bench-slow
slow=$(dmsetup info -c --noheadings -o major,minor keel-bench-slow | tr -d ' ')
# writethrough, smq, 32 KiB blocks; a high migration threshold so that
# promotions are not held back by dm-cache's migration bandwidth
dmsetup create keel-bench-cached --table "0 $sectors cache $(devno "$m_dm") $(devno "$c_dm") $slow 64 1 writethrough smq 2 migration_threshold 1000000" ||
	{ dmesg | tail -5; skip "dmsetup cache failed"; }
dmsetup mknodes keel-bench-cached

# keel: a flat VMDK over the origin's loop device
cat >"$tmp/keel.vmdk" <<EOD
# Disk DescriptorFile
version=1
CID=12345678
parentCID=ffffffff
createType="monolithicFlat"

RW $sectors FLAT "$o_keel" 0

ddb.adapterType = "lsilogic"
EOD
printf '[vdisk]\nfilters = stats cache throttle\n[filter.cache]\nsocket = %s\ndirty_dir = %s/dirty\n[filter.throttle]\niops = 500\nburst_ms = 2\n' \
	"$tmp/rc.sock" "$tmp/rc" >"$tmp/keel.vmdk.keel"
"$top/build/keel-rcache" --dir "$tmp/rc" --size 16M --socket "$tmp/rc.sock" \
	--events "$tmp/rc.ndjson" 2>"$tmp/rc.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$tmp/rc.sock" ] && break; sleep 0.1; done
port=$((20000 + $$ % 20000))
"$top/build/keel-vdisk" serve "$tmp/keel.vmdk" --tcp "127.0.0.1:$port" 2>"$tmp/vd.log" &
pids+=($!)
for _ in $(seq 100); do
	nbd-client 127.0.0.1 "$port" /dev/nbd0 -b 4096 -N "" >/dev/null 2>&1 && break
	sleep 0.2
done
[ "$(cat /sys/block/nbd0/size 2>/dev/null)" -gt 0 ] || { cat "$tmp/vd.log"; skip "nbd-client could not attach keel's disk"; }

# fio DEV NAME [SEED]: one pass -> "IOPS P99_US"
fio_pass() {
	fio --name="$2" --filename="$1" --ioengine=libaio --direct=1 --rw=randread --bs=4k \
		--iodepth=1 --size=$size --number_ios="$ios" --random_distribution=zipf:1.2 \
		--randseed="${3:-42}" --norandommap --output-format=json --output="$tmp/$2.json" \
		>"$tmp/fio.err" 2>&1 || { cat "$tmp/fio.err" >&2; echo "0 0"; return; }
	jq -r '.jobs[0].read | "\(.iops) \(.clat_ns.percentile["99.000000"] / 1000)"' "$tmp/$2.json"
}
# dm-cache's read hits and misses (dmsetup status, fields 8 and 9)
dm_hits() { dmsetup status keel-bench-cached | awk '{ print $8, $9 }'; }
rc_stat() { "$top/build/keelctl" rcache stats --json --rcache-socket "$tmp/rc.sock" | jq -r ".$1"; }

echo "rcache bench: 4 KiB reads, Zipf 1.2 over 128 MiB, $ios reads (seed $seed) after a warm-up of as many (seed 42);"
echo "  origin 2 ms per read; cache 16 MiB; fio libaio direct depth 1"
fio_pass /dev/mapper/keel-bench-cached dm-warm >/dev/null
read -r dh0 dm0 < <(dm_hits)
read -r dm_iops dm_p99 < <(fio_pass /dev/mapper/keel-bench-cached dm "$seed")
read -r dh1 dm1 < <(dm_hits)
fio_pass /dev/nbd0 keel-warm >/dev/null
kh0=$(rc_stat hit_blocks) km0=$(rc_stat miss_blocks)
read -r k_iops k_p99 < <(fio_pass /dev/nbd0 keel "$seed")
kh1=$(rc_stat hit_blocks) km1=$(rc_stat miss_blocks)
# no cache: the origin alone, same seed
read -r n_iops n_p99 < <(fio_pass /dev/mapper/keel-bench-slow none "$seed")

dm_ratio=$(awk -v h=$((dh1 - dh0)) -v m=$((dm1 - dm0)) 'BEGIN { printf "%.4f", (h + m) ? h / (h + m) : 0 }')
k_ratio=$(awk -v h=$((kh1 - kh0)) -v m=$((km1 - km0)) 'BEGIN { printf "%.4f", (h + m) ? h / (h + m) : 0 }')
r() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
printf '%-22s %10s %10s %10s\n' "" "hit ratio" IOPS "p99 µs"
printf '%-22s %10s %10.0f %10.0f\n' "no cache (origin)" - "$n_iops" "$n_p99"
printf '%-22s %10s %10.0f %10.0f\n' "dm-cache smq" "$dm_ratio" "$dm_iops" "$dm_p99"
printf '%-22s %10s %10.0f %10.0f\n' "keel rcache" "$k_ratio" "$k_iops" "$k_p99"
printf '%-22s %10s %10s %10s\n' "keel / dm-cache" "$(r "$k_ratio" "$dm_ratio")" \
	"$(r "$k_iops" "$dm_iops")" "$(r "$k_p99" "$dm_p99")"
echo "  (dm-cache: $((dh1 - dh0)) read hits, $((dm1 - dm0)) misses; keel: $((kh1 - kh0)) hit blocks," \
	"$((km1 - km0)) missed; metadata per cached block: keel $(rc_stat bytes_per_entry) B, smq about 25 B)"
