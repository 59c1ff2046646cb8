// SPDX-License-Identifier: GPL-2.0-only
/*
 * keel-vdisk: serve a VMDK through its filter chain (nbdkit + keel's
 * plugin), and reach a served disk's filters from the command line.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "keel/vdisk.h"
#include "keel/vdisk_client.h"
#include "vdisk/owner.h"

struct env {
	const char *cmd, *disk, *arg1, *arg2;
	const char *at, *socket, *tcp, *events;
	const char *owner_listen, *cluster_key, *host_id, *lease_ms, *renew_ms;
	uint64_t offset, length, max_clients, threads;
	bool have_length, fua, json, readonly, standby;
};

static const char doc[] =
	"keel-vdisk: serve a VMDK disk through its filter chain, and reach its filters\v"
	"Commands:\n"
	"  serve DISK        run the disk server (nbdkit with keel's plugin) in the\n"
	"                    foreground: NBD on --socket (default RUN_DIR/<dev>-<ino>.nbd)\n"
	"                    or --tcp [ADDR:]PORT; the channel on RUN_DIR/<dev>-<ino>.chan\n"
	"  info DISK         the served disk's filters and their counters\n"
	"  read DISK         --at FILTER --offset N --length N: data to stdout\n"
	"  write DISK        --at FILTER --offset N [--fua]: data from stdin\n"
	"  flush DISK        --at FILTER\n"
	"  control DISK FILTER OP    e.g. control disk.vmdk integrity check\n"
	"Ownership between hosts (serve --owner-listen; docs/vdisk.md):\n"
	"  owner DISK        the owner record (DISK.owner/), and this host's server\n"
	"  handoff DISK      make this host's server the owner: ask the owner to\n"
	"                    release (or wait out its lease), then open\n"
	"  release DISK      this host's server lets the disk go\n"
	"  migrating DISK on|off  the owner releases even with clients connected\n"
	"RUN_DIR is $KEEL_VDISK_RUN_DIR, else /run/keel/vdisk.\n\n"
	"EXAMPLES:\n"
	"  keel-vdisk serve /vm/disk.vmdk --socket /run/disk.nbd &\n"
	"  qemu-io -f raw 'nbd+unix:///?socket=/run/disk.nbd' -c 'read 0 1M'\n"
	"  keel-vdisk read /vm/disk.vmdk --at integrity --offset 0 --length 4096 | xxd\n";

static const struct argp_option options[] = {
	{ "at", 'a', "FILTER", 0, "Enter the chain at FILTER (default: the top)", 0 },
	{ "offset", 'o', "BYTES", 0, "Offset (a multiple of 512; K, M, G, T suffixes)", 0 },
	{ "length", 'l', "BYTES", 0, "Length (a multiple of 512; K, M, G, T suffixes)", 0 },
	{ "fua", 'F', NULL, 0, "Write: durable before returning", 0 },
	{ "socket", 's', "PATH", 0, "serve: the NBD Unix socket", 0 },
	{ "tcp", 't', "[ADDR:]PORT", 0, "serve: export over TCP instead", 0 },
	{ "events", 'e', "PATH", 0, "serve: append NDJSON events to PATH", 0 },
	{ "readonly", 'r', NULL, 0, "serve: open the disk read-only", 0 },
	{ "json", 'j', NULL, 0, "info, owner, handoff: print JSON", 0 },
	{ "owner-listen", 'L', "ADDR", 0,
	  "serve: share the disk between hosts; release requests on tcp:IPV4:PORT or unix:PATH",
	  0 },
	{ "cluster-key", 'K', "FILE", 0, "serve: the per-cluster HMAC key (mode 0600)", 0 },
	{ "host-id", 'H', "ID", 0, "serve: this host's id (default $KEEL_HOST_ID, /etc/machine-id)",
	  0 },
	{ "lease-ms", 'T', "MS", 0, "serve: lease length (default 10000)", 0 },
	{ "renew-ms", 'R', "MS", 0, "serve: renewal interval (default 2000)", 0 },
	{ "standby", 'S', NULL, 0, "serve: start without acquiring the disk", 0 },
	{ "max-clients", 'C', "N", 0,
	  "serve: at most N NBD connections at once (nbdkit's limit filter)", 0 },
	{ "threads", 0x101, "N", 0,
	  "serve: at most N NBD requests handled at once (nbdkit --threads)", 0 },
	{ 0 }
};

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, 0);
	return errno || end == s || *end || *s == '-' ? -EINVAL : 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
	struct env *e = st->input;

	switch (key) {
	case 'a':
		e->at = arg;
		break;
	case 'o':
		if (keel_vdisk_parse_size(arg, &e->offset))
			argp_error(st, "--offset: \"%s\" is not a number", arg);
		break;
	case 'l':
		if (keel_vdisk_parse_size(arg, &e->length))
			argp_error(st, "--length: \"%s\" is not a number", arg);
		e->have_length = true;
		break;
	case 'F':
		e->fua = true;
		break;
	case 's':
		e->socket = arg;
		break;
	case 't':
		e->tcp = arg;
		break;
	case 'e':
		e->events = arg;
		break;
	case 'r':
		e->readonly = true;
		break;
	case 'C':
		if (parse_u64(arg, &e->max_clients) || !e->max_clients || e->max_clients > 65536)
			argp_error(st, "--max-clients: \"%s\" is not a number from 1 to 65536",
				   arg);
		break;
	case 0x101:
		if (parse_u64(arg, &e->threads) || !e->threads || e->threads > 1024)
			argp_error(st, "--threads: \"%s\" is not a number from 1 to 1024", arg);
		break;
	case 'j':
		e->json = true;
		break;
	case 'L':
		e->owner_listen = arg;
		break;
	case 'K':
		e->cluster_key = arg;
		break;
	case 'H':
		e->host_id = arg;
		break;
	case 'T':
		e->lease_ms = arg;
		break;
	case 'R':
		e->renew_ms = arg;
		break;
	case 'S':
		e->standby = true;
		break;
	case ARGP_KEY_ARG:
		if (!e->cmd)
			e->cmd = arg;
		else if (!e->disk)
			e->disk = arg;
		else if (!e->arg1)
			e->arg1 = arg;
		else if (!e->arg2)
			e->arg2 = arg;
		else
			argp_error(st, "too many arguments");
		break;
	case ARGP_KEY_END:
		if (!e->cmd || !e->disk)
			argp_error(st, "a command and a DISK are needed");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* Where `make install` puts the plugin (PREFIX/lib/keel, from the Makefile). */
