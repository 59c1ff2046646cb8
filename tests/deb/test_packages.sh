#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keel's Debian packages (make deb) on a clean Debian 12 root: a minimal
# debootstrap of the machine's own Debian mirror (cached under
# build/deb-root/), packages from that mirror through apt.
#  - apt installs keel and keel-dkms with their dependencies; DKMS builds
#    keel.ko for the installed kernel headers, and installing a second
#    kernel's headers afterwards (a kernel upgrade) builds it for that one;
#  - after a purge, `dpkg -i` of both succeeds, keel.ko is built for every
#    kernel the VM tests boot, the unit is enabled, /etc/keel/keel.conf is
#    a conffile, keeld and keelctl run;
#  - in the VM (tests/vm/run --kernel K, for each kernel): keel.ko built by
#    DKMS in the root loads, and the installed keeld --probe (chrooted)
#    finds it;
#  - keeld's unit under systemd as PID 1 (systemd-nspawn --boot of the
#    root): started at boot, reload, watchdog (pings; a stuck keeld is
#    killed and restarted), an upgrade to the next version (built here:
#    deb_next_build) restarts keeld on it, stop;
#  - `dpkg --purge keel keel-dkms` leaves the root exactly as it was before
#    the packages were installed (every path compared).
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_cmd debootstrap chroot dpkg-deb dpkg-parsechangelog
. "$(dirname "$0")/lib.sh"

# Each step's time, printed (figures for docs/operations.md; never asserted)
t0=$SECONDS
took() {
	note "$1: $((SECONDS - t0)) s"
	t0=$SECONDS
}
deb_next_build || die "could not build keel $KEEL_DEB_VERSION+next1 (above)"
next_version=$(dpkg-deb -f "$KEEL_DEB_NEXT" Version)
deb_root_prepare || die "could not make the Debian 12 root (above)"
took "step 1, the root from the cached debootstrap, apt-get update"
kernels=$(tests/vm/kernels)
k1=$(echo "$kernels" | head -n 1)
others=$(echo "$kernels" | tail -n +2)
note "packages: $(basename "$KEEL_DEB") $(basename "$KEEL_DKMS_DEB"); kernels: $(echo $kernels)"
cp "$KEEL_DEB" "$KEEL_DKMS_DEB" "$DEB_ROOT/tmp/"
debs="/tmp/$(basename "$KEEL_DEB") /tmp/$(basename "$KEEL_DKMS_DEB")"

# 2. apt, then a kernel upgrade
check "apt-get installs linux-headers-$k1" in_root apt-get install -y -q --no-install-recommends "linux-headers-$k1"
check "apt-get installs keel and keel-dkms with their dependencies" \
	in_root apt-get install -y -q --no-install-recommends $debs
check "DKMS built and installed keel.ko for $k1 at keel-dkms's install" \
	test -n "$(dkms_ko "$k1")"
# bookworm-backports' 6.12 headers depend on its image, whose postinst
# makes an initramfs (and initramfs-tools' trigger another): INITRD=No,
# which initramfs-tools' kernel hook honours, as this root never boots a
# kernel (one mkinitramfs took 15 minutes at load 15, its trigger started a
# second, and the run timed out).  DKMS's hooks run as on any upgrade.
for k in $others; do
	check "a kernel upgrade (apt-get install linux-headers-$k) makes DKMS build keel.ko for $k" \
		sh -c "chroot '$DEB_ROOT' env INITRD=No apt-get install -y -q --no-install-recommends linux-headers-$k &&
		       ls '$DEB_ROOT/lib/modules/$k/updates/dkms/'keel.ko* >/dev/null"
done
check "dpkg --purge keel keel-dkms" in_root dpkg --purge keel keel-dkms
deb_root_paths >"$KEEL_TMP/before"
note "the root without keel: $(wc -l <"$KEEL_TMP/before") paths"
took "step 2, apt: headers, keel, keel-dkms, DKMS, the kernel upgrade, purge"

# 3. dpkg -i, with the dependencies now present
check "dpkg -i keel-dkms keel" in_root dpkg -i $debs
for k in $kernels; do
	check "keel.ko built by DKMS for $k (dkms status: installed)" \
		sh -c "chroot '$DEB_ROOT' dkms status keel -k '$k' | grep -q ': installed' &&
		       modinfo -F vermagic '$(dkms_ko "$k")' | grep -q '^$k '"
