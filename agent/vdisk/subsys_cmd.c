// SPDX-License-Identifier: GPL-2.0-only
/*
 * keelctl vdisk create | open | close | list | info | filters | check:
 * the requests {"cmd": "vdisk.VERB", "path": ...} keeld's vdisk subsystem
 * answers.  Paths are absolute and must lie under [vdisk] dirs (keeld runs
 * as root; a [control] group member must not make it create or serve files
 * anywhere).  create, open and close need a privileged peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keel/vdisk.h"
#include "keel/vdisk_client.h"
#include "vdisk/subsys.h"
#include "vdisk/vdisk_priv.h"
#include "vmdk/vmdk.h"

#define CHANNEL_TIMEOUT_MS 2000 /* a server that does not answer info in time */

static const enum keel_vmdk_type creatable[] = {
	KEEL_VMDK_MONOLITHIC_SPARSE,
	KEEL_VMDK_MONOLITHIC_FLAT,
	KEEL_VMDK_TWOGB_SPARSE,
	KEEL_VMDK_TWOGB_FLAT,
};

/*
 * The request's "path", resolved: its directory must exist (realpath) and
 * lie under [vdisk] dirs; the file itself must exist unless @creating.
 */
static int req_path(struct vd_priv *p, json_t *req, bool creating, char *ret, char *why, size_t len)
{
	const char *path = json_string_value(json_object_get(req, "path"));
	char dir[PATH_MAX], base[NAME_MAX + 1], real[PATH_MAX];
	struct stat st;

	if (!path || path[0] != '/' || strlen(path) >= PATH_MAX) {
		snprintf(
			why, len,
			"\"path\" must be an absolute path (keelctl makes relative ones absolute)");
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", basename(dir));
	snprintf(dir, sizeof(dir), "%s", path);
	if (!base[0] || !strcmp(base, ".") || !strcmp(base, "..") || !strcmp(base, "/")) {
		snprintf(why, len, "%s: not a file name", path);
		return -EINVAL;
	}
	if (!realpath(dirname(dir), real)) {
		int r = -errno;

		snprintf(why, len, "%.300s: its directory: %s", path, strerror(-r));
		return r;
	}
	if (snprintf(ret, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "", base) >= PATH_MAX) {
		snprintf(why, len, "%.300s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (!vd_path_allowed(p, ret)) {
		p->refused++;
		snprintf(
			why, len,
			"%.300s is not under [vdisk] dirs (%.150s): keeld creates and serves disks only there",
			ret, vd_cfg(p)->dirs);
		return -EACCES;
	}
	if (creating)
		return 0;
	if (stat(ret, &st)) {
		int r = -errno;

		snprintf(why, len, "%.300s: %s", ret, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "%.300s is not a regular file", ret);
		return -EINVAL;
	}
	return 0;
}

static json_t *refuse_unprivileged(bool privileged, const char *verb, char *why, size_t len)
{
	if (privileged)
		return NULL;
	snprintf(why, len, "vdisk %s changes keel's disks: root or the [control] group only", verb);
	return json_null();
}

/* --- create --- */

static int write_new(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, data, n) != (ssize_t)n || fsync(fd))
		r = errno ? -errno : -EIO;
	close(fd);
	return r;
}

/* Undo a create: the descriptor, its extents, the sidecar, key and checksums. */
static void remove_created(const char *path, bool sidecar, bool key)
{
	char side[PATH_MAX + 16], err[256];
	json_t *report = json_object(), *layer, *ext;
	size_t i;

	keel_vmdk_check(path, report, err, sizeof(err));
	layer = json_array_get(json_object_get(report, "layers"), 0);
	json_array_foreach(json_object_get(layer, "extents"), i, ext) {
		const char *f = json_string_value(json_object_get(ext, "file"));

		if (f && strcmp(f, path))
			unlink(f);
	}
	json_decref(report);
	unlink(path);
	if (sidecar) {
		snprintf(side, sizeof(side), "%s.keel", path);
		unlink(side);
		snprintf(side, sizeof(side), "%s.crc32c", path);
		unlink(side);
	}
	if (key) {
		snprintf(side, sizeof(side), "%s.key", path);
		unlink(side);
	}
}

