// SPDX-License-Identifier: GPL-2.0-only
/* keelctl exec mode [audit|enforce] */
#include <argp.h>
#include <stdio.h>
#include <string.h>

#include "keelctl/keelctl.h"

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

static void check(const struct keelctl_args *a, struct argp_state *state)
{
	if (a->argc > 1 && strcmp(a->argv[1], "audit") && strcmp(a->argv[1], "enforce"))
		argp_error(state, "unknown mode '%s': use audit or enforce", a->argv[1]);
}

static int run(const struct keelctl *ctl, const struct keelctl_args *a)
{
	const char *mode = a->argc > 1 ? a->argv[1] : NULL;
	json_t *req, *rep;

	req = json_pack("{s:s}", "cmd", "exec.mode");
	if (mode)
		json_object_set_new(req, "mode", json_string(mode));
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	json_object_del(rep, "ok");
	if (keelctl_flag(a, 'j'))
		keelctl_print_json(rep);
	else
		printf("%s\n", json_string_value(json_object_get(rep, "mode")));
	json_decref(rep);
	return 0;
}

static const char *const actions[] = { "mode", NULL };

const struct keelctl_command keelctl_cmd_exec = {
	.name = "exec",
	.summary = "show or set exec's mode: audit or enforce",
	.args_doc = "mode [audit|enforce]",
	.doc = doc,
	.options = options,
	.min_args = 1,
	.max_args = 2,
	.usage = "usage: keelctl exec mode [audit|enforce]",
	.verbs = actions,
	.verb_error = "unknown action '%s': use mode",
	.check = check,
	.run = run,
};
