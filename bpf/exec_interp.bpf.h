/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Scripts given to an interpreter: `python3 x.py`, `perl x.pl`,
 * `bash x.sh`, `sh < x.sh`.  Included by exec.bpf.c after its "native
 * code" part (it uses task_roles() and check_file()); the rule is in
 * docs/exec.md, "Scripts given to an interpreter".
 *
 * No hook can tell a script from data by its content, so the rule rests on
 * the interpreter's command line, which the kernel has written into the
 * new process when sched_process_exec fires:
 *
 *  - a direct exec (not through #!, whose script bprm_check_security
 *    checked as the program) of a trusted program that keeld marked
 *    KEEL_EXEC_ROLE_INTERP parses argv there, once, with the option
 *    grammar of its kind, into: code on the command line (-c, -e: nothing
 *    to check, a documented limit), a script operand, or the script on
 *    standard input;
 *  - operand: the interpreter opens its script by the name it was given
 *    (bash, dash, perl), prefixed by its working directory (python3
 *    makes it absolute), or found on PATH (bash, perl -S).  So file_open
 *    compares only the name the open system call was given with that
 *    operand (equal, or ending in "/" + operand), and checks the file
 *    opened under a matching name: a symlink, "..", /dev/stdin all lead
 *    to the file the interpreter will read.  Other opens are data and
 *    are not judged.  An open whose name cannot be read (io_uring,
 *    open_by_handle_at) is checked, to fail closed;
 *  - standard input: a regular file on fd 0 must be trusted at the exec
 *    itself; nothing can refuse there, so in enforce mode the interpreter
 *    is killed before it runs (pipes and terminals carry code a trusted
 *    program wrote: a documented limit);
 *  - strict interpreters (KEEL_EXEC_ROLE_STRICT): every regular file they
 *    open for reading must be trusted, through #! too (covers `. x.sh`).
 *
 * The parsing runs once per exec of an interpreter, in its own program;
 * file_open of an interpreter compares at most two names.
 */
#ifndef KEEL_EXEC_INTERP_BPF_H
#define KEEL_EXEC_INTERP_BPF_H

#define FMODE_READ	  0x1
#define FMODE_EXEC	  0x20
#define INTERP_ARGS_MAX	  32  /* argv elements parsed before the script; more: checked all */
#define INTERP_LEN	  256 /* names compared; a longer operand: every read checked */
#define INTERP_BUNDLE_MAX 32  /* letters of one bundle of options (-Bu) looked at */

enum interp_state {
	IS_NONE = 0,  /* not an interpreter, or nothing to check */
	IS_WATCH = 1, /* opens under the script's name are checked */
	IS_ALL = 2,   /* every regular file it opens for reading is checked */
};

struct interp_task {
	__u32 state; /* enum interp_state */
	__u32 npat;  /* names in pat[] */
	__u32 plen[2];
	char pat[2][INTERP_LEN]; /* the script's name, as an open would give it */
};

struct interp_scratch {
	char arg[INTERP_LEN]; /* one argv element; then the name an open was given */
	__u32 kind;	      /* parsing: KEEL_EXEC_ROLE_PY, _PERL, _SH or none */
	__u32 want_value;     /* parsing: the next argument is an option's value */
	__u32 end_opts;	      /* parsing: "--" seen */
	__u32 module;	      /* parsing: python -m */
};

/* The interpreter state of each task: set at each exec, copied to its children. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct interp_task);
} exec_interp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct interp_scratch);
} exec_interp_scratch SEC(".maps");

enum interp_arg {
	ARG_NEXT = 0,	 /* an option: go on */
	ARG_OPERAND = 1, /* the script: from byte (ret >> 8) of the argument */
	ARG_CODE = 2,	 /* code on the command line: nothing to check */
	ARG_STDIN = 3,	 /* the script is standard input */
};

/*
 * The string work below is in global functions: the verifier checks each
 * once, not once per iteration of the loops that call them.
 */

