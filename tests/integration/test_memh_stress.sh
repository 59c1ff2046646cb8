#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keel.ko memory handles under races (tests/integration/memh/memh_stress.c):
#  - a creator with 1024 handles exits while the holder closes them all
#    (the last close must wait for the drop work still removing the
#    notifier), KEEL_MEMH_STRESS_ROUNDS rounds (default 10);
#  - two processes fault on each other's handles, each with a thread that
#    keeps queueing writers on its own mmap_lock and a 2 MiB section mapped
#    at a fresh place each time (a new page table per fault), in a memory
#    cgroup whose limit is below their two 16 MiB buffers, with swap, for
#    KEEL_MEMH_STRESS_MAPS section maps (default 600) or
#    KEEL_MEMH_STRESS_SECS seconds (default 60), whichever comes first: no
#    deadlock (a watchdog outside the cgroup prints the stuck tasks' kernel
#    stacks after 60 s without progress), every byte read is the peer's.
# The scenarios' progress is printed as it goes, so a slow run and a stuck
# one look different in a log.
# Then no WARNING/BUG/lockup in dmesg and no handle left.  KEEL_KO=path
# tests another build of the module (to show a failure without a fix).
. "$(dirname "$0")/lib.sh"
need_root
need_vm
need_cmd insmod rmmod modinfo dmesg mkswap swapon
need_keel_ko
rounds=${KEEL_MEMH_STRESS_ROUNDS:-10}
maps=${KEEL_MEMH_STRESS_MAPS:-600}
secs=${KEEL_MEMH_STRESS_SECS:-60}

# Run a scenario with its output shown as it comes (prefixed "# "), then
# check its exit status.
scenario() {
	local what=$1 rc
	shift
	"$@" 2>&1 | sed -u 's/^/  # /'
	rc=${PIPESTATUS[0]}
	check_eq "$what (exit status)" 0 "$rc"
}

t=$(built_helper memh_stress) || exit 1

unload_keel_ko
dmesg_start=$(dmesg | wc -l)
on_exit 'grep -q "^keel " /proc/modules && rmmod keel'
check "insmod $ko" insmod "$ko"
for _ in $(seq 50); do [ -c /dev/keel ] && break; sleep 0.1; done
# A task blocked this long is reported in dmesg (the check below sees it).
echo 20 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null

scenario "a creator with 1024 handles exits while the holder closes them all ($rounds rounds)" \
	"$t" exit-close "$rounds"

if [ "$maps" = 0 ]; then
	note "KEEL_MEMH_STRESS_MAPS=0: the cross-fault part is skipped"
else
[ -b "${KEEL_VM_SCRATCH:-}" ] || die "no scratch disk for swap"
mkswap "$KEEL_VM_SCRATCH" >/dev/null 2>&1 && swapon "$KEEL_VM_SCRATCH" ||
	die "swapon $KEEL_VM_SCRATCH"
on_exit "swapoff $KEEL_VM_SCRATCH"
cg=/sys/fs/cgroup/keel-memh-stress
echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
mkdir -p "$cg" || die "mkdir $cg"
on_exit "rmdir $cg"
echo $((20 * 1024 * 1024)) >"$cg/memory.max" || die "set $cg/memory.max"
note "memory cgroup limit 20 MiB for two 16 MiB buffers, swap on $KEEL_VM_SCRATCH"
scenario "two processes fault on each other's handles under memory pressure ($maps section maps or $secs s)" \
	"$t" cross-fault "$maps" "$secs" "$cg"
note "cgroup memory.events: $(tr '\n' ' ' <"$cg/memory.events")"
note "swap used at the end: $(awk '/SwapTotal/ { t = $2 } /SwapFree/ { f = $2 } END { print t - f }' /proc/meminfo) kB"
fi

check_eq "handles open at the end" 0 "$(cat /sys/module/keel/parameters/handles_open)"
check "rmmod keel" rmmod keel
dmesg | tail -n +$((dmesg_start + 1)) >"$KEEL_TMP/dmesg"
check "no WARNING, BUG, Oops, hung task or call trace in dmesg" \
	sh -c "! grep -E 'WARNING|BUG|Oops|Call Trace|general protection|refcount|blocked for more than' '$KEEL_TMP/dmesg'"
grep -v 'keel: \(un\)\?loaded' "$KEEL_TMP/dmesg" | sed 's/^/  # dmesg: /' | tail -30
