#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Filter-level access to a served disk (chain: stats throttle crypt
# integrity): data written over NBD reads back as plaintext through a
# handle at the top and as ciphertext through a handle at integrity (below
# crypt); a handle at integrity passes integrity and vmdk only (per-filter
# counters); a refused handle says why; a second server for the same disk
# is refused.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/vdisk.sh"
need_cmd qemu-io qemu-img nbdkit jq
[ -x "$VDISK" ] || die "no $VDISK: run make"

D=$KEEL_TMP/disk.vmdk
S=$KEEL_TMP/nbd.sock
qemu-img create -q -f vmdk -o subformat=monolithicSparse "$D" 16M || die "qemu-img create"
head -c 64 /dev/urandom >"$KEEL_TMP/disk.key"
chmod 600 "$KEEL_TMP/disk.key"
cat >"$D.keel" <<EOT
[vdisk]
filters = stats throttle crypt integrity
[filter.crypt]
key_file = disk.key
[filter.stats]
handles = false
EOT
vdisk_serve "$D" "$S" || die "the disk server did not start"
U=$(nbd_uri "$S")

check "write plaintext over NBD" qemu-io -f raw -c "write -P 0x5a 1M 64k" -c flush "$U"
head -c 4096 /dev/zero | tr '\0' '\132' >"$KEEL_TMP/plain"
"$VDISK" read "$D" --at throttle --offset 1048576 --length 4096 >"$KEEL_TMP/top" 2>"$KEEL_TMP/err"
check "a handle at throttle reads plaintext" cmp "$KEEL_TMP/plain" "$KEEL_TMP/top"
"$VDISK" read "$D" --at integrity --offset 1048576 --length 4096 >"$KEEL_TMP/low"
check "a handle at integrity (below crypt) reads ciphertext" \
	bash -c "! cmp -s '$KEEL_TMP/plain' '$KEEL_TMP/low' && [ \$(wc -c <'$KEEL_TMP/low') = 4096 ]"
"$VDISK" read "$D" --at vmdk --offset 1048576 --length 4096 >"$KEEL_TMP/raw"
check "... the ciphertext the VMDK holds" cmp "$KEEL_TMP/low" "$KEEL_TMP/raw"

counters() { "$VDISK" info "$D" --json | jq -r "[.filters[] | \"\(.name)=\(.counters.reads)\"] | join(\" \")"; }
before=$(counters)
for i in 1 2 3 4 5; do
	"$VDISK" read "$D" --at integrity --offset $((i * 4096)) --length 4096 >/dev/null
done
after=$(counters)
note "reads per filter before: $before; after: $after"
get() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
for f in stats throttle crypt; do
	check_eq "5 reads at integrity did not pass $f" "$(get "$before" $f)" "$(get "$after" $f)"
done
for f in integrity vmdk; do
	check_eq "5 reads at integrity passed $f" $(($(get "$before" $f) + 5)) "$(get "$after" $f)"
done

out=$("$VDISK" read "$D" --at stats --offset 0 --length 512 2>&1 >/dev/null)
check "a handle at stats is refused, with the reason" grep -q "handles = false" <<<"$out"
note "$out"
out=$("$VDISK" read "$D" --at cache --offset 0 --length 512 2>&1 >/dev/null)
check "a handle at a filter not in the chain is refused" grep -q 'no filter "cache"' <<<"$out"

out=$(timeout 10 "$VDISK" serve "$D" --socket "$KEEL_TMP/other.sock" 2>&1)
check "a second disk server for the same disk is refused" \
	grep -q "another disk server has this disk open" <<<"$out"
vdisk_stop
