#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keeld on whatever kernel runs the tests (the host): every subsystem the
# kernel cannot run is reported with the kernel's reason and a fix, keeld
# keeps running the others, and shuts down cleanly.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd jq

keeld_conf
keeld_start || die "keeld did not start"
note "kernel $(uname -r)"
status=$("$KEELCTL" status --json)

for s in exec blk kmod; do
	state=$(echo "$status" | jq -r ".subsystems[] | select(.name == \"$s\") | .state")
	reason=$(echo "$status" | jq -r ".subsystems[] | select(.name == \"$s\") | .reason // empty")
	fix=$(echo "$status" | jq -r ".subsystems[] | select(.name == \"$s\") | .fix // empty")
	note "$s: $state ${reason:+($reason)}"
	case $state in
	running) check "$s runs" true ;;
	unavailable)
		check "$s unavailable: the reason carries the kernel's errno" \
			sh -c "echo '$reason' | grep -qE '\\(E[A-Z]+\\)'"
		check "$s unavailable: a fix is given" test -n "$fix"
		check "$s unavailable: stderr says so" grep -q "subsystem $s: unavailable" "$KEELD_ERR" ;;
	*) check "$s is running or unavailable (got $state)" false ;;
	esac
done

# the subsystem state follows the feature probe
lsm=$(echo "$status" | jq -r '.features[] | select(.name == "bpf_lsm") | .available')
exec_state=$(echo "$status" | jq -r '.subsystems[] | select(.name == "exec") | .state')
if [ "$lsm" = true ]; then
	check_eq "exec runs where BPF LSM loads" running "$exec_state"
else
	check_eq "exec unavailable where BPF LSM is refused" unavailable "$exec_state"
fi

sleep 2
check "keeld keeps running" kill -0 "$KEELD_PID"
check "keeld still answers" "$KEELCTL" status
keeld_stop
check_eq "keeld exits 0 on SIGTERM" 0 "$KEELD_STATUS"
check "pins removed" test ! -e "$KEELD_PINS"
check "socket removed" test ! -e "$KEEL_SOCKET"
