# SPDX-License-Identifier: GPL-2.0-only
# Helpers for tests that run keeld: source after lib.sh.
#
#   keeld_conf [INI LINE...]   write $KEELD_CONF: a private socket and pin
#                              directory, blk.stats every 500 ms, files on
#                              9p and virtiofs trusted and run (the VM's
#                              root is the host's over 9p, or virtiofs
#                              under vng: [exec] allow_unstable_fs,
#                              from $KEELD_ALLOW_FS),
#                              plus lines
#   keeld_start [ARGS...]      start keeld -c $KEELD_CONF in the background,
#                              wait until keelctl status answers
#   keeld_stop                 SIGTERM, wait; keeld's exit status in
#                              $KEELD_STATUS (call it directly, not via check:
#                              only this shell can wait for keeld)
#   subsys_state NAME          the state keelctl status gives NAME
#   subsys_counter NAME KEY    counter KEY of subsystem NAME in keelctl status
#   feature_available NAME     true when keeld found the kernel feature
#   events_of TYPE             the backlog events of TYPE, one per line
#   wait_event TYPE PATTERN    up to 5 s for an event of TYPE whose line
#                              matches PATTERN (grep)
#
# keeld's stdout (events) is in $KEELD_EVENTS, its stderr in $KEELD_ERR.

KEELD=$KEEL_BUILD/keeld
KEELCTL=$KEEL_BUILD/keelctl
KEELD_CONF=$KEEL_TMP/keel.conf
KEELD_EVENTS=$KEEL_TMP/events.out
KEELD_ERR=$KEEL_TMP/keeld.err
KEELD_PINS=/sys/fs/bpf/keel-test-$$
# [exec] allow_unstable_fs of keeld_conf: the guest's root (empty: not set)
KEELD_ALLOW_FS=9p,virtiofs
KEELD_PID=
export KEEL_SOCKET=$KEEL_TMP/keel.sock

keeld_conf() {
	cat >"$KEELD_CONF" <<CONF
[control]
socket = $KEEL_SOCKET
[bpf]
pin_dir = $KEELD_PINS
${KEELD_ALLOW_FS:+[exec]
allow_unstable_fs = $KEELD_ALLOW_FS}
[blk]
stats_interval_ms = 500
CONF
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$KEELD_CONF"
	return 0
}

keeld_start() {
	# In the VM, its own process group (set -m: no exec of setsid, which a
	# test restarting keeld in enforce mode has not trusted): when the time
	# limit of tests/integration/run kills this test's group, keeld must
	# still answer _keeld_cleanup (and vm_reset kills it if nothing did).
	# On a host (no BPF LSM, nothing to enforce) it dies with the group.
	[ "${KEEL_VM:-}" = 1 ] && set -m
	"$KEELD" -c "$KEELD_CONF" "$@" >"$KEELD_EVENTS" 2>"$KEELD_ERR" &
	KEELD_PID=$!
	set +m
	for _ in $(seq 1 600); do
		"$KEELCTL" status >/dev/null 2>&1 && return 0
		if ! kill -0 "$KEELD_PID" 2>/dev/null; then
			echo "  keeld exited early:"
			sed 's/^/    | /' "$KEELD_ERR"
			KEELD_PID=
			return 1
		fi
		sleep 0.1
	done
	echo "  keeld did not answer within 60 s:"
	sed 's/^/    | /' "$KEELD_ERR"
	return 1
}

keeld_stop() {
	KEELD_STATUS=
	[ -n "$KEELD_PID" ] || return 0
	kill -TERM "$KEELD_PID" 2>/dev/null
	wait "$KEELD_PID"
	KEELD_STATUS=$?
	KEELD_PID=
}

# A test killed while exec enforces (its time limit ran out) would leave
# the pins enforcing with only its own files trusted, and nothing else could
# run in the VM after it, rm included: exec's guard lets nobody but keeld
# touch the pins in enforce mode.  So back to audit first (keelctl is
# trusted by every test that enforces: exec_enforced needs it too).
_keeld_cleanup() {
	if [ -n "$KEELD_PID" ]; then
		"$KEELCTL" exec mode audit >/dev/null 2>&1
		kill -KILL "$KEELD_PID" 2>/dev/null
	fi
	rm -rf "$KEELD_PINS"
}
on_exit _keeld_cleanup

subsys_state() {
	"$KEELCTL" status --json | jq -r ".subsystems[] | select(.name == \"$1\") | .state"
}

subsys_counter() {
	"$KEELCTL" status --json |
		jq ".subsystems[] | select(.name == \"$1\") | .counters.$2"
}

wait_event() {
	for _ in $(seq 1 50); do
		"$KEELCTL" events --type "$1" | grep -q -- "$2" && return 0
		sleep 0.1
	done
	return 1
}

feature_available() {
	[ "$("$KEELCTL" status --json |
		jq -r ".features[] | select(.name == \"$1\") | .available")" = true ]
}

events_of() {
	"$KEELCTL" events --type "$1"
}
