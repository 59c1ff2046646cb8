#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vdisk benchmark (figures, never asserted): keel's disk server
# (keel-vdisk serve: nbdkit + keel's plugin, empty chain) against qemu-nbd,
# each serving its own copy of the same 256 MiB monolithicSparse VMDK
# (fully allocated, written by qemu-img convert) on a Unix socket, measured
# by the same client in the same run: fio's nbd engine (libnbd), 4 KiB
# random reads and random writes at queue depth 32.  Prints IOPS and mean
# completion latency of each, and keel/qemu-nbd (IOPS: above 1 is keel
# faster; latency: below 1 is keel faster).  VDISK_BENCH_S seconds per run
# (default 8), VDISK_BENCH_ROUNDS rounds in ABBA order (default 2), medians.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P)
secs=${VDISK_BENCH_S:-8}
rounds=${VDISK_BENCH_ROUNDS:-2}
for c in fio qemu-nbd qemu-img nbdkit jq; do
	command -v $c >/dev/null || { echo "vdisk bench: skipped: needs $c"; exit 0; }
done
fio --enghelp 2>&1 | grep -qw nbd || { echo "vdisk bench: skipped: fio has no nbd engine"; exit 0; }
[ -x "$top/build/keel-vdisk" ] || { echo "vdisk bench: skipped: run make"; exit 0; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vdisk-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export KEEL_VDISK_RUN_DIR=$tmp/run

head -c $((256 << 20)) /dev/urandom >"$tmp/src.raw"
qemu-img convert -q -f raw -O vmdk -o subformat=monolithicSparse "$tmp/src.raw" "$tmp/keel.vmdk"
cp "$tmp/keel.vmdk" "$tmp/qemu.vmdk"
rm -f "$tmp/src.raw"
"$top/build/keel-vdisk" serve "$tmp/keel.vmdk" --socket "$tmp/keel.sock" 2>"$tmp/keel.log" &
pids+=($!)
qemu-nbd -f vmdk --socket="$tmp/qemu.sock" --persistent --shared=8 "$tmp/qemu.vmdk" 2>"$tmp/qemu.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$tmp/keel.sock" ] && [ -S "$tmp/qemu.sock" ] && break; sleep 0.1; done

# run SERVER RW: "IOPS CLAT_US"
run() {
	fio --name=b --ioengine=nbd --uri="nbd+unix:///?socket=$tmp/$1.sock" --rw="$2" --bs=4k \
		--iodepth=32 --size=256M --time_based --runtime="$secs" --output-format=json \
		--output="$tmp/out.json" \
		>"$tmp/fio.err" 2>&1 || { cat "$tmp/fio.err" >&2; echo "0 0"; return; }
	local k=read
	[ "$2" = randwrite ] && k=write
	jq -r ".jobs[0].$k | \"\(.iops) \(.clat_ns.mean / 1000)\"" "$tmp/out.json"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "vdisk bench: 4 KiB random I/O at depth 32 over NBD (Unix socket), fio nbd engine, $secs s x $rounds rounds each"
printf '%-10s %14s %14s %8s %16s %16s %8s\n' test "qemu-nbd IOPS" "keel IOPS" ratio \
	"qemu-nbd lat µs" "keel lat µs" ratio
for rw in randread randwrite; do
	: >"$tmp/q" && : >"$tmp/k"
	for r in $(seq "$rounds"); do
		if [ $((r % 2)) = 1 ]; then
			run qemu "$rw" >>"$tmp/q"; run keel "$rw" >>"$tmp/k"
		else
			run keel "$rw" >>"$tmp/k"; run qemu "$rw" >>"$tmp/q"
		fi
	done
	qi=$(cut -d' ' -f1 "$tmp/q" | median); ki=$(cut -d' ' -f1 "$tmp/k" | median)
	ql=$(cut -d' ' -f2 "$tmp/q" | median); kl=$(cut -d' ' -f2 "$tmp/k" | median)
	awk -v t="$rw" -v qi="$qi" -v ki="$ki" -v ql="$ql" -v kl="$kl" 'BEGIN {
		printf "%-10s %14.0f %14.0f %7.2fx %16.1f %16.1f %7.2fx\n", t, qi, ki,
			(qi > 0 ? ki / qi : 0), ql, kl, (ql > 0 ? kl / ql : 0) }'
done
