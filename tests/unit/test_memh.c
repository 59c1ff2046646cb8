// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory-handle library, fallback mode (pidfd + process_vm_readv/writev):
 * a child process creates a handle on its buffer and sends it; this
 * process reads, writes and preads through it and hits each restriction.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keel/memh.h"
#include "tmp_path.h"

#define LEN (6UL << 20)

struct creator {
	pid_t pid;
	int sock;
};

/* The creator: make a handle, send it, then obey one-byte commands. */
static void creator_main(int sock, struct keel_memh_opts *o)
{
	char *buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct keel_memh *h;
	char c;

	memset(buf, 'a', LEN);
	if (keel_memh_create(buf, LEN, o, &h) || keel_memh_send(sock, h, "h", 1))
		_exit(2);
	while (read(sock, &c, 1) == 1) {
		if (c == 'r')
			keel_memh_revoke(h);
		if (c == 'x')
			_exit(0);
		if (c == 'v') /* send back the first bytes of sections 0..2 */
			for (int i = 0; i < 3; i++)
				write(sock, buf + ((size_t)i << 21), 1);
		write(sock, "k", 1);
	}
	_exit(0);
}

static struct keel_memh *start(struct creator *cr, unsigned int prot, unsigned int ptype,
			       unsigned int peer, uint64_t expire_ms)
{
	struct keel_memh_opts o = { .prot = prot,
				    .peer_type = ptype,
				    .peer = peer,
				    .expire_ms = expire_ms,
				    .force_fallback = true };
	struct keel_memh *h = NULL;
	char msg[8];
	size_t n;
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr->pid = fork();
	cr_assert_geq(cr->pid, 0);
	if (cr->pid == 0) {
		close(sv[0]);
		creator_main(sv[1], &o);
	}
	close(sv[1]);
	cr->sock = sv[0];
	cr_assert_eq(keel_memh_recv(cr->sock, msg, sizeof(msg), &n, &h), 0, "receiving the handle");
	cr_assert(keel_memh_fallback(h));
	cr_assert_eq(keel_memh_len(h), LEN);
	return h;
}

static void command(struct creator *cr, char c)
{
	char k;

	cr_assert_eq(write(cr->sock, &c, 1), 1);
	if (c != 'x')
		cr_assert_eq(read(cr->sock, &k, 1), 1);
}

static void finish(struct creator *cr, struct keel_memh *h)
{
	keel_memh_free(h);
	close(cr->sock);
	waitpid(cr->pid, NULL, 0);
}

Test(memh_fallback, read_write_across_sections)
{
	struct creator cr;
	struct keel_memh *h = start(&cr, KEEL_MEMH_READ | KEEL_MEMH_WRITE, 0, 0, 0);
	size_t len = (2UL << 20) + 200;
	char *b = malloc(len), got[3], k;

	cr_assert_eq(keel_memh_read(h, 100, b, len), (ssize_t)len);
	cr_expect_eq(b[0], 'a');
	cr_expect_eq(b[len - 1], 'a');
	memset(b, 'W', len);
	/* From 100 bytes before section 1 to 100 bytes into section 2. */
	cr_assert_eq(keel_memh_write(h, (2UL << 20) - 100, b, len), (ssize_t)len);
	cr_assert_eq(write(cr.sock, "v", 1), 1);
	/* three 1-byte writes: a plain read may return only the first */
	cr_assert_eq(recv(cr.sock, got, 3, MSG_WAITALL), 3);
	cr_assert_eq(read(cr.sock, &k, 1), 1);
	cr_expect_eq(got[0], 'a', "section 0 start changed");
	cr_expect_eq(got[1], 'W', "section 1 start not written");
	cr_expect_eq(got[2], 'W', "section 2 start not written");
	cr_expect_eq(keel_memh_read(h, LEN - 10, b, 20), -ENXIO, "beyond the range");
	free(b);
	finish(&cr, h);
}