static int parse_filters(json_t *arr, const char **names, unsigned int *ret_n, char *why,
			 size_t len)
{
	json_t *v;
	size_t i;

	*ret_n = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr)) {
		snprintf(why, len, "\"filters\" must be an array of filter names");
		return -EINVAL;
	}
	json_array_foreach(arr, i, v) {
		const char *name = json_string_value(v);

		if (!name || !vdisk_registry_find(name)) {
			snprintf(
				why, len,
				"filters: unknown filter \"%.64s\" (built-in: stats throttle crypt integrity; the chain ends with vmdk by itself)",
				name ? name : "?");
			return -EINVAL;
		}
		for (unsigned int j = 0; j < *ret_n; j++) {
			if (!strcmp(names[j], name)) {
				snprintf(why, len, "filters: \"%s\" is named twice", name);
				return -EINVAL;
			}
		}
		if (*ret_n == KEEL_VDISK_MAX_FILTERS) {
			snprintf(why, len, "filters: more than %d", KEEL_VDISK_MAX_FILTERS);
			return -E2BIG;
		}
		names[(*ret_n)++] = name;
	}
	return 0;
}

static int parse_type(json_t *req, enum keel_vmdk_type *ret, char *why, size_t len)
{
	const char *t = json_string_value(json_object_get(req, "type"));

	if (!t)
		t = "monolithicSparse";
	for (size_t i = 0; i < sizeof(creatable) / sizeof(creatable[0]); i++) {
		if (!strcmp(t, keel_vmdk_type_name(creatable[i]))) {
			*ret = creatable[i];
			return 0;
		}
	}
	snprintf(
		why, len,
		"type: \"%.64s\" cannot be created (monolithicSparse, monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat)",
		t);
	return -EINVAL;
}

/* The metadata file: [vdisk] filters, each filter's parameters, and a
 * fresh key for crypt unless the request names one (@new_key). */
static int write_sidecar(const char *path, const char **names, unsigned int n, json_t *params,
			 bool new_key, char *why, size_t len)
{
	char side[PATH_MAX + 16], key_file[NAME_MAX + 8], *text = NULL;
	const char *base = strrchr(path, '/') + 1;
	size_t size = 0;
	FILE *f;
	int r;

	if (new_key) {
		unsigned char key[64];

		/* the two XTS halves must differ: 512 random bits do, but check */
		do {
			if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
				snprintf(why, len, "getrandom: %s", strerror(errno));
				return -errno;
			}
		} while (!memcmp(key, key + 32, 32));
		snprintf(side, sizeof(side), "%s.key", path);
		r = write_new(side, key, sizeof(key), 0600);
		explicit_bzero(key, sizeof(key));
		if (r) {
			snprintf(why, len, "%.300s: %s", side, strerror(-r));
			return r;
		}
		snprintf(key_file, sizeof(key_file), "%.200s.key", base);
	}
	f = open_memstream(&text, &size);
	if (!f) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	fprintf(f, "; made by keelctl vdisk create\n[vdisk]\nfilters =");
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, " %s", names[i]);
	fprintf(f, "\n");
	for (unsigned int i = 0; i < n; i++)
		vd_params_write(f, params, names[i],
				new_key && !strcmp(names[i], "crypt") ? key_file : NULL);
	if (fclose(f)) {
		free(text);
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	snprintf(side, sizeof(side), "%s.keel", path);
	r = write_new(side, text, size, 0644);
	free(text);
	if (r)
		snprintf(why, len, "%.300s: %s", side, strerror(-r));
	return r;
}

