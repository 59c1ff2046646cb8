// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "keeld/subsys.h"

static const char *const state_names[] = {
	[KEEL_SUBSYS_DISABLED] = "disabled", [KEEL_SUBSYS_UNAVAILABLE] = "unavailable",
	[KEEL_SUBSYS_FAILED] = "failed",     [KEEL_SUBSYS_STOPPED] = "stopped",
	[KEEL_SUBSYS_RUNNING] = "running",
};

const char *keel_subsys_state_name(enum keel_subsys_state state)
{
	return state_names[state];
}

struct keel_subsys *keel_subsys_new(const struct keel_subsys_ops *ops, struct keel_daemon *d)
{
	const void *config = keel_config_subsys(&d->cfg, ops);
	struct keel_subsys *s;

	if (!config)
		return NULL; /* not in the registry */
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ops = ops;
	s->config = config;
	s->cfg = config;
	s->d = d;
	s->state = KEEL_SUBSYS_STOPPED;
	if (ops->priv_size) {
		s->priv = calloc(1, ops->priv_size);
		if (!s->priv) {
			free(s);
			return NULL;
		}
	}
	return s;
}

void keel_subsys_free(struct keel_subsys *s)
{
	if (!s)
		return;
	free(s->priv);
	free(s);
}

static void emit_state(struct keel_subsys *s)
{
	keel_emit(s->d, "keel", "keel.subsystem", keel_subsys_status(s));
}

void keel_subsystems_before_probe(struct keel_daemon *d)
{
	char why[512];

	for (size_t i = 0; keel_subsystems[i]; i++) {
		const struct keel_subsys_ops *ops = keel_subsystems[i];

		why[0] = '\0';
		if (ops->before_probe &&
		    ops->before_probe(keel_config_subsys(&d->cfg, ops), why, sizeof(why)) < 0)
			pr_warn("%s: %s, ignoring", ops->name, why);
	}
}

void keel_subsys_start(struct keel_subsys *s)
{
	char why[sizeof(s->reason)] = "";
	int err;

	s->reason[0] = s->fix[0] = '\0';
	if (!s->cfg->enabled) {
		s->state = KEEL_SUBSYS_DISABLED;
		snprintf(s->reason, sizeof(s->reason), "disabled in the configuration");
		snprintf(s->fix, sizeof(s->fix), "set [%s] enabled = true", s->ops->name);
		emit_state(s);
		return;
	}
	for (int i = 0; i < s->ops->n_needs; i++) {
		enum keel_feature f = s->ops->needs[i];
		const struct keel_feature_result *r = &s->d->features.f[f];

		if (f == KEEL_FEAT_KMOD) /* may have been loaded since */
			keel_features_probe_kmod(&s->d->features);
		if (!r->available) {
			s->state = KEEL_SUBSYS_UNAVAILABLE;
			snprintf(s->reason, sizeof(s->reason), "needs %s: %s", keel_feature_name(f),
				 r->reason);
			snprintf(s->fix, sizeof(s->fix), "%s", r->fix);
			emit_state(s);
			return;
		}
	}
	err = s->ops->open(s, why, sizeof(why));
	if (!err)
		err = s->ops->start(s, why, sizeof(why));
	if (err) {
		s->ops->stop(s);
		s->state = KEEL_SUBSYS_FAILED;
		snprintf(s->reason, sizeof(s->reason), "%s", why);
	} else {
		s->state = KEEL_SUBSYS_RUNNING;
	}
	emit_state(s);
}

void keel_subsys_stop(struct keel_subsys *s, enum keel_subsys_state state, const char *reason)
{
	if (s->state != KEEL_SUBSYS_RUNNING)
		return;
	s->ops->stop(s);
	s->state = state;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	s->fix[0] = '\0';
	emit_state(s);
}

json_t *keel_subsys_status(struct keel_subsys *s)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "name", s->ops->name, "summary",
			      s->ops->summary, "state", keel_subsys_state_name(s->state),
			      "required", s->cfg->required);

	if (s->reason[0])
		json_object_set_new(o, "reason", json_string(s->reason));
	if (s->fix[0])
		json_object_set_new(o, "fix", json_string(s->fix));
	if (s->state == KEEL_SUBSYS_RUNNING && s->ops->counters) {
		json_t *c = json_object();

		s->ops->counters(s, c);
		json_object_set_new(o, "counters", c);
	}
	return o;
}