#ifndef KEEL_LIBDIR
#define KEEL_LIBDIR "/usr/local/lib/keel"
#endif

/* nbdkit-keel-plugin.so: $KEEL_NBDKIT_PLUGIN, beside this program, or installed. */
static void plugin_path(char *ret, size_t len)
{
	const char *env = getenv("KEEL_NBDKIT_PLUGIN");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(ret, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(ret, len, "%s/nbdkit-keel-plugin.so", self);
		if (!access(ret, R_OK))
			return;
	}
	snprintf(ret, len, "%s/nbdkit-keel-plugin.so", KEEL_LIBDIR);
}

/* A socket left by a killed server: nbdkit will not replace it itself. */
static void remove_stale(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno == ECONNREFUSED)
		unlink(path);
	if (fd >= 0)
		close(fd);
}

static int do_serve(struct env *e)
{
	char plugin[PATH_MAX + 32], sock[PATH_MAX], disk[PATH_MAX + 8], ev[PATH_MAX + 8];
	char abs[PATH_MAX], *port, addr[256], own[6][PATH_MAX + 32];
	char limit[32], threads[24];
	const char *argv[36];
	int n = 0, r;

	if (!realpath(e->disk, abs)) {
		fprintf(stderr, "keel-vdisk: %s: %s\n", e->disk, strerror(errno));
		return 1;
	}
	plugin_path(plugin, sizeof(plugin));
	snprintf(disk, sizeof(disk), "disk=%s", abs);
	argv[n++] = "nbdkit";
	argv[n++] = "--foreground";
	argv[n++] = "--exit-with-parent";
	if (e->tcp) {
		snprintf(addr, sizeof(addr), "%s", e->tcp);
		port = strrchr(addr, ':');
		if (port) {
			*port++ = '\0';
			argv[n++] = "-i";
			argv[n++] = addr;
		} else {
			port = addr;
		}
		argv[n++] = "-p";
		argv[n++] = port;
	} else {
		if (e->socket) {
			snprintf(sock, sizeof(sock), "%s", e->socket);
		} else {
			r = keel_vdisk_run_path(abs, "nbd", sock, sizeof(sock));
			if (r) {
				fprintf(stderr, "keel-vdisk: %s: cannot name the disk: %s\n", abs,
					strerror(-r));
				return 1;
			}
		}
		remove_stale(sock);
		argv[n++] = "-U";
		argv[n++] = sock;
	}
	if (e->threads) {
		snprintf(threads, sizeof(threads), "%" PRIu64, e->threads);
		argv[n++] = "--threads";
		argv[n++] = threads;
	}
	if (e->max_clients)
		argv[n++] = "--filter=limit";
	argv[n++] = plugin;
	argv[n++] = disk;
	if (e->max_clients) {
		snprintf(limit, sizeof(limit), "limit=%" PRIu64, e->max_clients);
		argv[n++] = limit;
	}
	if (e->events) {
		snprintf(ev, sizeof(ev), "events=%s", e->events);
		argv[n++] = ev;
	}
	if (e->readonly)
		argv[n++] = "readonly=true";
	if (e->owner_listen) {
		const char *keys[] = { "owner_listen", "cluster_key", "host_id", "lease_ms",
				       "renew_ms" };
		const char *vals[] = { e->owner_listen, e->cluster_key, e->host_id, e->lease_ms,
				       e->renew_ms };
		char keyabs[PATH_MAX];

		if (!e->cluster_key) {
			fprintf(stderr, "keel-vdisk: --owner-listen needs --cluster-key FILE\n");
			return 1;
		}
		if (!realpath(e->cluster_key, keyabs)) {
			fprintf(stderr, "keel-vdisk: cluster key %s: %s\n", e->cluster_key,
				strerror(errno));
			return 1;
		}
		vals[1] = keyabs;
		for (int i = 0; i < 5; i++) {
			if (!vals[i])
				continue;
			snprintf(own[i], sizeof(own[i]), "%s=%s", keys[i], vals[i]);
			argv[n++] = own[i];
		}
		if (e->standby)
			argv[n++] = "standby=true";
	}
	argv[n] = NULL;
	execvp("nbdkit", (char *const *)argv);
	fprintf(stderr, "keel-vdisk: cannot run nbdkit: %s (install the nbdkit package)\n",
		strerror(errno));
	return 1;
}

