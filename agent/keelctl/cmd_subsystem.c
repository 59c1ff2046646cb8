// SPDX-License-Identifier: GPL-2.0-only
#include <argp.h>
#include <stdio.h>
#include <string.h>

#include "keelctl/keelctl.h"

struct subsystem_opts {
	bool json;
	const char *action;
	const char *name;
};

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

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct subsystem_opts *o = state->input;

	switch (key) {
	case 'j':
		o->json = true;
		break;
	case ARGP_KEY_ARG:
		if (state->arg_num == 0 && (!strcmp(arg, "start") || !strcmp(arg, "stop")))
			o->action = arg;
		else if (state->arg_num == 0)
			argp_error(state, "unknown action '%s': use start or stop", arg);
		else if (state->arg_num == 1)
			o->name = arg;
		else
			argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END:
		if (!o->name)
			argp_error(state, "usage: keelctl subsystem start|stop NAME");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int keelctl_subsystem(const struct keelctl *ctl, int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, "start|stop NAME", doc,
					  NULL, NULL, NULL };
	struct subsystem_opts o = { 0 };
	json_t *req, *rep, *sub;
	const char *reason;
	int err;

	err = keelctl_parse(&argp, argc, argv, &o);
	if (err)
		return err;
	req = json_pack("{s:s, s:s, s:s}", "cmd", "subsystem", "action", o.action, "name", o.name);
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	sub = json_object_get(rep, "subsystem");
	reason = json_string_value(json_object_get(sub, "reason"));
	if (o.json)
		keelctl_print_json(sub);
	else
		printf("%s: %s%s%s\n", o.name, json_string_value(json_object_get(sub, "state")),
		       reason ? ": " : "", reason ? reason : "");
	json_decref(rep);
	return 0;
}
