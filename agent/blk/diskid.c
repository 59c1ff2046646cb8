// SPDX-License-Identifier: GPL-2.0-only
/*
 * Disk identity: a block device's number changes (loop3 today, loop7 after
 * a re-attach; vdb after a reboot), so keel names a disk by what travels
 * with it:
 *   loop device -> its backing file -> the image's VMDK descriptor
 *     (ddb.uuid.image, else CID), else IMAGE.keel (created once);
 *   other disks -> WWN, else serial, else a /dev/disk/by-id name;
 *   none of these -> "dev:MAJ:MIN" (source "devnum": not stable).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "blk/diskid.h"
#include "keel/blk.h"

#define VMDK_MAGIC     0x564d444bu /* "KDMV" little-endian */
#define MAX_DESCRIPTOR (64 << 10)

/* Read at most @len - 1 bytes of @path at @off into @buf, NUL-terminated. */
static ssize_t read_file(const char *path, off_t off, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len - 1, off);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

/* A one-line sysfs attribute, trimmed; -ENOENT when missing or empty. */
static int read_attr(const char *path, char *buf, size_t len)
{
	ssize_t n = read_file(path, 0, buf, len);

	if (n < 0)
		return (int)n;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\0'))
		buf[--n] = '\0';
	return n ? 0 : -ENOENT;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Strip one pair of double quotes. */
static char *unquote(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

static bool id_char_ok(const char *v)
{
	if (!*v)
		return false;
	for (; *v; v++)
		if (!((*v >= '0' && *v <= '9') || (*v >= 'a' && *v <= 'f') ||
		      (*v >= 'A' && *v <= 'F') || *v == '-' || *v == ' '))
			return false;
	return true;
}

/* An extent line: ACCESS SECTORS TYPE "FILE" [OFFSET] */
static bool extent_names(char *line, const char *name)
{
	char *q1 = strchr(line, '"'), *q2;
	const char *base;

	if (!q1 || !(q2 = strchr(q1 + 1, '"')))
		return false;
	*q2 = '\0';
	base = strrchr(q1 + 1, '/');
	base = base ? base + 1 : q1 + 1;
	return !strcmp(base, name);
}

int keel_blk_vmdk_descriptor_id(const char *text, size_t len, const char *extent_name,
				bool *ret_extent, char *id, size_t idlen)
{
	char uuid[80] = "", cid[32] = "", *buf, *line, *save;
	bool descriptor = false, extent = false;

	if (len > MAX_DESCRIPTOR)
		len = MAX_DESCRIPTOR;
	buf = strndup(text, len);
	if (!buf)
		return -ENOMEM;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *l = trim(line), *eq, *k, *v;

		if (!strncmp(l, "# Disk DescriptorFile", 21))
			descriptor = true;
		if (!*l || *l == '#')
			continue;
		if (!strncmp(l, "RW ", 3) || !strncmp(l, "RDONLY ", 7) ||
		    !strncmp(l, "NOACCESS ", 9)) {
			if (extent_name && extent_names(l, extent_name))
				extent = true;
			continue;
		}
		eq = strchr(l, '=');
		if (!eq)
			continue;
		*eq = '\0';
		k = trim(l);
		v = unquote(trim(eq + 1));
		if (!strcmp(k, "version") || !strcmp(k, "createType"))
			descriptor = true;
		if (!strcasecmp(k, "CID") && id_char_ok(v) && strlen(v) < sizeof(cid))
			snprintf(cid, sizeof(cid), "%s", v);
		else if (!strcasecmp(k, "ddb.uuid.image") && id_char_ok(v) &&
			 strlen(v) < sizeof(uuid))
			snprintf(uuid, sizeof(uuid), "%s", v);
	}
	free(buf);
	if (ret_extent)
		*ret_extent = extent;
	if (!descriptor)
		return -EINVAL;
	/* VMware writes "ffffffff" as "no CID" in parentCID only, but guard. */
	if (*uuid) {
		for (char *p = uuid; *p; p++)
			if (*p == ' ')
				*p = '-';
		snprintf(id, idlen, "vmdk-uuid:%s", uuid);
	} else if (*cid && strcasecmp(cid, "ffffffff")) {
		snprintf(id, idlen, "vmdk-cid:%s", cid);
	} else {
		return -ENOENT;
	}
	return 0;
}

/* A monolithic sparse VMDK: the descriptor sits inside, after the header. */
static int sparse_vmdk_id(const char *image, char *id, size_t idlen)
{
	struct {
		__u32 magic, version, flags;
		__u64 capacity, grain, desc_off, desc_size;
	} __attribute__((packed)) h;
	char *buf;
	size_t size;
	ssize_t n;
	int r, fd = open(image, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	n = pread(fd, &h, sizeof(h), 0);
	if (n != sizeof(h) || h.magic != VMDK_MAGIC || !h.desc_off || !h.desc_size) {
		close(fd);
		return -EINVAL;
	}
	size = h.desc_size * 512 > MAX_DESCRIPTOR ? MAX_DESCRIPTOR : h.desc_size * 512;
	buf = malloc(size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, buf, size, (off_t)(h.desc_off * 512));
	close(fd);
	r = n > 0 ? keel_blk_vmdk_descriptor_id(buf, strnlen(buf, (size_t)n), NULL, NULL, id,
						idlen) :
		    -EINVAL;
	free(buf);
	return r;
}

static int text_vmdk_id(const char *path, const char *extent_name, char *id, size_t idlen)
{
	char *buf = malloc(MAX_DESCRIPTOR + 1);
	bool extent;
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	n = read_file(path, 0, buf, MAX_DESCRIPTOR + 1);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	r = keel_blk_vmdk_descriptor_id(buf, (size_t)n, extent_name, &extent, id, idlen);
	free(buf);
	if (!r && extent_name && !extent)
		r = -ENOENT; /* a descriptor, but of another disk */
	return r;
}

struct keel_file {
	char *id;
	size_t idlen;
	bool found;
};

static int keel_file_handler(void *user, const char *section, const char *name, const char *value)
{
	struct keel_file *k = user;

	if (!*section && !strcmp(name, "disk_id") && *value && strlen(value) + 5 < k->idlen) {
		snprintf(k->id, k->idlen, "keel:%s", value);
		k->found = true;
	}
	return 1;
}

static int make_uuid(char *out, size_t len)
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

/* IMAGE.keel: read its disk_id, or create the file once with a new one. */
static int keel_file_id(const char *image, char *id, size_t idlen)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16], uuid[40], text[160];
	struct keel_file k = { id, idlen, false };
	int fd, r;

	if (snprintf(path, sizeof(path), "%s.keel", image) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = ini_parse(path, keel_file_handler, &k);
	if (r == 0 && k.found)
		return 0;
	if (r == 0 || r > 0)
		return -EBADMSG; /* exists, but no disk_id: never overwrite it */
	r = make_uuid(uuid, sizeof(uuid));
	if (r)
		return r;
	snprintf(text, sizeof(text),
		 "# keel disk metadata: the ID of %s survives renumbering; keep it with the image\n"
		 "disk_id = %s\n",
		 strrchr(image, '/') ? strrchr(image, '/') + 1 : image, uuid);
	/* Write a temporary file, then link it in: two keelds racing on the
	 * same image agree on whichever got there first. */
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd)) {
		r = -errno ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		return r;
	}
	close(fd);
	r = link(tmp, path) ? -errno : 0;
	unlink(tmp);
	if (r && r != -EEXIST)
		return r;
	k.found = false;
	if (ini_parse(path, keel_file_handler, &k) || !k.found)
		return -EBADMSG;
	return 0;
}

