// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl: keel's command line.  It only talks to keeld over the control
 * socket, never to BPF maps, so keeld stays their one writer.  Global
 * options come before the command; each command parses its own.
 */
#include <argp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keelctl/keelctl.h"
#include "keeld/version.h"

const char *argp_program_version = "keelctl " KEEL_VERSION;
const char *argp_program_bug_address = "the keel issue tracker";

static const char doc[] =
	"keelctl -- control and watch keeld, keel's agent.\n"
	"\n"
	"Run 'keelctl COMMAND --help' for a command's own options.\v"
	"EXIT STATUS: 0 on success; 1 when keeld cannot be reached or refuses the "
	"request (the message says why); 2 for a bad command line.\n"
	"\n"
	"EXAMPLES:\n"
	"  keelctl status\n"
	"  keelctl status --json | jq '.subsystems[] | {name, state}'\n"
	"  keelctl events --follow --type exec.exec\n"
	"  keelctl subsystem stop blk\n"
	"  keelctl -s /tmp/keel.sock status\n"
	"\n"
	"The socket is keeld's [control] socket (default /run/keel/keel.sock), "
	"$KEEL_SOCKET, or --socket.  Event types and fields: docs/events.md.";

struct global {
	struct keelctl ctl;
	int cmd_index; /* argv index of the command */
};

static const struct argp_option options[] = {
	{ "socket", 's', "PATH", 0,
	  "keeld's control socket (default $KEEL_SOCKET or /run/keel/keel.sock)", 0 },
	{ 0 },
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct global *g = state->input;

	switch (key) {
	case 's':
		g->ctl.socket = arg;
		break;
	case ARGP_KEY_ARG:
		/* the command: stop here, it parses the rest itself */
		g->cmd_index = state->next - 1;
		state->next = state->argc;
		break;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "no command given; see keelctl --help");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* The COMMANDS section of --help, made from the command table. */
static char *help_filter(int key, const char *text, void *input)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)input;
	if (key != ARGP_KEY_HELP_PRE_DOC || !(f = open_memstream(&out, &len)))
		return (char *)text;
	fprintf(f, "%s\n\nCOMMANDS:\n", text);
	for (const struct keelctl_command *const *c = keelctl_commands; *c; c++)
		fprintf(f, "  %-14s %s\n", (*c)->name, (*c)->summary);
	fprintf(f, "\nGLOBAL OPTIONS (before the command):");
	fclose(f);
	return out;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { options,     parse_opt, "COMMAND [ARGS...]", doc, NULL,
					  help_filter, NULL };
	struct global g = { { NULL }, 0 };
	const char *cmd;

	/* argp exits with 64 (EX_USAGE) on a bad command line; ours is 2 */
	argp_err_exit_status = 2;

	g.ctl.socket = getenv("KEEL_SOCKET");
	if (!g.ctl.socket || !*g.ctl.socket)
		g.ctl.socket = "/run/keel/keel.sock";
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &g))
		return KEELCTL_EXIT_USAGE;
	signal(SIGPIPE, SIG_IGN);
	cmd = argv[g.cmd_index];
	for (const struct keelctl_command *const *c = keelctl_commands; *c; c++) {
		char name[64];

		if (strcmp((*c)->name, cmd))
			continue;
		/* so that the command's --help and errors say "keelctl CMD" */
		snprintf(name, sizeof(name), "keelctl %s", (*c)->name);
		argv[g.cmd_index] = name;
		return keelctl_run_command(&g.ctl, *c, argc - g.cmd_index, argv + g.cmd_index);
	}
	fprintf(stderr, "keelctl: unknown command '%s'; see keelctl --help\n", cmd);
	return KEELCTL_EXIT_USAGE;
}