static json_t *cmd_create(struct vd_priv *p, json_t *req, char *why, size_t len)
{
	struct keel_vmdk_create_opts o = { 0 };
	const char *names[KEEL_VDISK_MAX_FILTERS];
	char path[PATH_MAX], side[PATH_MAX + 16], err[1024];
	json_t *size = json_object_get(req, "size"), *params = json_object_get(req, "params");
	struct keel_vdisk *vd = NULL;
	unsigned int n;
	bool crypt = false, key_given = false;
	int r;

	if (req_path(p, req, true, path, why, len) || parse_type(req, &o.type, why, len) ||
	    parse_filters(json_object_get(req, "filters"), names, &n, why, len) ||
	    vd_params_check(p, path, params, names, n, &key_given, why, len))
		return NULL;
	if (!json_is_integer(size) || json_integer_value(size) <= 0 ||
	    json_integer_value(size) % 512 ||
	    (uint64_t)json_integer_value(size) > KEEL_VMDK_MAX_SIZE) {
		snprintf(why, len,
			 "size: must be a multiple of 512 bytes, from 512 to %llu (64 TiB)",
			 KEEL_VMDK_MAX_SIZE);
		return NULL;
	}
	o.size = (uint64_t)json_integer_value(size);
	/* crypt gets a new key of its own unless the request names one */
	for (unsigned int i = 0; i < n; i++)
		crypt |= !strcmp(names[i], "crypt") && !key_given;
	/* refuse before making anything: nothing half-created */
	for (int i = 0; i < 3; i++) {
		static const char *const suffix[] = { "", ".keel", ".key" };

		snprintf(side, sizeof(side), "%s%s", path, suffix[i]);
		if (!access(side, F_OK) && (i < 2 || crypt)) {
			snprintf(why, len, "%.300s already exists", side);
			return NULL;
		}
	}
	r = keel_vmdk_create(path, &o, err, sizeof(err));
	if (r) {
		snprintf(why, len, "%s", err);
		return NULL;
	}
	if (n && write_sidecar(path, names, n, params, crypt, why, len)) {
		remove_created(path, true, crypt);
		return NULL;
	}
	/* open the chain once: checks it, and makes integrity's checksum file */
	r = keel_vdisk_open(path, NULL, &vd, err, sizeof(err));
	if (r) {
		snprintf(why, len, "the new disk's chain does not open: %s", err);
		remove_created(path, n > 0, crypt);
		return NULL;
	}
	keel_vdisk_close(vd);
	p->creates++;
	keel_emit(p->s->d, "vdisk", "vdisk.created",
		  json_pack("{s:s, s:s, s:I}", "path", path, "type", keel_vmdk_type_name(o.type),
			    "size", (json_int_t)o.size));
	/* "o" steals: a reference of the request's, or a new empty one */
	return json_pack("{s:s, s:s, s:I, s:o, s:o}", "path", path, "type",
			 keel_vmdk_type_name(o.type), "size", (json_int_t)o.size, "filters",
			 json_object_get(req, "filters") ?
				 json_incref(json_object_get(req, "filters")) :
				 json_array(),
			 "params", params ? json_incref(params) : json_object());
}

/* --- open, close --- */

/* RUN_DIR/<dev>-<ino>.SUFFIX: keyed by the file, as the disk server names them */
static int run_path(struct vd_priv *p, const char *path, const char *suffix, char *ret)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (snprintf(ret, PATH_MAX, "%s/%llx-%llx.%s", vd_cfg(p)->run_dir,
		     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, suffix) >= 108)
		return -ENAMETOOLONG;
	return 0;
}