int keel_blk_image_id(const char *image, char *id, size_t idlen, char *source, size_t srclen)
{
	char desc[PATH_MAX];
	const char *base = strrchr(image, '/');
	size_t n = strlen(image);
	int r;

	base = base ? base + 1 : image;
	r = sparse_vmdk_id(image, id, idlen);
	if (!r) {
		snprintf(source, srclen, "vmdk-sparse");
		return 0;
	}
	if (n > 5 && !strcmp(image + n - 5, ".vmdk")) {
		r = text_vmdk_id(image, NULL, id, idlen);
		if (!r) {
			snprintf(source, srclen, "vmdk-descriptor");
			return 0;
		}
	}
	/* NAME-flat.vmdk is described by NAME.vmdk (qemu-img and VMware) */
	if (n > 10 && !strcmp(image + n - 10, "-flat.vmdk") && n - 10 + 6 < sizeof(desc)) {
		snprintf(desc, sizeof(desc), "%.*s.vmdk", (int)(n - 10), image);
		r = text_vmdk_id(desc, base, id, idlen);
		if (!r) {
			snprintf(source, srclen, "vmdk-descriptor");
			return 0;
		}
	}
	r = keel_file_id(image, id, idlen);
	if (!r)
		snprintf(source, srclen, "keel-file");
	return r;
}

int keel_blk_id64(const char *id, __u64 *ret)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(id, strlen(id), md, &mdlen, EVP_sha256(), NULL) || mdlen < 8)
		return -EIO;
	*ret = 0;
	for (int i = 0; i < 8; i++)
		*ret = (*ret << 8) | md[i];
	return 0;
}

