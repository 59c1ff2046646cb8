#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# tests/host/tiny_guest.sh, the small real guest other host tests boot in
# QEMU: on the default kernel of tests/vm/kernels (every kernel it lists
# with KEEL_TINY_GUEST_KERNELS=all: 6.12's boot passed in December 2026, and
# make check stays under 30 minutes with one), the guest boots under TCG,
# runs the init script it was given with an argument from QEMU's command
# line, reads and writes its virtio disk (a raw file on the host, checked
# here byte for byte both ways), and powers off by itself.
. "$(dirname "$0")/../integration/lib.sh"
. "$KEEL_TOP/tests/host/tiny_guest.sh"
need_cmd qemu-system-x86_64 cpio modprobe readelf

cat >"$KEEL_TMP/init.sh" <<'EOF'
# the host's marker, from the kernel's command line
sed -n 's/.* tiny_test=\([^ ]*\).*/ARG \1/p' /proc/cmdline
[ -b /dev/vda ] || { echo NO-VDA; exit 3; }
# what the host put in the first sector, then the guest's own in the second
echo "READ $(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 16)"
printf 'written by %s\n' "$(uname -r)" | dd of=/dev/vda bs=512 seek=1 conv=sync,fsync 2>/dev/null &&
	echo WROTE
EOF
if [ "${KEEL_TINY_GUEST_KERNELS:-}" = all ]; then
	kernels=$("$KEEL_TOP/tests/vm/kernels") || skip "no kernel to boot (tests/vm/kernels)"
else
	kernels=$("$KEEL_TOP/tests/vm/kernels" --default) || skip "no kernel to boot (tests/vm/kernels)"
fi
for kver in $kernels; do
	g=$KEEL_TMP/guest-$kver
	mkdir -p "$g"
	TINY_GUEST_KVER=$kver tiny_guest_build "$g" "$KEEL_TMP/init.sh" || skip "$TINY_GUEST_WHY"
	note "$kver: boots $(readlink "$g/vmlinuz")"
	printf 'from-host-%s' "$$" | dd of="$g/disk.raw" bs=1M seek=0 conv=notrunc 2>/dev/null
	truncate -s 8M "$g/disk.raw"
	tiny_guest_qemu_args "$g" "$g/serial" "tiny_test=m$$"
	t0=$SECONDS
	timeout 240 nice -n 5 qemu-system-x86_64 "${TINY_GUEST_ARGS[@]}" \
		-drive "file=$g/disk.raw,format=raw,if=virtio" >"$g/qemu.log" 2>&1
	rc=$?
	note "$kver: booted, ran and powered off in $((SECONDS - t0)) s"
	serial=$(tr -d '\r' <"$g/serial")
	check_eq "$kver: QEMU exited by itself (the guest's power-off)" 0 "$rc"
	check "$kver: the guest's kernel is $kver (TINY-GUEST-UP)" \
		grep -qx "TINY-GUEST-UP $kver" <<<"$serial"
	check "$kver: every virtio module loaded" \
		sh -c "! grep -q TINY-GUEST-INSMOD-FAILED" <<<"$serial"
	check "$kver: the init script saw QEMU's kernel argument" grep -qx "ARG m$$" <<<"$serial"
	check "$kver: it read the host's bytes from /dev/vda" grep -qx "READ from-host-$$" <<<"$serial"
	check "$kver: its write to /dev/vda succeeded" grep -qx WROTE <<<"$serial"
	check "$kver: the init script exited 0" grep -qx "TINY-GUEST-EXIT 0" <<<"$serial"
	check_eq "$kver: the guest's bytes are in the host's file" "written by $kver" \
		"$(dd if="$g/disk.raw" bs=512 skip=1 count=1 2>/dev/null | tr -d '\0' | head -n 1)"
	grep -q . <<<"$serial" || note "$kver: QEMU said: $(tail -3 "$g/qemu.log")"
done