/* One argument (sc->arg, @n bytes) of the interpreter's command line. */
__noinline int interp_scan_arg(struct interp_scratch *sc, __u32 n)
{
	__u32 kind;
	char c0;

	if (!sc || n >= INTERP_LEN)
		return ARG_NEXT;
	kind = sc->kind;
	if (sc->want_value) {
		sc->want_value = 0;
		return sc->module ? ARG_OPERAND : ARG_NEXT;
	}
	c0 = sc->arg[0];
	if (sc->end_opts || n == 0 || (c0 != '-' && !(c0 == '+' && kind == KEEL_EXEC_ROLE_SH)))
		return ARG_OPERAND;
	if (n == 1) { /* "-" */
		if (kind != KEEL_EXEC_ROLE_SH)
			return ARG_STDIN;
		sc->end_opts = 1; /* sh -: the end of its options */
		return ARG_NEXT;
	}
	if (c0 == '-' && sc->arg[1] == '-') {
		if (n == 2) {
			sc->end_opts = 1;
			return ARG_NEXT;
		}
		/* long options taking the next argument: bash --rcfile, --init-file */
		if (kind == KEEL_EXEC_ROLE_SH && (sc->arg[2] == 'r' || sc->arg[2] == 'i'))
			sc->want_value = sc->arg[3] == 'c' || sc->arg[3] == 'n';
		/* python3 --check-hash-based-pycs MODE */
		if (kind == KEEL_EXEC_ROLE_PY && sc->arg[2] == 'c' && sc->arg[3] == 'h')
			sc->want_value = 1;
		return ARG_NEXT;
	}
	/* a bundle of one-letter options */
	for (__u32 j = 1; j < INTERP_BUNDLE_MAX; j++) {
		char c;

		if (j >= n)
			break;
		c = sc->arg[j & (INTERP_LEN - 1)];
		if (kind == KEEL_EXEC_ROLE_PY) {
			if (c == 'c')
				return ARG_CODE;
			if (c == 'm') {
				sc->module = 1;
				if (j + 1 < n)
					return ARG_OPERAND | ((j + 1) << 8);
				sc->want_value = 1;
				return ARG_NEXT;
			}
			if (c == 'W' || c == 'X') {
				sc->want_value = j + 1 >= n;
				return ARG_NEXT; /* the rest is its value */
			}
		} else if (kind == KEEL_EXEC_ROLE_PERL) {
			if (c == 'e' || c == 'E')
				return ARG_CODE;
			if (c == 'I') {
				sc->want_value = j + 1 >= n;
				return ARG_NEXT;
			}
			if (c == 'i' || c == 'x' || c == 'm' || c == 'M' || c == 'd' || c == 'D' ||
			    c == 'F' || c == 'C' || c == 'V' || c == 'l' || c == '0')
				return ARG_NEXT; /* the rest is its value */
		} else if (kind == KEEL_EXEC_ROLE_SH) {
			if (c == 'c')
				return ARG_CODE;
			if (c == 's')
				return ARG_STDIN; /* commands from standard input */
			if (c == 'o' || c == 'O')
				sc->want_value = 1;
		}
	}
	return ARG_NEXT;
}

/*
 * Store the script's names: sc->arg from byte @off, @n bytes in all.
 * python3 -m a.b: "a/b.py" and "a/b/__main__.py"; python3 DIR: DIR and
 * "DIR/__main__.py".  Returns false when they do not fit (every read is
 * then checked).
 */
__noinline int interp_set_names(struct interp_task *it, struct interp_scratch *sc, __u32 off,
				__u32 n)
{
	const char mainpy[] = "/__main__.py";
	__u32 len, i;

	if (!it || !sc || off >= n || n >= INTERP_LEN)
		return 0;
	len = n - off;
	if (len + sizeof(mainpy) >= INTERP_LEN)
		return 0;
	for (i = 0; i < INTERP_LEN; i++) {
		char c;

		if (i >= len)
			break;
		c = sc->arg[(off + i) & (INTERP_LEN - 1)];
		if (sc->module && c == '.')
			c = '/';
		it->pat[0][i & (INTERP_LEN - 1)] = c;
		it->pat[1][i & (INTERP_LEN - 1)] = c;
	}
	for (i = 0; i < sizeof(mainpy); i++)
		it->pat[1][(len + i) & (INTERP_LEN - 1)] = mainpy[i];
	it->plen[1] = len + sizeof(mainpy) - 1;
	it->npat = sc->kind == KEEL_EXEC_ROLE_PY ? 2 : 1;
	it->plen[0] = len;
	if (sc->module) {
		it->pat[0][len & (INTERP_LEN - 1)] = '.';
		it->pat[0][(len + 1) & (INTERP_LEN - 1)] = 'p';
		it->pat[0][(len + 2) & (INTERP_LEN - 1)] = 'y';
		it->pat[0][(len + 3) & (INTERP_LEN - 1)] = 0;
		it->plen[0] = len + 3;
	} else {
		it->pat[0][len & (INTERP_LEN - 1)] = 0;
	}
	return 1;
}

