// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keeld/events.h"
#include "keeld/sink.h"
#include "common/clock.h"

struct keel_event_bus {
	char host[64];
	FILE *out;	/* NULL: no stdout stream */
	char **backlog; /* ring of "type\0line": filters need no parse */
	unsigned int backlog_max, backlog_head, backlog_count;
	size_t queue_bytes;
	struct keel_subscriber *subs;
	uint64_t emitted;
	uint64_t dropped_gone; /* drops of subscribers that left */
	struct keel_sink *sinks[KEEL_SINK_SLOTS];
	/* events by type, for metrics: types come from keel's code, so few */
	struct keel_event_type_count types[KEEL_MAX_EVENT_TYPES];
	unsigned int n_types;
	uint64_t other_types; /* past KEEL_MAX_EVENT_TYPES */
};

static void count_type(struct keel_event_bus *bus, const char *type)
{
	for (unsigned int i = 0; i < bus->n_types; i++) {
		if (!strcmp(bus->types[i].type, type)) {
			bus->types[i].count++;
			return;
		}
	}
	if (bus->n_types == KEEL_MAX_EVENT_TYPES || strlen(type) >= sizeof(bus->types[0].type)) {
		bus->other_types++;
		return;
	}
	snprintf(bus->types[bus->n_types].type, sizeof(bus->types[0].type), "%s", type);
	bus->types[bus->n_types++].count = 1;
}

unsigned int keel_event_bus_type_counts(const struct keel_event_bus *bus,
					const struct keel_event_type_count **ret,
					uint64_t *ret_other)
{
	*ret = bus->types;
	*ret_other = bus->other_types;
	return bus->n_types;
}

uint64_t keel_boot_to_realtime_ns(uint64_t boot_ns)
{
	uint64_t now_boot = keel_clock_ns(CLOCK_BOOTTIME);
	uint64_t now_real = keel_clock_ns(CLOCK_REALTIME);

	if (boot_ns > now_boot)
		return now_real;
	return now_real - (now_boot - boot_ns);
}

struct keel_event_bus *keel_event_bus_new(const char *host, FILE *out, unsigned int backlog,
					  size_t queue_bytes)
{
	struct keel_event_bus *bus = calloc(1, sizeof(*bus));

	if (!bus)
		return NULL;
	snprintf(bus->host, sizeof(bus->host), "%s", host);
	bus->out = out;
	bus->queue_bytes = queue_bytes;
	bus->backlog_max = backlog;
	if (backlog) {
		bus->backlog = calloc(backlog, sizeof(*bus->backlog));
		if (!bus->backlog) {
			free(bus);
			return NULL;
		}
	}
	return bus;
}

void keel_event_bus_free(struct keel_event_bus *bus)
{
	if (!bus)
		return;
	for (unsigned int i = 0; i < bus->backlog_max; i++)
		free(bus->backlog[i]);
	free(bus->backlog);
	free(bus);
}

bool keel_subscriber_wants(const struct keel_subscriber *sub, const char *type)
{
	if (!sub->types[0])
		return true;
	for (int i = 0; i < KEEL_MAX_TYPE_FILTERS && sub->types[i]; i++) {
		size_t n = strlen(sub->types[i]);

		if (!strcmp(type, sub->types[i]))
			return true;
		/* a bare subsystem name selects all of its types */
		if (!strchr(sub->types[i], '.') && !strncmp(type, sub->types[i], n) &&
		    type[n] == '.')
			return true;
	}
	return false;
}

static void format_time(uint64_t ns, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09lluZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned long long)(ns % 1000000000ull));
}

/* Queue @line for @sub, telling it first about what it lost before. */
static void deliver(struct keel_subscriber *sub, const char *line, size_t len)
{
	if (sub->dropped) {
		char notice[160];
		int n = snprintf(notice, sizeof(notice),
				 "{\"type\":\"keel.events_dropped\",\"subsystem\":\"keel\","
				 "\"count\":%llu}\n",
				 (unsigned long long)sub->dropped);

		if (len + (size_t)n > sub->q.limit - keel_outq_pending(&sub->q)) {
			sub->dropped++;
			sub->dropped_total++;
			return;
		}
		keel_outq_push(&sub->q, notice, (size_t)n);
		sub->dropped = 0;
	}
	if (keel_outq_push(&sub->q, line, len) < 0) {
		sub->dropped++;
		sub->dropped_total++;
		return;
	}
	if (keel_outq_flush(&sub->q, sub->fd) > 0 && sub->on_pending)
		sub->on_pending(sub, sub->ctx);
}