done
check "keeld.service is enabled (multi-user.target.wants)" \
	test -L "$DEB_ROOT/etc/systemd/system/multi-user.target.wants/keeld.service"
check_eq "the unit runs the packaged keeld" "ExecStart=/usr/sbin/keeld -q" \
	"$(grep '^ExecStart=' "$DEB_ROOT/lib/systemd/system/keeld.service")"
check "/etc/keel/keel.conf is a conffile" \
	sh -c "chroot '$DEB_ROOT' dpkg-query -W -f='\${Conffiles}' keel | grep -q '/etc/keel/keel.conf '"
check "the installed keel.conf parses (every key commented: keeld's defaults)" \
	sh -c "chroot '$DEB_ROOT' keeld -c /etc/keel/keel.conf --print-config >/dev/null"
check "keelctl, keel-vdisk, keel-rcache, keel-cachesim run (--help)" \
	sh -c "for p in keelctl keel-vdisk keel-rcache keel-cachesim; do chroot '$DEB_ROOT' \$p --help >/dev/null || exit 1; done"
check "keel-vdisk finds its nbdkit plugin where the package put it" \
	test -f "$DEB_ROOT/usr/lib/keel/nbdkit-keel-plugin.so"
out=$(chroot "$DEB_ROOT" keeld --probe 2>&1)
check "the installed keeld --probe runs on this machine's kernel ($(uname -r))" test -n "$out"
printf '%s\n' "$out" | sed -n '1,4s/^/    | /p'
took "step 3, dpkg -i (DKMS for every kernel) and the installed files"

