#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec, native code that comes from no file, in enforce mode: a trusted
# program not named in [exec] jits cannot make anonymous memory executable
# (mmap or mprotect with PROT_EXEC); one not named in [exec] tracers cannot
# open /proc/PID/mem for writing (its own either), PTRACE_ATTACH, be the
# parent of a PTRACE_TRACEME or process_vm_writev, while reading
# (/proc/self/mem read-only, process_vm_readv) still works.  With the
# default lists QEMU's TCG (anonymous RWX code buffer) and strace run; with
# lists naming the test's own programs those may, QEMU may not any more; in
# audit mode the same attempt is allowed and reported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd qemu-system-x86_64 strace

T=$KEEL_TMP
bin=$(built_helper exec_attack_helper) || exit 1
mkdir -p "$T/bin"
qemu=$(realpath "$(command -v qemu-system-x86_64)")
strace=$(realpath "$(command -v strace)")

keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db"
keeld_start -v || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)" ||
	{ grep -iE "error|fail|invalid|libbpf" "$KEELD_ERR" | tail -n 40; die "exec did not start"; }
on_exit '"$KEELCTL" exec mode audit'

tools="bash sh cat grep jq sed seq sleep timeout head tr"
# QEMU loads its TCG accelerator as a module (dlopen): trusted like the rest of the package
mods=()
for f in /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-*.so; do [ -f "$f" ] && mods+=("$f"); done
exec_trust "$KEELCTL" "$qemu" "$strace" $tools "${mods[@]}" || exit 1
check "keelctl install keelctl, true, the helper and two copies of it (jit, tracer)" sh -c \
	"$KEELCTL install $KEELCTL $T/bin/keelctl && $KEELCTL install /bin/true $T/bin/true &&
	 $KEELCTL install $bin $T/bin/helper && $KEELCTL install $bin $T/bin/jit &&
	 $KEELCTL install $bin $T/bin/tracer"
KEELCTL=$T/bin/keelctl
H=$T/bin/helper

# QEMU with TCG and no machine: allocates its code buffer (anonymous
# memory, mprotect PROT_EXEC) and quits at the monitor's "quit"
qemu_tcg() {
	echo quit | timeout 120 "$qemu" -M none -accel tcg -display none -nodefaults \
		-monitor stdio >"$T/qemu.out" 2>&1
}

note "the default [exec] jits and tracers"
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce || exit 1
check "a program not in jits: mmap PROT_EXEC of anonymous memory refused" \
	"$H" anon-exec mmap refused
check "  mprotect adding PROT_EXEC to anonymous memory refused" "$H" anon-exec mprotect refused
# killed CMD...: CMD was killed by SIGKILL
killed() { "$@"; [ $? -eq 137 ]; }
check "  personality(READ_IMPLIES_EXEC) (an executable heap): the caller is killed" \
	killed "$H" personality refused
check "  exec.deny op personality_read_implies_exec" \
	wait_event exec.deny '"op":"personality_read_implies_exec"'
check "  exec.deny op mmap_anon_exec reason not_a_jit" \
	wait_event exec.deny '"op":"mmap_anon_exec".*"reason":"not_a_jit"'
check "a program not in tracers: opening /proc/self/mem for writing refused" \
	"$H" proc-mem-write refused
check "  opening it read-only and reading works" "$H" proc-mem-read
check "  PTRACE_ATTACH to its child refused" "$H" ptrace-attach refused
check "  its child's PTRACE_TRACEME refused" "$H" traceme refused
check "  process_vm_writev into its child refused" "$H" vm-writev refused
check "  process_vm_readv from its child works" "$H" vm-readv
check "  exec.deny op ptrace_attach reason not_a_tracer" \
	wait_event exec.deny '"op":"ptrace_attach".*"reason":"not_a_tracer"'
check "qemu-system-x86_64 (a default jit) starts TCG and quits" qemu_tcg ||
	sed 's/^/    | /' "$T/qemu.out"
check "strace (a default tracer) traces a program" \
	"$strace" -f -o "$T/strace.out" "$T/bin/true"
check "  its trace shows the program's execve" grep -q execve "$T/strace.out"

note "jits = $T/bin/jit, tracers = $T/bin/tracer"
check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db" \
	"jits = $T/bin/jit" "tracers = $T/bin/tracer"
keeld_start || die "keeld did not start again"
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce || exit 1
check "the jit: mmap PROT_EXEC of anonymous memory, code runs" "$T/bin/jit" anon-exec mmap works
check "  mprotect PROT_EXEC, code runs" "$T/bin/jit" anon-exec mprotect works
check "  personality(READ_IMPLIES_EXEC), code runs from the heap" "$T/bin/jit" personality works
check "  PTRACE_ATTACH refused (not a tracer)" "$T/bin/jit" ptrace-attach refused
check "the tracer: PTRACE_ATTACH and PTRACE_POKEDATA work" "$T/bin/tracer" ptrace-attach works
check "  its child's PTRACE_TRACEME works" "$T/bin/tracer" traceme works
check "  /proc/self/mem written" "$T/bin/tracer" proc-mem-write works
check "  process_vm_writev works" "$T/bin/tracer" vm-writev works
check "  anonymous executable memory refused (not a jit)" "$T/bin/tracer" anon-exec mmap refused
check "the helper, in neither list, is still refused" "$H" anon-exec mprotect refused
if qemu_tcg; then
	check "qemu-system-x86_64, no longer a jit, cannot start TCG" false
else
	check "qemu-system-x86_64, no longer a jit, cannot start TCG" \
		grep -qi "translator\|not permitted\|cannot allocate\|failed" "$T/qemu.out"
	note "qemu said: $(grep -v '^QEMU' "$T/qemu.out" | head -n 2 | tr '\n' ' ')"
fi

check "keelctl exec mode audit" "$KEELCTL" exec mode audit
check "audit: the helper's anonymous executable memory is allowed" "$H" anon-exec mmap works
check "  and reported: exec.allow_audit op mmap_anon_exec" \
	wait_event exec.allow_audit '"op":"mmap_anon_exec"'
check "  the helper's PTRACE_ATTACH is allowed" "$H" ptrace-attach works
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
