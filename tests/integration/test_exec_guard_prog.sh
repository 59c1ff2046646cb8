#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec's guard against writes through a program, on the Debian kernel.
# The kernel checks a map fd's read-only mode for bpf() commands only: a
# program loaded with a read-only fd may write the map.  So in enforce
# mode nobody but keeld gets any fd of keel's maps, read-only ones too,
# and a program that uses one of keel's maps (with an fd taken in audit
# mode) gets no fd: its load fails.  keel's own programs stay visible
# (bpftool prog show); in audit mode everything is allowed and reported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd bpftool

T=$KEEL_TMP
P=$KEELD_PINS/exec
mkdir -p "$T/bin"
helper_src=$(built_helper exec_prog_helper) || exit 1

keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"

guard_event() {	# WHAT MODE REFUSED [JQ-CONDITION]
	local cond=".what == \"$1\" and .mode == \"$2\" and .refused == $3 and (${4:-true})"
	for _ in $(seq 1 50); do
		"$KEELCTL" events --type exec.guard_deny |
			jq -e -s "map(select($cond)) | length > 0" >/dev/null && return 0
		sleep 0.1
	done
	"$KEELCTL" events --type exec.guard_deny
	return 1
}

refused() {
	local out
	out=$("$@" 2>&1) && { echo "succeeded: $out"; return 1; }
	grep -qiE "not permitted" <<<"$out" || { echo "$out"; return 1; }
}

tools="bash sh cat cp mkfifo sleep grep jq seq sed head bpftool realpath"
exec_trust "$KEELCTL" $tools --libs-of "$KEELD"
check "keelctl install keeld, keelctl and the helper" sh -c \
	"$KEELCTL install $KEELD $T/bin/keeld && $KEELCTL install $KEELCTL $T/bin/keelctl &&
	 $KEELCTL install $helper_src $T/bin/helper"
helper=$T/bin/helper
keeld_stop
KEELD=$T/bin/keeld
KEELCTL=$T/bin/keelctl
keeld_start || die "the installed keeld did not start"
on_exit '"$KEELCTL" exec mode audit'
cp /bin/true "$T/bin/copied"

# --- audit: allowed and reported ---------------------------------------------
check "audit: a read-only fd of exec_state" "$helper" ro-open "$P/exec_state"
check "audit: exec.guard_deny map_open_read, allowed" \
	guard_event map_open_read audit false '.target | test("exec_state")'
check "audit: bpftool map dump of exec_stats works" bpftool map dump pinned "$P/exec_stats"

# a read-only fd taken in audit, used for a program after the switch
mkfifo "$T/go"
"$helper" held-write "$P/exec_state" <"$T/go" >"$T/held.out" 2>&1 &
held=$!
exec 8>"$T/go"
for _ in $(seq 1 50); do grep -q holding "$T/held.out" && break; sleep 0.1; done
check "audit: the helper holds a read-only fd of exec_state" grep -q holding "$T/held.out"

# --- enforce -----------------------------------------------------------------
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce
check "enforce: an untrusted copy is refused" refused "$T/bin/copied"
check "enforce: a read-only fd of exec_trusted is refused" refused "$helper" ro-open "$P/exec_trusted"
check "enforce: exec.guard_deny map_open_read, refused" \
	guard_event map_open_read enforce true '.target | test("exec_trusted")'
check "enforce: writing exec_state through a program and a read-only fd is refused" \
	refused "$helper" write "$P/exec_state"
echo go >&8
exec 8>&-
wait "$held"
check "enforce: a program loaded with the fd taken in audit is refused" \
	grep -q "BPF_PROG_LOAD: Operation not permitted" "$T/held.out" ||
	sed 's/^/    | /' "$T/held.out"
check "enforce: exec.guard_deny prog_uses_map names the map" \
	guard_event prog_uses_map enforce true '.target | test("exec_state")'
check "enforce: still enforcing (an untrusted copy is refused)" refused "$T/bin/copied"
check_eq "enforce: the mode is still enforce" enforce "$("$KEELCTL" exec mode)"
check "enforce: bpftool map dump of exec_trusted is refused" \
	refused bpftool map dump pinned "$P/exec_trusted"
check "enforce: bpftool prog show still lists keel's programs" sh -c \
	"bpftool prog show | grep -q exec_check"
check "enforce: keelctl trust list works" sh -c "$KEELCTL trust list | grep -q ' $T/bin/keeld\$'"
check "enforce: keeld itself still works (keelctl install + run)" sh -c \
	"$KEELCTL install /bin/true $T/bin/good && $T/bin/good"
own=/sys/fs/bpf/keel-test-own-$$
on_exit rm -f "$own"
check "enforce: another program writing a map of its own still loads and runs" sh -c \
	"bpftool map create $own type array key 4 value 16 entries 1 name keel_test_own &&
	 $helper write $own"

check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
