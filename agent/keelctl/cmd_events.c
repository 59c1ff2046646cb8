// SPDX-License-Identifier: GPL-2.0-only
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>

#include "keelctl/keelctl.h"

static const char doc[] =
	"Print keeld's recent events, one JSON object per line (NDJSON; schema in "
	"docs/events.md), oldest first; with --follow, keep printing new events as "
	"they happen until interrupted.\v"
	"EXAMPLES:\n"
	"  keelctl events\n"
	"  keelctl events --follow --type exec.exec\n"
	"  keelctl events -f -t blk -t keel     every blk.* and keel.* event";

static const struct argp_option options[] = {
	{ "follow", 'f', NULL, 0, "Keep printing new events", 0 },
	{ "type", 't', "TYPE", 0,
	  "Only events of TYPE (exec.exec) or of a subsystem (exec); repeatable, up to 16", 0 },
	{ 0 },
};

static int run(const struct keelctl *ctl, const struct keelctl_args *a)
{
	const char *type[KEELCTL_MAX_VALUES];
	int n_types = keelctl_values(a, 't', type, KEELCTL_MAX_VALUES);
	bool follow = keelctl_flag(a, 'f');
	struct keel_client c;
	json_t *req, *rep, *types;
	char why[512], *line = NULL;
	size_t cap = 0;

	if (keelctl_connect(ctl, &c) < 0)
		return KEELCTL_EXIT_FAIL;
	types = json_array();
	for (int i = 0; i < n_types; i++)
		json_array_append_new(types, json_string(type[i]));
	req = json_pack("{s:s, s:b, s:o}", "cmd", "events", "follow", follow, "types", types);
	rep = keel_client_call(&c, req, why, sizeof(why));
	json_decref(req);
	if (!rep) {
		fprintf(stderr, "keelctl: %s\n", why);
		keel_client_close(&c);
		return KEELCTL_EXIT_FAIL;
	}
	json_decref(rep);
	setvbuf(stdout, NULL, _IOLBF, 0); /* one event per line, at once */
	while (getline(&line, &cap, c.in) > 0)
		if (fputs(line, stdout) == EOF)
			break; /* reader went away (| head) */
	free(line);
	keel_client_close(&c);
	return 0;
}

const struct keelctl_command keelctl_cmd_events = {
	.name = "events",
	.summary = "print recent events; --follow for new ones",
	.args_doc = "",
	.doc = doc,
	.options = options,
	.repeatable = "t",
	.args_hint = " (use --type)",
	.run = run,
};
