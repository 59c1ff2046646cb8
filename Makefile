# SPDX-License-Identifier: GPL-2.0-only
# keel: one entry point.  make | make check | make run | make deps | make vmlinux
# Everything built goes under build/; the tree itself is never written to
# (except by `make vmlinux`, which regenerates the checked-in vmlinux.h).

BUILD      ?= build
CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
# keel.ko is built once per kernel, into build/kmod/VERSION/keel.ko:
#  - KDIR=DIR: for the kernel whose headers (or build tree) are in DIR only;
#  - KVER=VERSION: for /lib/modules/VERSION/build only;
#  - default: every kernel the VM tests boot (tests/vm/kernels) that has
#    headers, i.e. Debian 12's own and the bookworm-backports one.
kdir_release = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(1)/include/generated/utsrelease.h 2>/dev/null)
ifneq ($(KDIR),)
KVERS      := $(call kdir_release,$(KDIR))
else ifneq ($(KVER),)
KVERS      := $(KVER)
else
KVERS      := $(shell for v in $$(tests/vm/kernels 2>/dev/null); do \
		[ -e /lib/modules/$$v/build ] && echo $$v; done)
endif
PREFIX     ?= /usr/local

PKGS       := libbpf inih jansson libsystemd sqlite3 libcrypto
CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Iagent -I$(BUILD) \
	      $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS     += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lbpf -linih -ljansson -lsystemd -lsqlite3 -lcrypto) \
	      -lelf -lz -lpthread -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Iinclude -Ivmlinux -Wall -Werror

# BPF programs: one object and one skeleton per bpf/*.bpf.c
BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
BPF_SKELS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# User space: every agent/<dir>/*.c except main.c goes into libkeel.a, which
# the programs and the unit tests link against.
PROGRAMS   := keeld keelctl keel-cachesim
prog_dir    = $(patsubst keel-%,%,$(1))
LIB_SRCS   := $(filter-out %/main.c,$(wildcard agent/*/*.c))
LIB_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
PROG_BINS  := $(foreach p,$(PROGRAMS),$(if $(wildcard agent/$(call prog_dir,$(p))/main.c),$(BUILD)/$(p)))

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(BENCH_SRCS))

.DEFAULT_GOAL := all
-include mk/*.mk

.PHONY: config-example all user bpf kmod check check-unit check-integration check-host check-vm run deps vmlinux \
	install install-files install-core clean bench format check-format
.DELETE_ON_ERROR:
.SECONDARY:

all: bpf user kmod

bpf: $(BPF_OBJS) $(BPF_SKELS)
user: $(PROG_BINS) $(UNIT_BINS) $(BENCH_BINS)

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h include/keel/*.h) vmlinux/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(BUILD)/agent/%.o: agent/%.c $(BPF_SKELS) $(wildcard include/keel/*.h agent/*/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libkeel.a: $(filter-out $(BUILD)/agent/%/main.o,$(LIB_OBJS))
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/keel-%: $(BUILD)/agent/%/main.o $(BUILD)/libkeel.a
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/keeld: $(BUILD)/agent/keeld/main.o $(BUILD)/libkeel.a
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/keelctl: $(BUILD)/agent/keelctl/main.o $(BUILD)/libkeel.a
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libkeel.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(BUILD)/libkeel.a -o $@ -lcriterion $(LDLIBS)

$(BUILD)/tests/bench/%: tests/bench/%.c $(BUILD)/libkeel.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(BUILD)/libkeel.a -o $@ $(LDLIBS)

# keel.ko against each kernel's headers (KVERS above).  The module is built
# in a copy under build/kmod/VERSION/ so the source tree stays clean.
KMOD_SRCS  := $(wildcard kmod/*.c kmod/*.h kmod/Kbuild include/keel/*.h)
KMOD_KOS   := $(foreach v,$(KVERS),$(BUILD)/kmod/$(v)/keel.ko)
kmod: $(KMOD_KOS)
	@if [ -z "$(KVERS)" ]; then echo "kmod: no kernel headers found$(if $(KDIR), at KDIR=$(KDIR)); run 'make deps' or set KDIR or KVER" >&2; exit 1; fi
$(BUILD)/kmod/%/keel.ko: $(KMOD_SRCS)
	@kdir=$(or $(KDIR),/lib/modules/$*/build); \
	if [ ! -d "$$kdir" ]; then echo "kmod: no kernel headers for $* at $$kdir; run 'make deps' or set KDIR" >&2; exit 1; fi
	@mkdir -p $(@D)
	cp kmod/*.c kmod/Kbuild $(wildcard kmod/*.h) $(@D)/
	$(MAKE) -C $(or $(KDIR),/lib/modules/$*/build) M=$(abspath $(@D)) KEEL_INCLUDE=$(abspath include) modules

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h.tmp
	mv vmlinux/vmlinux.h.tmp vmlinux/vmlinux.h

# deploy/keel.conf is keeld's embedded defaults, commented (a host test checks it)
config-example: $(BUILD)/keeld
	{ head -n 4 deploy/keel.conf; ./$(BUILD)/keeld --print-config | tail -n +2; } > deploy/keel.conf.tmp
	mv deploy/keel.conf.tmp deploy/keel.conf

deps:
	./deploy/install-deps

# The build runs on every core (the tests after it need the whole machine,
# one suite at a time); deps first, alone: it may run apt-get.
check:
	$(MAKE) deps
	$(MAKE) -j$$(nproc) all
	./tests/run-all

check-unit: user
	./tests/unit/run

# every kernel tests/vm/kernels lists (tests/run-all says which tests run on one only)
check-integration: all
	./tests/run-all integration

check-host: all
	./tests/host/run

check-vm: all
	./tests/vm/selftest

bench: user
	./tests/bench/run

run: deps all
	./$(BUILD)/keeld

# make install: build everything, then install-files, which builds nothing
# (debian/rules builds only what the packages ship, then calls it).  The
# unit's paths follow PREFIX; UNITDIR is where it goes (packages:
# /lib/systemd/system).
UNITDIR    ?= /etc/systemd/system
install: all
	$(MAKE) --no-print-directory install-files
install-files: install-core
install-core:
	install -D -m 0755 $(BUILD)/keeld $(DESTDIR)$(PREFIX)/sbin/keeld
	install -D -m 0755 $(BUILD)/keelctl $(DESTDIR)$(PREFIX)/bin/keelctl
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/|$(PREFIX)/|g' deploy/keeld.service > $(DESTDIR)$(UNITDIR)/keeld.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/keeld.service
	install -D -m 0644 deploy/keel.conf $(DESTDIR)/etc/keel/keel.conf.example

# every C file is formatted with .clang-format; check-format lists the ones
# that are not (and fails), format rewrites them
FORMAT_FILES = $$(git ls-files 'agent/*.[ch]' 'include/*.h' 'bpf/*.[ch]' 'kmod/*.[ch]' 'tests/*.[ch]')
format:
	clang-format -i $(FORMAT_FILES)
check-format:
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD)
