// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>

#include "keelctl/keelctl.h"

/* Every keelctl command, in the order `keelctl --help` lists them. */
const struct keelctl_command *const keelctl_commands[] = {
	&keelctl_cmd_status,
	&keelctl_cmd_events,
	&keelctl_cmd_subsystem,
	&keelctl_cmd_vm,
	&keelctl_cmd_eni,
	&keelctl_cmd_blk,
	&keelctl_cmd_vdisk,
	&keelctl_cmd_rcache,
	&keelctl_cmd_install,
	&keelctl_cmd_trust,
	&keelctl_cmd_run_installer,
	&keelctl_cmd_exec,
	NULL,
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
