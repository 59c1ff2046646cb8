#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keeld's durable event record: every event reaches the systemd journal with
# KEEL_* fields, a readable MESSAGE and a priority by severity, and a
# JSON-lines file that rotates by size into a bounded number of gzip
# backups; when journald stops reading, the journal sink's losses are
# counted and said by keel.dropped (sink, cause, count), never silent.
# Runs its own journald in a private mount namespace, so the machine's
# journal (if any) is not touched.
if [ -z "${KEEL_PRIVATE_JOURNAL:-}" ]; then
	command -v unshare >/dev/null || { echo "  skipped: needs unshare"; exit 77; }
	[ "$(id -u)" -eq 0 ] || { echo "  skipped: needs root"; exit 77; }
	KEEL_PRIVATE_JOURNAL=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd jq journalctl zcat
journald=/lib/systemd/systemd-journald
[ -x $journald ] || skip "needs $journald (package systemd)"

# A journald of our own: /run/systemd/journal, /run/log and /var/log/journal
# are fresh tmpfs in this mount namespace only.
mkdir -p /run/systemd /run/log /var/log/journal
for d in /run/systemd /run/log /var/log/journal; do
	mount -t tmpfs keel-test "$d" || die "mount tmpfs on $d"
done
mkdir -p /run/systemd/journal
$journald >"$KEEL_TMP/journald.log" 2>&1 &
journald_pid=$!
on_exit "kill -CONT $journald_pid; kill $journald_pid"
for _ in $(seq 1 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
[ -S /run/systemd/journal/socket ] || die "journald did not start: $(cat "$KEEL_TMP/journald.log")"

j() { journalctl --no-pager -o json "$@"; }
file=$KEEL_TMP/events.jsonl
keeld_conf "[events]" "journal = true" "file = $file" "file_max_bytes = 8192" \
	"file_backups = 5" "sink_queue = 16"
sed -i 's/^stats_interval_ms = .*/stats_interval_ms = 100/' "$KEELD_CONF"
keeld_start || die "keeld did not start"
sleep 3

# --- the journal
start=$(j KEEL_TYPE=keel.start | tail -n 1)
check "keel.start is in the journal" test -n "$start"
check_eq "its KEEL_SUBSYSTEM" keel "$(echo "$start" | jq -r .KEEL_SUBSYSTEM)"
check_eq "its KEEL_PID is keeld's pid" "$KEELD_PID" "$(echo "$start" | jq -r .KEEL_PID)"
check_eq "its PRIORITY (notice)" 5 "$(echo "$start" | jq -r .PRIORITY)"
check_eq "its MESSAGE" "keel.start: version=$(echo "$start" | jq -r .KEEL_VERSION) pid=$KEELD_PID" \
	"$(echo "$start" | jq -r .MESSAGE)"
check_eq "SYSLOG_IDENTIFIER" keeld "$(echo "$start" | jq -r .SYSLOG_IDENTIFIER)"
check_eq "no CODE_FILE (libsystemd's location of the call is noise)" null \
	"$(echo "$start" | jq -r .CODE_FILE)"
stats=$(j KEEL_TYPE=blk.stats | tail -n 1)
if [ -n "$stats" ]; then
	check_eq "blk.stats has PRIORITY debug" 7 "$(echo "$stats" | jq -r .PRIORITY)"
	check "blk.stats's nested 'total' is JSON in KEEL_TOTAL" \
		jq -e .reads <<<"$(echo "$stats" | jq -r .KEEL_TOTAL)"
fi
exec_ev=$(j KEEL_TYPE=keel.subsystem KEEL_NAME=exec | head -n 1)
state=$(echo "$exec_ev" | jq -r .KEEL_STATE)
note "exec is $state here"
if [ "$state" = unavailable ]; then
	check_eq "an unavailable subsystem has PRIORITY notice" 5 "$(echo "$exec_ev" | jq -r .PRIORITY)"
	check "its KEEL_REASON carries the kernel's errno" \
		grep -qE '\(E[A-Z]+\)' <<<"$(echo "$exec_ev" | jq -r .KEEL_REASON)"
fi
n_journal=$(j SYSLOG_IDENTIFIER=keeld | wc -l)
note "$n_journal entries in the journal so far"

# --- a sink that cannot keep up: journald stopped
kill -STOP $journald_pid
note "journald stopped for 5 s (blk.stats every 100 ms, sink_queue = 16)"
sleep 5
kill -CONT $journald_pid
check "keel.dropped names the journal sink and the cause" \
	wait_event keel.dropped '"sink":"journal","cause":"queue_full"'
dropped=$("$KEELCTL" status --json | jq .events.sinks.journal.dropped_queue_full)
reported=$("$KEELCTL" events --type keel.dropped | jq -s \
	'[.[] | select(.sink == "journal") | .count] | add')
note "journal sink dropped $dropped events, keel.dropped reported $reported so far"
check "keelctl status counts the journal's drops" test "$dropped" -gt 0
check "keel.dropped counts add up to at most the counter" test "$reported" -le "$dropped"
check "the events file (or a backup) has the keel.dropped event too" \
	sh -c "{ cat '$file'; zcat '$file'.*.gz; } | grep -q '\"type\":\"keel.dropped\"'"
for _ in $(seq 1 30); do
	[ -n "$(j KEEL_TYPE=keel.dropped)" ] && break
	sleep 0.2
done
check "the journal itself records keel.dropped (PRIORITY warning)" \
	sh -c "journalctl -o json KEEL_TYPE=keel.dropped | head -n 1 | jq -e '.PRIORITY == \"4\" and .KEEL_SINK == \"journal\"'"

# --- the file and its rotation
check "the events file exists" test -s "$file"
check "each line of the events file is a JSON object" jq -e -c .type "$file"
check "the events file stays under file_max_bytes" test "$(stat -c %s "$file")" -le 8192
check "backup 1 exists" test -s "$file.1.gz"
check "backup 2 exists" test -s "$file.2.gz"
check "backup 5 exists" test -s "$file.5.gz"
check "no backup 6 (file_backups = 5)" test ! -e "$file.6.gz"
for b in 1 2 5; do
	check "backup $b is gzip of JSON lines" sh -c "zcat '$file.$b.gz' | jq -e -c .type >/dev/null"
	check "backup $b held at most file_max_bytes" \
		test "$(zcat "$file.$b.gz" | wc -c)" -le 8192
done
rot=$("$KEELCTL" status --json | jq .events.sinks.file.rotations)
note "file rotated $rot times"
check "keelctl status counts rotations (more than file_backups)" test "$rot" -ge 6

keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
check "keel.stop reached the journal before keeld exited" test -n "$(j KEEL_TYPE=keel.stop)"
check "keel.stop reached the file (or its newest backup)" \
	sh -c "{ cat '$file'; zcat '$file.1.gz'; } | grep -q '\"type\":\"keel.stop\"'"
