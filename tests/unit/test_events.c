// SPDX-License-Identifier: GPL-2.0-only
/* The event bus: NDJSON shape, filters, backlog, and slow subscribers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keeld/events.h"

static void subscriber_pair(struct keel_subscriber *sub, int *peer, size_t queue)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	memset(sub, 0, sizeof(*sub));
	sub->fd = sv[0];
	keel_outq_init(&sub->q, queue);
	*peer = sv[1];
}

static size_t read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(events, line_has_common_fields)
{
	struct keel_event_bus *bus = keel_event_bus_new("h1", NULL, 8, 65536);
	struct keel_subscriber sub;
	char buf[4096];
	json_t *ev;
	int peer;

	subscriber_pair(&sub, &peer, 65536);
	cr_assert_eq(keel_event_bus_subscribe(bus, &sub, true), 0);
	keel_event_emit(bus, "blk", "blk.stats", json_pack("{s:i}", "reads", 3), 0);
	read_all(peer, buf, sizeof(buf));
	cr_log_info("checked: one NDJSON line with time, host, subsystem, type and fields: %s",
		    buf);
	cr_assert_eq(count_lines(buf), 1);
	ev = json_loads(buf, 0, NULL);
	cr_assert(ev);
	cr_expect_str_eq(json_string_value(json_object_get(ev, "host")), "h1");
	cr_expect_str_eq(json_string_value(json_object_get(ev, "subsystem")), "blk");
	cr_expect_str_eq(json_string_value(json_object_get(ev, "type")), "blk.stats");
	cr_expect_eq(json_integer_value(json_object_get(ev, "reads")), 3);
	cr_expect_eq(strlen(json_string_value(json_object_get(ev, "time"))), 30);
	json_decref(ev);
	keel_event_bus_unsubscribe(bus, &sub);
	keel_outq_free(&sub.q);
	keel_event_bus_free(bus);
}

Test(events, type_filter)
{
	struct keel_subscriber sub = { 0 };

	sub.types[0] = "exec";
	sub.types[1] = "blk.stats";
	cr_log_info("checked: a subsystem name selects its types, a full type only itself");
	cr_expect(keel_subscriber_wants(&sub, "exec.exec"));
	cr_expect(keel_subscriber_wants(&sub, "blk.stats"));
	cr_expect(!keel_subscriber_wants(&sub, "blk.other"));
	cr_expect(!keel_subscriber_wants(&sub, "execx.y"));
	sub.types[0] = NULL;
	cr_expect(keel_subscriber_wants(&sub, "anything.at_all"));
}

Test(events, backlog_replays_last_events_in_order)
{
	struct keel_event_bus *bus = keel_event_bus_new("h", NULL, 3, 65536);
	struct keel_subscriber sub;
	char buf[8192];
	int peer;

	for (int i = 0; i < 5; i++)
		keel_event_emit(bus, "t", "t.n", json_pack("{s:i}", "n", i), 0);
	subscriber_pair(&sub, &peer, 65536);
	cr_assert_eq(keel_event_bus_subscribe(bus, &sub, false), 0);
	read_all(peer, buf, sizeof(buf));
	cr_log_info("checked: the backlog holds the last 3 of 5 events, oldest first");
	cr_assert_eq(count_lines(buf), 3);
	cr_expect(strstr(buf, "\"n\":2") < strstr(buf, "\"n\":4"));
	cr_expect(!strstr(buf, "\"n\":1"));
	keel_outq_free(&sub.q);
	keel_event_bus_free(bus);
}

Test(events, slow_subscriber_drops_are_counted_and_reported)
{
	struct keel_event_bus *bus = keel_event_bus_new("h", NULL, 0, 4096);
	struct keel_event_bus_stats st;
	struct keel_subscriber sub;
	static char buf[1 << 22];
	int peer, sndbuf = 4096;
	char pad[200];

	subscriber_pair(&sub, &peer, 4096);
	setsockopt(sub.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	cr_assert_eq(keel_event_bus_subscribe(bus, &sub, true), 0);
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	/* the peer reads nothing: socket buffer, then queue, fill up */
	for (int i = 0; i < 2000; i++)
		keel_event_emit(bus, "t", "t.n", json_pack("{s:i, s:s}", "n", i, "pad", pad), 0);
	keel_event_bus_get_stats(bus, &st);
	cr_log_info("checked: emit never blocked; %llu of 2000 events dropped and counted",
		    (unsigned long long)st.dropped);
	cr_expect_gt(st.dropped, 0);
	cr_expect_lt(st.dropped, 2000);
	cr_expect_eq(st.emitted, 2000);

	/* the reader catches up: the next event comes after a drop notice */
	read_all(peer, buf, sizeof(buf));
	keel_outq_flush(&sub.q, sub.fd);
	read_all(peer, buf, sizeof(buf));
	keel_event_emit(bus, "t", "t.last", NULL, 0);
	read_all(peer, buf, sizeof(buf));
	cr_log_info("checked: after catching up the subscriber is told how many it lost");
	cr_expect(strstr(buf, "keel.events_dropped"), "no drop notice in: %.200s", buf);
	cr_expect(strstr(buf, "t.last"));
	keel_event_bus_unsubscribe(bus, &sub);
	keel_outq_free(&sub.q);
	keel_event_bus_free(bus);
}

Test(events, outq_refuses_whole_lines_past_limit)
{
	struct keel_outq q;

	keel_outq_init(&q, 10);
	cr_log_info("checked: a bounded queue takes what fits and refuses, whole, what does not");
	cr_expect_eq(keel_outq_push(&q, "12345", 5), 0);
	cr_expect_eq(keel_outq_push(&q, "123456", 6), -ENOBUFS);
	cr_expect_eq(keel_outq_pending(&q), 5);
	cr_expect_eq(keel_outq_push(&q, "12345", 5), 0);
	keel_outq_free(&q);
}
