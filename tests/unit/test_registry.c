// SPDX-License-Identifier: GPL-2.0-only
/*
 * What each subsystem declares for the frame (struct keel_subsys_ops): the
 * frame takes it from the registry and names no subsystem itself, so these
 * tables must hold together: every event type has one priority row at most,
 * each row names an exact type with a journal priority, and the hooks of
 * all subsystems fit the room keeld's probe has for them.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <string.h>
#include <syslog.h>

#include "keeld/sink.h"
#include "keeld/subsys.h"

Test(registry, event_priority_rows_are_exact_and_unique)
{
	size_t rows = 0;

	for (size_t i = 0; keel_subsystems[i]; i++) {
		const struct keel_event_priority *p = keel_subsystems[i]->event_priorities;

		for (; p && p->type; p++, rows++) {
			cr_expect(strchr(p->type, '.') && !strchr(p->type, '*'),
				  "%s: '%s' is not an exact type", keel_subsystems[i]->name,
				  p->type);
			cr_expect(p->priority == LOG_ERR || p->priority == LOG_WARNING ||
					  p->priority == LOG_NOTICE || p->priority == LOG_DEBUG,
				  "%s: %s has priority %d", keel_subsystems[i]->name, p->type,
				  p->priority);
			cr_expect_eq(keel_event_priority(p->type, NULL), p->priority,
				     "%s: %s is %d through the frame, %d in its table",
				     keel_subsystems[i]->name, p->type,
				     keel_event_priority(p->type, NULL), p->priority);
			for (size_t j = 0; j < i; j++)
				for (const struct keel_event_priority *q =
					     keel_subsystems[j]->event_priorities;
				     q && q->type; q++)
					cr_expect(strcmp(p->type, q->type),
						  "%s is in %s's and %s's table", p->type,
						  keel_subsystems[j]->name,
						  keel_subsystems[i]->name);
		}
	}
	cr_log_info("checked: %zu priority rows of %zu subsystems", rows, keel_subsystem_count());
}

Test(registry, hooks_fit_the_probe)
{
	struct keel_hook_state st[KEEL_HOOKS_MAX];
	size_t n = keel_hooks_count();

	cr_assert_leq(n, KEEL_HOOKS_MAX, "%zu hooks, room for %d in struct keel_features", n,
		      KEEL_HOOKS_MAX);
	keel_hooks_probe(st, n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_not_null(st[i].subsystem);
		cr_expect(st[i].hook->name && st[i].hook->btf_name && st[i].hook->progs[0] &&
				  st[i].hook->without,
			  "hook %zu of %s lacks a field", i, st[i].subsystem);
		cr_log_info("checked: %s %s (%s on this kernel)", st[i].subsystem, st[i].hook->name,
			    st[i].present ? "present" : "absent");
	}
}