static int open_client(struct env *e, struct keel_vdisk_client **c)
{
	char err[1024];
	int r = keel_vdisk_client_open(e->disk, c, err, sizeof(err));

	if (r)
		fprintf(stderr, "keel-vdisk: %s\n", err);
	return r;
}

static int get_handle(struct env *e, struct keel_vdisk_client *c, int *fd)
{
	char err[1024];
	const char *at = e->at;
	json_t *req, *ans;
	int r;

	if (!at) { /* the top: the first filter info lists */
		req = json_pack("{s:s}", "op", "info");
		r = keel_vdisk_client_call(c, req, &ans, NULL, err, sizeof(err));
		json_decref(req);
		if (r) {
			fprintf(stderr, "keel-vdisk: %s\n", err);
			return r;
		}
		at = json_string_value(json_object_get(
			json_array_get(json_object_get(json_object_get(ans, "info"), "filters"), 0),
			"name"));
		r = keel_vdisk_client_handle(c, at ? at : "vmdk", fd, err, sizeof(err));
		json_decref(ans);
	} else {
		r = keel_vdisk_client_handle(c, at, fd, err, sizeof(err));
	}
	if (r)
		fprintf(stderr, "keel-vdisk: %s: handle at %s refused: %s\n", e->disk,
			e->at ? e->at : "the top", err);
	return r;
}

