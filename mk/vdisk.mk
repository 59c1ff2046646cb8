# SPDX-License-Identifier: GPL-2.0-only
# vdisk: the filter chain's checksums use ISA-L's CRC32C (libisal-dev).
LDLIBS += -lisal

# The disk server: nbdkit loads build/nbdkit-keel-plugin.so.  libkeel.a is not
# position-independent, so the objects the plugin needs are built again with
# -fPIC under build/pic/ (the chain, the filters, the VMDK library, blk's disk
# ID and the trace writer): the chain then runs inside nbdkit, with no hop
# between the NBD server and the filters.
VDISK_PIC_SRCS := $(filter-out agent/vdisk/subsys%,\
		  $(wildcard agent/vdisk/*.c agent/vfilters/*.c agent/vmdk/*.c)) \
		  agent/blk/diskid.c agent/cache/trace.c agent/common/unixsock.c
VDISK_PIC_OBJS := $(patsubst %.c,$(BUILD)/pic/%.o,$(VDISK_PIC_SRCS))

user: $(BUILD)/nbdkit-keel-plugin.so

$(BUILD)/pic/%.o: %.c $(wildcard include/keel/*.h agent/*/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/nbdkit-keel-plugin.so: agent/vdisk/nbdkit/plugin.c $(VDISK_PIC_OBJS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -fPIC -shared $^ -o $@ \
		-linih -ljansson -lcrypto -lz -lisal -lpthread

# keel-vdisk: serve a disk (execs nbdkit with the plugin), reach its filters.
user: $(BUILD)/keel-vdisk
# Where an installed keel-vdisk finds the plugin when it is not beside it.
$(BUILD)/agent/vdisk/main.o: CFLAGS += -DKEEL_LIBDIR='"$(PREFIX)/lib/keel"'
