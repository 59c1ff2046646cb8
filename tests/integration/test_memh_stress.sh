#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keel.ko memory handles under races (tests/integration/memh/memh_stress.c):
#  - a creator with 1024 handles exits while the holder closes them all
#    (the last close must wait for the drop work still removing the
#    notifier), KEEL_MEMH_STRESS_ROUNDS rounds (default 10);
#  - two processes fault on each other's handles, each with a thread that
#    keeps queueing writers on its own mmap_lock and a 2 MiB section mapped
#    at a fresh place each time (a new page table per fault), in a memory
#    cgroup whose limit is below their two 16 MiB buffers, with swap: no
#    deadlock (a watchdog prints the stuck tasks' kernel stacks), every
#    byte read is the peer's.
# Then no WARNING/BUG/lockup in dmesg and no handle left.  KEEL_KO=path
# tests another build of the module (to show a failure without a fix).
. "$(dirname "$0")/lib.sh"
need_root
need_vm
need_cmd insmod rmmod modinfo gcc dmesg mkswap swapon
[ "$(cat /proc/sys/kernel/modules_disabled 2>/dev/null)" = 1 ] &&
	skip "module loading is disabled on this kernel"

ko=${KEEL_KO:-$KEEL_BUILD/kmod/keel.ko}
kver=$(uname -r)
[ -f "$ko" ] || make -s -C "$KEEL_TOP" kmod KVER="$kver" >"$KEEL_TMP/make.log" 2>&1 ||
	{ cat "$KEEL_TMP/make.log"; die "make kmod"; }
[ "$(modinfo -F vermagic "$ko" | awk '{ print $1 }')" = "$kver" ] ||
	skip "keel.ko is not built for the running kernel $kver"
rounds=${KEEL_MEMH_STRESS_ROUNDS:-10}
maps=${KEEL_MEMH_STRESS_MAPS:-600}

t=$KEEL_BUILD/tests/integration/memh_stress
mkdir -p "${t%/*}"
check "compile memh_stress.c" gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$KEEL_TOP/include" \
	-pthread -o "$t" "$KEEL_TOP/tests/integration/memh/memh_stress.c"

grep -q '^keel ' /proc/modules && { rmmod keel || die "cannot unload the keel module already loaded"; }
dmesg_start=$(dmesg | wc -l)
on_exit 'grep -q "^keel " /proc/modules && rmmod keel'
check "insmod $ko" insmod "$ko"
for _ in $(seq 50); do [ -c /dev/keel ] && break; sleep 0.1; done
# A task blocked this long is reported in dmesg (the check below sees it).
echo 20 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null

check "a creator with 1024 handles exits while the holder closes them all ($rounds rounds)" \
	sh -c "'$t' exit-close $rounds >'$KEEL_TMP/ec.out'"
note "$(tail -n 1 "$KEEL_TMP/ec.out")"

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
check "two processes fault on each other's handles under memory pressure ($maps section maps)" \
	sh -c "echo \$\$ >$cg/cgroup.procs && exec $t cross-fault $maps >'$KEEL_TMP/cf.out'"
note "$(tail -n 1 "$KEEL_TMP/cf.out")"
note "cgroup memory.events: $(tr '\n' ' ' <"$cg/memory.events")"
note "swap used at the end: $(awk '/SwapTotal/ { t = $2 } /SwapFree/ { f = $2 } END { print t - f }' /proc/meminfo) kB"
fi

check_eq "handles open at the end" 0 "$(cat /sys/module/keel/parameters/handles_open)"
check "rmmod keel" rmmod keel
dmesg | tail -n +$((dmesg_start + 1)) >"$KEEL_TMP/dmesg"
check "no WARNING, BUG, Oops, hung task or call trace in dmesg" \
	sh -c "! grep -E 'WARNING|BUG|Oops|Call Trace|general protection|refcount|blocked for more than' '$KEEL_TMP/dmesg'"
grep -v 'keel: \(un\)\?loaded' "$KEEL_TMP/dmesg" | sed 's/^/  # dmesg: /' | tail -30
