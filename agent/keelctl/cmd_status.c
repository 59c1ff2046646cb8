// SPDX-License-Identifier: GPL-2.0-only
#include <argp.h>
#include <stdio.h>
#include <stdlib.h>

#include "keelctl/keelctl.h"

static const char doc[] =
	"Show keeld's version, the kernel features it probed (and why any is "
	"unavailable), each subsystem's state with the reason and fix when it does "
	"not run, its counters, and the event stream's counters.\v"
	"EXAMPLES:\n"
	"  keelctl status\n"
	"  keelctl status --json | jq '.subsystems[] | {name, state}'";

static const struct argp_option options[] = {
	{ "json", 'j', NULL, 0, "Print JSON (the schema is keeld's status reply)", 0 },
	{ 0 },
};

static void print_features(json_t *feats)
{
	json_t *v;
	size_t i;

	printf("\nkernel features:\n");
	json_array_foreach(feats, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));

		if (json_is_true(json_object_get(v, "available")))
			printf("  %-17s available\n", name);
		else
			printf("  %-17s unavailable: %s\n", name,
			       json_string_value(json_object_get(v, "reason")));
	}
}

/* Hooks that one kernel has and another lacks (an older keeld sends none). */
static void print_hooks(json_t *hooks)
{
	json_t *v;
	size_t i;

	if (!json_array_size(hooks))
		return;
	printf("\nkernel hooks that differ between kernels:\n");
	json_array_foreach(hooks, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *subsys = json_string_value(json_object_get(v, "subsystem"));

		if (json_is_true(json_object_get(v, "present")))
			printf("  %-5s %-28s present\n", subsys, name);
		else
			printf("  %-5s %-28s absent: %s\n", subsys, name,
			       json_string_value(json_object_get(v, "without")));
	}
}

static void print_counters(json_t *counters)
{
	const char *key;
	json_t *val;

	if (!json_object_size(counters))
		return;
	printf("        ");
	json_object_foreach(counters, key, val) {
		char *s = json_dumps(val, JSON_ENCODE_ANY);

		printf(" %s=%s", key, s ? s : "?");
		free(s);
	}
	printf("\n");
}

static void print_subsystems(json_t *subs)
{
	json_t *v;
	size_t i;

	printf("\nsubsystems:\n");
	json_array_foreach(subs, i, v) {
		const char *reason = json_string_value(json_object_get(v, "reason"));
		const char *fix = json_string_value(json_object_get(v, "fix"));

		printf("  %-6s %-12s%s%s\n", json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "state")),
		       json_is_true(json_object_get(v, "required")) ? "(required) " : "",
		       json_string_value(json_object_get(v, "summary")));
		if (reason)
			printf("         reason: %s\n", reason);
		if (fix)
			printf("         fix: %s\n", fix);
		print_counters(json_object_get(v, "counters"));
	}
}

static void print_status_text(json_t *st)
{
	json_t *ev = json_object_get(st, "events");

	printf("keeld %s (libbpf %s) on %s (kernel %s), pid %lld, up %lld s\n",
	       json_string_value(json_object_get(st, "version")),
	       json_string_value(json_object_get(st, "libbpf")),
	       json_string_value(json_object_get(st, "host")),
	       json_string_value(json_object_get(st, "kernel")),
	       json_integer_value(json_object_get(st, "pid")),
	       json_integer_value(json_object_get(st, "uptime_s")));
	print_features(json_object_get(st, "features"));
	print_hooks(json_object_get(st, "hooks"));
	print_subsystems(json_object_get(st, "subsystems"));
	printf("\nevents: %lld emitted, %lld subscribers, %lld dropped; %lld clients\n",
	       json_integer_value(json_object_get(ev, "emitted")),
	       json_integer_value(json_object_get(ev, "subscribers")),
	       json_integer_value(json_object_get(ev, "dropped")),
	       json_integer_value(json_object_get(ev, "clients")));
}

static int run(const struct keelctl *ctl, const struct keelctl_args *a)
{
	bool json = keelctl_flag(a, 'j');
	json_t *req, *rep;

	req = json_pack("{s:s}", "cmd", "status");
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	if (json)
		keelctl_print_json(json_object_get(rep, "status"));
	else
		print_status_text(json_object_get(rep, "status"));
	json_decref(rep);
	return 0;
}

const struct keelctl_command keelctl_cmd_status = {
	.name = "status",
	.summary = "keeld's version, kernel features, subsystems and counters",
	.args_doc = "",
	.doc = doc,
	.options = options,
	.run = run,
};
