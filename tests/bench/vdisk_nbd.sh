#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# vdisk benchmark (figures, never asserted): keel's disk server
# (keel-vdisk serve: nbdkit + keel's plugin, empty chain) against qemu-nbd,
# each serving its own copy of the same 256 MiB monolithicSparse VMDK
# (fully allocated, written by qemu-img convert) on a Unix socket, measured
# by the same client in the same run: fio's nbd engine (libnbd), 4 KiB
# random reads and random writes at queue depth 32.  Prints IOPS and mean
# completion latency of each, and keel/qemu-nbd (IOPS: above 1 is keel
# faster; latency: below 1 is keel faster).  Then 1 MiB sequential reads
# (queue depth 4) of the same two exports, in MiB/s.  Then each filter's
# cost: keel's server with the chain empty, stats, throttle (no limit),
# integrity and crypt, one at a time on its own 64 MiB disk filled through
# that chain first (so integrity verifies every block it reads and crypt
# decrypts real ciphertext), 4 KiB random reads at depth 32 and 1 MiB
# sequential reads, each against the empty chain measured in the same
# round.  VDISK_BENCH_S seconds per run (default 8), VDISK_BENCH_ROUNDS
# rounds in ABBA order (default 2), medians.
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

# run SERVER RW [BS DEPTH SIZE]: "IOPS CLAT_US MIB_S"
run() {
	fio --name=b --ioengine=nbd --uri="nbd+unix:///?socket=$tmp/$1.sock" --rw="$2" \
		--bs="${3:-4k}" --iodepth="${4:-32}" --size="${5:-256M}" --time_based \
		--runtime="$secs" --output-format=json --output="$tmp/out.json" \
		>"$tmp/fio.err" 2>&1 || { cat "$tmp/fio.err" >&2; echo "0 0 0"; return; }
	local k=read
	[ "$2" = randwrite ] && k=write
	jq -r ".jobs[0].$k | \"\(.iops) \(.clat_ns.mean / 1000) \(.bw_bytes / 1048576)\"" "$tmp/out.json"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
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

echo
echo "vdisk bench: 1 MiB sequential read, depth 4, $secs s x $rounds rounds each"
printf '%-10s %14s %14s %8s\n' test "qemu-nbd MiB/s" "keel MiB/s" ratio
: >"$tmp/q" && : >"$tmp/k"
for r in $(seq "$rounds"); do
	if [ $((r % 2)) = 1 ]; then
		run qemu read 1M 4 >>"$tmp/q"; run keel read 1M 4 >>"$tmp/k"
	else
		run keel read 1M 4 >>"$tmp/k"; run qemu read 1M 4 >>"$tmp/q"
	fi
done
qb=$(cut -d' ' -f3 "$tmp/q" | median); kb=$(cut -d' ' -f3 "$tmp/k" | median)
awk -v qb="$qb" -v kb="$kb" 'BEGIN {
	printf "%-10s %14.1f %14.1f %7.2fx\n", "read 1M", qb, kb, (qb > 0 ? kb / qb : 0) }'
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
pids=()
rm -f "$tmp/keel.vmdk" "$tmp/qemu.vmdk"

# Each filter's cost: serve f-NAME.vmdk with that chain, fill it through
# the chain (fio 1 MiB sequential writes), measure, stop.
# filter_run NAME: "IOPS4K MIBS1M"
filter_run() {
	local d=$tmp/f-$1.vmdk sock=$tmp/f.sock pid a b
	[ -e "$d" ] || {
		qemu-img create -q -f vmdk "$d" 64M
		case $1 in
		empty) ;;
		throttle) printf '[vdisk]\nfilters = throttle\n' >"$d.keel" ;;
		crypt)	head -c 64 /dev/urandom >"$d.key"; chmod 600 "$d.key"
			printf '[vdisk]\nfilters = crypt\n[filter.crypt]\nkey_file = %s\n' \
				"${d##*/}.key" >"$d.keel" ;;
		*) printf '[vdisk]\nfilters = %s\n' "$1" >"$d.keel" ;;
		esac
		touch "$d.fill"
	}
	"$top/build/keel-vdisk" serve "$d" --socket "$sock" 2>"$tmp/f.log" &
	pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
	if [ -e "$d.fill" ]; then
		fio --name=fill --ioengine=nbd --uri="nbd+unix:///?socket=$sock" --rw=write --bs=1M \
			--iodepth=4 --size=64M >/dev/null 2>&1
		rm -f "$d.fill"
	fi
	ln -sf "$sock" "$tmp/filt.sock"
	a=$(run filt randread 4k 32 64M | cut -d' ' -f1)
	b=$(run filt read 1M 4 64M | cut -d' ' -f3)
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$a $b"
}
echo
echo "vdisk bench: each filter's cost, keel's server, 64 MiB disk written through the chain first; $secs s x $rounds rounds each"
printf '%-10s %12s %12s %8s %12s %12s %8s\n' chain "empty IOPS" "IOPS" ratio "empty MiB/s" "MiB/s" ratio
for f in stats throttle integrity crypt; do
	: >"$tmp/e" && : >"$tmp/x"
	for r in $(seq "$rounds"); do
		if [ $((r % 2)) = 1 ]; then
			filter_run empty >>"$tmp/e"; filter_run "$f" >>"$tmp/x"
		else
			filter_run "$f" >>"$tmp/x"; filter_run empty >>"$tmp/e"
		fi
	done
	ei=$(cut -d' ' -f1 "$tmp/e" | median); xi=$(cut -d' ' -f1 "$tmp/x" | median)
	eb=$(cut -d' ' -f2 "$tmp/e" | median); xb=$(cut -d' ' -f2 "$tmp/x" | median)
	awk -v t="$f" -v ei="$ei" -v xi="$xi" -v eb="$eb" -v xb="$xb" 'BEGIN {
		printf "%-10s %12.0f %12.0f %7.2fx %12.1f %12.1f %7.2fx\n", t, ei, xi,
			(ei > 0 ? xi / ei : 0), eb, xb, (eb > 0 ? xb / eb : 0) }'
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
