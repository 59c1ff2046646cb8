# SPDX-License-Identifier: GPL-2.0-only
# Operating keel: the metrics endpoint (agent/keeld/metrics.c) serves HTTP
# with libmicrohttpd (libmicrohttpd-dev).
LDLIBS += -lmicrohttpd

# Manual pages: keeld(8), keelctl(1), keel-cachesim(1) by help2man from
# their argp --help, keel.conf(5) from `keeld --print-config`.
KEEL_VERSION_STR := $(shell sed -n 's/^\#define KEEL_VERSION "\(.*\)"/\1/p' agent/keeld/version.h)
MAN_PAGES := $(BUILD)/man/keeld.8 $(BUILD)/man/keelctl.1 $(BUILD)/man/keel-cachesim.1 \
	     $(BUILD)/man/keel-vdisk.1 $(BUILD)/man/keel-rcache.8 $(BUILD)/man/keel.conf.5
.PHONY: man install-ops
man: $(MAN_PAGES)
all: man

$(BUILD)/man/keeld.8: $(BUILD)/keeld
	@mkdir -p $(@D)
	help2man --no-info --section 8 --name "keel's eBPF observability and enforcement agent" \
		--no-discard-stderr $< > $@
$(BUILD)/man/keelctl.1: $(BUILD)/keelctl
	@mkdir -p $(@D)
	help2man --no-info --section 1 --name "control and watch keeld, keel's agent" \
		--no-discard-stderr $< > $@
$(BUILD)/man/keel-cachesim.1: $(BUILD)/keel-cachesim
	@mkdir -p $(@D)
	help2man --no-info --section 1 --name "simulate cache policies on block traces" \
		--version-string "keel-cachesim $(KEEL_VERSION_STR)" --no-discard-stderr $< > $@
$(BUILD)/man/keel-vdisk.1: $(BUILD)/keel-vdisk
	@mkdir -p $(@D)
	help2man --no-info --section 1 --name "serve a keel virtual disk over NBD, reach its filters" \
		--version-string "keel-vdisk $(KEEL_VERSION_STR)" --no-discard-stderr $< > $@
$(BUILD)/man/keel-rcache.8: $(BUILD)/keel-rcache
	@mkdir -p $(@D)
	help2man --no-info --section 8 --name "keel's read cache daemon for virtual disks" \
		--version-string "keel-rcache $(KEEL_VERSION_STR)" --no-discard-stderr $< > $@
$(BUILD)/man/keel.conf.5: $(BUILD)/keeld deploy/man/keel.conf.5.sh
	@mkdir -p $(@D)
	deploy/man/keel.conf.5.sh $< > $@

# `make install` installs all of keel (the Makefile's install-core does
# keeld, keelctl, the unit and the example configuration).
install-files: install-ops
install-ops:
	install -D -m 0755 $(BUILD)/keel-cachesim $(DESTDIR)$(PREFIX)/bin/keel-cachesim
	install -D -m 0644 $(BUILD)/man/keeld.8 $(DESTDIR)$(PREFIX)/share/man/man8/keeld.8
	install -D -m 0644 $(BUILD)/man/keelctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/keelctl.1
	install -D -m 0644 $(BUILD)/man/keel-cachesim.1 $(DESTDIR)$(PREFIX)/share/man/man1/keel-cachesim.1
	install -D -m 0644 $(BUILD)/man/keel.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/keel.conf.5
	install -D -m 0644 $(BUILD)/man/keel-vdisk.1 $(DESTDIR)$(PREFIX)/share/man/man1/keel-vdisk.1
	install -D -m 0644 $(BUILD)/man/keel-rcache.8 $(DESTDIR)$(PREFIX)/share/man/man8/keel-rcache.8
	install -D -m 0755 $(BUILD)/keel-vdisk $(DESTDIR)$(PREFIX)/bin/keel-vdisk
	install -D -m 0755 $(BUILD)/keel-rcache $(DESTDIR)$(PREFIX)/sbin/keel-rcache
	install -D -m 0644 $(BUILD)/nbdkit-keel-plugin.so $(DESTDIR)$(PREFIX)/lib/keel/nbdkit-keel-plugin.so
	install -D -m 0644 deploy/completion/keelctl \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/keelctl
	install -d $(DESTDIR)$(PREFIX)/share/doc/keel
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/keel/
