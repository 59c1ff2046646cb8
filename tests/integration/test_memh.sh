#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keel.ko memory handles: every restriction, creator exit, revocation,
# expiry, fork on either side, buffers crossing sections, concurrent faults,
# swap-out, 10,000 cycles without leaks, module unload refused while a
# handle exists.  Scenarios are in tests/integration/memh/memh_test.c.
. "$(dirname "$0")/lib.sh"
need_root
need_vm
need_cmd insmod rmmod modinfo dmesg
need_keel_ko

t=$(built_helper memh_test) || exit 1

unload_keel_ko
dmesg_start=$(dmesg | wc -l)
on_exit 'grep -q "^keel " /proc/modules && rmmod keel'
check "insmod keel.ko" insmod "$ko"
for _ in $(seq 50); do [ -c /dev/keel ] && break; sleep 0.1; done

check "create refuses bad arguments (EINVAL, ESRCH), unknown ioctls ENOTTY" "$t" create-errors
check "read-write handle: holder reads the creator's memory and writes land in it" "$t" rw
check "read-only handle: PROT_WRITE and mprotect refused with EACCES, reads work" "$t" readonly
check "sections: outside the range ENXIO, bad offset/length/MAP_PRIVATE EINVAL" "$t" range
check "pid peer: others get EPERM, the peer maps, the creator gets ELOOP" "$t" pid
check "uid peer: other uids get EPERM, the uid maps" "$t" uid
check "expiry: mapped access gets SIGBUS, mmap ETIME" "$t" expire
check "revoke while mapped: SIGBUS, mmap EKEYREVOKED, non-creator revoke EPERM" "$t" revoke
check "creator exit while mapped: SIGBUS, mmap ESRCH" "$t" exit
check "creator forks: holder reads and writes the parent's memory" "$t" fork-creator
check "holder forks: the child does not inherit the mapping" "$t" fork-holder
check "MADV_DOFORK on a holder's mapping: EINVAL, the child still inherits nothing" "$t" dofork
check "a buffer crossing two section boundaries, written section by section" "$t" cross
check "8 threads fault one 2 MiB section while the creator drops pages" "$t" threads
check "max_handles_per_process: one more handle gets EDQUOT" "$t" limit

if command -v mkswap >/dev/null && [ -b "${KEEL_VM_SCRATCH:-}" ] &&
	mkswap "$KEEL_VM_SCRATCH" >/dev/null 2>&1 && swapon "$KEEL_VM_SCRATCH" 2>/dev/null; then
	on_exit "swapoff $KEEL_VM_SCRATCH"
	check "swap-out: holder reads swapped pages, its writes reach the creator" "$t" swap
	swapoff "$KEEL_VM_SCRATCH"
else
	note "no swap device: swap-out not tested"
fi

# Leak check: 10,000 create-map-touch-unmap-close cycles, each map in
# another process that received the handle over a socket.
check_eq "handles open before the cycles" 0 "$(cat /sys/module/keel/parameters/handles_open)"
"$t" cycles-mapped 200 >/dev/null 2>&1	# warm up the slab caches
sync
echo 3 >/proc/sys/vm/drop_caches
slab0=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
free0=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
inodes0=$(awk '$1 == "inode_cache" { print $2 }' /proc/slabinfo)
start=$(date +%s)
check "10,000 create-map-unmap-close cycles" "$t" cycles-mapped 10000
note "10,000 cycles took $(($(date +%s) - start)) s"
sync
echo 3 >/proc/sys/vm/drop_caches
slab1=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
free1=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
inodes1=$(awk '$1 == "inode_cache" { print $2 }' /proc/slabinfo)
note "Slab: $slab0 kB -> $slab1 kB; MemAvailable: $free0 kB -> $free1 kB; inode_cache active objects: $inodes0 -> $inodes1"
check_eq "handles open after the cycles" 0 "$(cat /sys/module/keel/parameters/handles_open)"
check "slab grew by less than 1 MiB (a leak of one 300-byte object per cycle is 3 MiB)" \
	test $((slab1 - slab0)) -lt 1024
check "inode_cache grew by fewer than 1,000 objects" test $((inodes1 - inodes0)) -lt 1000
check "MemAvailable fell by less than 4 MiB" test $((free0 - free1)) -lt 4096

# Unload: refused while a handle is open, clean after.
"$t" hold >"$KEEL_TMP/hold.out" 2>&1 &
holder=$!
on_exit "kill $holder"
for _ in $(seq 50); do grep -q holding "$KEEL_TMP/hold.out" && break; sleep 0.1; done
check_eq "handles open while a process holds one" 1 "$(cat /sys/module/keel/parameters/handles_open)"
check "rmmod refused while a handle exists" sh -c '! rmmod keel 2>/dev/null'
kill "$holder"
wait "$holder" 2>/dev/null
check "rmmod works once the handle is closed" rmmod keel
dmesg | tail -n +$((dmesg_start + 1)) >"$KEEL_TMP/dmesg"
check "no WARNING, BUG, Oops or call trace in dmesg" \
	sh -c "! grep -E 'WARNING|BUG|Oops|Call Trace|general protection|refcount' '$KEEL_TMP/dmesg'"
grep -v 'keel: \(un\)\?loaded' "$KEEL_TMP/dmesg" | sed 's/^/  # dmesg: /' | tail -20
