#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Upcall benchmark with keel.ko, inside the VM harness:
#   tests/vm/run -- tests/bench/upcall_vm.sh [N]
# Builds keel.ko (if needed) and upcall_bench straight from its sources,
# loads the module and runs the upcall and handler-thread sides in one run.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd -P)
out=$top/build/tests/bench-vm
mkdir -p "$out"
[ -f "$top/build/kmod/$(uname -r)/keel.ko" ] || make -s -C "$top" kmod KVER="$(uname -r)"
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$top/include" -pthread \
	-o "$out/upcall_bench" "$top/tests/bench/upcall_bench.c" "$top/agent/upcall/upcall.c"
loaded=0
grep -q '^keel ' /proc/modules || { insmod "$top/build/kmod/$(uname -r)/keel.ko"; loaded=1; }
for _ in $(seq 50); do [ -c /dev/keel ] && break; sleep 0.1; done
echo "### upcall_bench ($(uname -r), $(nproc) CPUs)"
"$out/upcall_bench" "$@"
[ "$loaded" = 0 ] || rmmod keel
