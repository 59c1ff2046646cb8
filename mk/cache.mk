# SPDX-License-Identifier: GPL-2.0-only
# Cache library extras.
#   make tsan-cache   the multi-threaded cache stress test under ThreadSanitizer
# Criterion's forking runner does not start under TSan, so the stress test
# is also built as a plain program (-DKEEL_TSAN_MAIN).
CACHE_TSAN_SRCS := $(wildcard agent/cache/*.c) tests/unit/test_cache_stress.c

.PHONY: tsan-cache
tsan-cache: $(BUILD)/tsan/cache_stress
	TSAN_OPTIONS=halt_on_error=1:exitcode=66 $(BUILD)/tsan/cache_stress

$(BUILD)/tsan/cache_stress: $(CACHE_TSAN_SRCS) $(wildcard include/keel/*.h agent/cache/*.h)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Iagent \
		-DKEEL_TSAN_MAIN -O1 -g -fsanitize=thread $(CACHE_TSAN_SRCS) \
		-o $@ -lpthread
