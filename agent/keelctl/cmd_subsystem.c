// SPDX-License-Identifier: GPL-2.0-only
#include <argp.h>
#include <stdio.h>
#include <string.h>

#include "keelctl/keelctl.h"

static const char doc[] =
	"Start or stop one subsystem of a running keeld.  Stopping detaches its "
	"programs and removes its pins; starting probes its kernel features again.  "
	"Needs root or membership of [control] group.\v"
	"EXAMPLES:\n"
	"  keelctl subsystem stop blk\n"
	"  keelctl subsystem start blk --json";

static const struct argp_option options[] = {
	{ "json", 'j', NULL, 0, "Print the subsystem's new status as JSON", 0 },
	{ 0 },
};

static int run(const struct keelctl *ctl, const struct keelctl_args *a)
{
	const char *action = a->argv[0], *name = a->argv[1];
	json_t *req, *rep, *sub;
	const char *reason;

	req = json_pack("{s:s, s:s, s:s}", "cmd", "subsystem", "action", action, "name", name);
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	sub = json_object_get(rep, "subsystem");
	reason = json_string_value(json_object_get(sub, "reason"));
	if (keelctl_flag(a, 'j'))
		keelctl_print_json(sub);
	else
		printf("%s: %s%s%s\n", name, json_string_value(json_object_get(sub, "state")),
		       reason ? ": " : "", reason ? reason : "");
	json_decref(rep);
	return 0;
}

static const char *const actions[] = { "start", "stop", NULL };

const struct keelctl_command keelctl_cmd_subsystem = {
	.name = "subsystem",
	.summary = "start or stop a subsystem (root or [control] group)",
	.args_doc = "start|stop NAME",
	.doc = doc,
	.options = options,
	.min_args = 2,
	.max_args = 2,
	.usage = "usage: keelctl subsystem start|stop NAME",
	.verbs = actions,
	.verb_error = "unknown action '%s': use start or stop",
	.run = run,
};
