// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl install: the approved installer.  Copies SRC next to DEST
 * (temporary file, fsync, rename, fsync of the directory), digests what
 * it wrote, and asks keeld to trust DEST with that digest; keeld hashes
 * DEST itself and trusts it only if the two agree.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keelctl/keelctl.h"

struct install_opts {
	const char *src, *dest, *db;
	mode_t mode;
	bool mode_set;
};

static const char doc[] =
	"Install SRC as DEST through keel's approved installer: an atomic copy "
	"(temporary file in DEST's directory, fsync, rename), its SHA-256 recorded in "
	"the trust store, and DEST trusted by the kernel, so that it may execute when "
	"exec is in enforce mode.  Any later change to DEST removes that trust.  "
	"When keeld's exec subsystem cannot run (no BPF LSM), DEST is still installed "
	"and keeld records it as unverified; exec verifies it when it starts.  keeld "
	"must be running: keelctl never writes the trust store itself.  Needs root.\v"
	"EXAMPLES:\n"
	"  keelctl install ./build/myprog /usr/local/bin/myprog\n"
	"  keelctl install --mode 0750 tool.sh /opt/tools/tool.sh";

static const struct argp_option options[] = {
	{ "mode", 'm', "MODE", 0,
	  "Permissions of DEST, octal (default: SRC's, without setuid/setgid)", 0 },
	{ "db", 'd', "PATH", 0,
	  "The trust store keeld is expected to record in (its [exec] trust_db; refused when it differs)",
	  0 },
	{ 0 },
};

/* --mode: octal permissions */
static int parse_mode(const char *arg, mode_t *ret_mode)
{
	unsigned long m;
	char *end;

	errno = 0;
	m = strtoul(arg, &end, 8);
	if (errno || *end || end == arg || m > 07777)
		return -EINVAL;
	*ret_mode = (mode_t)m;
	return 0;
}

static void check(const struct keelctl_args *a, struct argp_state *state)
{
	const char *mode = keelctl_value(a, 'm');
	mode_t m;

	if (mode && parse_mode(mode, &m))
		argp_error(state, "--mode '%s': expected octal permissions such as 0755", mode);
}

/* Copy @in to @out, digesting what was written. */
static int copy_digest(int in, int out, char *hex)
{
	unsigned char buf[64 * 1024], md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int mdlen = 0;
	int err = 0;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf)), done = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		while (done < n) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				err = -errno;
				goto out;
			}
			done += w;
		}
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	return err;
}

static int atomic_copy(const struct install_opts *o, char *hex, char *why, size_t len)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 32], *d;
	int in, out = -1, dfd, err;
	struct stat st;
	mode_t mode;

	in = open(o->src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (in < 0 || fstat(in, &st)) {
		err = -errno;
		snprintf(why, len, "opening %s: %s", o->src, strerror(-err));
		goto close_in;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		snprintf(why, len, "%s is not a regular file", o->src);
		goto close_in;
	}
	mode = o->mode_set ? o->mode : (st.st_mode & 0777);
	snprintf(dir, sizeof(dir), "%s", o->dest);
	d = dirname(dir);
	for (unsigned int i = 0; i < 100; i++) {
		snprintf(tmp, sizeof(tmp), "%s/.keel-install.%d.%u", d, getpid(), i);
		out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (out >= 0 || errno != EEXIST)
			break;
	}
	if (out < 0) {
		err = -errno;
		snprintf(why, len, "creating a temporary file in %s: %s", d, strerror(-err));
		goto close_in;
	}
	err = copy_digest(in, out, hex);
	if (!err && fchmod(out, mode))
		err = -errno;
	if (!err && fsync(out))
		err = -errno;
	if (err) {
		snprintf(why, len, "writing %s: %s", tmp, strerror(-err));
		goto unlink;
	}
	close(out);
	out = -1;
	if (rename(tmp, o->dest)) {
		err = -errno;
		snprintf(why, len, "renaming %s to %s: %s", tmp, o->dest, strerror(-err));
		goto unlink;
	}
	/* the rename itself must survive a power cut */
	dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	close(in);
	return 0;
unlink:
	if (out >= 0)
		close(out);
	unlink(tmp);
close_in:
	if (in >= 0)
		close(in);
	return err;
}

