// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl vdisk create | open | close | list | info | filters | check, and
 * ownership between hosts: handoff | release | migrating | owner.
 * keeld's disks.  keeld does the work (agent/vdisk/subsys*.c); open and
 * close wait here, polling vdisk.list, until the disk server serves or has
 * flushed and exited, so that a script can use the disk as soon as open
 * returns.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keel/vdisk.h"
#include "keelctl/keelctl.h"

#define WAIT_S 60 /* open and close: how long to wait for the server */

struct vd_opts {
	const char *sub, *path, *type, *filters, *socket, *tcp;
	uint64_t size;
	bool json, readonly, no_wait, have_size, standby;
};

static const char doc[] =
	"keeld's virtual disks: create a VMDK with a filter chain, serve it over NBD "
	"(open), stop serving it after a flush (close), and look at it.  Disks must lie "
	"under [vdisk] dirs; create, open and close need root or the [control] group.\n"
	"\n"
	"SUBCOMMANDS:\n"
	"  create PATH --size SIZE [--type T] [--filters \"stats crypt integrity\"]\n"
	"         or with parameters, one --filter per filter, top to bottom:\n"
	"         [--filter throttle:iops=500,bps=10M --filter crypt:key_file=K]\n"
	"  open PATH [--socket SOCK | --tcp [ADDR:]PORT] [--readonly] [--no-wait]\n"
	"  close PATH       flush, stop its disk server\n"
	"  list             the open disks and their state\n"
	"  info PATH        the disk: state, socket, pid, size, restarts (type and CID if closed)\n"
	"  filters PATH     the chain of an open disk, each filter's counters and stats\n"
	"  check PATH       keel_vmdk_check of a closed disk: headers, tables, grains, parents\n"
	"\n"
	"OWNERSHIP (disks on a datastore several hosts share; [vdisk] owner_addr):\n"
	"  open PATH --standby   serve the disk without taking it: its NBD export fails\n"
	"                   I/O (ESHUTDOWN) until this host owns it (a migration's target)\n"
	"  handoff PATH     make this host the owner: ask the owner to release the disk\n"
	"                   (it finishes its I/O, flushes every filter, closes it), or\n"
	"                   wait out the lease of an owner that does not answer, then\n"
	"                   write this host into the owner record and open the disk\n"
	"  release PATH     this host flushes, closes and gives the disk up\n"
	"  migrating PATH on|off   the owner releases even with NBD clients connected\n"
	"                   (set on the source host for a live migration)\n"
	"  owner PATH       the owner record (host, generation, lease) and this\n"
	"                   host's state\n"
	"\n"
	"handoff, release and migrating wait for the disk server's answer and print it.\n"
	"A handoff that fails changes nothing and says why, with one of these codes:\n"
	"  busy         the owner refused: NBD clients are connected and the disk is\n"
	"               not marked migrating (keelctl vdisk migrating PATH on, there)\n"
	"  lost         another host became the owner first\n"
	"  unreachable  the owner renews its lease but does not answer release requests\n"
	"               (a network cut): keel never takes a disk from a live owner\n"
	"  forged       a request or answer did not verify (hosts with different\n"
	"               [vdisk] cluster_key files)\n"
	"  replayed     a request or answer was old or seen before (clocks more than\n"
	"               30 s apart, or a replay)\n"
	"  malformed    the owner record or an answer does not parse (the message\n"
	"               names the file and field)\n"
	"  failed       anything else, e.g. the owner's flush failed (it keeps the disk)\n"
	"Events (keelctl events --type vdisk.): vdisk.release_requested, vdisk.released,\n"
	"vdisk.acquired, vdisk.takeover, vdisk.fenced, vdisk.release_refused,\n"
	"vdisk.handoff_failed.\v"
	"EXAMPLES:\n"
	"  keelctl vdisk create /var/lib/keel/vdisk/d0.vmdk --size 10G --filters \"stats crypt integrity\"\n"
	"  keelctl vdisk create /var/lib/keel/vdisk/d1.vmdk --size 1G --filter stats \\\n"
	"      --filter throttle:iops=500,bps=10M --filter integrity:block_size=64K\n"
	"  keelctl vdisk open /var/lib/keel/vdisk/d0.vmdk\n"
	"  qemu-io -f raw 'nbd+unix:///?socket=/run/keel/vdisk/...nbd' -c 'read 0 1M'\n"
	"  keelctl vdisk filters /var/lib/keel/vdisk/d0.vmdk --json | jq '.filters[].counters'\n"
	"  keelctl vdisk close /var/lib/keel/vdisk/d0.vmdk && keelctl vdisk check /var/lib/keel/vdisk/d0.vmdk\n"
	"  # a disk on a shared datastore moves from host A to host B:\n"
	"  keelctl vdisk open /ds/vm1.vmdk                 # on A: A owns it\n"
	"  keelctl vdisk open /ds/vm1.vmdk --standby       # on B\n"
	"  keelctl vdisk migrating /ds/vm1.vmdk on         # on A, if a VM still has it open\n"
	"  keelctl vdisk handoff /ds/vm1.vmdk              # on B: B owns it\n"
	"  keelctl vdisk owner /ds/vm1.vmdk --json\n"
	"\n"
	"SIZE takes K, M, G, T (powers of 1024).  TYPE: monolithicSparse (default), "
	"monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat.  A chain with crypt "
	"gets a new random key in PATH.key (mode 0600) unless --filter crypt:key_file=FILE "
	"names one.  --filter parameters are the keys of IMAGE.keel's [filter.NAME] "
	"sections (docs/vdisk.md); keeld checks them before it writes anything, and a "
	"path (relative to the disk's directory) must lie under [vdisk] dirs.  Exit status: 0 done, 1 failed or "
	"refused, 2 bad usage.  See docs/vdisk.md (\"Ownership handoff between hosts\").";

