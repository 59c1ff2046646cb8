// SPDX-License-Identifier: GPL-2.0-only
/*
 * Event sinks: a sink that cannot keep up loses events counted exactly, not
 * silently; the file sink rotates by size into at most N gzip backups;
 * priorities by severity, every one docs/events.md lists.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <zlib.h>

#include "keeld/sink.h"
#include "tmp_path.h"

/* A sink whose writes wait until the test lets them go. */
struct gated {
	sem_t go;
	unsigned int written;
};

static struct keel_sink_item *gated_encode(void *priv, const char *type, json_t *ev,
					   const char *line, size_t len, int prio)
{
	struct keel_sink_item *it = malloc(sizeof(*it) + len);

	(void)priv, (void)type, (void)ev;
	it->priority = prio;
	it->len = len;
	memcpy(it->data, line, len);
	return it;
}

static int gated_write(void *priv, const struct keel_sink_item *it)
{
	struct gated *g = priv;

	(void)it;
	sem_wait(&g->go);
	g->written++;
	return 0;
}

static void gated_close(void *priv)
{
	(void)priv;
}

static const struct keel_sink_ops gated_ops = {
	.name = "gated",
	.encode = gated_encode,
	.write = gated_write,
	.close = gated_close,
};

Test(sinks, slow_sink_drops_are_counted_exactly)
{
	static struct gated g;
	struct keel_sink_stats st;
	struct keel_sink *s;
	uint64_t q, w;

	sem_init(&g.go, 0, 0);
	cr_assert_eq(keel_sink_start(&gated_ops, &g, 16, &s), 0);
	/* the worker takes one item and blocks in write; 16 more fill the queue */
	for (int i = 0; i < 100; i++) {
		keel_sink_push(s, "t.x", NULL, "{}\n", 3, LOG_INFO);
		if (i == 0)
			usleep(100000); /* let the worker take the first */
	}
	keel_sink_get_stats(s, &st);
	cr_log_info("queued %llu, dropped %llu of 100", (unsigned long long)st.queued,
		    (unsigned long long)st.dropped_queue);
	cr_assert_eq(st.queued, 17);
	cr_assert_eq(st.dropped_queue, 83, "every event not queued is counted");
	keel_sink_take_unreported(s, &q, &w);
	cr_assert_eq(q, 83);
	keel_sink_take_unreported(s, &q, &w);
	cr_assert_eq(q, 0, "reported drops are not reported twice");
	for (int i = 0; i < 17; i++)
		sem_post(&g.go);
	cr_assert_eq(keel_sink_stop(s, 2000), 0, "the queue is written out at stop");
	cr_assert_eq(g.written, 17);
}

Test(sinks, stuck_sink_does_not_hang_stop)
{
	static struct gated g;
	struct keel_sink *s;

	sem_init(&g.go, 0, 0);
	cr_assert_eq(keel_sink_start(&gated_ops, &g, 16, &s), 0);
	for (int i = 0; i < 5; i++)
		keel_sink_push(s, "t.x", NULL, "{}\n", 3, LOG_INFO);
	usleep(50000);
	cr_assert_eq(keel_sink_stop(s, 200), 5, "4 queued plus the one being written are lost");
}

