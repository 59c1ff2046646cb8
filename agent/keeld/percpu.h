/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-CPU counters: keel's BPF programs count in BPF_MAP_TYPE_PERCPU_ARRAY
 * slots whose value is a struct of __u64 counters only (no lock, no atomic
 * on the hot path); user space sums the CPUs' copies field by field.
 */
#ifndef KEEL_PERCPU_H
#define KEEL_PERCPU_H

#include <bpf/libbpf.h>
#include <linux/types.h>
#include <stddef.h>

/*
 * Sum slot @key of @map over every possible CPU into @ret, a struct of
 * @size bytes made only of __u64 fields.  0 or a negative errno.
 */
int keel_percpu_sum(const struct bpf_map *map, __u32 key, void *ret, size_t size);

#endif /* KEEL_PERCPU_H */
