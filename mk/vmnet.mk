# SPDX-License-Identifier: GPL-2.0-only
# vmnet: the KVM VM helper of tests/integration/test_vmnet_kvm.sh
#   build/tests/kvm_vm   KVM_CREATE_VM, hold, close
user: $(BUILD)/tests/kvm_vm

$(BUILD)/tests/kvm_vm: tests/integration/vmnet/kvm_vm.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@