/*
 * keeld's exec does not run: keeld records DEST as unverified, for exec to
 * verify when it starts (keelctl never writes the store itself).
 */
static int record_unverified(const struct keelctl *ctl, const struct install_opts *o,
			     const char *hex, const char *reason)
{
	char canon[PATH_MAX];
	json_t *req, *rep;

	if (!realpath(o->dest, canon)) {
		fprintf(stderr, "keelctl: install: %s: %s\n", o->dest, strerror(errno));
		return KEELCTL_EXIT_FAIL;
	}
	req = json_pack("{s:s, s:s, s:s}", "cmd", "exec.install_unverified", "path", canon,
			"sha256", hex);
	if (o->db)
		json_object_set_new(req, "db", json_string(o->db));
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep) {
		fprintf(stderr, "keelctl: install: %s installed but not recorded\n", canon);
		return KEELCTL_EXIT_FAIL;
	}
	printf("installed %s (sha256 %s)\n", canon, hex);
	printf("note: exec enforcement is unavailable (%s); %s is recorded in %s as unverified and "
	       "keeld will verify its SHA-256 before trusting it when its exec subsystem starts\n",
	       reason, canon, json_string_value(json_object_get(rep, "db")));
	json_decref(rep);
	return 0;
}

static int run(const struct keelctl *ctl, const struct keelctl_args *a)
{
	struct install_opts o = {
		.src = a->argv[0],
		.dest = a->argv[1],
		.db = keelctl_value(a, 'd'), /* NULL: keeld's [exec] trust_db */
		.mode_set = keelctl_value(a, 'm') != NULL,
	};
	char hex[65] = "", why[3 * PATH_MAX];
	struct keel_client c;
	json_t *req, *rep;
	int err;

	if (o.mode_set)
		parse_mode(keelctl_value(a, 'm'), &o.mode); /* checked by check() */
	err = atomic_copy(&o, hex, why, sizeof(why));
	if (err) {
		fprintf(stderr, "keelctl: install: %s; DEST is unchanged\n", why);
		return KEELCTL_EXIT_FAIL;
	}
	if (keel_client_connect(&c, ctl->socket, why, sizeof(why)) < 0) {
		fprintf(stderr,
			"keelctl: install: %s was installed but is NOT recorded: %s; "
			"start keeld and install it again\n",
			o.dest, why);
		return KEELCTL_EXIT_FAIL;
	}
	req = json_pack("{s:s, s:s, s:s, s:s}", "cmd", "exec.trust_add", "path", o.dest, "sha256",
			hex, "source", "install");
	rep = keel_client_call(&c, req, why, sizeof(why));
	json_decref(req);
	keel_client_close(&c);
	if (!rep) {
		if (!strncmp(why, "keeld: subsystem exec is", 24))
			return record_unverified(ctl, &o, hex, why);
		fprintf(stderr, "keelctl: install: %s was installed but is NOT trusted: %s\n",
			o.dest, why);
		return KEELCTL_EXIT_FAIL;
	}
	printf("installed %s (sha256 %s), trusted\n",
	       json_string_value(json_object_get(json_object_get(rep, "record"), "path")), hex);
	json_decref(rep);
	return 0;
}

const struct keelctl_command keelctl_cmd_install = {
	.name = "install",
	.summary = "copy a file in atomically and trust it (exec)",
	.args_doc = "SRC DEST",
	.doc = doc,
	.options = options,
	.min_args = 2,
	.max_args = 2,
	.usage = "usage: keelctl install [--mode MODE] SRC DEST",
	.check = check,
	.run = run,
};
