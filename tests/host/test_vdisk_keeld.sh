#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keeld's vdisk subsystem: keelctl vdisk create (a chain stats crypt
# integrity, a fresh key), open (one disk server per disk, NBD on a Unix
# socket), I/O through the chain seen in `filters`, close (flushed: the
# data reads back after reopening), check, a crashed server restarted with
# vdisk.error and vdisk.opened events, and refusals: outside [vdisk] dirs,
# bad type/size/filter, already open, [vdisk] max_disks, check of an open
# disk, a disk whose metadata is wrong (the reason names file and key).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd qemu-io qemu-img nbdkit jq

DIR=$KEEL_TMP/disks
mkdir -p "$DIR" "$KEEL_TMP/other"
keeld_conf "[vdisk]" "dirs = $DIR" "run_dir = $KEEL_TMP/run" "max_disks = 2" "max_clients = 2" \
	"max_restarts = 1" "[exec]" "enabled = false" "[vmnet]" "enabled = false"
keeld_start || die "keeld did not start"
check_eq "vdisk subsystem runs" running "$(subsys_state vdisk)"
V="$KEELCTL vdisk"
D=$DIR/d0.vmdk

check "create a 32 MiB monolithicSparse disk with stats crypt integrity" \
	$V create "$D" --size 32M --filters "stats crypt integrity"
check "... with a key of mode 0600" test "$(stat -c %a "$D.key")" = 600
check "... and its chain in $D.keel" grep -q "filters = stats crypt integrity" "$D.keel"
check "... qemu-img check is clean" qemu-img check -q -f vmdk "$D"
out=$($V create "$D" --size 32M 2>&1)
check "create over an existing disk is refused" grep -q "already exists" <<<"$out"
out=$($V create "$KEEL_TMP/other/x.vmdk" --size 1M 2>&1)
check "create outside [vdisk] dirs is refused, naming dirs" grep -q "not under \[vdisk\] dirs" <<<"$out"
check "... and makes nothing" test ! -e "$KEEL_TMP/other/x.vmdk"
out=$($V create "$DIR/y.vmdk" --size 1M --filters "stats crpyt" 2>&1)
check "an unknown filter is refused by name" grep -q 'unknown filter "crpyt"' <<<"$out"
check "... and makes nothing" test ! -e "$DIR/y.vmdk"
out=$($V create "$DIR/y.vmdk" --size 1000 2>&1)
check "a size that is not a multiple of 512 is refused" grep -q "multiple of 512" <<<"$out"
out=$($V create "$DIR/y.vmdk" --size 1M --type streamOptimized 2>&1)
check "streamOptimized cannot be created" grep -q "cannot be created" <<<"$out"

check "open: the disk is served" $V open "$D"
S=$($V info "$D" --json | jq -r .socket)
U="nbd+unix:///?socket=$S"
check "... on its NBD socket" test -S "$S"
check_eq "... list shows it serving" serving "$($V list --json | jq -r '.disks[0].state')"
check "vdisk.opened event" wait_event vdisk.opened "$D"
out=$($V open "$D" 2>&1)
check "a second open of the same disk is refused" grep -q "already open" <<<"$out"
out=$($V check "$D" 2>&1)
check "check of an open disk is refused" grep -q "close it before checking" <<<"$out"

check "write over NBD" qemu-io -f raw -c "write -P 0xa5 1M 256k" -c "write -P 0x3c 7M 64k" \
	-c flush "$U"
