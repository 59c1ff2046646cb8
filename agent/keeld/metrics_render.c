// SPDX-License-Identifier: GPL-2.0-only
/*
 * The metrics page, in the Prometheus text format (0.0.4): every counter
 * keel keeps, read from the same places `keelctl status` reads.  Labels are
 * bounded: event types come from keel's code (at most 256), subsystems and
 * states from the registry, sinks from a fixed list, a subsystem's own
 * labels from one of its limits (blk's disks: [blk] max_disks); never a
 * file, a pid or an address.
 *
 *   keel_build_info{version}                      1
 *   keel_uptime_seconds
 *   keel_events_total{type}                       events emitted
 *   keel_events_subscriber_dropped_total          lost by slow keelctl subscribers
 *   keel_sink_{queued,written}_total{sink}, keel_sink_pending{sink}
 *   keel_sink_dropped_total{sink,cause}           queue_full, write_error
 *   keel_subsystem_state{subsystem,state}         1 for the current state
 *   keel_<subsystem>_<counter>                    each numeric counter of a
 *                                                 running subsystem (status)
 *   keel_<subsystem>_<series>_<counter>{labels}   a subsystem's series with
 *                                                 labels (.metrics; blk:
 *                                                 keel_blk_disk_*{disk,name})
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keeld/metrics.h"
#include "keeld/sinks.h"
#include "keeld/subsys.h"
#include "keeld/version.h"

/* Write @s as a label value: backslash, quote and newline escaped. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* Metric names are [a-zA-Z_:][a-zA-Z0-9_:]*: anything else becomes '_'. */
static void name_part(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
				      (*s >= '0' && *s <= '9') ?
			      *s :
			      '_',
		      f);
}

static bool number_of(json_t *v, double *ret)
{
	if (json_is_integer(v))
		*ret = (double)json_integer_value(v);
	else if (json_is_real(v))
		*ret = json_real_value(v);
	else if (json_is_boolean(v))
		*ret = json_is_true(v);
	else
		return false;
	return true;
}

static void value(FILE *f, double v)
{
	if (isnan(v))
		fputs(" NaN\n", f);
	else if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, " %.0f\n", v);
	else
		fprintf(f, " %.6g\n", v);
}

/*
 * Each numeric leaf of @o as PREFIX_KEY[_SUBKEY...]{LABELS} (one level of
 * nesting), with @labels already formatted ("" or `disk="..",name=".."`).
 */
static void leaves(FILE *f, const char *prefix, const char *sub, json_t *o, const char *labels)
{
	const char *key;
	json_t *v;
	double d;

	json_object_foreach(o, key, v) {
		if (json_is_object(v) && !sub) {
			leaves(f, prefix, key, v, labels);
			continue;
		}
		if (!number_of(v, &d))
			continue; /* strings, arrays: not counters */
		fputs(prefix, f);
		if (sub) {
			fputc('_', f);
			name_part(f, sub);
		}
		fputc('_', f);
		name_part(f, key);
		if (labels[0])
			fprintf(f, "{%s}", labels);
		value(f, d);
	}
}

static void render_events(FILE *f, struct keel_daemon *d)
{
	const struct keel_event_type_count *types;
	struct keel_event_bus_stats st;
	uint64_t other;
	unsigned int n = keel_event_bus_type_counts(d->bus, &types, &other);

	keel_event_bus_get_stats(d->bus, &st);
	fputs("# HELP keel_events_total Events keeld emitted, by type.\n"
	      "# TYPE keel_events_total counter\n",
	      f);
	for (unsigned int i = 0; i < n; i++) {
		fputs("keel_events_total{type=\"", f);
		label_value(f, types[i].type);
		fprintf(f, "\"} %llu\n", (unsigned long long)types[i].count);
	}
	if (other)
		fprintf(f, "keel_events_total{type=\"other\"} %llu\n", (unsigned long long)other);
	fprintf(f,
		"# HELP keel_events_subscriber_dropped_total Events lost by keelctl subscribers that read too slowly.\n"
		"# TYPE keel_events_subscriber_dropped_total counter\n"
		"keel_events_subscriber_dropped_total %llu\n"
		"# HELP keel_events_subscribers keelctl events --follow connections.\n"
		"# TYPE keel_events_subscribers gauge\nkeel_events_subscribers %u\n",
		(unsigned long long)st.dropped, st.subscribers);
}

