#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec's self-protection and enforcement across restarts, on the Debian
# kernel: in enforce mode a root process other than keeld cannot write
# keel's maps (by pin, or through an fd taken earlier), remove, rename or
# chmod its pins, or ptrace keeld, while keeld itself keeps working; in
# audit mode the same attempts are allowed and reported.  A clean stop in
# enforce mode leaves the programs enforcing and guarded; the next keeld
# takes the pins over (and reports what happened meanwhile); audit + stop
# removes everything.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd bpftool

T=$KEEL_TMP
P=$KEELD_PINS/exec
mkdir -p "$T/bin"
helper_src=$(built_helper exec_guard_helper) || exit 1

keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"
check "the guard's programs are pinned next to exec's" test -e "$P/guard_bpf_link" -a -e "$P/exec_check_link"

# wait_event TYPE PATTERN
# guard_event WHAT MODE REFUSED [JQ-CONDITION]: such an exec.guard_deny arrived
guard_event() {
	local cond=".what == \"$1\" and .mode == \"$2\" and .refused == $3 and (${4:-true})"
	for _ in $(seq 1 50); do
		"$KEELCTL" events --type exec.guard_deny |
			jq -e -s "map(select($cond)) | length > 0" >/dev/null && return 0
		sleep 0.1
	done
	"$KEELCTL" events --type exec.guard_deny
	return 1
}

# refused CMD...: fails with EPERM (EACCES for /proc/PID/mem)
refused() {
	local out
	out=$("$@" 2>&1) && { echo "succeeded: $out"; return 1; }
	grep -qiE "not permitted|permission denied" <<<"$out" || { echo "$out"; return 1; }
}

# --- enroll what this test runs, then run a keeld installed like any program
tools="bash sh cat cp chmod mv rm rmdir ln sleep grep jq seq sed head mkdir stat bpftool realpath"
exec_trust "$KEELCTL" $tools --libs-of "$KEELD"
check "keelctl install keeld, keelctl and the helper" sh -c \
	"$KEELCTL install $KEELD $T/bin/keeld && $KEELCTL install $KEELCTL $T/bin/keelctl &&
	 $KEELCTL install $helper_src $T/bin/helper"
helper=$T/bin/helper
keeld_stop
check "audit + clean stop removes every pin" test ! -e "$P"
KEELD=$T/bin/keeld
KEELCTL=$T/bin/keelctl
keeld_start || die "the installed keeld did not start"
on_exit '"$KEELCTL" exec mode audit'

# --- audit: allowed and reported ------------------------------------------------
bpftool map delete pinned "$P/exec_ident" key 1 0 0 0 >"$T/audit.out" 2>&1
check "audit: bpftool may open exec_ident for writing (no EPERM)" \
	sh -c "! grep -q 'not permitted' $T/audit.out"
check "audit: exec.guard_deny map_open_write, mode audit, allowed" \
	guard_event map_open_write audit false '.target | test("exec_ident")'
check "audit: PTRACE_ATTACH to keeld works" "$helper" ptrace "$KEELD_PID"
check "audit: exec.guard_deny ptrace, allowed" guard_event ptrace audit false
check "audit: opening keeld's /proc/PID/mem for writing works" "$helper" mem "$KEELD_PID"

# an fd taken while in audit, used after the switch to enforce
mkfifo "$T/go"
"$helper" held-fd "$P/exec_trusted" <"$T/go" >"$T/held.out" 2>&1 &
held=$!
exec 8>"$T/go"
for _ in $(seq 1 50); do grep -q holding "$T/held.out" && break; sleep 0.1; done

# --- enforce --------------------------------------------------------------------
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce
check "enforce: bpftool map update of exec_state is refused" refused \
	bpftool map update pinned "$P/exec_state" key 0 0 0 0 value 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
check_eq "enforce: the mode is still enforce" enforce "$("$KEELCTL" exec mode)"
check "enforce: bpftool map delete in exec_trusted is refused" refused \
	bpftool map delete pinned "$P/exec_trusted" key hex 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
echo go >&8
exec 8>&-
wait "$held"
check "enforce: a delete through an fd taken in audit is refused" grep -q "Operation not permitted" "$T/held.out"
check "enforce: exec.guard_deny map_update for it" guard_event map_update enforce true
check "enforce: rm of the exec link pin is refused" refused rm -f "$P/exec_check_link"
check "enforce: mv of a map pin is refused" refused mv "$P/exec_trusted" "$P/moved"
check "enforce: chmod of the pin directory is refused" refused chmod 0777 "$P"
check "enforce: rmdir of the pin directory is refused" refused rmdir "$P"
check "enforce: the pins are all there" test -e "$P/exec_check_link" -a -e "$P/exec_trusted"
check "enforce: PTRACE_ATTACH to keeld is refused" refused "$helper" ptrace "$KEELD_PID"
# the kernel turns the refusal into EACCES for /proc/PID/mem
check "enforce: opening keeld's /proc/PID/mem for writing is refused" refused "$helper" mem "$KEELD_PID"
check "enforce: exec.guard_deny ptrace with pid, comm, target" guard_event ptrace enforce true \
	".target == \"keeld pid $KEELD_PID\" and .comm == \"helper\" and .pid > 0"
check "enforce: exec.guard_deny pin_unlink names the pin" guard_event pin_unlink enforce true \
	'.target == "pin exec_check_link" and .comm == "rm"'
check "enforce: reading keeld's status in /proc still works" cat "/proc/$KEELD_PID/status"
check "enforce: keeld itself still works (keelctl install + run)" sh -c \
	"$KEELCTL install /bin/true $T/bin/good && $T/bin/good"
cp /bin/true "$T/bin/copied"
check "enforce: an untrusted copy is refused" refused "$T/bin/copied"

# --- a clean stop in enforce mode keeps enforcing --------------------------------
keeld_stop
check_eq "keeld stopped cleanly" 0 "$KEELD_STATUS"
check "stopped: the pins stay" test -e "$P/exec_check_link" -a -e "$P/guard_bpf_link"
check "stopped: an untrusted copy is still refused" refused "$T/bin/copied"
check "stopped: a trusted program still runs" "$T/bin/good"
check "stopped: rm of the pins is still refused" refused rm -f "$P/exec_check_link"
check "stopped: bpftool map update is still refused" refused \
	bpftool map update pinned "$P/exec_state" key 0 0 0 0 value 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0

# --- the next keeld takes over ---------------------------------------------------
keeld_start || die "keeld did not restart over the pins"
check_eq "restart: exec runs" running "$(subsys_state exec)"
check_eq "restart: mode enforce" enforce "$("$KEELCTL" exec mode)"
check "restart: what was refused while keeld was stopped is reported" \
	wait_event exec.deny "$T/bin/copied"
check "restart: the guard's refusals meanwhile too" guard_event pin_unlink enforce true
check "restart: an untrusted copy is refused" refused "$T/bin/copied"
check "restart: keelctl install still works" sh -c \
	"$KEELCTL install /bin/true $T/bin/good2 && $T/bin/good2"
check "restart: the guard knows the new keeld (ptrace refused)" refused "$helper" ptrace "$KEELD_PID"

# --- audit + stop releases everything ----------------------------------------------
check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check "audit + stop: the pins are gone" test ! -e "$P"
check "audit + stop: nothing enforces (an untrusted copy runs)" "$T/bin/copied"
