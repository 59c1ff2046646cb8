#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A keel disk used by the kernel's NBD client: keeld serves a VMDK with the
# chain stats crypt integrity over NBD (TCP); nbd-client attaches it as
# /dev/nbd0; fio writes and reads it at random with its own verify=crc32c;
# every filter counted the I/O; the VMDK holds ciphertext; after closing
# and reopening the disk, the whole device reads back the same bytes, and
# integrity's check finds no mismatch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
need_root
need_vm
need_cmd nbd-client fio jq qemu-img modprobe sha256sum

check "modprobe nbd" modprobe nbd nbds_max=2 || die "no nbd module"
on_exit "rmmod nbd"
DIR=$KEEL_TMP/disks
mkdir -p "$DIR"
keeld_conf "[vdisk]" "dirs = $DIR" "run_dir = $KEEL_TMP/run" \
	"[exec]" "enabled = false" "[blk]" "enabled = false" "[vmnet]" "enabled = false" \
	"[kmod]" "enabled = false" "[memh]" "enabled = false"
keeld_start || die "keeld did not start"
V="$KEELCTL vdisk"
D=$DIR/fio.vmdk
PORT=$((20000 + $$ % 20000))

check "create a 64 MiB disk with stats crypt integrity" \
	$V create "$D" --size 64M --filters "stats crypt integrity" || exit 1
check "open it over NBD on 127.0.0.1:$PORT" $V open "$D" --tcp "127.0.0.1:$PORT" || exit 1

attach() {
	nbd-client 127.0.0.1 "$PORT" /dev/nbd0 -b 4096 -N "" >"$KEEL_TMP/nbd.log" 2>&1 ||
		{ cat "$KEEL_TMP/nbd.log"; return 1; }
	for _ in $(seq 50); do
		[ "$(cat /sys/block/nbd0/size)" -gt 0 ] && return 0
		sleep 0.1
	done
	return 1
}
detach() { nbd-client -d /dev/nbd0 >/dev/null 2>&1; }
on_exit detach

check "nbd-client attaches it as /dev/nbd0" attach || exit 1
check_eq "/dev/nbd0 has the disk's size" $((64 << 20)) "$(blockdev --getsize64 /dev/nbd0)"
check "fio: random 4k writes and reads (50/50, depth 8, direct), verify=crc32c" \
	fio --name=vdisk --filename=/dev/nbd0 --ioengine=libaio --direct=1 --rw=randrw \
	--rwmixread=50 --bs=4k --iodepth=8 --size=24M --verify=crc32c --verify_fatal=1 \
	--do_verify=1 --output="$KEEL_TMP/fio.out"
note "$(grep -E 'IOPS=|err=' "$KEEL_TMP/fio.out" | head -3 | tr -s ' ' | tr '\n' ';')"
check "fio: mixed 4k..64k writes beyond, verify=crc32c" \
	fio --name=mixed --filename=/dev/nbd0 --ioengine=libaio --direct=1 --rw=randwrite \
	--bsrange=4k-64k --iodepth=4 --offset=32M --size=16M --verify=crc32c --verify_fatal=1 \
	--output="$KEEL_TMP/fio2.out"
sum1=$(sha256sum </dev/nbd0 | cut -d' ' -f1)
head -c $((24 << 20)) /dev/nbd0 >"$KEEL_TMP/plain"
F=$($V filters "$D" --json)
note "writes per filter: $(jq -c '[.filters[] | {(.name): .counters.writes}] | add' <<<"$F")"
for f in stats crypt integrity vmdk; do
	check "$f counted writes and reads" test "$(jq ".filters[] | select(.name == \"$f\") |
		(.counters.writes > 0 and .counters.reads > 0)" <<<"$F")" = true
done
check_eq "no filter counted an error" 0 "$(jq '[.filters[].counters.errors] | add' <<<"$F")"
check "nbd-client detaches" detach

check "close the disk (flush, stop)" $V close "$D" || exit 1
check "qemu-img check of the closed disk is clean" qemu-img check -q -f vmdk "$D"
qemu-img convert -f vmdk -O raw "$D" "$KEEL_TMP/raw"
check "the VMDK does not hold fio's data in clear (crypt is in the chain)" \
	bash -c "! cmp -s -n $((24 << 20)) '$KEEL_TMP/plain' '$KEEL_TMP/raw'"
rm -f "$KEEL_TMP/raw" "$KEEL_TMP/plain"
check "reopen it" $V open "$D" --tcp "127.0.0.1:$PORT" || exit 1
check "attach again" attach || exit 1
check_eq "the whole device reads back the same (sha256)" "$sum1" \
	"$(sha256sum </dev/nbd0 | cut -d' ' -f1)"
check "fio verifies its first run's data after the reopen (verify_only)" \
	fio --name=mixed --filename=/dev/nbd0 --ioengine=libaio --direct=1 --rw=randwrite \
	--bsrange=4k-64k --iodepth=4 --offset=32M --size=16M --verify=crc32c --verify_fatal=1 \
	--verify_only --output="$KEEL_TMP/fio3.out"
detach
out=$(KEEL_VDISK_RUN_DIR=$KEEL_TMP/run "$KEEL_BUILD/keel-vdisk" control "$D" integrity check 2>&1)
note "integrity check: $(tr -s ' \n' ' ' <<<"$out")"
check "integrity's check of the whole disk finds no mismatch" \
	test "$(jq -r '.mismatched' <<<"$out")" = 0
check "close" $V close "$D"
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
