// SPDX-License-Identifier: GPL-2.0-only
/*
 * The command frame: one argp parser for every command, driven by its row
 * (struct keelctl_command), so that commands hold no parsing code of their
 * own beyond the checks their row cannot express.
 */
#include <stdio.h>
#include <string.h>

#include "keelctl/keelctl.h"

static const char *long_name(const struct keelctl_command *cmd, int key)
{
	for (const struct argp_option *o = cmd->options; o && (o->name || o->key); o++)
		if (o->key == key && o->name)
			return o->name;
	return "?";
}

static int count_of(const struct keelctl_args *a, int key)
{
	int n = 0;

	for (int i = 0; i < a->n_opts; i++)
		n += a->opts[i].key == key;
	return n;
}

/* Keep one more occurrence of option @key: flags once, values last-wins unless repeatable. */
static void add_opt(struct keelctl_args *a, int key, char *arg, struct argp_state *state)
{
	const struct keelctl_command *cmd = a->cmd;
	bool repeatable = cmd->repeatable && strchr(cmd->repeatable, key);
	int i;

	if (repeatable && count_of(a, key) == KEELCTL_MAX_VALUES)
		argp_error(state, "at most %d --%s options", KEELCTL_MAX_VALUES,
			   long_name(cmd, key));
	for (i = 0; i < a->n_opts && !repeatable; i++)
		if (a->opts[i].key == key)
			break;
	if (repeatable)
		i = a->n_opts;
	if (i == a->n_opts) {
		if (a->n_opts == KEELCTL_MAX_OPTS)
			argp_error(state, "more than %d options", KEELCTL_MAX_OPTS);
		a->n_opts++;
	}
	a->opts[i].key = key;
	a->opts[i].arg = arg;
}

static bool is_verb(const struct keelctl_command *cmd, const char *arg)
{
	for (const char *const *v = cmd->verbs; *v; v++)
		if (!strcmp(*v, arg))
			return true;
	return false;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct keelctl_args *a = state->input;
	const struct keelctl_command *cmd = a->cmd;

	switch (key) {
	case ARGP_KEY_ARG:
		/* argp hands the non-options over after every option (it permutes) */
		if (!a->argc)
			a->first = state->next - 1;
		if (a->argc == 0 && cmd->verbs && !is_verb(cmd, arg))
			argp_error(state, cmd->verb_error, arg);
		if (cmd->max_args != KEELCTL_ARGS_REST && a->argc >= cmd->max_args)
			argp_error(state, "unexpected argument '%s'%s", arg,
				   cmd->args_hint ? cmd->args_hint : "");
		a->argc++;
		break;
	case ARGP_KEY_END:
		a->argv = a->argc ? &state->argv[a->first] : &state->argv[state->argc];
		if (cmd->check)
			cmd->check(a, state);
		if (a->argc < cmd->min_args)
			argp_error(state, "%s", cmd->usage);
		break;
	default:
		/* argp's own keys (ARGP_KEY_INIT...) are above every option's */
		if (key <= 0 || key >= ARGP_KEY_END)
			return ARGP_ERR_UNKNOWN;
		add_opt(a, key, arg, state);
		break;
	}
	return 0;
}

bool keelctl_flag(const struct keelctl_args *a, int key)
{
	return count_of(a, key) > 0;
}

const char *keelctl_value(const struct keelctl_args *a, int key)
{
	for (int i = a->n_opts - 1; i >= 0; i--)
		if (a->opts[i].key == key)
			return a->opts[i].arg;
	return NULL;
}

int keelctl_values(const struct keelctl_args *a, int key, const char **out, int max)
{
	int n = 0;

	for (int i = 0; i < a->n_opts && n < max; i++)
		if (a->opts[i].key == key)
			out[n++] = a->opts[i].arg;
	return n;
}

/* keelctl CMD SUBCOMMAND ...: the subcommand's row parses argv from SUBCOMMAND on. */
static int run_subcommand(const struct keelctl *ctl, const struct keelctl_command *cmd, int argc,
			  char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	FILE *out;

	for (const struct keelctl_command *s = cmd->subcommands; s->name; s++)
		if (!strcmp(s->name, sub))
			return keelctl_run_command(ctl, s, argc - 1, argv + 1);
	out = !strcmp(sub, "--help") || !strcmp(sub, "-h") ? stdout : stderr;
	if (out == stderr)
		fprintf(stderr,
			*sub ? "keelctl %s: unknown subcommand '%s'\n\n" :
			       "keelctl %s: a subcommand is needed%s\n\n",
			cmd->name, sub);
	fprintf(out, "Usage: keelctl %s SUBCOMMAND [OPTION...]\n%s\n", cmd->name, cmd->doc);
	return out == stdout ? 0 : KEELCTL_EXIT_USAGE;
}

int keelctl_run_command(const struct keelctl *ctl, const struct keelctl_command *cmd, int argc,
			char **argv)
{
	const struct argp argp = {
		.options = cmd->options,
		.parser = parse_opt,
		.args_doc = cmd->args_doc,
		.doc = cmd->doc,
	};
	struct keelctl_args a = { .cmd = cmd };

	if (cmd->subcommands)
		return run_subcommand(ctl, cmd, argc, argv);
	if (argp_parse(&argp, argc, argv, 0, NULL, &a))
		return KEELCTL_EXIT_USAGE;
	return cmd->run(ctl, &a);
}
