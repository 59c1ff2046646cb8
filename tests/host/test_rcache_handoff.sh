#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# An ownership handoff of a disk invalidates what the old owner's read
# cache holds of it: two "hosts" on this machine, each a disk server
# (keel-vdisk serve with a release listener on 127.0.0.1, its own runtime
# directory and host id) and its own keel-rcache, one datastore.  Both
# servers read the same IMAGE.keel, which names the cache's socket; B's
# server runs in a mount namespace where that directory is B's (a bind
# mount), as it would be on another machine.
#   A owns the disk, writes 1 MiB (0x11) and reads it twice: A's cache holds
#   its 256 blocks.  B takes the disk (keel-vdisk handoff), writes 0x22 over
#   the same 1 MiB, A takes it back and reads: the bytes must be 0x22, the
#   read must miss in A's cache, and A's keel-rcache drops the disk (its CID
#   changed).  What carries the invalidation is the layer's CID: the release
#   closes A's chain, B's first write gives the layer a new CID, A's reopen
#   reads it, and A's first lookup under the new CID drops the old entries.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vdisk.sh"
need_root
need_cmd qemu-io qemu-img nbdkit jq unshare mount
RC=$KEEL_BUILD/keel-rcache
KC=$KEEL_BUILD/keelctl
[ -x "$RC" ] && [ -x "$VDISK" ] && [ -x "$KC" ] || die "no $RC, $VDISK or $KC: run make"

DS=$KEEL_TMP/ds
D=$DS/vm.vmdk
KEY=$KEEL_TMP/cluster.key
declare -A PID=() PORT=([a]=$((20000 + $$ % 20000)) [b]=$((20001 + $$ % 20000)))
# the directory IMAGE.keel names; B's server sees $KEEL_TMP/rcs-b there
RCS=$KEEL_TMP/rcs
mkdir -p "$DS" "$RCS" "$KEEL_TMP/rcs-b"
head -c 32 /dev/urandom >"$KEY" && chmod 600 "$KEY"
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$D" 8M || die "qemu-img create"
printf '[vdisk]\nfilters = stats cache\n[filter.cache]\nsocket = %s/rc.sock\ndirty_dir = %s/dirty\nconnections = 1\n' \
	"$RCS" "$RCS" >"$D.keel"

_cleanup() {
	local k
	for k in "${!PID[@]}"; do kill -KILL "${PID[$k]}" 2>/dev/null; done
	wait 2>/dev/null
}
on_exit _cleanup

rcache() {	# rcache H SOCKETDIR
	"$RC" --dir "$KEEL_TMP/rc-$1" --size 16M --socket "$2/rc.sock" --size-interval 0 \
		--events "$KEEL_TMP/rc-$1.ndjson" 2>"$KEEL_TMP/rc-$1.log" &
	PID[rc$1]=$!
	wait_until 5 grep -q '"type":"rcache.start"' "$KEEL_TMP/rc-$1.ndjson" ||
		{ cat "$KEEL_TMP/rc-$1.log"; die "keel-rcache $1 did not start"; }
}
ctl() { local h=$1 c=$2; shift 2; KEEL_VDISK_RUN_DIR=$KEEL_TMP/run-$h "$VDISK" "$c" "$D" "$@"; }
serve() {	# serve H [--standby]
	local h=$1 pre=()
	shift
	mkdir -p "$KEEL_TMP/run-$h"
	[ "$h" = b ] && pre=(unshare -m --propagation private sh -c
		'mount --bind "$0" "$1" && shift && exec "$@"' "$KEEL_TMP/rcs-b" "$RCS")
	KEEL_VDISK_RUN_DIR=$KEEL_TMP/run-$h "${pre[@]}" "$VDISK" serve "$D" \
		--socket "$KEEL_TMP/$h.nbd" --owner-listen "tcp:127.0.0.1:${PORT[$h]}" \
		--cluster-key "$KEY" --host-id "host-$h" --lease-ms 2000 --renew-ms 400 \
		--events "$KEEL_TMP/$h.ev" "$@" </dev/null 2>>"$KEEL_TMP/$h.log" &
	PID[$h]=$!
	wait_until 10 sh -c "[ -S '$KEEL_TMP/$h.nbd' ] && KEEL_VDISK_RUN_DIR='$KEEL_TMP/run-$h' '$VDISK' owner '$D' --json | jq -e .server" ||
		{ cat "$KEEL_TMP/$h.log"; die "disk server $h did not start"; }
}
io() { local h=$1; shift; qemu-io -f raw "$@" "nbd+unix:///?socket=$KEEL_TMP/$h.nbd"; }
stat_a() { "$KC" rcache stats --json --rcache-socket "$RCS/rc.sock" | jq -r ".$1"; }
owner() { ctl a owner --json | jq -r .record.host; }

rcache a "$RCS"
rcache b "$KEEL_TMP/rcs-b"
serve a
serve b --standby
check_eq "A owns the disk" host-a "$(owner)"
check "A writes 1 MiB of 0x11 and reads it twice" io a -c "write -P 0x11 0 1M" \
	-c "read -P 0x11 0 1M" -c "read -P 0x11 0 1M"
hits0=$(stat_a hit_blocks)
cached0=$(stat_a cached_blocks)
check "A's cache holds the 256 blocks and hit them ($cached0 cached, $hits0 hits)" \
	test "$cached0" -ge 256 -a "$hits0" -ge 256

check "B takes the disk (keel-vdisk handoff)" ctl b handoff
check_eq "B owns the disk" host-b "$(owner)"
check "B writes 0x22 over the same 1 MiB (through B's own cache)" io b -c "write -P 0x22 0 1M"
check_eq "A's cache still holds the blocks A cached (nothing told it yet)" "$cached0" \
	"$(stat_a cached_blocks)"

check "A takes the disk back" ctl a handoff
check_eq "A owns the disk" host-a "$(owner)"
miss0=$(stat_a miss_blocks)
out=$(io a -c "read -P 0x22 0 1M" 2>&1)
rc=$?
note "A reads 1 MiB: $(tr '\n' ' ' <<<"$out")"
check_eq "A reads B's data (0x22), not what its cache held (0x11)" 0 "$rc"
check "that read missed A's cache ($(stat_a miss_blocks) misses, were $miss0)" \
	test "$(stat_a miss_blocks)" -ge $((miss0 + 256))
ev=$(grep '"type":"rcache.drop"' "$KEEL_TMP/rc-a.ndjson" | tail -n1)
note "A's keel-rcache: $ev"
check "A's keel-rcache dropped the disk's 256 entries because its CID changed" \
	jq -e 'select(.entries >= 256 and (.reason | startswith("CID")))' <<<"$ev"
check "a second read on A hits the new data" io a -c "read -P 0x22 0 1M"
[ "$_keel_failed" -eq 0 ]