/* Does the name in sc->arg (@n bytes) open pattern @p: equal, or ending in "/" + it? */
__noinline int interp_name_is(struct interp_task *it, struct interp_scratch *sc, __u32 p, __u32 n)
{
	__u32 lp, at;

	if (!it || !sc || n >= INTERP_LEN)
		return 0;
	lp = it->plen[p & 1];
	if (!lp || lp > n)
		return 0;
	at = n - lp;
	if (at && sc->arg[(at - 1) & (INTERP_LEN - 1)] != '/')
		return 0;
	for (__u32 i = 0; i < INTERP_LEN; i++) {
		if (i >= lp)
			break;
		if (sc->arg[(at + i) & (INTERP_LEN - 1)] != it->pat[p & 1][i & (INTERP_LEN - 1)])
			return 0;
	}
	return 1;
}

enum interp_parse {
	PARSE_NOTHING = 0, /* code on the command line, or python -m with no module */
	PARSE_NAMES = 1,   /* it->pat holds the script's names */
	PARSE_STDIN = 2,   /* the script is standard input */
	PARSE_UNKNOWN = 3, /* argv unreadable, or the names too long: check every read */
};

/* Parse argv (in the new process's memory, from @p to @end) with sc->kind's grammar. */
__noinline int interp_parse(struct interp_task *it, struct interp_scratch *sc, __u64 p, __u64 end)
{
	if (!it || !sc)
		return PARSE_UNKNOWN;
	for (int i = 0; i < INTERP_ARGS_MAX; i++) {
		long r;
		int a;

		if (p >= end)
			return sc->module ? PARSE_NOTHING : PARSE_STDIN;
		r = bpf_probe_read_user_str(sc->arg, sizeof(sc->arg), (void *)p);
		if (r <= 0 || r >= INTERP_LEN)
			return PARSE_UNKNOWN;
		p += r;
		if (i == 0)
			continue; /* argv[0] */
		a = interp_scan_arg(sc, (__u32)(r - 1));
		if ((a & 0xff) == ARG_OPERAND)
			return interp_set_names(it, sc, (__u32)a >> 8, (__u32)(r - 1)) ?
				       PARSE_NAMES :
				       PARSE_UNKNOWN;
		if (a == ARG_CODE)
			return PARSE_NOTHING;
		if (a == ARG_STDIN)
			return PARSE_STDIN;
	}
	return PARSE_UNKNOWN;
}

static __always_inline struct interp_scratch *interp_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&exec_interp_scratch, &zero);
}

/* A regular file on the current task's fd 0, or NULL. */
static __always_inline struct file *stdin_file(struct task_struct *task)
{
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	struct file *f0 = NULL;

	if (!fds || BPF_CORE_READ(task, files, fdt, max_fds) < 1)
		return NULL;
	bpf_probe_read_kernel(&f0, sizeof(f0), fds);
	if (!f0 || (BPF_CORE_READ(f0, f_inode, i_mode) & S_IFMT) != S_IFREG)
		return NULL;
	return f0;
}

