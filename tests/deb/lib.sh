# SPDX-License-Identifier: GPL-2.0-only
# tests/deb/lib.sh: the clean Debian 12 root of the package tests, after
# tests/integration/lib.sh.
#   KEEL_DEB, KEEL_DKMS_DEB   the packages make deb built (skip without)
#   DEB_ROOT                  build/deb-root/root
#   deb_root_prepare          a fresh root from the cached debootstrap
#                             (made on first use), the machine's apt sources
#                             and pins, /proc /sys /dev mounted, apt updated
#   deb_root_umount, deb_root_mount   undo and redo those mounts
#   in_root CMD...            CMD chrooted in the root, no debconf questions
#   dkms_ko KVER              the keel.ko DKMS installed there for KVER
#   deb_root_paths            every path in the root (and /etc's contents)
#                             but apt's and dpkg's own records and caches
KEEL_DEB_VERSION=$(dpkg-parsechangelog -l "$KEEL_TOP/debian/changelog" -SVersion)
KEEL_DEB=${KEEL_DEB:-$KEEL_BUILD/deb/keel_${KEEL_DEB_VERSION}_amd64.deb}
KEEL_DKMS_DEB=$KEEL_BUILD/deb/keel-dkms_${KEEL_DEB_VERSION}_all.deb
DEB_CACHE=$KEEL_BUILD/deb-root
DEB_ROOT=$DEB_CACHE/root
[ -f "$KEEL_DEB" ] && [ -f "$KEEL_DKMS_DEB" ] ||
	skip "no packages for $KEEL_DEB_VERSION in $KEEL_BUILD/deb: run make deb first"