static const struct argp_option options[] = {
	{ "size", 'S', "SIZE", 0, "create: the virtual size", 0 },
	{ "type", 't', "TYPE", 0, "create: the createType (default monolithicSparse)", 0 },
	{ "filters", 'f', "LIST", 0,
	  "create: the chain, top to bottom (names separated by spaces or commas)", 0 },
	{ "filter", 'F', "NAME[:KEY=VALUE,...]", 0,
	  "create: the next filter of the chain (top first) with its parameters; repeatable, up to 16",
	  0 },
	{ "socket", 'u', "PATH", 0,
	  "open: serve NBD on this Unix socket (default [vdisk] run_dir/DEV-INO.nbd)", 0 },
	{ "tcp", 'T', "[ADDR:]PORT", 0, "open: serve NBD over TCP instead", 0 },
	{ "readonly", 'r', NULL, 0, "open: read-only", 0 },
	{ "standby", 'B', NULL, 0, "open: serve without taking ownership (ownership on)", 0 },
	{ "no-wait", 'W', NULL, 0,
	  "open, close, handoff, release, migrating: return once keeld has started, not when done",
	  0 },
	{ "json", 'j', NULL, 0, "Print keeld's reply as JSON", 0 },
	{ 0 },
};

/*
 * One --filter NAME[:KEY=VALUE,...] into the request: NAME appended to
 * @filters, its keys into @params[NAME].  NULL or a sentence saying what is
 * wrong with it (@buf).
 */
static const char *add_filter_spec(const char *spec, json_t *filters, json_t *params, char *buf,
				   size_t len)
{
	char *copy = strdup(spec), *colon, *save = NULL, *kv;
	json_t *keys = json_object();
	const char *bad = NULL;

	if (!copy || !keys) {
		bad = "out of memory";
		goto out;
	}
	colon = strchr(copy, ':');
	if (colon)
		*colon = '\0';
	if (!copy[0]) {
		bad = "a filter name is needed before ':'";
		goto out;
	}
	for (kv = colon ? strtok_r(colon + 1, ",", &save) : NULL; kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq || eq == kv) {
			snprintf(buf, len, "'%.64s' is not KEY=VALUE", kv);
			bad = buf;
			goto out;
		}
		*eq = '\0';
		if (json_object_get(keys, kv)) {
			snprintf(buf, len, "%.64s is set twice", kv);
			bad = buf;
			goto out;
		}
		json_object_set_new(keys, kv, json_string(eq + 1));
	}
	if (colon && !json_object_size(keys)) {
		bad = "KEY=VALUE expected after ':'";
		goto out;
	}
	json_array_append_new(filters, json_string(copy));
	if (json_object_size(keys))
		json_object_set(params, copy, keys);
