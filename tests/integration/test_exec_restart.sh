#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec across keeld restarts in enforce mode, on the Debian kernel: what
# the kernel did while keeld was stopped (its programs stay pinned and
# enforcing) wins over the store's re-hash at the next start, and the
# kernel and the store agree afterwards:
#  - a trusted file rewritten with its own content while keeld was down
#    (kill -9, or a clean stop) was tainted by the kernel: it stays
#    refused, and the store says tainted, although a re-hash would match;
#  - a trusted file replaced by an approved installer while keeld was
#    down is trusted by the kernel: it keeps running, recorded with its
#    new content;
#  - a change the kernel did not see (keeld stopped in audit mode, which
#    removes the programs) is still caught by the stamp and re-hashed: the
#    same content runs again, unless its mode (setuid) or owner changed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd

T=$KEEL_TMP
DB=$T/trust.db
mkdir -p "$T/bin"

conf() {
	keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $DB" \
		"installers = $T/bin/inst-cp"
}
conf
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"
on_exit '"$KEELCTL" exec mode audit'

refused() {
	local out
	out=$("$@" 2>&1) && { echo "ran: $out"; return 1; }
	grep -qiE "not permitted|EPERM" <<<"$out" || { echo "$out"; return 1; }
}

# state PATH: the store's state of PATH (trust list --json)
state() {
	"$KEELCTL" trust list --json | jq -r --arg p "$1" '.[] | select(.path == $p) | .state'
}

# --- enroll what this test runs, then run an installed keeld ---------------
tools="bash sh cat cp chmod chown touch rm sleep grep jq seq sed head realpath"
exec_trust "$KEELCTL" $tools --libs-of "$KEELD"
check "keelctl install keeld, keelctl and an installer (a copy of cp)" sh -c \
	"$KEELCTL install $KEELD $T/bin/keeld && $KEELCTL install $KEELCTL $T/bin/keelctl &&
	 $KEELCTL install $(realpath "$(command -v cp)") $T/bin/inst-cp"
keeld_stop
KEELD=$T/bin/keeld
KEELCTL=$T/bin/keelctl
conf
keeld_start || die "the installed keeld did not start"

for f in rewritten touched upgraded; do "$KEELCTL" install /bin/true "$T/bin/$f" >/dev/null; done
"$KEELCTL" install /bin/echo "$T/echo.src" >/dev/null
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce
check "enforce: an installed file runs" "$T/bin/rewritten"

# --- kill -9: the kernel taints a file rewritten with its own content -------
check "keeld exits on kill -9" kill -KILL "$KEELD_PID"
wait "$KEELD_PID" 2>/dev/null
KEELD_PID=
cat /bin/true >"$T/bin/rewritten"
check "keeld down: the rewritten file is refused by the pinned programs" refused "$T/bin/rewritten"
# the approved installer replaces a trusted file's content
check "keeld down: the installer rewrites a trusted file" "$T/bin/inst-cp" "$T/echo.src" "$T/bin/upgraded"
check_eq "keeld down: the kernel trusts what the installer wrote" hello "$("$T/bin/upgraded" hello 2>&1)"
keeld_start || die "keeld did not restart after kill -9"
check_eq "restart: mode enforce" enforce "$("$KEELCTL" exec mode)"
check "restart: the file rewritten while keeld was down is still refused" refused "$T/bin/rewritten"
check_eq "restart: the store says tainted" tainted "$(state "$T/bin/rewritten")"
check "restart: trust verify reports it" sh -c "! $KEELCTL trust verify $T/bin/rewritten"
check "restart: the kernel's taint is reported" wait_event exec.taint "\"path\":\"$T/bin/rewritten\""
check_eq "restart: the installer's file still runs" hello "$("$T/bin/upgraded" hello 2>&1)"
check_eq "restart: the store has it trusted" trusted "$(state "$T/bin/upgraded")"
check "restart: recorded with the installer's content (trust verify)" \
	"$KEELCTL" trust verify "$T/bin/upgraded"
check "restart: exec.trust for it, reason installer" \
	wait_event exec.trust "\"path\":\"$T/bin/upgraded\".*\"reason\":\"installer\""
check "  naming the installer's process (pid, ppid, uid, comm)" sh -c \
	"$KEELCTL events --type exec.trust | jq -e -s 'map(select(.path == \"$T/bin/upgraded\" and
	 .comm == \"inst-cp\" and .uid == 0 and .pid > 0 and .installer_pid == .pid and
	 .ppid > 1 and .ppid != .pid)) | length > 0'"

# --- a clean stop in enforce mode: the same --------------------------------
keeld_stop
check_eq "keeld stopped cleanly" 0 "$KEELD_STATUS"
touch "$T/bin/touched"
keeld_start || die "keeld did not restart after a clean stop"
check "restart: a file touched while keeld was stopped is refused" refused "$T/bin/touched"
check_eq "restart: the store says tainted" tainted "$(state "$T/bin/touched")"
keeld_stop
keeld_start || die "keeld did not restart"
check "a second restart: still refused" refused "$T/bin/touched"
check_eq "a second restart: still tainted" tainted "$(state "$T/bin/touched")"

# --- audit mode: a stop removes the programs; the stamp catches the change --
for f in unseen setuid chowned; do "$KEELCTL" install /bin/true "$T/bin/$f" >/dev/null; done
check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check "audit + stop: the pins are gone" test ! -e "$KEELD_PINS/exec"
touch "$T/bin/unseen"
chmod 4755 "$T/bin/setuid"
chown 65534:65534 "$T/bin/chowned"
keeld_start || die "keeld did not restart in audit mode"
check_eq "setuid bit added while nothing watched, same content: tainted at the re-hash" \
	tainted "$(state "$T/bin/setuid")"
check "  the note says the mode changed" sh -c \
	"$KEELCTL trust list | grep ' $T/bin/setuid ' | grep -q 'mode is 104755, recorded 100755'"
check_eq "owner changed while nothing watched, same content: tainted at the re-hash" \
	tainted "$(state "$T/bin/chowned")"
check "  the note says the owner changed" sh -c \
	"$KEELCTL trust list | grep ' $T/bin/chowned ' | grep -q 'owner is 65534:65534, recorded 0:0'"
check "a change the kernel did not see: re-hashed" \
	wait_event exec.trust "\"path\":\"$T/bin/unseen\".*re-hashed"
check_eq "  and trusted in the store" trusted "$(state "$T/bin/unseen")"
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce
check "  and it runs in enforce" "$T/bin/unseen"
check "enforce: the setuid copy is refused" refused "$T/bin/setuid"
check "enforce: the chowned copy is refused" refused "$T/bin/chowned"
check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
