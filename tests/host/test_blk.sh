#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# blk on real block I/O: fio random, Zipf and sequential reads on a loop
# device are every one counted (fio's count, /sys/block/*/stat, keeld); the
# live model's hit ratio equals keel-cachesim replaying the recorded trace;
# the disk ID survives a re-attach on another loop number; VMDK images give
# their CID; the miss-ratio curve and its SVG.  Runs on the host and in the VM.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd jq fio losetup truncate
[ -e /dev/loop-control ] || skip "no loop devices (/dev/loop-control)"

CACHESIM=$KEEL_BUILD/keel-cachesim
IMG=$KEEL_TMP/disk.raw
truncate -s 64M "$IMG" || die "creating $IMG"

keeld_conf "cache_mib = 4" "block_size = 4096" "devices = loop*"
keeld_start || die "keeld did not start"
check_eq "blk runs" running "$(subsys_state blk)"

# attach IMAGE: a loop device over IMAGE in $ATTACHED, detached at exit.
# Not $(attach ...): on_exit in a command substitution's subshell is lost,
# and every run left its loop devices attached.
attach() {
	ATTACHED=$(losetup -f --show "$1") || return 1
	on_exit "losetup -d $ATTACHED 2>/dev/null"
}
attach "$IMG" || die "losetup on $IMG"
LOOP=$ATTACHED
NAME=$(basename "$LOOP")
note "$LOOP over $IMG"
sleep 1		# keeld adds new loop devices to its device filter every stats interval

disk_json() { "$KEELCTL" blk stats --json | jq -c ".disks[] | select(.name == \"$1\")"; }
disk_reads() { disk_json "$1" | jq -r '.total.reads // 0'; }
sys_reads() { awk '{print $1}' "/sys/block/$1/stat"; }

# one fio job; checks that keeld saw exactly the reads the device completed
fio_job() {
	local what=$1 k0 s0 k1 s1 ios
	shift
	k0=$(disk_reads "$NAME")
	k0=${k0:-0}
	s0=$(sys_reads "$NAME")
	fio --name="$what" --filename="$LOOP" --direct=1 --ioengine=libaio --size=64M \
		--output-format=json "$@" >"$KEEL_TMP/fio-$what.json" 2>"$KEEL_TMP/fio-$what.err" ||
		{ check "fio $what runs" false; cat "$KEEL_TMP/fio-$what.err"; return 1; }
	ios=$(jq '.jobs[0].read.total_ios' "$KEEL_TMP/fio-$what.json")
	s1=$(sys_reads "$NAME")
	# The last records reach keeld at its next 100 ms poll; on a busy
	# machine later: wait up to 5 s for the count to reach the device's.
	for _ in $(seq 50); do
		k1=$(disk_reads "$NAME")
		[ "$((k1 - k0))" -ge "$((s1 - s0))" ] && break
		sleep 0.1
	done
	note "$what: fio $ios reads, /sys/block/$NAME/stat +$((s1 - s0)), keeld +$((k1 - k0))"
	[ "$ios" = "$((k1 - k0))" ] || note "kernel counters: $("$KEELCTL" blk stats --json | jq -c .kernel)"
	check_eq "$what: keeld counts every read fio issued" "$ios" "$((k1 - k0))"
	check_eq "$what: keeld agrees with /sys/block/$NAME/stat" "$((s1 - s0))" "$((k1 - k0))"
}

# The recording starts with an empty model (--reset): model and trace start together.
TRACE=$KEEL_TMP/loop.keeltrc
"$KEELCTL" blk record "$NAME" "$TRACE" --reset --json >"$KEEL_TMP/record.json" 2>&1 &
recorder=$!
sleep 0.5
fio_job randread --rw=randread --bs=4k --iodepth=16 --io_size=16M
fio_job zipf --rw=randread --bs=4k --iodepth=16 --io_size=32M --random_distribution=zipf:1.2
fio_job seqread --rw=read --bs=64k --iodepth=4 --io_size=32M
kill -INT "$recorder"
wait "$recorder"
check_eq "keelctl blk record ends 0 on Ctrl-C" 0 "$?"
cat "$KEEL_TMP/record.json" | jq -c '{records, end: .end, file}' | sed 's/^/  # /'
recorded=$(jq -r .records "$KEEL_TMP/record.json")
check "the trace holds every read of the three jobs" \
	test "$recorded" -eq "$(jq -s 'map(.jobs[0].read.total_ios) | add' "$KEEL_TMP"/fio-*.json)"

model=$(disk_json "$NAME")
hits=$(echo "$model" | jq .total.hits)
misses=$(echo "$model" | jq .total.misses)
blocks=$(echo "$model" | jq .model.capacity_blocks)
"$CACHESIM" -q "$TRACE" --format keel --mode block --block-size 4096 --reads-only \
	--policies keel --sizes "$blocks" --json >"$KEEL_TMP/sim.json" 2>"$KEEL_TMP/sim.err"
check "keel-cachesim replays the recorded trace" test -s "$KEEL_TMP/sim.json" || cat "$KEEL_TMP/sim.err"
note "live model: $hits hits, $misses misses; keel-cachesim: $(jq -c '.[0] | {requests, misses, miss_ratio}' "$KEEL_TMP/sim.json")"
check_eq "replayed accesses = the live model's" "$((hits + misses))" "$(jq '.[0].requests' "$KEEL_TMP/sim.json")"
check_eq "replayed misses = the live model's (same policy, size, block mode)" "$misses" \
	"$(jq '.[0].misses' "$KEEL_TMP/sim.json")"
