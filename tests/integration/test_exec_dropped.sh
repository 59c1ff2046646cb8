#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec's ring buffer full: every exec the kernel could not report is counted
# in the exec counters' "dropped" and announced by an exec.dropped event
# (docs/events.md), so that exec.exec events plus drops account for every
# exec.  keeld is stopped (SIGSTOP) while the execs run, so that nothing
# drains the ring buffer, made 16 KiB ([exec] ring_buffer_kib; about 50
# exec records) so that 200 execs overflow it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd

T=$KEEL_TMP
N=200

keeld_conf "[events]" "backlog = 4096" "[exec]" "trust_db = $T/trust.db" "ring_buffer_kib = 16"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"

# Trust what runs while keeld is stopped: an untrusted exec or mmap would add
# exec.allow_audit records, whose drops were always counted; only the exec
# records' drops are in question here.
prog=$T/true
cp /bin/true "$prog"
exec_trust "$prog" bash /bin/true || exit 1

execs0=$(subsys_counter exec execs)
dropped0=$(subsys_counter exec dropped)

kill -STOP "$KEELD_PID"
start=$SECONDS
for ((i = 0; i < N; i++)); do "$prog"; done
kill -CONT "$KEELD_PID"
note "$N execs in $((SECONDS - start)) s with keeld stopped"

wait_event exec.dropped total	# the drop timer runs once a second
execs=$(($(subsys_counter exec execs) - execs0))
dropped=$(($(subsys_counter exec dropped) - dropped0))
delivered=$(events_of exec.exec | jq -r .filename | grep -cxF "$prog")
total=$(events_of exec.dropped | tail -n 1 | jq .total)
note "$N execs of $prog: $execs counted, $delivered exec.exec events, $dropped dropped"

check "the kernel counted the $N execs once each ($execs)" test "$execs" -ge "$N" -a "$execs" -lt $((2 * N))
check "some exec records were lost (the ring buffer filled up)" test "$delivered" -lt "$N"
check_drops "exec.exec records" "$N" "$delivered" "$dropped" "$total"

keeld_stop
check_eq "keeld exits cleanly" 0 "$KEELD_STATUS"
