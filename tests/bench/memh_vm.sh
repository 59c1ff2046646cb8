#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Memory-handle benchmark with keel.ko, inside the VM harness:
#   tests/vm/run -- tests/bench/memh_vm.sh [--quick]
# Builds keel.ko (if needed) and memh_bench (straight from its sources, so
# it does not depend on the rest of libkeel.a), loads the module, runs the
# benchmark once with the module and once without (the library fallback).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd -P)
out=$top/build/tests/bench-vm
mkdir -p "$out"
[ -f "$top/build/kmod/$(uname -r)/keel.ko" ] || make -s -C "$top" kmod KVER="$(uname -r)"
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$top/include" -I"$top/agent" \
	-o "$out/memh_bench" "$top/tests/bench/memh_bench.c" "$top/agent/memh/memh.c"
grep -q '^keel ' /proc/modules || insmod "$top/build/kmod/$(uname -r)/keel.ko"
echo "### memh_bench with keel.ko ($(uname -r), $(nproc) CPUs)"
"$out/memh_bench" "$@"
rmmod keel
echo "### memh_bench without keel.ko (library fallback)"
"$out/memh_bench" "$@"
