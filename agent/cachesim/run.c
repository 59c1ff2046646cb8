// SPDX-License-Identifier: GPL-2.0-only
/* Replay a key sequence through one policy, and the policy registry. */
#include <errno.h>
#include <string.h>

#include "cachesim/sim.h"

static const struct keel_sim_policy *const all[] = {
	&keel_sim_keel, &keel_sim_lru,	    &keel_sim_clock,  &keel_sim_fifo,
	&keel_sim_2q,	&keel_sim_arc,	    &keel_sim_s3fifo, &keel_sim_sieve,
	&keel_sim_lirs, &keel_sim_wtinylfu, &keel_sim_belady, NULL,
};

/* Named with -p only: the store's sharded index, for keel-rcache's bench. */
static const struct keel_sim_policy *const variants[] = { &keel_sim_keel16, NULL };

const struct keel_sim_policy *const *keel_sim_policies(void)
{
	return all;
}

const struct keel_sim_policy *keel_sim_policy_find(const char *name)
{
	for (size_t i = 0; all[i]; i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	for (size_t i = 0; variants[i]; i++)
		if (!strcmp(variants[i]->name, name))
			return variants[i];
	return NULL;
}

int keel_sim_run(const struct keel_sim_policy *p, const struct keel_sim_keys *k, __u64 size,
		 struct keel_sim_result *res)
{
	void *c;
	__u64 misses = 0;
	int r;

	if (size == 0 || size >= KEEL_SIM_NIL / 4)
		return -EINVAL;
	r = p->create(size, &c);
	if (r)
		return r;
	for (size_t i = 0; i < k->n; i++)
		misses += !p->access(c, k->key[i], k->next[i]);
	p->destroy(c);
	memset(res, 0, sizeof(*res));
	res->policy = p->name;
	res->size = size;
	res->fraction = k->unique ? (double)size / (double)k->unique : 0;
	res->requests = k->n;
	res->misses = misses;
	res->miss_ratio = k->n ? (double)misses / (double)k->n : 0;
	return 0;
}
