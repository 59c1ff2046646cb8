# SPDX-License-Identifier: GPL-2.0-only
# Two hosts on one machine for a QEMU live migration whose disk is a keel
# vdisk: network namespaces A and B joined by a veth pair, one keeld in
# each ([vdisk] owner_addr set, lease 3000 ms), one datastore directory
# both see, and a tiny real guest (tests/host/tiny_guest.sh) writing
# numbered records to its disk.  Sourced by tests/host/test_vdisk_migrate.sh
# and tests/bench/vdisk_migrate_bench.sh, after tests/integration/lib.sh.
#
#   mig_setup                 namespaces, keelds, the guest's kernel and
#                             initramfs; $D the disk's path (not created)
#   kc HOST ARGS...           keelctl against HOST's keeld (a or b)
#   ev HOST TYPE JQ_FILTER    HOST's keeld logged an event TYPE matching
#   own HOST JQ_FILTER        keelctl vdisk owner $D --json | jq -r FILTER
#   mig_qemu NAME HOST DRIVE [INCOMING]
#                             a guest QEMU named NAME in HOST's namespace;
#                             DRIVE is "nbd:SOCKET" (a keel export) or
#                             "file:PATH" (a raw file, the peer); its
#                             console goes to $KEEL_TMP/NAME.serial, its
#                             QMP socket is $KEEL_TMP/NAME.qmp
#   mig_stop_qemu NAME
#   qmp NAME COMMAND          one QMP command to QEMU NAME (stop, cont,
#                             query-status); prints its return
#   migrate SRC_NAME URI [--pause] [--hook CMD...]
#                             tests/host/vdisk_migrate_qmp.py migrate
#   last_ack NAME...          the highest record the guest saw
#                             acknowledged, over the consoles given
#   check_records SOURCE N    every record 0..N is in the disk read from
#                             SOURCE (an NBD URI or a file), in its block,
#                             with its checksum; prints what is wrong
#
# The guest: its init writes record i into 4 KiB block i of /dev/vda with
# O_DIRECT and fsync (busybox dd oflag=direct conv=fsync: the write and
# the disk's flush have completed when dd exits) and then prints "ACK i";
# a record is "KEELREC %08d <md5 of "rec i\n">\n", zero-padded.  It stops
# at the first failed write ("WRITE-FAILED i") or after mig_recs= records
# (kernel argument).

. "$KEEL_TOP/tests/host/tiny_guest.sh"

MIG_ID=$$
declare -A NS=([a]=keel-mgA-$MIG_ID [b]=keel-mgB-$MIG_ID) IP=([a]=10.89.2.1 [b]=10.89.2.2)
declare -A KPID=() QPID=()
DS=$KEEL_TMP/ds
D=$DS/vm.vmdk
MIG_RECS=${MIG_RECS:-3000}
MIG_QMP=$KEEL_TOP/tests/host/vdisk_migrate_qmp.py

_mig_cleanup() {
	local k
	for k in "${!QPID[@]}"; do kill -KILL "${QPID[$k]}" 2>/dev/null; done
	for k in "${!KPID[@]}"; do kill -TERM "${KPID[$k]}" 2>/dev/null; done
	sleep 0.5
	for k in "${!KPID[@]}"; do kill -KILL "${KPID[$k]}" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "/sys/fs/bpf/keel-test-mig-a-$MIG_ID" "/sys/fs/bpf/keel-test-mig-b-$MIG_ID"
	ip netns del "${NS[a]}" 2>/dev/null
	ip netns del "${NS[b]}" 2>/dev/null
}

kc() {
	local h=$1
	shift
	KEEL_SOCKET=$KEEL_TMP/$h.sock timeout 60 "$KEEL_BUILD/keelctl" "$@"
}
ev() { grep -hF "\"type\":\"$2\"" "$KEEL_TMP/$1.events" 2>/dev/null | jq -c "select($3)" | grep -q .; }
own() { kc "$1" vdisk owner "$D" --json 2>/dev/null | jq -r "$2"; }