static size_t gz_size(const char *path)
{
	char buf[8192];
	gzFile gz = gzopen(path, "rb");
	size_t total = 0;
	int n;

	cr_assert_not_null(gz, "%s opens as gzip", path);
	while ((n = gzread(gz, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	gzclose(gz);
	return total;
}

Test(sinks, file_rotates_into_bounded_gzip_backups)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], name[PATH_MAX + 32];
	char line[201];
	struct keel_sink *s;
	struct stat st;
	void *priv;
	char why[256];

	cr_assert_not_null(mkdtemp(keel_test_tmp_template(dir, sizeof(dir), "keel-sink-")));
	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	cr_assert_eq(keel_sink_file_open(path, 4096, 3, &priv, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(keel_sink_start(&keel_sink_file_ops, priv, 1024, &s), 0);
	memset(line, 'x', 199);
	line[199] = '\n';
	line[200] = '\0';
	for (int i = 0; i < 200; i++) /* 40000 bytes: 10 files of 20 lines, 9 rotations */
		keel_sink_push(s, "t.x", NULL, line, 200, LOG_INFO);
	cr_assert_eq(keel_sink_stop(s, 5000), 0);

	cr_assert_eq(stat(path, &st), 0);
	cr_assert_leq(st.st_size, 4096);
	for (int b = 1; b <= 3; b++) {
		snprintf(name, sizeof(name), "%s.%d.gz", path, b);
		cr_assert_eq(gz_size(name), 4000, "backup %d holds 20 whole lines", b);
	}
	snprintf(name, sizeof(name), "%s.4.gz", path);
	cr_assert_neq(access(name, F_OK), 0, "no fourth backup");
	cr_assert_eq(st.st_size + 3 * 4000, 200 * 200 - 6 * 4000,
		     "the current file plus the backups are the newest lines");
	cr_log_info("file %lld bytes, 3 backups of 4000", (long long)st.st_size);
	for (int b = 1; b <= 3; b++) {
		snprintf(name, sizeof(name), "%s.%d.gz", path, b);
		unlink(name);
	}
	unlink(path);
	rmdir(dir);
}

Test(sinks, file_refuses_a_directory)
{
	char why[256];
	void *priv;

	cr_assert_lt(keel_sink_file_open("/tmp", 4096, 1, &priv, why, sizeof(why)), 0);
	cr_log_info("%s", why);
	cr_assert_not_null(strstr(why, "/tmp"));
}

Test(sinks, priorities_by_severity)
{
	json_t *failed = json_pack("{s:s}", "state", "failed");
	json_t *running = json_pack("{s:s}", "state", "running");

	cr_assert_eq(keel_event_priority("exec.deny", NULL), LOG_WARNING);
	cr_assert_eq(keel_event_priority("blk.dropped", NULL), LOG_WARNING);
	cr_assert_eq(keel_event_priority("keel.dropped", NULL), LOG_WARNING);
	cr_assert_eq(keel_event_priority("exec.install_failed", NULL), LOG_ERR);
	cr_assert_eq(keel_event_priority("blk.stats", NULL), LOG_DEBUG);
	cr_assert_eq(keel_event_priority("vm.learn", NULL), LOG_INFO);
	cr_assert_eq(keel_event_priority("keel.subsystem", failed), LOG_ERR);
	cr_assert_eq(keel_event_priority("keel.subsystem", running), LOG_INFO);
	json_decref(failed);
	json_decref(running);
}

/*
 * Every type docs/events.md gives a priority other than info, wherever its
 * row lives (a subsystem's .event_priorities or the frame's table).
 */
Test(sinks, every_listed_priority)
{
	static const struct {
		const char *type;
		int prio;
	} rows[] = {
		{ "exec.install_failed", LOG_ERR },
		{ "vmnet.map_error", LOG_ERR },
		{ "vdisk.integrity_mismatch", LOG_ERR },
		{ "exec.deny", LOG_WARNING },
		{ "exec.taint", LOG_WARNING },
		{ "exec.guard_deny", LOG_WARNING },
		{ "exec.install_refused", LOG_WARNING },
		{ "exec.dropped", LOG_WARNING },
		{ "exec.guard_dropped", LOG_WARNING },
		{ "vmnet.kvm_dropped", LOG_WARNING },
		{ "vmnet.dropped", LOG_WARNING },
		{ "keel.events_dropped", LOG_WARNING },
		{ "keel.reload_refused", LOG_WARNING },
		{ "eni.provider_error", LOG_WARNING },
		{ "eni.provider_queue_full", LOG_WARNING },
		{ "vm.conflict", LOG_WARNING },
		{ "vm.learn_refused", LOG_WARNING },
		{ "vmnet.limit", LOG_WARNING },
		{ "vmnet.inventory_error", LOG_WARNING },
		{ "vmnet.port_error", LOG_WARNING },
		{ "memh.read_error", LOG_WARNING },
		{ "vdisk.error", LOG_WARNING },
		{ "vdisk.fenced", LOG_WARNING },
		{ "vdisk.renew_failed", LOG_WARNING },
		{ "vdisk.release_refused", LOG_WARNING },
		{ "exec.allow_audit", LOG_NOTICE },
		{ "exec.trust", LOG_NOTICE },
		{ "exec.untrust", LOG_NOTICE },
		{ "exec.mode", LOG_NOTICE },
		{ "exec.installer", LOG_NOTICE },
		{ "keel.start", LOG_NOTICE },
		{ "keel.stop", LOG_NOTICE },
		{ "keel.reload", LOG_NOTICE },
		{ "vm.arrive", LOG_NOTICE },
		{ "vm.depart", LOG_NOTICE },
		{ "eni.add", LOG_NOTICE },
		{ "eni.remove", LOG_NOTICE },
		{ "exec.exec", LOG_DEBUG },
		{ "blk.stats", LOG_DEBUG },
		{ "vm.learn", LOG_INFO },
		{ "vdisk.opened", LOG_INFO },
		{ "memh.served", LOG_INFO },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cr_expect_eq(keel_event_priority(rows[i].type, NULL), rows[i].prio,
			     "%s: priority %d, expected %d", rows[i].type,
			     keel_event_priority(rows[i].type, NULL), rows[i].prio);
	cr_log_info("checked: the priority of %zu event types", sizeof(rows) / sizeof(rows[0]));
}
