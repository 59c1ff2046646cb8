#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec's guard against the other ways to get around keel's programs, on
# the Debian kernel (tests/integration/exec_guard_attach_helper.c):
#  - a process traced before it execs keeld's executable: the exec is
#    refused in enforce mode (the ptrace checks run at attach time only);
#  - an fentry program loaded on keel's exec_check (attach_prog_fd), and
#    BPF_LINK_CREATE with exec_check as target: refused in enforce mode;
#  - freplace of exec_check: the kernel refuses it (an LSM program's
#    argument is no context struct), the guard too where it could;
#  - BPF_PROG_DETACH of exec_check: LSM programs are attached through
#    links, which it cannot reach (for an LSM attach type it looks for a
#    cgroup attachment: EINVAL);
#  - BPF_LINK_DETACH and BPF_LINK_UPDATE of exec_check's link: refused in
#    enforce mode (removing or renaming the pins: test_exec_guard.sh).
# In audit mode the same attempts go through and are reported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd bpftool

T=$KEEL_TMP
P=$KEELD_PINS/exec
mkdir -p "$T/bin"
helper_src=$(built_helper exec_guard_attach_helper) || exit 1

# The helper's child asks to be traced (PTRACE_TRACEME), which exec judges
# by the parent's program since [exec] tracers: name the helper a tracer, so
# that what refuses the traced exec below is the guard, not the tracer rule.
keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db" \
	"tracers = $T/bin/helper"
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

# fails_with ERRNO-TEXT CMD...: the attempt fails, saying ERRNO-TEXT
fails_with() {
	local want=$1 out
	shift
	out=$("$@" 2>&1) && { echo "succeeded: $out"; return 1; }
	grep -qi "$want" <<<"$out" || { echo "$out"; return 1; }
	echo "$out"
}

tools="bash sh cat cp sleep grep jq seq sed head bpftool realpath"
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
prog=$(bpftool -j prog show | jq -r '[.[] | select(.name == "exec_check")][0].id')
check "keel's exec_check program has an id ($prog)" test "$prog" -gt 0
link=$(bpftool -j link show | jq -r "[.[] | select(.prog_id == $prog)][0].id")
check "and a link ($link)" test "$link" -gt 0

# --- audit: allowed and reported ---------------------------------------------
check "audit: keeld's executable runs under ptrace" "$helper" traced-exec "$KEELD" --version
check "audit: exec.guard_deny traced_exec, allowed" guard_event traced_exec audit false
check "audit: an fentry program on exec_check loads" "$helper" fentry "$prog"
check "audit: exec.guard_deny prog_attach, allowed" guard_event prog_attach audit false \
	".target == \"program $prog\""

# --- enforce -------------------------------------------------------------------
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce
check "enforce: keeld's executable started under ptrace is refused (EPERM)" \
	fails_with "not permitted" "$helper" traced-exec "$KEELD" --version
check "enforce: exec.guard_deny traced_exec names the tracer" guard_event traced_exec enforce true \
	'.target | test("traced by pid [0-9]+")'
check "enforce: keeld's executable still runs untraced (--version)" "$KEELD" --version
check "enforce: an fentry program on exec_check is refused (EPERM)" \
	fails_with "not permitted" "$helper" fentry "$prog"
check "enforce: exec.guard_deny prog_attach" guard_event prog_attach enforce true \
	".target == \"program $prog\""
check "enforce: BPF_LINK_CREATE with exec_check as target is refused (EPERM)" \
	fails_with "BPF_LINK_CREATE: Operation not permitted" "$helper" link-create "$prog"
check "enforce: BPF_LINK_DETACH of exec_check's link is refused (EPERM)" \
	fails_with "BPF_LINK_DETACH: Operation not permitted" "$helper" link-detach "$link"
check "enforce: BPF_LINK_UPDATE of exec_check's link to another program is refused (EPERM)" \
	fails_with "BPF_LINK_UPDATE: Operation not permitted" "$helper" link-update "$link"
check "enforce: freplace of exec_check fails (EINVAL from the kernel, or EPERM)" \
	fails_with "invalid argument\|not permitted" "$helper" freplace "$prog"
check "enforce: BPF_PROG_DETACH cannot reach exec_check (a cgroup detach: EINVAL or ENOENT)" \
	fails_with "BPF_PROG_DETACH: \(Invalid argument\|No such file\)" "$helper" prog-detach "$prog"
check "enforce: still enforcing (an untrusted copy is refused)" \
	fails_with "not permitted" "$T/bin/copied"
check_eq "enforce: the mode is still enforce" enforce "$("$KEELCTL" exec mode)"

check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
