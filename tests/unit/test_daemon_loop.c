// SPDX-License-Identifier: GPL-2.0-only
/*
 * keeld's loop (keel_daemon_dispatch): a callback that removes other watches
 * while their events wait further down the same epoll_wait batch.  That is
 * what `keelctl subsystem stop blk` does: the control client's callback runs
 * blk's stop, which stops its timers and ring buffer watch and zeroes them,
 * and a timer that fired in the same batch must not be called.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "keeld/daemon.h"

/* A stand-in for a subsystem's private data: its timers, zeroed at stop. */
struct fake_subsys {
	struct keel_daemon *d;
	struct keel_watch timers[3];
	unsigned int fired;
};

/* The "client request": stop the subsystem the way blk_stop does. */
struct stopper {
	struct keel_watch w;
	struct fake_subsys *victim;
	unsigned int calls;
};

static void on_timer(struct keel_watch *w, uint32_t events)
{
	struct fake_subsys *fs = w->data;
	uint64_t n;

	(void)events;
	cr_assert(read(w->fd, &n, sizeof(n)) == sizeof(n), "a stopped timer was called");
	fs->fired++;
}

static void on_stop_request(struct keel_watch *w, uint32_t events)
{
	struct stopper *st = w->data;
	uint64_t n;

	(void)events;
	cr_assert(read(w->fd, &n, sizeof(n)) == sizeof(n));
	st->calls++;
	for (int i = 0; i < 3; i++)
		keel_timer_stop(st->victim->d, &st->victim->timers[i]);
	memset(st->victim->timers, 0, sizeof(st->victim->timers));
}

static struct keel_daemon *new_daemon(void)
{
	struct keel_daemon *d = calloc(1, sizeof(*d));

	cr_assert(d);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	cr_assert(d->epfd >= 0);
	return d;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

Test(daemon_loop, watch_removed_by_an_earlier_callback_of_the_batch_is_not_called)
{
	struct keel_daemon *d = new_daemon();
	struct fake_subsys fs = { .d = d };
	struct stopper st = { .victim = &fs };
	uint64_t one = 1;
	int n;

	/* the request becomes ready first, so epoll returns it first */
	st.w = (struct keel_watch){ .cb = on_stop_request, .data = &st };
	st.w.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	cr_assert(st.w.fd >= 0);
	cr_assert(keel_watch_add(d, &st.w, EPOLLIN) == 0);
	cr_assert(write(st.w.fd, &one, sizeof(one)) == sizeof(one));
	for (int i = 0; i < 3; i++) {
		fs.timers[i] = (struct keel_watch){ .cb = on_timer, .data = &fs };
		cr_assert(keel_timer_start(d, &fs.timers[i], 1) == 0);
	}
	sleep_ms(20); /* every timer has fired: all four wait in one batch */

	n = keel_daemon_dispatch(d, 0);
	cr_assert_eq(n, 4, "epoll returned %d events, expected the request and 3 timers", n);
	cr_assert_eq(st.calls, 1);
	cr_assert_eq(fs.fired, 0, "%u stopped timers were called", fs.fired);
	cr_assert_eq(keel_daemon_dispatch(d, 10), 0, "a stopped timer is still watched");
	cr_log_info("checked: 1 request and 3 timer events in one batch; the request stopped "
		    "and zeroed the timers; none of the 3 was called, and none fires later");
	close(st.w.fd);
	close(d->epfd);
	free(d);
}

/* Each of two watches, when called, removes the other: only one may run. */
struct pair {
	struct keel_daemon *d;
	struct keel_watch w[2];
	unsigned int calls[2];
	struct keel_watch *other[2];
	struct keel_watch bystander;
	unsigned int bystander_calls;
};

static void on_pair(struct keel_watch *w, uint32_t events)
{
	struct pair *p = w->data;
	int me = w == &p->w[0] ? 0 : 1;
	struct keel_watch *other = p->other[me];
	uint64_t n;

	(void)events;
	cr_assert(read(w->fd, &n, sizeof(n)) == sizeof(n));
	p->calls[me]++;
	keel_watch_del(p->d, other);
	close(other->fd);
	memset(other, 0, sizeof(*other));
}

static void on_bystander(struct keel_watch *w, uint32_t events)
{
	struct pair *p = w->data;
	uint64_t n;

	(void)events;
	cr_assert(read(w->fd, &n, sizeof(n)) == sizeof(n));
	p->bystander_calls++;
}

Test(daemon_loop, rest_of_the_batch_still_runs_after_a_removal)
{
	struct pair *p = calloc(1, sizeof(*p));
	uint64_t one = 1;
	int n;

	cr_assert(p);
	p->d = new_daemon();
	p->other[0] = &p->w[1];
	p->other[1] = &p->w[0];
	for (int i = 0; i < 2; i++) {
		p->w[i] = (struct keel_watch){ .cb = on_pair, .data = p };
		p->w[i].fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		cr_assert(keel_watch_add(p->d, &p->w[i], EPOLLIN) == 0);
		cr_assert(write(p->w[i].fd, &one, sizeof(one)) == sizeof(one));
	}
	p->bystander = (struct keel_watch){ .cb = on_bystander, .data = p };
	p->bystander.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	cr_assert(keel_watch_add(p->d, &p->bystander, EPOLLIN) == 0);
	cr_assert(write(p->bystander.fd, &one, sizeof(one)) == sizeof(one));

	n = keel_daemon_dispatch(p->d, 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(p->calls[0] + p->calls[1], 1, "both watches ran (%u, %u)", p->calls[0],
		     p->calls[1]);
	cr_assert_eq(p->bystander_calls, 1, "the watch after the removed one did not run");
	cr_log_info("checked: of two watches that each remove the other, one ran; the third "
		    "event of the batch was still dispatched");
}
