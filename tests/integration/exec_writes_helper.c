// SPDX-License-Identifier: GPL-2.0-only
/*
 * Changes to a file and ways to execute one that the shell cannot express,
 * for test_exec_writes.sh.  Each prints nothing on success and exits 0;
 * on failure it prints the failing call and errno name and exits 1.
 * io_uring is driven through the raw system calls (no liburing).
 *
 *   uring-write FILE [async]      open(2) O_WRONLY, IORING_OP_WRITE at the end
 *   uring-openat-write FILE [async|fixed]
 *                                 IORING_OP_OPENAT O_WRONLY (into a fixed
 *                                 file slot with "fixed": no descriptor in
 *                                 the process), then IORING_OP_WRITE
 *   uring-rename OLD NEW          IORING_OP_RENAMEAT
 *   uring-link OLD NEW            IORING_OP_LINKAT
 *   uring-fsetxattr FILE          IORING_OP_FSETXATTR security.keel on an O_RDONLY fd
 *   chown FILE | fchown FILE | lchown PATH | fchownat-empty FILE
 *                                 owner 1:1 (fchownat-empty: an O_PATH fd, AT_EMPTY_PATH)
 *   chown-same FILE               chown(2) to the owner it already has
 *   setxattr NAME FILE            set NAME to "1"
 *   setcap FILE                   set security.capability (CAP_NET_RAW permitted)
 *   removexattr NAME FILE | lremovexattr NAME FILE | fremovexattr NAME FILE
 *   setxattr-replace NAME FILE    set NAME with XATTR_REPLACE (fails if absent)
 *   setacl FILE                   system.posix_acl_access: user 1 r-x, mask r-x
 *   setflags FILE                 FS_IOC_SETFLAGS adding FS_NODUMP_FL (chattr +d)
 *   fssetxattr FILE               FS_IOC_FSSETXATTR with the values it has
 *   nobody OP FILE                open FILE read-only, become uid/gid 65534, then
 *                                 try OP on the descriptor: fchmod fchown futimens
 *                                 fsetxattr fremovexattr (security.keel) fremovecap
 *                                 (security.capability) setflags; exits 0 when
 *                                 the kernel refused it (printing the errno),
 *                                 1 when it was allowed
 *   truncate-same FILE            truncate(2) to the size it already has
 *   rename OLD NEW                rename(2)
 *   exchange A B                  renameat2(RENAME_EXCHANGE)
 *   execveat-dir DIR NAME         execveat(dirfd, NAME, ...)
 *   execveat-fd FILE [opath]      execveat(fd, "", AT_EMPTY_PATH) of an O_RDONLY
 *                                 (or O_PATH) descriptor
 *   execveat-unlinked FILE        open FILE, unlink it, execveat(fd, "", AT_EMPTY_PATH)
 *   tmpfile-link DIR NAME SRC proc|empty
 *                                 O_TMPFILE in DIR with SRC's content, mode 0755,
 *                                 linked as DIR/NAME through /proc/self/fd or
 *                                 linkat(fd, "", AT_EMPTY_PATH)
 *   tmpfile-exec DIR SRC          O_TMPFILE with SRC's content, executed before
 *                                 it has a name
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

extern char **environ;

static int fail(const char *what)
{
	printf("%s: %s (errno %d)\n", what, strerrorname_np(errno), errno);
	return 1;
}

/* A ring of a few entries, one request at a time. */
struct ring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r)
{
	struct io_uring_params p;
	size_t sq_size, cq_size;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -1;
	sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (cq_size > sq_size)
			sq_size = cq_size;
		cq_size = sq_size;
	}
	sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		  IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -1;
	cq = sq;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
			  IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			return -1;
	}
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		return -1;
	r->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(sq + p.sq_off.array);
	r->cq_head = (unsigned int *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/* Submit @sqe and wait for it: the request's result (negative errno on failure). */
static int ring_run(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned int tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	int res;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static int uring_fail(const char *what, int res)
{
	errno = -res;
	return fail(what);
}

static const char payload[] = "keel\n";

/* IORING_OP_WRITE of a few bytes at the end of the file: an ELF still runs */
static int uring_append(struct ring *r, int fd, __u8 flags, __u64 at)
{
	struct io_uring_sqe sqe;
	int res;

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_WRITE;
	sqe.flags = flags;
	sqe.fd = fd;
	sqe.addr = (__u64)(unsigned long)payload;
	sqe.len = sizeof(payload) - 1;
	sqe.off = at;
	res = ring_run(r, &sqe);
	if (res != (int)sizeof(payload) - 1)
		return uring_fail("IORING_OP_WRITE", res < 0 ? res : -EIO);
	return 0;
}

static int uring_write(const char *file, const char *how)
{
	struct io_uring_sqe sqe;
	__u8 async = how && !strcmp(how, "async") ? IOSQE_ASYNC : 0;
	bool fixed = how && !strcmp(how, "fixed");
	int fd = -1, res, slot = -1;
	struct stat st;
	struct ring r;

	if (stat(file, &st))
		return fail("stat");
	if (ring_init(&r))
		return fail("io_uring_setup");
	if (fixed && syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_FILES, &slot, 1) < 0)
		return fail("IORING_REGISTER_FILES");
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_OPENAT;
	sqe.flags = async;
	sqe.fd = AT_FDCWD;
	sqe.addr = (__u64)(unsigned long)file;
	/* a fixed file slot takes no O_CLOEXEC: it is not in the descriptor table */
	sqe.open_flags = fixed ? O_WRONLY : O_WRONLY | O_CLOEXEC;
	if (fixed)
		sqe.file_index = 1; /* slot 0 */
	res = ring_run(&r, &sqe);
	if (res < 0)
		return uring_fail("IORING_OP_OPENAT", res);
	fd = fixed ? 0 : res;
	res = uring_append(&r, fd, async | (fixed ? IOSQE_FIXED_FILE : 0), st.st_size);
	/* the slot's file is put once the ring lets it go: do it before exit */
	if (fixed && syscall(__NR_io_uring_register, r.fd, IORING_UNREGISTER_FILES, NULL, 0) < 0)
		return fail("IORING_UNREGISTER_FILES");
	return res;
}

static int uring_path_op(__u8 op, const char *a, const char *b)
{
	struct io_uring_sqe sqe;
	struct ring r;
	int res;

	if (ring_init(&r))
		return fail("io_uring_setup");
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = op;
	sqe.fd = AT_FDCWD;
	sqe.addr = (__u64)(unsigned long)a;
	sqe.len = (__u32)AT_FDCWD;
	sqe.addr2 = (__u64)(unsigned long)b;
	res = ring_run(&r, &sqe);
	return res < 0 ? uring_fail(op == IORING_OP_RENAMEAT ? "IORING_OP_RENAMEAT" :
							       "IORING_OP_LINKAT",
				    res) :
			 0;
}

static int uring_fsetxattr(const char *file)
{
	static const char name[] = "security.keel", value[] = "1";
	struct io_uring_sqe sqe;
	struct ring r;
	int fd, res;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("open O_RDONLY");
	if (ring_init(&r))
		return fail("io_uring_setup");
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_FSETXATTR;
	sqe.fd = fd;
	sqe.addr = (__u64)(unsigned long)name;
	sqe.addr2 = (__u64)(unsigned long)value;
	sqe.len = 1;
	res = ring_run(&r, &sqe);
	return res < 0 ? uring_fail("IORING_OP_FSETXATTR", res) : 0;
}

static int copy_into(int out, const char *path)
{
	char buf[65536];
	int in = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (in < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	return n < 0 ? -1 : 0;
}

/* A new unnamed file in @dir with @src's content, mode 0755: its O_RDWR fd. */
static int tmpfile_from(const char *dir, const char *src)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0755);

	if (fd < 0)
		return -1;
	if (copy_into(fd, src) || fchmod(fd, 0755))
		return -1;
	return fd;
}

