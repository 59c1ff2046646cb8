#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keel-rcache sizes each disk's share of the cache from the disk's live
# miss-ratio curve (the SHARDS sampler it keeps per disk over the blocks
# looked up): two disks share a 1024-block cache, one reading a Zipf-hot
# set of 800 blocks, one scanning blocks it never reads again.  The same
# reads (same seeds, same scan) run three times on a fresh cache:
#   - limits set by hand to an equal split (512 + 512),
#   - no limits (each disk may fill the cache: the three-queue policy alone),
#   - limits sized from the live curves every second (--size-interval 1);
# the sized run must give the hot disk a target above its working set, the
# scan disk less, keelctl rcache disks --json must show each disk's target
# and current size, and the sized run's hits must beat the equal split's.
# The hits are counted by the client (rcache_client mix), not timed.
. "$(dirname "$0")/../integration/lib.sh"
need_cmd jq
RC=$KEEL_BUILD/keel-rcache
RCC=$KEEL_BUILD/tests/rcache_client
KC=$KEEL_BUILD/keelctl
[ -x "$RC" ] && [ -x "$RCC" ] && [ -x "$KC" ] || die "no $RC, $RCC or $KC: run make"
HOT=0000000000686f74
SCAN=000000007363616e
N=${RCACHE_AUTOSIZE_READS:-6000}
SOCK=$KEEL_TMP/rc.sock
RC_PID=

start() {	# NAME INTERVAL
	"$RC" --dir "$KEEL_TMP/$1" --size 4M --socket "$SOCK" --events "$KEEL_TMP/$1.ndjson" \
		--size-interval "$2" 2>"$KEEL_TMP/$1.log" &
	RC_PID=$!
	wait_until 5 grep -q '"type":"rcache.start"' "$KEEL_TMP/$1.ndjson" ||
		{ cat "$KEEL_TMP/$1.log"; die "keel-rcache did not start"; }
}
stop() {
	kill "$RC_PID"
	wait "$RC_PID" 2>/dev/null
	RC_PID=
}
on_exit '[ -n "$RC_PID" ] && kill -9 $RC_PID'
disks() { "$KC" rcache disks --json --rcache-socket "$SOCK"; }
# the measured pass: hits of both disks, after a warm-up of three times as many reads
measured() {
	"$RCC" "$SOCK" mix "$N" 800 $((3 * N / 2)) 2 | tee -a "$KEEL_TMP/mix.log" |
		awk '{ print $2 + $6 }'
}

start equal 0
for d in $HOT $SCAN; do
	check "equal split: disk $d limited to 512 blocks by hand" "$RCC" "$SOCK" limit "$d" 512
done
"$RCC" "$SOCK" mix $((3 * N)) 800 0 1 >/dev/null || die "warm-up failed"
equal=$(measured)
note "equal split: $equal hits of $N reads ($(tail -n1 "$KEEL_TMP/mix.log"))"
stop

start unlimited 0
"$RCC" "$SOCK" mix $((3 * N)) 800 0 1 >/dev/null || die "warm-up failed"
unlimited=$(measured)
note "no limits: $unlimited hits of $N reads ($(tail -n1 "$KEEL_TMP/mix.log"))"
stop

start sized "${RCACHE_AUTOSIZE_INTERVAL:-1}"	# 0: the test fails (no sizing)
"$RCC" "$SOCK" mix $((3 * N)) 800 0 1 >/dev/null || die "warm-up failed"
hot_sized() { disks | jq -e "map(select(.disk_id == \"$HOT\" and .sized))[0]"; }
check "the disks are sized from their curves within 5 s" wait_until 5 hot_sized
sleep 1.2	# one more sizing pass: the curves are complete now
d=$(disks)
note "keelctl rcache disks --json: $(jq -c 'map({disk_id, limit_blocks, target_blocks, cached_blocks, expected_hit_ratio, curve_reads})' <<<"$d")"
ht=$(jq -r "map(select(.disk_id == \"$HOT\"))[0].target_blocks" <<<"$d")
st=$(jq -r "map(select(.disk_id == \"$SCAN\"))[0].target_blocks" <<<"$d")
hl=$(jq -r "map(select(.disk_id == \"$HOT\"))[0].limit_blocks" <<<"$d")
check "the hot disk gets more than an equal share ($ht > 512 blocks)" test "$ht" -gt 512
check "the scan disk gets less than an equal share ($st < 512 blocks)" test "$st" -lt 512
check "the targets add up to the cache (1024 blocks: $ht + $st)" test $((ht + st)) -eq 1024
check_eq "the hot disk's limit moved from the default share (1024) to its target" "$ht" "$hl"
check "keelctl rcache disks --json shows each disk's current size and curve" \
	jq -e 'all(.[]; (.cached_blocks | type) == "number" and (.curve | length) > 0 and .curve_reads > 0)' <<<"$d"
sized=$(measured)
note "sized from the live curves: $sized hits of $N reads ($(tail -n1 "$KEEL_TMP/mix.log"))"
check "sized from the curves, the two disks hit more than with an equal split ($sized > $equal)" \
	test "$sized" -gt "$equal"
check "keelctl rcache stats --json counts the sizing runs" \
	jq -e '.autosize.runs >= 2 and .autosize.sampled_disks == 2' \
	<<<"$("$KC" rcache stats --json --rcache-socket "$SOCK")"
out=$("$KC" rcache disks --rcache-socket "$SOCK")
note "keelctl rcache disks: $out"
check "keelctl rcache disks shows the targets" grep -q "TARGET" <<<"$out"
stop
[ "$_keel_failed" -eq 0 ]
