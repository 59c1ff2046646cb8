#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# blk benchmark (figures, never asserted): fio 4 KiB random-read IOPS on a
# loop device over a file in /dev/shm, without keeld (peer) and with keeld
# observing every read (keel), interleaved in the same run; the read-event
# rate keeld sustains and whether any was dropped; keeld's CPU time per
# 100,000 reads.
#
# The machine is shared (other VMs, other builds), so one pair of runs says
# little: BLK_BENCH_ROUNDS pairs (default 7) of BLK_BENCH_S seconds (default
# 4) run in ABBA order (without, with, with, without, ...) so a slow drift
# hits both sides alike, and the summary gives each side's median and range
# and the ratio of the medians, plus the median of the per-pair ratios.
# keeld is started before and stopped after each "with" run; its CPU time is
# read from /proc/PID/task/*/schedstat (nanoseconds, all threads) around
# the fio run only.  BLK_BENCH_BLK_OPTS adds lines to keeld's [blk] section
# (e.g. "mrc_keel_points = 0" to see what the three-queue curve costs).
# BLK_BENCH_BPF_STATS=1 adds one run with kernel.bpf_stats_enabled (a
# machine-wide switch, restored after) and prints the kernel programs' cost
# per run; that run is left out of the figures above it.
# Needs root, fio, losetup, jq.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P)
secs=${BLK_BENCH_S:-4}
rounds=${BLK_BENCH_ROUNDS:-7}
jobs=${BLK_BENCH_JOBS:-1}	# fio jobs (2: the highest read rate this machine makes)
for c in fio losetup jq awk; do
	command -v $c >/dev/null || { echo "blk bench: skipped: needs $c"; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { echo "blk bench: skipped: needs root"; exit 0; }
tmp=$(mktemp -d /tmp/keel-blk-bench.XXXXXX)
img=/dev/shm/keel-blk-bench-$$.raw
truncate -s 256M "$img"
loop=$(losetup -f --show "$img") || { echo "blk bench: losetup on $img failed"; exit 1; }
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
${BLK_BENCH_BLK_OPTS:-}
CONF
export KEEL_SOCKET=$tmp/keel.sock

run_fio() {
	fio --name=bench --filename="$loop" --rw=randread --bs=4k --direct=1 --ioengine=libaio \
		--iodepth=32 --numjobs="$jobs" --group_reporting --size=256M --runtime="$secs" \
		--time_based --output-format=json |
		jq '.jobs[0].read | [.iops, .total_ios] | @tsv' -r
}
# CPU time of every thread of a process, in nanoseconds.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }

without() {
	local iops ios
	read -r iops ios < <(run_fio)
	echo "$iops" >>"$tmp/peer"
	printf 'round %d: without keeld %8.0f IOPS\n' "$1" "$iops"
}
with() {
	local iops ios t0 t1 st seen dropped
	"$top/build/keeld" -q -c "$tmp/keel.conf" 2>"$tmp/keeld.err" &
	pid=$!
	for _ in $(seq 50); do "$top/build/keelctl" status >/dev/null 2>&1 && break; sleep 0.1; done
	sleep 1.2	# the device filter picks up the loop device
	t0=$(cpu_ns "$pid")
	read -r iops ios < <(run_fio)
	"$top/build/keelctl" blk stats >/dev/null	# drains the ring buffer
	t1=$(cpu_ns "$pid")
	st=$("$top/build/keelctl" blk stats --json)
	seen=$(echo "$st" | jq "[.disks[] | select(.name == \"$(basename "$loop")\") | .total.reads] | add // 0")
	dropped=$(echo "$st" | jq .kernel.dropped)
	kill "$pid"; wait "$pid"; pid=
	echo "$iops" >>"$tmp/keel"
	echo "$seen $dropped $((t1 - t0))" >>"$tmp/events"
	printf 'round %d: with keeld    %8.0f IOPS; fio %d reads, keeld modelled %d (%.0f/s), dropped %d, keeld CPU %.1f ms\n' \
		"$1" "$iops" "$ios" "$seen" "$(echo "$seen / $secs" | bc -l)" "$dropped" "$(echo "($t1 - $t0) / 1000000" | bc -l)"
}

# The kernel side: nanoseconds per run of each blk program (bpf_stats).
bpf_cost() {
	local old iops ios
	command -v bpftool >/dev/null || { echo "  (bpf_stats: skipped: needs bpftool)"; return; }
	old=$(cat /proc/sys/kernel/bpf_stats_enabled)
	"$top/build/keeld" -q -c "$tmp/keel.conf" 2>"$tmp/keeld.err" &
	pid=$!
	for _ in $(seq 50); do "$top/build/keelctl" status >/dev/null 2>&1 && break; sleep 0.1; done
	sleep 1.2
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	read -r iops ios < <(run_fio)
	bpftool prog show -j | jq -r '.[] | select(.name == "blk_rq_issue" or .name == "blk_rq_complete") |
		"  kernel: \(.name) \(.run_cnt) runs, \(if .run_cnt > 0 then .run_time_ns / .run_cnt | floor else 0 end) ns each (bpf_stats)"'
	echo "$old" >/proc/sys/kernel/bpf_stats_enabled
	kill "$pid"; wait "$pid"; pid=
	printf '  (that run: %.0f IOPS, %d reads)\n' "$iops" "$ios"
}

for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) -eq 1 ]; then without "$r"; with "$r"; else with "$r"; without "$r"; fi
done

# median min max of a file of numbers
stats() { sort -g "$1" | awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR]}'; }
read -r pm plo phi < <(stats "$tmp/peer")
read -r km klo khi < <(stats "$tmp/keel")
paste "$tmp/keel" "$tmp/peer" | awk '{print $1 / $2}' >"$tmp/ratio"
read -r rm rlo rhi < <(stats "$tmp/ratio")
awk -v s="$secs" '{print $1 / s}' "$tmp/events" >"$tmp/rate"
read -r em elo ehi < <(stats "$tmp/rate")
drops=$(awk '{d += $2} END {print d + 0}' "$tmp/events")
maxok=$(awk -v s="$secs" '$2 == 0 && $1 / s > m {m = $1 / s} END {print m + 0}' "$tmp/events")
awk '{print $3 / 1e6 / $1 * 1e5}' "$tmp/events" >"$tmp/cpu"
read -r cm clo chi < <(stats "$tmp/cpu")
printf 'fio randread 4k qd32 x %s job(s) on a loop device in /dev/shm, %s rounds x 2 runs of %s s, ABBA order:\n' \
	"$jobs" "$rounds" "$secs"
printf '  peer (no keeld)   median %8.0f IOPS  (range %.0f-%.0f)\n' "$pm" "$plo" "$phi"
printf '  keel (keeld)      median %8.0f IOPS  (range %.0f-%.0f)\n' "$km" "$klo" "$khi"
printf '  ratio keel/peer   of medians %.4f (%+.2f%%); per pair: median %.4f (range %.4f-%.4f)\n' \
	"$(echo "$km / $pm" | bc -l)" "$(echo "($km / $pm - 1) * 100" | bc -l)" "$rm" "$rlo" "$rhi"
printf '  read events modelled: median %.0f/s (range %.0f-%.0f); dropped in all rounds: %d; highest rate with 0 dropped: %.0f/s\n' \
	"$em" "$elo" "$ehi" "$drops" "$maxok"
printf '  keeld CPU time per 100,000 reads: median %.1f ms (range %.1f-%.1f)\n' "$cm" "$clo" "$chi"
[ "${BLK_BENCH_BPF_STATS:-0}" = 1 ] && bpf_cost
exit 0