/*
 * After each successful exec, in the new program: is it one of the
 * interpreters, run directly, and what is its script?
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_interp_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct interp_scratch *sc;
	struct interp_task *it;
	struct file *f0;
	__u32 roles;
	bool direct;
	int parse;

	roles = task_roles(task);
	/* through #! (or binfmt_misc) the script was checked as the program */
	direct = BPF_CORE_READ(bprm, interp) == BPF_CORE_READ(bprm, filename);
	if (!(roles & KEEL_EXEC_ROLE_STRICT) && !(direct && (roles & KEEL_EXEC_ROLE_INTERP))) {
		it = bpf_task_storage_get(&exec_interp, task, 0, 0);
		if (it)
			it->state = IS_NONE;
		return 0;
	}
	it = bpf_task_storage_get(&exec_interp, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	sc = interp_scratch();
	if (!it || !sc)
		return 0;
	it->state = IS_ALL; /* until the parse says otherwise: fails closed */
	it->npat = 0;
	it->plen[0] = it->plen[1] = 0;
	sc->kind = roles & (KEEL_EXEC_ROLE_PY | KEEL_EXEC_ROLE_PERL | KEEL_EXEC_ROLE_SH);
	sc->want_value = sc->end_opts = sc->module = 0;
	parse = interp_parse(it, sc, BPF_CORE_READ(task, mm, arg_start),
			     BPF_CORE_READ(task, mm, arg_end));
	if (parse == PARSE_STDIN && (f0 = stdin_file(task)) &&
	    check_file(f0, KEEL_EXEC_OP_SCRIPT, false, false))
		bpf_send_signal(SIGKILL); /* enforce: killed before it reads a line */
	if (roles & KEEL_EXEC_ROLE_STRICT)
		return 0; /* IS_ALL */
	if (parse == PARSE_NAMES)
		it->state = IS_WATCH;
	else if (parse != PARSE_UNKNOWN)
		it->state = IS_NONE;
	return 0;
}

/* Threads and children of an interpreter read its script as it would, until they exec. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(exec_interp_fork, struct task_struct *parent, struct task_struct *child)
{
	struct interp_task *in, *out;

	in = bpf_task_storage_get(&exec_interp, parent, 0, 0);
	if (!in || in->state == IS_NONE)
		return 0;
	out = bpf_task_storage_get(&exec_interp, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (out)
		bpf_probe_read_kernel(out, sizeof(*out), in);
	return 0;
}

/* x86-64 numbers of the calls that open by name; i386 passes it in another register */
#define NR_OPEN	       2
#define NR_OPENAT      257
#define NR_OPENAT2     437
#define NR_OPEN_I386   5
#define NR_OPENAT_I386 295
#define X32_BIT	       0x40000000

/*
 * Read the name the current open system call was given into sc->arg:
 * its length, or 0 when there is none to read (io_uring, open_by_handle_at,
 * another architecture).
 */
static __always_inline __u32 open_name(struct interp_scratch *sc)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	long nr = BPF_CORE_READ(regs, orig_ax);
	bool ia32 = BPF_CORE_READ(task, thread_info.status) & 0x0002; /* TS_COMPAT */
	unsigned long name;
	long r;

	if (ia32) {
		if (nr == NR_OPEN_I386)
			name = BPF_CORE_READ(regs, bx);
		else if (nr == NR_OPENAT_I386 || nr == NR_OPENAT2)
			name = BPF_CORE_READ(regs, cx);
		else
			return 0;
	} else {
		nr &= ~X32_BIT;
		if (nr == NR_OPEN)
			name = BPF_CORE_READ(regs, di);
		else if (nr == NR_OPENAT || nr == NR_OPENAT2)
			name = BPF_CORE_READ(regs, si);
		else
			return 0;
	}
	r = bpf_probe_read_user_str(sc->arg, sizeof(sc->arg), (void *)name);
	if (r <= 1 || r >= INTERP_LEN)
		return 0;
	return (__u32)(r - 1);
#else
	return 0;
#endif
}

SEC("lsm/file_open")
int BPF_PROG(exec_interp_open, struct file *file)
{
	struct interp_scratch *sc;
	struct interp_task *it;
	__u32 fmode, n;

	it = bpf_task_storage_get(&exec_interp, bpf_get_current_task_btf(), 0, 0);
	if (!it || it->state == IS_NONE)
		return 0;
	fmode = BPF_CORE_READ(file, f_mode);
	if (!(fmode & FMODE_READ) || (fmode & FMODE_EXEC))
		return 0; /* programs the exec checks itself */
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFREG)
		return 0; /* directories, pipes, devices: not a script file */
	if (it->state == IS_WATCH) {
		sc = interp_scratch();
		if (!sc)
			return 0;
		n = open_name(sc);
		/* no name to compare: checked, to fail closed */
		if (n && !interp_name_is(it, sc, 0, n) &&
		    !(it->npat > 1 && interp_name_is(it, sc, 1, n)))
			return 0; /* data */
	}
	return check_file(file, KEEL_EXEC_OP_SCRIPT, false, true);
}

#endif /* KEEL_EXEC_INTERP_BPF_H */
