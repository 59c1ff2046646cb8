// SPDX-License-Identifier: GPL-2.0-only
/*
 * Filter-level access: a handle received over the disk server's channel
 * enters the chain at its filter; I/O passes that filter and every one
 * below it, never those above.  The chain runs in this process (the
 * channel is the disk server's own code); the client is the library an
 * application links.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include "keel/vdisk_client.h"
#include "vdisk_util.h"

#define MiB (1u << 20)

static const char *key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
			     "f0e0d0c0b0a090807060504030201000ffeeddccbbaa99887766554433221100\n";

struct served {
	struct tdisk t;
	char chan[128];
	struct keel_vchannel *ch;
	struct keel_vdisk_client *c;
};

static void serve(struct served *s, const char *meta)
{
	tdisk_make(&s->t, 8 * MiB, meta);
	tdisk_write_file(&s->t, "disk.key", key_hex, strlen(key_hex), 0600);
	cr_assert_eq(tdisk_open(&s->t, 0), 0, "%s", s->t.err);
	snprintf(s->chan, sizeof(s->chan), "%s/chan", s->t.dir);
	cr_assert_eq(keel_vchannel_start(s->t.d, s->chan, &s->ch, s->t.err, sizeof(s->t.err)), 0,
		     "%s", s->t.err);
	cr_assert_eq(keel_vdisk_client_connect(s->chan, &s->c, s->t.err, sizeof(s->t.err)), 0, "%s",
		     s->t.err);
}

static void unserve(struct served *s)
{
	keel_vdisk_client_close(s->c);
	keel_vchannel_stop(s->ch);
	tdisk_cleanup(&s->t);
}

static int handle(struct served *s, const char *filter)
{
	int fd = -1;

	cr_assert_eq(keel_vdisk_client_handle(s->c, filter, &fd, s->t.err, sizeof(s->t.err)), 0,
		     "handle at %s: %s", filter, s->t.err);
	return fd;
}

static uint64_t reads(struct served *s, const char *filter)
{
	struct keel_vfilter_counters c;

	keel_vfilter_counters(keel_vdisk_find(s->t.d, filter), &c);
	return c.reads;
}

#define CHAIN                                                 \
	"[vdisk]\nfilters = stats throttle crypt integrity\n" \
	"[filter.crypt]\nkey_file = disk.key\n"

Test(vdisk_access, below_crypt_is_ciphertext_top_is_plaintext)
{
	struct served s;
	unsigned char plain[8192], got[8192];
	int top, below;

	serve(&s, CHAIN);
	top = handle(&s, "stats");
	below = handle(&s, "integrity");
	fill(plain, sizeof(plain), 11);
	cr_assert_eq(keel_vdisk_handle_pwrite(top, plain, sizeof(plain), MiB, KEEL_VF_FUA), 0);
	cr_assert_eq(keel_vdisk_handle_pread(top, got, sizeof(got), MiB), 0);
	cr_assert_arr_eq(got, plain, sizeof(plain), "the top handle did not read plaintext");
	cr_assert_eq(keel_vdisk_handle_pread(below, got, sizeof(got), MiB), 0);
	cr_assert(memcmp(got, plain, 512), "the handle below crypt read plaintext");
	/* and what it read is what the disk holds */
	{
		unsigned char raw[8192];

		cr_assert_eq(keel_vfilter_pread(tdisk_at(&s.t, "vmdk"), raw, sizeof(raw), MiB), 0);
		cr_assert_arr_eq(got, raw, sizeof(raw));
	}
	cr_log_info(
		"checked: handle at stats (top) reads plaintext; handle at integrity (below crypt) reads the ciphertext the VMDK holds");
	close(top);
	close(below);
	unserve(&s);
}

