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

static int run(const struct keelctl *ctl, const struct keelctl_args *a)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	bool json = keelctl_flag(a, 'j'), quiet = keelctl_flag(a, 'q');
	json_t *req, *rep, *before, *after;
	char **cmd = a->argv; /* CMD and everything after it belong to CMD */
	int status, ret;
	pid_t pid;

	before = sync_counts(ctl);
	if (!before)
		return KEELCTL_EXIT_FAIL;
	req = json_pack("{s:s, s:I}", "cmd", "exec.installer_mark", "pid", (json_int_t)getpid());
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep) {
		json_decref(before);
		return KEELCTL_EXIT_FAIL; /* nothing was run */
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
		execvp(cmd[0], cmd);
		fprintf(stderr, "keelctl: run-installer: running %s: %s\n", cmd[0],
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "keelctl: run-installer: waiting for %s: %s\n", cmd[0],
				strerror(errno));
			json_decref(before);
			return KEELCTL_EXIT_FAIL;
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	after = sync_counts(ctl);
	if (after && json) {
		json_t *sum = json_pack("{s:I, s:I, s:I, s:I, s:i}", "trusted",
					count(after, "recorded") - count(before, "recorded"),
					"refused",
					count(after, "refused") - count(before, "refused"),
					"failed", count(after, "failed") - count(before, "failed"),
					"waiting", count(after, "waiting"), "status", ret);

		keelctl_print_json(sum);
		json_decref(sum);
	} else if (after && !quiet) {
		fprintf(stderr,
			"keelctl: run-installer: %s exited with %d; %lld files trusted, %lld refused, %lld failed (see keelctl events --type exec.install_refused)\n",
			cmd[0], ret,
			(long long)(count(after, "recorded") - count(before, "recorded")),
			(long long)(count(after, "refused") - count(before, "refused")),
			(long long)(count(after, "failed") - count(before, "failed")));
	}
	json_decref(before);
	json_decref(after);
	return ret;
}

const struct keelctl_command keelctl_cmd_run_installer = {
	.name = "run-installer",
	.summary = "run CMD as an installer: its writes are trusted (exec)",
	.args_doc = "-- CMD [ARGS...]",
	.doc = doc,
	.options = options,
	.min_args = 1,
	.max_args = KEELCTL_ARGS_REST,
	.usage = "usage: keelctl run-installer [OPTION...] -- CMD [ARGS...]",
	.run = run,
};
