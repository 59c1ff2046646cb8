#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Disk ownership through keeld and keelctl: two "hosts" as network
# namespaces joined by a veth pair, each with its own keeld (own control
# socket, runtime directory, [vdisk] host_id and owner_addr), one datastore
# directory both see, one cluster key.  keeld refuses a cluster key other
# users can read; keelctl vdisk open --standby, handoff (refused while
# clients are connected: "busy"; then with migrating on), release,
# migrating and owner; handoffs A→B→A… with the data checked; a keeld with
# another key ("forged"); the link cut ("unreachable", nothing changes); the
# owner's disk server paused and taken over (fenced, through keeld's
# events); a closed disk is released at once (no lease to wait out).
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_cmd qemu-io nbdkit jq nsenter ip python3

. "$KEEL_TOP/tests/host/keeld_hosts.sh"

declare -A IP=([a]=10.89.1.1 [b]=10.89.1.2)
LEASE=2000
DS=$KEEL_TMP/ds
D=$DS/vm.vmdk
KEY=$KEEL_TMP/cluster.key
SEND="python3 $KEEL_TOP/tests/host/vdisk_owner_send.py"

hosts_init own ok
hosts_ns_add a b || die "ip netns add"
hosts_veth a oka b okb "${IP[a]}" "${IP[b]}" || die "veth"
NS_A=${NS[a]}
NS_B=${NS[b]}
mkdir -p "$DS"
head -c 32 /dev/urandom >"$KEY" && chmod 600 "$KEY"

conf() {	# conf H [KEYFILE]
	local h=$1 key=${2:-$KEY}
	hosts_keeld_conf "$h" "[vmnet]" "enabled = false" "[vdisk]" "required = true" \
		"dirs = $DS" "run_dir = $KEEL_TMP/run-$h" "owner_addr = ${IP[$h]}" \
		"owner_port = 7700" "cluster_key = $key" "host_id = host-$h" \
		"lease_ms = $LEASE" "renew_ms = 300"
}
start() { hosts_keeld_start "$1"; }	# keeld in H's namespace
stop() { hosts_keeld_stop "$1" 2>/dev/null; }
# ev H TYPE JQ: keeld H emitted an event of TYPE matching JQ
ev() { grep -hF "\"type\":\"$2\"" "$KEEL_TMP/$1.events" 2>/dev/null | jq -c "select($3)" | grep -q .; }
ev_count() { grep -hF "\"type\":\"$2\"" "$KEEL_TMP/$1.events" 2>/dev/null | jq -c "select($3)" | wc -l; }
own() { kc "$1" vdisk owner "$D" --json 2>/dev/null | jq -r "$2"; }
sock() { kc "$1" vdisk info "$D" --json | jq -r .socket; }
io() {	# io H qemu-io ARGS...: through H's NBD export; fails on any failed command
	local h=$1 out
	shift
	out=$(timeout 30 qemu-io -f raw "$@" "nbd+unix:///?socket=$(sock "$h")" 2>&1) &&
		! grep -qiE "fail|error|verification" <<<"$out" && return 0
	sed 's/^/    qemu-io: /' <<<"$out" | head -n 10
	return 1
}

# --- keeld refuses a cluster key other users can read
conf a
chmod 644 "$KEY"
out=$(timeout 30 nsenter --net="/run/netns/$NS_A" "$KEEL_BUILD/keeld" -c "$KEEL_TMP/a.conf" 2>&1 </dev/null)
rc=$?
chmod 600 "$KEY"
check "keeld refuses a cluster key of mode 0644, naming the key and [vdisk] (rc $rc)" \
	grep -q "\[vdisk\] cluster_key: cluster key $KEY: mode 0644 lets other users read it" <<<"$out"
conf b
start a || die "keeld on A did not start"
start b || die "keeld on B did not start"
check "vdisk runs with ownership on A" \
	sh -c "KEEL_SOCKET=$KEEL_TMP/a.sock $KEEL_BUILD/keelctl status --json | jq -e '.subsystems[] | select(.name == \"vdisk\") | .counters.ownership == true'"

# --- open on A (owner), standby on B
check "A: keelctl vdisk create" kc a vdisk create "$D" --size 64M
check "A: keelctl vdisk open: A acquires the new disk" kc a vdisk open "$D"
check "B: keelctl vdisk open --standby serves without taking it" kc b vdisk open "$D" --standby
check_eq "A owns generation 1 (record and keeld agree)" "host-a 1 owner" \
	"$(own a '.record.host + " " + (.record.generation | tostring) + " " + .server.state')"
check_eq "B is a standby at tcp:${IP[b]}:7700" "standby tcp:${IP[b]}:7700" \
	"$(own b '.server.state + " " + .server.addr')"
check "keelctl vdisk info --json on B shows the owner record" \
	sh -c "KEEL_SOCKET=$KEEL_TMP/b.sock $KEEL_BUILD/keelctl vdisk info '$D' --json | jq -e '.owner_record.host == \"host-a\" and .owner_record.generation == 1 and .owner.state == \"standby\"'"
