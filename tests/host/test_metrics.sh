#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The Prometheus endpoint: [metrics] listen serves GET /metrics with keel's
# counters (events by type, sinks, subsystem states, each running
# subsystem's counters, blk per disk while a loop device is read); no
# sample is given twice; values move between two scrapes; labels carry no
# pid or path; other URLs and methods are refused; a port keeld cannot bind
# stops it at start with a message naming the key.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd curl jq

port=$((20000 + $$ % 20000))
url=http://127.0.0.1:$port/metrics
keeld_conf "[events]" "journal = false" "file = $KEEL_TMP/events.jsonl" \
	"[metrics]" "listen = 127.0.0.1:$port"
keeld_start || die "keeld did not start"
check "stderr says where metrics are served" grep -q "metrics on http://127.0.0.1:$port/metrics" "$KEELD_ERR"

# a disk read while the page is scraped: its per-disk series, the last
# interval's included (null, so left out, in an interval without reads)
LOOP=
if [ -e /dev/loop-control ] && truncate -s 16M "$KEEL_TMP/disk.raw" &&
	LOOP=$(losetup -f --show "$KEEL_TMP/disk.raw"); then
	on_exit "losetup -d $LOOP"
	(while [ ! -e "$KEEL_TMP/stop" ]; do
		dd if="$LOOP" of=/dev/null bs=4k count=256 iflag=direct 2>/dev/null
	done) &
	reader=$!
	on_exit "touch '$KEEL_TMP/stop'; wait $reader"
	check "blk models $LOOP while it is read" wait_until 10 sh -c \
		"'$KEELCTL' blk stats --json | jq -e '.disks[] | select(.name == \"${LOOP#/dev/}\") | .interval.reads > 0' >/dev/null"
else
	note "no loop device: the per-disk series are checked only if the machine's own disks are read"
fi

m1=$KEEL_TMP/m1
check "GET /metrics answers 200" curl -sf -o "$m1" "$url"
if [ -n "$LOOP" ]; then
	touch "$KEEL_TMP/stop"
	wait "$reader"
fi
check "Content-Type is the Prometheus text format" \
	sh -c "curl -sI '$url' | grep -qi '^Content-Type: text/plain; version=0.0.4'"
val() {	# FILE METRIC-WITH-LABELS: its value
	grep -F "$2 " "$1" | grep -v '^#' | head -n 1 | awk '{print $2}'
}
check_eq "keel_build_info" 1 "$(val "$m1" 'keel_build_info{version="0.1.0"}')"
check_eq "keel.start counted once" 1 "$(val "$m1" 'keel_events_total{type="keel.start"}')"
check_eq "blk is running" 1 "$(val "$m1" 'keel_subsystem_state{subsystem="blk",state="running"}')"
check_eq "blk is not failed" 0 "$(val "$m1" 'keel_subsystem_state{subsystem="blk",state="failed"}')"
check "blk's kernel counters are there" grep -q '^keel_blk_reads ' "$m1"
check "blk's ring buffer drops and recursion misses are there" \
	sh -c "grep -q '^keel_blk_dropped ' '$m1' && grep -q '^keel_blk_missed ' '$m1'"
check "vmnet's whitelist size and provider failures are there" \
	sh -c "grep -q '^keel_vmnet_whitelisted ' '$m1' && grep -q '^keel_vmnet_provider_errors ' '$m1'"
check "memh counters are there" grep -q '^keel_memh_requests ' "$m1"
check "the file sink's counters are there" grep -q '^keel_sink_written_total{sink="file"} ' "$m1"
check "the file sink's drops by cause are there" \
	grep -q '^keel_sink_dropped_total{sink="file",cause="queue_full"} 0' "$m1"
if [ -n "$LOOP" ] || grep -q '^keel_blk_disk_' "$m1"; then
	check "per-disk hit ratio with disk and name labels" \
		grep -qE '^keel_blk_disk_hit_ratio\{disk="[^"]+",name="[^"]*"\} ' "$m1"
	check "the last interval's hit ratio of a disk being read" \
		grep -qE '^keel_blk_disk_interval_hit_ratio\{disk="[^"]+",name="[^"]*"\} ' "$m1"
fi
dups=$(grep -v '^#' "$m1" | sed 's/ [^ ]*$//' | sort | uniq -d)
check "no sample is given twice (a duplicate series is an error to Prometheus)" test -z "$dups" ||
	note "given twice: $dups"

check "no label names a pid, a path or an address" \
	sh -c "! grep -v '^#' '$m1' | grep -qE '(pid|path|file|ip|mac)=\"'"
note "$(grep -vc '^#' "$m1") samples, $(grep -v '^#' "$m1" | sed 's/[{ ].*//' | sort -u | wc -l) metric names"
check "every sample line is NAME[{LABELS}] VALUE" \
	sh -c "! grep -v '^#' '$m1' | grep -vqE '^[a-zA-Z_][a-zA-Z0-9_]*(\{[^}]*\})? -?[0-9.e+-]+$|NaN$'"

sleep 1.5
m2=$KEEL_TMP/m2
curl -sf -o "$m2" "$url"
b1=$(val "$m1" 'keel_events_total{type="blk.stats"}')
b2=$(val "$m2" 'keel_events_total{type="blk.stats"}')
w1=$(val "$m1" 'keel_sink_written_total{sink="file"}')
w2=$(val "$m2" 'keel_sink_written_total{sink="file"}')
note "blk.stats $b1 -> $b2, file sink written $w1 -> $w2"
check "events by type move between scrapes" test "${b2:-0}" -gt "${b1:-0}"
check "sink counters move between scrapes" test "${w2:-0}" -gt "${w1:-0}"

check_eq "another URL: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")"
check_eq "POST: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' -d x "$url")"

# a second keeld on the same port cannot start
conf2=$KEEL_TMP/keel2.conf
sed "s|^socket = .*|socket = $KEEL_TMP/keel2.sock|; s|^pin_dir = .*|pin_dir = $KEELD_PINS-2|" \
	"$KEELD_CONF" >"$conf2"
"$KEELD" -q -c "$conf2" 2>"$KEEL_TMP/keeld2.err"
rc=$?
rm -rf "$KEELD_PINS-2"
check_eq "a keeld whose metrics port is taken exits 1" 1 "$rc"
check "its message names the key and the error" \
	grep -q "metrics: \[metrics\] listen: 127.0.0.1:$port: Address already in use" "$KEEL_TMP/keeld2.err"
check "the first keeld still serves" curl -sf -o /dev/null "$url"

keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
check "the port is closed after keeld stopped" sh -c "! curl -sf -o /dev/null '$url'"
