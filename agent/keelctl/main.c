// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl: keel's command line.  It only talks to keeld over the control
 * socket, never to BPF maps, so keeld stays the one writer.
 */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keelctl/client.h"
#include "keeld/version.h"

#define EXIT_USAGE 2
#define MAX_TYPES 16

struct env {
	const char *socket;
	bool json;
	bool follow;
	const char *types[MAX_TYPES];
	int n_types;
	char **args;		/* the command and its arguments */
	int n_args;
};

const char *argp_program_version = "keelctl " KEEL_VERSION;
const char *argp_program_bug_address = "the keel issue tracker";

static const char doc[] =
	"keelctl -- control and watch keeld, keel's agent.\n"
	"\n"
	"COMMANDS:\n"
	"  status                   keeld's version, the kernel features it found, each\n"
	"                           subsystem's state (and, when it does not run, why and\n"
	"                           what would fix it), counters\n"
	"  events                   print the recent events (NDJSON, one per line); with\n"
	"                           --follow keep printing new ones until interrupted\n"
	"  subsystem start NAME     start a subsystem that is stopped (root or [control] group)\n"
	"  subsystem stop NAME      stop a running subsystem (root or [control] group)\n"
	"\n"
	"OPTIONS:\v"
	"EXIT STATUS: 0 on success; 1 when keeld cannot be reached or refuses the "
	"request (the message says why); 2 for a bad command line.\n"
	"\n"
	"EXAMPLES:\n"
	"  keelctl status\n"
	"  keelctl status --json | jq '.subsystems[] | {name, state}'\n"
	"  keelctl events --follow --type exec.exec\n"
	"  keelctl events -f -t blk           every blk.* event\n"
	"  keelctl subsystem stop blk\n"
	"\n"
	"The socket is [control] socket in keeld's configuration (default "
	"/run/keel/keel.sock), or $KEEL_SOCKET.  Event types and fields: docs/events.md.";

static const struct argp_option options[] = {
	{ "socket", 's', "PATH", 0, "keeld's control socket (default $KEEL_SOCKET or /run/keel/keel.sock)", 0 },
	{ "json", 'j', NULL, 0, "status: print JSON instead of text", 0 },
	{ "follow", 'f', NULL, 0, "events: keep printing new events", 0 },
	{ "type", 't', "TYPE", 0, "events: only this type (exec.exec) or subsystem (exec); repeatable", 0 },
	{ 0 },
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct env *env = state->input;

	switch (key) {
	case 's':
		env->socket = arg;
		break;
	case 'j':
		env->json = true;
		break;
	case 'f':
		env->follow = true;
		break;
	case 't':
		if (env->n_types == MAX_TYPES)
			argp_error(state, "at most %d --type options", MAX_TYPES);
		env->types[env->n_types++] = arg;
		break;
	case ARGP_KEY_ARGS:
		env->args = state->argv + state->next;
		env->n_args = state->argc - state->next;
		break;
	case ARGP_KEY_NO_ARGS:
		argp_error(state, "no command given (status, events, subsystem)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int connect_or_fail(struct keel_client *c, const struct env *env)
{
	char why[512];

	if (keel_client_connect(c, env->socket, why, sizeof(why)) < 0) {
		fprintf(stderr, "keelctl: %s\n", why);
		return 1;
	}
	return 0;
}

static void print_status_text(json_t *st)
{
	json_t *feats = json_object_get(st, "features");
	json_t *subs = json_object_get(st, "subsystems");
	json_t *ev = json_object_get(st, "events");
	json_t *v;
	size_t i;

	printf("keeld %s (libbpf %s) on %s (kernel %s), pid %lld, up %lld s\n",
	       json_string_value(json_object_get(st, "version")),
	       json_string_value(json_object_get(st, "libbpf")),
	       json_string_value(json_object_get(st, "host")),
	       json_string_value(json_object_get(st, "kernel")),
	       json_integer_value(json_object_get(st, "pid")),
	       json_integer_value(json_object_get(st, "uptime_s")));
	printf("\nkernel features:\n");
	json_array_foreach(feats, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));

		if (json_is_true(json_object_get(v, "available")))
			printf("  %-17s available\n", name);
		else
			printf("  %-17s unavailable: %s\n", name,
			       json_string_value(json_object_get(v, "reason")));
	}
	printf("\nsubsystems:\n");
	json_array_foreach(subs, i, v) {
		const char *reason = json_string_value(json_object_get(v, "reason"));
		const char *fix = json_string_value(json_object_get(v, "fix"));
		json_t *counters = json_object_get(v, "counters");
		const char *key;
		json_t *val;

		printf("  %-6s %-12s%s%s\n", json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "state")),
		       json_is_true(json_object_get(v, "required")) ? "(required) " : "",
		       json_string_value(json_object_get(v, "summary")));
		if (reason)
			printf("         reason: %s\n", reason);
		if (fix)
			printf("         fix: %s\n", fix);
		if (json_object_size(counters)) {
			printf("        ");
			json_object_foreach(counters, key, val) {
				char *s = json_dumps(val, JSON_ENCODE_ANY);

				printf(" %s=%s", key, s ? s : "?");
				free(s);
			}
			printf("\n");
		}
	}
	printf("\nevents: %lld emitted, %lld subscribers, %lld dropped; %lld clients\n",
	       json_integer_value(json_object_get(ev, "emitted")),
	       json_integer_value(json_object_get(ev, "subscribers")),
	       json_integer_value(json_object_get(ev, "dropped")),
	       json_integer_value(json_object_get(ev, "clients")));
}