static json_t *cmd_open(struct vd_priv *p, json_t *req, char *why, size_t len)
{
	const char *sock = json_string_value(json_object_get(req, "socket"));
	const char *tcp = json_string_value(json_object_get(req, "tcp"));
	char path[PATH_MAX];
	unsigned int served = 0;
	struct vd_disk *d;
	int r;

	if (req_path(p, req, false, path, why, len))
		return NULL;
	if ((d = vd_find(p, path))) {
		snprintf(why, len, "%.300s is already open (%s, pid %d)%s", path,
			 vd_state_name(d->state), (int)d->pid,
			 d->state == VD_FAILED ? ": close it first" : "");
		return NULL;
	}
	/* a failed disk holds no server: it does not count */
	for (d = p->disks; d; d = d->next)
		served += d->state != VD_FAILED;
	if (served >= vd_cfg(p)->max_disks) {
		p->refused++;
		snprintf(why, len, "%u disks are open: [vdisk] max_disks = %u", served,
			 vd_cfg(p)->max_disks);
		return NULL;
	}
	if (sock && tcp) {
		snprintf(why, len, "socket and tcp: one or the other");
		return NULL;
	}
	if (sock && (sock[0] != '/' || strlen(sock) >= 108)) {
		snprintf(why, len, "socket: \"%.200s\" must be an absolute path under 108 bytes",
			 sock);
		return NULL;
	}
	if (tcp && (!tcp[0] || strlen(tcp) >= 128 ||
		    strspn(tcp, "0123456789.:[]abcdefABCDEF") != strlen(tcp))) {
		snprintf(why, len, "tcp: \"%.100s\" is not [ADDR:]PORT", tcp);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(why, len, "out of memory");
		return NULL;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->readonly = json_is_true(json_object_get(req, "readonly"));
	d->standby = json_is_true(json_object_get(req, "standby"));
	d->slot = p->owner ? vd_owner_slot(p) : 0;
	if (d->standby && !p->owner) {
		snprintf(why, len,
			 "standby: ownership is off on this host ([vdisk] owner_addr is empty)");
		free(d);
		return NULL;
	}
	if (d->slot < 0) { /* max_disks was checked above: cannot happen */
		snprintf(why, len, "no free owner_port slot ([vdisk] max_disks = %u)",
			 vd_cfg(p)->max_disks);
		free(d);
		return NULL;
	}
	if (tcp)
		snprintf(d->tcp, sizeof(d->tcp), "%s", tcp);
	r = run_path(p, path, "chan", d->channel);
	if (!r)
		r = run_path(p, path, "own", d->owner_ctl);
	if (!r && !tcp && !sock)
		r = run_path(p, path, "nbd", d->socket);
	else if (sock)
		snprintf(d->socket, sizeof(d->socket), "%s", sock);
	if (r) {
		snprintf(why, len, "%.300s: naming its sockets: %s", path, strerror(-r));
		free(d);
		return NULL;
	}
	if (vd_open(p, d, why, len))
		return NULL;
	return vd_disk_json(d);
}

static json_t *cmd_close(struct vd_priv *p, json_t *req, char *why, size_t len)
{
	char path[PATH_MAX];
	struct vd_disk *d;
	json_t *o;

	if (req_path(p, req, false, path, why, len))
		return NULL;
	d = vd_find(p, path);
	if (!d) {
		snprintf(why, len, "%.300s is not open", path);
		return NULL;
	}
	vd_close(d);
	d = vd_find(p, path);
	o = d ? vd_disk_json(d) : json_pack("{s:s, s:s}", "path", path, "state", "closed");
	return o;
}

/* --- list, info, filters, check --- */

static json_t *cmd_list(struct vd_priv *p)
{
	json_t *arr = json_array();

	for (struct vd_disk *d = p->disks; d; d = d->next)
		json_array_append_new(arr, vd_disk_json(d));
	return json_pack("{s:o, s:i}", "disks", arr, "max_disks", (int)vd_cfg(p)->max_disks);
}

/* The live chain of a served disk, from its server's channel. */
static json_t *server_info(struct vd_disk *d, char *why, size_t len)
{
	struct keel_vdisk_client *c = NULL;
	json_t *req, *ans = NULL, *info;
	char err[1024];
	int r;

	if (d->state != VD_SERVING) {
		snprintf(why, len, "%.300s is %s%s%.300s", d->path, vd_state_name(d->state),
			 d->state == VD_FAILED ? ": " : "", d->state == VD_FAILED ? d->reason : "");
		return NULL;
	}
	r = keel_vdisk_client_connect(d->channel, &c, err, sizeof(err));
	if (!r)
		r = keel_vdisk_client_timeout(c, CHANNEL_TIMEOUT_MS);
	if (!r) {
		req = json_pack("{s:s}", "op", "info");
		r = keel_vdisk_client_call(c, req, &ans, NULL, err, sizeof(err));
		json_decref(req);
	}
	keel_vdisk_client_close(c);
	if (r) {
		snprintf(why, len, "%.300s: asking its disk server (pid %d): %s", d->path,
			 (int)d->pid, err);
		return NULL;
	}
	info = json_incref(json_object_get(ans, "info"));
	json_decref(ans);
	return info;
}

/* "owner": the disk's owner record (DISK.owner/), when it has one. */
static void add_owner_record(json_t *o, const char *path)
{
	json_t *own = vd_owner_json(NULL, path);

	if (json_object_get(own, "record"))
		json_object_set(o, "owner_record", json_object_get(own, "record"));
	else if (json_object_get(own, "record_error"))
		json_object_set(o, "owner_record_error", json_object_get(own, "record_error"));
	json_decref(own);
}

/* A disk that is not open: what its descriptor and metadata say. */
static json_t *closed_info(const char *path, char *why, size_t len)
{
	struct vdisk_metadata m = { 0 };
	struct keel_vmdk *v;
	char err[1024], meta[PATH_MAX + 8];
	json_t *o, *f;
	int r = keel_vmdk_open(path, KEEL_VMDK_RDONLY, &v, err, sizeof(err));

	if (r) {
		snprintf(why, len, "%s", err);
		return NULL;
	}
	o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "path", path, "state", "closed", "type",
		      keel_vmdk_type_name(keel_vmdk_type(v)), "size", (json_int_t)keel_vmdk_size(v),
		      "cid", "");
	json_object_set_new(o, "cid", json_sprintf("%08x", keel_vmdk_cid(v)));
	keel_vmdk_close(v);
	snprintf(meta, sizeof(meta), "%s.keel", path);
	f = json_array();
	if (!vdisk_metadata_read(meta, &m, err, sizeof(err))) {
		for (unsigned int i = 0; i < m.n; i++)
			json_array_append_new(f, json_string(m.names[i]));
		vdisk_metadata_free(&m);
	} else {
		json_object_set_new(o, "metadata_error", json_string(err));
	}
	json_array_append_new(f, json_string("vmdk"));
	json_object_set_new(o, "filters", f);
	add_owner_record(o, path);
	return o;
}

