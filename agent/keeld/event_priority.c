// SPDX-License-Identifier: GPL-2.0-only
/*
 * How serious an event is, as a syslog priority: the journal's PRIORITY
 * field, so that `journalctl -p warning` shows what an operator must look
 * at (refusals, taints, losses, failures) without the routine stream.
 * Each subsystem lists its own types (struct keel_subsys_ops
 * .event_priorities); the frame adds its keel.* types and every
 * subsystem's <name>.dropped.  docs/events.md lists the mapping.
 */
#include <stdbool.h>
#include <string.h>
#include <syslog.h>

#include "keeld/sink.h"
#include "keeld/subsys.h"

static const struct keel_event_priority frame_priorities[] = {
	/* "*X": any type ending in X; every report of lost records */
	{ "*.dropped", LOG_WARNING },
	{ "*_dropped", LOG_WARNING }, /* exec.guard_dropped, vmnet.kvm_dropped */
	{ "keel.events_dropped", LOG_WARNING },
	{ "keel.reload_refused", LOG_WARNING },
	{ "keel.start", LOG_NOTICE },
	{ "keel.stop", LOG_NOTICE },
	{ "keel.reload", LOG_NOTICE },
	{ NULL, 0 },
};

static int subsystem_state_priority(json_t *ev)
{
	const char *state = json_string_value(json_object_get(ev, "state"));

	if (!state)
		return LOG_INFO;
	if (!strcmp(state, "failed"))
		return LOG_ERR;
	if (!strcmp(state, "running"))
		return LOG_INFO;
	return LOG_NOTICE; /* unavailable, disabled, stopped: it does not run */
}

static bool ends_with(const char *s, const char *end)
{
	size_t n = strlen(s), e = strlen(end);

	return n >= e && !strcmp(s + n - e, end);
}

/* @type's row in @table: its priority, or -1. */
static int lookup(const struct keel_event_priority *table, const char *type)
{
	for (; table && table->type; table++) {
		const char *t = table->type;

		if (!strcmp(t, type) || (t[0] == '*' && ends_with(type, t + 1)))
			return table->priority;
	}
	return -1;
}

int keel_event_priority(const char *type, json_t *ev)
{
	int prio;

	if (!strcmp(type, "keel.subsystem"))
		return subsystem_state_priority(ev);
	for (size_t i = 0; keel_subsystems[i]; i++) {
		prio = lookup(keel_subsystems[i]->event_priorities, type);
		if (prio >= 0)
			return prio;
	}
	prio = lookup(frame_priorities, type);
	return prio >= 0 ? prio : LOG_INFO;
}
