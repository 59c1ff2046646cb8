#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keel.ko upcalls with auditd running (docs/upcall.md, "Audit"): a rule on
# the filter's openat of a file and one on the test program's ioctls.  The
# filter's first system call must not find the submit's audit context (the
# kernel WARNs in __audit_syscall_entry and logs "unrecoverable error"),
# the filter's openat must be recorded as openat (257) with the file's
# path, and each submit as an ioctl (16) with the submit's own result.
# Also nested upcalls and an exit inside the filter with auditing on.
. "$(dirname "$0")/lib.sh"
need_root
need_vm
need_cmd insmod rmmod modinfo dmesg auditd auditctl
need_keel_ko

t=$(built_helper upcall_test) || exit 1

unload_keel_ko
dmesg_start=$(dmesg | wc -l)
on_exit 'grep -q "^keel " /proc/modules && rmmod keel'
check "insmod $ko" insmod "$ko"
for _ in $(seq 50); do [ -c /dev/keel ] && break; sleep 0.1; done
# keel.ko loads without upcalls on kernels whose internals differ (6.12:
# docs/upcall.md); test_upcall checks that case, here there is nothing to audit.
why=$(cat /sys/module/keel/parameters/upcall_unavailable 2>/dev/null)
if [ -n "$why" ]; then
	check "rmmod keel" rmmod keel
	skip "upcalls unavailable on $(uname -r): $why"
fi

# auditd with its configuration and log under the test's directory (the
# VM's root is read-only).
a=$KEEL_TMP/audit
mkdir -m 0700 "$a"
log=$a/audit.log
cat >"$a/auditd.conf" <<CONF
log_file = $log
log_format = RAW
log_group = root
flush = INCREMENTAL_ASYNC
freq = 20
num_logs = 1
max_log_file = 64
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
write_logs = yes
CONF
chmod 0600 "$a/auditd.conf"
auditd -n -c "$a" >"$KEEL_TMP/auditd.out" 2>&1 &
auditd_pid=$!
on_exit "kill $auditd_pid; auditctl -D; auditctl -e 0"
for _ in $(seq 100); do
	auditctl -s 2>/dev/null | grep -q "^pid $auditd_pid" && break
	sleep 0.1
done
check "auditd runs (pid $auditd_pid) and receives the kernel's records" \
	sh -c "auditctl -s | grep -q '^pid $auditd_pid'" ||
	sed 's/^/    | auditd: /' "$KEEL_TMP/auditd.out" | tail -5
echo "keel upcall audit test file $$" >"$KEEL_TMP/input"
auditctl -D >/dev/null
check "auditctl -e 1" auditctl -e 1
check "rule: openat of the file the filter reads" \
	auditctl -a always,exit -F arch=b64 -S openat -F path="$KEEL_TMP/input" -k keel_filter_open
check "rule: ioctl by the test program" \
	auditctl -a always,exit -F arch=b64 -S ioctl -F exe="$t" -k keel_submit

# Started after auditing was enabled, so the task has an audit context.
check "the filter opens and reads the file during two submits (7 and 4 bytes)" \
	"$t" syscalls "$KEEL_TMP/input"
check "nested upcalls to upcall_max_depth with auditing on" "$t" nested 8
check "_exit(3) inside the filter with auditing on: the process exits 3" "$t" exit
auditctl -D >/dev/null
sleep 1	# INCREMENTAL_ASYNC: let auditd write the last records
kill "$auditd_pid"
wait "$auditd_pid" 2>/dev/null

# Records of the filter's open: SYSCALL lines with the key.  The program
# itself opens the file once before submitting; the filter once a submit.
opens=$(grep -c 'type=SYSCALL.*key="keel_filter_open"' "$log")
opens_ok=$(grep 'type=SYSCALL.*key="keel_filter_open"' "$log" | grep -c ' syscall=257 ')
note "records keyed keel_filter_open: $opens, of them syscall=257 (openat): $opens_ok"
check "the filter's two opens and the program's one are recorded as openat" test "$opens_ok" -ge 3
check_eq "no record of the file's open carries another system call" "$opens" "$opens_ok"
subs=$(grep 'type=SYSCALL.*key="keel_submit"' "$log")
note "ioctl records: $(echo "$subs" | grep -c .), exits: $(echo "$subs" | grep -o ' exit=[-0-9]*' | sort | uniq -c | tr -s ' \n' ' ')"
check "the 7-byte submit is recorded as an ioctl returning 7" \
	sh -c "echo '$subs' | grep -q ' syscall=16 .* exit=7 '"
check "the 4-byte submit is recorded as an ioctl returning 4" \
	sh -c "echo '$subs' | grep -q ' syscall=16 .* exit=4 '"
check "no ioctl record took the filter's open (an ioctl with the file's PATH)" \
	sh -c "! grep -A3 'type=SYSCALL.* syscall=16 .*key=\"keel_submit\"' '$log' | grep -q 'type=PATH.*name=\"$KEEL_TMP/input\"'"

p=/sys/module/keel/parameters
check_eq "upcalls in progress after everything" 0 "$(cat $p/upcall_frames)"
check "rmmod keel" rmmod keel
dmesg | tail -n +$((dmesg_start + 1)) >"$KEEL_TMP/dmesg"
check "no WARNING, BUG or 'unrecoverable error in audit_syscall_entry' in dmesg" \
	sh -c "! grep -E 'WARNING|BUG|Oops|general protection|unrecoverable' '$KEEL_TMP/dmesg'"
grep -E 'WARNING|unrecoverable|keel' "$KEEL_TMP/dmesg" | sed 's/^/  # dmesg: /' | head -10
