// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl blk stats | mrc DISK | record DISK FILE: the blk subsystem's
 * per-disk models, miss-ratio curves and trace recordings.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keelctl/keelctl.h"

static const struct argp_option stats_options[] = {
	{ "json", 'j', NULL, 0, "Print JSON (keeld's blk.stats reply)", 0 },
	{ 0 },
};

static const struct argp_option mrc_options[] = {
	{ "json", 'j', NULL, 0, "Print JSON: {disk, mode, rate, points: [[bytes, miss_ratio]...]}",
	  0 },
	{ "plot", 'p', "FILE.svg", 0, "Also draw the curve as SVG, with the model's own point", 0 },
	{ 0 },
};

static const struct argp_option record_options[] = {
	{ "duration", 'd', "S", 0,
	  "Record for S seconds (default: until Ctrl-C, at most [blk] record_max_s)", 0 },
	{ "reset", 'r', NULL, 0,
	  "Empty the disk's model first, so that the model and the trace start together", 0 },
	{ "json", 'j', NULL, 0, "Print the result as JSON", 0 },
	{ 0 },
};

/* --duration S: whole seconds, 1..86400; 0 when not given */
static long duration_of(const struct keelctl_args *a)
{
	const char *arg = keelctl_value(a, 'd');
	char *end;
	long d;

	if (!arg)
		return 0;
	errno = 0;
	d = strtol(arg, &end, 10);
	return errno || *end || end == arg || d <= 0 || d > 86400 ? -1 : d;
}

static void check_record(const struct keelctl_args *a, struct argp_state *state)
{
	if (duration_of(a) < 0)
		argp_error(state, "--duration '%s': give whole seconds, 1..86400",
			   keelctl_value(a, 'd'));
}

