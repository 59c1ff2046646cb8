// SPDX-License-Identifier: GPL-2.0-only
/*
 * What test_exec_guard_prog.sh attempts against keel's maps with a
 * read-only fd, with no libbpf:
 *
 *   exec_prog_helper ro-open PIN    BPF_OBJ_GET with BPF_F_RDONLY
 *   exec_prog_helper write PIN      take a read-only fd, load a socket
 *                                   filter that writes zeros into key 0
 *                                   of the map through it, and run it
 *   exec_prog_helper held-write PIN the same, but take the fd now and
 *                                   load the program after a line on stdin
 *
 * Exit 0 when the attempt succeeded (the map was written); 1 with the
 * step and errno name when refused.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
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

static int ro_open(const char *pin)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = (unsigned long)pin;
	attr.file_flags = BPF_F_RDONLY;
	return sys_bpf(BPF_OBJ_GET, &attr);
}

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

/* map_update_elem(map, &(u32){0}, zeros, BPF_ANY); return its result */
static int write_through(int map_fd)
{
	struct bpf_insn prog[32];
	char log[4096] = "", data[64] = {};
	union bpf_attr attr;
	int n = 0, fd;

	prog[n++] = INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0);
	for (int off = -72; off < -8; off += 8)
		prog[n++] = INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, off, 0);
	prog[n++] = INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd);
	prog[n++] = INSN(0, 0, 0, 0, 0);
	prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0);
	prog[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4);
	prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0);
	prog[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -72);
	prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, BPF_ANY);
	prog[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_update_elem);
	prog[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (unsigned long)prog;
	attr.insn_cnt = n;
	attr.license = (unsigned long)"GPL";
	attr.log_buf = (unsigned long)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd < 0) {
		int e = errno;

		if (log[0])
			fprintf(stderr, "%s", log);
		errno = e;
		return fail("BPF_PROG_LOAD");
	}
	memset(&attr, 0, sizeof(attr));
	attr.test.prog_fd = fd;
	attr.test.data_in = (unsigned long)data;
	attr.test.data_size_in = sizeof(data);
	attr.test.repeat = 1;
	if (sys_bpf(BPF_PROG_TEST_RUN, &attr) < 0)
		return fail("BPF_PROG_TEST_RUN");
	if (attr.test.retval) {
		printf("map_update_elem in the program returned %d\n", (int)attr.test.retval);
		return 1;
	}
	printf("written\n");
	return 0;
}

int main(int argc, char **argv)
{
	char line[16];
	int fd;

	if (argc != 3)
		return 2;
	fd = ro_open(argv[2]);
	if (fd < 0)
		return fail("BPF_OBJ_GET read-only");
	if (!strcmp(argv[1], "ro-open")) {
		printf("opened\n");
		return 0;
	}
	if (!strcmp(argv[1], "held-write")) {
		printf("holding\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 2;
	} else if (strcmp(argv[1], "write")) {
		return 2;
	}
	return write_through(fd);
}