_mig_guest() {
	cat >"$KEEL_TMP/writer.sh" <<'EOF'
n=$(sed -n 's/.* mig_recs=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -b /dev/vda ] || { echo NO-VDA; exit 3; }
echo "WRITER-START $n"
i=0
while [ "$i" -lt "$n" ]; do
	h=$(echo "rec $i" | md5sum)
	if printf 'KEELREC %08d %.32s\n' "$i" "$h" |
		dd of=/dev/vda bs=4096 seek="$i" oflag=direct conv=sync,notrunc,fsync 2>/dev/null; then
		echo "ACK $i"
	else
		echo "WRITE-FAILED $i"
		exit 1
	fi
	i=$((i + 1))
done
echo "WRITER-DONE $n"
EOF
	tiny_guest_build "$KEEL_TMP/guest" "$KEEL_TMP/writer.sh"
}

mig_setup() {
	local h
	_mig_guest || skip "$TINY_GUEST_WHY"
	on_exit _mig_cleanup
	ip netns add "${NS[a]}" && ip netns add "${NS[b]}" || die "ip netns add"
	ip -n "${NS[a]}" link add mga type veth peer name mgb netns "${NS[b]}" || die "veth"
	ip -n "${NS[a]}" addr add "${IP[a]}/24" dev mga && ip -n "${NS[b]}" addr add "${IP[b]}/24" dev mgb
	for h in a b; do ip -n "${NS[$h]}" link set lo up; done
	ip -n "${NS[a]}" link set mga up && ip -n "${NS[b]}" link set mgb up || die "link up"
	mkdir -p "$DS"
	head -c 32 /dev/urandom >"$KEEL_TMP/cluster.key" && chmod 600 "$KEEL_TMP/cluster.key"
	for h in a b; do
		cat >"$KEEL_TMP/$h.conf" <<CONF
[control]
socket = $KEEL_TMP/$h.sock
[bpf]
pin_dir = /sys/fs/bpf/keel-test-mig-$h-$MIG_ID
[keeld]
host = host-$h
[exec]
enabled = false
[blk]
enabled = false
[vmnet]
enabled = false
[vdisk]
required = true
dirs = $DS
run_dir = $KEEL_TMP/run-$h
owner_addr = ${IP[$h]}
cluster_key = $KEEL_TMP/cluster.key
host_id = host-$h
lease_ms = 3000
renew_ms = 500
CONF
		nsenter --net="/run/netns/${NS[$h]}" "$KEEL_BUILD/keeld" -c "$KEEL_TMP/$h.conf" \
			</dev/null >>"$KEEL_TMP/$h.events" 2>>"$KEEL_TMP/$h.err" &
		KPID[$h]=$!
	done
	for h in a b; do
		wait_until 30 kc "$h" status ||
			{ sed 's/^/    | /' "$KEEL_TMP/$h.err"; die "keeld $h did not start"; }
	done
}

mig_qemu() {
	local name=$1 h=$2 drive=$3 incoming=${4:-} args
	tiny_guest_qemu_args "$KEEL_TMP/guest" "$KEEL_TMP/$name.serial" "mig_recs=$MIG_RECS"
	args=("${TINY_GUEST_ARGS[@]}" -qmp "unix:$KEEL_TMP/$name.qmp,server=on,wait=off")
	case $drive in
	nbd:*) args+=(-blockdev "driver=nbd,server.type=unix,server.path=${drive#nbd:},node-name=nbd0"
		-blockdev "driver=raw,file=nbd0,node-name=d0") ;;
	file:*) args+=(-blockdev "driver=file,filename=${drive#file:},node-name=f0"
		-blockdev "driver=raw,file=f0,node-name=d0") ;;
	esac
	args+=(-device "virtio-blk-pci,drive=d0")
	[ -n "$incoming" ] && args+=(-incoming "$incoming")
	rm -f "$KEEL_TMP/$name.qmp"
	nsenter --net="/run/netns/${NS[$h]}" nice -n 5 qemu-system-x86_64 "${args[@]}" \
		</dev/null >"$KEEL_TMP/$name.log" 2>&1 &
	QPID[$name]=$!
	wait_until 20 test -S "$KEEL_TMP/$name.qmp"
}

mig_stop_qemu() {
	kill -KILL "${QPID[$1]}" 2>/dev/null
	wait "${QPID[$1]}" 2>/dev/null
	unset "QPID[$1]"
}

qmp() { python3 "$MIG_QMP" execute "$KEEL_TMP/$1.qmp" "$2"; }
migrate() {
	local src=$1
	shift
	python3 "$MIG_QMP" migrate "$KEEL_TMP/$src.qmp" "$@"
}

# the guest's console, without the \r the serial port adds
serial() { tr -d '\r' <"$KEEL_TMP/$1.serial" 2>/dev/null; }
last_ack() {
	local n
	for n in "$@"; do serial "$n"; done | sed -n 's/^ACK \([0-9]*\)$/\1/p' | sort -n | tail -1
}

check_records() {
	local src=$1 n=$2 img=$KEEL_TMP/check.raw
	rm -f "$img"
	case $src in
	nbd*) qemu-img convert -f raw -O raw "$src" "$img" || return 1 ;;
	*) img=$src ;;
	esac
	python3 - "$img" "$n" <<'EOF'
import hashlib, sys
img, n = sys.argv[1], int(sys.argv[2])
bad = []
with open(img, "rb") as f:
    for i in range(n + 1):
        f.seek(i * 4096)
        blk = f.read(4096)
        h = hashlib.md5(f"rec {i}\n".encode()).hexdigest()
        want = f"KEELREC {i:08d} {h}\n".encode()
        if blk[:len(want)] != want or blk[len(want):].strip(b"\0"):
            bad.append(i)
    # the records after n: at most the one in flight when the guest stopped
    extra = 0
    while True:
        f.seek((n + 1 + extra) * 4096)
        if not f.read(8).startswith(b"KEELREC"):
            break
        extra += 1
if bad:
    print(f"{len(bad)} of {n + 1} acknowledged records missing or wrong, first: {bad[:10]}")
    sys.exit(1)
print(f"records 0..{n} all present, in order, checksums match; {extra} beyond")
sys.exit(0 if extra <= 1 else 1)
EOF
}