static double num(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void fmt_bytes(double b, char *out, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(out, len, b >= 100 || b == (long)b ? "%.0f %s" : "%.1f %s", b, units[u]);
}

static void fmt_ratio(json_t *v, char *out, size_t len)
{
	if (json_is_number(v))
		snprintf(out, len, "%.4f", json_number_value(v));
	else
		snprintf(out, len, "-");
}

static void print_stats(json_t *rep)
{
	json_t *k = json_object_get(rep, "kernel"), *disks = json_object_get(rep, "disks"), *d;
	char cache[32], hr[16], ihr[16];
	size_t i;

	fmt_bytes(num(json_object_get(rep, "cache_bytes")), cache, sizeof(cache));
	printf("kernel: %lld reads, %lld writes, %lld read records sent, %lld dropped, %lld filtered\n",
	       json_integer_value(json_object_get(k, "reads")),
	       json_integer_value(json_object_get(k, "writes")),
	       json_integer_value(json_object_get(k, "sent")),
	       json_integer_value(json_object_get(k, "dropped")),
	       json_integer_value(json_object_get(k, "filtered")));
	printf("model: %s three-queue cache per disk; %zu of at most %lld disks\n\n", cache,
	       json_array_size(disks), json_integer_value(json_object_get(rep, "max_disks")));
	printf("%-8s %-48s %10s %10s %8s %9s %8s\n", "NAME", "DISK", "READS", "BLOCKS", "HIT",
	       "INTERVAL", "LAT_US");
	json_array_foreach(disks, i, d) {
		json_t *t = json_object_get(d, "total");

		fmt_ratio(json_object_get(d, "hit_ratio"), hr, sizeof(hr));
		fmt_ratio(json_object_get(d, "interval_hit_ratio"), ihr, sizeof(ihr));
		printf("%-8s %-48s %10lld %10lld %8s %9s %8lld\n",
		       json_string_value(json_object_get(d, "name")),
		       json_string_value(json_object_get(d, "disk")),
		       json_integer_value(json_object_get(t, "reads")),
		       json_integer_value(json_object_get(t, "blocks")), hr, ihr,
		       json_integer_value(json_object_get(t, "mean_latency_us")));
	}
	if (json_integer_value(json_object_get(rep, "unmodelled_reads")))
		printf("\n%lld reads of disks past [blk] max_disks were not modelled\n",
		       json_integer_value(json_object_get(rep, "unmodelled_reads")));
}

/* A plain SVG: miss ratio (0..1) against cache size, linear axes. */
static int plot_svg(json_t *m, const char *path)
{
	const double W = 720, H = 420, L = 70, R = 20, T = 40, B = 60;
	json_t *pts = json_object_get(m, "points"), *p;
	double xmax = 0, mb = num(json_object_get(m, "model_bytes"));
	double mh = num(json_object_get(m, "model_hit_ratio"));
	char lab[32];
	size_t i;
	FILE *f;

	json_t *kpts = json_object_get(json_object_get(m, "keel_curve"), "points");

	json_array_foreach(pts, i, p)
		xmax = fmax(xmax, num(json_array_get(p, 0)));
	json_array_foreach(kpts, i, p)
		xmax = fmax(xmax, num(json_array_get(p, 0)));
	if (!xmax)
		xmax = 1;
	f = fopen(path, "we");
	if (!f)
		return -errno;
#define X(v) (L + (v) / xmax * (W - L - R))
#define Y(v) (T + (1 - (v)) * (H - T - B))
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		W, H);
	fprintf(f,
		"<text x=\"%.0f\" y=\"22\" font-size=\"14\">LRU miss-ratio curve of %s (%s) — SHARDS %s, rate %.4g</text>\n",
		L, json_string_value(json_object_get(m, "name")),
		json_string_value(json_object_get(m, "disk")),
		json_string_value(json_object_get(m, "mode")), num(json_object_get(m, "rate")));
	for (int t = 0; t <= 10; t += 2) {
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>\n",
			L, Y(t / 10.0), W - R, Y(t / 10.0), L - 6, Y(t / 10.0) + 4, t / 10.0);
		fmt_bytes(xmax * t / 10, lab, sizeof(lab));
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
			X(xmax * t / 10), H - B + 18, lab);
	}
	fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L,
		H - B, W - R, H - B);
	fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L,
		T, L, H - B);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">cache size</text>\n",
		(L + W - R) / 2, H - 15);
	fprintf(f,
		"<text transform=\"translate(18 %.0f) rotate(-90)\" text-anchor=\"middle\">miss ratio</text>\n",
		(T + H - B) / 2);
	fprintf(f,
		"<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"%.1f,%.1f",
		X(0), Y(1.0));
	json_array_foreach(pts, i, p)
		fprintf(f, " %.1f,%.1f", X(num(json_array_get(p, 0))),
			Y(num(json_array_get(p, 1))));
	fprintf(f, "\"/>\n");
	if (json_array_size(kpts)) {
		fprintf(f,
			"<polyline fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\" "
			"stroke-dasharray=\"6 3\" points=\"%.1f,%.1f",
			X(0), Y(1.0));
		json_array_foreach(kpts, i, p)
			fprintf(f, " %.1f,%.1f", X(num(json_array_get(p, 0))),
				Y(num(json_array_get(p, 1))));
		fprintf(f,
			"\"/>\n<text x=\"%.0f\" y=\"%.0f\" fill=\"#2ca02c\">dashed: keel three-queue "
			"(miniature simulation)</text>\n",
			W - R - 300, T + 16);
	}
	if (!isnan(mb) && !isnan(mh) && mb <= xmax) {
		fmt_bytes(mb, lab, sizeof(lab));
		fprintf(f,
			"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#d62728\"/>"
			"<text x=\"%.1f\" y=\"%.1f\">keel model, %s: miss %.3f</text>\n",
			X(mb), Y(1 - mh), X(mb) + 8, Y(1 - mh) - 8, lab, 1 - mh);
	}
	fprintf(f, "</svg>\n");
#undef X
#undef Y
	return fclose(f) ? -errno : 0;
}

/* The three-queue model's own curve, when [blk] mrc_keel_points is not 0. */
static void print_keel_curve(json_t *k)
{
	json_t *pts = json_object_get(k, "points"), *p;
	char lab[32];
	size_t i;

	if (!json_array_size(pts))
		return;
	printf("\nkeel three-queue curve (miniature simulation at rate %.4g, %lld bytes)\n%14s  %s\n",
	       num(json_object_get(k, "rate")),
	       json_integer_value(json_object_get(k, "memory_bytes")), "CACHE", "MISS RATIO");
	json_array_foreach(pts, i, p) {
		fmt_bytes(num(json_array_get(p, 0)), lab, sizeof(lab));
		printf("%14s  %.4f\n", lab, num(json_array_get(p, 1)));
	}
}

