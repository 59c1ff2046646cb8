// SPDX-License-Identifier: GPL-2.0-only
/*
 * Crash safety of grain allocation: a child process writes partial grains
 * into a delta (so each new grain is filled from the parent), flushing and
 * acknowledging each write through a pipe, and is killed with SIGKILL at a
 * random moment.  Afterwards `qemu-img check` and keel_vmdk_check find the
 * image clean, every acknowledged write is there, and every grain reads
 * either entirely as before or entirely as written: never a torn grain,
 * never a table entry without its data.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "vmdk_helpers.h"

#define SIZE	(64 << 20)
#define GRAIN	65536
#define NGRAINS (SIZE / GRAIN)
#define AT	10000 /* each write covers bytes AT..AT+LEN of its grain */
#define LEN	40000

static void child(const char *path, int fd)
{
	char err[512];
	struct keel_vmdk *d;
	unsigned char buf[LEN];

	if (keel_vmdk_open(path, 0, &d, err, sizeof(err)))
		_exit(2);
	for (uint32_t i = 0; i < NGRAINS; i++) {
		/* grains in a scattered order, so tables fill out of order */
		uint32_t g = (i * 37) % NGRAINS;

		pattern(buf, sizeof(buf), 1000 + g);
		if (keel_vmdk_pwrite(d, buf, LEN, (uint64_t)g * GRAIN + AT) || keel_vmdk_flush(d))
			_exit(3);
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(4);
	}
	_exit(0);
}

