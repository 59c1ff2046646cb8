# SPDX-License-Identifier: GPL-2.0-only
# A tiny Linux guest for host tests that need a real guest OS in QEMU (a
# disk written by a guest kernel, a guest live-migrated): the machine's own
# Debian kernel and an initramfs made at test time from busybox-static and
# that kernel's virtio modules.  No disk image, no network install, no
# systemd: under TCG it reaches its init in seconds, not minutes.  Source it
# after tests/integration/lib.sh:
#
#	. "$KEEL_TOP/tests/host/tiny_guest.sh"
#	tiny_guest_build "$KEEL_TMP/guest" my_init.sh || skip "$TINY_GUEST_WHY"
#	tiny_guest_qemu_args "$KEEL_TMP/guest" "$KEEL_TMP/serial.log"
#	qemu-system-x86_64 "${TINY_GUEST_ARGS[@]}" \
#		-drive file=disk.raw,format=raw,if=virtio &
#
# tiny_guest_build OUTDIR INIT_SCRIPT [FILE...]
#	Writes OUTDIR/vmlinuz (the kernel QEMU boots) and
#	OUTDIR/initramfs.cpio.  The guest's /init mounts /dev, /proc, /sys and
#	a tmpfs on /tmp, loads virtio_pci, virtio_blk and virtio_net (with
#	their dependencies, for that exact kernel), puts busybox's applets in
#	/bin, prints "TINY-GUEST-UP <kernel version>" on the console
#	(ttyS0), runs INIT_SCRIPT with /bin/sh (copied to /guest/init; the
#	FILEs are copied beside it in /guest/), prints "TINY-GUEST-EXIT <rc>"
#	and powers the machine off.  A module that fails to load is printed
#	as "TINY-GUEST-INSMOD-FAILED <name>".  Kernel: $TINY_GUEST_KVER, else
#	tests/vm/kernels --default.  Returns 1 with the reason in
#	$TINY_GUEST_WHY (meant for skip) when there is no kernel, no
#	busybox-static or no modules for that kernel.
# tiny_guest_qemu_args OUTDIR [SERIAL_FILE [KERNEL_ARGS]]
#	Sets the array TINY_GUEST_ARGS to QEMU's arguments for that guest:
#	TCG, one vCPU, 256 MiB, no display, no default devices, -no-reboot
#	(a panic or the power-off ends QEMU), its console (ttyS0) to
#	SERIAL_FILE (default: stdout), KERNEL_ARGS appended to the kernel's
#	command line (the guest's init can read them in /proc/cmdline).  Add
#	disks, NICs, -incoming, -qmp after it.
#
# The kernel QEMU boots is the ELF vmlinux inside /boot/vmlinuz-VER, taken
# out once on the host (into $KEEL_BUILD/tiny-guest/) and started through
# its PVH entry point: under TCG, the bzImage's own decompression of an
# 8 MB xz kernel took longer than the whole boot after it (21 s to init
# against 7 s on a loaded 2-core machine).  A kernel without a PVH entry
# or a compression this cannot undo is booted as the bzImage.
#
# no_timer_check: the kernel's check that the 8254 timer reaches the
# IO-APIC counts ticks during a short delay; under TCG on a loaded host the
# emulated timer lags it.  Boots printed "MP-BIOS bug: 8254 timer not
# connected to IO-APIC", and one (load 15) ended at 0.06 s with a stack
# trace from start_kernel and never reached init.
#
# The kernel's messages are kept off the console (quiet) except for
# warnings and errors: a guest's own output stays readable and a kernel
# problem (an I/O error, a BUG) is still there to be found.

TINY_GUEST_MODULES="virtio_pci virtio_blk virtio_net"

_tiny_guest_kver() {
	if [ -n "${TINY_GUEST_KVER:-}" ]; then
		echo "$TINY_GUEST_KVER"
	else
		"$KEEL_TOP/tests/vm/kernels" --default 2>/dev/null
	fi
}

# _tiny_guest_modules KVER DIR: copy MODULES and what they depend on, in
# load order, into DIR (decompressed: busybox's insmod takes a plain .ko);
# prints the load order.  modprobe takes one module a call: any further
# name would be read as a module parameter.
_tiny_guest_modules() {
	local kver=$1 dir=$2 m f name order=
	for m in $TINY_GUEST_MODULES; do
		for f in $(modprobe -S "$kver" --show-depends "$m" 2>/dev/null |
			awk '$1 == "insmod" { print $2 }'); do
			name=${f##*/}
			name=${name%%.ko*}
			case " $order " in *" $name "*) continue ;; esac
			case $f in
			*.ko) cp "$f" "$dir/$name.ko" ;;
			*.ko.xz) xz -dc "$f" >"$dir/$name.ko" ;;
			*.ko.zst) zstd -qdc "$f" >"$dir/$name.ko" ;;
			*.ko.gz) gzip -dc "$f" >"$dir/$name.ko" ;;
			*) false ;;
			esac || return 1
			order="$order $name"
		done
		# built into the kernel: modprobe prints "builtin NAME", nothing to load
	done
	echo "$order"
}