static int do_io(struct env *e)
{
	struct keel_vdisk_client *c;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd = -1, r;

	if (open_client(e, &c))
		return 1;
	r = get_handle(e, c, &fd);
	if (r)
		goto out;
	if (!strcmp(e->cmd, "read")) {
		if (!e->have_length || e->length > KEEL_VDISK_HANDLE_MAX_IO) {
			fprintf(stderr, "keel-vdisk: read needs --length (at most 32 MiB)\n");
			r = -EINVAL;
			goto out;
		}
		buf = malloc(e->length ? e->length : 1);
		r = buf ? keel_vdisk_handle_pread(fd, buf, e->length, e->offset) : -ENOMEM;
		if (!r && fwrite(buf, 1, e->length, stdout) != e->length)
			r = -EIO;
	} else if (!strcmp(e->cmd, "write")) {
		for (;;) {
			size_t n;

			if (cap - len < 65536) {
				unsigned char *nb;

				cap = cap ? 2 * cap : 1 << 20;
				if (cap > KEEL_VDISK_HANDLE_MAX_IO || !(nb = realloc(buf, cap))) {
					r = -E2BIG;
					goto out;
				}
				buf = nb;
			}
			n = fread(buf + len, 1, cap - len, stdin);
			if (!n)
				break;
			len += n;
		}
		r = keel_vdisk_handle_pwrite(fd, buf, len, e->offset, e->fua ? KEEL_VF_FUA : 0);
	} else {
		r = keel_vdisk_handle_flush(fd);
	}
	if (r)
		fprintf(stderr, "keel-vdisk: %s %s at %s, offset %" PRIu64 ": %s\n", e->cmd,
			e->disk, e->at ? e->at : "the top", e->offset, strerror(-r));
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	keel_vdisk_client_close(c);
	return r ? 1 : 0;
}

static void print_record(const char *what, json_t *r)
{
	printf("%s: generation %" JSON_INTEGER_FORMAT
	       ", host %s, addr %s, %s, renewals %" JSON_INTEGER_FORMAT
	       ", lease %" JSON_INTEGER_FORMAT " ms, pid %" JSON_INTEGER_FORMAT "\n",
	       what, json_integer_value(json_object_get(r, "generation")),
	       json_string_value(json_object_get(r, "host")),
	       json_string_value(json_object_get(r, "addr")),
	       json_is_true(json_object_get(r, "released")) ? "released" : "held",
	       json_integer_value(json_object_get(r, "renewals")),
	       json_integer_value(json_object_get(r, "lease_ms")),
	       json_integer_value(json_object_get(r, "pid")));
}

