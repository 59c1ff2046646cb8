# SPDX-License-Identifier: GPL-2.0-only
# Two hosts on one machine for a QEMU live migration whose disk is a keel
# vdisk: network namespaces A and B joined by a veth pair, one keeld in
# each ([vdisk] owner_addr set, lease 3000 ms; tests/host/keeld_hosts.sh),
# one datastore directory both see, and a tiny real guest (tests/host/tiny_guest.sh) writing
# numbered records to its disk.  Sourced by tests/host/test_vdisk_migrate.sh
# and tests/bench/vdisk_migrate_bench.sh, after tests/integration/lib.sh.
#
#   mig_setup                 namespaces, keelds, the guest's kernel and
#                             initramfs; $D the disk's path (not created)
#   kc HOST ARGS...           keelctl against HOST's keeld (a or b;
#                             keeld_hosts.sh)
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
#   mig_wait_ack NAME N SECS  wait until the guest in QEMU NAME printed
#                             "ACK N"; fails at once when that QEMU ended
#                             or the guest's kernel crashed
#   mig_check WHAT CMD..., mig_check_eq WHAT WANT GOT
#                             check and check_eq from lib.sh; when the first
#                             failed check of the run meets evidence that
#                             the guest's kernel crashed (mig_guest_crashed),
#                             the run ends there as "the guest crashed, not
#                             keel" with that evidence and the report
#   mig_guest_crashed         prints the evidence that a guest's kernel
#                             crashed or its QEMU died of a signal; fails
#                             when there is none
#   mig_done                  the test reached its end; without it, or
#                             after a failed check, the exit prints what a
#                             CI log needs to tell why (mig_report): each
#                             QEMU's exit status and standard error, the
#                             guest's consoles, both keelds' logs and
#                             vdisk events.  KEEL_MIG_KEEP=DIR also copies
#                             the run's files into DIR.
#
# The guest: its init writes record i into 4 KiB block i of /dev/vda with
# O_DIRECT and fsync (busybox dd oflag=direct conv=fsync: the write and
# the disk's flush have completed when dd exits) and then prints "ACK i";
# a record is "KEELREC %08d <md5 of "rec i\n">\n", zero-padded.  It stops
# at the first failed write ("WRITE-FAILED i") or after mig_recs= records
# (kernel argument).  Beside it, a heartbeat prints "TICK t" every second:
# it touches no disk, so it tells a frozen guest (no TICK) from writes that
# stall on the disk (TICKs go on: keel's failure).

. "$KEEL_TOP/tests/host/tiny_guest.sh"
. "$KEEL_TOP/tests/host/keeld_hosts.sh"

declare -A IP=([a]=10.89.2.1 [b]=10.89.2.2) QPID=() QRC=()
DS=$KEEL_TMP/ds
D=$DS/vm.vmdk
MIG_RECS=${MIG_RECS:-3000}
MIG_QMP=$KEEL_TOP/tests/host/vdisk_migrate_qmp.py

# the QEMUs go first: keeld_hosts.sh's exit action, registered before this
# one, runs after it
_mig_cleanup() {
	local k
	for k in "${!QPID[@]}"; do kill -KILL "${QPID[$k]}" 2>/dev/null; done
	for k in "${!QPID[@]}"; do wait "${QPID[$k]}" 2>/dev/null; done
}

ev() { grep -hF "\"type\":\"$2\"" "$KEEL_TMP/$1.events" 2>/dev/null | jq -c "select($3)" | grep -q .; }
own() { kc "$1" vdisk owner "$D" --json 2>/dev/null | jq -r "$2"; }