in_root() {
	chroot "$DEB_ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

# The keel.ko DKMS installed in the root for kernel $1: keel.ko, or
# keel.ko.xz where the kernel compresses its modules (6.12)
dkms_ko() {
	ls "$DEB_ROOT/lib/modules/$1/updates/dkms/"keel.ko* 2>/dev/null | head -n 1
}

# CMD in the booted root (systemd-nspawn), in every namespace of its PID 1
in_ct() {
	nsenter -t "$init" -a "$@"
}

# The machine's own Debian mirror: the first non-security URI of its sources.
_deb_mirror() {
	{
		sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources
		sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list
	} 2>/dev/null | grep -v security | head -n 1
}

deb_root_umount() {
	local m
	for m in var/cache/apt/archives dev sys proc; do
		mountpoint -q "$DEB_ROOT/$m" 2>/dev/null && umount -l "$DEB_ROOT/$m"
	done
	return 0
}

# /proc, /sys, /dev, and apt's downloads kept across runs in build/deb-root/
deb_root_mount() {
	local m
	for m in proc sys dev; do
		mount --bind "/$m" "$DEB_ROOT/$m" || return 1
	done
	mount --bind "$DEB_CACHE/archives" "$DEB_ROOT/var/cache/apt/archives"
}

deb_root_prepare() {
	local base=$DEB_CACHE/bookworm-minbase.tar mirror m
	mkdir -p "$DEB_CACHE/archives/partial"
	if [ ! -s "$base" ]; then
		mirror=$(_deb_mirror)
		if [ -z "$mirror" ]; then
			echo "no Debian mirror in /etc/apt/sources.list{,.d/*.sources}"
			return 1
		fi
		note "debootstrap --variant=minbase bookworm from the machine's mirror (once: cached in $base)"
		rm -rf "$DEB_CACHE/boot"
		if ! debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus \
			--cache-dir="$DEB_CACHE/archives" bookworm "$DEB_CACHE/boot" "$mirror" \
			>"$DEB_CACHE/debootstrap.log" 2>&1; then
			tail -n 20 "$DEB_CACHE/debootstrap.log"
			return 1
		fi
		tar -C "$DEB_CACHE/boot" -cf "$base.tmp" . && mv "$base.tmp" "$base" || return 1
		rm -rf "$DEB_CACHE/boot"
	fi
	deb_root_umount
	rm -rf "$DEB_ROOT"
	mkdir -p "$DEB_ROOT"
	tar -C "$DEB_ROOT" -xf "$base" || return 1
	# bookworm, and bookworm-backports pinned to the kernel packages (6.12)
	rm -f "$DEB_ROOT"/etc/apt/sources.list "$DEB_ROOT"/etc/apt/sources.list.d/*
	cp /etc/apt/sources.list.d/*.sources "$DEB_ROOT/etc/apt/sources.list.d/" 2>/dev/null
	[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$DEB_ROOT/etc/apt/"
	cp /etc/apt/preferences.d/keel-* "$DEB_ROOT/etc/apt/preferences.d/" 2>/dev/null
	cp /etc/resolv.conf "$DEB_ROOT/etc/resolv.conf"
	on_exit deb_root_umount
	deb_root_mount || return 1
	in_root apt-get update -q >"$KEEL_TMP/apt-update.log" 2>&1 ||
		{ tail -n 20 "$KEEL_TMP/apt-update.log"; return 1; }
}

deb_root_paths() {
	(
		cd "$DEB_ROOT" || exit 1
		find . -xdev \( -path ./var/cache/apt -o -path ./var/lib/apt -o -path ./var/lib/dpkg \
			-o -path ./var/log -o -path ./tmp -o -path ./var/cache/debconf -o -path ./proc \
			-o -path ./sys -o -path ./dev \) -prune -o -printf '%p %M %l\n' | sort
		find ./etc -xdev -type f -exec sha256sum {} + | sort -k 2
	)
}

# deb_next_build: the keel package of the next version, for the upgrade
# test: make deb's build tree copied, agent/keeld/version.h and
# debian/changelog set to $KEEL_DEB_VERSION+next1, and rebuilt without
# cleaning (only what includes version.h is compiled again: its old time
# is put back and those files touched, since every agent object depends on
# every agent header).  Sets KEEL_DEB_NEXT to the package.
deb_next_build() {
	local v=$KEEL_DEB_VERSION+next1 src=$(dirname "$KEEL_DEB")/keel-$KEEL_DEB_VERSION
	local dir=$(dirname "$KEEL_DEB")-next f
	KEEL_DEB_NEXT=$dir/keel_${v}_amd64.deb
	[ -f "$KEEL_DEB_NEXT" ] && [ "$KEEL_DEB_NEXT" -nt "$KEEL_DEB" ] && return 0
	[ -d "$src/build" ] || { echo "no build tree $src: run make deb"; return 1; }
	rm -rf "$dir"
	mkdir -p "$dir"
	cp -a "$src" "$dir/keel-$v" || return 1
	(
		cd "$dir/keel-$v" || exit 1
		f=agent/keeld/version.h
		touch -r "$f" "$dir/stamp"
		sed -i "s/\"$KEEL_DEB_VERSION\"/\"$v\"/" "$f"
		touch -r "$dir/stamp" "$f"
		grep -l 'version\.h' agent/*/*.c | xargs touch
		{
			printf 'keel (%s) unstable; urgency=medium\n\n  * Test build: the next version, for the upgrade test.\n\n' "$v"
			printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -SMaintainer)" "$(date -R)"
			cat debian/changelog
		} >debian/changelog.new && mv debian/changelog.new debian/changelog
		# the first build's records: dh would skip the build step
		rm -f debian/files debian/debhelper-build-stamp debian/*.debhelper.log
		DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -b -us -uc -nc >"$dir/build.log" 2>&1
	) || { tail -n 20 "$dir/build.log"; return 1; }
	[ -f "$KEEL_DEB_NEXT" ]
}

# deb_root_reuse: the root test_packages.sh left (keel purged, its
# dependencies and DKMS's installed) with /proc, /sys, /dev mounted, or a
# fresh one
deb_root_reuse() {
	if [ -x "$DEB_ROOT/usr/bin/dpkg" ] && [ -s "$DEB_ROOT/var/lib/dpkg/status" ]; then
		note "reusing the root in $DEB_ROOT"
		deb_root_umount
		on_exit deb_root_umount
		deb_root_mount
	else
		deb_root_prepare
	fi
}

# deb_root_install DEB: apt-get installs the package DEB in the root
deb_root_install() {
	local d=/tmp/$(basename "$1")
	cp "$1" "$DEB_ROOT$d" || return 1
	in_root apt-get install -y -q --no-install-recommends --allow-downgrades "$d"
	local rc=$?
	rm -f "$DEB_ROOT$d"
	return $rc
}

# deb_root_pack TAR: the root as one tar file for tests/deb/vm-exec, without
# the kernel trees (headers, modules, gcc's) that DKMS needed and dpkg -i/-r
# of keel does not touch, nor apt's caches
deb_root_pack() {
	tar -C "$DEB_ROOT" --one-file-system --exclude=./usr/src --exclude=./usr/lib/modules \
		--exclude=./usr/lib/gcc --exclude=./var/cache/apt --exclude=./var/lib/apt/lists \
		-cf "$1" .
}
