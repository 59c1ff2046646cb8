// SPDX-License-Identifier: GPL-2.0-only
/*
 * keeld's durable event record: the journal and file sinks, made from the
 * [events] keys, fed by the bus, and watched once a second so that what a
 * sink lost is said by a keel.dropped event (sink, cause, count, total).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "keeld/sinks.h"
#include "keeld/sink.h"

#define DROP_CHECK_MS 1000
#define STOP_TIMEOUT_MS 3000	/* for a sink to write what it still holds */

struct keel_sinks {
	struct keel_daemon *d;
	struct keel_watch timer;
	uint64_t total_queue[KEEL_SINK_SLOTS], total_write[KEEL_SINK_SLOTS];
};

static void report_cause(struct keel_sinks *ss, const char *sink, const char *cause,
			 uint64_t count, uint64_t total)
{
	keel_emit(ss->d, "keel", "keel.dropped",
		  json_pack("{s:s, s:s, s:I, s:I}", "sink", sink, "cause", cause, "count",
			    (json_int_t)count, "total", (json_int_t)total));
}

static void on_timer(struct keel_watch *w, uint32_t events)
{
	struct keel_sinks *ss = w->data;
	uint64_t expirations;

	(void)events;
	if (read(w->fd, &expirations, sizeof(expirations)) < 0)
		return;
	for (int i = 0; i < KEEL_SINK_SLOTS; i++) {
		struct keel_sink *s = keel_event_bus_sink(ss->d->bus, i);
		uint64_t q, wr;

		if (!s)
			continue;
		keel_sink_take_unreported(s, &q, &wr);
		ss->total_queue[i] += q;
		ss->total_write[i] += wr;
		if (q)
			report_cause(ss, keel_sink_name(s), "queue_full", q, ss->total_queue[i]);
		if (wr)
			report_cause(ss, keel_sink_name(s), "write_error", wr, ss->total_write[i]);
	}
}

static int start_one(struct keel_daemon *d, enum keel_sink_slot slot,
		     const struct keel_sink_ops *ops, void *priv, char *why, size_t len)
{
	struct keel_sink *sink;
	int err = keel_sink_start(ops, priv, d->cfg.events_sink_queue, &sink);

	if (err) {
		ops->close(priv);
		snprintf(why, len, "%s sink: starting its thread: %s", ops->name, strerror(-err));
		return err;
	}
	keel_event_bus_set_sink(d->bus, slot, sink);
	return 0;
}

int keel_sinks_start(struct keel_daemon *d, char *why, size_t len)
{
	const struct keel_config *c = &d->cfg;
	struct keel_sinks *ss = calloc(1, sizeof(*ss));
	char msg[512];
	void *priv;
	int err;

	if (!ss) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	ss->d = d;
	d->sinks = ss;
	if (c->events_journal) {
		err = keel_sink_journal_open(c->events_journal_exclude, &priv, msg, sizeof(msg));
		if (err == -ENOENT)
			pr_warn("events: not sent to the journal: %s (is systemd-journald running?)",
				msg);
		else if (err || (err = start_one(d, KEEL_SINK_JOURNAL, &keel_sink_journal_ops,
						  priv, msg, sizeof(msg)))) {
			snprintf(why, len, "journal: %s", msg);
			return err;
		}
	}
	if (c->events_file[0]) {
		err = keel_sink_file_open(c->events_file, c->events_file_max_bytes,
					  c->events_file_backups, &priv, msg, sizeof(msg));
		if (!err)
			err = start_one(d, KEEL_SINK_FILE, &keel_sink_file_ops, priv, msg,
					sizeof(msg));
		if (err) {
			snprintf(why, len, "[events] file: %s", msg);
			return err;
		}
	}
	ss->timer.cb = on_timer;
	ss->timer.data = ss;
	err = keel_timer_start(d, &ss->timer, DROP_CHECK_MS);
	if (err) {
		snprintf(why, len, "drop check timer: %s", strerror(-err));
		return err;
	}
	return 0;
}

void keel_sinks_stop(struct keel_daemon *d)
{
	struct keel_sinks *ss = d->sinks;

	if (!ss)
		return;
	keel_timer_stop(d, &ss->timer);
	for (int i = 0; i < KEEL_SINK_SLOTS; i++) {
		struct keel_sink *s = keel_event_bus_set_sink(d->bus, i, NULL);
		const char *name;
		uint64_t lost;

		if (!s)
			continue;
		name = keel_sink_name(s);
		lost = keel_sink_stop(s, STOP_TIMEOUT_MS);
		if (lost)
			pr_warn("events: %llu events not written to the %s at shutdown "
				"(it did not take them within %d ms)", (unsigned long long)lost,
				name, STOP_TIMEOUT_MS);
	}
	free(ss);
	d->sinks = NULL;
}

json_t *keel_sinks_status(struct keel_daemon *d)
{
	json_t *o = json_object();

	for (int i = 0; d->bus && i < KEEL_SINK_SLOTS; i++) {
		struct keel_sink *s = keel_event_bus_sink(d->bus, i);

		if (s)
			json_object_set_new(o, keel_sink_name(s), keel_sink_status(s));
	}
	return o;
}
