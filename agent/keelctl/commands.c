// SPDX-License-Identifier: GPL-2.0-only
#include <argp.h>
#include <stdio.h>
#include <string.h>

#include "keelctl/keelctl.h"

/* Every keelctl command, in the order `keelctl --help` lists them. */
const struct keelctl_command keelctl_commands[] = {
	{ "status", "keeld's version, kernel features, subsystems and counters", keelctl_status },
	{ "events", "print recent events; --follow for new ones", keelctl_events },
	{ "subsystem", "start or stop a subsystem (root or [control] group)", keelctl_subsystem },
	{ "vm", "list VM NICs: here, departing, known (vmnet)", keelctl_vm },
	{ "eni", "list the ENI whitelist with per-IP counters (vmnet)", keelctl_eni },
	{ "blk", "per-disk read models, miss-ratio curves, recording (blk)", keelctl_blk },
	{ "vdisk", "create, open (serve over NBD), close, list and check VMDK disks (vdisk)", keelctl_vdisk },
	{ "install", "copy a file in atomically and trust it (exec)", keelctl_install },
	{ "trust", "list, add, remove or verify trusted files (exec)", keelctl_trust },
	{ "run-installer", "run CMD as an installer: its writes are trusted (exec)", keelctl_run_installer },
	{ "exec", "show or set exec's mode: audit or enforce", keelctl_exec },
	{ NULL, NULL, NULL },
};

int keelctl_connect(const struct keelctl *ctl, struct keel_client *c)
{
	char why[512];

	if (keel_client_connect(c, ctl->socket, why, sizeof(why)) < 0) {
		fprintf(stderr, "keelctl: %s\n", why);
		return -1;
	}
	return 0;
}

json_t *keelctl_call(const struct keelctl *ctl, json_t *req)
{
	struct keel_client c;
	char why[512];
	json_t *rep;

	if (keelctl_connect(ctl, &c) < 0)
		return NULL;
	rep = keel_client_call(&c, req, why, sizeof(why));
	keel_client_close(&c);
	if (!rep)
		fprintf(stderr, "keelctl: %s\n", why);
	return rep;
}

void keelctl_print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	putchar('\n');
}

int keelctl_parse(const void *argp, int argc, char **argv, void *input)
{
	return argp_parse(argp, argc, argv, 0, NULL, input) ? KEELCTL_EXIT_USAGE : 0;
}

/* "keelctl NOUN list [--json]": the one action of listing commands. */
static error_t parse_list_opt(int key, char *arg, struct argp_state *state)
{
	bool *json = state->input;

	switch (key) {
	case 'j':
		*json = true;
		break;
	case ARGP_KEY_ARG:
		if (state->arg_num > 0 || strcmp(arg, "list"))
			argp_error(state, "unexpected argument '%s': the only action is 'list'", arg);
		break;
	case ARGP_KEY_END:
		if (state->arg_num == 0)
			argp_error(state, "usage: %s list [--json]", state->name);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int keelctl_parse_list(int argc, char **argv, const char *doc, const char *json_help,
		       bool *ret_json)
{
	const struct argp_option options[] = {
		{ "json", 'j', NULL, 0, json_help, 0 },
		{ 0 },
	};
	const struct argp argp = { options, parse_list_opt, "list", doc, NULL, NULL, NULL };

	*ret_json = false;
	return keelctl_parse(&argp, argc, argv, ret_json);
}
