#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Disk ownership between hosts: two "hosts" as network namespaces joined by
# a veth pair, disk servers with their own runtime directories and host
# ids, one shared datastore directory.  Cooperative handoff A→B→A with the
# data checked; a handoff refused while clients are connected (busy); a
# handoff while writes are in flight (every acknowledged write is there);
# the owner SIGKILLed (takeover after the lease); the owner SIGSTOPped and
# resumed after a takeover (fenced: it writes nothing); the link cut (no
# takeover from a live owner); two requesters at once (one owner); forged,
# malformed, stale and replayed release requests (refused, logged, nothing
# changes); a corrupted owner record (clear error, nothing changes).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vdisk.sh"
need_root
need_cmd qemu-io qemu-img nbdkit python3 jq nsenter ip
[ -x "$VDISK" ] || die "no $VDISK: run make"

ID=$$
NS_A=keel-owA-$ID
NS_B=keel-owB-$ID
IP_A=10.89.0.1
IP_B=10.89.0.2
LEASE=${KEEL_OWNER_LEASE_MS:-2000}
RENEW=300
SEND="python3 $KEEL_TOP/tests/host/vdisk_owner_send.py"
DS=$KEEL_TMP/datastore
D=$DS/vm.vmdk
KEY=$KEEL_TMP/cluster.key
declare -A PID=() NS=() ADDR=()

_owner_cleanup() {
	local k
	for k in "${!PID[@]}"; do kill -CONT "${PID[$k]}" 2>/dev/null; kill -KILL "${PID[$k]}" 2>/dev/null; done
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
}
on_exit _owner_cleanup
ip netns add "$NS_A" && ip netns add "$NS_B" || die "ip netns add"
ip -n "$NS_A" link add owa type veth peer name owb netns "$NS_B" || die "veth"
ip -n "$NS_A" addr add $IP_A/24 dev owa && ip -n "$NS_B" addr add $IP_B/24 dev owb
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set owa up && ip -n "$NS_B" link set owb up || die "link up"

mkdir -p "$DS"
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$D" 64M || die "qemu-img create"
head -c 32 /dev/urandom >"$KEY" && chmod 600 "$KEY"
NS[a]=$NS_A ADDR[a]=tcp:$IP_A:7700
NS[b]=$NS_B ADDR[b]=tcp:$IP_B:7700
NS[c]=$NS_B ADDR[c]=tcp:$IP_B:7701

jq_true() { jq -e "$1" >/dev/null; }

ctl() {	# ctl SERVER CMD [ARGS]: keel-vdisk CMD against that host's server
	local n=$1 cmd=$2
	shift 2
	KEEL_VDISK_RUN_DIR=$KEEL_TMP/run-$n timeout 30 "$VDISK" "$cmd" "$D" "$@"
}
state() { ctl "$1" owner --json 2>/dev/null | jq -r '.server.state // "none"'; }
# the record alone (no server asked: one may be paused)
gen() { ctl none owner --json | jq -r '.record.generation'; }
owner_host() { ctl none owner --json | jq -r '.record.host'; }
io() {	# io SERVER qemu-io ARGS...: through that server's NBD socket
	local n=$1
	shift
	timeout 30 qemu-io -f raw "$@" "nbd+unix:///?socket=$KEEL_TMP/$n.nbd"
}
# io_ok: io, and no failure in qemu-io's output (shown when there is one)
io_ok() {
	local out
	out=$(io "$@" 2>&1) && ! grep -qiE "fail|error|verification" <<<"$out" && return 0
	sed 's/^/    qemu-io: /' <<<"$out" | head -n 20
	return 1
}
ev() {	# ev SERVER TYPE JQ: that server logged an event of TYPE matching JQ
	grep -h "\"type\":\"$2\"" "$KEEL_TMP/$1.ev" 2>/dev/null | jq -c "select($3)" | grep -q .
}
ev_count() { grep -h "\"type\":\"$2\"" "$KEEL_TMP/$1.ev" 2>/dev/null | jq -c "select($3)" | wc -l; }