out:
	json_decref(keys);
	free(copy);
	return bad;
}

/* Every --filter into "filters" and "params"; -1 with @why on a bad one. */
static int filter_specs(const struct keelctl_args *a, json_t *req, char *why, size_t len)
{
	const char *specs[KEELCTL_MAX_VALUES], *bad;
	json_t *filters = json_array(), *params = json_object();
	int n = keelctl_values(a, 'F', specs, KEELCTL_MAX_VALUES);
	char buf[160];

	for (int i = 0; i < n; i++) {
		bad = add_filter_spec(specs[i], filters, params, buf, sizeof(buf));
		if (bad) {
			snprintf(why, len, "--filter '%.100s': %s", specs[i], bad);
			json_decref(filters);
			json_decref(params);
			return -1;
		}
	}
	if (req) {
		json_object_set_new(req, "filters", filters);
		json_object_set_new(req, "params", params);
	} else {
		json_decref(filters);
		json_decref(params);
	}
	return 0;
}

static void check(const struct keelctl_args *a, struct argp_state *state)
{
	const char *sub = a->argc ? a->argv[0] : NULL;
	const char *size = keelctl_value(a, 'S');
	uint64_t bytes;

	if (size && keel_vdisk_parse_size(size, &bytes))
		argp_error(state, "--size '%s': a number of bytes, or with K, M, G, T", size);
	if (!sub)
		return; /* the row's usage says a subcommand is needed */
	if (!strcmp(sub, "list") && a->argc > 1)
		argp_error(state, "unexpected argument '%s'", a->argv[1]);
	if (!strcmp(sub, "migrating") &&
	    (a->argc != 3 || (strcmp(a->argv[2], "on") && strcmp(a->argv[2], "off"))))
		argp_error(state, "vdisk migrating needs PATH and on or off");
	if (a->argc > 2 && strcmp(sub, "migrating"))
		argp_error(state, "unexpected argument '%s'", a->argv[2]);
	if (strcmp(sub, "list") && a->argc < 2)
		argp_error(state, "vdisk %s needs a PATH", sub);
	if ((size || keelctl_value(a, 't') || keelctl_value(a, 'f') || keelctl_value(a, 'F')) &&
	    strcmp(sub, "create"))
		argp_error(state, "--size, --type, --filters and --filter are for create");
	if (keelctl_value(a, 'f') && keelctl_value(a, 'F'))
		argp_error(
			state,
			"--filters or --filter, not both (--filter NAME takes no parameters too)");
	if (keelctl_value(a, 'F')) {
		char why[320];

		if (filter_specs(a, NULL, why, sizeof(why)))
			argp_error(state, "%s", why);
	}
	if ((keelctl_value(a, 'u') || keelctl_value(a, 'T') || keelctl_flag(a, 'r') ||
	     keelctl_flag(a, 'B')) &&
	    strcmp(sub, "open"))
		argp_error(state, "--socket, --tcp, --readonly and --standby are for open");
	if (!strcmp(sub, "create") && !size)
		argp_error(state, "vdisk create needs --size");
	if (keelctl_value(a, 'u') && keelctl_value(a, 'T'))
		argp_error(state, "--socket or --tcp, not both");
}

/* keeld resolves paths itself, but not relative to keelctl's directory */
static int absolute(const char *path, char *ret, size_t len)
{
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return snprintf(ret, len, "%s", path) < (int)len ? 0 : -ENAMETOOLONG;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	return snprintf(ret, len, "%s/%s", cwd, path) < (int)len ? 0 : -ENAMETOOLONG;
}

static json_t *filter_list(const char *s)
{
	json_t *arr = json_array();
	char *copy = strdup(s), *save = NULL;

	for (char *t = strtok_r(copy, " ,\t", &save); t; t = strtok_r(NULL, " ,\t", &save))
		json_array_append_new(arr, json_string(t));
	free(copy);
	return arr;
}

