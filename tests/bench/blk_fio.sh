#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# blk benchmark (figures, never asserted): fio 4 KiB random-read IOPS on a
# loop device over a file in /dev/shm, without keeld (peer) and with keeld
# observing every read (keel), alternated in the same run; the read-event
# rate keeld sustains and whether any was dropped; keeld's CPU time per
# 100,000 reads.  Needs root, fio, losetup.  BLK_BENCH_S sets seconds per run.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P)
secs=${BLK_BENCH_S:-5}
rounds=${BLK_BENCH_ROUNDS:-2}
for c in fio losetup jq; do
	command -v $c >/dev/null || { echo "blk bench: skipped: needs $c"; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { echo "blk bench: skipped: needs root"; exit 0; }
tmp=$(mktemp -d /tmp/keel-blk-bench.XXXXXX)
img=/dev/shm/keel-blk-bench-$$.raw
truncate -s 256M "$img"
loop=$(losetup -f --show "$img") || { echo "blk bench: losetup failed"; exit 1; }
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	losetup -d "$loop"
	rm -f "$img" "$img.keel"
	rm -rf "$tmp" "/sys/fs/bpf/keel-bench-$$"
}
trap cleanup EXIT
dd if=/dev/urandom of="$loop" bs=1M count=256 oflag=direct status=none
cat >"$tmp/keel.conf" <<CONF
[control]
socket = $tmp/keel.sock
[bpf]
pin_dir = /sys/fs/bpf/keel-bench-$$
[events]
stdout = false
[exec]
enabled = false
[vmnet]
enabled = false
[blk]
devices = loop*
stats_interval_ms = 1000
CONF
export KEEL_SOCKET=$tmp/keel.sock

run_fio() {
	fio --name=bench --filename="$loop" --rw=randread --bs=4k --direct=1 --ioengine=libaio \
		--iodepth=32 --size=256M --runtime="$secs" --time_based --output-format=json |
		jq '.jobs[0].read | [.iops, .total_ios] | @tsv' -r
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

peer_sum=0 keel_sum=0 reads=0 ticks=0
for r in $(seq 1 "$rounds"); do
	read -r iops _ < <(run_fio)
	peer_sum=$(echo "$peer_sum + $iops" | bc -l)
	echo "round $r: without keeld  $(printf '%.0f' "$iops") IOPS"
	"$top/build/keeld" -q -c "$tmp/keel.conf" 2>"$tmp/keeld.err" &
	pid=$!
	for _ in $(seq 50); do "$top/build/keelctl" status >/dev/null 2>&1 && break; sleep 0.1; done
	sleep 1.2	# the device filter picks up the loop device
	t0=$(cpu_ticks "$pid")
	read -r iops ios < <(run_fio)
	sleep 0.3
	t1=$(cpu_ticks "$pid")
	st=$("$top/build/keelctl" blk stats --json)
	seen=$(echo "$st" | jq "[.disks[] | select(.name == \"$(basename "$loop")\") | .total.reads] | add // 0")
	dropped=$(echo "$st" | jq .kernel.dropped)
	kill "$pid"; wait "$pid"; pid=
	keel_sum=$(echo "$keel_sum + $iops" | bc -l)
	reads=$((reads + seen)); ticks=$((ticks + t1 - t0))
	echo "round $r: with keeld     $(printf '%.0f' "$iops") IOPS; fio $ios reads, keeld modelled $seen, dropped $dropped"
done
hz=$(getconf CLK_TCK)
peer=$(echo "$peer_sum / $rounds" | bc -l)
keel=$(echo "$keel_sum / $rounds" | bc -l)
printf 'fio randread 4k qd32 on a loop device (%s s x %s rounds):\n' "$secs" "$rounds"
printf '  peer (no keeld)  %10.0f IOPS\n  keel (keeld)     %10.0f IOPS\n  ratio keel/peer  %10.4f (%+.2f%%)\n' \
	"$peer" "$keel" "$(echo "$keel / $peer" | bc -l)" "$(echo "($keel / $peer - 1) * 100" | bc -l)"
printf '  read events sustained: %.0f/s with keeld (dropped: see rounds)\n' "$(echo "$reads / ($secs * $rounds)" | bc -l)"
printf '  keeld CPU time per 100,000 reads: %.1f ms\n' "$(echo "$ticks * 1000 / $hz / $reads * 100000" | bc -l)"