/* A /dev/disk/by-id link to @name, preferring wwn-, then the first sorted. */
static int by_id(const char *name, char *out, size_t len)
{
	struct dirent **ents;
	char target[PATH_MAX], link[PATH_MAX + 32];
	int n, found = -ENOENT;

	n = scandir("/dev/disk/by-id", &ents, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		ssize_t t;
		const char *b;

		snprintf(link, sizeof(link), "/dev/disk/by-id/%s", ents[i]->d_name);
		t = readlink(link, target, sizeof(target) - 1);
		if (t > 0) {
			target[t] = '\0';
			b = strrchr(target, '/');
			if (!strcmp(b ? b + 1 : target, name) &&
			    (found || !strncmp(ents[i]->d_name, "wwn-", 4))) {
				snprintf(out, len, "by-id:%.*s", (int)(len > 7 ? len - 7 : 0),
					 ents[i]->d_name);
				found = 0;
			}
		}
		free(ents[i]);
	}
	free(ents);
	return found;
}

int keel_blk_diskid_resolve(__u32 dev, struct keel_blk_diskid *ret)
{
	char sys[PATH_MAX], link[PATH_MAX], val[256], path[PATH_MAX + 64];
	const char *name;
	ssize_t n;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->dev = dev;
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", KEEL_BLK_MAJOR(dev),
		 KEEL_BLK_MINOR(dev));
	n = readlink(sys, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	name = strrchr(link, '/');
	snprintf(ret->name, sizeof(ret->name), "%.*s", (int)sizeof(ret->name) - 1,
		 name ? name + 1 : link);
	snprintf(path, sizeof(path), "%s/size", sys);
	if (!read_attr(path, val, sizeof(val)))
		ret->size_bytes = strtoull(val, NULL, 10) * 512;

	snprintf(path, sizeof(path), "%s/loop/backing_file", sys);
	if (!read_attr(path, ret->backing, sizeof(ret->backing))) {
		size_t bl = strlen(ret->backing);

		/* the kernel appends " (deleted)" to an unlinked backing file */
		if (bl > 10 && !strcmp(ret->backing + bl - 10, " (deleted)"))
			ret->backing[bl - 10] = '\0';
		r = keel_blk_image_id(ret->backing, ret->id, sizeof(ret->id), ret->source,
				      sizeof(ret->source));
		if (r)
			goto devnum;
		return keel_blk_id64(ret->id, &ret->id64);
	}
	static const char *const attrs[][2] = {
		{ "wwid", "wwn" },	       /* NVMe */
		{ "device/wwid", "wwn" },      /* SCSI VPD page 0x83 */
		{ "serial", "serial" },	       /* virtio-blk */
		{ "device/serial", "serial" }, /* NVMe, some SCSI */
	};
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sys, attrs[i][0]);
		if (!read_attr(path, val, sizeof(val))) {
			snprintf(ret->id, sizeof(ret->id), "%s:%s", attrs[i][1], trim(val));
			snprintf(ret->source, sizeof(ret->source), "%s", attrs[i][1]);
			return keel_blk_id64(ret->id, &ret->id64);
		}
	}
	if (!by_id(ret->name, ret->id, sizeof(ret->id))) {
		snprintf(ret->source, sizeof(ret->source), "by-id");
		return keel_blk_id64(ret->id, &ret->id64);
	}
devnum:
	snprintf(ret->id, sizeof(ret->id), "dev:%u:%u", KEEL_BLK_MAJOR(dev), KEEL_BLK_MINOR(dev));
	snprintf(ret->source, sizeof(ret->source), "devnum");
	return keel_blk_id64(ret->id, &ret->id64);
}

int keel_blk_dev_by_name(const char *name, __u32 *ret_dev)
{
	char path[PATH_MAX], val[32];
	unsigned int ma, mi;
	const char *b = strrchr(name, '/');
	struct stat st;

	if (b && !stat(name, &st)) {
		if (!S_ISBLK(st.st_mode))
			return -ENOTBLK;
		*ret_dev = KEEL_BLK_MKDEV(major(st.st_rdev), minor(st.st_rdev));
		return 0;
	}
	b = b ? b + 1 : name;
	if (!*b || strchr(b, '.') || strlen(b) > 31)
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/class/block/%s/dev", b);
	if (read_attr(path, val, sizeof(val)))
		return -ENODEV;
	if (sscanf(val, "%u:%u", &ma, &mi) != 2)
		return -EINVAL;
	*ret_dev = KEEL_BLK_MKDEV(ma, mi);
	return 0;
}
