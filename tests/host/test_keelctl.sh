#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keelctl against a running keeld: status in text and JSON, events with type
# filters and --follow, privileged commands refused to others, bad commands,
# and a second keeld refused while the first runs.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd jq setpriv

keeld_conf
keeld_start || die "keeld did not start"

check "status (text) names each subsystem" sh -c "'$KEELCTL' status | grep -q '^  blk '"
check "status --json is JSON with subsystems and features" \
	sh -c "'$KEELCTL' status --json | jq -e '([.subsystems[].name] | contains([\"exec\", \"blk\", \"kmod\"])) and (.features | length) == 9'"
# the host cannot load modules: no keel.ko, so no upcalls, and keeld says so
if [ ! -e /sys/module/keel ]; then
	check "status --json: upcall unavailable because keel.ko is not loaded" \
		sh -c "'$KEELCTL' status --json | jq -e '.features[] | select(.name == \"upcall\") | (.available | not) and (.reason | startswith(\"needs keel.ko: \"))'"
fi
check "events: keel.start in the backlog" sh -c "'$KEELCTL' events --type keel.start | grep -q '\"type\":\"keel.start\"'"
check "events --type filters out other types" \
	sh -c "! '$KEELCTL' events --type keel.start | grep -q keel.subsystem"

"$KEELCTL" events --follow --type keel.subsystem >"$KEEL_TMP/follow.out" &
follower=$!
sleep 0.5
"$KEELCTL" subsystem stop blk >/dev/null
"$KEELCTL" subsystem start blk >/dev/null
sleep 0.5
kill "$follower"
check "events --follow sees blk stopped then running" \
	sh -c "grep '\"name\":\"blk\"' '$KEEL_TMP/follow.out' | jq -r .state | tr '\n' ' ' | grep -q 'stopped running'"

out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$KEELCTL" status 2>&1)
check_eq "a user outside [control] group cannot connect: exit status" 1 "$?"
check "  ... and is told why" sh -c "echo \"\$1\" | grep -q 'Permission denied'" _ "$out"

"$KEELCTL" subsystem stop nope >/dev/null 2>"$KEEL_TMP/err"
check_eq "unknown subsystem: exit status" 1 "$?"
check "unknown subsystem: named" grep -q "no subsystem named 'nope'" "$KEEL_TMP/err"
"$KEELCTL" frobnicate 2>/dev/null
check_eq "unknown command: exit status" 2 "$?"

out=$("$KEELD" -q -c "$KEELD_CONF" 2>&1)
check_eq "a second keeld on the same socket: exit status" 1 "$?"
check "  ... says another keeld is running" sh -c "echo \"\$1\" | grep -q 'another keeld is running'" _ "$out"
check "  ... and left the first one's pins" test -d "$KEELD_PINS"
check "first keeld still answers" "$KEELCTL" status

keeld_stop
check_eq "keeld exits 0 on SIGTERM" 0 "$KEELD_STATUS"