_mig_guest() {
	cat >"$KEEL_TMP/writer.sh" <<'EOF'
n=$(sed -n 's/.* mig_recs=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -b /dev/vda ] || { echo NO-VDA; exit 3; }
echo "WRITER-START $n"
# a heartbeat that needs no disk: a guest whose writes stall (keel's
# disk not answering) goes on ticking, a frozen guest does not
(t=0; while :; do echo "TICK $t"; t=$((t + 1)); sleep 1; done) &
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
	hosts_init mig mg
	on_exit _mig_cleanup
	# lib.sh runs the exit actions with their output thrown away: the
	# report writes to the test's own standard output, kept here
	exec {MIG_OUT}>&1
	on_exit _mig_report_unless_done
	hosts_ns_add a b || die "ip netns add"
	hosts_veth a mga b mgb "${IP[a]}" "${IP[b]}" || die "veth"
	mkdir -p "$DS"
	head -c 32 /dev/urandom >"$KEEL_TMP/cluster.key" && chmod 600 "$KEEL_TMP/cluster.key"
	for h in a b; do
		hosts_keeld_conf "$h" "[vmnet]" "enabled = false" "[vdisk]" "required = true" \
			"dirs = $DS" "run_dir = $KEEL_TMP/run-$h" "owner_addr = ${IP[$h]}" \
			"cluster_key = $KEEL_TMP/cluster.key" "host_id = host-$h" \
			"lease_ms = 3000" "renew_ms = 500"
		hosts_keeld_start "$h" || die "keeld $h did not start"
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
	# a triple fault ends a -no-reboot QEMU with status 0 and no word on
	# the console: QEMU's reset log says "Triple fault"
	args+=(-device "virtio-blk-pci,drive=d0" -d cpu_reset -D "$KEEL_TMP/$name.qemu-log")
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
	QRC[$1]="killed by the test (SIGKILL)"
	unset "QPID[$1]"
}

# _mig_reap NAME: if QEMU NAME ended, keep how (its exit status, or the
# signal that killed it) in QRC; bash keeps an exited child's status for
# wait, but only the test's own shell can wait for it, not a $(...)
_mig_reap() {
	local pid=${QPID[$1]:-} rc
	[ -n "$pid" ] && [ "$BASHPID" = "$$" ] || return 0
	kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null &&
		return 0
	wait "$pid" 2>/dev/null
	rc=$?
	if [ "$rc" -gt 128 ]; then
		QRC[$1]="killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null))"
	else
		QRC[$1]="exited with status $rc"
	fi
	unset "QPID[$1]"
}
_mig_reap_all() { local n; for n in src dst back; do _mig_reap "$n"; done; }

# mig_qemu_state NAME: "running", or how QEMU NAME ended
mig_qemu_state() {
	local pid
	_mig_reap "$1"
	pid=${QPID[$1]:-}
	if [ -z "$pid" ]; then
		echo "${QRC[$1]:-never started}"
	elif kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
		echo "running (pid $pid)"
	else
		echo "ended (pid $pid)"
	fi
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

# What a guest kernel prints when it dies: a panic, the oops header of
# die() ("general protection fault, ...: 0000 [#1] PREEMPT SMP", "Oops:
# 0002 [#1]", "invalid opcode: 0000 [#1]"), an oops inside an oops.  Not
# warnings or soft lockups, which a guest survives.
MIG_CRASH_RE='Kernel panic|Fixing recursive fault|: [0-9a-f]{4} \[#[0-9]+\]'

_mig_ticks() { serial "$1" | grep -c '^TICK '; }
# the host whose keel disk the guest in QEMU NAME writes to
_mig_host() { case $1 in dst) echo b ;; *) echo a ;; esac; }

mig_guest_crashed() {
	local n st found=1 t0
	# a guest that stopped ticking while QEMU runs it froze (QEMU TCG's
	# migration leaves some guests spinning without a word): watch 10 s.
	# Only a QEMU whose VM runs: a migration's source stays "postmigrate"
	# and a destination "inmigrate" until it arrives, neither ticking.
	declare -A ticks=()
	for n in src dst back; do
		[ -e "$KEEL_TMP/$n.serial" ] && [ -n "${QPID[$n]:-}" ] || continue
		[ "$(qmp "$n" query-status 2>/dev/null | jq -r .status 2>/dev/null)" = running ] &&
			ticks[$n]=$(_mig_ticks "$n")
	done
	[ ${#ticks[@]} -gt 0 ] && sleep 10
	for n in "${!ticks[@]}"; do
		_mig_reap "$n"
		t0=${ticks[$n]}
		case $(mig_qemu_state "$n") in running*) ;; *) continue ;; esac
		if [ "$(_mig_ticks "$n")" = "$t0" ]; then
			echo "  # guest crash evidence: the guest in QEMU $n froze: no heartbeat for 10 s while QEMU runs ($t0 TICK lines on its console, the last: $(serial "$n" | grep '^TICK ' | tail -n 1))"
			found=0
		fi
	done
	for n in src dst back; do
		[ -e "$KEEL_TMP/$n.serial" ] || continue
		# a write the guest saw fail that its block layer never saw fail
		# (keel's errors reach the guest as "I/O error, dev vda") and that
		# keel's disk server on that host did not fail either: the guest's
		# own program broke (its memory arrived corrupted)
		if serial "$n" | grep -q '^WRITE-FAILED' && ! serial "$n" | grep -q 'I/O error' &&
			[ "$(kc "$(_mig_host "$n")" vdisk filters "$D" --json 2>/dev/null |
				jq '[.filters[].counters.errors] | add' 2>/dev/null)" = 0 ]; then
			echo "  # guest crash evidence: $n's console: $(serial "$n" | grep '^WRITE-FAILED' | head -n 1), with no I/O error from the guest's kernel and none counted by keel's disk server on host $(_mig_host "$n")"
			found=0
		fi
		if serial "$n" | grep -qaE "$MIG_CRASH_RE"; then
			echo "  # guest crash evidence: $n's console: $(serial "$n" | grep -aE "$MIG_CRASH_RE" | head -n 2 | cut -c1-160 | tr '\n' ';')"
			found=0
		fi
		if grep -qa 'Triple fault' "$KEEL_TMP/$n.qemu-log" 2>/dev/null; then
			echo "  # guest crash evidence: QEMU $n's reset log: Triple fault (the guest's CPU reset itself; QEMU -no-reboot ended: $(mig_qemu_state "$n"))"
			found=0
		fi
		st=$(mig_qemu_state "$n")
		case $st in
		"killed by signal 9 "*) ;;	# only the test or the OOM killer sends that
		"killed by signal"*)
			echo "  # guest crash evidence: QEMU $n itself died: $st; its standard error: $(tail -n 3 "$KEEL_TMP/$n.log" 2>/dev/null | tr '\n' ';')"
			found=0 ;;
		esac
	done
	return $found
}

