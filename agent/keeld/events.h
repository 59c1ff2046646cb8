/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The event bus: every event keeld emits becomes one NDJSON line (schema in
 * docs/events.md) written to stdout and to each subscriber whose type filter
 * matches.  Subscribers are non-blocking sockets with bounded queues: a slow
 * one loses events, counted, and is told how many when it catches up; it
 * never blocks keeld.  The last events are kept for `keelctl events`.
 */
#ifndef KEEL_EVENTS_BUS_H
#define KEEL_EVENTS_BUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/outq.h"

#define KEEL_MAX_TYPE_FILTERS 16

struct keel_event_bus;
struct keel_sink;

/* The sinks the bus feeds (agent/keeld/sink.h), one slot each. */
enum keel_sink_slot { KEEL_SINK_JOURNAL, KEEL_SINK_FILE, KEEL_SINK_SLOTS };

struct keel_subscriber {
	int fd;
	struct keel_outq q;
	char *types[KEEL_MAX_TYPE_FILTERS]; /* NULL-terminated; none: all */
	uint64_t dropped;		    /* events lost since the last notice */
	uint64_t dropped_total;
	struct keel_subscriber *next;
	/* set when bytes are waiting: the owner must watch for POLLOUT */
	void (*on_pending)(struct keel_subscriber *sub, void *ctx);
	void *ctx;
};

struct keel_event_bus_stats {
	uint64_t emitted;
	uint64_t dropped; /* summed over all subscribers, ever */
	unsigned int subscribers;
};

struct keel_event_bus *keel_event_bus_new(const char *host, FILE *out, unsigned int backlog,
					  size_t queue_bytes);
void keel_event_bus_free(struct keel_event_bus *bus);

/*
 * Emit an event of @type ("subsystem.what") from @subsystem.  Takes @fields
 * (may be NULL); adds time, host, subsystem and type.  @time_ns is the
 * CLOCK_REALTIME time of the event, 0 for now.
 */
void keel_event_emit(struct keel_event_bus *bus, const char *subsystem, const char *type,
		     json_t *fields, uint64_t time_ns);

/*
 * Make @sub receive events: first the backlog entries matching its filter,
 * then, when @follow, every new one.  The bus does not own @sub.
 * Returns -EMSGSIZE when the backlog alone does not fit its queue.
 */
int keel_event_bus_subscribe(struct keel_event_bus *bus, struct keel_subscriber *sub, bool follow);
void keel_event_bus_unsubscribe(struct keel_event_bus *bus, struct keel_subscriber *sub);
/* Does @type pass @sub's filter?  A filter "exec" matches "exec.*". */
bool keel_subscriber_wants(const struct keel_subscriber *sub, const char *type);
void keel_event_bus_get_stats(const struct keel_event_bus *bus, struct keel_event_bus_stats *ret);

/*
 * Put @sink (may be NULL) in @slot; every later event is queued for it.
 * Returns the sink that was there, for the caller to stop.
 */
struct keel_sink *keel_event_bus_set_sink(struct keel_event_bus *bus, enum keel_sink_slot slot,
					  struct keel_sink *sink);
struct keel_sink *keel_event_bus_sink(const struct keel_event_bus *bus, enum keel_sink_slot slot);

/* Events emitted by type (metrics); types past the table count as other. */
#define KEEL_MAX_EVENT_TYPES 256
struct keel_event_type_count {
	char type[48];
	uint64_t count;
};
unsigned int keel_event_bus_type_counts(const struct keel_event_bus *bus,
					const struct keel_event_type_count **ret,
					uint64_t *ret_other);

/* Convert a CLOCK_BOOTTIME stamp (BPF's clock) to CLOCK_REALTIME. */
uint64_t keel_boot_to_realtime_ns(uint64_t boot_ns);

#endif /* KEEL_EVENTS_BUS_H */
