// SPDX-License-Identifier: GPL-2.0-only
/*
 * Signed release requests and answers between disk servers.
 *
 * A message is one JSON object on one line.  Its "mac" is HMAC-SHA256
 * (OpenSSL) with the cluster key over the message without "mac", dumped
 * compact with sorted keys, so both sides hash the same bytes.  It carries
 * a random "nonce" and its "time" (ms since the epoch): a message more than
 * KEEL_OWNER_SKEW_MS away from the receiver's clock, or whose nonce was
 * already seen within that window, is refused, so a recorded request
 * cannot be sent again.  An answer names the request's nonce ("re"), so an
 * answer cannot be replayed to another request either.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vdisk/owner.h"

#define KEY_MIN	   32
#define KEY_MAX	   1024
#define NONCES_MAX 4096
#define ANSWER_MAX 65536

struct keel_owner_key {
	size_t len;
	unsigned char k[KEY_MAX];
};

struct keel_owner_nonces {
	unsigned int n;
	struct {
		char nonce[33];
		int64_t ms;
	} e[NONCES_MAX];
};

int64_t keel_owner_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t keel_owner_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int keel_owner_key_load(const char *path, struct keel_owner_key **ret, char *err, size_t errlen)
{
	struct keel_owner_key *k;
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		r = -errno;
		snprintf(err, errlen, "cluster key %s: %s", path, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (st.st_mode & 077) {
		close(fd);
		snprintf(err, errlen,
			 "cluster key %s: mode %04o lets other users read it (chmod 600)", path,
			 st.st_mode & 07777);
		return -EPERM;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, k->k, sizeof(k->k));
	close(fd);
	if (n < KEY_MIN || st.st_size > KEY_MAX) {
		snprintf(err, errlen,
			 "cluster key %s: %lld bytes, it needs %d to %d (head -c 32 /dev/urandom)",
			 path, (long long)st.st_size, KEY_MIN, KEY_MAX);
		OPENSSL_cleanse(k, sizeof(*k));
		free(k);
		return -EINVAL;
	}
	k->len = (size_t)n;
	*ret = k;
	return 0;
}

void keel_owner_key_free(struct keel_owner_key *k)
{
	if (!k)
		return;
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* HMAC-SHA256 of @msg without its "mac", as 64 hex digits. */
static int mac_of(const struct keel_owner_key *k, json_t *msg, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	json_t *copy = json_copy(msg);
	char *text;

	if (!copy)
		return -ENOMEM;
	json_object_del(copy, "mac");
	text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	if (!text)
		return -ENOMEM;
	if (!HMAC(EVP_sha256(), k->k, (int)k->len, (unsigned char *)text, strlen(text), md,
		  &mdlen) ||
	    mdlen != 32) {
		free(text);
		return -EIO;
	}
	free(text);
	hex(md, 32, out);
	return 0;
}

int keel_owner_sign(const struct keel_owner_key *k, json_t *msg)
{
	return keel_owner_sign_at(k, msg, keel_owner_now_ms());
}

int keel_owner_sign_at(const struct keel_owner_key *k, json_t *msg, int64_t time_ms)
{
	unsigned char rnd[16];
	char nonce[33], mac[65];
	int r;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	hex(rnd, sizeof(rnd), nonce);
	json_object_set_new(msg, "nonce", json_string(nonce));
	json_object_set_new(msg, "time", json_integer(time_ms));
	r = mac_of(k, msg, mac);
	if (r)
		return r;
	return json_object_set_new(msg, "mac", json_string(mac)) ? -ENOMEM : 0;
}

int keel_owner_verify(const struct keel_owner_key *k, json_t *msg, char *why, size_t whylen)
{
	const char *mac = json_string_value(json_object_get(msg, "mac"));
	const char *nonce = json_string_value(json_object_get(msg, "nonce"));
	json_t *t = json_object_get(msg, "time");
	char want[65];
	int64_t skew;
	int r;

	if (!json_is_object(msg) || !mac || strlen(mac) != 64 || !nonce || strlen(nonce) != 32 ||
	    !json_is_integer(t)) {
		snprintf(
			why, whylen,
			"malformed: it needs string fields mac (64 hex digits) and nonce (32), and an integer time");
		return -EBADMSG;
	}
	r = mac_of(k, msg, want);
	if (r) {
		snprintf(why, whylen, "cannot compute its HMAC: %s", strerror(-r));
		return r;
	}
	if (CRYPTO_memcmp(want, mac, 64)) {
		snprintf(why, whylen,
			 "bad HMAC: not signed with this cluster's key, or changed on the way");
		return -EKEYREJECTED;
	}
	skew = json_integer_value(t) - keel_owner_now_ms();
	if (skew > KEEL_OWNER_SKEW_MS || skew < -KEEL_OWNER_SKEW_MS) {
		snprintf(
			why, whylen,
			"its time is %lld ms from this host's clock (more than %d ms): replayed, or the clocks differ",
			(long long)skew, KEEL_OWNER_SKEW_MS);
		return -ETIME;
	}
	return 0;
}

struct keel_owner_nonces *keel_owner_nonces_new(void)
{
	return calloc(1, sizeof(struct keel_owner_nonces));
}

void keel_owner_nonces_free(struct keel_owner_nonces *n)
{
	free(n);
}

