#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keel-rcache's client limit: with --max-clients 2 and two disk servers
# connected, a third client (a raw one, then keelctl) is refused with a
# sentence that says so and an rcache.client_refused event, while the two
# disk servers keep reading from the cache; once one leaves, keelctl gets in.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vdisk.sh"
need_cmd qemu-io qemu-img nbdkit jq
RC=$KEEL_BUILD/keel-rcache
RCC=$KEEL_BUILD/tests/rcache_client
[ -x "$RC" ] && [ -x "$VDISK" ] && [ -x "$RCC" ] || die "no $RC, $VDISK or $RCC: run make"

RCDIR=$KEEL_TMP/rc
RCSOCK=$KEEL_TMP/rc.sock
RCEV=$KEEL_TMP/rc.ndjson
"$RC" --dir "$RCDIR" --size 16M --socket "$RCSOCK" --events "$RCEV" --max-clients 2 --size-interval 0 \
	2>"$KEEL_TMP/rc.log" &
RC_PID=$!
on_exit "kill -9 $RC_PID"
for _ in $(seq 50); do grep -q '"type":"rcache.start"' "$RCEV" 2>/dev/null && break; sleep 0.1; done
grep -q '"type":"rcache.start"' "$RCEV" 2>/dev/null || { cat "$KEEL_TMP/rc.log"; die "keel-rcache did not start"; }
cache_stat() {
	"$VDISK" info "$1" --json | jq -r ".filters[] | select(.name == \"cache\") | .stats.$2"
}

for d in a b; do
	qemu-img create -q -f vmdk -o subformat=monolithicSparse "$KEEL_TMP/$d.vmdk" 8M ||
		die "qemu-img create"
	printf '[vdisk]\nfilters = stats cache\n[filter.cache]\nsocket = %s\ndirty_dir = %s/dirty\nconnections = 1\n' \
		"$RCSOCK" "$RCDIR" >"$KEEL_TMP/$d.vmdk.keel"
	vdisk_serve "$KEEL_TMP/$d.vmdk" "$KEEL_TMP/$d.sock" || die "serve $d"
	eval "PID_$d=$VDISK_PID"
	check "disk $d: write 1 MiB, read it twice" qemu-io -f raw -c "write -P 0x3$d 0 1M" \
		-c "read -P 0x3$d 0 1M" -c "read -P 0x3$d 0 1M" "$(nbd_uri "$KEEL_TMP/$d.sock")"
done
check "both disk servers are connected (clients 2 of 2)" \
	test "$(cache_stat "$KEEL_TMP/a.vmdk" connected)/$(cache_stat "$KEEL_TMP/b.vmdk" connected)" = 1/1

out=$("$RCC" "$RCSOCK" hold 1 2>&1)
note "a third client: $out"
check "a third client is refused, saying why" grep -q "refused the connection: Too many users" <<<"$out"
out=$("$KEEL_BUILD/keelctl" rcache stats --rcache-socket "$RCSOCK" 2>&1)
st=$?
note "keelctl rcache stats: $out (exit status $st)"
check_eq "keelctl, a fourth client, fails with exit status 1" 1 "$st"
check "and says the daemon refused it for too many clients" grep -q "Too many users" <<<"$out"
check_eq "two rcache.client_refused events, naming the limit" 2 \
	"$(grep '"type":"rcache.client_refused"' "$RCEV" | grep -c '"max_clients":2')"
check "keel-rcache still runs" kill -0 "$RC_PID"
for d in a b; do
	h1=$(cache_stat "$KEEL_TMP/$d.vmdk" hit_blocks)
	check "disk $d still reads its data" qemu-io -f raw -c "read -P 0x3$d 0 1M" \
		"$(nbd_uri "$KEEL_TMP/$d.sock")"
	h2=$(cache_stat "$KEEL_TMP/$d.vmdk" hit_blocks)
	check "disk $d still reads from the cache (256 more block hits: $h1 -> $h2)" \
		test $((h2 - h1)) -ge 256
done
kill "$PID_b"; wait "$PID_b" 2>/dev/null
for _ in $(seq 50); do
	"$KEEL_BUILD/keelctl" rcache stats --rcache-socket "$RCSOCK" >/dev/null 2>&1 && break
	sleep 0.1
done
check "with disk b gone, keelctl gets in: refused_clients 2, clients 2 (disk a and keelctl)" \
	test "$("$KEEL_BUILD/keelctl" rcache stats --json --rcache-socket "$RCSOCK" |
		jq -r '"\(.refused_clients) \(.clients)"')" = "2 2"

# CONTROL "size": per-disk limits from curves given by hand (the raw protocol;
# keel-rcache runs with --size-interval 0 here, so its own sizing from the
# live curves does not move them; test_rcache_autosize covers that; keelctl has no command for it)
ida=$("$KEEL_BUILD/keelctl" rcache disks --json --rcache-socket "$RCSOCK" | jq -r '.[0].disk_id')
out=$(python3 - "$RCSOCK" "$ida" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
def call(op, payload=b""):
    s.sendall(struct.pack("<IIQQQQQQII", 0x3143524b, op, 1, 0, 0, len(payload), 0, 0, 0, 0) + payload)
    rep = b""
    while len(rep) < 64: rep += s.recv(64 - len(rep))
    status, n = struct.unpack("<i", rep[8:12])[0], struct.unpack("<I", rep[28:32])[0]
    body = b""
    while len(body) < n: body += s.recv(n - len(body))
    return status, body.decode()
call(1)
req = {"op": "size", "capacity": 2048, "disks": [
    {"disk_id": sys.argv[2], "reads": 1000, "curve": [[100, 0.0]]},
    {"disk_id": "00000000000000aa", "reads": 1000, "curve": [[4096, 0.0]]}]}
print(call(6, json.dumps(req).encode()))
req["disks"][1]["curve"] = [[10, 0.5], [5, 0.2]]
print(call(6, json.dumps(req).encode()))
PY
)
note "size: $out"
# 2048 blocks in 256 steps of 8: the disk saturating at 100 gets 104
check "CONTROL size gives the disk saturating at 100 blocks 104 (steps of 8), the other 1944" \
	grep -q '"limit_blocks":104,.*"limit_blocks":1944,' <<<"$(sed -n 1p <<<"$out")"
check "and sets them: keelctl rcache disks shows disk a's limit 104" \
	test "$("$KEEL_BUILD/keelctl" rcache disks --json --rcache-socket "$RCSOCK" |
		jq -r ".[] | select(.disk_id == \"$ida\") | .limit_blocks")" = 104
check "a curve whose sizes do not rise is refused, naming the point" \
	grep -q "disks\[1\].curve\[1\]: expected \[blocks, miss ratio 0..1\], blocks rising" <<<"$out"
exit 0