static int tmpfile_link(const char *dir, const char *name, const char *src, const char *how)
{
	char proc[64];
	int fd, dfd;

	fd = tmpfile_from(dir, src);
	if (fd < 0)
		return fail("O_TMPFILE");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail("open dir");
	if (!strcmp(how, "empty")) {
		if (linkat(fd, "", dfd, name, AT_EMPTY_PATH))
			return fail("linkat AT_EMPTY_PATH");
	} else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW))
			return fail("linkat /proc/self/fd AT_SYMLINK_FOLLOW");
	}
	return 0;
}

static int exec_fd(int fd, const char *name)
{
	char *args[] = { (char *)name, NULL };

	syscall(__NR_execveat, fd, "", args, environ, AT_EMPTY_PATH);
	return fail("execveat AT_EMPTY_PATH");
}

static int tmpfile_exec(const char *dir, const char *src)
{
	char proc[64];
	int fd, ro;

	fd = tmpfile_from(dir, src);
	if (fd < 0)
		return fail("O_TMPFILE");
	/* exec needs no writer left: a read-only descriptor of the same inode */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ro = open(proc, O_RDONLY | O_CLOEXEC);
	if (ro < 0)
		return fail("reopen O_RDONLY");
	close(fd);
	return exec_fd(ro, "tmpfile");
}

