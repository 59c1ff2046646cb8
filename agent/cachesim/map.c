// SPDX-License-Identifier: GPL-2.0-only
/* u64 -> u32 hash map for the simulator: linear probing, no tombstones. */
#include <errno.h>
#include <stdlib.h>

#include "cachesim/sim.h"

static size_t map_slot(const struct keel_sim_map *m, __u64 key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & m->mask;
}

int keel_sim_map_init(struct keel_sim_map *m, size_t expected)
{
	size_t size = 16;

	/* At most half full, so probes stay short. */
	while (size < expected * 2)
		size <<= 1;
	m->keys = malloc(size * sizeof(*m->keys));
	m->vals = malloc(size * sizeof(*m->vals));
	if (!m->keys || !m->vals) {
		free(m->keys);
		free(m->vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < size; i++)
		m->vals[i] = KEEL_SIM_NIL;
	m->mask = size - 1;
	m->n = 0;
	return 0;
}

void keel_sim_map_fini(struct keel_sim_map *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
}

__u32 keel_sim_map_get(const struct keel_sim_map *m, __u64 key)
{
	for (size_t i = map_slot(m, key);; i = (i + 1) & m->mask) {
		if (m->vals[i] == KEEL_SIM_NIL)
			return KEEL_SIM_NIL;
		if (m->keys[i] == key)
			return m->vals[i];
	}
}

static int map_grow(struct keel_sim_map *m)
{
	struct keel_sim_map bigger;
	int err = keel_sim_map_init(&bigger, (m->mask + 1));

	if (err)
		return err;
	for (size_t i = 0; i <= m->mask; i++)
		if (m->vals[i] != KEEL_SIM_NIL)
			keel_sim_map_put(&bigger, m->keys[i], m->vals[i]);
	keel_sim_map_fini(m);
	*m = bigger;
	return 0;
}

int keel_sim_map_put(struct keel_sim_map *m, __u64 key, __u32 val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->mask + 1) {
		int err = map_grow(m);

		if (err)
			return err;
	}
	for (i = map_slot(m, key); m->vals[i] != KEEL_SIM_NIL; i = (i + 1) & m->mask) {
		if (m->keys[i] == key) {
			m->vals[i] = val;
			return 0;
		}
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return 0;
}

void keel_sim_map_del(struct keel_sim_map *m, __u64 key)
{
	size_t i = map_slot(m, key), j;

	while (m->vals[i] != KEEL_SIM_NIL && m->keys[i] != key)
		i = (i + 1) & m->mask;
	if (m->vals[i] == KEEL_SIM_NIL)
		return;
	/* Backward-shift: pull later entries of the run into the hole so
	 * lookups never need tombstones. */
	for (j = (i + 1) & m->mask; m->vals[j] != KEEL_SIM_NIL; j = (j + 1) & m->mask) {
		size_t home = map_slot(m, m->keys[j]);

		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			i = j;
		}
	}
	m->vals[i] = KEEL_SIM_NIL;
	m->n--;
}
