#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A real QEMU guest on keel's NBD export: QEMU attaches the disk with
# -blockdev driver=nbd (Unix socket) as a virtio-blk device; the guest
# (tests/host/tiny_guest.sh: the machine's kernel, busybox) writes a
# known pattern to /dev/vda at an aligned and an unaligned offset, syncs
# and powers off.  The data is then read back through keel's export
# (qemu-img compare against the expected raw image), the stats filter
# counted the guest's writes, and after the server stopped the VMDK
# itself passes qemu-img check and compares equal.
. "$(dirname "$0")/../integration/lib.sh"
. "$KEEL_TOP/tests/host/vdisk.sh"
. "$KEEL_TOP/tests/host/tiny_guest.sh"
need_cmd qemu-system-x86_64 qemu-img qemu-io nbdkit cpio modprobe readelf jq

G=$KEEL_TMP/guest
D=$KEEL_TMP/g.vmdk
S=$KEEL_TMP/g.nbd
mkdir -p "$G"
head -c 1M /dev/urandom >"$G/pattern.bin"
head -c 5000 /dev/urandom >"$G/odd.bin"
cat >"$KEEL_TMP/init.sh" <<'EOF'
[ -b /dev/vda ] || { echo NO-VDA; exit 3; }
echo "VDA $(cat /sys/block/vda/size) sectors"
# 1 MiB at 1 MiB (aligned), 5000 bytes at byte 12345 * 512 + 100 (not even
# sector-aligned: the guest's block layer reads and rewrites the sectors)
dd if=/guest/pattern.bin of=/dev/vda bs=65536 seek=16 conv=fsync 2>/dev/null &&
	dd if=/guest/odd.bin of=/dev/vda bs=1 seek=$((12345 * 512 + 100)) conv=notrunc,fsync 2>/dev/null &&
	sync && echo WROTE
EOF
tiny_guest_build "$G" "$KEEL_TMP/init.sh" "$G/pattern.bin" "$G/odd.bin" || skip "$TINY_GUEST_WHY"

check "a 16 MiB monolithicSparse VMDK (qemu-img)" qemu-img create -q -f vmdk "$D" 16M
printf '[vdisk]\nfilters = stats integrity\n' >"$D.keel"
vdisk_serve "$D" "$S" || die "keel-vdisk serve did not start"
note "keel serves it (stats integrity) on $S"

tiny_guest_qemu_args "$G" "$G/serial"
t0=$SECONDS
timeout 120 nice -n 5 qemu-system-x86_64 "${TINY_GUEST_ARGS[@]}" \
	-blockdev "driver=nbd,server.type=unix,server.path=$S,node-name=d0" \
	-device virtio-blk-pci,drive=d0 >"$G/qemu.log" 2>&1
rc=$?
note "the guest booted, wrote and powered off in $((SECONDS - t0)) s"
serial=$(tr -d '\r' <"$G/serial")
check_eq "QEMU (-blockdev driver=nbd) exited by itself" 0 "$rc"
check "the guest saw a 16 MiB /dev/vda" grep -qx "VDA 32768 sectors" <<<"$serial"
check "its writes and syncs succeeded" grep -qx WROTE <<<"$serial"
check "its init exited 0" grep -qx "TINY-GUEST-EXIT 0" <<<"$serial"
[ "$rc" -eq 0 ] || note "QEMU: $(tail -3 "$G/qemu.log")"
grep -q WROTE <<<"$serial" || note "console: $(tail -5 <<<"$serial")"

# what the disk must hold: zeros, the pattern at 1 MiB, the odd piece
truncate -s 16M "$KEEL_TMP/expect.raw"
dd if="$G/pattern.bin" of="$KEEL_TMP/expect.raw" bs=65536 seek=16 conv=notrunc 2>/dev/null
dd if="$G/odd.bin" of="$KEEL_TMP/expect.raw" bs=1 seek=$((12345 * 512 + 100)) conv=notrunc 2>/dev/null
check "read back through keel's export, the disk is what the guest wrote (qemu-img compare)" \
	qemu-img compare -q -f raw -F raw "$(nbd_uri "$S")" "$KEEL_TMP/expect.raw"
info=$("$VDISK" info "$D" --json 2>&1)
w=$(jq '.filters[] | select(.name == "stats") | .counters.writes' <<<"$info")
note "stats filter: $w writes, $(jq '.filters[] | select(.name == "stats") | .counters.write_bytes' <<<"$info") bytes"
check "the stats filter counted the guest's writes" test "${w:-0}" -gt 0
check_eq "integrity: no read failed verification" 0 \
	"$(jq '[.filters[].counters.errors] | add' <<<"$info")"
vdisk_stop
check "after the server stopped: qemu-img check of the VMDK is clean" qemu-img check -q -f vmdk "$D"
check "... and qemu-img compare VMDK vs expected is equal" \
	qemu-img compare -q -f vmdk -F raw "$D" "$KEEL_TMP/expect.raw"