static void print_mrc(json_t *m)
{
	json_t *pts = json_object_get(m, "points"), *p;
	size_t n = json_array_size(pts), step = n > 20 ? n / 20 : 1, i;
	char lab[32], hr[16];

	fmt_ratio(json_object_get(m, "model_hit_ratio"), hr, sizeof(hr));
	printf("%s (%s): LRU miss-ratio curve, SHARDS %s at rate %.4g; %lld of %lld block accesses sampled, %lld blocks held, %lld bytes\n",
	       json_string_value(json_object_get(m, "name")),
	       json_string_value(json_object_get(m, "disk")),
	       json_string_value(json_object_get(m, "mode")), num(json_object_get(m, "rate")),
	       json_integer_value(json_object_get(m, "sampled")),
	       json_integer_value(json_object_get(m, "accesses")),
	       json_integer_value(json_object_get(m, "sampled_keys")),
	       json_integer_value(json_object_get(m, "memory_bytes")));
	fmt_bytes(num(json_object_get(m, "model_bytes")), lab, sizeof(lab));
	printf("keel model: %s, hit ratio %s\n\n%14s  %s\n", lab, hr, "CACHE", "MISS RATIO");
	if (!n)
		printf("  (no sampled reads yet)\n");
	for (i = step - 1; i < n; i += step) {
		p = json_array_get(pts, i);
		fmt_bytes(num(json_array_get(p, 0)), lab, sizeof(lab));
		printf("%14s  %.4f\n", lab, num(json_array_get(p, 1)));
	}
	print_keel_curve(json_object_get(m, "keel_curve"));
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int run_record(const struct keelctl *ctl, const struct keelctl_args *a)
{
	const char *disk = a->argv[0], *file = a->argv[1];
	long duration = duration_of(a);
	struct sigaction sa = { .sa_handler = on_signal };
	char path[PATH_MAX];
	json_t *req, *rep;
	bool tty = isatty(STDERR_FILENO);
	time_t start = time(NULL);

	if (file[0] != '/') {
		/* keeld opens the file: make it absolute from here */
		if (!getcwd(path, sizeof(path) - 1) ||
		    strlen(path) + strlen(file) + 2 > sizeof(path)) {
			fprintf(stderr, "keelctl: cannot make '%s' an absolute path\n", file);
			return KEELCTL_EXIT_FAIL;
		}
		strcat(path, "/");
		strcat(path, file);
	} else {
		snprintf(path, sizeof(path), "%s", file);
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	req = json_pack("{s:s, s:s, s:s, s:I, s:b}", "cmd", "blk.record", "disk", disk, "file",
			path, "duration_s", (json_int_t)duration, "reset", keelctl_flag(a, 'r'));
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	json_decref(rep);
	while (!stop_requested && (!duration || time(NULL) - start < duration)) {
		if (tty)
			fprintf(stderr, "\rrecording %s to %s: %lld s%s", disk, path,
				(long long)(time(NULL) - start), duration ? "" : " (Ctrl-C stops)");
		usleep(200000);
	}
	if (tty)
		fprintf(stderr, "\n");
	req = json_pack("{s:s, s:s}", "cmd", "blk.record-stop", "disk", disk);
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	if (keelctl_flag(a, 'j')) {
		keelctl_print_json(rep);
	} else {
		printf("%s (%s): %lld reads recorded to %s (%s)\n",
		       json_string_value(json_object_get(rep, "name")),
		       json_string_value(json_object_get(rep, "disk")),
		       json_integer_value(json_object_get(rep, "records")),
		       json_string_value(json_object_get(rep, "file")),
		       json_string_value(json_object_get(rep, "end")));
		if (*json_string_value(json_object_get(rep, "error")))
			printf("error: %s\n", json_string_value(json_object_get(rep, "error")));
	}
	int rc = *json_string_value(json_object_get(rep, "error")) ? KEELCTL_EXIT_FAIL : 0;

	json_decref(rep);
	return rc;
}

static const char blk_doc[] =
	"The blk subsystem: every block read with its disk ID and LBA, a three-queue "
	"cache model per disk, its LRU miss-ratio curve, and trace recording.\n\n"
	"  keelctl blk stats [--json]                      per-disk reads and hit ratios\n"
	"  keelctl blk mrc DISK [--json] [--plot F.svg]    miss-ratio curve of a disk\n"
	"  keelctl blk record DISK FILE [--duration S] [--reset]\n"
	"                                                  record its reads (keel trace format)\n"
	"DISK is a disk ID (as in 'blk stats'), a device name (loop3, /dev/loop3) or MAJ:MIN.\n"
	"'keelctl blk SUBCOMMAND --help' documents each.";

static const char stats_doc[] =
	"Per disk: its stable ID and where it came from, reads, block accesses, the "
	"three-queue model's hit ratio since it started and over the last blk.stats "
	"interval, and the mean read latency.\v"
	"EXAMPLES:\n"
	"  keelctl blk stats\n"
	"  keelctl blk stats --json | jq '.disks[] | {name, disk, hit_ratio}'";

static const char mrc_doc[] =
	"The estimated LRU miss ratio of DISK at every cache size up to the disk's "
	"size (SHARDS spatial sampling, [blk] mrc_mode and mrc_rate_ppm), and the keel "
	"model's own hit ratio at its size.\v"
	"EXAMPLES:\n"
	"  keelctl blk mrc loop0\n"
	"  keelctl blk mrc vmdk-cid:a19ee72c --plot mrc.svg\n"
	"  keelctl blk mrc loop0 --json | jq '.points[] | select(.[1] < 0.5)' | head -1";

static const char record_doc[] =
	"Record DISK's reads, as keeld sees them, into FILE in keel's trace format "
	"(KEELTRC1), which keel-cachesim replays (--format keel --mode block "
	"--reads-only).  keeld writes FILE: needs root or [control] group.\v"
	"EXAMPLES:\n"
	"  keelctl blk record loop0 /tmp/loop0.keeltrc --duration 60\n"
	"  keelctl blk record loop0 t.keeltrc --reset   # model and trace start together; Ctrl-C ends\n"
	"  keel-cachesim t.keeltrc --format keel --mode block --reads-only --policies keel --sizes 65536";

/* blk stats and blk mrc: one request, printed as text or JSON */
static int run_query(const struct keelctl *ctl, const struct keelctl_args *a, json_t *req)
{
	const char *plot = keelctl_value(a, 'p');
	bool mrc = !strcmp(a->cmd->name, "mrc");
	json_t *rep;
	int err;

	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	json_object_del(rep, "ok");
	if (mrc && plot) {
		err = plot_svg(rep, plot);
		if (err) {
			fprintf(stderr, "keelctl: writing %s: %s\n", plot, strerror(-err));
			json_decref(rep);
			return KEELCTL_EXIT_FAIL;
		}
	}
	if (keelctl_flag(a, 'j'))
		keelctl_print_json(rep);
	else if (mrc)
		print_mrc(rep);
	else
		print_stats(rep);
	json_decref(rep);
	return 0;
}

static int run_stats(const struct keelctl *ctl, const struct keelctl_args *a)
{
	return run_query(ctl, a, json_pack("{s:s}", "cmd", "blk.stats"));
}

static int run_mrc(const struct keelctl *ctl, const struct keelctl_args *a)
{
	return run_query(ctl, a, json_pack("{s:s, s:s}", "cmd", "blk.mrc", "disk", a->argv[0]));
}

/* argv[0] of a subcommand is its own name: argp's messages say "stats: ..." */
static const struct keelctl_command subcommands[] = {
	{
		.name = "stats",
		.args_doc = "",
		.doc = stats_doc,
		.options = stats_options,
		.usage = "usage: keelctl blk stats [--json]",
		.run = run_stats,
	},
	{
		.name = "mrc",
		.args_doc = "DISK",
		.doc = mrc_doc,
		.options = mrc_options,
		.min_args = 1,
		.max_args = 1,
		.usage = "usage: keelctl blk mrc DISK [--json] [--plot FILE.svg]",
		.run = run_mrc,
	},
	{
		.name = "record",
		.args_doc = "DISK FILE",
		.doc = record_doc,
		.options = record_options,
		.min_args = 2,
		.max_args = 2,
		.usage = "usage: keelctl blk record DISK FILE [--duration S] [--reset]",
		.check = check_record,
		.run = run_record,
	},
	{ .name = NULL },
};

const struct keelctl_command keelctl_cmd_blk = {
	.name = "blk",
	.summary = "per-disk read models, miss-ratio curves, recording (blk)",
	.doc = blk_doc,
	.subcommands = subcommands,
};