/* security.capability, revision 2: CAP_NET_RAW permitted */
static int set_cap(const char *file)
{
	struct vfs_cap_data cap;

	memset(&cap, 0, sizeof(cap));
	cap.magic_etc = VFS_CAP_REVISION_2;
	cap.data[0].permitted = 1U << CAP_NET_RAW;
	if (setxattr(file, "security.capability", &cap, XATTR_CAPS_SZ_2, 0))
		return fail("setxattr security.capability");
	return 0;
}

static int do_xattr(const char *cmd, const char *name, const char *file)
{
	int fd;

	if (!strcmp(cmd, "setxattr"))
		return setxattr(file, name, "1", 1, 0) ? fail("setxattr") : 0;
	if (!strcmp(cmd, "removexattr"))
		return removexattr(file, name) ? fail("removexattr") : 0;
	if (!strcmp(cmd, "lremovexattr"))
		return lremovexattr(file, name) ? fail("lremovexattr") : 0;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("open O_RDONLY");
	return fremovexattr(fd, name) ? fail("fremovexattr") : 0;
}

/* system.posix_acl_access: user::rwx user:1:r-x group::r-x mask::r-x other::r-x */
static int set_acl(const char *file)
{
	struct {
		__u32 version;
		struct {
			__u16 tag, perm;
			__u32 id;
		} e[5];
	} acl = { 2,
		  { { 0x01, 7, ~0U },
		    { 0x02, 5, 1 },
		    { 0x04, 5, ~0U },
		    { 0x10, 5, ~0U },
		    { 0x20, 5, ~0U } } };

	if (setxattr(file, "system.posix_acl_access", &acl, sizeof(acl), 0))
		return fail("setxattr system.posix_acl_access");
	return 0;
}

static int set_flags(int fd)
{
	int flags;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags))
		return -1;
	flags |= FS_NODUMP_FL;
	return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

static int fd_op(const char *op, int fd)
{
	struct fsxattr fsx;

	if (!strcmp(op, "fchmod"))
		return fchmod(fd, 0755);
	if (!strcmp(op, "fchown"))
		return fchown(fd, 65534, 65534);
	if (!strcmp(op, "futimens"))
		return futimens(fd, NULL);
	if (!strcmp(op, "fsetxattr"))
		return fsetxattr(fd, "security.keel", "1", 1, 0);
	if (!strcmp(op, "fremovexattr"))
		return fremovexattr(fd, "security.keel");
	if (!strcmp(op, "fremovecap"))
		return fremovexattr(fd, "security.capability");
	if (!strcmp(op, "setflags"))
		return set_flags(fd);
	if (!strcmp(op, "fssetxattr")) {
		if (ioctl(fd, FS_IOC_FSGETXATTR, &fsx))
			return -1;
		return ioctl(fd, FS_IOC_FSSETXATTR, &fsx);
	}
	errno = EINVAL;
	return -1;
}

/* OP as nobody on a descriptor root opened: 0 when the kernel refused it */
static int as_nobody(const char *op, const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail("open O_RDONLY");
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return fail("becoming uid 65534");
	if (!fd_op(op, fd)) {
		printf("%s as uid 65534 was allowed\n", op);
		return 1;
	}
	printf("%s as uid 65534: %s\n", op, strerrorname_np(errno));
	return 0;
}

