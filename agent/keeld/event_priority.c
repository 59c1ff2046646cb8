// SPDX-License-Identifier: GPL-2.0-only
/*
 * How serious an event is, as a syslog priority: the journal's PRIORITY
 * field, so that `journalctl -p warning` shows what an operator must look
 * at (refusals, taints, losses, failures) without the routine stream.
 * docs/events.md lists the mapping.
 */
#include <string.h>
#include <syslog.h>

#include "keeld/sink.h"

static const struct {
	const char *type; /* exact type, or "*.what" for any subsystem */
	int priority;
} table[] = {
	/* something failed and needs a person */
	{ "exec.install_failed", LOG_ERR },
	{ "vmnet.map_error", LOG_ERR },
	{ "vdisk.integrity_mismatch", LOG_ERR },
	/* refused, tainted, lost */
	{ "exec.deny", LOG_WARNING },
	{ "exec.taint", LOG_WARNING },
	{ "exec.guard_deny", LOG_WARNING },
	{ "exec.install_refused", LOG_WARNING },
	{ "*.dropped", LOG_WARNING },
	{ "keel.events_dropped", LOG_WARNING },
	{ "keel.reload_refused", LOG_WARNING },
	{ "eni.provider_error", LOG_WARNING },
	{ "eni.provider_queue_full", LOG_WARNING },
	{ "vm.conflict", LOG_WARNING },
	{ "vm.learn_refused", LOG_WARNING },
	{ "vmnet.limit", LOG_WARNING },
	{ "vmnet.inventory_error", LOG_WARNING },
	{ "vmnet.port_error", LOG_WARNING },
	{ "memh.read_error", LOG_WARNING },
	{ "vdisk.error", LOG_WARNING },
	{ "vdisk.fenced", LOG_WARNING },
	{ "vdisk.renew_failed", LOG_WARNING },
	{ "vdisk.release_refused", LOG_WARNING },
	/* worth knowing: audit-mode verdicts, trust and state changes */
	{ "exec.allow_audit", LOG_NOTICE },
	{ "exec.trust", LOG_NOTICE },
	{ "exec.untrust", LOG_NOTICE },
	{ "exec.mode", LOG_NOTICE },
	{ "exec.installer", LOG_NOTICE },
	{ "keel.start", LOG_NOTICE },
	{ "keel.stop", LOG_NOTICE },
	{ "keel.reload", LOG_NOTICE },
	{ "vm.arrive", LOG_NOTICE },
	{ "vm.depart", LOG_NOTICE },
	{ "eni.add", LOG_NOTICE },
	{ "eni.remove", LOG_NOTICE },
	/* the routine stream */
	{ "exec.exec", LOG_DEBUG },
	{ "blk.stats", LOG_DEBUG },
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

int keel_event_priority(const char *type, json_t *ev)
{
	const char *what = strchr(type, '.');

	if (!strcmp(type, "keel.subsystem"))
		return subsystem_state_priority(ev);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const char *t = table[i].type;

		if (!strcmp(t, type) || (t[0] == '*' && what && !strcmp(t + 1, what)))
			return table[i].priority;
	}
	return LOG_INFO;
}