/* The disk's entry in vdisk.list, or NULL when keeld has none for it. */
static json_t *find_disk(const struct keelctl *ctl, const char *path, bool *ret_err)
{
	json_t *req = json_pack("{s:s}", "cmd", "vdisk.list"), *rep, *d, *found = NULL;
	size_t i;

	rep = keelctl_call(ctl, req);
	json_decref(req);
	*ret_err = !rep;
	json_array_foreach(json_object_get(rep, "disks"), i, d) {
		if (!strcmp(json_string_value(json_object_get(d, "path")) ?: "", path))
			found = json_incref(d);
	}
	json_decref(rep);
	return found;
}

/* open: until serving or failed; close: until gone or failed. */
static int wait_state(const struct keelctl *ctl, const char *path, bool opening, json_t **ret)
{
	struct timespec ts = { 0, 100 * 1000000L };

	for (int i = 0; i < WAIT_S * 10; i++) {
		const char *st;
		bool err;
		json_t *d = find_disk(ctl, path, &err);

		if (err)
			return KEELCTL_EXIT_FAIL;
		st = json_string_value(json_object_get(d, "state"));
		if ((opening && !d) || (st && !strcmp(st, "failed"))) {
			fprintf(stderr, "keelctl: %s: %s\n", path,
				d ? json_string_value(json_object_get(d, "reason")) :
				    "its disk server went away");
			json_decref(d);
			return KEELCTL_EXIT_FAIL;
		}
		if ((opening && !strcmp(st, "serving")) || (!opening && !d)) {
			*ret = d;
			return 0;
		}
		json_decref(d);
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "keelctl: %s: not %s after %d s (keelctl vdisk info shows its state)\n",
		path, opening ? "serving" : "closed", WAIT_S);
	return KEELCTL_EXIT_FAIL;
}

/* handoff, release, migrating: poll vdisk.owner until the disk server answered op @seq. */
static int wait_op(const struct keelctl *ctl, const char *path, json_int_t seq, json_t **ret)
{
	struct timespec ts = { 0, 50 * 1000000L };
	json_t *req = json_pack("{s:s, s:s}", "cmd", "vdisk.owner", "path", path);
	long limit_ms = 0, waited = 0;

	for (;;) {
		json_t *rep = keelctl_call(ctl, req), *op = json_object_get(rep, "last_op");

		if (!rep) {
			json_decref(req);
			return KEELCTL_EXIT_FAIL;
		}
		if (!limit_ms) /* an acquire may wait out a silent owner's lease */
			limit_ms = 2 * (long)json_integer_value(json_object_get(
					       json_object_get(rep, "server"), "lease_ms")) +
				   60000;
		if (json_integer_value(json_object_get(op, "seq")) != seq) {
			fprintf(stderr,
				"keelctl: %s: keeld no longer has this operation (the disk was closed, or keeld restarted)\n",
				path);
			json_decref(rep);
			json_decref(req);
			return KEELCTL_EXIT_FAIL;
		}
		if (strcmp(json_string_value(json_object_get(op, "state")) ?: "", "running")) {
			json_decref(req);
			*ret = rep;
			return 0;
		}
		json_decref(rep);
		if (waited > limit_ms) {
			fprintf(stderr,
				"keelctl: %s: no answer from its disk server after %ld s (keelctl vdisk owner shows its state)\n",
				path, waited / 1000);
			json_decref(req);
			return KEELCTL_EXIT_FAIL;
		}
		nanosleep(&ts, NULL);
		waited += 50;
	}
}

