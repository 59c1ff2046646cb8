# SPDX-License-Identifier: GPL-2.0-only
# The VMDK parser's libFuzzer target (tests/fuzz/vmdk_fuzz.c), built with
# clang's fuzzer and address/undefined sanitizers straight from the library
# sources; run by tests/host/test_vmdk_fuzz.sh with the seeds
# tests/fuzz/vmdk/make_seeds.py writes under build/.
VMDK_FUZZ_SRCS := tests/fuzz/vmdk_fuzz.c $(wildcard agent/vmdk/*.c)
user: $(BUILD)/tests/fuzz/vmdk_fuzz

$(BUILD)/tests/fuzz/vmdk_fuzz: $(VMDK_FUZZ_SRCS) $(wildcard agent/vmdk/*.h)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Iagent \
		$(VMDK_FUZZ_SRCS) -o $@ -lz -ljansson -lpthread
