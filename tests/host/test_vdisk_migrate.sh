#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A disk that follows its VM in a QEMU live migration.  Two "hosts" as
# network namespaces with their own keeld ([vdisk] owner_addr set), one
# datastore directory (tests/host/vdisk_migrate_lib.sh); a tiny real guest
# (tests/host/tiny_guest.sh) on host A whose virtio disk is A's keel export
# over NBD writes numbered, checksummed records with O_DIRECT and fsync and
# prints each acknowledged one on its console; the destination QEMU on B is
# connected to B's standby export.  While the guest writes, it is migrated
# A→B with QEMU's pause-before-switchover: at the switchover (guest
# stopped, its disk I/O drained and flushed) the management step
# (tests/host/vdisk_migrate_qmp.py, as libvirt would) runs `keelctl vdisk
# handoff` on B, then lets QEMU finish.  The guest goes on writing on B with
# no failed write; every record it saw acknowledged, on A or on B, is on the
# disk read through B's keel export, in its block; B owns the disk and A
# does not; then the same back B→A.  QEMU's downtimes are printed, not
# asserted (tests/bench/vdisk_migrate_bench.sh measures them).
# QEMU 7.2's TCG sometimes kills the guest's kernel after a migration
# (7 of about 52 migrations on a loaded machine, with a raw file on both
# hosts as often as with keel: the guest's memory arrives corrupted, e.g. a
# general protection fault on a non-canonical slab pointer; docs/vdisk.md).
# A run whose first failed check meets such a crash (an oops or panic on a
# guest console, a triple fault in QEMU's reset log, a QEMU killed by a
# signal) ends there, printing the evidence; it is run again, up to 10 runs
# while the per-test time limit leaves room for one more.  Any other
# failure fails at once, with the report of mig_report (each QEMU's exit
# status and standard error, the consoles, both keelds' logs and events).
if [ -z "${KEEL_MIGRATE_TRY:-}" ]; then
	limit=${KEEL_TEST_TIMEOUT:-600}	# tests/integration/run's limit
	for try in 1 2 3 4 5 6 7 8 9 10; do
		t=$SECONDS
		out=$(KEEL_MIGRATE_TRY=$try bash "$0" "$@" 2>&1)
		rc=$?
		printf '%s\n' "$out"
		grep -q '^  # the guest crashed, not keel' <<<"$out" && [ "$rc" = 1 ] || exit "$rc"
		# another run needs as long as a whole one: 80 s at load 9, up to
		# 250 s at load 12 (a guest's boot under TCG alone took 108 s)
		# Every run ended by the guest's crash, each with its evidence:
		# what keel does was not checked, which is a skip, not a pass, and
		# not a failure of keel's (a keel failure without a crash fails
		# above, at once).  In make check on this project's 2-core machines
		# the guest crashed after 13 of 15 runs on 2026-12-07, standalone
		# after about 1 in 5 (docs/vdisk.md).
		if [ "$try" = 10 ] || [ $((limit - SECONDS)) -lt 250 ]; then
			why="the guest's kernel crashed after the migration in all $try runs (QEMU TCG; evidence above): keel's part was not checked"
			echo "  skipped: $why"
			[ -n "${KEEL_TEST_SKIP_FILE:-}" ] && echo "$why" >"$KEEL_TEST_SKIP_FILE"
			exit 77
		fi
		echo "  # run $try ended by the guest's crash after $((SECONDS - t)) s: running the test again"
	done
fi
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_cmd qemu-system-x86_64 qemu-img nbdkit jq nsenter ip python3 cpio modprobe readelf
. "$KEEL_TOP/tests/host/vdisk_migrate_lib.sh"

mig_setup
kc a vdisk create "$D" --size 16M --filters "stats integrity" >/dev/null || die "vdisk create"
kc a vdisk open "$D" >/dev/null || die "vdisk open on A"
kc b vdisk open "$D" --standby >/dev/null || die "vdisk open --standby on B"
SOCK_A=$(kc a vdisk info "$D" --json | jq -r .socket)
SOCK_B=$(kc b vdisk info "$D" --json | jq -r .socket)
check_eq "A owns the disk at start" owner "$(own a .server.state)"
check_eq "B waits on standby" standby "$(own b .server.state)"

