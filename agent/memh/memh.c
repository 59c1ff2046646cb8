// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory handles, user side: keel.ko's descriptors when /dev/keel exists,
 * else a pidfd plus a shared record of the restrictions, used with
 * process_vm_readv/writev (see include/keel/memh.h for the trade-off).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "keel/memh.h"

#define FB_MAGIC 0x6b656c6d68666231ULL /* "kelmhfb1" */
#define BOUNCE	 (1UL << 20)

/* The fallback's record of a handle, in a memfd both sides map. */
struct fb_rec {
	uint64_t magic;
	uint64_t addr;
	uint64_t len;
	int64_t expires_ms; /* CLOCK_REALTIME ms; 0: never */
	uint32_t prot;
	uint32_t peer_type;
	uint32_t peer;
	uint32_t section_shift;
	uint32_t state; /* enum keel_memh_state; the creator writes it */
	uint32_t creator_pid;
};

struct keel_memh {
	bool fallback;
	int fd;		    /* keel.ko handle, or the fallback's memfd */
	int pidfd;	    /* fallback: the creator */
	struct fb_rec *rec; /* fallback */
	uint64_t addr;
	uint64_t len;
	unsigned int prot;
	unsigned int shift;
	char *map; /* holder: the section mapped now */
	uint64_t map_sec;
	size_t map_len;
	int pipe[2]; /* holder, keel.ko: keel_memh_copy()'s bounce */
	size_t pipe_len;
};

static struct keel_memh *memh_new(void)
{
	struct keel_memh *h = calloc(1, sizeof(*h));

	if (h) {
		h->fd = -1;
		h->pidfd = -1;
		h->pipe[0] = h->pipe[1] = -1;
	}
	return h;
}

void keel_memh_free(struct keel_memh *h)
{
	if (!h)
		return;
	if (h->map)
		munmap(h->map, h->map_len);
	if (h->rec)
		munmap(h->rec, sizeof(*h->rec));
	if (h->fd >= 0)
		close(h->fd);
	if (h->pidfd >= 0)
		close(h->pidfd);
	if (h->pipe[0] >= 0) {
		close(h->pipe[0]);
		close(h->pipe[1]);
	}
	free(h);
}

static int64_t now_ms(void)
{
	return (int64_t)(keel_clock_ns(CLOCK_REALTIME) / 1000000);
}

static int create_kmod(void *addr, size_t len, const struct keel_memh_opts *o, struct keel_memh *h)
{
	struct keel_memh_create c = {
		.addr = (uintptr_t)addr,
		.len = len,
		.prot = o->prot,
		.peer_type = o->peer_type,
		.peer = o->peer,
		.section_shift = o->section_shift,
		.expire_ms = o->expire_ms,
	};
	int dev = open("/dev/keel", O_RDWR | O_CLOEXEC);
	int err = 0;

	if (dev < 0)
		return -errno;
	if (ioctl(dev, KEEL_IOC_MEMH_CREATE, &c) < 0)
		err = -errno;
	close(dev);
	if (err)
		return err;
	h->fd = c.fd;
	return 0;
}

static int create_fallback(void *addr, size_t len, const struct keel_memh_opts *o,
			   struct keel_memh *h)
{
	struct fb_rec *r;

