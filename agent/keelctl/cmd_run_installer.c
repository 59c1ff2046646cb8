// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl run-installer -- CMD [ARGS...]: run CMD as an approved
 * installer.  keeld marks this keelctl process in the kernel (only for a
 * privileged client); CMD, forked from it, and all its descendants inherit
 * the mark, so the files they write become trusted when closed.  After
 * CMD exits, keelctl asks keeld to finish recording them and exits with
 * CMD's status.
 */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keelctl/keelctl.h"

struct run_opts {
	bool quiet, json;
	char **cmd;
	int n_cmd;
};

static const char doc[] =
	"Run CMD as an approved installer: every regular file CMD and its descendants "
	"create or write becomes trusted when its last writer closes it (keeld records "
	"its SHA-256, exec.trust events with reason installer); renames and metadata "
	"changes they make keep the trust.  Changes made by anyone else taint as usual.  "
	"Needs root or the [control] group; CMD runs with keelctl's own credentials.  "
	"Exits with CMD's status (127: CMD could not be started, 128+N: killed by "
	"signal N).  A summary goes to stderr unless --quiet.\v"
	"EXAMPLES:\n"
	"  keelctl run-installer -- make install\n"
	"  keelctl run-installer -- sh -c 'cp build/tool /usr/local/bin/tool'\n"
	"  keelctl run-installer -- pip install --prefix /opt/app app.whl";

static const struct argp_option options[] = {
	{ "quiet", 'q', NULL, 0, "Print no summary", 0 },
	{ "json", 'j', NULL, 0, "Print the summary as JSON on stdout", 0 },
	{ 0 },
};

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct run_opts *o = state->input;

	(void)arg;
	switch (key) {
	case 'q':
		o->quiet = true;
		break;
	case 'j':
		o->json = true;
		break;
	case ARGP_KEY_ARG:
		/* CMD and everything after it belong to CMD */
		o->cmd = &state->argv[state->next - 1];
		o->n_cmd = state->argc - state->next + 1;
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (!o->n_cmd)
			argp_error(state, "usage: keelctl run-installer [OPTION...] -- CMD [ARGS...]");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static json_t *sync_counts(const struct keelctl *ctl)
{
	json_t *req = json_pack("{s:s}", "cmd", "exec.installer_sync");
	json_t *rep = keelctl_call(ctl, req);

	json_decref(req);
	return rep;
}

static json_int_t count(json_t *rep, const char *key)
{
	return rep ? json_integer_value(json_object_get(rep, key)) : 0;
}

int keelctl_run_installer(const struct keelctl *ctl, int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, "-- CMD [ARGS...]", doc, NULL, NULL,
					  NULL };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	struct run_opts o = { 0 };
	json_t *req, *rep, *before, *after;
	int err, status, ret;
	pid_t pid;

	err = keelctl_parse(&argp, argc, argv, &o);
	if (err)
		return err;
	before = sync_counts(ctl);
	if (!before)
		return KEELCTL_EXIT_FAIL;
	req = json_pack("{s:s, s:I}", "cmd", "exec.installer_mark", "pid", (json_int_t)getpid());
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep) {
		json_decref(before);
		return KEELCTL_EXIT_FAIL;	/* nothing was run */
	}
	json_decref(rep);
	fflush(NULL);
	/* like system(3): the terminal's ^C and ^\ are for CMD */
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "keelctl: run-installer: fork: %s\n", strerror(errno));
		json_decref(before);
		return KEELCTL_EXIT_FAIL;
	}
	if (!pid) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		execvp(o.cmd[0], o.cmd);
		fprintf(stderr, "keelctl: run-installer: running %s: %s\n", o.cmd[0],
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "keelctl: run-installer: waiting for %s: %s\n", o.cmd[0],
				strerror(errno));
			json_decref(before);
			return KEELCTL_EXIT_FAIL;
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	after = sync_counts(ctl);
	if (after && o.json) {
		json_t *sum = json_pack("{s:I, s:I, s:I, s:I, s:i}", "trusted",
					     count(after, "recorded") - count(before, "recorded"),
					     "refused",
					     count(after, "refused") - count(before, "refused"),
					     "failed", count(after, "failed") - count(before, "failed"),
					     "waiting", count(after, "waiting"), "status", ret);

		keelctl_print_json(sum);
		json_decref(sum);
	} else if (after && !o.quiet) {
		fprintf(stderr,
			"keelctl: run-installer: %s exited with %d; %lld files trusted, %lld refused, %lld failed (see keelctl events --type exec.install_refused)\n",
			o.cmd[0], ret, (long long)(count(after, "recorded") - count(before, "recorded")),
			(long long)(count(after, "refused") - count(before, "refused")),
			(long long)(count(after, "failed") - count(before, "failed")));
	}
	json_decref(before);
	json_decref(after);
	return ret;
}
