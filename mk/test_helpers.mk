# SPDX-License-Identifier: GPL-2.0-only
# The programs the integration tests run, built here with the rest rather
# than by each test inside the VM, where gcc and clang run under TCG and a
# compile takes 5-30 s (about two minutes of every `make check`).  Each test
# finds its program with built_helper NAME (tests/integration/lib.sh).
#   build/tests/integration/exec_*helper   the exec tests' attack and probe programs
#   build/tests/integration/keel_version   test_kmod: include/keel/keel_uapi.h from user space
#   build/tests/integration/memh_test, memh_stress, upcall_test   keel.ko's tests
#   build/tests/integration/tc_count.bpf.o test_tc's classifier
#   build/tests/integration/vm_reset       tests/integration/run's clean-up in the VM
ITEST_DIR      := $(BUILD)/tests/integration
ITEST_EXEC     := $(patsubst tests/integration/%.c,$(ITEST_DIR)/%,$(wildcard tests/integration/exec_*helper.c))
# the exec helpers do odd things on purpose (unchecked results, raw syscalls)
ITEST_CFLAGS   := -std=gnu11 -O1 -Wall
# the keel.ko clients are held to the project's warnings
ITEST_KCFLAGS  := -std=gnu11 -O2 -Wall -Wextra -Werror -Iinclude -pthread

user: $(ITEST_EXEC) $(ITEST_DIR)/keel_version $(ITEST_DIR)/memh_test $(ITEST_DIR)/memh_stress \
	$(ITEST_DIR)/upcall_test $(ITEST_DIR)/tc_count.bpf.o $(ITEST_DIR)/vm_reset

$(ITEST_DIR)/exec_%: tests/integration/exec_%.c
	@mkdir -p $(@D)
	$(CC) $(ITEST_CFLAGS) $< -o $@
$(ITEST_DIR)/vm_reset: tests/integration/vm_reset.c
	@mkdir -p $(@D)
	$(CC) $(ITEST_KCFLAGS) $< -o $@
$(ITEST_DIR)/keel_version: tests/integration/keel_version.c $(wildcard include/keel/*.h)
	@mkdir -p $(@D)
	$(CC) $(ITEST_KCFLAGS) $< -o $@
$(ITEST_DIR)/memh_%: tests/integration/memh/memh_%.c $(wildcard include/keel/*.h)
	@mkdir -p $(@D)
	$(CC) $(ITEST_KCFLAGS) $< -o $@
$(ITEST_DIR)/upcall_test: tests/integration/upcall/upcall_test.c agent/upcall/upcall.c $(wildcard include/keel/*.h)
	@mkdir -p $(@D)
	$(CC) $(ITEST_KCFLAGS) $(filter %.c,$^) -o $@
$(ITEST_DIR)/tc_count.bpf.o: tests/integration/tc_count.bpf.c vmlinux/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) -target bpf -O2 -g -Wall -Werror -DKEEL_HAVE_VMLINUX_H -Ivmlinux -c $< -o $@
