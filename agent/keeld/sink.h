/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Event sinks: where events are kept for the record (the systemd journal, a
 * JSON-lines file).  Writing there may block (journald stopped, a slow disk),
 * and keeld's loop must never block: each sink has its own worker thread
 * fed through a bounded queue.  The loop encodes an event for the sink and
 * queues it; when the queue is full the event is dropped for that sink and
 * counted, and keel.dropped reports the count (agent/keeld/sinks.c).  The
 * queue and the counters are the only state the two threads share, under
 * one mutex; each sink's own state belongs to its worker after start.
 */
#ifndef KEEL_SINK_H
#define KEEL_SINK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One encoded event, allocated with its data in one block. */
struct keel_sink_item {
	int priority; /* syslog priority, LOG_ERR..LOG_DEBUG */
	size_t len;
	char data[];
};

struct keel_sink_ops {
	const char *name; /* "journal", "file": in counters and keel.dropped */
	/*
	 * Loop thread: encode the event @ev (with @line, its NDJSON text
	 * ending in '\n', of @len bytes).  NULL: nothing to queue (out of
	 * memory counts as a drop).
	 */
	struct keel_sink_item *(*encode)(void *priv, const char *type, json_t *ev, const char *line,
					 size_t len, int priority);
	/*
	 * Worker thread: write @it.  0, or a negative errno when it is lost
	 * (counted as a write error).
	 */
	int (*write)(void *priv, const struct keel_sink_item *it);
	/* Worker thread, after the last write: release @priv. */
	void (*close)(void *priv);
	/* Loop thread: extra counters, atomics the worker updates (may be NULL). */
	void (*counters)(void *priv, json_t *out);
};

struct keel_sink_stats {
	uint64_t queued; /* accepted into the queue, ever */
	uint64_t written;
	uint64_t dropped_queue; /* the queue was full */
	uint64_t dropped_write; /* the write failed */
	unsigned int pending;	/* in the queue now */
	unsigned int capacity;
};

struct keel_sink;

/* Start a sink's worker; @priv is the ops' state, handed to the worker. */
int keel_sink_start(const struct keel_sink_ops *ops, void *priv, unsigned int queue_len,
		    struct keel_sink **ret_sink);
/*
 * Drain what is queued (waiting at most @timeout_ms for the worker), then
 * stop and free.  Returns the events lost at shutdown (0 normally).
 */
uint64_t keel_sink_stop(struct keel_sink *sink, unsigned int timeout_ms);
/* Encode and queue one event; a full queue counts a drop. */
void keel_sink_push(struct keel_sink *sink, const char *type, json_t *ev, const char *line,
		    size_t len, int priority);
const char *keel_sink_name(const struct keel_sink *sink);
void keel_sink_get_stats(struct keel_sink *sink, struct keel_sink_stats *ret);
/* Counters for `keelctl status`: the stats plus the sink's own. */
json_t *keel_sink_status(struct keel_sink *sink);
/*
 * Drops not yet reported, by cause: copies them into @ret_queue and
 * @ret_write and marks them reported.
 */
void keel_sink_take_unreported(struct keel_sink *sink, uint64_t *ret_queue, uint64_t *ret_write);

/* The syslog priority an event is recorded with (event_priority.c). */
int keel_event_priority(const char *type, json_t *ev);

/* The sinks (sink_journal.c, sink_file.c). */
/* 0, or -ENOENT when no journald listens (with the reason in @why). */
int keel_sink_journal_open(const char *exclude, void **ret_priv, char *why, size_t len);
extern const struct keel_sink_ops keel_sink_journal_ops;
int keel_sink_file_open(const char *path, unsigned int max_bytes, unsigned int backups,
			void **ret_priv, char *why, size_t len);
extern const struct keel_sink_ops keel_sink_file_ops;

#endif /* KEEL_SINK_H */