# the first failed check of the run, with a crashed guest beside it, ends the
# run: what fails after that is the crash's consequence, not keel's
_mig_crash_end() {
	[ "$1" = 0 ] || return 0
	local why
	_mig_reap_all
	why=$(mig_guest_crashed) || return 0
	echo "  # the guest crashed, not keel (QEMU TCG; docs/vdisk.md): the failed check above is its consequence"
	printf '%s\n' "$why"
	mig_report
	exit 1
}
mig_check() {
	local before=$_keel_failed
	check "$@" || { _mig_crash_end "$before"; return 1; }
}
mig_check_eq() {
	local before=$_keel_failed
	check_eq "$@" || { _mig_crash_end "$before"; return 1; }
}

# the guest in QEMU NAME acknowledged record N; give up early when that QEMU
# ended or its guest's kernel crashed (nothing more will come)
_mig_ack_seen() { serial "$1" | grep -qx "ACK $2"; }
mig_wait_ack() {
	local name=$1 n=$2 end=$((SECONDS + $3))
	until _mig_ack_seen "$name" "$n"; do
		if [ $SECONDS -ge $end ]; then
			echo "no ACK $n on $name's console after $3 s (last ACK $(last_ack "$name"))"
			return 1
		fi
		case $(mig_qemu_state "$name") in
		running*) ;;
		*) _mig_ack_seen "$name" "$n" && return 0
			echo "QEMU $name ended ($(mig_qemu_state "$name")) after ACK $(last_ack "$name")"
			return 1 ;;
		esac
		if serial "$name" | grep -qaE "$MIG_CRASH_RE"; then
			echo "the guest's kernel crashed on $name after ACK $(last_ack "$name")"
			return 1
		fi
		sleep 0.2
	done
}

# mig_report: why a run failed, for a CI log that is all one gets
mig_report() {
	local n h
	MIG_REPORTED=1
	_mig_reap_all
	echo "  # ---- report of the failed run (tests/host/vdisk_migrate_lib.sh mig_report)"
	for n in src dst back; do
		[ -e "$KEEL_TMP/$n.serial" ] || [ -n "${QPID[$n]:-}${QRC[$n]:-}" ] || continue
		echo "  # QEMU $n: $(mig_qemu_state "$n")"
		echo "  # QEMU $n's standard error ($KEEL_TMP/$n.log):"
		sed 's/^/    | /' "$KEEL_TMP/$n.log" 2>/dev/null | tail -n 40
		grep -a 'Triple fault' "$KEEL_TMP/$n.qemu-log" 2>/dev/null | sed 's/^/    | reset log: /'
		echo "  # guest console $n: $(serial "$n" | grep -c '^ACK ') ACK lines, last $(last_ack "$n"); $(_mig_ticks "$n") TICK lines, last $(serial "$n" | grep '^TICK ' | tail -n 1); the other lines and the last 3 ACKs:"
		serial "$n" | awk '/^TICK /{ next } /^ACK /{ a[++k] = $0; next } { print } END { for (i = k - 2; i <= k; i++) if (i > 0) print a[i] }' |
			tail -n 80 | cut -c1-200 | sed 's/^/    | /'
	done
	for h in a b; do
		echo "  # keeld $h (pid ${KEELD_PIDS[$h]:-?}, $(kill -0 "${KEELD_PIDS[$h]:-0}" 2>/dev/null && echo running || echo gone)): standard error, last 40 lines:"
		tail -n 40 "$KEEL_TMP/$h.err" 2>/dev/null | cut -c1-300 | sed 's/^/    | /'
		echo "  # keeld $h: vdisk events, last 30:"
		grep -ahF '"subsystem":"vdisk"' "$KEEL_TMP/$h.events" 2>/dev/null | tail -n 30 |
			cut -c1-400 | sed 's/^/    | /'
	done
	if [ -n "${KEEL_MIG_KEEP:-}" ]; then
		mkdir -p "$KEEL_MIG_KEEP" && cp -a "$KEEL_TMP/." "$KEEL_MIG_KEEP/" &&
			echo "  # the run's files copied to $KEEL_MIG_KEEP"
	fi
	echo "  # ---- end of report"
}

mig_done() { MIG_DONE=1; }
_mig_report_unless_done() {
	[ "${MIG_REPORTED:-0}" = 1 ] && return 0
	[ "${MIG_DONE:-0}" = 1 ] && [ "$_keel_failed" = 0 ] && return 0
	mig_report >&"$MIG_OUT" 2>&1
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
