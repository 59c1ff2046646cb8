# SPDX-License-Identifier: GPL-2.0-only
# rcache: the read cache daemon keel-rcache (agent/rcache/main.c); its store,
# server and client are in libkeel.  The cache filter (agent/vfilters/cache.c)
# runs inside the disk server's plugin, which so also needs the rcache
# client and the memory-handle library built position-independent (extra
# prerequisites of the plugin's link rule in mk/vdisk.mk).
user: $(BUILD)/keel-rcache

RCACHE_PIC_OBJS := $(BUILD)/pic/agent/rcache/client.o $(BUILD)/pic/agent/memh/memh.o
$(BUILD)/nbdkit-keel-plugin.so: $(RCACHE_PIC_OBJS)

# a raw client for the tests (tests/integration/rcache/rcache_client.c):
# a keel.ko handle revoked mid-session, a held client slot, a two-disk read mix
user: $(BUILD)/tests/rcache_client

$(BUILD)/tests/rcache_client: tests/integration/rcache/rcache_client.c $(BUILD)/libkeel.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(BUILD)/libkeel.a -o $@ $(LDLIBS)
