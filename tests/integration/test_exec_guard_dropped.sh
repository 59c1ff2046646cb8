#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The guard's ring buffer full: every attempt the kernel could not report is
# counted in the exec counters' "guard_dropped" and announced by an
# exec.guard_dropped event (docs/events.md), so that exec.guard_deny events
# plus drops account for every attempt.  keeld is stopped (SIGSTOP) while a
# process opens one of keel's pinned maps 1000 times (audit mode: allowed,
# each reported); the guard's ring buffer (64 KiB, 512 records) overflows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
need_root
need_vm
need_cmd jq gcc

T=$KEEL_TMP
N=1000
P=$KEELD_PINS/exec
check "compile exec_guard_helper.c" gcc -std=gnu11 -O1 -o "$T/helper" \
	"$KEEL_TOP/tests/integration/exec_guard_helper.c"

keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"
check "exec_trusted is pinned" test -e "$P/exec_trusted"

audited0=$(subsys_counter exec guard_audited)
dropped0=$(subsys_counter exec guard_dropped)

kill -STOP "$KEELD_PID"
out=$("$T/helper" open-read "$P/exec_trusted" $N 2>&1)
kill -CONT "$KEELD_PID"
check_eq "the helper opened the map $N times (audit mode)" "opened $N times" "$out"

wait_event exec.guard_dropped total	# the drop timer runs once a second
audited=$(($(subsys_counter exec guard_audited) - audited0))
dropped=$(($(subsys_counter exec guard_dropped) - dropped0))
delivered=$(events_of exec.guard_deny |
	jq -r 'select(.what == "map_open_read" and .comm == "helper") | .pid' | grep -c .)
total=$(events_of exec.guard_dropped | tail -n 1 | jq .total)
note "$N opens: $audited audited by the kernel, $delivered exec.guard_deny events, $dropped dropped"

check "the kernel counted every open ($audited >= $N)" test "$audited" -ge "$N"
check_drops "exec.guard_deny records" "$N" "$delivered" "$dropped" "$total"

keeld_stop
check_eq "keeld exits cleanly" 0 "$KEELD_STATUS"
