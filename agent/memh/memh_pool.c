// SPDX-License-Identifier: GPL-2.0-only
/*
 * memh's worker pool.  The reads (open, and pread into the handle) run on
 * worker threads, a slice at a time, clients taking turns, so a big file or
 * a slow client never stalls the loop or the other clients; finished
 * requests come back to the loop through an eventfd (memh_on_done).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memh/memh_subsys.h"

/* @c at the back of the clients waiting for a worker (under p->lock). */
static void ready_push(struct memh_priv *p, struct mclient *c)
{
	c->ready_next = NULL;
	if (p->ready_tail)
		p->ready_tail->ready_next = c;
	else
		p->ready = c;
	p->ready_tail = c;
}

/* Queue @r behind its client's other requests; a worker picks it up. */
void memh_pool_submit(struct memh_priv *p, struct mreq *r)
{
	struct mclient *c = r->c;

	pthread_mutex_lock(&p->lock);
	if (c->pend_tail)
		c->pend_tail->next = r;
	else
		c->pend = r;
	c->pend_tail = r;
	if (!c->queued) {
		c->queued = true;
		ready_push(p, c);
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
}

/* One slice of @r; true when the request is finished. */
static bool work_slice(struct memh_priv *p, struct mclient *c, struct mreq *r)
{
	uint64_t n = r->len - r->done < SLICE ? r->len - r->done : SLICE;
	ssize_t got;

	if (r->fd < 0) {
		r->err = memh_open_beneath(p, r);
		if (r->err)
			return true;
	}
	if (!n)
		return true;
	got = keel_memh_pread(c->h, r->handle_off + r->done, r->fd, (off_t)(r->file_off + r->done),
			      n);
	if (got < 0) {
		r->err = (int)got;
		return true;
	}
	r->done += (uint64_t)got;
	return (uint64_t)got < n || r->done == r->len; /* short: end of file */
}

static void *worker(void *arg)
{
	struct memh_priv *p = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct mclient *c;
		struct mreq *r;
		bool finished, closed;

		while (!p->stopping && !p->ready)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping)
			break;
		c = p->ready;
		p->ready = c->ready_next;
		if (!p->ready)
			p->ready_tail = NULL;
		r = c->pend;
		closed = c->closed;
		pthread_mutex_unlock(&p->lock);

		if (closed) {
			r->err = -ECANCELED;
			finished = true;
		} else {
			finished = work_slice(p, c, r);
		}

		pthread_mutex_lock(&p->lock);
		if (finished) {
			c->pend = r->next;
			if (!c->pend)
				c->pend_tail = NULL;
			r->next = NULL;
			if (p->done_tail)
				p->done_tail->next = r;
			else
				p->done = r;
			p->done_tail = r;
		}
		if (c->pend) {
			/* back of the line: clients take turns, a slice each */
			ready_push(p, c);
		} else {
			c->queued = false;
		}
		if (finished && write(p->done_w.fd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow in practice; the loop reads it */
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static const char *read_error_text(struct mreq *r, char *buf, size_t len)
{
	switch (r->err) {
	case -EXDEV:
		snprintf(buf, len, "%s leads outside %s ('..' or a symlink): refused", r->path,
			 r->c->p->dirs[r->dir].name);
		break;
	case -ELOOP:
		snprintf(buf, len, "%s: too many symlinks, or a /proc magic link: refused",
			 r->path);
		break;
	case -EINVAL:
		snprintf(buf, len, "%s is not a regular file", r->path);
		break;
	case -EACCES:
		snprintf(
			buf, len,
			"the handle is read-only: create it with KEEL_MEMH_READ | KEEL_MEMH_WRITE");
		break;
	case -ECANCELED:
		snprintf(buf, len, "the client disconnected");
		break;
	default:
		if (r->fd < 0)
			snprintf(buf, len, "opening %s: %s", r->path, strerror(-r->err));
		else
			snprintf(buf, len, "reading %s into the handle: %s", r->path,
				 strerror(-r->err));
	}
	return buf;
}

/* The loop's side: answer what the workers finished. */
void memh_on_done(struct keel_watch *w, uint32_t events)
{
	struct memh_priv *p = w->data;
	struct mreq *r, *next;
	char msg[PATH_MAX + 256];
	uint64_t v;

	(void)events;
	if (read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&p->lock);
	r = p->done;
	p->done = p->done_tail = NULL;
	pthread_mutex_unlock(&p->lock);
	for (; r; r = next) {
		struct mclient *c = r->c;
		json_t *id = json_integer((json_int_t)r->id);

		next = r->next;
		if (r->fd >= 0)
			close(r->fd);
		c->inflight--;
		if (c->watch.fd < 0) {
			if (!c->inflight)
				memh_client_free(c);
		} else if (r->err && r->done == 0) {
			memh_reply_error(c, id, r->err, "%s", read_error_text(r, msg, sizeof(msg)));
		} else {
			/* a failure after some bytes: say how many landed */
			p->reads_ok++;
			p->bytes += r->done;
			memh_send_line(c, json_pack("{s:O, s:b, s:I}", "id", id, "ok", 1, "bytes",
						    (json_int_t)r->done));
		}
		json_decref(id);
		free(r);
	}
	/* replies may have filled a queue: hang up on who cannot take them */
	for (struct mclient *c = p->clients, *cn; c; c = cn) {
		cn = c->next;
		if (c->close_when_flushed && !keel_outq_pending(&c->q))
			memh_client_close(c, "refused");
	}
}

/* The worker threads, [memh] workers of them. */
int memh_pool_start(struct memh_priv *p, char *why, size_t len)
{
	int err;

	for (unsigned int i = 0; i < memh_cfg(p->s)->workers; i++) {
		err = -pthread_create(&p->threads[i], NULL, worker, p);
		if (err) {
			snprintf(why, len, "starting read worker %u: %s", i, strerror(-err));
			return err;
		}
		p->n_threads++;
	}
	return 0;
}

/* Stop the workers; what they held is cancelled and settled. */
void memh_pool_stop(struct memh_priv *p)
{
	struct mreq *r, *next;

	if (p->lock_ready) {
		pthread_mutex_lock(&p->lock);
		p->stopping = true;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	for (unsigned int i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	p->n_threads = 0;
	/*
	 * No worker runs now.  Every client with requests left is in the ready
	 * list (a worker puts it back after each slice): cancel them, then
	 * settle everything as the loop would, which frees the clients that
	 * already disconnected.
	 */
	for (struct mclient *c = p->ready; c; c = c->ready_next) {
		for (r = c->pend; r; r = next) {
			next = r->next;
			r->err = -ECANCELED;
			r->next = p->done;
			p->done = r;
		}
		c->pend = c->pend_tail = NULL;
		c->queued = false;
	}
	p->ready = p->ready_tail = NULL;
	for (r = p->done; r; r = next) {
		struct mclient *c = r->c;

		next = r->next;
		if (r->fd >= 0)
			close(r->fd);
		free(r);
		if (--c->inflight == 0 && c->watch.fd < 0)
			memh_client_free(c);
	}
	p->done = p->done_tail = NULL;
}