static int do_chown(const char *cmd, const char *file)
{
	struct stat st;
	int fd;

	if (!strcmp(cmd, "chown"))
		return chown(file, 1, 1) ? fail("chown") : 0;
	if (!strcmp(cmd, "lchown"))
		return lchown(file, 1, 1) ? fail("lchown") : 0;
	if (!strcmp(cmd, "chown-same")) {
		if (stat(file, &st))
			return fail("stat");
		return chown(file, st.st_uid, st.st_gid) ? fail("chown") : 0;
	}
	if (!strcmp(cmd, "fchown")) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("open O_RDONLY");
		return fchown(fd, 1, 1) ? fail("fchown") : 0;
	}
	fd = open(file, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return fail("open O_PATH");
	return fchownat(fd, "", 1, 1, AT_EMPTY_PATH) ? fail("fchownat AT_EMPTY_PATH") : 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	const char *opt = argc > 3 ? argv[3] : NULL;
	struct stat st;
	char *args[2];
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: see the comment in exec_writes_helper.c\n");
		return 2;
	}
	if (!strcmp(cmd, "uring-write")) {
		struct ring r;

		fd = open(argv[2], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st))
			return fail("open O_WRONLY");
		if (ring_init(&r))
			return fail("io_uring_setup");
		return uring_append(&r, fd, opt && !strcmp(opt, "async") ? IOSQE_ASYNC : 0,
				    st.st_size);
	}
	if (!strcmp(cmd, "uring-openat-write"))
		return uring_write(argv[2], opt);
	if (!strcmp(cmd, "uring-rename") && argc == 4)
		return uring_path_op(IORING_OP_RENAMEAT, argv[2], argv[3]);
	if (!strcmp(cmd, "uring-link") && argc == 4)
		return uring_path_op(IORING_OP_LINKAT, argv[2], argv[3]);
	if (!strcmp(cmd, "uring-fsetxattr"))
		return uring_fsetxattr(argv[2]);
	if (!strcmp(cmd, "chown") || !strcmp(cmd, "fchown") || !strcmp(cmd, "lchown") ||
	    !strcmp(cmd, "fchownat-empty") || !strcmp(cmd, "chown-same"))
		return do_chown(cmd, argv[2]);
	if (!strcmp(cmd, "setcap"))
		return set_cap(argv[2]);
	if ((!strcmp(cmd, "setxattr") || !strcmp(cmd, "removexattr") ||
	     !strcmp(cmd, "lremovexattr") || !strcmp(cmd, "fremovexattr")) &&
	    argc == 4)
		return do_xattr(cmd, argv[2], argv[3]);
	if (!strcmp(cmd, "setxattr-replace") && argc == 4)
		return setxattr(argv[3], argv[2], "1", 1, XATTR_REPLACE) ?
			       fail("setxattr XATTR_REPLACE") :
			       0;
	if (!strcmp(cmd, "setacl"))
		return set_acl(argv[2]);
	if (!strcmp(cmd, "setflags") || !strcmp(cmd, "fssetxattr")) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("open O_RDONLY");
		return fd_op(cmd, fd) ? fail(cmd) : 0;
	}
	if (!strcmp(cmd, "nobody") && argc == 4)
		return as_nobody(argv[2], argv[3]);
	if (!strcmp(cmd, "truncate-same")) {
		if (stat(argv[2], &st))
			return fail("stat");
		return truncate(argv[2], st.st_size) ? fail("truncate") : 0;
	}
	if (!strcmp(cmd, "rename") && argc == 4)
		return rename(argv[2], argv[3]) ? fail("rename") : 0;
	if (!strcmp(cmd, "exchange") && argc == 4)
		return renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], RENAME_EXCHANGE) ?
			       fail("renameat2 RENAME_EXCHANGE") :
			       0;
	if (!strcmp(cmd, "execveat-dir") && argc == 4) {
		fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return fail("open dir");
		args[0] = argv[3];
		args[1] = NULL;
		syscall(__NR_execveat, fd, argv[3], args, environ, 0);
		return fail("execveat dirfd");
	}
	if (!strcmp(cmd, "execveat-fd")) {
		fd = open(argv[2], (opt && !strcmp(opt, "opath") ? O_PATH : O_RDONLY) | O_CLOEXEC);
		if (fd < 0)
			return fail("open");
		return exec_fd(fd, argv[2]);
	}
	if (!strcmp(cmd, "execveat-unlinked")) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("open");
		if (unlink(argv[2]))
			return fail("unlink");
		return exec_fd(fd, argv[2]);
	}
	if (!strcmp(cmd, "tmpfile-link") && argc == 6)
		return tmpfile_link(argv[2], argv[3], argv[4], argv[5]);
	if (!strcmp(cmd, "tmpfile-exec") && argc == 4)
		return tmpfile_exec(argv[2], argv[3]);
	fprintf(stderr, "unknown command %s\n", cmd);
	return 2;
}
