# SPDX-License-Identifier: GPL-2.0-only
# Debian packages (docs/operations.md, "Debian packages"): `make deb` builds
# keel and keel-dkms with debhelper (debian/) from a copy of the tree in
# build/deb/keel-VERSION/ (dpkg-buildpackage writes into the tree it builds
# and puts the packages beside it), then runs lintian on them.  The
# packages: build/deb/keel_VERSION_amd64.deb, build/deb/keel-dkms_VERSION_all.deb.
DEB_DIR     := $(BUILD)/deb
DEB_VERSION := $(shell dpkg-parsechangelog -SVersion 2>/dev/null)
.PHONY: deb check-deb

deb:
	@if [ "$(DEB_VERSION)" != "$(KEEL_VERSION_STR)" ]; then \
		echo "deb: debian/changelog says $(DEB_VERSION), agent/keeld/version.h says $(KEEL_VERSION_STR): add a changelog entry (dch -v $(KEEL_VERSION_STR))" >&2; exit 1; fi
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/keel-$(DEB_VERSION)
	git ls-files -z --cached --others --exclude-standard | \
		tar -c --null -T - --ignore-failed-read -f - | tar -x -C $(DEB_DIR)/keel-$(DEB_VERSION)
	cd $(DEB_DIR)/keel-$(DEB_VERSION) && \
		DEB_BUILD_OPTIONS="parallel=$(or $(DEB_JOBS),2)" dpkg-buildpackage -b -us -uc
	lintian --fail-on error,warning --info $(DEB_DIR)/keel_$(DEB_VERSION)_amd64.changes
	@ls -l $(DEB_DIR)/*.deb

# The packages on a clean Debian 12 root (tests/deb/, docs/testing.md).
# Not part of make check: a first run downloads Debian (debootstrap, the
# kernel headers, gcc), and DKMS builds keel.ko four times.
check-deb: deb
	./tests/deb/run