static void print_owner(const char *path, json_t *rep)
{
	json_t *r = json_object_get(rep, "record"), *sv = json_object_get(rep, "server");
	json_t *op = json_object_get(rep, "last_op");

	if (r)
		printf("%s: owner %s (%s), generation %" JSON_INTEGER_FORMAT
		       ", %s, renewals %" JSON_INTEGER_FORMAT ", lease %" JSON_INTEGER_FORMAT
		       " ms\n",
		       path, json_string_value(json_object_get(r, "host")),
		       json_string_value(json_object_get(r, "addr")),
		       json_integer_value(json_object_get(r, "generation")),
		       json_is_true(json_object_get(r, "released")) ? "released" : "held",
		       json_integer_value(json_object_get(r, "renewals")),
		       json_integer_value(json_object_get(r, "lease_ms")));
	else if (json_object_get(rep, "record_error"))
		printf("%s: %s\n", path, json_string_value(json_object_get(rep, "record_error")));
	else
		printf("%s: no owner record (no host has owned it)\n", path);
	if (sv)
		printf("  this host (%s, %s): %s, generation %" JSON_INTEGER_FORMAT "\n",
		       json_string_value(json_object_get(sv, "host")),
		       json_string_value(json_object_get(sv, "addr")),
		       json_string_value(json_object_get(sv, "state")),
		       json_integer_value(json_object_get(sv, "generation")));
	else if (json_is_false(json_object_get(rep, "ownership")))
		printf("  this host: serves it without ownership ([vdisk] owner_addr is empty)\n");
	else
		printf("  this host: does not serve it\n");
	if (op)
		printf("  last operation here: %s %s%s%s\n",
		       json_string_value(json_object_get(op, "op")),
		       json_string_value(json_object_get(op, "state")),
		       json_object_get(op, "error") ? ": " : "",
		       json_string_value(json_object_get(op, "error")) ?: "");
}

static void print_disk(json_t *d)
{
	const char *tcp = json_string_value(json_object_get(d, "tcp"));
	json_t *f;
	size_t i;

	printf("%s  %s", json_string_value(json_object_get(d, "path")),
	       json_string_value(json_object_get(d, "state")));
	if (json_integer_value(json_object_get(d, "pid")))
		printf("  pid %" JSON_INTEGER_FORMAT,
		       json_integer_value(json_object_get(d, "pid")));
	if (tcp)
		printf("  nbd://%s", tcp);
	else if (json_object_get(d, "socket"))
		printf("  nbd+unix:///?socket=%s", json_string_value(json_object_get(d, "socket")));
	if (json_object_get(d, "type"))
		printf("  %s", json_string_value(json_object_get(d, "type")));
	printf("  %" JSON_INTEGER_FORMAT " bytes", json_integer_value(json_object_get(d, "size")));
	if (json_is_true(json_object_get(d, "readonly")))
		printf("  read-only");
	if (json_integer_value(json_object_get(d, "restarts")))
		printf("  restarts %" JSON_INTEGER_FORMAT,
		       json_integer_value(json_object_get(d, "restarts")));
	printf("\n  filters:");
	json_array_foreach(json_object_get(d, "filters"), i, f)
		printf(" %s", json_string_value(f));
	putchar('\n');
	if (json_object_get(d, "owner"))
		printf("  owner: this host is %s (generation %" JSON_INTEGER_FORMAT ")\n",
		       json_string_value(json_object_get(json_object_get(d, "owner"), "state")),
		       json_integer_value(
			       json_object_get(json_object_get(d, "owner"), "generation")));
	if (json_object_get(d, "reason"))
		printf("  reason: %s\n", json_string_value(json_object_get(d, "reason")));
	if (json_object_get(d, "metadata_error"))
		printf("  metadata: %s\n", json_string_value(json_object_get(d, "metadata_error")));
}

static void print_filters(json_t *rep)
{
	json_t *f;
	size_t i;

	printf("%-10s %10s %10s %12s %12s %8s %9s %7s\n", "filter", "reads", "writes", "read_bytes",
	       "write_bytes", "flushes", "discards", "errors");
	json_array_foreach(json_object_get(rep, "filters"), i, f) {
		json_t *c = json_object_get(f, "counters");

		printf("%-10s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT
		       " %8" JSON_INTEGER_FORMAT " %9" JSON_INTEGER_FORMAT " %7" JSON_INTEGER_FORMAT
		       "\n",
		       json_string_value(json_object_get(f, "name")),
		       json_integer_value(json_object_get(c, "reads")),
		       json_integer_value(json_object_get(c, "writes")),
		       json_integer_value(json_object_get(c, "read_bytes")),
		       json_integer_value(json_object_get(c, "write_bytes")),
		       json_integer_value(json_object_get(c, "flushes")),
		       json_integer_value(json_object_get(c, "discards")),
		       json_integer_value(json_object_get(c, "errors")));
	}
	/* the parameters each filter was opened with ([filter.NAME] of IMAGE.keel) */
	json_array_foreach(json_object_get(rep, "filters"), i, f) {
		const char *key, *sep = "";
		json_t *v;

		if (!json_object_size(json_object_get(f, "params")))
			continue;
		printf("%s:", json_string_value(json_object_get(f, "name")));
		json_object_foreach(json_object_get(f, "params"), key, v) {
			printf("%s %s=%s", sep, key, json_string_value(v));
			sep = ",";
		}
		putchar('\n');
	}
}

