#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The read cache with keel.ko loaded: the cache filter's memory handles are
# keel.ko's, and keel-rcache places hits into the disk server's buffer
# through them (its stats count blocks by kind of handle).  A client that
# revokes its handle gets an error, not a crash of the daemon.
. "$(dirname "$0")/lib.sh"
. "$KEEL_TOP/tests/host/vdisk.sh"
need_root
need_vm
need_cmd insmod rmmod modinfo qemu-io qemu-img nbdkit jq
need_keel_ko
RC=$KEEL_BUILD/keel-rcache
RCC=$KEEL_BUILD/tests/rcache_client
[ -x "$RC" ] && [ -x "$VDISK" ] && [ -x "$RCC" ] || die "no $RC, $VDISK or $RCC: run make"

unload_keel_ko
# registered first, so it runs last: after the daemon and disk servers
# (registered later) are killed and their handles closed
on_exit unload_keel_ko
check "insmod keel.ko" insmod "$ko" || exit 1
for _ in $(seq 50); do [ -c /dev/keel ] && break; sleep 0.1; done

RCDIR=$KEEL_TMP/rc
RCSOCK=$KEEL_TMP/rc.sock
RCEV=$KEEL_TMP/rc.ndjson
D=$KEEL_TMP/disk.vmdk
S=$KEEL_TMP/nbd.sock
U=$(nbd_uri "$S")
"$RC" --dir "$RCDIR" --size 16M --socket "$RCSOCK" --events "$RCEV" 2>"$KEEL_TMP/rc.log" &
RC_PID=$!
on_exit "kill -9 $RC_PID"
for _ in $(seq 100); do grep -q '"type":"rcache.start"' "$RCEV" 2>/dev/null && break; sleep 0.1; done
grep -q '"type":"rcache.start"' "$RCEV" 2>/dev/null || { cat "$KEEL_TMP/rc.log"; die "keel-rcache did not start"; }
kstat() { "$KEEL_BUILD/keelctl" rcache stats --json --rcache-socket "$RCSOCK" | jq -r ".$1"; }

qemu-img create -q -f vmdk -o subformat=monolithicSparse "$D" 16M || die "qemu-img create"
printf '[vdisk]\nfilters = stats cache\n[filter.cache]\nsocket = %s\ndirty_dir = %s/dirty\nconnections = 1\n' \
	"$RCSOCK" "$RCDIR" >"$D.keel"
head -c $((4 << 20)) /dev/urandom >"$KEEL_TMP/src.raw"
truncate -s 16M "$KEEL_TMP/src.raw"
vdisk_serve "$D" "$S" || die "the disk server did not start"

check "write 4 MiB through the chain" qemu-img convert -n -f raw -O raw "$KEEL_TMP/src.raw" "$U"
check "first pass reads what was written (misses, admitted)" \
	qemu-img compare -f raw -F raw "$KEEL_TMP/src.raw" "$U"
k1=$(kstat keel_ko_blocks)
h1=$(kstat hit_blocks)
check "second pass reads the same bytes (hits)" qemu-img compare -f raw -F raw "$KEEL_TMP/src.raw" "$U"
h2=$(kstat hit_blocks)
k2=$(kstat keel_ko_blocks)
note "second pass: $((h2 - h1)) block hits; blocks through keel.ko handles $k1 -> $k2;" \
	"fallback blocks $(kstat fallback_blocks)"
check "the second pass hit every block written (1024)" test $((h2 - h1)) -ge 1024
check "the disk server's handle is keel.ko's (keel_ko_clients 1, fallback_clients 0)" \
	test "$(kstat keel_ko_clients)/$(kstat fallback_clients)" = 1/0
check "the hits went through keel.ko's handle (keel_ko_blocks grew by the hits)" \
	test $((k2 - k1)) -ge $((h2 - h1))
check_eq "no block went through memh's fallback" 0 "$(kstat fallback_blocks)"

check "a client admits and hits 16 blocks through its keel.ko handle, revokes it: an error, no hits" \
	"$RCC" "$RCSOCK" revoke
check "keel-rcache survived the revoked handle" kill -0 "$RC_PID"
check "it counted the failed copy (handle_errors)" test "$(kstat handle_errors)" -ge 1
check "the disk still reads from the cache afterwards" \
	qemu-img compare -f raw -F raw "$KEEL_TMP/src.raw" "$U"
vdisk_stop
kill "$RC_PID"; wait "$RC_PID" 2>/dev/null
exit 0
