// SPDX-License-Identifier: GPL-2.0-only
/*
 * Grain allocation against a power loss.  A killed process keeps everything
 * it wrote (the page cache survives it, test_vmdk_crash.c covers that); a
 * power loss keeps the writes made durable by an fdatasync and any subset of
 * the writes after the last one, in any order.  This test records every
 * write and fdatasync the VMDK library makes on a delta (by defining pwrite,
 * pwrite64, fdatasync and fsync in this program, which the static library
 * then calls), then builds the disk file a power loss could leave at every
 * point: all writes before sync number k, plus every subset of the writes
 * between sync k and k+1.  Each such file must pass keel_vmdk_check and
 * qemu-img check, read every byte the test never wrote as the parent has it,
 * and read each written range entirely old or entirely new: never a table
 * entry pointing at a grain that did not reach the disk.
 *
 * Without the fdatasync between an allocation's steps, all of them fall
 * between two syncs and a state "table entry kept, grain lost" exists:
 * this test fails.
 */
#include <errno.h>
#include <inttypes.h>
#include <sys/syscall.h>

#include "vmdk_helpers.h"

#define SIZE	    (64 << 20) /* two grain tables of 32 MiB */
#define GRAIN	    65536
#define MAX_OPS	    256
#define MAX_SUBSETS 1024 /* states tried between two syncs */

struct rec_op {
	uint64_t off;
	size_t len;
	unsigned char *data;
	int epoch; /* fdatasyncs of the file before this write */
};

/* the recorder: this file is its own program (one test binary), and the
 * library's calls land here only while it records */
static struct {
	bool on;
	dev_t dev;
	ino_t ino;
	struct rec_op ops[MAX_OPS];
	int nops, epoch;
	bool overflow;
} rec;

static bool recorded_fd(int fd)
{
	struct stat st;

	return rec.on && !fstat(fd, &st) && st.st_dev == rec.dev && st.st_ino == rec.ino;
}

static void record_write(int fd, const void *buf, size_t n, off_t off)
{
	struct rec_op *o;

	if (!recorded_fd(fd))
		return;
	if (rec.nops == MAX_OPS) {
		rec.overflow = true;
		return;
	}
	o = &rec.ops[rec.nops++];
	o->off = (uint64_t)off;
	o->len = n;
	o->data = malloc(n);
	memcpy(o->data, buf, n);
	o->epoch = rec.epoch;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t r = syscall(SYS_pwrite64, fd, buf, n, off);

	if (r > 0)
		record_write(fd, buf, (size_t)r, off);
	return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	return pwrite(fd, buf, n, (off_t)off);
}

int fdatasync(int fd)
{
	if (recorded_fd(fd))
		rec.epoch++;
	return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd)
{
	if (recorded_fd(fd))
		rec.epoch++;
	return (int)syscall(SYS_fsync, fd);
}

/* the writes the test makes: partial grains of a delta, so each new grain
 * holds parent data the test never wrote */
static const struct {
	uint64_t off;
	size_t len;
} writes[] = {
	{ 3 * GRAIN + 1024, 8192 },			/* table 0, preallocated */
	{ 100 * GRAIN + 40960, 4096 },			/* table 0 */
	{ 600 * GRAIN + 512, 20480 },			/* table 1, its directory entries zeroed */
	{ 3 * GRAIN + 32768, 4096 },			/* into the grain already allocated */
	{ 200 * GRAIN + 30000 / 512 * 512, 2 * GRAIN }, /* three grains in one run */
};
#define NWRITES (sizeof(writes) / sizeof(writes[0]))

/* the file a power loss leaves: @pre, then the writes before @epoch, then
 * those of @epoch whose bit is set in @mask */
