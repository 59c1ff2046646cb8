#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# VM downtime of a QEMU live migration whose disk follows the VM on keel
# (figures, never asserted).  The setup of tests/host/test_vdisk_migrate.sh
# (two keelds in two network namespaces, one datastore, a tiny real guest
# writing O_DIRECT+fsync records all along); N migrations A→B→A… of one
# guest in each of three ways, measured in the same run:
#
#  keel   the disk is a keel vdisk over NBD (A's export, B's standby
#         export); pause-before-switchover, `keelctl vdisk handoff` on the
#         destination at pre-switchover, then continue
#  pause  the peer with the same pause: the disk a raw file in the
#         datastore both QEMUs open, an empty command at pre-switchover
#  plain  the peer as QEMU does it alone: the raw file, no pause
#
# QEMU's own "downtime" (query-migrate: the guest stopped on the source to
# running on the destination) p50 and max per way, and keel's ratio to
# each peer; the handoff's time inside the pause; the load average.  After
# each way, every record the guest saw acknowledged is checked on the disk.
# MIG_BENCH_N migrations per way (default 5).  Needs root.
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_cmd qemu-system-x86_64 qemu-img nbdkit jq nsenter ip python3 cpio modprobe readelf
. "$KEEL_TOP/tests/host/vdisk_migrate_lib.sh"
N=${MIG_BENCH_N:-5}

pct() {	# pct P < numbers: the P-th percentile (nearest rank)
	sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i] }'
}
# acked NAME N: the guest on QEMU NAME printed ACK N or a later one
acked() { wait_until 90 sh -c "[ \"\$(tr -d '\r' <'$KEEL_TMP/$1.serial' | sed -n 's/^ACK //p' | tail -1)\" -ge $2 ]"; }

# run WAY: N migrations of a fresh guest; one JSON line each into $KEEL_TMP/WAY.json
run() {
	local way=$1 cur=a other q=${1}0 next i out drive_a drive_b last
	case $way in
	keel) drive_a=nbd:$SOCK_A drive_b=nbd:$SOCK_B ;;
	*) drive_a=file:$RAW drive_b=file:$RAW ;;
	esac
	declare -A drive=([a]=$drive_a [b]=$drive_b)
	: >"$KEEL_TMP/$way.json"
	mig_qemu "$q" a "${drive[a]}" || die "$way: QEMU on A did not start"
	acked "$q" 3 || die "$way: the guest did not write on A: $(serial "$q" | tail -3)"
	for i in $(seq "$N"); do
		other=$([ $cur = a ] && echo b || echo a)
		next=$way$i
		mig_qemu "$next" "$other" "${drive[$other]}" "unix:$KEEL_TMP/$next.sock" ||
			die "$way: QEMU on $other (incoming) did not start"
		case $way in
		keel)
			kc $cur vdisk migrating "$D" on >/dev/null || die "vdisk migrating on, on $cur"
			out=$(migrate "$q" "unix:$KEEL_TMP/$next.sock" --hook env \
				KEEL_SOCKET="$KEEL_TMP/$other.sock" "$KEEL_BUILD/keelctl" vdisk handoff "$D") ;;
		pause) out=$(migrate "$q" "unix:$KEEL_TMP/$next.sock" --hook true) ;;
		plain) out=$(migrate "$q" "unix:$KEEL_TMP/$next.sock") ;;
		esac
		jq -e '.status == "completed"' <<<"$out" >/dev/null || die "$way: migration $i: $out"
		echo "$out" >>"$KEEL_TMP/$way.json"
		last=$(last_ack "$q")
		echo "$way $i: $out"
		# the guest must be writing on the destination before the next one
		if ! acked "$next" $((${last:-0} + 3)); then
			echo "$way: the guest did not write within 90 s after migration $i (acknowledged $last before):" \
				"status $(qmp "$next" query-status 2>/dev/null | jq -c .status), QEMU: $(tail -3 "$KEEL_TMP/$next.log")," \
				"console: $(serial "$next" | tail -3 | tr '\n' ';')"
			mig_stop_qemu "$q"
			q=$next
			cur=$other
			break
		fi
		mig_stop_qemu "$q"
		q=$next
		cur=$other
	done
	qmp "$q" stop >/dev/null 2>&1
	last=$(for i in $(seq 0 "$N"); do serial "$way$i"; done | sed -n 's/^ACK \([0-9]*\)$/\1/p' | sort -n | tail -1)
	if [ $way = keel ]; then
		check_records "nbd+unix:///?socket=$([ $cur = a ] && echo "$SOCK_A" || echo "$SOCK_B")" "$last" >"$KEEL_TMP/$way.check"
	else
		check_records "$RAW" "$last" >"$KEEL_TMP/$way.check"
	fi || echo "$way: RECORDS LOST: $(cat "$KEEL_TMP/$way.check")"
	mig_stop_qemu "$q"
}

mig_setup
kc a vdisk create "$D" --size 16M --filters "stats integrity" >/dev/null || die "vdisk create"
kc a vdisk open "$D" >/dev/null || die "vdisk open on A"
kc b vdisk open "$D" --standby >/dev/null || die "vdisk open --standby on B"
SOCK_A=$(kc a vdisk info "$D" --json | jq -r .socket)
SOCK_B=$(kc b vdisk info "$D" --json | jq -r .socket)
RAW=$DS/peer.raw
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for way in ${MIG_BENCH_WAYS:-keel pause plain}; do
	[ $way = keel ] || { rm -f "$RAW"; truncate -s 16M "$RAW"; }
	run $way
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

fig() { jq -r ".$2" "$KEEL_TMP/$1.json" | pct "$3"; }
echo "VM downtime of a live migration (QEMU's query-migrate downtime, ms), $N migrations A→B→A… each, TCG guest writing O_DIRECT+fsync records"
printf '%-52s %6s %6s\n' "" p50 max
printf '%-52s %6s %6s\n' "plain: raw file both hosts open, no pause (peer)" "$(fig plain downtime_ms 50)" "$(fig plain downtime_ms 100)"
printf '%-52s %6s %6s\n' "pause: raw file, pause-before-switchover (peer)" "$(fig pause downtime_ms 50)" "$(fig pause downtime_ms 100)"
printf '%-52s %6s %6s\n' "keel: keel vdisk, handoff at the pause" "$(fig keel downtime_ms 50)" "$(fig keel downtime_ms 100)"
printf '%-52s %6s %6s\n' "keel: the handoff inside the pause (keelctl's wall time)" "$(fig keel hook_ms 50)" "$(fig keel hook_ms 100)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "keel/plain p50 $(ratio "$(fig keel downtime_ms 50)" "$(fig plain downtime_ms 50)"), keel/pause p50 $(ratio "$(fig keel downtime_ms 50)" "$(fig pause downtime_ms 50)")"
echo "total migration time p50: plain $(fig plain total_ms 50) ms, pause $(fig pause total_ms 50) ms, keel $(fig keel total_ms 50) ms"
for way in keel pause plain; do echo "$way: $(cat "$KEEL_TMP/$way.check")"; done
echo "load average before $load0, after $load1"
mig_done