static json_t *cmd_info(struct vd_priv *p, json_t *req, bool filters, char *why, size_t len)
{
	char path[PATH_MAX];
	struct vd_disk *d;
	json_t *o, *live;

	if (req_path(p, req, false, path, why, len))
		return NULL;
	d = vd_find(p, path);
	if (!d) {
		if (filters) {
			snprintf(
				why, len,
				"%.300s is not open: its filters run only while it is served (keelctl vdisk open)",
				path);
			return NULL;
		}
		return closed_info(path, why, len);
	}
	if (!filters && (d->state != VD_SERVING || (p->owner && strcmp(d->owner_state, "owner")))) {
		/* a standby's chain is closed: its channel answers nothing */
		o = vd_disk_json(d);
		add_owner_record(o, d->path);
		return o;
	}
	live = server_info(d, why, len);
	if (!live)
		return NULL;
	if (filters) {
		o = json_pack("{s:s, s:O}", "path", d->path, "filters",
			      json_object_get(live, "filters"));
	} else {
		o = vd_disk_json(d);
		json_object_set(o, "disk_id", json_object_get(live, "disk_id"));
		add_owner_record(o, d->path);
	}
	json_decref(live);
	return o;
}

static json_t *cmd_check(struct vd_priv *p, json_t *req, char *why, size_t len)
{
	char path[PATH_MAX], err[1024];
	struct vd_disk *d;
	json_t *report;
	int r;

	if (req_path(p, req, false, path, why, len))
		return NULL;
	d = vd_find(p, path);
	if (d && d->state != VD_FAILED) {
		snprintf(why, len,
			 "%.300s is open (%s): close it before checking it (the server writes it)",
			 path, vd_state_name(d->state));
		return NULL;
	}
	report = json_object();
	r = keel_vmdk_check(path, report, err, sizeof(err));
	if (r && r != -EUCLEAN) {
		json_decref(report);
		snprintf(why, len, "%s", err);
		return NULL;
	}
	return json_pack("{s:b, s:o}", "clean", r == 0, "report", report);
}

/* --- ownership: handoff, release, migrating, owner --- */

static json_t *cmd_owner_op(struct vd_priv *p, const char *verb, json_t *req, char *why, size_t len)
{
	json_t *on = json_object_get(req, "on");
	char path[PATH_MAX];
	struct vd_disk *d;

	if (req_path(p, req, false, path, why, len))
		return NULL;
	d = vd_find(p, path);
	if (!d) {
		snprintf(why, len, "%.300s is not open here: keelctl vdisk open %s%.300s first",
			 path, strcmp(verb, "handoff") ? "" : "--standby ", path);
		return NULL;
	}
	if (!strcmp(verb, "migrating") && !json_is_boolean(on)) {
		snprintf(why, len, "migrating needs \"on\": true or false");
		return NULL;
	}
	return vd_owner_start_op(d, verb, json_is_true(on), why, len);
}

static json_t *cmd_owner(struct vd_priv *p, json_t *req, char *why, size_t len)
{
	char path[PATH_MAX];

	if (req_path(p, req, false, path, why, len))
		return NULL;
	return vd_owner_json(vd_find(p, path), path);
}

json_t *vd_command(struct keel_subsys *s, const char *verb, json_t *req, bool privileged, char *why,
		   size_t len)
{
	struct vd_priv *p = s->priv;
	bool changes = !strcmp(verb, "create") || !strcmp(verb, "open") || !strcmp(verb, "close") ||
		       !strcmp(verb, "handoff") || !strcmp(verb, "release") ||
		       !strcmp(verb, "migrating");
	json_t *refused = changes ? refuse_unprivileged(privileged, verb, why, len) : NULL;

	if (refused) {
		json_decref(refused);
		return NULL;
	}
	if (!strcmp(verb, "create"))
		return cmd_create(p, req, why, len);
	if (!strcmp(verb, "open"))
		return cmd_open(p, req, why, len);
	if (!strcmp(verb, "close"))
		return cmd_close(p, req, why, len);
	if (!strcmp(verb, "list"))
		return cmd_list(p);
	if (!strcmp(verb, "info"))
		return cmd_info(p, req, false, why, len);
	if (!strcmp(verb, "filters"))
		return cmd_info(p, req, true, why, len);
	if (!strcmp(verb, "check"))
		return cmd_check(p, req, why, len);
	if (!strcmp(verb, "handoff") || !strcmp(verb, "release") || !strcmp(verb, "migrating"))
		return cmd_owner_op(p, verb, req, why, len);
	if (!strcmp(verb, "owner"))
		return cmd_owner(p, req, why, len);
	snprintf(
		why, len,
		"unknown command 'vdisk.%s' (create, open, close, list, info, filters, check, handoff, release, migrating, owner)",
		verb);
	return NULL;
}
