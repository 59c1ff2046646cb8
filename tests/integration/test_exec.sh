#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec on the Debian kernel: in enforce mode only files the approved
# installer trusted run (programs, scripts and interpreters, libraries,
# ld.so ./prog, mprotect, memfd, modules); every way to change a trusted
# file taints it with an event; audit mode allows and reports; trust
# survives keeld restarts and kill -9, and changes made while keeld was
# down are caught by the stamp and a re-hash; a randomized sequence never
# lets a changed or uninstalled file run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd

T=$KEEL_TMP
DB=$T/trust.db
helper_src=$(built_helper exec_helper) || exit 1

keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $DB"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"
check_eq "the embedded mode is audit" audit "$("$KEELCTL" exec mode)"
on_exit '"$KEELCTL" exec mode audit'

# refused CMD...: fails with EPERM (the shell says "Operation not permitted")
refused() {
	local out
	out=$("$@" 2>&1) && { echo "ran: $out"; return 1; }
	grep -qiE "not permitted|EPERM|error while loading" <<<"$out" || { echo "$out"; return 1; }
}

# --- enroll what this test itself runs, before any enforce -----------------
tools="bash sh cat cp chmod touch ln mv rm truncate sleep grep jq seq sed head id mktemp insmod rmmod env mount umount stat realpath mkdir"
# keeld restarts in enforce mode below: its libraries too
exec_trust "$KEELCTL" $tools --libs-of "$KEELD"
check "trust list shows bash" sh -c "$KEELCTL trust list | grep -q \"$(realpath "$(command -v bash)")\""

helper=$T/bin/exec_helper
mkdir -p "$T/bin" "$T/lib"
# private installed copies: a rebuild of build/ on the host during the test
# would (rightly) taint the originals
check "keelctl install keelctl and keeld" sh -c \
	"$KEELCTL install $KEELCTL $T/bin/keelctl && $KEELCTL install $KEELD $T/bin/keeld"
KEELCTL=$T/bin/keelctl
KEELD=$T/bin/keeld
# and run that keeld: only the executable that pinned the programs may take
# them over after the kill -9 below (docs/exec.md, "Self-protection")
keeld_stop
keeld_start || die "the installed keeld did not start"
check "keelctl install exec_helper" "$KEELCTL" install "$helper_src" "$helper"
check "exec.trust event for it" wait_event exec.trust "$helper"

# a trusted program, a trusted script, an untrusted copy
printf '#!/bin/sh\necho script-ran\n' >"$T/script.src"
check "keelctl install script" "$KEELCTL" install --mode 0755 "$T/script.src" "$T/bin/script"
check "keelctl install a copy of true" "$KEELCTL" install /bin/true "$T/bin/good"
cp /bin/true "$T/bin/copied"
cp "$(realpath /bin/bash)" "$T/bin/mybash"
printf '#!%s\necho x\n' "$T/bin/mybash" >"$T/bad-interp.src"
check "install a script whose interpreter is untrusted" "$KEELCTL" install --mode 0755 "$T/bad-interp.src" "$T/bin/bad-interp"
cp "$T/script.src" "$T/bin/copied-script"; chmod 0755 "$T/bin/copied-script"

# --- audit: everything runs, the untrusted ones are reported ----------------
check "audit: an untrusted copy runs" "$T/bin/copied"
check "audit: exec.allow_audit for it" wait_event exec.allow_audit "$T/bin/copied"

# --- enforce ---------------------------------------------------------------
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce
check_eq "mode is enforce" enforce "$("$KEELCTL" exec mode)"
check "enforce: a trusted program runs" "$T/bin/good"
check_eq "enforce: a trusted #! script with a trusted interpreter runs" script-ran "$("$T/bin/script")"
check "enforce: trusted tools keep working (jq, grep, sed)" sh -c 'echo "{\"a\":1}" | jq .a | grep 1 | sed s/1/2/ >/dev/null'
check "enforce: an untrusted copy is refused" refused "$T/bin/copied"
check "enforce: exec.deny with path, pid, reason" sh -c \
	"$KEELCTL events --type exec.deny | grep '\"path\":\"$T/bin/copied\"' | grep '\"reason\":\"untrusted\"' | grep -q '\"mode\":\"enforce\"'"
