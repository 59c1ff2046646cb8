// SPDX-License-Identifier: GPL-2.0-only
/* keelctl exec mode [audit|enforce] */
#include <argp.h>
#include <stdio.h>
#include <string.h>

#include "keelctl/keelctl.h"

struct exec_opts {
	bool json;
	const char *mode;
	bool have_verb;
};

static const char doc[] =
	"Show or set exec's mode.  audit allows untrusted code and reports it "
	"(exec.allow_audit events); enforce refuses it with EPERM (exec.deny).  "
	"The mode is kept in the trust store and survives keeld restarts.  Before "
	"the first enforce, enroll what must keep running (docs/exec.md).  Setting "
	"needs root or the [control] group.\v"
	"EXAMPLES:\n"
	"  keelctl exec mode\n"
	"  keelctl exec mode enforce\n"
	"  keelctl exec mode audit --json";

static const struct argp_option options[] = {
	{ "json", 'j', NULL, 0, "Print JSON", 0 },
	{ 0 },
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct exec_opts *o = state->input;

	switch (key) {
	case 'j':
		o->json = true;
		break;
	case ARGP_KEY_ARG:
		if (state->arg_num == 0 && !strcmp(arg, "mode"))
			o->have_verb = true;
		else if (state->arg_num == 0)
			argp_error(state, "unknown action '%s': use mode", arg);
		else if (state->arg_num == 1 && (!strcmp(arg, "audit") || !strcmp(arg, "enforce")))
			o->mode = arg;
		else if (state->arg_num == 1)
			argp_error(state, "unknown mode '%s': use audit or enforce", arg);
		else
			argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END:
		if (!o->have_verb)
			argp_error(state, "usage: keelctl exec mode [audit|enforce]");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int keelctl_exec(const struct keelctl *ctl, int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, "mode [audit|enforce]", doc, NULL,
					  NULL, NULL };
	struct exec_opts o = { 0 };
	json_t *req, *rep;
	int err;

	err = keelctl_parse(&argp, argc, argv, &o);
	if (err)
		return err;
	req = json_pack("{s:s}", "cmd", "exec.mode");
	if (o.mode)
		json_object_set_new(req, "mode", json_string(o.mode));
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	json_object_del(rep, "ok");
	if (o.json)
		keelctl_print_json(rep);
	else
		printf("%s\n", json_string_value(json_object_get(rep, "mode")));
	json_decref(rep);
	return 0;
}