/* owner, handoff, release, migrating: the record, and this host's server. */
static int do_owner(struct env *e)
{
	char abs[PATH_MAX], ctl[PATH_MAX], err[PATH_MAX + 1024], cerr[PATH_MAX + 256];
	struct keel_owner_rec rec;
	json_t *req = NULL, *ans = NULL, *out;
	int r;

	if (!realpath(e->disk, abs)) {
		fprintf(stderr, "keel-vdisk: %s: %s\n", e->disk, strerror(errno));
		return 1;
	}
	if (!strcmp(e->cmd, "owner")) {
		r = keel_owner_read(abs, &rec, err, sizeof(err));
		out = json_object();
		if (r)
			json_object_set_new(out, "error", json_string(err));
		else
			json_object_set_new(out, "record", keel_owner_json(&rec));
		req = json_pack("{s:s}", "op", "status");
		if (!keel_vdisk_run_path(abs, "own", ctl, sizeof(ctl)) &&
		    !keel_owner_ctl_call(ctl, req, 2000, &ans, cerr, sizeof(cerr)))
			json_object_set(out, "server", json_object_get(ans, "status"));
		json_decref(req);
		json_decref(ans);
		if (e->json) {
			json_dumpf(out, stdout, JSON_INDENT(2));
			putchar('\n');
		} else if (r) {
			fprintf(stderr, "keel-vdisk: %s\n", err);
		} else {
			print_record(abs, json_object_get(out, "record"));
			if (json_object_get(out, "server"))
				printf("this host's server: %s\n",
				       json_string_value(json_object_get(
					       json_object_get(out, "server"), "state")));
		}
		json_decref(out);
		return r && r != -ENOENT ? 1 : 0;
	}
	if (!strcmp(e->cmd, "handoff"))
		req = json_pack("{s:s}", "op", "acquire");
	else if (!strcmp(e->cmd, "release"))
		req = json_pack("{s:s}", "op", "release");
	else if (e->arg1 && (!strcmp(e->arg1, "on") || !strcmp(e->arg1, "off")))
		req = json_pack("{s:s, s:b}", "op", "migrating", "on", !strcmp(e->arg1, "on"));
	if (!req) {
		fprintf(stderr, "keel-vdisk: migrating needs on or off\n");
		return 2;
	}
	r = keel_vdisk_run_path(abs, "own", ctl, sizeof(ctl));
	if (!r)
		/* an acquire may wait out a lease (up to an hour) */
		r = keel_owner_ctl_call(ctl, req, 3600 * 1000 + 60000, &ans, err, sizeof(err));
	json_decref(req);
	if (r) {
		fprintf(stderr, "keel-vdisk: %s\n", err);
		return 1;
	}
	r = json_is_true(json_object_get(ans, "ok")) ? 0 : 1;
	if (e->json) {
		json_dumpf(ans, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (r) {
		fprintf(stderr, "keel-vdisk: %s %s: %s\n", e->cmd, abs,
			json_string_value(json_object_get(ans, "error")));
	} else {
		json_t *st = json_object_get(ans, "status");

		printf("%s: this host's server is %s (generation %" JSON_INTEGER_FORMAT ")\n", abs,
		       json_string_value(json_object_get(st, "state")),
		       json_integer_value(json_object_get(st, "generation")));
	}
	json_decref(ans);
	return r;
}

static void print_info(json_t *info)
{
	json_t *f;
	size_t i;

	printf("%s  %s  %" JSON_INTEGER_FORMAT " bytes%s\n",
	       json_string_value(json_object_get(info, "path")),
	       json_string_value(json_object_get(info, "disk_id")),
	       json_integer_value(json_object_get(info, "size")),
	       json_is_true(json_object_get(info, "readonly")) ? "  read-only" : "");
	printf("%-10s %10s %10s %12s %12s %8s %7s  %s\n", "filter", "reads", "writes", "read_bytes",
	       "write_bytes", "flushes", "errors", "handles");
	json_array_foreach(json_object_get(info, "filters"), i, f) {
		json_t *c = json_object_get(f, "counters");

		printf("%-10s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT
		       " %8" JSON_INTEGER_FORMAT " %7" JSON_INTEGER_FORMAT "  %s\n",
		       json_string_value(json_object_get(f, "name")),
		       json_integer_value(json_object_get(c, "reads")),
		       json_integer_value(json_object_get(c, "writes")),
		       json_integer_value(json_object_get(c, "read_bytes")),
		       json_integer_value(json_object_get(c, "write_bytes")),
		       json_integer_value(json_object_get(c, "flushes")),
		       json_integer_value(json_object_get(c, "errors")),
		       json_is_true(json_object_get(f, "handles")) ? "yes" : "refused");
	}
}

static int do_call(struct env *e)
{
	struct keel_vdisk_client *c;
	json_t *req, *ans = NULL;
	char err[1024];
	int r;

	if (open_client(e, &c))
		return 1;
	if (!strcmp(e->cmd, "info"))
		req = json_pack("{s:s}", "op", "info");
	else if (e->arg1 && e->arg2)
		req = json_pack("{s:s, s:s, s:s}", "op", "control", "filter", e->arg1, "name",
				e->arg2);
	else {
		fprintf(stderr, "keel-vdisk: control needs FILTER and OP\n");
		keel_vdisk_client_close(c);
		return 1;
	}
	r = keel_vdisk_client_call(c, req, &ans, NULL, err, sizeof(err));
	if (r) {
		fprintf(stderr, "keel-vdisk: %s: %s\n", e->disk, err);
	} else if (!strcmp(e->cmd, "info") && !e->json) {
		print_info(json_object_get(ans, "info"));
	} else {
		json_dumpf(json_object_get(ans, !strcmp(e->cmd, "info") ? "info" : "result"),
			   stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(req);
	json_decref(ans);
	keel_vdisk_client_close(c);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = { options, parse_opt, "COMMAND DISK [ARG...]", doc, NULL,
					  NULL,	   NULL };
	struct env e = { 0 };

	argp_parse(&argp, argc, argv, 0, NULL, &e);
	if (!strcmp(e.cmd, "serve"))
		return do_serve(&e);
	if (!strcmp(e.cmd, "read") || !strcmp(e.cmd, "write") || !strcmp(e.cmd, "flush"))
		return do_io(&e);
	if (!strcmp(e.cmd, "info") || !strcmp(e.cmd, "control"))
		return do_call(&e);
	if (!strcmp(e.cmd, "owner") || !strcmp(e.cmd, "handoff") || !strcmp(e.cmd, "release") ||
	    !strcmp(e.cmd, "migrating"))
		return do_owner(&e);
	fprintf(stderr,
		"keel-vdisk: unknown command \"%s\" (serve, info, read, write, flush, control, owner, handoff, release, migrating)\n",
		e.cmd);
	return 2;
}