# _tiny_guest_vmlinux KVER: the path of the kernel to boot; the ELF vmlinux
# when it can be taken out of the bzImage and has a PVH entry (Xen ELF note
# 18, XEN_ELFNOTE_PHYS32_ENTRY), else the bzImage
_tiny_guest_vmlinux() {
	local kver=$1 img=/boot/vmlinuz-$1 dir=$KEEL_BUILD/tiny-guest
	local out=$dir/vmlinux-$1 magic off tmp
	if [ -s "$out" ] && [ "$out" -nt "$img" ]; then
		echo "$out"
		return 0
	fi
	# where build/ cannot be written, boot the bzImage itself: it works,
	# only its self-decompression under TCG is slower
	mkdir -p "$dir" || { echo "$img"; return 0; }
	tmp=$(mktemp "$out.XXXXXX") || { echo "$img"; return 0; }
	for magic in '\xfd7zXZ\x00:xz -dc' '\x28\xb5\x2f\xfd:zstd -qdc' '\x1f\x8b\x08:gzip -dc'; do
		off=$(LC_ALL=C grep -obUaP "${magic%%:*}" "$img" 2>/dev/null | head -1 | cut -d: -f1)
		[ -n "$off" ] || continue
		# the compressed kernel is followed by other data: the
		# decompressor's complaint about it is expected
		tail -c +$((off + 1)) "$img" | ${magic#*:} 2>/dev/null >"$tmp"
		if readelf -n "$tmp" 2>/dev/null | grep -q 'type: (0x00000012)'; then
			mv -f "$tmp" "$out" && { echo "$out"; return 0; }
		fi
	done
	rm -f "$tmp"
	echo "$img"
}

tiny_guest_build() {
	local out=$1 init=$2 kver root order f
	shift 2
	TINY_GUEST_WHY=
	kver=$(_tiny_guest_kver)
	if [ -z "$kver" ] || [ ! -r "/boot/vmlinuz-$kver" ]; then
		TINY_GUEST_WHY="no kernel to boot: /boot/vmlinuz-${kver:-?} (tests/vm/kernels --default)"
		return 1
	fi
	if ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then
		TINY_GUEST_WHY="needs a static /bin/busybox (busybox-static)"
		return 1
	fi
	[ -r "$init" ] || { TINY_GUEST_WHY="no guest init script $init"; return 1; }
	root=$out/root
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" \
		"$root/modules" "$root/guest" || return 1
	cp /bin/busybox "$root/bin/busybox" || return 1
	ln -s busybox "$root/bin/sh"
	if ! order=$(_tiny_guest_modules "$kver" "$root/modules") || [ -z "$order" ]; then
		TINY_GUEST_WHY="no virtio modules for $kver in /lib/modules/$kver"
		return 1
	fi
	cp "$init" "$root/guest/init" || return 1
	for f in "$@"; do
		cp "$f" "$root/guest/" || return 1
	done
	cat >"$root/init" <<EOF
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp
for m in $order; do insmod /modules/\$m.ko || echo "TINY-GUEST-INSMOD-FAILED \$m"; done
echo "TINY-GUEST-UP \$(uname -r)"
cd /guest
sh /guest/init
echo "TINY-GUEST-EXIT \$?"
# busybox-static has no poweroff applet; with -no-reboot QEMU exits
echo o >/proc/sysrq-trigger
sleep 10
EOF
	chmod 755 "$root/init"
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) >"$out/initramfs.cpio" || return 1
	ln -sfn "$(_tiny_guest_vmlinux "$kver")" "$out/vmlinuz"
}

tiny_guest_qemu_args() {
	local out=$1 serial=${2:-} args=${3:-}
	TINY_GUEST_ARGS=(-machine pc -accel tcg -cpu max -smp 1 -m 256
		-display none -nodefaults -no-user-config -no-reboot
		-kernel "$out/vmlinuz" -initrd "$out/initramfs.cpio"
		-append "console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off no_timer_check $args")
	if [ -n "$serial" ]; then
		TINY_GUEST_ARGS+=(-serial "file:$serial")
	else
		TINY_GUEST_ARGS+=(-serial stdio)
	fi
}