static int show(struct vd_opts *o, json_t *rep)
{
	json_t *d, *e, *op;
	size_t i;
	int ret = 0;

	json_object_del(rep, "ok");
	op = json_object_get(rep, "last_op");
	if (op && !strcmp(json_string_value(json_object_get(op, "state")) ?: "", "failed"))
		fprintf(stderr, "keelctl: vdisk %s %s failed (%s): %s\n", o->sub, o->path,
			json_string_value(json_object_get(op, "code")),
			json_string_value(json_object_get(op, "error")));
	if (o->json) {
		keelctl_print_json(rep);
		if (op && strcmp(json_string_value(json_object_get(op, "state")) ?: "", "ok"))
			return KEELCTL_EXIT_FAIL;
		return !strcmp(o->sub, "check") && !json_is_true(json_object_get(rep, "clean")) ?
			       KEELCTL_EXIT_FAIL :
			       0;
	}
	if (!strcmp(o->sub, "list")) {
		if (!json_array_size(json_object_get(rep, "disks")))
			printf("no disk open\n");
		json_array_foreach(json_object_get(rep, "disks"), i, d)
			print_disk(d);
	} else if (!strcmp(o->sub, "filters")) {
		print_filters(rep);
	} else if (!strcmp(o->sub, "check")) {
		json_t *r = json_object_get(rep, "report");

		printf("%s: %s, %s, %" JSON_INTEGER_FORMAT " bytes, %zu layer(s): %s\n", o->path,
		       json_string_value(json_object_get(r, "type")),
		       json_string_value(json_object_get(r, "cid")) ?: "",
		       json_integer_value(json_object_get(r, "size")),
		       json_array_size(json_object_get(r, "layers")),
		       json_is_true(json_object_get(rep, "clean")) ? "clean" : "ERRORS");
		json_array_foreach(json_object_get(r, "errors"), i, e)
			printf("  error: %s\n", json_string_value(e));
		json_array_foreach(json_object_get(r, "warnings"), i, e)
			printf("  warning: %s\n", json_string_value(e));
		ret = json_is_true(json_object_get(rep, "clean")) ? 0 : KEELCTL_EXIT_FAIL;
	} else if (!strcmp(o->sub, "create")) {
		printf("created %s: %s, %" JSON_INTEGER_FORMAT " bytes\n", o->path,
		       json_string_value(json_object_get(rep, "type")),
		       json_integer_value(json_object_get(rep, "size")));
	} else if (!strcmp(o->sub, "close")) {
		printf("closed %s (flushed, server stopped)\n", o->path);
	} else if (!strcmp(o->sub, "owner")) {
		print_owner(o->path, rep);
	} else if (json_object_get(rep, "last_op")) { /* handoff, release, migrating */
		json_t *op = json_object_get(rep, "last_op"), *sv = json_object_get(rep, "server");

		if (!strcmp(json_string_value(json_object_get(op, "state")), "ok"))
			printf("%s %s: done; this host (%s) is %s, generation %" JSON_INTEGER_FORMAT
			       "\n",
			       o->sub, o->path, json_string_value(json_object_get(sv, "host")),
			       json_string_value(json_object_get(sv, "state")),
			       json_integer_value(json_object_get(sv, "generation")));
		else
			ret = KEELCTL_EXIT_FAIL;
	} else if (json_object_get(rep, "seq")) { /* --no-wait */
		printf("%s %s: started\n", o->sub, o->path);
	} else {
		print_disk(rep);
	}
	return ret;
}

