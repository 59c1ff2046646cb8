#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keeld on the Debian kernel: every feature available, every subsystem
# running, exec events from BPF LSM, block counters, pins inspectable with
# bpftool, subsystem stop/start, and a clean shutdown that leaves nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
need_root
need_vm
need_cmd bpftool jq

if [ ! -e /sys/module/keel ]; then
	check "insmod keel.ko" insmod "$KEEL_KO"
	on_exit rmmod keel
fi

probe=$("$KEELD" --probe --json)
for f in btf bpf_lsm fentry fexit kprobe block_tracepoint tc keel_ko; do
	check_eq "keeld --probe: $f" true \
		"$(echo "$probe" | jq -r ".features[] | select(.name == \"$f\") | .available")"
done

# hooks one kernel has and another lacks: reported as the kernel's BTF has them
btf_funcs=$(bpftool btf dump file /sys/kernel/btf/vmlinux | grep "^\[[0-9]*\] FUNC '")
for h in vfs_set_acl vfs_remove_acl; do
	in_btf=false
	echo "$btf_funcs" | grep -q "FUNC '$h'" && in_btf=true
	check_eq "keeld --probe: hook $h present as in the kernel's BTF" "$in_btf" \
		"$(echo "$probe" | jq -r ".hooks[] | select(.name | endswith(\"/$h\")) | .present")"
done

keeld_conf
keeld_start || die "keeld did not start"

# upcalls: keel.ko's own verdict (upcall_unavailable, empty when they run)
upcall_why=$(cat /sys/module/keel/parameters/upcall_unavailable 2>/dev/null)
upcall=$("$KEELCTL" status --json | jq -c '.features[] | select(.name == "upcall")')
if [ -z "$upcall_why" ]; then
	check_eq "keelctl status: upcall available (keel.ko's upcall_unavailable is empty)" true \
		"$(echo "$upcall" | jq -r .available)"
else
	check_eq "keelctl status: upcall unavailable (keel.ko: $upcall_why)" false \
		"$(echo "$upcall" | jq -r .available)"
	check "keelctl status: the upcall reason is keel.ko's" \
		sh -c 'echo "$1" | jq -r .reason | grep -qF -- "$2"' sh "$upcall" "$upcall_why"
	check "keelctl status (text) shows upcall unavailable with keel.ko's reason" \
		sh -c "'$KEELCTL' status | grep -F 'upcall ' | grep -qF -- \"\$1\"" sh "$upcall_why"
fi

for s in exec blk kmod; do
	check_eq "subsystem $s state" running "$(subsys_state "$s")"
done
for s in exec blk kmod; do
	check "keeld's start-up report says $s runs" grep -q "subsystem $s: running" "$KEELD_ERR"
done

# exec: an exec through BPF LSM reaches the event stream
/bin/true
for _ in $(seq 1 50); do
	events_of exec.exec | grep -q '"filename":"/bin/true"' && break
	sleep 0.1
done
check "exec.exec event for /bin/true" sh -c "$KEELCTL events --type exec.exec | grep -q '\"filename\":\"/bin/true\"'"
check "the same event on keeld's stdout" grep -q '"filename":"/bin/true"' "$KEELD_EVENTS"
check "exec counters count it" \
	test "$("$KEELCTL" status --json | jq '.subsystems[] | select(.name == "exec") | .counters.execs')" -ge 1

# blk: reads on the scratch disk are counted
dd if="${KEEL_VM_SCRATCH:-/dev/vda}" of=/dev/null bs=4k count=64 iflag=direct 2>/dev/null
sleep 1.2
reads=$("$KEELCTL" status --json | jq '.subsystems[] | select(.name == "blk") | .counters.reads')
check "blk counted the 64 direct reads (saw $reads)" test "$reads" -ge 64
check "blk.stats events arrive" sh -c "$KEELCTL events --type blk.stats | grep -q blk.stats"

# bpftool sees the pinned objects with their BTF
check "bpftool map show lists exec_events" sh -c "bpftool map show | grep -q exec_events"
check "bpftool map show lists blk_counters" sh -c "bpftool map show | grep -q blk_counters"
check "pins: exec maps and link" test -e "$KEELD_PINS/exec/exec_events" -a -e "$KEELD_PINS/exec/exec_check_link"
check "bpftool map dump pinned shows BTF field names" \
	sh -c "bpftool map dump pinned $KEELD_PINS/blk/blk_counters | grep -q read_sectors"

# stop and start one subsystem
check "keelctl subsystem stop blk" "$KEELCTL" subsystem stop blk
check_eq "blk stopped" stopped "$(subsys_state blk)"
check "blk pins removed" test ! -e "$KEELD_PINS/blk"
check "keelctl subsystem start blk" "$KEELCTL" subsystem start blk
check_eq "blk running again" running "$(subsys_state blk)"

# a clean shutdown leaves nothing behind
keeld_stop
check_eq "keeld exits 0 on SIGTERM" 0 "$KEELD_STATUS"
check "pin directory removed" test ! -e "$KEELD_PINS"
check "control socket removed" test ! -e "$KEEL_SOCKET"
check "no keel program left attached" sh -c "! bpftool link show | grep -qE 'exec_check|blk_rq_issue'"