serve() {	# serve SERVER [--standby]
	local n=$1 i
	shift
	mkdir -p "$KEEL_TMP/run-$n"
	KEEL_VDISK_RUN_DIR=$KEEL_TMP/run-$n nsenter --net="/run/netns/${NS[$n]}" \
		"$VDISK" serve "$D" --socket "$KEEL_TMP/$n.nbd" --owner-listen "${ADDR[$n]}" \
		--cluster-key "$KEY" --host-id "host-$n" --lease-ms "$LEASE" --renew-ms "$RENEW" \
		--events "$KEEL_TMP/$n.ev" "$@" </dev/null 2>>"$KEEL_TMP/$n.log" &
	PID[$n]=$!
	for i in $(seq 100); do
		[ "$(state "$n")" != none ] && [ -S "$KEEL_TMP/$n.nbd" ] && return 0
		kill -0 "${PID[$n]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "  server $n did not start:"
	sed 's/^/    | /' "$KEEL_TMP/$n.log"
	return 1
}

serve a || die "server A did not start"
serve b --standby || die "server B did not start"
check_eq "A acquired the new disk: generation 1" "1 host-a owner" "$(gen) $(owner_host) $(state a)"
check_eq "B waits in standby" standby "$(state b)"
out=$(io b -c "read 0 4k" 2>&1)
check "a server that does not own the disk fails its I/O (ESHUTDOWN)" \
	grep -q "transport endpoint shutdown" <<<"$out"

# --- cooperative handoff, 20 times, the data checked each time
ctl a migrating on >/dev/null && ctl b migrating on >/dev/null
ok=0 reads_ok=0
cur=a
for i in $(seq 1 20); do
	other=$([ $cur = a ] && echo b || echo a)
	io_ok $cur -c "write -P $i $((i << 20)) 64k" || echo "  write $i through $cur failed"
	if ctl $other handoff >/dev/null 2>"$KEEL_TMP/handoff.err" &&
		[ "$(state $other) $(state $cur)" = "owner standby" ]; then
		ok=$((ok + 1))
	else
		sed 's/^/    | /' "$KEEL_TMP/handoff.err"
	fi
	args=()
	for j in $(seq 1 $i); do args+=(-c "read -P $j $((j << 20)) 64k"); done
	io_ok $other "${args[@]}" && reads_ok=$((reads_ok + 1))
	cur=$other
done
check_eq "20 cooperative handoffs A→B→A… each made the other server the owner" 20 $ok
check_eq "after each, the new owner read every pattern written before (1..i)" 20 $reads_ok
check_eq "the generation grew by one per handoff" 21 "$(gen)"
check_eq "the owners logged 20 vdisk.released" 20 \
	$(($(ev_count a vdisk.released true) + $(ev_count b vdisk.released true)))
check "B's vdisk.acquired names A as the previous owner, how=released" \
	ev b vdisk.acquired '.from == "host-a" and .how == "released"'
note "owner now: $(owner_host), generation $(gen)"

# --- busy: a client holds a connection to the owner (A) and it is not migrating
ctl a migrating off >/dev/null
mkfifo "$KEEL_TMP/hold"
qemu-io -f raw "nbd+unix:///?socket=$KEEL_TMP/a.nbd" <"$KEEL_TMP/hold" >/dev/null 2>&1 &
holder=$!
exec 7>"$KEEL_TMP/hold"
sleep 0.5
g=$(gen)
out=$(ctl b handoff 2>&1)
check "with a client connected and no migration, A refuses: B gets the reason" \
	grep -q "refused to release it: busy: 1 NBD clients are connected" <<<"$out"
check_eq "... and nothing changed (generation, owner)" "$g host-a owner" "$(gen) $(owner_host) $(state a)"
check "A logged vdisk.release_refused code busy" ev a vdisk.release_refused '.code == "busy" and .from == "host-b"'
ctl a migrating on >/dev/null
check "marked migrating, the same handoff succeeds" ctl b handoff
echo quit >&7
exec 7>&-
wait $holder 2>/dev/null