	h->fd = memfd_create("keel-memh", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (h->fd < 0 || ftruncate(h->fd, sizeof(*r)) < 0)
		return -errno;
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
	if (r == MAP_FAILED)
		return -errno;
	h->rec = r;
	*r = (struct fb_rec){
		.magic = FB_MAGIC,
		.addr = (uintptr_t)addr,
		.len = len,
		.prot = o->prot,
		.peer_type = o->peer_type,
		.peer = o->peer,
		.section_shift = o->section_shift ?: KEEL_MEMH_SECTION_SHIFT_DEFAULT,
		.creator_pid = getpid(),
		.expires_ms = o->expire_ms ? now_ms() + (int64_t)o->expire_ms : 0,
	};
	if (fcntl(h->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	h->pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	return h->pidfd < 0 ? -errno : 0;
}

/* The checks keel.ko makes at create, for the fallback to make too. */
static int check_opts(uintptr_t addr, size_t len, const struct keel_memh_opts *o)
{
	long pg = sysconf(_SC_PAGESIZE);

	if (!len || addr % pg || len % pg || addr + len < addr)
		return -EINVAL;
	if (o->prot != KEEL_MEMH_READ && o->prot != (KEEL_MEMH_READ | KEEL_MEMH_WRITE))
		return -EINVAL;
	if (o->peer_type > KEEL_MEMH_PEER_UID)
		return -EINVAL;
	if (o->section_shift && (o->section_shift < 12 || o->section_shift > 30))
		return -EINVAL;
	return 0;
}

int keel_memh_create(void *addr, size_t len, const struct keel_memh_opts *opts,
		     struct keel_memh **ret_h)
{
	struct keel_memh *h;
	int err = check_opts((uintptr_t)addr, len, opts);

	if (err)
		return err;
	h = memh_new();
	if (!h)
		return -ENOMEM;
	err = -ENOENT;
	if (!opts->force_fallback)
		err = create_kmod(addr, len, opts, h);
	if (err == -ENOENT || err == -ENODEV || err == -ENXIO) {
		h->fallback = true;
		err = create_fallback(addr, len, opts, h);
	}
	if (err) {
		keel_memh_free(h);
		return err;
	}
	h->addr = (uintptr_t)addr;
	h->len = len;
	h->prot = opts->prot;
	*ret_h = h;
	return 0;
}

int keel_memh_revoke(struct keel_memh *h)
{
	if (!h->fallback)
		return ioctl(h->fd, KEEL_MEMH_IOC_REVOKE) < 0 ? -errno : 0;
	if ((pid_t)h->rec->creator_pid != getpid())
		return -EPERM;
	__atomic_store_n(&h->rec->state, KEEL_MEMH_REVOKED, __ATOMIC_SEQ_CST);
	return 0;
}

bool keel_memh_fallback(const struct keel_memh *h)
{
	return h->fallback;
}

size_t keel_memh_len(const struct keel_memh *h)
{
	return h->len;
}

int keel_memh_send(int sock, const struct keel_memh *h, const void *msg, size_t len)
{
	int fds[2] = { h->fd, h->pidfd }, n = h->fallback ? 2 : 1;
	char cbuf[CMSG_SPACE(sizeof(fds))] = { 0 };
	struct iovec iov = { (void *)msg, len };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	if (!len)
		return -EINVAL; /* SCM_RIGHTS needs at least one byte */
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	if (sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

/* The pid a pidfd refers to, from /proc/self/fdinfo; or a negative errno. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], line[128];
	pid_t pid = -ESRCH;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid: %d", &pid) == 1)
			break;
	fclose(f);
	return pid > 0 ? pid : -ESRCH;
}

static int open_fallback(struct keel_memh *h)
{
	struct fb_rec *r = mmap(NULL, sizeof(*r), PROT_READ, MAP_SHARED, h->fd, 0);

	if (r == MAP_FAILED)
		return -errno;
	h->rec = r;
	if (r->magic != FB_MAGIC || pidfd_pid(h->pidfd) != (pid_t)r->creator_pid)
		return -EBADMSG;
	h->addr = r->addr;
	h->len = r->len;
	h->prot = r->prot;
	h->shift = r->section_shift;
	return 0;
}

static int open_kmod(struct keel_memh *h)
{
	struct keel_memh_info info;

	if (ioctl(h->fd, KEEL_MEMH_IOC_INFO, &info) < 0)
		return -errno;
	h->addr = info.addr;
	h->len = info.len;
	h->prot = info.prot;
	h->shift = info.section_shift;
	return 0;
}

/* Take the fds of one SCM_RIGHTS message into a new handle. */
static int take_fds(struct msghdr *m, struct keel_memh **ret_h)
{
	struct cmsghdr *cm = CMSG_FIRSTHDR(m);
	int fds[2] = { -1, -1 }, n, err;
	struct keel_memh *h;

	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		return -ENOMSG;
	n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	memcpy(fds, CMSG_DATA(cm), (n > 2 ? 2 : n) * sizeof(int));
	h = memh_new();
	if (!h || n < 1 || n > 2 || (m->msg_flags & MSG_CTRUNC)) {
		for (int i = 0; i < (n > 2 ? 2 : n); i++)
			close(fds[i]);
		free(h);
		return h ? -EBADMSG : -ENOMEM;
	}
	h->fd = fds[0];
	h->pidfd = fds[1];
	h->fallback = n == 2;
	err = h->fallback ? open_fallback(h) : open_kmod(h);
	if (err) {
		keel_memh_free(h);
		return err;
	}
	*ret_h = h;
	return 0;
}

int keel_memh_recv(int sock, void *msg, size_t len, size_t *ret_len, struct keel_memh **ret_h)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = { msg, len };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	*ret_len = n;
	*ret_h = NULL;
	return take_fds(&m, ret_h);
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

/* The fallback's restriction checks, in keel.ko's order. */
static int fb_check(struct keel_memh *h, bool write)
{
	struct fb_rec *r = h->rec;

	if (__atomic_load_n(&r->state, __ATOMIC_SEQ_CST) == KEEL_MEMH_REVOKED)
		return -EKEYREVOKED;
	if (pidfd_exited(h->pidfd))
		return -ESRCH;
	if (r->expires_ms && now_ms() > r->expires_ms)
		return -ETIME;
	if (r->peer_type == KEEL_MEMH_PEER_PID && (pid_t)r->peer != getpid())
		return -EPERM;
	if (r->peer_type == KEEL_MEMH_PEER_UID && r->peer != geteuid())
		return -EPERM;
	return write && !(h->prot & KEEL_MEMH_WRITE) ? -EACCES : 0;
}

int keel_memh_state(struct keel_memh *h, enum keel_memh_state *ret_state)
{
	struct keel_memh_info info;
	int err;

	if (!h->fallback) {
		if (ioctl(h->fd, KEEL_MEMH_IOC_INFO, &info) < 0)
			return -errno;
		*ret_state = info.state;
		return 0;
	}
	err = fb_check(h, false);
	*ret_state = err == -EKEYREVOKED ? KEEL_MEMH_REVOKED :
		     err == -ESRCH	 ? KEEL_MEMH_EXITED :
		     err == -ETIME	 ? KEEL_MEMH_EXPIRED :
					   KEEL_MEMH_LIVE;
	return 0;
}

static ssize_t fb_copy(struct keel_memh *h, uint64_t off, void *buf, size_t len, bool write)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)(h->addr + off), len };
	pid_t pid = h->rec->creator_pid;
	ssize_t n;
	int err = fb_check(h, write);

	if (err)
		return err;
	n = write ? process_vm_writev(pid, &local, 1, &remote, 1, 0) :
		    process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	/* The pid may have been reused while we copied: then it never happened. */
	return pidfd_exited(h->pidfd) ? -ESRCH : n;
}

/* Map the section holding @off; returns its address or NULL with *err. */
static char *section_at(struct keel_memh *h, uint64_t off, int *err)
{
	uint64_t ssize = 1ULL << h->shift, sec = off >> h->shift;
	size_t len = h->len - sec * ssize < ssize ? h->len - sec * ssize : ssize;
	int prot = PROT_READ | (h->prot & KEEL_MEMH_WRITE ? PROT_WRITE : 0);
	void *p;

	if (h->map && h->map_sec == sec)
		return h->map;
	if (h->map)
		munmap(h->map, h->map_len);
	h->map = NULL;
	p = mmap(NULL, len, prot, MAP_SHARED, h->fd, sec * ssize);
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	h->map = p;
	h->map_sec = sec;
	h->map_len = len;
	return p;
}

/* One step of a copy: how much fits in the section holding @off. */
static size_t section_room(struct keel_memh *h, uint64_t off, size_t len)
{
	uint64_t room = (1ULL << h->shift) - (off & ((1ULL << h->shift) - 1));

	return len < room ? len : room;
}

static ssize_t kmod_copy(struct keel_memh *h, uint64_t off, void *buf, size_t len, bool write)
{
	size_t done = 0;
	int err = 0;

	if (write && !(h->prot & KEEL_MEMH_WRITE))
		return -EACCES;
	while (done < len) {
		uint64_t o = off + done;
		size_t n = section_room(h, o, len - done);
		char *p = section_at(h, o, &err);

		if (!p)
			return done ? (ssize_t)done : err;
		p += o & ((1ULL << h->shift) - 1);
		if (write)
			memcpy(p, (char *)buf + done, n);
		else
			memcpy((char *)buf + done, p, n);
		done += n;
	}
	return done;
}

/*
 * keel.ko, through the kernel: the bytes go into a pipe and out of it, so
 * the kernel's copy into or out of the mapped section meets a handle that
 * died (revoked, expired, creator exited) as EFAULT instead of raising
 * SIGBUS in this process.  A pipe that may hold bytes of a failed copy
 * is closed, never reused.
 */
static int pipe_ready(struct keel_memh *h)
{
	int sz;

	if (h->pipe[0] >= 0)
		return 0;
	if (pipe2(h->pipe, O_CLOEXEC) < 0)
		return -errno;
	/* 1 MiB is pipe-max-size's default; a smaller pipe only costs calls */
	fcntl(h->pipe[1], F_SETPIPE_SZ, 1 << 20);
	sz = fcntl(h->pipe[1], F_GETPIPE_SZ);
	h->pipe_len = sz > 0 ? (size_t)sz : 4096;
	return 0;
}

/* Why a copy through keel.ko failed: the handle's state, as keel_uapi.h's errno. */
static int memh_dead_errno(struct keel_memh *h)
{
	struct keel_memh_info info;

	if (ioctl(h->fd, KEEL_MEMH_IOC_INFO, &info) < 0)
		return -errno;
	switch (info.state) {
	case KEEL_MEMH_REVOKED:
		return -EKEYREVOKED;
	case KEEL_MEMH_EXITED:
		return -ESRCH;
	case KEEL_MEMH_EXPIRED:
		return -ETIME;
	default:
		return -EFAULT;
	}
}

static void pipe_drop(struct keel_memh *h)
{
	close(h->pipe[0]);
	close(h->pipe[1]);
	h->pipe[0] = h->pipe[1] = -1;
}

static ssize_t kmod_copy_kernel(struct keel_memh *h, uint64_t off, void *buf, size_t len,
				bool to_handle)
{
	size_t done = 0;
	int err = pipe_ready(h);

	if (err)
		return err;
	if (to_handle && !(h->prot & KEEL_MEMH_WRITE))
		return -EACCES;
	while (done < len) {
		uint64_t o = off + done;
		size_t n = section_room(h, o, len - done);
		char *p = section_at(h, o, &err), *src, *dst;
		ssize_t w, r;

		if (!p)
			return err;
		if (n > h->pipe_len)
			n = h->pipe_len;
		p += o & ((1ULL << h->shift) - 1);
		src = to_handle ? (char *)buf + done : p;
		dst = to_handle ? p : (char *)buf + done;
		w = write(h->pipe[1], src, n);
		if (w != (ssize_t)n)
			err = w < 0 ? -errno : -EFAULT;
		r = err ? 0 : read(h->pipe[0], dst, n);
		if (!err && r != (ssize_t)n)
			err = r < 0 ? -errno : -EFAULT;
		if (err) {
			pipe_drop(h);
			return err == -EFAULT ? memh_dead_errno(h) : err;
		}
		done += n;
	}
	return done;
}

static int check_range(struct keel_memh *h, uint64_t off, size_t len)
{
	if (off >= h->len || len > h->len - off)
		return -ENXIO;
	return 0;
}

ssize_t keel_memh_write(struct keel_memh *h, uint64_t off, const void *buf, size_t len)
{
	int err = check_range(h, off, len);

	if (err)
		return err;
	if (h->fallback)
		return fb_copy(h, off, (void *)buf, len, true);
	return kmod_copy(h, off, (void *)buf, len, true);
}

ssize_t keel_memh_read(struct keel_memh *h, uint64_t off, void *buf, size_t len)
{
	int err = check_range(h, off, len);

	if (err)
		return err;
	if (h->fallback)
		return fb_copy(h, off, buf, len, false);
	return kmod_copy(h, off, buf, len, false);
}

/* Fallback pread: through a bounce buffer, then process_vm_writev. */
static ssize_t fb_pread(struct keel_memh *h, uint64_t off, int fd, off_t foff, size_t len)
{
	size_t done = 0, cap = len < BOUNCE ? len : BOUNCE;
	char *bounce = malloc(cap ? cap : 1);
	ssize_t n = 0, w;

	if (!bounce)
		return -ENOMEM;
	while (done < len) {
		n = pread(fd, bounce, len - done < cap ? len - done : cap, foff + done);
		if (n <= 0) {
			n = n < 0 ? -errno : 0;
			break;
		}
		w = fb_copy(h, off + done, bounce, n, true);
		if (w < 0) {
			n = w;
			break;
		}
		done += w;
	}
	free(bounce);
	return done ? (ssize_t)done : n;
}

/*
 * keel.ko pread: read(2) straight into the mapped section, so a revoked
 * handle gives EFAULT from the kernel's copy rather than SIGBUS here.
 */
static ssize_t kmod_pread(struct keel_memh *h, uint64_t off, int fd, off_t foff, size_t len)
{
	size_t done = 0;
	int err = 0;

	if (!(h->prot & KEEL_MEMH_WRITE))
		return -EACCES;
	while (done < len) {
		uint64_t o = off + done;
		size_t n = section_room(h, o, len - done);
		char *p = section_at(h, o, &err);
		ssize_t r;

		if (!p)
			return done ? (ssize_t)done : err;
		r = pread(fd, p + (o & ((1ULL << h->shift) - 1)), n, foff + done);
		if (r < 0)
			return done ? (ssize_t)done : -errno;
		done += r;
		if ((size_t)r < n)
			break; /* end of file */
	}
	return done;
}

ssize_t keel_memh_copy(struct keel_memh *h, uint64_t off, void *buf, size_t len, bool to_handle)
{
	int err = check_range(h, off, len);

	if (err)
		return err;
	if (h->fallback)
		return fb_copy(h, off, buf, len, to_handle);
	return kmod_copy_kernel(h, off, buf, len, to_handle);
}

ssize_t keel_memh_pread(struct keel_memh *h, uint64_t off, int fd, off_t file_off, size_t len)
{
	int err = check_range(h, off, len);

	if (err)
		return err;
	if (!(h->prot & KEEL_MEMH_WRITE))
		return -EACCES;
	if (h->fallback)
		return fb_pread(h, off, fd, file_off, len);
	return kmod_pread(h, off, fd, file_off, len);
}
