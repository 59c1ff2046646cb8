#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The read cache end to end: keel-rcache and disk servers whose chain has
# the cache filter, driven over NBD (qemu-io, qemu-img, fio's nbd engine
# with verify).  Hits and misses, invalidation on write and discard, a
# disk changed outside keel (new CID), two linked clones sharing their
# base's blocks, kill -9 of the daemon (reads go on; a write meanwhile
# leaves a dirty mark; the restart is warm and drops the written disk),
# a corrupted cache file.  On a host without keel.ko, the memory handles
# are memh's fallback (pidfd + process_vm_writev).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vdisk.sh"
need_cmd qemu-io qemu-img nbdkit fio jq
RC=$KEEL_BUILD/keel-rcache
[ -x "$RC" ] && [ -x "$VDISK" ] || die "no $RC or $VDISK: run make"

RCDIR=$KEEL_TMP/rc
RCSOCK=$KEEL_TMP/rc.sock
RCEV=$KEEL_TMP/rc.ndjson
D=$KEEL_TMP/disk.vmdk
S=$KEEL_TMP/nbd.sock
U=$(nbd_uri "$S")

# start keel-rcache and wait for its rcache.start (a socket file left by a
# killed daemon says nothing)
rc_start() {
	local i n
	n=$(grep -c '"type":"rcache.start"' "$RCEV" 2>/dev/null)
	"$RC" --dir "$RCDIR" --size 128M --socket "$RCSOCK" --events "$RCEV" 2>>"$KEEL_TMP/rc.log" &
	RC_PID=$!
	on_exit "kill -9 $RC_PID"
	for i in $(seq 50); do
		[ "$(grep -c '"type":"rcache.start"' "$RCEV" 2>/dev/null)" -gt "${n:-0}" ] && return 0
		sleep 0.1
	done
	cat "$KEEL_TMP/rc.log"
	return 1
}

# the chain of a disk: stats above the cache filter
meta() {
	printf '[vdisk]\nfilters = stats cache\n[filter.cache]\nsocket = %s\ndirty_dir = %s/dirty\n' \
		"$RCSOCK" "$RCDIR" >"$1.keel"
}

# cache <DISK> <counter>: the cache filter's counter of a served disk
cache_stat() {
	"$VDISK" info "$1" --json | jq -r ".filters[] | select(.name == \"cache\") | .stats.$2"
}

kc() { "$KEEL_BUILD/keelctl" rcache "$@" --rcache-socket "$RCSOCK"; }
# kcq SUB FILTER: keelctl rcache SUB --json answers, and FILTER holds on it
kcq() {
	local out
	out=$(kc "$1" --json) && [ -n "$out" ] && jq -e "$2" <<<"$out" >/dev/null
}

rc_start || die "keel-rcache did not start"
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$D" 64M || die "qemu-img create"
meta "$D"
head -c $((16 << 20)) /dev/urandom >"$KEEL_TMP/src.raw"
truncate -s 64M "$KEEL_TMP/src.raw"
vdisk_serve "$D" "$S" || die "the disk server did not start"

# misses then hits, same bytes
check "write 16 MiB through the chain" qemu-img convert -n -f raw -O raw "$KEEL_TMP/src.raw" "$U"
check "first pass reads what was written (misses)" qemu-img compare -f raw -F raw "$KEEL_TMP/src.raw" "$U"
h1=$(cache_stat "$D" hit_blocks)
a1=$(cache_stat "$D" admitted)
check "second pass reads the same (hits)" qemu-img compare -f raw -F raw "$KEEL_TMP/src.raw" "$U"
h2=$(cache_stat "$D" hit_blocks)
note "admitted $a1 blocks in the first pass; hits $h1 -> $h2"
check "the first pass admitted blocks" test "$a1" -gt 1000
check "the second pass was served from the cache (over 1000 more block hits)" test $((h2 - h1)) -gt 1000

# a write and a discard invalidate before they are acknowledged
check "read a cached block" qemu-io -f raw -c "read -P $(od -An -tu1 -j $((1 << 20)) -N1 "$KEEL_TMP/src.raw" | tr -d ' ') $((1 << 20)) 1" "$U"
check "overwrite 64 KiB of cached blocks" qemu-io -f raw -c "write -P 0xab $((1 << 20)) 64k" "$U"
check "the new data reads back, not the cached" qemu-io -f raw -c "read -P 0xab $((1 << 20)) 64k" "$U"
check "zero 64 KiB of cached blocks" qemu-io -f raw -c "write -z $((2 << 20)) 64k" "$U"
check "zeros read back" qemu-io -f raw -c "read -P 0 $((2 << 20)) 64k" "$U"
check "discard 64 KiB of cached blocks, then write" qemu-io -f raw -c "discard $((3 << 20)) 64k" \
	-c "write -P 0xcd $((3 << 20)) 4k" "$U"
