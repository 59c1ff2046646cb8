# SPDX-License-Identifier: GPL-2.0-only
# keeld's memh read service: the demo/test client (tests/integration/memh/).
#   build/tests/memh_client   used by tests/{host,integration}/test_memh_keeld.sh
user: $(BUILD)/tests/memh_client

$(BUILD)/tests/memh_client: tests/integration/memh/memh_client.c $(BUILD)/libkeel.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(BUILD)/libkeel.a -o $@ $(LDLIBS)
