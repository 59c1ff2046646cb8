#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keel's prerm with exec enforcing (debian/keel.prerm), in the VM on the
# default kernel (BPF LSM), with keeld and dpkg running in the clean Debian
# 12 root where keel is installed (tests/deb/vm-exec, in-root-exec.sh):
# keeld stopped in enforce mode makes `dpkg -r keel` refused with
# instructions, keel stays installed and enforcing; keeld answering, the
# prerm switches exec to audit and the removal proceeds.  Reuses the root
# test_packages.sh left (keel purged, its dependencies installed), else
# makes one; purges keel at the end.
. "$(dirname "$0")/../integration/lib.sh"
need_root
need_cmd debootstrap chroot dpkg-deb dpkg-parsechangelog
. "$(dirname "$0")/lib.sh"

deb_root_reuse || die "could not make the Debian 12 root (above)"
check "apt-get installs keel with its dependencies ($(basename "$KEEL_DEB"))" \
	deb_root_install "$KEEL_DEB" || exit 1
deb_root_umount
pack=$KEEL_BUILD/deb-root/root-exec.tar
check "the root packed for the VM ($pack)" deb_root_pack "$pack" || exit 1
on_exit "rm -f '$pack'"
t=$SECONDS
tests/vm/run --mem 2048 --timeout 900 -- tests/deb/vm-exec "$pack" "$KEEL_DEB" -- prerm 2>&1 |
	sed 's/^/  vm| /'
rc=${PIPESTATUS[0]}
check "in the VM: keel's prerm refuses a removal that would leave exec enforcing, switches it to audit when keeld answers" \
	test "$rc" -eq 0
note "the VM step: $((SECONDS - t)) s (with any wait for the VM lock)"
deb_root_mount || die "mounting /proc, /sys, /dev in $DEB_ROOT again"
check "dpkg --purge keel (the root as it was)" in_root dpkg --purge keel
