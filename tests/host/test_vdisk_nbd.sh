#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The disk server over NBD: qemu-io read/write patterns (aligned, unaligned,
# across grains, zero, discard) read back as written and as a raw reference
# file given the same commands; qemu-img convert from and to the export;
# four clients at once; a corrupted block (below integrity) is EIO to the
# NBD client, not data; kill -9 of the server during flushed writes leaves
# a VMDK that qemu-img check finds clean, holding every flushed write.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vdisk.sh"
need_cmd qemu-io qemu-img nbdkit
[ -x "$VDISK" ] || die "no $VDISK: run make"

D=$KEEL_TMP/disk.vmdk
S=$KEEL_TMP/nbd.sock
REF=$KEEL_TMP/ref.raw
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$D" 64M || die "qemu-img create"
qemu-img create -q -f raw "$REF" 64M || die "qemu-img create ref"
printf '[vdisk]\nfilters = stats integrity\n' >"$D.keel"
vdisk_serve "$D" "$S" || die "the disk server did not start"
U=$(nbd_uri "$S")

# the same commands on the export and on a raw reference file
io() {
	qemu-io -f raw "$@" "$U" >"$KEEL_TMP/io.out" 2>&1 &&
		qemu-io -f raw "$@" "$REF" >/dev/null 2>&1 &&
		! grep -qi "error\|fail\|pattern verification" "$KEEL_TMP/io.out"
}
check "aligned writes, 4 KiB to 1 MiB" io -c "write -P 0x11 0 4k" -c "write -P 0x22 1M 1M" \
	-c "write -P 0x33 $((3 << 20)) 64k"
check "unaligned to the 4 KiB block and the 64 KiB grain" io -c "write -P 0x44 512 1536" \
	-c "write -P 0x55 $((65536 - 512)) 1024" -c "write -P 0x66 $((5 << 20 | 3584)) 300k"
check "write zeroes and discard" io -c "write -z $((1 << 20 | 8192)) 16k" \
	-c "discard $((3 << 20)) 64k" -c "write -P 0x77 $((3 << 20)) 4k"
check "reads verify their pattern" io -c "read -P 0x11 0 512" -c "read -P 0x44 512 1536" \
	-c "read -P 0x22 $((1 << 20)) 8192" -c "read -P 0 $((1 << 20 | 8192)) 16k" \
	-c "read -P 0x66 $((5 << 20 | 3584)) 300k"
check "aio writes then flush" io -c "aio_write -P 0x88 $((8 << 20)) 64k" \
	-c "aio_write -P 0x99 $((9 << 20)) 64k" -c aio_flush -c flush
check "the export equals the reference" qemu-img compare -f raw -F raw "$REF" "$U"

# qemu-img convert both ways
check "qemu-img convert from the export" qemu-img convert -f raw -O raw "$U" "$KEEL_TMP/out.raw"
check "what it converted is the reference" cmp "$REF" "$KEEL_TMP/out.raw"
head -c $((8 << 20)) /dev/urandom >"$KEEL_TMP/src.raw"
truncate -s 64M "$KEEL_TMP/src.raw"
check "qemu-img convert to the export" qemu-img convert -n -f raw -O raw "$KEEL_TMP/src.raw" "$U"
check "the export now holds it" qemu-img compare -f raw -F raw "$KEEL_TMP/src.raw" "$U"

# several clients at once, each its own region and pattern
pids=()
for c in 1 2 3 4; do
	qemu-io -f raw -c "write -P $((c * 16)) $((c * 8))M 4M" -c flush "$U" \
		>"$KEEL_TMP/c$c.out" 2>&1 &
	pids+=($!)
done
ok=0
for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
check_eq "four concurrent writers succeeded" 4 "$ok"
for c in 1 2 3 4; do
	check "client $c's region reads its pattern" \
		qemu-io -f raw -c "read -P $((c * 16)) $((c * 8))M 4M" "$U"
done

# corruption below integrity: the NBD client gets EIO, never the data
"$VDISK" read "$D" --at vmdk --offset $((40 << 20)) --length 512 >"$KEEL_TMP/s.bin" ||
	die "keel-vdisk read at vmdk"
printf '\x01' | dd of="$KEEL_TMP/s.bin" bs=1 seek=100 conv=notrunc 2>/dev/null
"$VDISK" write "$D" --at vmdk --offset $((40 << 20)) <"$KEEL_TMP/s.bin" || die "keel-vdisk write at vmdk"
out=$(qemu-io -f raw -c "read -P 0 $((40 << 20)) 4k" "$U" 2>&1)
check "a read of the corrupted block fails with EIO" grep -q "Input/output error" <<<"$out"
check "an integrity event names the block" grep -q "\"type\":\"vdisk.integrity_mismatch\".*\"offset\":$((40 << 20))" \
	"$KEEL_TMP/events.ndjson"
check "the next block still reads" io -c "read -P 0 $((40 << 20 | 4096)) 4k"
vdisk_stop

# kill -9 during writes; every write acknowledged by a flush must survive
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$D" 64M || die "qemu-img create"
rm -f "$D.crc32c"
vdisk_serve "$D" "$S" || die "the disk server did not restart"
: >"$KEEL_TMP/acked"
(
	for i in $(seq 0 400); do
		qemu-io -f raw -c "write -P $((i % 250 + 1)) $((i * 160))k 96k" -c flush "$U" \
			>/dev/null 2>&1 || exit 0
		echo "$i" >>"$KEEL_TMP/acked"
	done
) &
writer=$!
sleep 3
kill -9 "$VDISK_PID"
wait "$writer"
n=$(wc -l <"$KEEL_TMP/acked")
note "server killed after $n flushed writes"
[ "$n" -gt 0 ] || die "no write was acknowledged before the kill"
check "qemu-img check finds the VMDK clean" qemu-img check -f vmdk "$D"
vdisk_serve "$D" "$S" || die "the disk server did not start after the kill"
bad=0
while read -r i; do
	out=$(qemu-io -r -f raw -c "read -P $((i % 250 + 1)) $((i * 160))k 96k" "$U" 2>&1)
	if ! grep -q "^read 98304/98304" <<<"$out" || grep -qi "fail\|error" <<<"$out"; then
		bad=$((bad + 1))
		note "write $i: $out"
	fi
done <"$KEEL_TMP/acked"
check_eq "every flushed write is there after kill -9" 0 "$bad"
check "integrity check: no mismatch after the kill" \
	bash -c "'$VDISK' control '$D' integrity check | grep -q '\"mismatched\": 0'"
vdisk_stop