check "enforce: an untrusted script is refused" refused "$T/bin/copied-script"
check "enforce: a trusted script with an untrusted interpreter is refused" refused "$T/bin/bad-interp"
check "enforce: exec.deny names the interpreter" wait_event exec.deny "$T/bin/mybash"
check "enforce: ld.so ./untrusted is refused" refused /lib64/ld-linux-x86-64.so.2 "$T/bin/copied"
check "enforce: exec.deny op mmap for ld.so's mapping" wait_event exec.deny '"op":"mmap"'
cp "$(realpath /lib/x86_64-linux-gnu/libc.so.6)" "$T/lib/libc.so.6"
check "enforce: a trusted program with an untrusted libc (LD_LIBRARY_PATH) is refused" \
	refused env LD_LIBRARY_PATH="$T/lib" "$T/bin/good"
check "enforce: mmap PROT_EXEC of an untrusted file is refused" refused "$helper" mmap-exec "$T/bin/copied"
check "enforce: mmap PROT_EXEC of a trusted file works" "$helper" mmap-exec "$T/bin/good"
check "enforce: mprotect PROT_EXEC of an untrusted mapping is refused" refused "$helper" mprotect-exec "$T/bin/copied"
check "enforce: exec.deny op mprotect" wait_event exec.deny '"op":"mprotect"'
check "enforce: fexecve of a memfd is refused" refused "$helper" memfd-exec "$T/bin/good"
"$KEELCTL" install /bin/true "$T/bin/deleted" >/dev/null
exec 7<"$T/bin/deleted"
rm -f "$T/bin/deleted"
check "enforce: a trusted file unlinked (run through /proc/self/fd) is refused" refused "/proc/$$/fd/7"
exec 7<&-

# bind mount and /proc/self/fd paths reach the same trusted inode
mkdir -p "$T/bind"
mount --bind "$T/bin" "$T/bind" && on_exit umount "$T/bind"
check "enforce: trusted program through a bind mount runs" "$T/bind/good"

# --- every way to change a trusted file taints it ---------------------------
taint_case() {	# OP CMD...: install a fresh copy, change it with CMD, expect taint + refusal
	local op=$1 f=$T/bin/victim ino
	shift
	rm -f "$f" "$f.moved" "$f.link"
	"$KEELCTL" install /bin/true "$f" >/dev/null || { echo "install failed"; return 1; }
	"$f" || { echo "freshly installed copy does not run"; return 1; }
	ino=$(stat -c %i "$f")
	"$@" >/dev/null 2>&1
	for _ in $(seq 1 50); do
		"$KEELCTL" events --type exec.taint | grep "\"inode\":$ino," | grep -q "\"op\":\"$op\"" && break
		sleep 0.1
	done
	"$KEELCTL" events --type exec.taint | grep "\"inode\":$ino," | grep -q "\"op\":\"$op\"" ||
		{ echo "no exec.taint op $op for inode $ino"; return 1; }
	[ -e "$f" ] || f=$f.moved
	refused "$f"
}
check "taint: open for writing (>>) then refused" taint_case open_write sh -c ": >>$T/bin/victim"
for op in pwrite copy_file_range splice sendfile fallocate ftruncate mmap-shared open-only; do
	check "taint: $op (needs an open for writing)" taint_case open_write "$helper" write "$op" "$T/bin/victim"
done
check "taint: chmod" taint_case setattr chmod 0700 "$T/bin/victim"
check "taint: touch (opens for writing first)" taint_case open_write touch "$T/bin/victim"
check "taint: utimensat(2) by path" taint_case setattr "$helper" utimes "$T/bin/victim"
check "taint: truncate(2) by path" taint_case setattr "$helper" truncate "$T/bin/victim"
check "taint: setxattr" taint_case xattr "$helper" setxattr "$T/bin/victim"
check "taint: hard link" taint_case link ln "$T/bin/victim" "$T/bin/victim.link"
check "taint: rename" taint_case rename mv "$T/bin/victim" "$T/bin/victim.moved"
check "trust list shows the tainted record" sh -c "$KEELCTL trust list | grep '^tainted' | grep -q victim"
"$helper" hold-write "$T/bin/copied" 3 &
holder=$!
sleep 0.5
check "trust add refuses a file open for writing" sh -c "! $KEELCTL trust add $T/bin/copied"
wait "$holder"	# not a bare wait: keeld is a child of this shell too

