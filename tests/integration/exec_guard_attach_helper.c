// SPDX-License-Identifier: GPL-2.0-only
/*
 * What test_exec_guard_attach.sh attempts against keel's programs and
 * keeld's executable, with raw bpf() and ptrace() calls:
 *
 *   exec_guard_attach_helper traced-exec PATH [ARG...]
 *       a child asks to be traced (PTRACE_TRACEME), then execs PATH; the
 *       exec either fails (the child reports its errno) or stops at the
 *       exec's SIGTRAP, where the child is killed before it runs
 *   exec_guard_attach_helper fentry PROG_ID
 *       load an fentry program on the program PROG_ID (attach_prog_fd)
 *   exec_guard_attach_helper freplace PROG_ID
 *       load an extension (freplace) of the program PROG_ID
 *   exec_guard_attach_helper link-create PROG_ID
 *       BPF_LINK_CREATE with the program PROG_ID as target_fd
 *   exec_guard_attach_helper link-detach LINK_ID
 *       BPF_LINK_DETACH of the link LINK_ID
 *   exec_guard_attach_helper link-update LINK_ID
 *       BPF_LINK_UPDATE of the link LINK_ID to a program of our own
 *   exec_guard_attach_helper prog-detach PROG_ID
 *       BPF_PROG_DETACH of the program PROG_ID as an LSM program, from the
 *       root cgroup
 *
 * Exit 0 when the attempt succeeded; 1 with the call and errno name when
 * it was refused; 2 on a usage or setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("%s: %s\n", what, strerror(errno));
	return 1;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* r0 = 0; exit */
static const struct bpf_insn ret0[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

static int traced_exec(char **argv)
{
	int st, err_pipe[2], err = 0;
	pid_t pid;

	if (pipe(err_pipe) < 0)
		return 2;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		close(err_pipe[0]);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(3);
		raise(SIGSTOP);
		execv(argv[0], argv);
		err = errno;
		if (write(err_pipe[1], &err, sizeof(err)) < 0)
			_exit(4);
		_exit(1);
	}
	close(err_pipe[1]);
	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
		return 2;
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	if (waitpid(pid, &st, 0) != pid)
		return 2;
	if (WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP) {
		/* The exec went through: the tracer holds keeld. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		printf("exec of %s went through under ptrace\n", argv[0]);
		return 0;
	}
	/* The child has exited (and is reaped): it sent exec's errno. */
	if (read(err_pipe[0], &err, sizeof(err)) == sizeof(err)) {
		errno = err;
		return fail("execv under ptrace");
	}
	printf("unexpected child status %#x\n", st);
	return 2;
}

static int prog_fd(__u32 id)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (fd < 0) {
		printf("BPF_PROG_GET_FD_BY_ID %u: %s\n", id, strerror(errno));
		exit(2);
	}
	return fd;
}

/* The BTF id of the program's main function, for attach_btf_id. */
static __u32 main_func(int fd)
{
	struct bpf_func_info fi[1] = {};
	struct bpf_prog_info info;
	union bpf_attr attr;

	memset(&info, 0, sizeof(info));
	info.nr_func_info = 1;
	info.func_info_rec_size = sizeof(fi[0]);
	info.func_info = (unsigned long)fi;
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (unsigned long)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0 || !fi[0].type_id) {
		printf("no BTF function info for the program: %s\n", strerror(errno));
		exit(2);
	}
	return fi[0].type_id;
}

static int load_on(__u32 id, __u32 type, __u32 attach_type)
{
	union bpf_attr attr;
	int target = prog_fd(id);
	char log[4096] = "";

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.expected_attach_type = attach_type;
	attr.insns = (unsigned long)ret0;
	attr.insn_cnt = 2;
	attr.license = (unsigned long)"GPL";
	attr.attach_prog_fd = target;
	attr.attach_btf_id = main_func(target);
	attr.log_buf = (unsigned long)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	if (sys_bpf(BPF_PROG_LOAD, &attr) < 0) {
		int err = errno;

		if (log[0])
			printf("verifier: %.200s", log);
		errno = err;
		return fail("BPF_PROG_LOAD");
	}
	printf("loaded\n");
	return 0;
}

static int link_create(__u32 id)
{
	union bpf_attr attr;
	int target = prog_fd(id), own;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (unsigned long)ret0;
	attr.insn_cnt = 2;
	attr.license = (unsigned long)"GPL";
	own = sys_bpf(BPF_PROG_LOAD, &attr);
	if (own < 0)
		return fail("BPF_PROG_LOAD of a socket filter");
	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = own;
	attr.link_create.target_fd = target;
	attr.link_create.attach_type = BPF_TRACE_FENTRY;
	if (sys_bpf(BPF_LINK_CREATE, &attr) < 0)
		return fail("BPF_LINK_CREATE");
	printf("linked\n");
	return 0;
}

static int link_change(__u32 id, int cmd)
{
	union bpf_attr attr;
	int link, own;

	memset(&attr, 0, sizeof(attr));
	attr.link_id = id;
	link = sys_bpf(BPF_LINK_GET_FD_BY_ID, &attr);
	if (link < 0)
		return fail("BPF_LINK_GET_FD_BY_ID");
	memset(&attr, 0, sizeof(attr));
	if (cmd == BPF_LINK_DETACH) {
		attr.link_detach.link_fd = link;
		if (sys_bpf(BPF_LINK_DETACH, &attr) < 0)
			return fail("BPF_LINK_DETACH");
		printf("detached\n");
		return 0;
	}
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (unsigned long)ret0;
	attr.insn_cnt = 2;
	attr.license = (unsigned long)"GPL";
	own = sys_bpf(BPF_PROG_LOAD, &attr);
	if (own < 0)
		return fail("BPF_PROG_LOAD of a socket filter");
	memset(&attr, 0, sizeof(attr));
	attr.link_update.link_fd = link;
	attr.link_update.new_prog_fd = own;
	if (sys_bpf(BPF_LINK_UPDATE, &attr) < 0)
		return fail("BPF_LINK_UPDATE");
	printf("updated\n");
	return 0;
}

/*
 * 6.1 takes BPF_PROG_DETACH of an LSM attach type for a cgroup detach
 * (BPF_LSM_CGROUP): try it on the root cgroup, where keel attached nothing.
 */
static int prog_detach(__u32 id)
{
	union bpf_attr attr;
	int cg = open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY);

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = cg < 0 ? 0 : cg;
	attr.attach_bpf_fd = prog_fd(id);
	attr.attach_type = BPF_LSM_MAC;
	if (sys_bpf(BPF_PROG_DETACH, &attr) < 0)
		return fail("BPF_PROG_DETACH");
	printf("detached\n");
	return 0;
}

int main(int argc, char **argv)
{
	__u32 id;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "traced-exec"))
		return traced_exec(argv + 2);
	if (argc != 3)
		return 2;
	id = strtoul(argv[2], NULL, 10);
	if (!strcmp(argv[1], "fentry"))
		return load_on(id, BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY);
	if (!strcmp(argv[1], "freplace"))
		return load_on(id, BPF_PROG_TYPE_EXT, 0);
	if (!strcmp(argv[1], "link-create"))
		return link_create(id);
	if (!strcmp(argv[1], "link-detach"))
		return link_change(id, BPF_LINK_DETACH);
	if (!strcmp(argv[1], "link-update"))
		return link_change(id, BPF_LINK_UPDATE);
	if (!strcmp(argv[1], "prog-detach"))
		return prog_detach(id);
	return 2;
}
