#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# [vdisk] max_inflight: a client with 32 NBD requests outstanding (fio's nbd
# engine, iodepth 32) gets at most max_inflight (4) of them into the disk's
# chain at once, and loses none.  The chain has throttle (iops 40) so that
# every request sleeps inside it; throttle counts the requests asleep there
# at once (max_sleeping), which cannot exceed what the server lets in.
# KEEL_TEST_INFLIGHT=N runs it with another limit (32 shows the check fail).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd fio qemu-io nbdkit jq
fio --enghelp 2>&1 | grep -qw nbd || skip "fio has no nbd engine"

LIMIT=4
INFLIGHT=${KEEL_TEST_INFLIGHT:-$LIMIT}
DIR=$KEEL_TMP/disks
mkdir -p "$DIR"
keeld_conf "[vdisk]" "dirs = $DIR" "run_dir = $KEEL_TMP/run" "max_inflight = $INFLIGHT" \
	"[exec]" "enabled = false" "[vmnet]" "enabled = false"
keeld_start || die "keeld did not start"
V="$KEELCTL vdisk"
D=$DIR/q.vmdk
check "create a disk with stats and throttle (iops 40)" \
	$V create "$D" --size 8M --filter stats --filter throttle:iops=40,burst_ms=1
check "open it (keeld starts the server with --threads $INFLIGHT)" $V open "$D"
S=$($V info "$D" --json | jq -r .socket)
pid=$($V info "$D" --json | jq -r .pid)
check "... its nbdkit runs with --threads $INFLIGHT" \
	grep -q -- " --threads $INFLIGHT " <(tr '\0' ' ' <"/proc/$pid/cmdline")

# 64 random 4 KiB writes then their verification reads, 32 outstanding
out=$(fio --name=inflight --ioengine=nbd --uri="nbd+unix:///?socket=$S" --rw=randwrite \
	--bs=4k --size=256k --iodepth=32 --verify=crc32c --do_verify=1 \
	--output-format=json --output="$KEEL_TMP/fio.json" 2>&1)
rc=$?
[ "$rc" -eq 0 ] || note "$out"
out=$(cat "$KEEL_TMP/fio.json")
check "fio (nbd engine, iodepth 32): 64 writes and their verify reads pass (exit $rc)" test "$rc" -eq 0
fw=$(jq '.jobs[0].write.total_ios' <<<"$out" 2>/dev/null)
fr=$(jq '.jobs[0].read.total_ios' <<<"$out" 2>/dev/null)
check_eq "fio completed 64 writes" 64 "$fw"
check_eq "... and 64 verify reads" 64 "$fr"
F=$($V filters "$D" --json)
T=$(jq -c '.filters[] | select(.name == "throttle") | .stats' <<<"$F")
note "throttle: $T"
maxs=$(jq .max_sleeping <<<"$T")
check "requests inside the chain at once: $maxs, at most max_inflight $LIMIT" test "$maxs" -le "$LIMIT"
check "... and the limit was reached (the client had more outstanding)" test "$maxs" -ge 2
check_eq "nothing lost: the stats filter saw fio's 64 writes" 64 \
	"$(jq '.filters[] | select(.name == "stats") | .counters.writes' <<<"$F")"
check_eq "... and its 64 verify reads" 64 \
	"$(jq '.filters[] | select(.name == "stats") | .counters.reads' <<<"$F")"
check_eq "... none of them an error" 0 \
	"$(jq '[.filters[].counters.errors] | add' <<<"$F")"
check "close" $V close "$D"
keeld_stop