t0=$SECONDS
mig_qemu src a "nbd:$SOCK_A" || die "the source QEMU did not start: $(cat "$KEEL_TMP/src.log")"
mig_qemu dst b "nbd:$SOCK_B" "unix:$KEEL_TMP/mig1.sock" ||
	die "the destination QEMU did not start: $(cat "$KEEL_TMP/dst.log")"
mig_check "the guest boots on A and its writes to the keel disk are acknowledged" \
	mig_wait_ack src 5 240
note "guest up and writing after $((SECONDS - t0)) s"

# A→B: the VM still has the disk open on A, so A releases it only for a
# migration; B takes it at the switchover
kc a vdisk migrating "$D" on >/dev/null || die "vdisk migrating on, on A"
out=$(migrate src "unix:$KEEL_TMP/mig1.sock" \
	--hook env KEEL_SOCKET="$KEEL_TMP/b.sock" "$KEEL_BUILD/keelctl" vdisk handoff "$D")
note "migration A→B: $out"
mig_check_eq "the migration A→B completed and the handoff at the switchover succeeded" true \
	"$(jq -r '.status == "completed" and .hook_rc == 0' <<<"$out" 2>&1)"
on_a=$(last_ack src)
note "the guest's last acknowledged record on A: $on_a"
mig_check "the guest goes on writing on B: 10 records acknowledged after the switchover" \
	mig_wait_ack dst $((${on_a:-0} + 10)) 60
mig_check_eq "the guest runs on B" '"running"' "$(qmp dst query-status 2>/dev/null | jq -c .status)"
mig_check_eq "B's keeld: this host owns the disk" owner "$(own b .server.state)"
mig_check_eq "... the record names host-b" host-b "$(own b .record.host)"
mig_check "A's keeld: A does not own it any more" \
	test "$(own a .server.state)" != owner
mig_check "B's keeld logged vdisk.acquired from host-a, how released" \
	ev b vdisk.acquired ".from == \"host-a\" and .how == \"released\" and .path == \"$D\""
mig_check "A's keeld logged vdisk.released to host-b (the source QEMU still connected)" \
	ev a vdisk.released ".to == \"host-b\" and .path == \"$D\""
mig_stop_qemu src

# B→A, while it writes
kc b vdisk migrating "$D" on >/dev/null || die "vdisk migrating on, on B"
mig_qemu back a "nbd:$SOCK_A" "unix:$KEEL_TMP/mig2.sock" || die "QEMU on A (incoming) did not start"
out=$(migrate dst "unix:$KEEL_TMP/mig2.sock" \
	--hook env KEEL_SOCKET="$KEEL_TMP/a.sock" "$KEEL_BUILD/keelctl" vdisk handoff "$D")
note "migration B→A: $out"
mig_check_eq "the migration B→A completed and the handoff succeeded" true \
	"$(jq -r '.status == "completed" and .hook_rc == 0' <<<"$out" 2>&1)"
on_b=$(last_ack src dst)
mig_check "the guest goes on writing on A again: 10 more records" \
	mig_wait_ack back $((${on_b:-0} + 10)) 60
mig_check_eq "A's keeld owns the disk again" owner "$(own a .server.state)"
mig_check_eq "... generation 3 (A, B, A)" 3 "$(own a .record.generation)"
mig_check "B's keeld logged vdisk.released to host-a" ev b vdisk.released ".to == \"host-a\""

qmp back stop >/dev/null
last=$(last_ack src dst back)
note "records acknowledged: up to $on_a on A, $on_b on B, $last in all"
mig_check "no write failed in the guest, no I/O error or kernel bug on its consoles" \
	sh -c "! cat '$KEEL_TMP/src.serial' '$KEEL_TMP/dst.serial' '$KEEL_TMP/back.serial' |
		grep -aE 'WRITE-FAILED|NO-VDA|I/O error|BUG:|Kernel panic|corruption|Call Trace'"
check "every acknowledged record (0..$last) is on the disk read through A's keel export, in order" \
	check_records "nbd+unix:///?socket=$SOCK_A" "$last"
for n in src dst back; do
	note "$n console: $(serial $n | grep -v '^ACK \|^TICK ' | tail -n 3 | cut -c1-120 | tr '\n' ';') acks $(serial $n | grep -c '^ACK ')"
done
mig_done
