#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keelctl vdisk create --filter NAME:KEY=VALUE,...: the parameters land in
# IMAGE.keel's [filter.NAME] sections, the served chain uses them and
# `vdisk filters --json` shows them; a bad parameter is refused naming the
# filter and the key, and the directory is left exactly as it was (keeld
# checks before writing; what only the chain's open can check is undone).
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd qemu-io qemu-img nbdkit jq

DIR=$KEEL_TMP/disks
mkdir -p "$DIR" "$KEEL_TMP/other"
keeld_conf "[vdisk]" "dirs = $DIR" "run_dir = $KEEL_TMP/run" \
	"[exec]" "enabled = false" "[vmnet]" "enabled = false"
keeld_start || die "keeld did not start"
V="$KEELCTL vdisk"
D=$DIR/p0.vmdk
head -c 64 /dev/urandom >"$DIR/own.key"
chmod 600 "$DIR/own.key"

check "create with --filter stats, throttle:iops=500,bps=10M, integrity:block_size=64K, crypt:key_file=own.key" \
	$V create "$D" --size 16M --filter stats --filter throttle:iops=500,bps=10M \
	--filter integrity:block_size=64K --filter crypt:key_file=own.key
note "$(tr '\n' '|' <"$D.keel")"
check "... IMAGE.keel has the chain in that order" grep -qx "filters = stats throttle integrity crypt" "$D.keel"
check "... and [filter.throttle] iops = 500, bps = 10M" \
	bash -c "sed -n '/^\[filter.throttle\]/,/^\[/p' '$D.keel' | grep -qx 'iops = 500' &&
		 sed -n '/^\[filter.throttle\]/,/^\[/p' '$D.keel' | grep -qx 'bps = 10M'"
check "... and [filter.crypt] key_file = own.key, no key of its own made" \
	bash -c "grep -qx 'key_file = own.key' '$D.keel' && test ! -e '$D.key'"
check "... the integrity file has 64 KiB blocks (header: block size 65536)" \
	test "$(od -An -tu4 -j 12 -N 4 "$D.crc32c" | tr -d ' ')" = 65536 -o \
	"$(od -An -tu4 -j 8 -N 4 "$D.crc32c" | tr -d ' ')" = 65536

check "open" $V open "$D"
S=$($V info "$D" --json | jq -r .socket)
U="nbd+unix:///?socket=$S"
check "write and read back through the chain" \
	qemu-io -f raw -c "write -P 0x5a 64k 128k" -c flush -c "read -P 0x5a 64k 128k" "$U"
F=$($V filters "$D" --json)
note "params: $(jq -c '[.filters[] | {(.name): .params}] | add' <<<"$F")"
check_eq "filters --json: throttle's params" '{"iops":"500","bps":"10M"}' \
	"$(jq -c '.filters[] | select(.name == "throttle") | .params' <<<"$F")"
check_eq "filters --json: integrity's params" '{"block_size":"64K"}' \
	"$(jq -c '.filters[] | select(.name == "integrity") | .params' <<<"$F")"
check_eq "filters --json: crypt's params" '{"key_file":"own.key"}' \
	"$(jq -c '.filters[] | select(.name == "crypt") | .params' <<<"$F")"
check_eq "filters --json: stats has none" '{}' \
	"$(jq -c '.filters[] | select(.name == "stats") | .params' <<<"$F")"
check "the VMDK holds ciphertext made with own.key (no 0x5a run below crypt)" \
	bash -c "! qemu-img convert -f vmdk -O raw '$D' /dev/stdout 2>/dev/null | od -An -tx1 -j 65536 -N 16 | grep -q '5a 5a 5a 5a'"
check "close" $V close "$D"

check "create with --filter cache:connections=2,socket=rc.sock (a socket under [vdisk] dirs)" \
	$V create "$DIR/c0.vmdk" --size 1M --filter cache:connections=2,socket=rc.sock
check "... [filter.cache] has connections = 2 and socket = rc.sock" \
	bash -c "grep -qx 'connections = 2' '$DIR/c0.vmdk.keel' && grep -qx 'socket = rc.sock' '$DIR/c0.vmdk.keel'"

# refusals: each names the filter and key, and leaves the directory as it was
listing() { find "$DIR" -mindepth 1 -printf '%P %s %m %T@\n' | sort; }
before=$(listing)
refused() {	# WHAT EXPECTED-TEXT ARGS...
	local what=$1 want=$2 out rc
	shift 2
	out=$($V create "$DIR/bad.vmdk" --size 1M "$@" 2>&1)
	rc=$?
	check "$what: refused (exit $rc)" test "$rc" -ne 0
	check "... naming it: $want" grep -qF -- "$want" <<<"$out"
	note "$out"
	check "... the directory is unchanged (names, sizes, modes, times)" test "$before" = "$(listing)"
}
refused "an unknown key" "[filter.throttle] ipos: unknown parameter" --filter throttle:ipos=5
refused "a value that is not a number" "[filter.throttle] iops: \"fast\" is not a number" \
	--filter throttle:iops=fast
refused "a value out of range" "[filter.throttle] burst_ms: 0 is out of range 1..60000" \
	--filter throttle:burst_ms=0
refused "a comment in a value (it would cut the value in IMAGE.keel)" \
	"[filter.throttle] iops: the value has ';'" --filter "throttle:iops=5;000"
refused "a key file outside [vdisk] dirs" "[filter.crypt] key_file:" --filter crypt:key_file=/etc/hostname
refused "a key file that does not exist" "missing.key: No such file or directory" \
	--filter crypt:key_file=missing.key
refused "a trace outside [vdisk] dirs (relative, through ..)" "is not under [vdisk] dirs" \
	--filter stats:trace=../other/t.ktr
refused "a cache socket outside [vdisk] dirs (the root disk server would send its reads there)" \
	"[filter.cache] socket: /tmp/rc.sock is not under [vdisk] dirs" --filter cache:socket=/tmp/rc.sock
refused "a cache dirty directory outside [vdisk] dirs" "[filter.cache] dirty_dir:" \
	--filter cache:dirty_dir=/etc
refused "cache connections out of range" "[filter.cache] connections: 0 is out of range 1..16" \
	--filter cache:connections=0
refused "a cache key the filter does not read" "[filter.cache] size: unknown parameter" \
	--filter cache:size=1G
refused "handles that is not a boolean" "[filter.stats] handles: \"maybe\" is not true or false" \
	--filter stats:handles=maybe
# only the chain's open knows a block size must be a power of two: the disk
# is made, the open fails, and everything made is removed again
refused "a block size that is not a power of two (found by the chain's open)" \
	"block_size: 3072 is not a power of two" --filter integrity:block_size=3K
check "... nothing was written outside [vdisk] dirs" test ! -e "$KEEL_TMP/other/t.ktr"

out=$($V create "$DIR/bad.vmdk" --size 1M --filter throttle:iops 2>&1)
check_eq "--filter throttle:iops (no value) is a usage error" 2 "$?"
note "$out"
out=$($V create "$DIR/bad.vmdk" --size 1M --filters stats --filter crypt 2>&1)
check_eq "--filters and --filter together is a usage error" 2 "$?"
out=$($V open "$D" --filter stats 2>&1)
check_eq "--filter on open is a usage error" 2 "$?"
keeld_stop
