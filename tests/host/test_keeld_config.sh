#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Bad configurations: one clear error naming file, line and key, exit status
# 2, nothing started (no socket, no pins).  A required subsystem that cannot
# run: exit 1, nothing left behind.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root

bad_config() {	# WHAT EXPECTED-MESSAGE INI-LINES...
	local what=$1 expect=$2 out rc
	shift 2
	keeld_conf "$@"
	out=$("$KEELD" -c "$KEELD_CONF" 2>&1 >/dev/null)
	rc=$?
	check_eq "$what: exit status" 2 "$rc"
	check "$what: message '$out' contains '$expect'" sh -c "echo \"\$1\" | grep -qF -- \"\$2\"" _ "$out" "$expect"
	check "$what: no socket created" test ! -e "$KEEL_SOCKET"
	check "$what: no pins created" test ! -e "$KEELD_PINS"
}

# the lines given to keeld_conf follow its own
keeld_conf
n=$(wc -l <"$KEELD_CONF")
bad_config "unknown key" "$KEELD_CONF:$((n + 1)): [blk] bogus: unknown key" "bogus = 1"
bad_config "out of range" \
	"$KEELD_CONF:$((n + 2)): [events] queue_bytes: 10 is out of range 4096..67108864" \
	"[events]" "queue_bytes = 10"
bad_config "malformed line" "$KEELD_CONF:$((n + 1)): syntax error" "this is not ini"
bad_config "bad boolean" "$KEELD_CONF:$((n + 2)): [exec] required: 'maybe' is not a boolean" \
	"[exec]" "required = maybe"
bad_config "bad file system type" \
	"[exec] unstable_fs: 'fuse/x' is not a file system type name" \
	"[exec]" "unstable_fs = 9p, fuse/x"
KEELD_ALLOW_FS= bad_config "file system type too long" \
	"[exec] allow_unstable_fs: 'averyveryverylongname' is longer than 15 characters" \
	"[exec]" "allow_unstable_fs = averyveryverylongname"
bad_config "unknown group" "[control] group: no group named" "[control]" "group = no-such-keel-group"

out=$("$KEELD" -c "$KEEL_TMP/missing.conf" 2>&1)
check_eq "missing file: exit status" 2 "$?"
check "missing file: named" sh -c "echo \"\$1\" | grep -qF 'missing.conf: cannot open: No such file'" _ "$out"

chmod 000 "$KEELD_CONF"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$KEELD" -c "$KEELD_CONF" 2>&1)
check_eq "unreadable file: exit status" 2 "$?"
check "unreadable file: permission denied named" sh -c "echo \"\$1\" | grep -qF 'cannot open: Permission denied'" _ "$out"
chmod 644 "$KEELD_CONF"

check "--print-config prints a file keeld accepts" \
	sh -c "'$KEELD' --print-config > '$KEEL_TMP/p.conf' && '$KEELD' -c '$KEEL_TMP/p.conf' --print-config > /dev/null"

check "deploy/keel.conf is the embedded defaults (regenerate: make config-example)" \
	bash -c "'$KEELD' --print-config | tail -n +2 | diff - <(tail -n +5 '$KEEL_TOP/deploy/keel.conf')"

missing=$("$KEELD" --print-config | awk '/^\[/ { sec = $0 } /^[a-z_]+ =/ { print sec " " $1 }' |
	while read -r sec key; do
		grep -qF "\`$sec $key\`" "$KEEL_TOP/docs/configuration.md" || echo "$sec $key"
	done)
check_eq "docs/configuration.md documents every key --print-config prints" "" "$missing"

# required but unavailable: keel.ko is not loaded here
if [ -e /sys/module/keel ]; then
	skip "keel.ko is loaded; the required-subsystem check needs it absent"
fi
# [kmod] module is loaded before the probe (kmod's before_probe); a module
# that cannot load is reported and ignored, and the probe finds keel.ko absent
keeld_conf "[kmod]" "required = true" "module = $KEEL_TMP/missing/keel.ko"
out=$("$KEELD" -q -c "$KEELD_CONF" 2>&1)
check_eq "required subsystem unavailable: exit status" 1 "$?"
check "[kmod] module that cannot load: named, and ignored" \
	sh -c "echo \"\$1\" | grep -q 'kmod: opening module $KEEL_TMP/missing/keel.ko (\[kmod\] module): No such file or directory, ignoring'" _ "$out"
check "required subsystem unavailable: reason given" \
	sh -c "echo \"\$1\" | grep -q 'subsystem kmod is required.*but is unavailable'" _ "$out"
check "required subsystem unavailable: socket removed" test ! -e "$KEEL_SOCKET"
check "required subsystem unavailable: pins removed" test ! -e "$KEELD_PINS"