check "A: write through A's export" io a -c "write -P 1 0 64k"
out=$(qemu-io -f raw -c "read 0 4k" "nbd+unix:///?socket=$(sock b)" 2>&1)
check "B's export fails I/O while B does not own the disk" grep -q "shutdown" <<<"$out"

# --- busy: a client holds A's export and A is not migrating
mkfifo "$KEEL_TMP/hold"
qemu-io -f raw "nbd+unix:///?socket=$(sock a)" <"$KEEL_TMP/hold" >/dev/null 2>&1 &
holder=$!
exec 7>"$KEEL_TMP/hold"
sleep 0.5
out=$(kc b vdisk handoff "$D" 2>&1)
rc=$?
check_eq "B: handoff while A has a client and is not migrating exits 1" 1 $rc
check "... saying: refused, busy, clients connected" \
	grep -q "vdisk handoff $D failed (busy): .*refused to release it: busy: 1 NBD clients are connected" <<<"$out"
note "$out"
check_eq "... nothing changed: A owns generation 1" "host-a 1 owner" \
	"$(own a '.record.host + " " + (.record.generation | tostring) + " " + .server.state')"
check "A's keeld logged vdisk.release_refused code busy (from host-b, with the path)" \
	ev a vdisk.release_refused ".code == \"busy\" and .from == \"host-b\" and .path == \"$D\""
check "B's keeld logged vdisk.handoff_failed code busy" ev b vdisk.handoff_failed '.code == "busy"'

# --- migrating on at A: the handoff succeeds with the client still connected
check "A: keelctl vdisk migrating on" kc a vdisk migrating "$D" on
out=$(kc b vdisk handoff "$D" 2>&1)
check "B: keelctl vdisk handoff succeeds: $out" grep -q "this host (host-b) is owner, generation 2" <<<"$out"
echo quit >&7
exec 7>&-
wait $holder 2>/dev/null
check_eq "record: host-b, generation 2; A is standby" "host-b 2 standby" \
	"$(own a '.record.host + " " + (.record.generation | tostring) + " " + .server.state')"
check "B reads A's write" io b -c "read -P 1 0 64k"
check "A's keeld: vdisk.released to host-b" ev a vdisk.released ".to == \"host-b\" and .path == \"$D\""
check "B's keeld: vdisk.acquired from host-a, how released" \
	ev b vdisk.acquired '.from == "host-a" and .how == "released" and .generation == 2'
check "both logged vdisk.release_requested" \
	sh -c "$(declare -f ev); KEEL_TMP=$KEEL_TMP; ev a vdisk.release_requested true && ev b vdisk.release_requested true"

# --- handoffs back and forth, the data checked after each
kc b vdisk migrating "$D" on >/dev/null
ok=0 reads=0 cur=b
for i in $(seq 2 7); do
	other=$([ $cur = a ] && echo b || echo a)
	io $cur -c "write -P $i $((i << 20)) 64k" || echo "  write $i through $cur failed"
	kc $other vdisk handoff "$D" >/dev/null 2>"$KEEL_TMP/h.err" && ok=$((ok + 1)) ||
		sed 's/^/    | /' "$KEEL_TMP/h.err"
	args=(-c "read -P 1 0 64k")
	for j in $(seq 2 $i); do args+=(-c "read -P $j $((j << 20)) 64k"); done
	io $other "${args[@]}" && reads=$((reads + 1))
	cur=$other
done
check_eq "6 handoffs B→A→B… through keelctl" 6 $ok
check_eq "after each, the new owner read every pattern written before" 6 $reads
check_eq "generation 8, owner B" "host-b 8" "$(own b '.record.host + " " + (.record.generation | tostring)')"
check_eq "keeld A counted its handoffs" 3 \
	"$(kc a status --json | jq '.subsystems[] | select(.name == "vdisk") | .counters.handoffs')"

# --- a forged release request to B's listener: refused, logged by B's keeld
check "a request signed with another key is refused (forged)" \
	sh -c "nsenter --net=/run/netns/$NS_A $SEND tcp:${IP[b]}:7700 $KEY forged vm.vmdk 8 | jq -e '.code == \"forged\"'"
check "B's keeld logged vdisk.release_refused code forged" ev b vdisk.release_refused '.code == "forged"'
# a host with another cluster key: its handoff is refused as forged
stop a
head -c 32 /dev/urandom >"$KEEL_TMP/other.key" && chmod 600 "$KEEL_TMP/other.key"
conf a "$KEEL_TMP/other.key"
start a || die "keeld on A (other key) did not start"
kc a vdisk open "$D" --standby >/dev/null || echo "  open --standby on A failed"
out=$(kc a vdisk handoff "$D" 2>&1)
check "A with another cluster key: handoff fails (forged)" grep -q "failed (forged)" <<<"$out"
note "$out"
check_eq "... nothing changed: B owns generation 8" "host-b 8 owner" \
	"$(own b '.record.host + " " + (.record.generation | tostring) + " " + .server.state')"