Test(memh_fallback, pread_file_into_creator)
{
	struct creator cr;
	struct keel_memh *h = start(&cr, KEEL_MEMH_READ | KEEL_MEMH_WRITE, 0, 0, 0);
	char path[4096], data[5000], back[5000];
	int fd = mkstemp(keel_test_tmp_template(path, sizeof(path), "keel-memh-"));

	cr_assert_geq(fd, 0);
	unlink(path);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	cr_assert_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	cr_assert_eq(keel_memh_pread(h, 12345, fd, 0, sizeof(data)), (ssize_t)sizeof(data));
	cr_assert_eq(keel_memh_read(h, 12345, back, sizeof(back)), (ssize_t)sizeof(back));
	cr_expect_eq(memcmp(data, back, sizeof(data)), 0);
	cr_expect_eq(keel_memh_pread(h, 0, fd, 4000, 4096), 1000, "short read at end of file");
	close(fd);
	finish(&cr, h);
}

Test(memh_fallback, read_only_refuses_writes)
{
	struct creator cr;
	struct keel_memh *h = start(&cr, KEEL_MEMH_READ, 0, 0, 0);
	char b[16] = { 0 };

	cr_expect_eq(keel_memh_read(h, 0, b, sizeof(b)), (ssize_t)sizeof(b));
	cr_expect_eq(keel_memh_write(h, 0, b, sizeof(b)), -EACCES);
	cr_expect_eq(keel_memh_pread(h, 0, 0, 0, 1), -EACCES);
	finish(&cr, h);
}

Test(memh_fallback, peer_restrictions)
{
	struct creator cr;
	struct keel_memh *h = start(&cr, KEEL_MEMH_READ, KEEL_MEMH_PEER_PID, 1, 0);
	char b[16];

	cr_expect_eq(keel_memh_read(h, 0, b, sizeof(b)), -EPERM, "pid 1 only");
	finish(&cr, h);
	h = start(&cr, KEEL_MEMH_READ, KEEL_MEMH_PEER_PID, getpid(), 0);
	cr_expect_eq(keel_memh_read(h, 0, b, sizeof(b)), (ssize_t)sizeof(b), "this pid");
	finish(&cr, h);
	h = start(&cr, KEEL_MEMH_READ, KEEL_MEMH_PEER_UID, geteuid() + 1, 0);
	cr_expect_eq(keel_memh_read(h, 0, b, sizeof(b)), -EPERM, "another uid");
	finish(&cr, h);
}

Test(memh_fallback, revoke_expiry_exit)
{
	struct creator cr;
	struct keel_memh *h = start(&cr, KEEL_MEMH_READ, 0, 0, 0);
	enum keel_memh_state st;
	char b[16];

	command(&cr, 'r');
	cr_expect_eq(keel_memh_read(h, 0, b, sizeof(b)), -EKEYREVOKED);
	cr_assert_eq(keel_memh_state(h, &st), 0);
	cr_expect_eq(st, KEEL_MEMH_REVOKED);
	finish(&cr, h);

	h = start(&cr, KEEL_MEMH_READ, 0, 0, 50);
	usleep(120 * 1000);
	cr_expect_eq(keel_memh_read(h, 0, b, sizeof(b)), -ETIME);
	finish(&cr, h);

	h = start(&cr, KEEL_MEMH_READ, 0, 0, 0);
	command(&cr, 'x');
	waitpid(cr.pid, NULL, 0);
	cr_expect_eq(keel_memh_read(h, 0, b, sizeof(b)), -ESRCH);
	keel_memh_free(h);
	close(cr.sock);
}

Test(memh_fallback, bad_arguments)
{
	struct keel_memh_opts o = { .prot = KEEL_MEMH_READ, .force_fallback = true };
	struct keel_memh *h;
	char *buf = aligned_alloc(4096, 8192);

	cr_expect_eq(keel_memh_create(buf + 1, 4096, &o, &h), -EINVAL);
	cr_expect_eq(keel_memh_create(buf, 100, &o, &h), -EINVAL);
	cr_expect_eq(keel_memh_create(buf, 0, &o, &h), -EINVAL);
	o.prot = KEEL_MEMH_WRITE;
	cr_expect_eq(keel_memh_create(buf, 4096, &o, &h), -EINVAL);
	o.prot = KEEL_MEMH_READ;
	o.peer_type = 7;
	cr_expect_eq(keel_memh_create(buf, 4096, &o, &h), -EINVAL);
	free(buf);
}