Test(vdisk_access, entering_at_integrity_bypasses_throttle_and_stats)
{
	struct served s;
	unsigned char buf[4096];
	uint64_t st, th, cr, in, vm;
	int fd;

	serve(&s, CHAIN "[filter.throttle]\niops = 1000\n");
	fd = handle(&s, "integrity");
	st = reads(&s, "stats");
	th = reads(&s, "throttle");
	cr = reads(&s, "crypt");
	in = reads(&s, "integrity");
	vm = reads(&s, "vmdk");
	for (int i = 0; i < 10; i++)
		cr_assert_eq(keel_vdisk_handle_pread(fd, buf, sizeof(buf), (uint64_t)i * 4096), 0);
	cr_assert_eq(reads(&s, "stats"), st, "the handle's reads passed stats");
	cr_assert_eq(reads(&s, "throttle"), th, "the handle's reads passed throttle");
	cr_assert_eq(reads(&s, "crypt"), cr, "the handle's reads passed crypt");
	cr_assert_eq(reads(&s, "integrity"), in + 10);
	cr_assert_eq(reads(&s, "vmdk"), vm + 10);
	close(fd);
	fd = handle(&s, "throttle");
	cr_assert_eq(keel_vdisk_handle_pread(fd, buf, sizeof(buf), 0), 0);
	cr_assert_eq(reads(&s, "stats"), st, "a handle at throttle passed stats");
	cr_assert_eq(reads(&s, "throttle"), th + 1);
	cr_assert_eq(reads(&s, "crypt"), cr + 1);
	cr_log_info(
		"checked: 10 reads at integrity: stats/throttle/crypt +0, integrity/vmdk +10; a read at throttle: stats +0, throttle/crypt +1");
	close(fd);
	unserve(&s);
}

Test(vdisk_access, integrity_below_a_handle_still_refuses_corruption)
{
	struct served s;
	unsigned char buf[4096];
	int top, raw;

	serve(&s, CHAIN);
	top = handle(&s, "stats");
	raw = handle(&s, "vmdk");
	fill(buf, sizeof(buf), 12);
	cr_assert_eq(keel_vdisk_handle_pwrite(top, buf, sizeof(buf), 0, 0), 0);
	cr_assert_eq(keel_vdisk_handle_pread(raw, buf, 512, 0), 0);
	buf[7] ^= 1;
	cr_assert_eq(keel_vdisk_handle_pwrite(raw, buf, 512, 0, 0), 0);
	cr_assert_eq(keel_vdisk_handle_pread(top, buf, sizeof(buf), 0), -EIO);
	cr_log_info(
		"checked: a write through the vmdk handle bypasses integrity; the top handle then gets EIO, not the altered data");
	close(top);
	close(raw);
	unserve(&s);
}

Test(vdisk_access, refusals_come_with_a_reason)
{
	struct served s;
	int fd = -1;

	serve(&s, CHAIN "[filter.integrity]\nhandles = false\n");
	cr_assert_eq(keel_vdisk_client_handle(s.c, "integrity", &fd, s.t.err, sizeof(s.t.err)),
		     -EPERM);
	cr_assert(strstr(s.t.err, "refuses handles"), "%s", s.t.err);
	cr_assert_eq(fd, -1);
	cr_log_info("checked: %s", s.t.err);
	cr_assert_eq(keel_vdisk_client_handle(s.c, "cache", &fd, s.t.err, sizeof(s.t.err)),
		     -ENOENT);
	cr_assert(strstr(s.t.err, "no filter \"cache\""), "%s", s.t.err);
	cr_log_info("checked: %s", s.t.err);
	unserve(&s);
}

Test(vdisk_access, bad_requests_on_a_handle_fail_cleanly)
{
	struct served s;
	unsigned char buf[1024];
	int fd;

	serve(&s, CHAIN);
	fd = handle(&s, "crypt");
	cr_assert_eq(keel_vdisk_handle_pread(fd, buf, 100, 0), -EINVAL);
	cr_assert_eq(keel_vdisk_handle_pread(fd, buf, 512, 8 * MiB), -EINVAL);
	cr_assert_eq(keel_vdisk_handle_pread(fd, buf, 512, 0), 0, "the handle died after an error");
	/* garbage on the wire closes that handle only */
	cr_assert_eq(write(fd, "garbage-garbage-garbage-garbage!", 32), 32);
	cr_assert_eq(keel_vdisk_handle_pread(fd, buf, 512, 0), -ECONNRESET);
	close(fd);
	fd = handle(&s, "crypt");
	cr_assert_eq(keel_vdisk_handle_pread(fd, buf, 512, 0), 0);
	close(fd);
	unserve(&s);
}

Test(vdisk_access, a_handle_works_in_another_process)
{
	struct served s;
	unsigned char buf[4096], got[4096];
	pid_t pid;
	int fd, status;

	serve(&s, CHAIN);
	fd = handle(&s, "stats");
	fill(buf, sizeof(buf), 13);
	pid = fork();
	if (!pid) {
		keel_vdisk_client_close(s.c);
		_exit(keel_vdisk_handle_pwrite(fd, buf, sizeof(buf), 4096, 0) ? 1 : 0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(status, 0);
	cr_assert_eq(keel_vdisk_handle_pread(fd, got, sizeof(got), 4096), 0);
	cr_assert_arr_eq(got, buf, sizeof(buf));
	close(fd);
	unserve(&s);
}