static void backlog_add(struct keel_event_bus *bus, const char *type, const char *line)
{
	size_t tlen = strlen(type) + 1, llen = strlen(line) + 1;
	unsigned int slot;
	char *copy;

	if (!bus->backlog_max)
		return;
	copy = malloc(tlen + llen);
	if (!copy)
		return; /* the backlog is a convenience; live delivery went on */
	memcpy(copy, type, tlen);
	memcpy(copy + tlen, line, llen);
	slot = (bus->backlog_head + bus->backlog_count) % bus->backlog_max;
	if (bus->backlog_count == bus->backlog_max) {
		free(bus->backlog[bus->backlog_head]);
		bus->backlog_head = (bus->backlog_head + 1) % bus->backlog_max;
		slot = (bus->backlog_head + bus->backlog_count - 1) % bus->backlog_max;
	} else {
		bus->backlog_count++;
	}
	bus->backlog[slot] = copy;
}

void keel_event_emit(struct keel_event_bus *bus, const char *subsystem, const char *type,
		     json_t *fields, uint64_t time_ns)
{
	char when[48];
	json_t *ev;
	char *line;
	size_t len;

	format_time(time_ns ? time_ns : keel_clock_ns(CLOCK_REALTIME), when, sizeof(when));
	ev = json_pack("{s:s, s:s, s:s, s:s}", "time", when, "host", bus->host, "subsystem",
		       subsystem, "type", type);
	if (!ev) {
		json_decref(fields);
		return;
	}
	if (fields)
		json_object_update_missing(ev, fields);
	json_decref(fields);
	line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!line) {
		json_decref(ev);
		return;
	}
	bus->emitted++;
	count_type(bus, type);
	len = strlen(line);
	line[len] = '\n'; /* json_dumps leaves room: its NUL */

	for (int i = 0, prio = -1; i < KEEL_SINK_SLOTS; i++) {
		if (!bus->sinks[i])
			continue;
		if (prio < 0)
			prio = keel_event_priority(type, ev);
		keel_sink_push(bus->sinks[i], type, ev, line, len + 1, prio);
	}
	json_decref(ev);

	if (bus->out) {
		fwrite(line, 1, len + 1, bus->out);
		fflush(bus->out);
	}
	for (struct keel_subscriber *s = bus->subs; s; s = s->next)
		if (keel_subscriber_wants(s, type))
			deliver(s, line, len + 1);
	line[len] = '\0';
	backlog_add(bus, type, line);
	free(line);
}

int keel_event_bus_subscribe(struct keel_event_bus *bus, struct keel_subscriber *sub, bool follow)
{
	for (unsigned int i = 0; i < bus->backlog_count; i++) {
		const char *type = bus->backlog[(bus->backlog_head + i) % bus->backlog_max];
		const char *line = type + strlen(type) + 1;

		if (!keel_subscriber_wants(sub, type))
			continue;
		if (keel_outq_push(&sub->q, line, strlen(line)) < 0 ||
		    keel_outq_push(&sub->q, "\n", 1) < 0)
			return -EMSGSIZE;
	}
	if (keel_outq_flush(&sub->q, sub->fd) > 0 && sub->on_pending)
		sub->on_pending(sub, sub->ctx);
	if (follow) {
		sub->next = bus->subs;
		bus->subs = sub;
	}
	return 0;
}

void keel_event_bus_unsubscribe(struct keel_event_bus *bus, struct keel_subscriber *sub)
{
	for (struct keel_subscriber **p = &bus->subs; *p; p = &(*p)->next) {
		if (*p == sub) {
			*p = sub->next;
			bus->dropped_gone += sub->dropped_total;
			sub->next = NULL;
			return;
		}
	}
}

void keel_event_bus_get_stats(const struct keel_event_bus *bus, struct keel_event_bus_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->emitted = bus->emitted;
	ret->dropped = bus->dropped_gone;
	for (struct keel_subscriber *s = bus->subs; s; s = s->next) {
		ret->subscribers++;
		ret->dropped += s->dropped_total;
	}
}

struct keel_sink *keel_event_bus_set_sink(struct keel_event_bus *bus, enum keel_sink_slot slot,
					  struct keel_sink *sink)
{
	struct keel_sink *old = bus->sinks[slot];

	bus->sinks[slot] = sink;
	return old;
}

struct keel_sink *keel_event_bus_sink(const struct keel_event_bus *bus, enum keel_sink_slot slot)
{
	return bus->sinks[slot];
}
