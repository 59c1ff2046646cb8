// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keeld/sink.h"

struct keel_sink {
	const struct keel_sink_ops *ops;
	void *priv;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the worker waits for items or stop */
	pthread_cond_t idle; /* keel_sink_stop waits for the worker */
	struct keel_sink_item **ring;
	unsigned int cap, head, count;
	bool stopping, finished;
	struct keel_sink_stats st;
	uint64_t reported_queue, reported_write;
};

static void *worker(void *arg)
{
	struct keel_sink *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct keel_sink_item *it;
		int err;

		while (!s->count && !s->stopping)
			pthread_cond_wait(&s->wake, &s->lock);
		if (!s->count)
			break; /* stopping and drained */
		it = s->ring[s->head];
		s->ring[s->head] = NULL;
		s->head = (s->head + 1) % s->cap;
		s->count--;
		pthread_mutex_unlock(&s->lock);

		err = s->ops->write(s->priv, it); /* may block: no lock held */
		free(it);

		pthread_mutex_lock(&s->lock);
		if (err)
			s->st.dropped_write++;
		else
			s->st.written++;
	}
	pthread_mutex_unlock(&s->lock);
	s->ops->close(s->priv);
	pthread_mutex_lock(&s->lock);
	s->finished = true;
	pthread_cond_signal(&s->idle);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int keel_sink_start(const struct keel_sink_ops *ops, void *priv, unsigned int queue_len,
		    struct keel_sink **ret_sink)
{
	struct keel_sink *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->ops = ops;
	s->priv = priv;
	s->cap = queue_len ? queue_len : 1;
	s->st.capacity = s->cap;
	s->ring = calloc(s->cap, sizeof(*s->ring));
	if (!s->ring) {
		err = -ENOMEM;
		goto free_sink;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->idle, NULL);
	err = -pthread_create(&s->thread, NULL, worker, s);
	if (err)
		goto free_ring;
	*ret_sink = s;
	return 0;

free_ring:
	free(s->ring);
free_sink:
	free(s);
	return err;
}

uint64_t keel_sink_stop(struct keel_sink *s, unsigned int timeout_ms)
{
	struct timespec deadline;
	uint64_t lost = 0;
	int rc = 0;

	if (!s)
		return 0;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	while (!s->finished && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&s->idle, &s->lock, &deadline);
	lost = s->count;
	pthread_mutex_unlock(&s->lock);
	if (!s->finished) {
		/*
		 * The worker is stuck in a write (journald stopped): cancel it
		 * there (sendmsg and write are cancellation points).  Its state
		 * is left as it is: keeld is exiting or replacing the sink.
		 */
		pthread_cancel(s->thread);
		lost++; /* the item it was writing */
	}
	pthread_join(s->thread, NULL);
	for (unsigned int i = 0; i < s->count; i++)
		free(s->ring[(s->head + i) % s->cap]);
	pthread_cond_destroy(&s->idle);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->ring);
	free(s);
	return lost;
}

void keel_sink_push(struct keel_sink *s, const char *type, json_t *ev, const char *line, size_t len,
		    int priority)
{
	struct keel_sink_item *it;
	bool full;

	pthread_mutex_lock(&s->lock);
	full = s->count == s->cap;
	if (full)
		s->st.dropped_queue++;
	pthread_mutex_unlock(&s->lock);
	if (full)
		return; /* do not even encode what cannot be queued */

	it = s->ops->encode(s->priv, type, ev, line, len, priority);
	if (!it)
		return; /* the sink does not want it */
	pthread_mutex_lock(&s->lock);
	if (s->count == s->cap) {
		s->st.dropped_queue++; /* cannot happen: only we add */
		free(it);
	} else {
		s->ring[(s->head + s->count) % s->cap] = it;
		s->count++;
		s->st.queued++;
		pthread_cond_signal(&s->wake);
	}
	pthread_mutex_unlock(&s->lock);
}

const char *keel_sink_name(const struct keel_sink *s)
{
	return s->ops->name;
}

void keel_sink_get_stats(struct keel_sink *s, struct keel_sink_stats *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->st;
	ret->pending = s->count;
	pthread_mutex_unlock(&s->lock);
}

json_t *keel_sink_status(struct keel_sink *s)
{
	struct keel_sink_stats st;
	json_t *o;

	keel_sink_get_stats(s, &st);
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "queued", (json_int_t)st.queued, "written",
		      (json_int_t)st.written, "dropped_queue_full", (json_int_t)st.dropped_queue,
		      "dropped_write_error", (json_int_t)st.dropped_write, "pending",
		      (json_int_t)st.pending, "queue", (json_int_t)st.capacity);
	if (o && s->ops->counters)
		s->ops->counters(s->priv, o);
	return o;
}

void keel_sink_take_unreported(struct keel_sink *s, uint64_t *ret_queue, uint64_t *ret_write)
{
	pthread_mutex_lock(&s->lock);
	*ret_queue = s->st.dropped_queue - s->reported_queue;
	*ret_write = s->st.dropped_write - s->reported_write;
	s->reported_queue = s->st.dropped_queue;
	s->reported_write = s->st.dropped_write;
	pthread_mutex_unlock(&s->lock);
}