# --- modules ----------------------------------------------------------------
ko=$KEEL_KO
if [ -e "$ko" ]; then
	cp "$ko" "$T/untrusted.ko"
	check "enforce: finit_module of an untrusted module is refused" refused insmod "$T/untrusted.ko"
	check "enforce: exec.deny op module" wait_event exec.deny '"op":"module"'
	check "enforce: init_module from memory is refused" refused "$helper" init-module "$ko"
	"$KEELCTL" install "$ko" "$T/trusted.ko" >/dev/null
	out=$(insmod "$T/trusted.ko" 2>&1)
	check "enforce: a trusted module passes the check (loads, or 'File exists')" \
		sh -c "[ -z '$out' ] || echo '$out' | grep -q 'File exists'"
	[ -z "$out" ] && rmmod keel
else
	note "no $KEEL_KO: module checks skipped"
fi

# --- randomized: installs, changes, removals, executions --------------------
RANDOM=${KEEL_SEED:-$$}
note "randomized sequence, seed $RANDOM"
declare -A trusted=()
bad=0
for i in $(seq 1 30); do
	f=$T/bin/r$((RANDOM % 4))
	case $((RANDOM % 6)) in
	0) "$KEELCTL" install /bin/true "$f" >/dev/null && trusted[$f]=1 ;;
	1) [ -e "$f" ] && { echo >>"$f"; trusted[$f]=0; } ;;
	2) [ -e "$f" ] && { chmod 0755 "$f"; trusted[$f]=0; } ;;
	3) rm -f "$f"; cp /bin/true "$f"; trusted[$f]=0 ;;
	*) if [ -e "$f" ]; then
		if "$f" >/dev/null 2>&1; then ran=1; else ran=0; fi
		if [ "$ran" = 1 ] && [ "${trusted[$f]:-0}" != 1 ]; then
			echo "  step $i: $f ran although changed or not installed"; bad=1
		fi
		if [ "$ran" = 0 ] && [ "${trusted[$f]:-0}" = 1 ]; then
			echo "  step $i: installed $f did not run"; bad=1
		fi
	fi ;;
	esac
done
check_eq "randomized: no changed or uninstalled file ran, every installed one did" 0 "$bad"

# --- persistence: restart, kill -9, changes while keeld is down -------------
"$KEELCTL" install /bin/true "$T/bin/keep" >/dev/null
"$KEELCTL" install /bin/true "$T/bin/touched" >/dev/null
"$KEELCTL" install /bin/true "$T/bin/changed" >/dev/null
check "keeld exits on kill -9" kill -KILL "$KEELD_PID"
wait "$KEELD_PID" 2>/dev/null
KEELD_PID=
# a crashed keeld's pins stay, guarded and enforcing: the next keeld takes them over
touch "$T/bin/touched"
echo >>"$T/bin/changed"
keeld_start || die "keeld did not restart"
check_eq "mode survives a restart" enforce "$("$KEELCTL" exec mode)"
check "after kill -9 and restart: an unchanged trusted file runs" "$T/bin/keep"
# the pinned programs saw both changes: their taints are final (re-hash: test_exec_restart)
check "touched while keeld was down, same content: tainted by the kernel, refused" refused "$T/bin/touched"
check "changed while keeld was down: refused" refused "$T/bin/changed"
check "exec.taint event queued by the kernel meanwhile" \
	wait_event exec.taint "\"path\":\"$T/bin/changed\""
check "trust verify reports the changed file" sh -c "! $KEELCTL trust verify $T/bin/changed"
check "trust verify passes for the intact one" "$KEELCTL" trust verify "$T/bin/keep"
check "trust remove forgets a file" "$KEELCTL" trust remove "$T/bin/keep"
check "enforce: a removed file is refused" refused "$T/bin/keep"

check "keelctl exec mode audit" "$KEELCTL" exec mode audit
check "audit again: the untrusted copy runs" "$T/bin/copied"
status=$("$KEELCTL" status --json | jq '.subsystems[] | select(.name == "exec") | .counters')
note "exec counters: $(echo "$status" | jq -c .)"
# this keeld was restarted above: its kernel counters start again from 0
# (the taints were checked one by one through their events)
check "counters: this keeld's checks and denials counted" \
	sh -c "echo '$status' | jq -e '.checks > 0 and .denied > 0' >/dev/null"
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