check "the block written after the discard reads back" qemu-io -f raw -c "read -P 0xcd $((3 << 20)) 4k" "$U"

# fio: random reads and writes with verification, cache on
FIO="fio --name=rw --ioengine=nbd --uri=$U --rw=randrw --rwmixread=60 --bsrange=4k-64k
	--size=24M --offset=32M --io_size=48M --verify=crc32c --verify_fatal=1 --iodepth=4 --verify_state_save=0"
check "fio randrw 4k-64k, then verify every block written, over NBD with the cache on" \
	$FIO --output="$KEEL_TMP/fio1.out"
h1=$(cache_stat "$D" hit_blocks)
check "fio verifies the same blocks again (from the cache)" \
	$FIO --verify_only --output="$KEEL_TMP/fio2.out"
h2=$(cache_stat "$D" hit_blocks)
note "fio's second verification hit $((h2 - h1)) blocks"
check "the second verification was served from the cache" test $((h2 - h1)) -gt 1000
vdisk_stop

# a change outside keel: qemu-io writes the VMDK directly (a new CID)
qemu-io -f vmdk -c "write -P 0x5a 0 64k" "$D" >/dev/null 2>&1 || die "qemu-io on the file"
vdisk_serve "$D" "$S" || die "the disk server did not restart"
check "after a write outside keel the new data reads, not the cached" \
	qemu-io -f raw -c "read -P 0x5a 0 64k" "$U"
check "rcache dropped the disk on its new CID" grep -q '"type":"rcache.drop".*CID' "$RCEV"
vdisk_stop

# linked clones: the base's blocks are cached once, shared
B=$KEEL_TMP/base.vmdk
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$B" 64M
qemu-io -f vmdk -c "write -P 0x42 0 8M" "$B" >/dev/null 2>&1 || die "qemu-io base"
for c in c1 c2; do
	qemu-img create -q -f vmdk -b "$B" -F vmdk "$KEEL_TMP/$c.vmdk" || die "qemu-img create $c"
	meta "$KEEL_TMP/$c.vmdk"
done
vdisk_serve "$KEEL_TMP/c1.vmdk" "$KEEL_TMP/c1.sock" || die "serve c1"
C1=$VDISK_PID
check "clone 1 reads the base" qemu-io -f raw -c "read -P 0x42 0 8M" "$(nbd_uri "$KEEL_TMP/c1.sock")"
check "clone 1 writes its own block" qemu-io -f raw -c "write -P 0x77 0 4k" "$(nbd_uri "$KEEL_TMP/c1.sock")"
vdisk_serve "$KEEL_TMP/c2.vmdk" "$KEEL_TMP/c2.sock" || die "serve c2"
check "clone 2 reads the base, not clone 1's block" \
	qemu-io -f raw -c "read -P 0x42 0 8M" "$(nbd_uri "$KEEL_TMP/c2.sock")"
h=$(cache_stat "$KEEL_TMP/c2.vmdk" hit_blocks)
note "clone 2 hit $h blocks on its first read of the base"
check "clone 2's first read of the base was served by clone 1's blocks" test "$h" -ge 2000
check "clone 1 still reads its own block" qemu-io -f raw -c "read -P 0x77 0 4k" "$(nbd_uri "$KEEL_TMP/c1.sock")"
vdisk_stop
kill "$C1"; wait "$C1" 2>/dev/null

# kill -9 of the daemon: reads go on, a write leaves a mark, restart is warm
vdisk_serve "$D" "$S" || die "the disk server did not restart"
# a first write gives the disk its new CID now, so that the write below,
# while the daemon is dead, cannot be noticed by a CID change
check "flush the cache (room for what follows)" kc flush
check "a first write in this session" qemu-io -f raw -c "write -P 0x11 $((40 << 20)) 4k" "$U"
# 0..16 MiB + 64 KiB: the source's 16 MiB were written, the 64 KiB past
# them never were (no layer holds them: zeros, read below uncached), so
# 4096 of the 4112 blocks read are looked up, and all 4096 are cached
check "read 16 MiB (admitted)" qemu-io -f raw -c "read -P 0x5a 0 64k" -c "read 64k 16M" "$U"
h1=$(cache_stat "$D" hit_blocks)
m1=$(cache_stat "$D" miss_blocks)
check "read them again" qemu-io -f raw -c "read -P 0x5a 0 64k" -c "read 64k 16M" "$U"
h2=$(cache_stat "$D" hit_blocks)
m2=$(cache_stat "$D" miss_blocks)
note "first read: $m1 block misses; second read: $((h2 - h1)) block hits, $((m2 - m1)) misses"
check_eq "the first read looked up the 4096 written blocks (not the 16 never written)" 4096 "$m1"
check_eq "the second read hit all 4096" "4096 0" "$((h2 - h1)) $((m2 - m1))"
kill -9 "$RC_PID"; wait "$RC_PID" 2>/dev/null
check "with the daemon dead, reads go on" qemu-io -f raw -c "read -P 0x5a 0 64k" "$U"
check "with the daemon dead, a write of a cached block is acknowledged" \
	qemu-io -f raw -c "write -P 0x6b $((1 << 20)) 4k" "$U"