static void make_state(const char *path, const unsigned char *pre, size_t prelen, int epoch,
		       uint64_t mask)
{
	size_t len = prelen;
	unsigned char *b;
	int fd, bit = 0;

	for (int i = 0; i < rec.nops; i++)
		if (rec.ops[i].off + rec.ops[i].len > len)
			len = rec.ops[i].off + rec.ops[i].len;
	b = calloc(1, len);
	cr_assert(b);
	memcpy(b, pre, prelen);
	len = prelen;
	for (int i = 0; i < rec.nops; i++) {
		const struct rec_op *o = &rec.ops[i];
		bool keep = o->epoch < epoch || (o->epoch == epoch && (mask >> bit & 1));

		if (o->epoch == epoch)
			bit++;
		if (!keep)
			continue;
		memcpy(b + o->off, o->data, o->len);
		if (o->off + o->len > len)
			len = o->off + o->len;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(fd >= 0 && write(fd, b, len) == (ssize_t)len);
	close(fd);
	free(b);
}

static void describe(char *out, size_t outlen, int epoch, uint64_t mask)
{
	size_t at = (size_t)snprintf(out, outlen, "after sync %d, kept of the next writes:", epoch);
	int bit = 0;

	for (int i = 0; i < rec.nops && at < outlen; i++) {
		if (rec.ops[i].epoch != epoch)
			continue;
		at += (size_t)snprintf(out + at, outlen - at, " %s%zu@%" PRIu64,
				       mask >> bit & 1 ? "+" : "-", rec.ops[i].len, rec.ops[i].off);
		bit++;
	}
}

/* NULL when the state is consistent, else what is wrong */
static const char *check_state(const char *path, const unsigned char *old,
			       const unsigned char *neww, bool qemu, char *why, size_t whylen)
{
	char err[512];
	json_t *report = json_object();
	struct keel_vmdk *d;
	unsigned char *got;
	int r;

	r = keel_vmdk_check(path, report, err, sizeof(err));
	json_decref(report);
	if (r) {
		snprintf(why, whylen, "keel_vmdk_check: %s", err);
		return why;
	}
	if (qemu && shell("qemu-img check -q %s >/dev/null 2>&1", path)) {
		snprintf(why, whylen, "qemu-img check is not clean");
		return why;
	}
	if (keel_vmdk_open(path, KEEL_VMDK_RDONLY, &d, err, sizeof(err))) {
		snprintf(why, whylen, "open: %s", err);
		return why;
	}
	/* a grain table entry anywhere else would be a stray mapping */
	for (uint64_t g = 0; g < SIZE / GRAIN; g++) {
		unsigned int depth;
		uint32_t cid;
		bool touched = false;

		for (size_t w = 0; w < NWRITES; w++)
			touched |= g >= writes[w].off / GRAIN &&
				   g <= (writes[w].off + writes[w].len - 1) / GRAIN;
		if (!touched && keel_vmdk_layer_of(d, g * GRAIN, &depth, &cid) == 0 && depth == 0) {
			snprintf(why, whylen,
				 "grain %" PRIu64 ", never written, is mapped in the delta", g);
			keel_vmdk_close(d);
			return why;
		}
	}
	/* the grains written: each write's piece in each grain old or new
	 * (an allocation writes whole grains; a write over several grains
	 * may keep some of them, as on any disk), the rest as the parent has it */
	got = malloc(4 * GRAIN);
	cr_assert(got);
	for (size_t w = 0; w < NWRITES && !r; w++) {
		uint64_t g0 = writes[w].off / GRAIN * GRAIN;
		uint64_t span = ((writes[w].off + writes[w].len - 1) / GRAIN + 1) * GRAIN - g0;

		cr_assert_leq(span, 4 * GRAIN);
		r = keel_vmdk_pread(d, got, span, g0);
		if (r) {
			keel_vmdk_last_error(d, err, sizeof(err));
			snprintf(why, whylen, "read: %s", err);
			break;
		}
		for (size_t v = 0; v < NWRITES && !r; v++) {
			for (uint64_t p = writes[v].off; p < writes[v].off + writes[v].len && !r;) {
				uint64_t q = (p / GRAIN + 1) * GRAIN,
					 end = writes[v].off + writes[v].len;
				size_t n = (size_t)((q < end ? q : end) - p);

				if (p >= g0 && p < g0 + span &&
				    memcmp(got + (p - g0), old + p, n) &&
				    memcmp(got + (p - g0), neww + p, n)) {
					snprintf(why, whylen,
						 "write %zu (%zu bytes at %" PRIu64 "): its "
						 "%zu bytes at %" PRIu64
						 " read neither old nor new",
						 v, writes[v].len, writes[v].off, n, p);
					r = -1;
				} else if (p >= g0 && p < g0 + span) {
					memcpy(got + (p - g0), old + p, n);
				}
				p += n;
			}
		}
		for (size_t i = 0; i < span && !r; i += 512)
			if (memcmp(got + i, old + g0 + i, 512)) {
				snprintf(why, whylen,
					 "bytes %" PRIu64 "..%" PRIu64 ", never written, "
					 "do not read as the parent has them",
					 g0 + i, g0 + i + 511);
				r = -1;
			}
	}
	keel_vmdk_close(d);
	free(got);
	return r ? why : NULL;
}

static void put_le32(const char *path, uint64_t off, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	cr_assert(fd >= 0 && syscall(SYS_pwrite64, fd, b, 4, (off_t)off) == 4);
	close(fd);
}

static uint32_t le32_at(const char *path, uint64_t off)
{
	unsigned char b[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	cr_assert(fd >= 0 && pread(fd, b, 4, (off_t)off) == 4);
	close(fd);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

Test(vmdk_powerloss, every_state_a_power_loss_can_leave)
{
	char *dir = scratch_dir(), err[512], why[1024], what[1024];
	char *base = pathf("%s/base.vmdk", dir), *top = pathf("%s/top.vmdk", dir);
	/* a monolithicSparse descriptor names its own file: the states are
	 * "top.vmdk" in a directory of their own, beside links to the base */
	char *state = pathf("%s/s/top.vmdk", dir);
	struct keel_vmdk_create_opts o = { .size = SIZE, .type = KEEL_VMDK_MONOLITHIC_FLAT };
	unsigned char *old = malloc(SIZE), *neww = malloc(SIZE), *pre, *fin, *got;
	bool qemu = !shell("command -v qemu-img >/dev/null");
	int states = 0, epochs;
	size_t prelen, finlen;
	struct keel_vmdk *d;
	struct stat st;

	cr_assert(old && neww);
	pattern(old, SIZE, 7);
	cr_assert_eq(keel_vmdk_create(base, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_open(base, 0, &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_pwrite(d, old, SIZE, 0), 0);
	keel_vmdk_close(d);
	cr_assert_eq(shell("mkdir %s/s && ln -s ../base.vmdk ../base-flat.vmdk %s/s/", dir, dir),
		     0);
	o.parent = base;
	o.type = KEEL_VMDK_MONOLITHIC_SPARSE;
	cr_assert_eq(keel_vmdk_create(top, &o, err, sizeof(err)), 0, "%s", err);
	/* table 1 "not allocated" in both directories, as images made
	 * elsewhere may have: its first grain makes new tables */
	put_le32(top, (uint64_t)le32_at(top, 56) * 512 + 4, 0);
	put_le32(top, (uint64_t)le32_at(top, 48) * 512 + 4, 0);
	pre = slurp(top, &prelen);

	memcpy(neww, old, SIZE);
	cr_assert(!stat(top, &st));
	rec.dev = st.st_dev;
	rec.ino = st.st_ino;
	rec.on = true;
	cr_assert_eq(keel_vmdk_open(top, 0, &d, err, sizeof(err)), 0, "%s", err);
	for (size_t w = 0; w < NWRITES; w++) {
		pattern(neww + writes[w].off, writes[w].len, 100 + w);
		cr_assert_eq(
			keel_vmdk_pwrite(d, neww + writes[w].off, writes[w].len, writes[w].off), 0);
	}
	cr_assert_eq(keel_vmdk_flush(d), 0);
	keel_vmdk_close(d);
	rec.on = false;
	cr_assert(!rec.overflow);
	epochs = rec.epoch;

	/* the recording is complete: replayed whole it gives the file */
	fin = slurp(top, &finlen);
	make_state(state, pre, prelen, epochs + 1, 0);
	{
		size_t len;

		got = slurp(state, &len);
		cr_assert(len == finlen && !memcmp(got, fin, finlen),
			  "the recorded writes do not rebuild the disk: a write call was missed");
		free(got);
	}
	free(fin);

	srand(1);
	for (int k = 0; k <= epochs; k++) {
		int m = 0;
		uint64_t nsub;

		for (int i = 0; i < rec.nops; i++)
			m += rec.ops[i].epoch == k;
		cr_assert_leq(m, 63);
		nsub = m <= 10 ? 1ULL << m : MAX_SUBSETS;
		for (uint64_t s = 0; s < nsub; s++) {
			/* past 10 writes: random subsets, then each write alone */
			uint64_t mask = m <= 10 ? s :
					s < (uint64_t)m ?
						  1ULL << s :
						  ((uint64_t)rand() << 32 | (uint64_t)rand()) &
							  ((1ULL << m) - 1);

			make_state(state, pre, prelen, k, mask);
			states++;
			if (check_state(state, old, neww, qemu, why, sizeof(why))) {
				describe(what, sizeof(what), k, mask);
				cr_assert_fail("power loss %s: %s", what, why);
			}
		}
		cr_log_info("sync %d of %d: %d writes after it, %" PRIu64 " subsets kept: every "
			    "state consistent",
			    k, epochs, m, nsub);
	}
	cr_log_info("%d power-loss states of %d recorded writes and %d syncs: keel_vmdk_check%s "
		    "clean, never-written bytes read as the parent's, each write old or new",
		    states, rec.nops, epochs, qemu ? " and qemu-img check" : "");
	free(pre);
	free(old);
	free(neww);
	free(base);
	free(top);
	free(state);
	scratch_rm(dir);
}
