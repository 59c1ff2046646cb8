/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keelctl's command frame.  Each command lives in its own cmd_<name>.c,
 * parses its own options with argp (so `keelctl CMD --help` documents it),
 * and is listed once in commands.c.
 */
#ifndef KEELCTL_H
#define KEELCTL_H

#include <jansson.h>
#include <stdbool.h>

#include "keelctl/client.h"

#define KEELCTL_EXIT_FAIL 1
#define KEELCTL_EXIT_USAGE 2

struct keelctl {
	const char *socket;
};

struct keelctl_command {
	const char *name;
	const char *summary;	/* one line for `keelctl --help` */
	/* argv[0] is the command's name; returns the exit status */
	int (*run)(const struct keelctl *ctl, int argc, char **argv);
};

extern const struct keelctl_command keelctl_commands[];	/* NULL-terminated */

/* Connect to keeld; prints the reason and returns -1 on failure. */
int keelctl_connect(const struct keelctl *ctl, struct keel_client *c);
/*
 * One request, one reply: connects, sends @req (not taken), returns the
 * reply (ok: true), or prints keeld's error and returns NULL.
 */
json_t *keelctl_call(const struct keelctl *ctl, json_t *req);
/* Pretty-print @v as JSON on stdout. */
void keelctl_print_json(json_t *v);
/* Parse a command's own options: argp_parse on argv with error exit 2. */
int keelctl_parse(const void *argp, int argc, char **argv, void *input);
/* Parse "list [--json]", the only action of a listing command. */
int keelctl_parse_list(int argc, char **argv, const char *doc, const char *json_help,
		       bool *ret_json);

int keelctl_status(const struct keelctl *ctl, int argc, char **argv);
int keelctl_events(const struct keelctl *ctl, int argc, char **argv);
int keelctl_subsystem(const struct keelctl *ctl, int argc, char **argv);
int keelctl_vm(const struct keelctl *ctl, int argc, char **argv);
int keelctl_eni(const struct keelctl *ctl, int argc, char **argv);
int keelctl_install(const struct keelctl *ctl, int argc, char **argv);
int keelctl_trust(const struct keelctl *ctl, int argc, char **argv);
int keelctl_run_installer(const struct keelctl *ctl, int argc, char **argv);
int keelctl_exec(const struct keelctl *ctl, int argc, char **argv);
int keelctl_blk(const struct keelctl *ctl, int argc, char **argv);
int keelctl_vdisk(const struct keelctl *ctl, int argc, char **argv);

#endif /* KEELCTL_H */
