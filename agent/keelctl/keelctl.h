/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keelctl's command frame.  A command is one row, struct keelctl_command:
 * its name, its help, its argp options, what positional arguments it takes,
 * and its handler.  The frame (args.c) parses the command line from the row
 * and calls the handler with the result; each cmd_<name>.c defines its row
 * and commands.c lists the rows once, in the order `keelctl --help` shows.
 * Adding a command: write cmd_<name>.c with `const struct keelctl_command
 * keelctl_cmd_<name>`, declare it below, add one line to commands.c.
 */
#ifndef KEELCTL_H
#define KEELCTL_H

#include <argp.h>
#include <jansson.h>
#include <stdbool.h>

#include "keelctl/client.h"

#define KEELCTL_EXIT_FAIL  1
#define KEELCTL_EXIT_USAGE 2

/* keelctl_command.max_args: every argument left on the line is the command's */
#define KEELCTL_ARGS_REST (-1)
/* Values one repeatable option keeps (keelctl events --type ...) */
#define KEELCTL_MAX_VALUES 16
/* Option occurrences one command line keeps */
#define KEELCTL_MAX_OPTS 64

struct keelctl {
	const char *socket;
};

/* A parsed command line: the options given and the positional arguments. */
struct keelctl_args {
	const struct keelctl_command *cmd;
	struct {
		int key;
		const char *arg; /* NULL for a flag */
	} opts[KEELCTL_MAX_OPTS];
	int n_opts;
	char **argv; /* positional arguments, in order */
	int argc;
	int first; /* internal: argv index of the first positional */
};

struct keelctl_command {
	const char *name;
	const char *summary; /* one line for `keelctl --help` */
	/* argp's help: usage line after the name, description \v examples */
	const char *args_doc;
	const char *doc;
	const struct argp_option *options; /* NULL: none */
	const char *repeatable;		   /* keys of options that may be given up to 16 times */
	/* Positional arguments: too few prints "@usage", too many "unexpected argument 'X'@args_hint" */
	int min_args, max_args; /* max_args: KEELCTL_ARGS_REST for any number */
	const char *usage;
	const char *args_hint;
	/* Optional: the words the first argument may be, NULL-terminated, and
	 * the message (one %s: the word given) for another one */
	const char *const *verbs;
	const char *verb_error;
	/*
	 * Optional: checks of option values and arguments once all are parsed;
	 * reports a bad one with argp_error(@state, ...) (exit 2).
	 */
	void (*check)(const struct keelctl_args *a, struct argp_state *state);
	/* Returns keelctl's exit status. */
	int (*run)(const struct keelctl *ctl, const struct keelctl_args *a);
	/*
	 * Instead of the above: a command with subcommands (keelctl blk stats),
	 * each a row of its own, NULL-name terminated; @doc is then what
	 * `keelctl CMD --help` prints after the usage line.
	 */
	const struct keelctl_command *subcommands;
};

/* Every command, in `keelctl --help` order, NULL-terminated (commands.c). */
extern const struct keelctl_command *const keelctl_commands[];

/*
 * Parse @argv (argv[0] is the name messages use) as command @cmd says and
 * run it; returns the exit status (2 for a bad command line).
 */
int keelctl_run_command(const struct keelctl *ctl, const struct keelctl_command *cmd, int argc,
			char **argv);

/* Was option @key given? */
bool keelctl_flag(const struct keelctl_args *a, int key);
/* The last value of option @key, or NULL when it was not given. */
const char *keelctl_value(const struct keelctl_args *a, int key);
/* Every value of option @key, in order, into @out (at most @max); how many. */
int keelctl_values(const struct keelctl_args *a, int key, const char **out, int max);

/* Connect to keeld; prints the reason and returns -1 on failure. */
int keelctl_connect(const struct keelctl *ctl, struct keel_client *c);
/*
 * One request, one reply: connects, sends @req (not taken), returns the
 * reply (ok: true), or prints keeld's error and returns NULL.
 */
json_t *keelctl_call(const struct keelctl *ctl, json_t *req);
/* Pretty-print @v as JSON on stdout. */
void keelctl_print_json(json_t *v);

/* The rows, one per cmd_<name>.c */
extern const struct keelctl_command keelctl_cmd_status;
extern const struct keelctl_command keelctl_cmd_events;
extern const struct keelctl_command keelctl_cmd_subsystem;
extern const struct keelctl_command keelctl_cmd_vm;
extern const struct keelctl_command keelctl_cmd_eni;
extern const struct keelctl_command keelctl_cmd_blk;
extern const struct keelctl_command keelctl_cmd_vdisk;
extern const struct keelctl_command keelctl_cmd_rcache;
extern const struct keelctl_command keelctl_cmd_install;
extern const struct keelctl_command keelctl_cmd_trust;
extern const struct keelctl_command keelctl_cmd_run_installer;
extern const struct keelctl_command keelctl_cmd_exec;

#endif /* KEELCTL_H */