check "it left a dirty mark" bash -c "ls '$RCDIR/dirty' | grep -q ."
rc_start || die "keel-rcache did not restart"
check "the restart was warm" bash -c "grep '\"type\":\"rcache.open\"' '$RCEV' | tail -1 | grep -q '\"warm\":true'"
sleep 1.2	# past the filter's one-second pause between connection attempts
check "the new data reads back, not the stale cached block" \
	qemu-io -f raw -c "read -P 0x6b $((1 << 20)) 4k" -c "read -P 0xab $((1 << 20 | 4096)) 60k" "$U"
check "the marked disk was dropped" grep -q '"reason":"written while the daemon was unreachable"' "$RCEV"
vdisk_stop

# a corrupted cache file: detected, dropped, read from storage
vdisk_serve "$D" "$S" || die "the disk server did not restart"
check "write the source again" qemu-img convert -n -f raw -O raw "$KEEL_TMP/src.raw" "$U"
check "read it (admitted)" qemu-img compare -f raw -F raw "$KEEL_TMP/src.raw" "$U"
kill "$RC_PID"; wait "$RC_PID" 2>/dev/null
python3 - "$RCDIR/cache" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(0, 2)
    size = f.tell()
    for off in range(0, size, 4096):
        f.seek(off + 100)
        f.write(b"\xde\xad\xbe\xef")
EOF
rc_start || die "keel-rcache did not restart"
corrupt_start=$(date +%s)
check "with every cached block corrupted, reads are still right" \
	qemu-img compare -f raw -F raw "$KEEL_TMP/src.raw" "$U"
# at most 16 events per 10-s window; a slow machine may span more windows
windows=$(( ($(date +%s) - corrupt_start) / 10 + 2 ))
n_events=$(grep -c '"type":"rcache.corrupt"' "$RCEV")
n_corrupt=$(kc stats --json | jq -r .corrupt)
note "$n_corrupt corrupted blocks found, $n_events rcache.corrupt events, read in at most $windows windows of 10 s"
check "corruption was detected" test "$n_corrupt" -gt 100
check "and reported, at most 16 events per 10 s window (not one per block)" \
	test "$n_events" -ge 1 -a "$n_events" -le $((16 * windows))
vdisk_stop

# keelctl rcache
check "keelctl rcache stats counts the corruption, the misses and the re-admitted blocks" \
	kcq stats '.corrupt > 100 and .miss_blocks > 1000 and .cached_blocks > 0'
check "keelctl rcache stats prints a summary" bash -c "$KEEL_BUILD/keelctl rcache stats --rcache-socket $RCSOCK | grep -q 'hit ratio'"
id=$(kc disks --json | jq -r 'max_by(.cached_blocks) | .disk_id')
n=$(kc disks --json | jq -r "map(select(.disk_id == \"$id\")) | .[0].cached_blocks")
note "disk $id holds $n blocks"
check "the disk holds blocks" test "$n" -gt 0
out=$(kc drop "$id")
check "keelctl rcache drop DISK_ID drops its entries" grep -q "dropped $n entries" <<<"$out"
check "and the disk holds none" kcq disks "map(select(.disk_id == \"$id\")) | .[0].cached_blocks == 0"
check "keelctl rcache flush" kc flush
check "empties the cache" kcq stats '.cached_blocks == 0'
out=$(kc drop xyz 2>&1); rc=$?
check_eq "a bad DISK_ID is refused (exit status)" 1 "$rc"
check "naming the field" grep -q "disk_id: expected 16 hex digits" <<<"$out"
kill "$RC_PID"; wait "$RC_PID" 2>/dev/null
out=$(kc stats 2>&1); rc=$?
check_eq "with no daemon, keelctl rcache fails" 1 "$rc"
check "saying where it looked" grep -q "is keel-rcache running" <<<"$out"
check "keel-rcache stopped cleanly" grep -q '"type":"rcache.stop"' "$RCEV"
s=$(jq -s '[.[] | select(.type == "rcache.corrupt_summary") | .suppressed] | add // 0' "$RCEV")
note "rcache.corrupt_summary: $s events suppressed in all"
check_eq "the summaries account for every corrupted block not reported one by one" \
	"$n_corrupt" "$((n_events + s))"