# 4. keeld's unit under systemd as PID 1: the root booted by systemd-nspawn
# on this machine's kernel (keeld runs there with what the kernel allows:
# blk, not exec), driven from here with nsenter.  A drop-in shortens the
# watchdog (WatchdogSec=4s: pings every 2 s) so that a stuck keeld is seen
# in seconds.  The drop-in is removed after.
deb_root_umount
if command -v systemd-nspawn >/dev/null; then
	mkdir -p "$DEB_ROOT/etc/systemd/system/keeld.service.d"
	# the packages of the upgrade below, seen in the booted root (/tmp is a new tmpfs there; its
	# writes go to the overlay; the files are removed after)
	cp "$KEEL_DEB" "$KEEL_DEB_NEXT" "$DEB_ROOT/var/tmp/"
	printf '[Service]\nWatchdogSec=4s\n' >"$DEB_ROOT/etc/systemd/system/keeld.service.d/test.conf"
	# --volatile=overlay: what the boot writes (machine-id, journal, state)
	# goes to a tmpfs, so the purge's comparison below sees only dpkg's work
	systemd-nspawn -q -D "$DEB_ROOT" --boot --volatile=overlay --register=no \
		--console=passive --keep-unit \
		>"$KEEL_TMP/nspawn.log" 2>&1 &
	nspawn=$!
	on_exit "kill $nspawn; wait $nspawn"
	init=
	for i in $(seq 60); do
		init=$(pgrep -P "$nspawn" | head -n 1)
		[ -n "$init" ] && in_ct systemctl is-system-running --wait >/dev/null 2>&1 && break
		sleep 1
	done
	check "systemd boots as PID 1 of the root (systemd-nspawn --boot)" test -n "$init"
	check_eq "keeld.service started at boot (enabled by the package; Type=notify: READY=1 came)" \
		active "$(in_ct systemctl is-active keeld)"
	check "keelctl status answers over /run/keel/keel.sock" in_ct keelctl status
	pid=$(in_ct systemctl show -P MainPID keeld)
	check "systemctl reload keeld succeeds" in_ct systemctl reload keeld
	check_eq "... the same keeld process (SIGHUP, not a restart)" "$pid" "$(in_ct systemctl show -P MainPID keeld)"
	check "... and keeld logged the reload (keel.reload in the journal)" \
		sh -c "sleep 1; nsenter -t $init -a journalctl -q -u keeld -t keeld --no-pager | grep -q 'keel.reload'"
	w1=$(in_ct systemctl show -P WatchdogTimestampMonotonic keeld)
	sleep 5
	w2=$(in_ct systemctl show -P WatchdogTimestampMonotonic keeld)
	check "keeld pings the watchdog from its loop (WatchdogTimestamp $w1 -> $w2)" test "$w2" -gt "$w1"
	check "a stuck keeld (SIGSTOP) is killed by the watchdog and restarted" sh -c "
		nsenter -t $init -a systemctl kill -s SIGSTOP --kill-whom=main keeld || exit 1
		for i in \$(seq 30); do
			[ \"\$(nsenter -t $init -a systemctl show -P NRestarts keeld)\" -ge 1 ] &&
			[ \"\$(nsenter -t $init -a systemctl is-active keeld)\" = active ] && exit 0
			sleep 1
		done; exit 1"
	check "... the journal says why (watchdog timeout)" \
		sh -c "nsenter -t $init -a journalctl -q -u keeld --no-pager | grep -qi 'watchdog timeout'"
	# an upgrade under systemd: keeld runs on through the unpack (the
	# prerm stops it only for a removal) and the postinst restarts it
	pid=$(in_ct systemctl show -P MainPID keeld)
	stops=$(nsenter -t $init -a journalctl -q -u keeld --no-pager | grep -c 'Stopping keeld')
	check "dpkg -i keel $next_version (an upgrade) under systemd" in_ct dpkg -i "/var/tmp/$(basename "$KEEL_DEB_NEXT")"
	check_eq "... keeld.service is active" active "$(in_ct systemctl is-active keeld)"
	check "... restarted by the postinst (MainPID $pid before)" \
		test "$(in_ct systemctl show -P MainPID keeld)" != "$pid"
	check_eq "... and the running keeld is $next_version (keelctl status)" "$next_version" \
		"$(in_ct keelctl status | sed -n '1s/^keeld \([^ ]*\) .*/\1/p')"
	# the one stop meanwhile came after dpkg wrote the new keeld: it is the
	# postinst's restart, not a prerm's stop before the unpack
	stop_at=$(nsenter -t $init -a journalctl -q -u keeld -o short-unix --no-pager |
		grep 'Stopping keeld' | tail -n 1 | cut -d ' ' -f 1)
	new_at=$(in_ct stat -c %.9Z /usr/sbin/keeld)
	check "... stopped once meanwhile, after the new keeld was unpacked (stop $stop_at, /usr/sbin/keeld changed $new_at)" \
		sh -c "[ \$(nsenter -t $init -a journalctl -q -u keeld --no-pager | grep -c 'Stopping keeld') -eq $((stops + 1)) ] &&
		       awk 'BEGIN { exit !($stop_at > $new_at) }'"
	check "dpkg -i keel $KEEL_DEB_VERSION (back, so that the purge below compares the same package)" \
		in_ct dpkg -i "/var/tmp/$(basename "$KEEL_DEB")"
	check "systemctl stop keeld" in_ct systemctl stop keeld
	check_eq "... keeld stopped cleanly (Result)" success "$(in_ct systemctl show -P Result keeld)"
	check "... and removed its control socket" test ! -e "/proc/$init/root/run/keel/keel.sock"
	in_ct systemctl poweroff >/dev/null 2>&1
	wait "$nspawn"
	rm -rf "$DEB_ROOT/etc/systemd/system/keeld.service.d"
	rm -f "$DEB_ROOT/var/tmp/$(basename "$KEEL_DEB")" "$DEB_ROOT/var/tmp/$(basename "$KEEL_DEB_NEXT")"
	took "step 4, keeld under systemd (systemd-nspawn --boot)"
else
	note "no systemd-nspawn: keeld under systemd not checked (deploy/install-deps installs systemd-container)"
fi

# 5. keel.ko from DKMS in the VM, each kernel booted (the VM sees the root
# through the checkout's share, without this machine's mounts in it)
for k in $kernels; do
	check "in the VM on $k: DKMS's keel.ko loads, the installed keeld --probe sees it" \
		tests/vm/run --kernel "$k" --timeout 300 -- tests/deb/vm-kmod "$DEB_ROOT"
	took "step 5, the VM on $k (with any wait for the VM lock)"
done


deb_root_mount || die "mounting /proc, /sys, /dev in $DEB_ROOT again"

# 6. purge
check "dpkg --purge keel keel-dkms" in_root dpkg --purge keel keel-dkms
deb_root_paths >"$KEEL_TMP/after"
check "the purge left nothing behind (every path as before dpkg -i)" \
	diff "$KEEL_TMP/before" "$KEEL_TMP/after"
for k in $kernels; do
	check "no keel.ko left for $k" test -z "$(dkms_ko "$k")"
done
took "step 6, purge and comparison"