static int run(const struct keelctl *ctl, const struct keelctl_args *a)
{
	struct vd_opts o = {
		.sub = a->argv[0],
		.path = a->argc > 1 ? a->argv[1] : NULL,
		.type = keelctl_value(a, 't'),
		.filters = keelctl_value(a, 'f'),
		.socket = keelctl_value(a, 'u'),
		.tcp = keelctl_value(a, 'T'),
		.json = keelctl_flag(a, 'j'),
		.readonly = keelctl_flag(a, 'r'),
		.no_wait = keelctl_flag(a, 'W'),
		.standby = keelctl_flag(a, 'B'),
		.have_size = keelctl_value(a, 'S') != NULL,
	};
	char path[PATH_MAX], cmd[32];
	json_t *req, *rep, *d = NULL;
	int err;

	if (o.have_size)
		keel_vdisk_parse_size(keelctl_value(a, 'S'), &o.size); /* checked by check() */
	if (strcmp(o.sub, "create") && strcmp(o.sub, "open") && strcmp(o.sub, "close") &&
	    strcmp(o.sub, "list") && strcmp(o.sub, "info") && strcmp(o.sub, "filters") &&
	    strcmp(o.sub, "check") && strcmp(o.sub, "handoff") && strcmp(o.sub, "release") &&
	    strcmp(o.sub, "migrating") && strcmp(o.sub, "owner")) {
		fprintf(stderr,
			"keelctl vdisk: unknown subcommand '%s' (create, open, close, list, info, filters, check, handoff, release, migrating, owner)\n",
			o.sub);
		return KEELCTL_EXIT_USAGE;
	}
	snprintf(cmd, sizeof(cmd), "vdisk.%s", o.sub);
	req = json_pack("{s:s}", "cmd", cmd);
	if (o.path) {
		if (absolute(o.path, path, sizeof(path))) {
			fprintf(stderr, "keelctl vdisk: %s: path too long\n", o.path);
			json_decref(req);
			return KEELCTL_EXIT_USAGE;
		}
		json_object_set_new(req, "path", json_string(path));
		o.path = path;
	}
	if (o.have_size)
		json_object_set_new(req, "size", json_integer((json_int_t)o.size));
	if (o.type)
		json_object_set_new(req, "type", json_string(o.type));
	if (o.filters)
		json_object_set_new(req, "filters", filter_list(o.filters));
	if (keelctl_value(a, 'F')) {
		char why[320];

		filter_specs(a, req, why, sizeof(why)); /* checked by check() */
	}
	if (o.socket) {
		char sock[PATH_MAX];

		if (absolute(o.socket, sock, sizeof(sock)) == 0)
			json_object_set_new(req, "socket", json_string(sock));
	}
	if (o.tcp)
		json_object_set_new(req, "tcp", json_string(o.tcp));
	if (o.readonly)
		json_object_set_new(req, "readonly", json_true());
	if (o.standby)
		json_object_set_new(req, "standby", json_true());
	if (!strcmp(o.sub, "migrating"))
		json_object_set_new(req, "on", json_boolean(!strcmp(a->argv[2], "on")));
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	if (!o.no_wait && (!strcmp(o.sub, "open") || !strcmp(o.sub, "close"))) {
		err = wait_state(ctl, o.path, !strcmp(o.sub, "open"), &d);
		if (err) {
			json_decref(rep);
			return err;
		}
		if (d) {
			json_decref(rep);
			rep = d;
		}
	}
	if (!o.no_wait && json_object_get(rep, "seq")) { /* handoff, release, migrating */
		err = wait_op(ctl, o.path, json_integer_value(json_object_get(rep, "seq")), &d);
		json_decref(rep);
		if (err)
			return err;
		rep = d;
	}
	err = show(&o, rep);
	json_decref(rep);
	return err;
}

const struct keelctl_command keelctl_cmd_vdisk = {
	.name = "vdisk",
	.summary =
		"create, open (serve over NBD), close, list, check VMDK disks; hand them between hosts (vdisk)",
	.args_doc = "SUBCOMMAND [PATH]",
	.doc = doc,
	.options = options,
	.min_args = 1,
	.max_args = KEELCTL_ARGS_REST, /* check() counts: list takes no PATH */
	.usage =
		"a subcommand is needed: create, open, close, list, info, filters, check, handoff, release, migrating, owner",
	.repeatable = "F",
	.check = check,
	.run = run,
};
