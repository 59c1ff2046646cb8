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

#define DROP_CHECK_MS	1000
#define STOP_TIMEOUT_MS 3000 /* for a sink to write what it still holds */

struct keel_sinks {
	struct keel_daemon *d;
	struct keel_watch timer;
	uint64_t total_queue[KEEL_SINK_SLOTS], total_write[KEEL_SINK_SLOTS];
};

static void report_cause(struct keel_sinks *ss, const char *sink, const char *cause, uint64_t count,
			 uint64_t total)
{
	keel_emit(ss->d, "keel", "keel.dropped",
		  json_pack("{s:s, s:s, s:I, s:I}", "sink", sink, "cause", cause, "count",
			    (json_int_t)count, "total", (json_int_t)total));
}

static void on_timer_report(struct keel_sinks *ss)
{
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

static void on_timer(struct keel_watch *w, uint32_t events)
{
	uint64_t expirations;

	(void)events;
	if (read(w->fd, &expirations, sizeof(expirations)) < 0)
		return;
	on_timer_report(w->data);
}

static int start_one(const struct keel_config *c, const struct keel_sink_ops *ops, void *priv,
		     struct keel_sink **ret, char *why, size_t len)
{
	int err = keel_sink_start(ops, priv, c->events_sink_queue, ret);

	if (err) {
		ops->close(priv);
		snprintf(why, len, "%s sink: starting its thread: %s", ops->name, strerror(-err));
	}
	return err;
}

/* The sinks @c asks for, in @ret (NULL where none); all or nothing. */
static int open_sinks(const struct keel_config *c, struct keel_sink *ret[KEEL_SINK_SLOTS],
		      char *why, size_t len)
{
	char msg[512];
	void *priv;
	int err = 0;

	memset(ret, 0, sizeof(*ret) * KEEL_SINK_SLOTS);
	if (c->events_journal) {
		err = keel_sink_journal_open(c->events_journal_exclude, &priv, msg, sizeof(msg));
		if (err == -ENOENT) {
			pr_warn("events: not sent to the journal: %s (is systemd-journald running?)",
				msg);
			err = 0;
		} else if (err || (err = start_one(c, &keel_sink_journal_ops, priv,
						   &ret[KEEL_SINK_JOURNAL], msg, sizeof(msg)))) {
			snprintf(why, len, "journal: %s", msg);
			return err;
		}
	}
	if (c->events_file[0]) {
		err = keel_sink_file_open(c->events_file, c->events_file_max_bytes,
					  c->events_file_backups, &priv, msg, sizeof(msg));
		if (!err)
			err = start_one(c, &keel_sink_file_ops, priv, &ret[KEEL_SINK_FILE], msg,
					sizeof(msg));
		if (err) {
			snprintf(why, len, "[events] file: %s", msg);
			keel_sink_stop(ret[KEEL_SINK_JOURNAL], STOP_TIMEOUT_MS);
			ret[KEEL_SINK_JOURNAL] = NULL;
			return err;
		}
	}
	return 0;
}

/* Stop @s, first reporting what it lost and not yet said. */
static void retire(struct keel_sinks *ss, int slot, struct keel_sink *s)
{
	const char *name;
	uint64_t lost;

	if (!s)
		return;
	name = keel_sink_name(s);
	lost = keel_sink_stop(s, STOP_TIMEOUT_MS);
	if (lost)
		pr_warn("events: %llu events not written to the %s when it stopped "
			"(it did not take them within %d ms)",
			(unsigned long long)lost, name, STOP_TIMEOUT_MS);
	ss->total_queue[slot] = ss->total_write[slot] = 0;
}

int keel_sinks_start(struct keel_daemon *d, char *why, size_t len)
{
	struct keel_sinks *ss = calloc(1, sizeof(*ss));
	struct keel_sink *sinks[KEEL_SINK_SLOTS];
	int err;

	if (!ss) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	ss->d = d;
	d->sinks = ss;
	err = open_sinks(&d->cfg, sinks, why, len);
	if (err)
		return err;
	for (int i = 0; i < KEEL_SINK_SLOTS; i++)
		keel_event_bus_set_sink(d->bus, i, sinks[i]);
	ss->timer.cb = on_timer;
	ss->timer.data = ss;
	err = keel_timer_start(d, &ss->timer, DROP_CHECK_MS);
	if (err) {
		snprintf(why, len, "drop check timer: %s", strerror(-err));
		return err;
	}
	return 0;
}

int keel_sinks_reconfigure(struct keel_daemon *d, const struct keel_config *c, char *why,
			   size_t len)
{
	struct keel_sink *sinks[KEEL_SINK_SLOTS];
	int err;

	if (!d->sinks)
		return -EINVAL;
	err = open_sinks(c, sinks, why, len);
	if (err)
		return err;
	on_timer_report(d->sinks); /* the old sinks' losses, before they go */
	for (int i = 0; i < KEEL_SINK_SLOTS; i++)
		retire(d->sinks, i, keel_event_bus_set_sink(d->bus, i, sinks[i]));
	return 0;
}

void keel_sinks_stop(struct keel_daemon *d)
{
	struct keel_sinks *ss = d->sinks;

	if (!ss)
		return;
	keel_timer_stop(d, &ss->timer);
	for (int i = 0; i < KEEL_SINK_SLOTS; i++)
		retire(ss, i, keel_event_bus_set_sink(d->bus, i, NULL));
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