Test(vmdk_crash, kill_during_grain_allocation)
{
	char *dir = scratch_dir(), err[512];
	char *base = pathf("%s/base.vmdk", dir), *top = pathf("%s/top.vmdk", dir);
	struct keel_vmdk_create_opts o = { .size = SIZE, .type = KEEL_VMDK_MONOLITHIC_FLAT };
	unsigned char *old = malloc(SIZE), *got, neww[LEN];
	struct keel_vmdk *d;
	int qemu = !shell("command -v qemu-img >/dev/null");

	cr_assert(old);
	pattern(old, SIZE, 7);
	cr_assert_eq(keel_vmdk_create(base, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_open(base, 0, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_pwrite(d, old, SIZE, 0), 0);
	keel_vmdk_close(d);
	srand((unsigned int)time(NULL));
	for (int round = 0; round < 3; round++) {
		int p[2], status, torn = 0, written = 0;
		uint32_t acked = 0, v;
		bool any = false;
		pid_t pid;
		size_t n;
		long delay_ms = 30 + rand() % 400;

		unlink(top);
		o.parent = base;
		o.type = KEEL_VMDK_MONOLITHIC_SPARSE;
		cr_assert_eq(keel_vmdk_create(top, &o, err, sizeof(err)), 0, "%s", err);
		cr_assert(!pipe(p));
		pid = fork();
		cr_assert_geq(pid, 0);
		if (!pid) {
			close(p[0]);
			child(top, p[1]);
		}
		close(p[1]);
		usleep((useconds_t)delay_ms * 1000);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		while (read(p[0], &v, sizeof(v)) == sizeof(v)) {
			acked = v;
			any = true;
		}
		close(p[0]);
		if (qemu)
			cr_assert_eq(shell("qemu-img check -q %s", top), 0,
				     "round %d: qemu-img check", round);
		{
			json_t *report = json_object();

			cr_assert_eq(keel_vmdk_check(top, report, err, sizeof(err)), 0,
				     "round %d: %s", round, err);
			json_decref(report);
		}
		got = read_disk(top, &n);
		for (uint32_t g = 0; g < NGRAINS; g++) {
			const unsigned char *o_ = old + (size_t)g * GRAIN,
					    *a = got + (size_t)g * GRAIN;
			bool is_old = !memcmp(a, o_, GRAIN), is_new;

			pattern(neww, LEN, 1000 + g);
			is_new = !memcmp(a, o_, AT) && !memcmp(a + AT, neww, LEN) &&
				 !memcmp(a + AT + LEN, o_ + AT + LEN, GRAIN - AT - LEN);
			if (!is_old && !is_new)
				torn++;
			written += is_new;
		}
		for (uint32_t i = 0; any && i <= acked; i++) {
			uint32_t g = (i * 37) % NGRAINS;

			pattern(neww, LEN, 1000 + g);
			cr_assert(!memcmp(got + (size_t)g * GRAIN + AT, neww, LEN),
				  "round %d: acknowledged write %u (grain %u) lost", round, i, g);
		}
		cr_assert_eq(torn, 0, "round %d: %d grains neither old nor new", round, torn);
		cr_log_info(
			"round %d: killed after %ld ms with %u writes acknowledged, %d grains new, "
			"none torn, qemu-img check%s and keel_vmdk_check clean",
			round, delay_ms, any ? acked + 1 : 0, written, qemu ? "" : " (skipped)");
		free(got);
	}
	free(old);
	free(base);
	free(top);
	scratch_rm(dir);
}

static void put_le32(const char *path, uint64_t off, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };
	int fd = open(path, O_WRONLY);

	cr_assert(fd >= 0 && pwrite(fd, b, 4, (off_t)off) == 4);
	close(fd);
}

static uint32_t le32_at(const char *path, uint64_t off)
{
	unsigned char b[4];
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0 && pread(fd, b, 4, (off_t)off) == 4);
	close(fd);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/*
 * Every step of an allocation, deterministically: the process ends after
 * step N (KEEL_VMDK_CRASH_AT) and the image must still be clean with the
 * grain either old or whole.  With the grain's table preallocated there are
 * 3 steps (data, redundant entry, entry); with its directory entries zeroed
 * (as images made elsewhere may have) 5 (data, table, redundant table,
 * redundant directory entry, directory entry).
 */
Test(vmdk_crash, every_allocation_step)
{
	char *dir = scratch_dir(), err[512];
	char *path = pathf("%s/s.vmdk", dir);
	struct keel_vmdk_create_opts o = { .size = 64 << 20, .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	int qemu = !shell("command -v qemu-img >/dev/null");
	unsigned char data[GRAIN], zero[GRAIN] = { 0 };

	pattern(data, sizeof(data), 77);
	for (int fresh = 0; fresh < 2; fresh++) {
		for (int step = 1; step <= (fresh ? 5 : 3); step++) {
			pid_t pid;
			int status;
			size_t n;
			unsigned char *got;
			json_t *report = json_object();

			unlink(path);
			cr_assert_eq(keel_vmdk_create(path, &o, err, sizeof(err)), 0, "%s", err);
			if (fresh) {
				/* table 1 (bytes 32..64 MiB) "not allocated" in both directories */
				put_le32(path, (uint64_t)le32_at(path, 56) * 512 + 4, 0);
				put_le32(path, (uint64_t)le32_at(path, 48) * 512 + 4, 0);
			}
			pid = fork();
			cr_assert_geq(pid, 0);
			if (!pid) {
				struct keel_vmdk *d;
				char s[8];

				snprintf(s, sizeof(s), "%d", step);
				setenv("KEEL_VMDK_CRASH_AT", s, 1);
				if (keel_vmdk_open(path, 0, &d, err, sizeof(err)))
					_exit(2);
				keel_vmdk_pwrite(d, data, GRAIN, (40 << 20));
				_exit(0);
			}
			waitpid(pid, &status, 0);
			cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 99,
				  "step %d: the child did not stop there (status %x)", step,
				  status);
			if (qemu)
				cr_assert_eq(shell("qemu-img check -q %s", path), 0,
					     "step %d: qemu-img check", step);
			cr_assert_eq(keel_vmdk_check(path, report, err, sizeof(err)), 0,
				     "step %d: %s", step, err);
			json_decref(report);
			got = read_disk(path, &n);
			cr_assert(!memcmp(got + (40 << 20), data, GRAIN) ||
					  !memcmp(got + (40 << 20), zero, GRAIN),
				  "%s table, crash after step %d: the grain is torn",
				  fresh ? "new" : "preallocated", step);
			cr_log_info("%s table, process ended after step %d: clean, grain %s",
				    fresh ? "new" : "preallocated", step,
				    !memcmp(got + (40 << 20), data, GRAIN) ? "new" : "old (zeros)");
			free(got);
		}
	}
	free(path);
	scratch_rm(dir);
}
