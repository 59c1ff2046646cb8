// SPDX-License-Identifier: GPL-2.0-only
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>

#include "keelctl/keelctl.h"

#define MAX_TYPES 16

struct events_opts {
	bool follow;
	const char *types[MAX_TYPES];
	int n_types;
};

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

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct events_opts *o = state->input;

	switch (key) {
	case 'f':
		o->follow = true;
		break;
	case 't':
		if (o->n_types == MAX_TYPES)
			argp_error(state, "at most %d --type options", MAX_TYPES);
		o->types[o->n_types++] = arg;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s' (use --type)", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int keelctl_events(const struct keelctl *ctl, int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, "", doc, NULL, NULL, NULL };
	struct events_opts o = { 0 };
	struct keel_client c;
	json_t *req, *rep, *types;
	char why[512], *line = NULL;
	size_t cap = 0;
	int err;

	err = keelctl_parse(&argp, argc, argv, &o);
	if (err)
		return err;
	if (keelctl_connect(ctl, &c) < 0)
		return KEELCTL_EXIT_FAIL;
	types = json_array();
	for (int i = 0; i < o.n_types; i++)
		json_array_append_new(types, json_string(o.types[i]));
	req = json_pack("{s:s, s:b, s:o}", "cmd", "events", "follow", o.follow, "types", types);
	rep = keel_client_call(&c, req, why, sizeof(why));
	json_decref(req);
	if (!rep) {
		fprintf(stderr, "keelctl: %s\n", why);
		keel_client_close(&c);
		return KEELCTL_EXIT_FAIL;
	}
	json_decref(rep);
	setvbuf(stdout, NULL, _IOLBF, 0);	/* one event per line, at once */
	while (getline(&line, &cap, c.in) > 0)
		if (fputs(line, stdout) == EOF)
			break;		/* reader went away (| head) */
	free(line);
	keel_client_close(&c);
	return 0;
}
