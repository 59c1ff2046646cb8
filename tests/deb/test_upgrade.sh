#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# An upgrade of keel with exec enforcing, in the VM on the default kernel
# (BPF LSM), with keeld and dpkg running in the clean Debian 12 root where
# keel is installed (tests/deb/vm-exec, in-root-exec.sh): keel VERSION to
# VERSION+next1 (built here from make deb's tree, deb_next_build) with
# keeld running, as apt upgrade does it (keeld is restarted after, as the
# postinst does), then back with keeld stopped.  Each succeeds, keeld runs
# the new version and exec still refuses an untrusted program.  Reuses the
# root test_packages.sh left, else makes one; purges keel at the end.
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_cmd debootstrap chroot dpkg-deb dpkg-parsechangelog dpkg-buildpackage
. "$(dirname "$0")/lib.sh"

t=$SECONDS
check "keel $KEEL_DEB_VERSION+next1 built (make deb's tree, version.h and changelog changed)" \
	deb_next_build || exit 1
note "$(basename "$KEEL_DEB_NEXT") in $((SECONDS - t)) s"
deb_root_reuse || die "could not make the Debian 12 root (above)"
check "apt-get installs keel $KEEL_DEB_VERSION with its dependencies" \
	deb_root_install "$KEEL_DEB" || exit 1
deb_root_umount
pack=$KEEL_BUILD/deb-root/root-exec.tar
check "the root packed for the VM ($pack)" deb_root_pack "$pack" || exit 1
on_exit "rm -f '$pack'"
t=$SECONDS
tests/vm/run --mem 2048 --timeout 900 -- tests/deb/vm-exec "$pack" "$KEEL_DEB" "$KEEL_DEB_NEXT" \
	-- upgrade 2>&1 | sed 's/^/  vm| /'
rc=${PIPESTATUS[0]}
check "in the VM: keel upgraded with exec enforcing (keeld running, then stopped), keeld runs the new version, exec still enforces" \
	test "$rc" -eq 0
note "the VM step: $((SECONDS - t)) s (with any wait for the VM lock)"
deb_root_mount || die "mounting /proc, /sys, /dev in $DEB_ROOT again"
check "dpkg --purge keel (the root as it was)" in_root dpkg --purge keel
