#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Reload: SIGHUP makes keeld read its configuration again.  The event
# record's keys apply at once (events go to the new file); a changed
# subsystem key is named as needing a restart and keeps its running value;
# a bad file (syntax, unknown key, a file keeld cannot open) is refused
# whole with keel.reload_refused naming file, line and key, and the running
# configuration stays.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd jq

a=$KEEL_TMP/a.jsonl
b=$KEEL_TMP/b.jsonl
keeld_conf "[events]" "journal = false" "file = $a"
keeld_start || die "keeld did not start"
check "events go to the first file" grep -q '"type":"keel.start"' "$a"

reload() {
	kill -HUP "$KEELD_PID"
}
last_of() {	# TYPE: the last backlog event of TYPE
	"$KEELCTL" events --type "$1" | tail -n 1
}

# 1. a good file: the file key applies, the blk key needs a restart
sed -i "s|^file = .*|file = $b|; s|^stats_interval_ms = .*|stats_interval_ms = 700|" "$KEELD_CONF"
reload
check "keel.reload after SIGHUP" wait_event keel.reload '"type":"keel.reload"'
ev=$(last_of keel.reload)
note "$ev"
check_eq "[events] file applied" true "$(echo "$ev" | jq '.applied | index("[events] file") != null')"
check_eq "[blk] stats_interval_ms needs a restart" true \
	"$(echo "$ev" | jq '.restart_needed | index("[blk] stats_interval_ms") != null')"
check "stderr says which key needs a restart" \
	grep -q "reload: \[blk\] stats_interval_ms changed: it takes effect when keeld restarts" "$KEELD_ERR"
check "the reload event went to the new file" grep -q '"type":"keel.reload"' "$b"
check "the old file has no event after the reload" sh -c "! grep -q '\"type\":\"keel.reload\"' '$a'"
check_eq "keelctl status shows the new file" "$b" \
	"$("$KEELCTL" status --json | jq -r .events.sinks.file.path)"
sleep 1
check_eq "blk keeps its running stats_interval_ms until a restart" 500 \
	"$(last_of blk.stats | jq .interval_ms)"

# 2. a bad key: refused whole, nothing applied (not even the good key above it)
cp "$KEELD_CONF" "$KEEL_TMP/good.conf"
sed -i "s|^file = .*|file = $a|" "$KEELD_CONF"
printf '[blk]\nno_such_key = 1\n' >>"$KEELD_CONF"
badline=$(wc -l <"$KEELD_CONF")
reload
check "keel.reload_refused for an unknown key" wait_event keel.reload_refused no_such_key
ev=$(last_of keel.reload_refused)
note "$ev"
check_eq "the error names file, line and key" \
	"$KEELD_CONF:$badline: [blk] no_such_key: unknown key 'no_such_key' in section [blk]" \
	"$(echo "$ev" | jq -r .error)"
check_eq "the events file stays the running one" "$b" \
	"$("$KEELCTL" status --json | jq -r .events.sinks.file.path)"
check "the refusal went to the running file" grep -q '"type":"keel.reload_refused"' "$b"
check "stderr: reload refused" grep -q "reload refused, the running configuration stays" "$KEELD_ERR"

# 3. a syntax error
cp "$KEEL_TMP/good.conf" "$KEELD_CONF"
echo "this is not ini" >>"$KEELD_CONF"
reload
check "keel.reload_refused for a syntax error" wait_event keel.reload_refused 'syntax error'

# 4. parses, but the new file cannot be opened: refused, the old sinks stay
cp "$KEEL_TMP/good.conf" "$KEELD_CONF"
sed -i "s|^file = .*|file = $KEEL_TMP/no/such/dir/x.jsonl|" "$KEELD_CONF"
reload
check "keel.reload_refused when the new events file cannot be opened" \
	wait_event keel.reload_refused 'cannot open for appending'
check_eq "the events file stays the running one" "$b" \
	"$("$KEELCTL" status --json | jq -r .events.sinks.file.path)"

check "keeld still runs after four reloads" kill -0 "$KEELD_PID"
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