stop a
conf a
start a || die "keeld on A did not start again"
kc a vdisk open "$D" --standby >/dev/null || echo "  open --standby on A failed"

# --- the link cut: A must not take the disk from live B
ip -n "$NS_B" link set okb down
out=$(kc a vdisk handoff "$D" 2>&1)
check "link cut: A's handoff fails (unreachable), B renews its lease" \
	grep -q "failed (unreachable): .*renews its lease but does not answer" <<<"$out"
check_eq "... B still owns generation 8" "host-b 8 owner" \
	"$(own b '.record.host + " " + (.record.generation | tostring) + " " + .server.state')"
check "... and writes" io b -c "write -P 0xc1 $((20 << 20)) 64k"
ip -n "$NS_B" link set okb up

# --- B's disk server paused: A takes over after the lease; B is fenced
pid=$(kc b vdisk info "$D" --json | jq -r .pid)
kill -STOP "$pid"
check "A takes the disk of B's paused server over" kc a vdisk handoff "$D"
check "A's keeld: vdisk.takeover from host-b" ev a vdisk.takeover '.from == "host-b" and .how == "takeover"'
check "A reads B's last write" io a -c "read -P 0xc1 $((20 << 20)) 64k"
check "A writes" io a -c "write -P 0xa9 $((21 << 20)) 64k"
kill -CONT "$pid"
out=$(qemu-io -f raw -c "write -P 0xee $((21 << 20)) 64k" "nbd+unix:///?socket=$(sock b)" 2>&1)
check "B, resumed, fails its writes" grep -q "write failed" <<<"$out"
check "B's keeld: vdisk.fenced" wait_until 5 ev b vdisk.fenced "true"
check_eq "keelctl vdisk owner on B says fenced" fenced "$(own b .server.state)"
check "the disk holds A's data, not B's" io a -c "read -P 0xa9 $((21 << 20)) 64k"

# --- close releases: B takes the disk at once, not after the lease
check "A: keelctl vdisk close" kc a vdisk close "$D"
check "the record says released" sh -c "KEEL_SOCKET=$KEEL_TMP/b.sock $KEEL_BUILD/keelctl vdisk owner '$D' --json | jq -e '.record.released == true and .record.host == \"host-a\"'"
check "B's handoff after A's close" kc b vdisk handoff "$D"
check "B's keeld: vdisk.acquired how released (no takeover)" \
	ev b vdisk.acquired '.how == "released" and .from == "host-a" and .generation == 10'
check "B reads A's data" io b -c "read -P 0xa9 $((21 << 20)) 64k" -c "read -P 7 $((7 << 20)) 64k"

# --- fio with verify across handoffs (no lost, no stale data): B writes
# with verify and hands the disk to A, which verifies B's data and writes
# the same blocks with another pattern, hands it back, and B verifies A's
# data.  verify=pattern compares every byte (crc32c would accept an older
# pass's block: it is consistent in itself).
fails() { ! "$@"; }
fio_run() {	# fio_run H PATTERN ARGS...: fio's nbd engine through H's export
	local h=$1 pat=$2
	shift 2
	timeout 120 fio --name=owner --ioengine=nbd --uri="nbd+unix:///?socket=$(sock "$h")" \
		--rw=randwrite --bs=4k --offset=32M --size=8M --iodepth=8 --randseed=7 \
		--verify=pattern --verify_pattern="$pat" --verify_fatal=1 --verify_state_save=0 \
		--output="$KEEL_TMP/fio-$h-$pat.out" "$@"
}
if command -v fio >/dev/null && fio --enghelp=nbd >/dev/null 2>&1; then
	kc a vdisk open "$D" --standby >/dev/null || echo "  open --standby on A failed"
	check "fio on B: 8 MiB of random 4k writes (pattern 0x1111), verified" \
		fio_run b 0x11111111 --do_verify=1
	check "A takes the disk from B" kc a vdisk handoff "$D"
	check "fio verify_only on A: every block B's fio wrote is there" fio_run a 0x11111111 --verify_only
	check "fio on A: the same blocks again (pattern 0x2222)" fio_run a 0x22222222 --do_verify=0
	check "B takes the disk back" kc b vdisk handoff "$D"
	check "fio verify_only on B: A's blocks, none of B's older ones (no stale data)" \
		fio_run b 0x22222222 --verify_only
	check "... and B's first pattern no longer verifies (the check can fail)" \
		fails fio_run b 0x11111111 --verify_only
	check "A: close" kc a vdisk close "$D"
else
	note "fio with the nbd engine is missing: the fio part is skipped"
fi
check "B: close" kc b vdisk close "$D"
stop a
stop b