static int do_status(const struct env *env)
{
	struct keel_client c;
	json_t *req, *rep;
	char why[512];

	if (env->n_args != 1) {
		fprintf(stderr, "keelctl: status takes no arguments\n");
		return EXIT_USAGE;
	}
	if (connect_or_fail(&c, env))
		return 1;
	req = json_pack("{s:s}", "cmd", "status");
	rep = keel_client_call(&c, req, why, sizeof(why));
	json_decref(req);
	keel_client_close(&c);
	if (!rep) {
		fprintf(stderr, "keelctl: %s\n", why);
		return 1;
	}
	if (env->json) {
		json_dumpf(json_object_get(rep, "status"), stdout,
			   JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		print_status_text(json_object_get(rep, "status"));
	}
	json_decref(rep);
	return 0;
}

static int do_events(const struct env *env)
{
	struct keel_client c;
	json_t *req, *rep, *types = json_array();
	char why[512], *line = NULL;
	size_t cap = 0;

	if (env->n_args != 1) {
		fprintf(stderr, "keelctl: events takes no arguments (use --type)\n");
		return EXIT_USAGE;
	}
	if (connect_or_fail(&c, env))
		return 1;
	for (int i = 0; i < env->n_types; i++)
		json_array_append_new(types, json_string(env->types[i]));
	req = json_pack("{s:s, s:b, s:o}", "cmd", "events", "follow", env->follow, "types", types);
	rep = keel_client_call(&c, req, why, sizeof(why));
	json_decref(req);
	if (!rep) {
		fprintf(stderr, "keelctl: %s\n", why);
		keel_client_close(&c);
		return 1;
	}
	json_decref(rep);
	setvbuf(stdout, NULL, _IOLBF, 0);	/* one event per line, at once */
	while (getline(&line, &cap, c.in) > 0)
		fputs(line, stdout);
	free(line);
	keel_client_close(&c);
	return 0;
}

static int do_subsystem(const struct env *env)
{
	struct keel_client c;
	json_t *req, *rep, *sub;
	char why[512];

	if (env->n_args != 3 || (strcmp(env->args[1], "start") && strcmp(env->args[1], "stop"))) {
		fprintf(stderr, "keelctl: usage: keelctl subsystem start|stop NAME\n");
		return EXIT_USAGE;
	}
	if (connect_or_fail(&c, env))
		return 1;
	req = json_pack("{s:s, s:s, s:s}", "cmd", "subsystem", "action", env->args[1],
			"name", env->args[2]);
	rep = keel_client_call(&c, req, why, sizeof(why));
	json_decref(req);
	keel_client_close(&c);
	if (!rep) {
		fprintf(stderr, "keelctl: %s\n", why);
		return 1;
	}
	sub = json_object_get(rep, "subsystem");
	if (env->json) {
		json_dumpf(sub, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		const char *reason = json_string_value(json_object_get(sub, "reason"));

		printf("%s: %s%s%s\n", env->args[2],
		       json_string_value(json_object_get(sub, "state")),
		       reason ? ": " : "", reason ? reason : "");
	}
	json_decref(rep);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, "COMMAND [ARGS...]", doc,
					  NULL, NULL, NULL };
	struct env env = { 0 };
	const char *cmd;

	env.socket = getenv("KEEL_SOCKET");
	if (!env.socket || !*env.socket)
		env.socket = "/run/keel/keel.sock";
	if (argp_parse(&argp, argc, argv, 0, NULL, &env))
		return EXIT_USAGE;
	signal(SIGPIPE, SIG_IGN);
	cmd = env.args[0];
	if (!strcmp(cmd, "status"))
		return do_status(&env);
	if (!strcmp(cmd, "events"))
		return do_events(&env);
	if (!strcmp(cmd, "subsystem"))
		return do_subsystem(&env);
	fprintf(stderr, "keelctl: unknown command '%s' (status, events, subsystem); see keelctl --help\n",
		cmd);
	return EXIT_USAGE;
}