static void render_sinks(FILE *f, struct keel_daemon *d)
{
	json_t *sinks = keel_sinks_status(d), *s;
	static const struct {
		const char *metric, *field, *type, *help, *cause;
	} rows[] = {
		{ "keel_sink_queued_total", "queued", "counter", "Events queued for a sink.",
		  NULL },
		{ "keel_sink_written_total", "written", "counter", "Events a sink wrote.", NULL },
		{ "keel_sink_pending", "pending", "gauge", "Events waiting in a sink's queue.",
		  NULL },
		{ "keel_sink_dropped_total", "dropped_queue_full", "counter",
		  "Events a sink lost, by cause.", "queue_full" },
		{ "keel_sink_dropped_total", "dropped_write_error", NULL, NULL, "write_error" },
		{ "keel_sink_file_rotations_total", "rotations", "counter",
		  "Rotations of the events file.", NULL },
	};
	const char *name;

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		if (rows[r].type)
			fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", rows[r].metric, rows[r].help,
				rows[r].metric, rows[r].type);
		json_object_foreach(sinks, name, s) {
			json_t *v = json_object_get(s, rows[r].field);

			if (!json_is_integer(v))
				continue;
			fprintf(f, "%s{sink=\"%s\"", rows[r].metric, name);
			if (rows[r].cause)
				fprintf(f, ",cause=\"%s\"", rows[r].cause);
			fprintf(f, "} %lld\n", (long long)json_integer_value(v));
		}
	}
	json_decref(sinks);
}

/*
 * @labels ({"disk": "sda", ...}) as `disk="sda",...` in @buf; false when
 * there are none or they do not fit (the row is then left out).
 */
static bool format_labels(json_t *labels, char *buf, size_t len)
{
	char *out = NULL;
	size_t n = 0;
	FILE *lf = open_memstream(&out, &n);
	const char *key;
	json_t *v;
	bool first = true, ok;

	if (!lf)
		return false;
	json_object_foreach(labels, key, v) {
		if (!first)
			fputc(',', lf);
		first = false;
		name_part(lf, key);
		fputs("=\"", lf);
		label_value(lf, json_is_string(v) ? json_string_value(v) : "");
		fputc('"', lf);
	}
	ok = !fclose(lf) && !first && n < len;
	if (ok)
		memcpy(buf, out, n + 1);
	free(out);
	return ok;
}

/*
 * A running subsystem's series with labels (struct keel_subsys_ops
 * .metrics), each row's values as keel_<name>_<series>_<counter>{labels}.
 */
static void render_series(FILE *f, struct keel_subsys *s)
{
	json_t *all = s->ops->metrics(s), *rows, *row;
	const char *series;
	size_t i;

	json_object_foreach(all, series, rows) {
		char prefix[128];

		snprintf(prefix, sizeof(prefix), "keel_%s_%s", s->ops->name, series);
		json_array_foreach(rows, i, row) {
			char labels[256];

			if (format_labels(json_object_get(row, "labels"), labels, sizeof(labels)))
				leaves(f, prefix, NULL, json_object_get(row, "values"), labels);
		}
	}
	json_decref(all);
}

static void render_subsystems(FILE *f, struct keel_daemon *d)
{
	static const enum keel_subsys_state states[] = {
		KEEL_SUBSYS_RUNNING,	 KEEL_SUBSYS_STOPPED,  KEEL_SUBSYS_FAILED,
		KEEL_SUBSYS_UNAVAILABLE, KEEL_SUBSYS_DISABLED,
	};

	fputs("# HELP keel_subsystem_state 1 for the state each subsystem is in.\n"
	      "# TYPE keel_subsystem_state gauge\n",
	      f);
	for (struct keel_subsys **s = d->subsys; s && *s; s++)
		for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			fprintf(f, "keel_subsystem_state{subsystem=\"%s\",state=\"%s\"} %d\n",
				(*s)->ops->name, keel_subsys_state_name(states[i]),
				(*s)->state == states[i]);
	for (struct keel_subsys **s = d->subsys; s && *s; s++) {
		char prefix[64];
		json_t *c;

		if ((*s)->state != KEEL_SUBSYS_RUNNING || !(*s)->ops->counters)
			continue;
		c = json_object();
		(*s)->ops->counters(*s, c);
		snprintf(prefix, sizeof(prefix), "keel_%s", (*s)->ops->name);
		leaves(f, prefix, NULL, c, "");
		json_decref(c);
		if ((*s)->ops->metrics)
			render_series(f, *s);
	}
}

char *keel_metrics_render(struct keel_daemon *d, size_t *ret_len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, ret_len);

	if (!f)
		return NULL;
	fprintf(f,
		"# HELP keel_build_info keel's version.\n# TYPE keel_build_info gauge\n"
		"keel_build_info{version=\"%s\"} 1\n"
		"# HELP keel_uptime_seconds Seconds since keeld started.\n"
		"# TYPE keel_uptime_seconds gauge\nkeel_uptime_seconds %lld\n",
		KEEL_VERSION, (long long)(time(NULL) - d->started));
	render_events(f, d);
	render_sinks(f, d);
	render_subsystems(f, d);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
