#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec where the kernel refuses BPF LSM (the development host): keeld says
# exec is unavailable and why, and the approved installer still works:
# keelctl install copies atomically, records the file's SHA-256 in the
# trust store as unverified, and says clearly that enforcement is
# unavailable.  Where BPF LSM works, the VM test (test_exec) covers it.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd jq sqlite3 sha256sum

DB=$KEEL_TMP/trust.db
keeld_conf "[exec]" "trust_db = $DB"
keeld_start || die "keeld did not start"
state=$(subsys_state exec)
[ "$state" = running ] && skip "exec runs on this kernel: see tests/integration/test_exec.sh"
check_eq "exec is unavailable" unavailable "$state"
check "the reason names BPF LSM" sh -c "$KEELCTL status --json | jq -r '.subsystems[] | select(.name == \"exec\") | .reason' | grep -qi lsm"
check "keelctl exec mode says exec is unavailable" sh -c "! $KEELCTL exec mode 2>&1 && $KEELCTL exec mode 2>&1 | grep -q 'subsystem exec is unavailable'"

head -c 300000 /dev/urandom >"$KEEL_TMP/src"
chmod 0644 "$KEEL_TMP/src"
mkdir -p "$KEEL_TMP/dest"
echo old >"$KEEL_TMP/dest/prog"
out=$("$KEELCTL" install --mode 0755 --db "$DB" "$KEEL_TMP/src" "$KEEL_TMP/dest/prog" 2>&1)
check "keelctl install succeeds" test $? -eq 0
check "it says enforcement is unavailable" grep -q "exec enforcement is unavailable" <<<"$out"
check "it says keeld will verify it" grep -q "will verify its SHA-256" <<<"$out"
check "DEST has SRC's content" cmp "$KEEL_TMP/src" "$KEEL_TMP/dest/prog"
check_eq "DEST has the requested mode" 755 "$(stat -c %a "$KEEL_TMP/dest/prog")"
check "no temporary file left in DEST's directory" test "$(ls -A "$KEEL_TMP/dest")" = prog
sha=$(sha256sum "$KEEL_TMP/src" | cut -d' ' -f1)
row=$(sqlite3 "$DB" "SELECT sha256, state, source FROM trust WHERE path = '$KEEL_TMP/dest/prog'")
check_eq "trust store: SHA-256, state unverified (2), source install" "$sha|2|install" "$row"

# a failed copy leaves DEST as it was
echo keep >"$KEEL_TMP/dest/keep"
check "install of a missing SRC fails" sh -c "! $KEELCTL install --db $DB $KEEL_TMP/nope $KEEL_TMP/dest/keep 2>/dev/null"
check_eq "DEST unchanged after a failed install" keep "$(cat "$KEEL_TMP/dest/keep")"
check "install of a directory fails with a message" sh -c "$KEELCTL install --db $DB $KEEL_TMP $KEEL_TMP/dest/x 2>&1 | grep -q 'not a regular file'"
check "a bad --mode is refused with a message" sh -c "! $KEELCTL install --mode 9z $KEEL_TMP/src $KEEL_TMP/dest/y 2>&1 && $KEELCTL install --mode 9z $KEEL_TMP/src $KEEL_TMP/dest/y 2>&1 | grep -q octal"

# run-installer and import-dpkg need the kernel side: refused before doing anything
out=$("$KEELCTL" run-installer -- touch "$KEEL_TMP/ran" 2>&1)
check "run-installer fails when exec is unavailable" test $? -ne 0
check "  saying why" grep -q "subsystem exec is unavailable" <<<"$out"
check "  and runs nothing" test ! -e "$KEEL_TMP/ran"
"$KEELCTL" run-installer >/dev/null 2>&1
check_eq "run-installer without CMD is a usage error" 2 "$?"
mkdir -p "$KEEL_TMP/adm/info"
out=$("$KEELCTL" trust import-dpkg --admindir "$KEEL_TMP/adm" 2>&1)
check "import-dpkg of an empty database fails" test $? -ne 0
check "  saying there is no package" grep -q "no package" <<<"$out"
# keeld is the trust store's one writer: keelctl asks it, never writes itself
out=$("$KEELCTL" install --db "$KEEL_TMP/other.db" "$KEEL_TMP/src" "$KEEL_TMP/dest/other" 2>&1)
check "install --db naming another store than keeld's is refused" test $? -ne 0
check "  saying which store keeld records in" grep -q "trust_db $DB, not" <<<"$out"
check "  and no other store is written" test ! -e "$KEEL_TMP/other.db"
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
out=$("$KEELCTL" install --db "$DB" "$KEEL_TMP/src" "$KEEL_TMP/dest/late" 2>&1)
check "install while keeld is stopped fails" test $? -ne 0
check "  saying DEST is installed but not recorded" grep -q "installed but is NOT recorded" <<<"$out"
check_eq "  and keelctl wrote nothing in the store" "" \
	"$(sqlite3 "$DB" "SELECT path FROM trust WHERE path = '$KEEL_TMP/dest/late'")"
