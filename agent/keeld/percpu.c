// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keeld/percpu.h"

int keel_percpu_sum(const struct bpf_map *map, __u32 key, void *ret, size_t size)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t n = size / sizeof(__u64);
	__u64 *vals, *sum = ret;
	int err;

	memset(ret, 0, size);
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	if (!map || size % sizeof(__u64))
		return -EINVAL;
	vals = calloc((size_t)ncpu, size);
	if (!vals)
		return -ENOMEM;
	err = bpf_map__lookup_elem(map, &key, sizeof(key), vals, (size_t)ncpu * size, 0);
	for (int cpu = 0; !err && cpu < ncpu; cpu++)
		for (size_t i = 0; i < n; i++)
			sum[i] += vals[(size_t)cpu * n + i];
	free(vals);
	return err;
}
