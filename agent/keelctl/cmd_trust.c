// SPDX-License-Identifier: GPL-2.0-only
/* keelctl trust list|add|remove|verify|import-dpkg: the exec trust store through keeld. */
#include <argp.h>
#include <stdio.h>
#include <string.h>

#include "keelctl/keelctl.h"
#include "keelctl/trust_dpkg.h"

struct trust_opts {
	bool json, quick;
	const char *admindir, *root;
	const char *action;
	char **paths;
	int n_paths;
};

static const char doc[] =
	"List, add, remove or verify the files keel's exec subsystem trusts.  "
	"add trusts files already in place (keeld hashes each; refused when one is "
	"open for writing); remove forgets them; verify compares each record with the "
	"file now (inode, change stamp, SHA-256) and exits 1 when any differs.  "
	"import-dpkg [PACKAGE...] trusts every file of the installed Debian packages "
	"(or of those named) whose content still has dpkg's recorded md5; mismatched and "
	"missing files are reported on stderr and never trusted (exit 1 when there are "
	"any), with a progress bar on a terminal and a summary.  "
	"add, remove and import-dpkg need root or the [control] group.\v"
	"EXAMPLES:\n"
	"  keelctl trust list\n"
	"  keelctl trust add /usr/bin/bash /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"  keelctl trust verify /usr/local/bin/myprog\n"
	"  keelctl trust remove /usr/local/bin/myprog\n"
	"  keelctl trust import-dpkg\n"
	"  keelctl trust import-dpkg coreutils bash --json\n"
	"  keelctl trust import-dpkg --admindir /srv/chroot/var/lib/dpkg --root /srv/chroot";

static const struct argp_option options[] = {
	{ "json", 'j', NULL, 0, "Print JSON records", 0 },
	{ "quick", 'q', NULL, 0, "verify: compare inode and stamp only, do not re-hash", 0 },
	{ "admindir", 'a', "DIR", 0, "import-dpkg: dpkg's database (default /var/lib/dpkg)", 0 },
	{ "root", 'r', "DIR", 0, "import-dpkg: the packages' files are under DIR (default /)", 0 },
	{ 0 },
};

static void check(const struct keelctl_args *a, struct argp_state *state)
{
	const char *action = a->argc ? a->argv[0] : "";

	if ((!strcmp(action, "add") || !strcmp(action, "remove")) && a->argc < 2)
		argp_error(state, "trust %s needs at least one PATH", action);
	if (!strcmp(action, "list") && a->argc > 1)
		argp_error(state, "trust list takes no PATH");
}

static void print_rec(json_t *r, bool verify)
{
	const char *path = json_string_value(json_object_get(r, "path"));

	if (verify) {
		printf("%-8s %s: %s\n", json_is_true(json_object_get(r, "ok")) ? "ok" : "CHANGED",
		       path, json_string_value(json_object_get(r, "detail")));
		return;
	}
	printf("%-10s %.16s  %-9s %s%s%s\n", json_string_value(json_object_get(r, "state")),
	       json_string_value(json_object_get(r, "sha256")),
	       json_string_value(json_object_get(r, "source")), path,
	       *json_string_value(json_object_get(r, "note")) ? "  # " : "",
	       json_string_value(json_object_get(r, "note")));
}

/* list or verify, page by page; returns how many records failed verify, or -1. */
static int pages(const struct keelctl *ctl, const struct trust_opts *o, const char *path,
		 json_t *all)
{
	bool verify = !strcmp(o->action, "verify");
	json_int_t next = 0;
	int bad = 0;

	for (;;) {
		json_t *req, *rep, *r;
		size_t i;

		req = json_pack("{s:s, s:I, s:b}", "cmd",
				verify ? "exec.trust_verify" : "exec.trust_list", "offset", next,
				"rehash", !o->quick);
		if (path)
			json_object_set_new(req, "path", json_string(path));
		rep = keelctl_call(ctl, req);
		json_decref(req);
		if (!rep)
			return -1;
		json_array_foreach(json_object_get(rep, "records"), i, r) {
			if (verify && !json_is_true(json_object_get(r, "ok")))
				bad++;
			if (o->json)
				json_array_append(all, r);
			else
				print_rec(r, verify);
		}
		next = json_integer_value(json_object_get(rep, "next"));
		if (!json_is_true(json_object_get(rep, "more"))) {
			json_decref(rep);
			return bad;
		}
		json_decref(rep);
	}
}

static int one_by_one(const struct keelctl *ctl, const struct trust_opts *o, json_t *all)
{
	bool add = !strcmp(o->action, "add");
	int failed = 0;

	for (int i = 0; i < o->n_paths; i++) {
		json_t *req, *rep;

		req = json_pack("{s:s, s:s}", "cmd", add ? "exec.trust_add" : "exec.trust_remove",
				"path", o->paths[i]);
		if (add)
			json_object_set_new(req, "source", json_string("add"));
		rep = keelctl_call(ctl, req);
		json_decref(req);
		if (!rep) {
			failed++;
			continue;
		}
		if (o->json)
			json_array_append(all, add ? json_object_get(rep, "record") : rep);
		else if (add)
			printf("trusted %s\n", json_string_value(json_object_get(
						       json_object_get(rep, "record"), "path")));
		else
			printf("removed %s\n", o->paths[i]);
		json_decref(rep);
	}
	return failed;
}

static int run(const struct keelctl *ctl, const struct keelctl_args *a)
{
	struct trust_opts o = {
		.json = keelctl_flag(a, 'j'),
		.quick = keelctl_flag(a, 'q'),
		.admindir = keelctl_value(a, 'a'),
		.root = keelctl_value(a, 'r'),
		.action = a->argv[0],
		.paths = a->argv + 1,
		.n_paths = a->argc - 1,
	};
	json_t *all = json_array();
	int bad = 0;

	if (!strcmp(o.action, "import-dpkg")) {
		struct dpkg_import_opts d = {
			.admindir = o.admindir ? o.admindir : "/var/lib/dpkg",
			.root = o.root ? o.root : "/",
			.packages = o.paths,
			.n_packages = o.n_paths,
			.json = o.json,
		};

		json_decref(all);
		return keelctl_trust_import_dpkg(ctl, &d);
	}
	if (!strcmp(o.action, "add") || !strcmp(o.action, "remove")) {
		bad = one_by_one(ctl, &o, all);
	} else if (o.n_paths) {
		for (int i = 0; i < o.n_paths && bad >= 0; i++) {
			int n = pages(ctl, &o, o.paths[i], all);

			bad = n < 0 ? -1 : bad + n;
		}
	} else {
		bad = pages(ctl, &o, NULL, all);
	}
	if (o.json && bad >= 0)
		keelctl_print_json(all);
	json_decref(all);
	return bad ? KEELCTL_EXIT_FAIL : 0;
}

static const char *const actions[] = { "list", "add", "remove", "verify", "import-dpkg", NULL };

const struct keelctl_command keelctl_cmd_trust = {
	.name = "trust",
	.summary = "list, add, remove or verify trusted files (exec)",
	.args_doc = "list|add|remove|verify [PATH...]\nimport-dpkg [PACKAGE...]",
	.doc = doc,
	.options = options,
	.min_args = 1,
	.max_args = KEELCTL_ARGS_REST,
	.usage = "usage: keelctl trust list|add|remove|verify [PATH...] | import-dpkg [PACKAGE...]",
	.verbs = actions,
	.verb_error = "unknown action '%s': use list, add, remove, verify or import-dpkg",
	.check = check,
	.run = run,
};