check "read back over NBD" qemu-io -f raw -c "read -P 0xa5 1M 256k" -c "read -P 0x3c 7M 64k" "$U"
# [vdisk] max_clients = 2: two connections held open, a third client is
# refused, the two still work, and once they leave a client is served again
# (each holder waits on a FIFO for commands; closing it lets it exit)
mkfifo "$KEEL_TMP/hold1" "$KEEL_TMP/hold2"
qemu-io -f raw "$U" <"$KEEL_TMP/hold1" >/dev/null 2>&1 &
HOLD1=$!
exec 7>"$KEEL_TMP/hold1"
qemu-io -f raw "$U" <"$KEEL_TMP/hold2" >/dev/null 2>&1 &
HOLD2=$!
exec 8>"$KEEL_TMP/hold2"
sleep 2
out=$(timeout 20 qemu-io -f raw -c "read -P 0xa5 1M 4k" "$U" 2>&1)
check "a third NBD client is refused by [vdisk] max_clients = 2" test $? -ne 0
note "$out"
exec 7>&- 8>&-
wait $HOLD1 $HOLD2 2>/dev/null
check "... and served once the two others left" \
	qemu-io -f raw -c "read -P 0xa5 1M 256k" "$U"
F=$($V filters "$D" --json)
note "filters: $(jq -c '[.filters[] | {(.name): .counters.writes}] | add' <<<"$F")"
check_eq "the chain is stats crypt integrity vmdk" "stats crypt integrity vmdk" \
	"$(jq -r '[.filters[].name] | join(" ")' <<<"$F")"
check "every filter counted the writes" \
	test "$(jq '[.filters[].counters.writes | select(. > 0)] | length' <<<"$F")" = 4
check "what the VMDK holds is not the plaintext (crypt is in the chain)" \
	bash -c "! qemu-img convert -f vmdk -O raw '$D' /dev/stdout 2>/dev/null | od -An -tx1 -j $((1 << 20)) -N 16 | grep -q 'a5 a5 a5 a5'"

pid=$($V info "$D" --json | jq -r .pid)
kill -9 "$pid"
check "a killed disk server is restarted: vdisk.error with restarting" \
	wait_event vdisk.error '"restarting":true'
for _ in $(seq 50); do
	[ "$($V info "$D" --json | jq -r .state)" = serving ] && break
	sleep 0.1
done
check_eq "... and serves again" serving "$($V info "$D" --json | jq -r .state)"
check "... the data written before (flushed) is there" \
	qemu-io -f raw -c "read -P 0xa5 1M 256k" "$U"

check "close: flushed and stopped" $V close "$D"
check "... vdisk.closed event" wait_event vdisk.closed "$D"
check_eq "... no disk open" 0 "$($V list --json | jq '.disks | length')"
check "... its socket is gone" test ! -S "$S"
check "check of the closed disk is clean" $V check "$D"
check "info of a closed disk gives its type" bash -c "$V info '$D' --json | jq -e '.type == \"monolithicSparse\"'"
check "reopened, the data reads back through the chain" $V open "$D"
check "... 0xa5 at 1M and 0x3c at 7M" qemu-io -f raw -c "read -P 0xa5 1M 256k" \
	-c "read -P 0x3c 7M 64k" "$U"

$V create "$DIR/e1.vmdk" --size 1M >/dev/null
$V create "$DIR/e2.vmdk" --size 1M >/dev/null
check "a second disk opens" $V open "$DIR/e1.vmdk"
out=$($V open "$DIR/e2.vmdk" 2>&1)
check "a third is refused by [vdisk] max_disks = 2" grep -q "max_disks = 2" <<<"$out"
check "close the second" $V close "$DIR/e1.vmdk"
printf '[vdisk]\nfilters = throttle\n[filter.throttle]\nipos = 5\n' >"$DIR/e2.vmdk.keel"
out=$($V open "$DIR/e2.vmdk" 2>&1)
check "a disk with bad metadata fails to open, naming the file and key" \
	grep -q "e2.vmdk.keel.*ipos" <<<"$out"
note "$out"
check_eq "... it is listed as failed" failed \
	"$($V list --json | jq -r ".disks[] | select(.path == \"$DIR/e2.vmdk\") | .state")"
check "... close forgets it" $V close "$DIR/e2.vmdk"
check "close the first" $V close "$D"
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
