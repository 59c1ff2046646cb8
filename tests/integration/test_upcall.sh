#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keel.ko upcalls (docs/upcall.md): a submit ioctl runs a user-space I/O
# filter on the submitting thread, which makes system calls and nested
# submits, then the kernel completes the request with the verdict.  Also:
# the nesting limit, kill -9 / SIGSEGV / _exit inside a filter, the fault
# guard, stack slots, many threads, a long loop without memory growth, the
# handler-thread mode, no WARNING/BUG in dmesg, unload.  Scenarios are in
# tests/integration/upcall/upcall_test.c.
. "$(dirname "$0")/lib.sh"
need_root
need_vm
need_cmd insmod rmmod modinfo dmesg jq
need_keel_ko

t=$(built_helper upcall_test) || exit 1

unload_keel_ko
dmesg_start=$(dmesg | wc -l)
on_exit 'grep -q "^keel " /proc/modules && rmmod keel'
check "insmod keel.ko (its load-time checks of the syscall frame, stack layout and kernel symbols pass)" insmod "$ko"
for _ in $(seq 50); do [ -c /dev/keel ] && break; sleep 0.1; done
p=/sys/module/keel/parameters
why=$(cat $p/upcall_unavailable 2>/dev/null)
probe=$("$KEEL_BUILD/keeld" --probe --json | jq -c '.features[] | select(.name == "upcall")')
if [ -n "$why" ]; then
	check_eq "keeld --probe: upcall unavailable" false "$(echo "$probe" | jq -r .available)"
	check "keeld --probe: the upcall reason is keel.ko's ($why)" \
		sh -c 'echo "$1" | jq -r .reason | grep -qF -- "$2"' sh "$probe" "$why"
else
	check_eq "keeld --probe: upcall available" true "$(echo "$probe" | jq -r .available)"
fi
if [ -n "$why" ]; then
	# keel.ko loads without upcalls where the kernel's internals differ
	# from those the second-stack switch was written for (6.12: see docs/upcall.md)
	check "the kernel log says why upcalls are unavailable" \
		sh -c "dmesg | tail -n +$((dmesg_start + 1)) | grep -qF 'upcalls unavailable: '"
	check "registering a filter fails with EOPNOTSUPP" \
		sh -c "'$t' errors 2>&1 | grep -q 'Operation not supported'"
	check "rmmod keel" rmmod keel
	skip "upcalls unavailable on $kver: $why"
fi

check "errors: unknown filter ENOENT, bad request EINVAL, return without upcall EINVAL" "$t" errors
check "verdicts: allow, refuse (EACCES), rewrite, unknown verdict EPROTO, read, EBADF" "$t" basic
echo "keel upcall test file $$" >"$KEEL_TMP/input"
check "filter opens and reads a file and writes to a pipe during the upcall; caller's registers intact" \
	"$t" syscalls "$KEEL_TMP/input"
check "nested upcalls stop at upcall_max_depth=$(cat $p/upcall_max_depth) with ELOOP" \
	"$t" nested "$(cat $p/upcall_max_depth)"
echo 3 >$p/upcall_max_depth
check "nested upcalls stop at upcall_max_depth=3 with ELOOP" "$t" nested 3
echo 8 >$p/upcall_max_depth
check "kill -9 during an upcall: unwinds to the first stack, the request fails, the process dies of SIGKILL" "$t" kill
check "SIGSEGV inside the filter: unwinds to the first stack, the process dies of SIGSEGV" "$t" segv
check "_exit(3) inside the filter: unwinds to the first stack, the process exits 3" "$t" exit
check "kill -9 of a thread three upcalls deep: each level unwinds to its parked stack" timeout 60 "$t" kill-deep
check "exit_group(5) in one thread's filter while 3 others are 3 levels deep: all unwind, exit 5" \
	timeout 60 "$t" exit-group
check "fault guard: a SIGSEGV in the filter fails only that request (ECANCELED)" "$t" guard
check "a filter with one stack slot: a second thread gets EBUSY meanwhile" "$t" slots
check "16 threads x 2,000 upcalls at once, each request reaching its own thread's filter" \
	"$t" threads 16 2000
check "the filter's system calls run on a second kernel stack (one per level) while the submit stays parked" \
	"$t" stack
check "exec inside the filter fails with EBUSY; a child forked there cannot return (SIGABRT)" "$t" exec
kp=/sys/kernel/debug/kprobes/enabled
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
if [ -w "$kp" ]; then
	echo 0 >"$kp"
	check "with kprobes switched off (debugfs kprobes/enabled=0) upcalls are refused: EOPNOTSUPP" \
		"$t" refused
	echo 1 >"$kp"
else
	note "no debugfs kprobes/enabled: the kprobes-off refusal is not exercised"
fi
check "handler-thread mode: allow, refuse, rewrite" "$t" handler
check "handler-thread mode: kill -9 of a waiting submitter; the late answer gets ENOENT" \
	"$t" handler-kill
check "handler-thread mode: a handler in another process may narrow the request, not point it at another buffer (EPERM)" \
	"$t" handler-foreign

# One long loop, measuring slab and free memory around it.
n=${KEEL_UPCALL_LOOPS:-300000}
"$t" loop 20000 >/dev/null 2>&1	# warm up the slab caches
sync
echo 3 >/proc/sys/vm/drop_caches
slab0=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
free0=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
vm0=$(awk '/^VmallocUsed:/ { print $2 }' /proc/meminfo)
check "$n upcalls in a loop" bash -c "'$t' loop $n >'$KEEL_TMP/loop.out'"
note "$(cat "$KEEL_TMP/loop.out")"
"$t" loop 0 >/dev/null 2>&1
sync
echo 3 >/proc/sys/vm/drop_caches
slab1=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
free1=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
note "Slab: $slab0 kB -> $slab1 kB; MemAvailable: $free0 kB -> $free1 kB"
note "counters: upcalls $(cat $p/upcalls), returns $(cat $p/upcall_returns), aborts $(cat $p/upcall_aborts), discarded $(cat $p/upcall_discarded), handler requests $(cat $p/upcall_handler_requests)"
check_eq "upcalls in progress after everything" 0 "$(cat $p/upcall_frames)"
check_eq "second kernel stacks in use after everything" 0 "$(cat $p/upcall_stacks)"
vm1=$(awk '/^VmallocUsed:/ { print $2 }' /proc/meminfo)
note "VmallocUsed: $vm0 kB -> $vm1 kB"
check "VmallocUsed grew by less than 1 MiB over $n upcalls" test $((vm1 - vm0)) -lt 1024
check "slab grew by less than 1 MiB over $n upcalls" test $((slab1 - slab0)) -lt 1024
check "MemAvailable fell by less than 4 MiB over $n upcalls" test $((free0 - free1)) -lt 4096

check "no WARNING, BUG or Oops in dmesg" \
	bash -c "! dmesg | tail -n +$((dmesg_start + 1)) | grep -E 'WARNING|BUG|Oops|general protection'"
check "rmmod keel" rmmod keel