int keel_owner_nonce_seen(struct keel_owner_nonces *n, const char *nonce, int64_t now_ms)
{
	unsigned int i, j;

	/* a nonce older than twice the window fails the time check anyway */
	for (i = j = 0; i < n->n; i++) {
		if (now_ms - n->e[i].ms <= 2 * KEEL_OWNER_SKEW_MS)
			n->e[j++] = n->e[i];
	}
	n->n = j;
	for (i = 0; i < n->n; i++) {
		if (!strcmp(n->e[i].nonce, nonce))
			return -EALREADY;
	}
	if (n->n == NONCES_MAX)
		return -EBUSY;
	snprintf(n->e[n->n].nonce, sizeof(n->e[0].nonce), "%s", nonce);
	n->e[n->n++].ms = now_ms;
	return 0;
}

static int connect_addr(const char *addr, int64_t deadline, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	char host[KEEL_OWNER_ADDR_MAX], *port;
	struct pollfd p;
	int fd, r, soerr = 0;
	socklen_t el = sizeof(soerr);

	if (!strncmp(addr, "unix:", 5)) {
		struct sockaddr_un *a = (struct sockaddr_un *)&ss;

		if (strlen(addr + 5) >= sizeof(a->sun_path)) {
			snprintf(err, errlen, "%s: path too long", addr);
			return -ENAMETOOLONG;
		}
		a->sun_family = AF_UNIX;
		strcpy(a->sun_path, addr + 5);
		sl = sizeof(*a);
	} else if (!strncmp(addr, "tcp:", 4) && strlen(addr + 4) < sizeof(host) &&
		   (strcpy(host, addr + 4), port = strrchr(host, ':'))) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		char *end;
		long p;

		*port++ = '\0';
		errno = 0;
		p = strtol(port, &end, 10);
		if (errno || *end || p <= 0 || p > 65535)
			goto bad;
		if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons((uint16_t)p);
			sl = sizeof(*a4);
		} else if (host[0] == '[' && host[strlen(host) - 1] == ']' &&
			   (host[strlen(host) - 1] = '\0',
			    inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1)) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons((uint16_t)p);
			sl = sizeof(*a6);
		} else {
			goto bad;
		}
	} else {
bad:
		snprintf(err, errlen, "%s: not tcp:IPV4:PORT, tcp:[IPV6]:PORT or unix:PATH", addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		r = -errno;
		goto fail;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	r = poll(&p, 1,
		 (int)(deadline - keel_owner_mono_ms() > 0 ? deadline - keel_owner_mono_ms() : 0));
	if (r == 0) {
		r = -ETIMEDOUT;
		goto fail;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) || soerr) {
		r = soerr ? -soerr : -errno;
		goto fail;
	}
	return fd;
fail:
	snprintf(err, errlen, "%s: connect: %s", addr, strerror(-r));
	close(fd);
	return r;
}

int keel_owner_call(const struct keel_owner_key *k, const char *addr, json_t *req,
		    unsigned int timeout_ms, json_t **ret, char *err, size_t errlen)
{
	int64_t deadline = keel_owner_mono_ms() + timeout_ms;
	char *line = NULL, *buf = NULL, why[256];
	size_t len = 0, off = 0;
	json_error_t je;
	json_t *ans = NULL;
	int fd, r;

	r = keel_owner_sign(k, req);
	if (r) {
		snprintf(err, errlen, "cannot sign the request: %s", strerror(-r));
		return r;
	}
	fd = connect_addr(addr, deadline, err, errlen);
	if (fd < 0)
		return fd;
	line = json_dumps(req, JSON_COMPACT);
	buf = malloc(ANSWER_MAX + 1);
	if (!line || !buf) {
		r = -ENOMEM;
		goto out;
	}
	len = strlen(line);
	line[len++] = '\n';
	while (off < len) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t w;

		if (poll(&p, 1, (int)(deadline - keel_owner_mono_ms())) <= 0) {
			r = -ETIMEDOUT;
			goto io;
		}
		w = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			r = -errno;
			goto io;
		}
		if (w > 0)
			off += (size_t)w;
	}
	for (off = 0;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - keel_owner_mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			r = -ETIMEDOUT;
			goto io;
		}
		n = recv(fd, buf + off, ANSWER_MAX - off, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			r = n ? -errno : -ECONNRESET;
			goto io;
		}
		off += (size_t)n;
		if (memchr(buf, '\n', off))
			break;
		if (off == ANSWER_MAX) {
			r = -EMSGSIZE;
			goto io;
		}
	}
	ans = json_loadb(buf, (size_t)((char *)memchr(buf, '\n', off) - buf), 0, &je);
	if (!ans) {
		snprintf(err, errlen, "%s: the answer is not JSON: %s", addr, je.text);
		r = -EBADMSG;
		goto out;
	}
	r = keel_owner_verify(k, ans, why, sizeof(why));
	if (!r && !json_equal(json_object_get(ans, "re"), json_object_get(req, "nonce"))) {
		snprintf(why, sizeof(why), "it answers another request");
		r = -EBADMSG;
	}
	if (r) {
		snprintf(err, errlen, "%s: answer refused: %s", addr, why);
		json_decref(ans);
		goto out;
	}
	*ret = ans;
	goto out;
io:
	snprintf(err, errlen, "%s: %s", addr, r == -ETIMEDOUT ? "no answer in time" : strerror(-r));
out:
	free(line);
	free(buf);
	close(fd);
	return r;
}