# --- writes in flight during the handoff B → A: every acknowledged write is there
args=()
# 300 writes 16 KiB apart: 32 MiB to 36.7 MiB, below what the later parts use (40 MiB on)
for k in $(seq 0 299); do args+=(-c "write -P $((k % 200 + 1)) $(((32 << 20) + k * 16384)) 4k"); done
io b "${args[@]}" >"$KEEL_TMP/inflight.out" 2>&1 &
writer=$!
sleep 0.3
ctl a handoff >/dev/null 2>"$KEEL_TMP/handoff.err"
hrc=$?
wait $writer
check_eq "handoff B→A while B's client writes succeeded" 0 $hrc
acked=$(grep -c '^wrote 4096/4096' "$KEEL_TMP/inflight.out")
failed=$(grep -c 'failed' "$KEEL_TMP/inflight.out")
note "writes acknowledged by B: $acked, failed after the release: $failed"
args=()
for off in $(sed -n 's/^wrote 4096\/4096 bytes at offset \([0-9]*\)/\1/p' "$KEEL_TMP/inflight.out"); do
	k=$(((off - (32 << 20)) / 16384))
	args+=(-c "read -P $((k % 200 + 1)) $off 4k")
done
check "some writes were acknowledged before the release" test "$acked" -gt 0
check "every write B acknowledged reads back through A ($acked)" io_ok a "${args[@]}"

# --- the owner SIGKILLed: takeover after the lease, acknowledged writes kept
io_ok a -c "write -P 0xa1 $((40 << 20)) 1M" -c flush || echo "  flushed write failed"
io_ok a -c "write -P 0xa2 $((41 << 20)) 64k" || echo "  unflushed write failed"
g=$(gen)
kill -KILL "${PID[a]}"
wait "${PID[a]}" 2>/dev/null
t0=$(date +%s%N)
check "B's handoff takes the disk of a SIGKILLed owner" ctl b handoff
t1=$(date +%s%N)
note "takeover took $(((t1 - t0) / 1000000)) ms (lease $LEASE ms)"
check_eq "generation +1, owner B" "$((g + 1)) host-b" "$(gen) $(owner_host)"
check "B logged vdisk.takeover from host-a" ev b vdisk.takeover '.from == "host-a" and .how == "takeover"'
check "B reads A's flushed write and its acknowledged unflushed one" \
	io_ok b -c "read -P 0xa1 $((40 << 20)) 1M" -c "read -P 0xa2 $((41 << 20)) 64k"
serve a --standby || die "server A did not restart"

# --- the owner SIGSTOPped, taken over, resumed: fenced, it writes nothing
io_ok b -c "write -P 0xb1 $((48 << 20)) 64k" || echo "  write through B failed"
kill -STOP "${PID[b]}"
check "A takes the disk over from the paused B" ctl a handoff
check "A logged vdisk.takeover" ev a vdisk.takeover '.from == "host-b"'
io_ok a -c "write -P 0xb2 $((48 << 20)) 64k" || echo "  write through A failed"
kill -CONT "${PID[b]}"
out=$(io b -c "write -P 0xee $((48 << 20)) 64k" -c "write -P 0xee $((49 << 20)) 64k" 2>&1)
check "B, resumed, fails its writes" grep -q "write failed" <<<"$out"
check "B logged vdisk.fenced" wait_until 3 ev b vdisk.fenced true
check_eq "B's state is fenced" fenced "$(state b)"
check "the disk holds A's data, nothing of B's after the pause" \
	io_ok a -c "read -P 0xb2 $((48 << 20)) 64k" -c "read -P 0 $((49 << 20)) 64k"
kill -KILL "${PID[b]}"
wait "${PID[b]}" 2>/dev/null
serve b --standby || die "server B did not restart"

# --- the link between the hosts cut: B must not take the disk from live A
ip -n "$NS_A" link set owa down
g=$(gen)
out=$(ctl b handoff 2>&1)
check "with the link cut, B refuses to take over a live owner" \
	grep -q "renews its lease but does not answer release requests" <<<"$out"
check_eq "... generation and owner unchanged" "$g host-a" "$(gen) $(owner_host)"
check "A still writes" io_ok a -c "write -P 0xc1 $((50 << 20)) 64k"
ip -n "$NS_A" link set owa up
check "link up again: B's handoff succeeds" wait_until 10 ctl b handoff
check "B reads A's write" io_ok b -c "read -P 0xc1 $((50 << 20)) 64k"

# --- forged, malformed, stale, replayed requests to the owner B
g=$(gen)
sendb() { nsenter --net="/run/netns/$NS_A" $SEND "${ADDR[b]}" "$KEY" "$@"; }
check "a request signed with another key: refused, code forged" \
	jq_true '.code == "forged"' < <(sendb forged vm.vmdk "$g")