check "hit ratio in keelctl blk stats (text)" sh -c "'$KEELCTL' blk stats | grep -q '^$NAME .* 0\\.[0-9]'"
check_eq "no read record dropped at fio rates" 0 "$("$KEELCTL" blk stats --json | jq .kernel.dropped)"

# Miss-ratio curve
"$KEELCTL" blk mrc "$NAME" --json --plot "$KEEL_TMP/mrc.svg" >"$KEEL_TMP/mrc.json"
check "mrc: 200 points" test "$(jq '.points | length' "$KEEL_TMP/mrc.json")" -eq 200
check "mrc: never rises with the cache size" \
	jq -e '[.points[][1]] as $m | [range(1; $m | length) | select($m[.] > $m[. - 1] + 1e-9)] | length == 0' \
	"$KEEL_TMP/mrc.json"
check "mrc: the plot is an SVG with the curve" grep -q '<polyline' "$KEEL_TMP/mrc.svg"
# The three-queue model's own curve (miniature simulation of the sampled
# blocks): 16 points over 4 x the model; at the model's size (point 4) it
# estimates the live model's miss ratio, from a 1% sample (~160 blocks of
# this 64 MiB disk), so only roughly.
check_eq "keel_curve: 16 points" 16 "$(jq '.keel_curve.points | length' "$KEEL_TMP/mrc.json")"
check_eq "keel_curve: point 4 is the model's size" "$(jq .model_bytes "$KEEL_TMP/mrc.json")" \
	"$(jq '.keel_curve.points[3][0]' "$KEEL_TMP/mrc.json")"
est=$(jq '.keel_curve.points[3][1]' "$KEEL_TMP/mrc.json")
live=$(echo "$model" | jq '.total.misses / (.total.hits + .total.misses)')
note "model's miss ratio: live $live, three-queue curve at its size $est (rate $(jq .keel_curve.rate "$KEEL_TMP/mrc.json"), $(jq .keel_curve.memory_bytes "$KEEL_TMP/mrc.json") bytes); LRU curve there $(jq "[.points[] | select(.[0] >= $(jq .model_bytes "$KEEL_TMP/mrc.json"))][0][1]" "$KEEL_TMP/mrc.json")"
check "keel_curve at the model's size within 0.1 of the live miss ratio" \
	awk -v a="$est" -v b="$live" 'BEGIN { d = a - b; exit !(d < 0.1 && d > -0.1) }'
"$KEELCTL" blk mrc nosuchdisk >/dev/null 2>"$KEEL_TMP/err"
check_eq "mrc of an unknown disk: exit status" 1 "$?"
check "  ... names it" grep -q "no disk 'nosuchdisk'" "$KEEL_TMP/err"

# Disk identity survives renumbering
ID=$(disk_json "$NAME" | jq -r .disk)
check "a raw image gets an ID from IMAGE.keel" grep -q "disk_id = ${ID#keel:}" "$IMG.keel"
losetup -d "$LOOP"
FILLER=$KEEL_TMP/filler.raw
truncate -s 1M "$FILLER"
attach "$FILLER" || die "losetup on $FILLER"
attach "$IMG" || die "re-attaching $IMG"
LOOP2=$ATTACHED
check "re-attached on another number ($LOOP -> $LOOP2)" test "$LOOP" != "$LOOP2"
sleep 1
dd if="$LOOP2" of=/dev/null bs=4k count=16 iflag=direct status=none
sleep 0.3
check_eq "same disk ID on $(basename "$LOOP2")" "$ID" "$(disk_json "$(basename "$LOOP2")" | jq -r .disk)"

# VMDK images: the CID in the descriptor
if command -v qemu-img >/dev/null; then
	qemu-img create -q -f vmdk -o subformat=monolithicFlat "$KEEL_TMP/flat.vmdk" 8M
	qemu-img create -q -f vmdk "$KEEL_TMP/sparse.vmdk" 8M
	for img in flat-flat sparse; do
		cid=$(grep -a -m1 '^CID=' "$KEEL_TMP/${img%-flat}.vmdk" | cut -d= -f2)
		attach "$KEEL_TMP/$img.vmdk" || { check "losetup $img.vmdk" false; continue; }
		d=$ATTACHED
		sleep 1
		dd if="$d" of=/dev/null bs=4k count=4 iflag=direct status=none
		sleep 0.3
		check_eq "VMDK ($img.vmdk): disk ID is the descriptor's CID" "vmdk-cid:$cid" \
			"$(disk_json "$(basename "$d")" | jq -r .disk)"
	done
else
	note "qemu-img missing (package qemu-utils): VMDK checks skipped"
fi

# Filter: a disk outside [blk] devices is not even sent by the kernel
if [ -b /dev/vda ] || [ -b /dev/sda ]; then
	check "disks outside 'devices = loop*' are not modelled" \
		sh -c "'$KEELCTL' blk stats --json | jq -e '[.disks[].name | select(startswith(\"loop\") | not)] | length == 0'"
fi
check "blk.stats events carry the per-disk models" \
	sh -c "'$KEELCTL' events --type blk.stats | tail -1 | jq -e '.disks | length >= 1'"

keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