check "a line that is not JSON: refused, code malformed" \
	jq_true '.code == "malformed"' < <(sendb raw vm.vmdk 'hello')
check "a request signed an hour ago: refused, code replayed" \
	jq_true '.code == "replayed"' < <(sendb stale vm.vmdk "$g")
check "a valid request for another generation: not_owner" \
	jq_true '.code == "not_owner"' < <(sendb valid vm.vmdk $((g + 5)) --save "$KEEL_TMP/req")
check "the same bytes sent again: refused, code replayed" \
	jq_true '.code == "replayed"' < <(sendb replay vm.vmdk 0 --replay "$KEEL_TMP/req")
for code in forged malformed replayed; do
	check "B logged vdisk.release_refused code $code" ev b vdisk.release_refused ".code == \"$code\""
done
check_eq "nothing changed: B owns generation $g" "$g host-b owner" "$(gen) $(owner_host) $(state b)"
check "B still writes" io_ok b -c "write -P 0xd1 $((52 << 20)) 64k"

# --- two requesters at once (A and C) while B owns the disk: B answers
# them one after the other, so the second either finds the first's claim
# (error) or asks the first in turn; never two owners
serve c --standby || die "server C did not start"
ctl a handoff >"$KEEL_TMP/ra.out" 2>&1 &
pa=$!
ctl c handoff >"$KEEL_TMP/rc.out" 2>&1 &
pc=$!
wait $pa; ra=$?
wait $pc; rc=$?
note "A: rc $ra $(head -c 200 "$KEEL_TMP/ra.out"); C: rc $rc $(head -c 200 "$KEEL_TMP/rc.out")"
check_eq "one owner among A, B, C" 1 "$(for n in a b c; do state $n; done | grep -c '^owner$')"
check_eq "the generation grew by the number of successful handoffs" \
	$((g + (ra == 0) + (rc == 0))) "$(gen)"
# the same with a silent owner: both wait out its lease and claim the same
# generation at about the same moment; link() lets exactly one win
cur=$(owner_host); cur=${cur#host-}
ctl $([ $cur = a ] && echo c || echo a) migrating on >/dev/null
g=$(gen)
kill -STOP "${PID[$cur]}"
ctl b handoff >"$KEEL_TMP/ra.out" 2>&1 &
pa=$!
ctl $([ $cur = a ] && echo c || echo a) handoff >"$KEEL_TMP/rc.out" 2>&1 &
pc=$!
wait $pa; ra=$?
wait $pc; rc=$?
note "requesters of the paused $cur's disk: rc $ra $(head -c 160 "$KEEL_TMP/ra.out"); rc $rc $(head -c 160 "$KEEL_TMP/rc.out")"
check_eq "exactly one of two requesters of a silent owner succeeded" 1 $(((ra == 0) + (rc == 0)))
check "the other was told another host got the disk first" \
	grep -qE "became the owner first|took the disk \(generation|claimed generation [0-9]+ first|the owner changed: generation" \
	"$KEEL_TMP/ra.out" "$KEEL_TMP/rc.out"
check_eq "generation +1 exactly" $((g + 1)) "$(gen)"
winner=$(owner_host); winner=${winner#host-}
check "the winner reads B's last write" io_ok $winner -c "read -P 0xd1 $((52 << 20)) 64k"
kill -CONT "${PID[$cur]}"

# --- a corrupted owner record: a clear error, nothing changes
kill -KILL "${PID[$winner]}"
wait "${PID[$winner]}" 2>/dev/null
req=$([ $winner = c ] && echo a || echo c)
rec=$(ls "$D.owner"/*.rec | tail -1)
printf '{"version":1,"generation":' >"$rec"
sum=$(cd "$D.owner" && ls -A | xargs md5sum | md5sum)
before=$(state $req)
out=$(ctl $req handoff 2>&1)
check "handoff over a corrupted record fails naming the file" \
	grep -q "$(basename "$rec"): corrupted owner record: offset" <<<"$out"
check_eq "the owner directory is unchanged" "$sum" "$(cd "$D.owner" && ls -A | xargs md5sum | md5sum)"
check "the requester ($req, $before before) did not become the owner" test "$(state $req)" != owner
out=$(ctl none owner 2>&1)
check "keel-vdisk owner says the same" grep -q "corrupted owner record" <<<"$out"
