// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmnet benchmark.  Without arguments (as tests/bench/run calls it) it runs
 * tests/bench/vmnet_bench.sh from the checkout that built it.  The script
 * calls it back for the parts that must be C to be timed honestly:
 *
 *   vmnet_bench peer IFACE INVENTORY OUT
 *	the peer: a user-space arrival detector of the kind written without
 *	BPF.  An AF_PACKET socket for ethertype 0x8035 on the VM port; on a
 *	RARP from an inventory MAC not yet here, write the same whitelist
 *	entry (struct keel_vmnet_wl, added_ns stamped right before the write,
 *	as keeld does) into its own BPF hash map.  One line per arrival:
 *	"MAC IP RX_BOOT_NS ADDED_BOOT_NS" (the kernel's RX timestamp,
 *	SO_TIMESTAMPNS, converted to CLOCK_BOOTTIME).  Runs until SIGTERM.
 *   vmnet_bench send IFACE INVENTORY COUNT INTERVAL_US OUT
 *	one QEMU-style RARP from each of the first COUNT inventory MACs,
 *	INTERVAL_US apart (+0-25% jitter); "MAC SEND_BOOT_NS" per frame,
 *	stamped right before send().
 *   vmnet_bench stream IFACE SRC_IP DST_MAC DST_IP INTERVAL_US OUT
 *	UDP datagrams to DST_IP every INTERVAL_US until SIGTERM; writes
 *	"SEQ SEND_BOOT_NS" per datagram to OUT.
 *   vmnet_bench hookrun N CMD [ARG...]
 *	run CMD N times, one after the other, each waited for: the floor for
 *	a provider hook; prints the duration of each in ns.
 *
 * INVENTORY is keeld's format: "VM MAC IP" per line.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/filter.h>
#include <linux/types.h>
#include <net/if.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keel/records.h"
#include "keel/vmnet.h"

extern char **environ;

#define MAX_INV 65536

struct inv {
	uint8_t mac[6];
	uint32_t ip; /* network order */
	int here;
};

static struct inv inv[MAX_INV];
static int n_inv;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* without SA_RESTART: a blocked recvmsg() returns on SIGTERM */
static void catch_term(void)
{
	struct sigaction sa = { .sa_handler = on_term };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int parse_mac(const char *s, uint8_t *m)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
		      &m[5]) == 6 ?
		       0 :
		       -EINVAL;
}

static void mac_str(const uint8_t *m, char *s)
{
	sprintf(s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static int load_inventory(const char *path)
{
	char line[256], vm[128], mac[64], ip[64];
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "vmnet_bench: opening inventory %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) && n_inv < MAX_INV) {
		struct in_addr a;

		if (line[0] == '#' || sscanf(line, "%127s %63s %63s", vm, mac, ip) != 3)
			continue;
		if (parse_mac(mac, inv[n_inv].mac) || inet_pton(AF_INET, ip, &a) != 1)
			continue;
		inv[n_inv].ip = a.s_addr;
		n_inv++;
	}
	fclose(f);
	return 0;
}

/* The lookup an operator's script does (a dict): linear is fine for hundreds. */
static struct inv *inv_find(const uint8_t *mac)
{
	for (int i = 0; i < n_inv; i++)
		if (!memcmp(inv[i].mac, mac, 6))
			return &inv[i];
	return NULL;
}

static int raw_socket(const char *ifname, uint16_t proto)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(proto) };
	int fd = socket(AF_PACKET, SOCK_RAW, htons(proto));

	if (fd < 0) {
		perror("vmnet_bench: AF_PACKET socket");
		return -1;
	}
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		fprintf(stderr, "vmnet_bench: binding to %s: %s\n", ifname, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* cBPF: accept ethertype 0x8035 only */
static struct sock_filter rarp_filter[] = {
	{ BPF_LD | BPF_H | BPF_ABS, 0, 0, 12 },
	{ BPF_JMP | BPF_JEQ | BPF_K, 0, 1, KEEL_VMNET_ETH_P_RARP },
	{ BPF_RET | BPF_K, 0, 0, 0xffff },
	{ BPF_RET | BPF_K, 0, 0, 0 },
};
static struct sock_fprog rarp_prog = { 4, rarp_filter };

static int peer(char **argv)
{
	uint8_t buf[2048], cbuf[256];
	int one = 1, fd, map;
	FILE *out;
	/* SO_TIMESTAMPNS is CLOCK_REALTIME; keel's stamps are CLOCK_BOOTTIME */
	int64_t real_to_boot = (int64_t)now_ns(CLOCK_BOOTTIME) - (int64_t)now_ns(CLOCK_REALTIME);

	if (load_inventory(argv[1]))
		return 1;
	/*
	 * A bridge port hands its frames to the bridge before protocol-specific
	 * sockets see them, so a detector on a VM port listens to everything
	 * and filters in the kernel, as tcpdump -i vnet0 ether proto 0x8035.
	 */
	fd = raw_socket(argv[0], ETH_P_ALL);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &rarp_prog, sizeof(rarp_prog))) {
		perror("vmnet_bench: attaching the RARP filter");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	map = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_peer_wl", sizeof(struct keel_vmnet_ip),
			     sizeof(struct keel_vmnet_wl), 4096, NULL);
	if (map < 0) {
		fprintf(stderr, "vmnet_bench: creating the peer's map: %s\n", strerror(-map));
		return 1;
	}
	out = fopen(argv[2], "w");
	if (!out) {
		fprintf(stderr, "vmnet_bench: opening %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	catch_term();
	fprintf(stderr, "peer: ready on %s, %d inventory entries\n", argv[0], n_inv);
	while (!stop) {
		struct iovec iov = { buf, sizeof(buf) };
		struct sockaddr_ll from;
		struct msghdr msg = { .msg_name = &from,
				      .msg_namelen = sizeof(from),
				      .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };
		struct keel_vmnet_ip key = { { 0 } };
		struct keel_vmnet_wl val = { .flags = KEEL_VMNET_WL_VM };
		uint64_t rx = 0;
		struct cmsghdr *c;
		struct inv *e;
		char m[18], ip[INET_ADDRSTRLEN];
		ssize_t n = recvmsg(fd, &msg, 0);

		if (n < ETH_HLEN + 28 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		e = inv_find(buf + 6);
		if (!e || e->here)
			continue; /* unknown, or a later RARP round */
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				rx = (uint64_t)((int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec +
						real_to_boot);
			}
		key.addr[10] = key.addr[11] = 0xff;
		memcpy(key.addr + 12, &e->ip, 4);
		val.trigger_ns = rx;
		val.added_ns = now_ns(CLOCK_BOOTTIME);
		if (bpf_map_update_elem(map, &key, &val, BPF_ANY))
			continue;
		e->here = 1;
		mac_str(e->mac, m);
		inet_ntop(AF_INET, &e->ip, ip, sizeof(ip));
		fprintf(out, "%s %s %llu %llu\n", m, ip, (unsigned long long)rx,
			(unsigned long long)val.added_ns);
	}
	fclose(out);
	return 0;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000ULL), (long)(t % 1000000000ULL) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop)
		;
}

static int sender(char **argv)
{
	int count = atoi(argv[2]), interval = atoi(argv[3]), fd;
	uint64_t t = now_ns(CLOCK_MONOTONIC);
	FILE *out;

	if (load_inventory(argv[1]))
		return 1;
	fd = raw_socket(argv[0], KEEL_VMNET_ETH_P_RARP);
	out = fopen(argv[4], "w");
	if (fd < 0 || !out)
		return 1;
	srand(1);
	for (int i = 0; i < count && i < n_inv; i++) {
		uint8_t f[60] = { 0 };
		char m[18];
		uint64_t sent;

		/* QEMU's announcement: broadcast, RARP request reverse, sha=tha=MAC */
		memset(f, 0xff, 6);
		memcpy(f + 6, inv[i].mac, 6);
		f[12] = 0x80, f[13] = 0x35;
		f[15] = 1, f[16] = 0x08, f[18] = 6, f[19] = 4, f[21] = 3;
		memcpy(f + 22, inv[i].mac, 6);
		memcpy(f + 32, inv[i].mac, 6);
		t += (uint64_t)interval * 1000ULL * (100 + rand() % 26) / 100;
		sleep_until(t);
		sent = now_ns(CLOCK_BOOTTIME);
		if (send(fd, f, sizeof(f), 0) != sizeof(f)) {
			perror("vmnet_bench: send");
			return 1;
		}
		mac_str(inv[i].mac, m);
		fprintf(out, "%s %llu\n", m, (unsigned long long)sent);
	}
	fclose(out);
	return 0;
}

static uint16_t csum(const uint8_t *p, int len)
{
	uint32_t s = 0;

	for (int i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static int stream(char **argv)
{
	struct sockaddr_ll own;
	socklen_t ol = sizeof(own);
	uint8_t f[64] = { 0 };
	struct in_addr src, dst;
	int interval = atoi(argv[4]), fd;
	uint64_t t = now_ns(CLOCK_MONOTONIC);
	FILE *out;

	fd = raw_socket(argv[0], ETH_P_IP);
	out = fopen(argv[5], "w");
	if (fd < 0 || !out || parse_mac(argv[2], f) || inet_pton(AF_INET, argv[1], &src) != 1 ||
	    inet_pton(AF_INET, argv[3], &dst) != 1 || getsockname(fd, (void *)&own, &ol))
		return 1;
	memcpy(f + 6, own.sll_addr, 6);
	f[12] = 0x08;
	/* IPv4 + UDP 40000 -> 40000, 8 bytes of payload: the sequence number */
	f[14] = 0x45, f[17] = 36, f[20] = 0x40, f[22] = 64, f[23] = 17;
	memcpy(f + 26, &src, 4);
	memcpy(f + 30, &dst, 4);
	{
		uint16_t c = csum(f + 14, 20);

		f[24] = (uint8_t)(c >> 8), f[25] = (uint8_t)c;
	}
	f[34] = f[36] = 0x9c, f[35] = f[37] = 0x40, f[39] = 16;
	catch_term();
	for (uint64_t seq = 0; !stop; seq++) {
		uint64_t sent;

		memcpy(f + 42, &seq, 8);
		t += (uint64_t)interval * 1000ULL;
		sleep_until(t);
		sent = now_ns(CLOCK_BOOTTIME);
		if (send(fd, f, 60, 0) == 60)
			fprintf(out, "%llu %llu\n", (unsigned long long)seq,
				(unsigned long long)sent);
	}
	fclose(out);
	return 0;
}

static int hookrun(int n, char **argv)
{
	for (int i = 0; i < n; i++) {
		uint64_t t0 = now_ns(CLOCK_MONOTONIC);
		pid_t pid;
		int st;

		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ)) {
			perror("vmnet_bench: spawning the hook");
			return 1;
		}
		waitpid(pid, &st, 0);
		printf("%llu\n", (unsigned long long)(now_ns(CLOCK_MONOTONIC) - t0));
	}
	return 0;
}

int main(int argc, char **argv)
{
	char exe[PATH_MAX], dir[PATH_MAX], script[PATH_MAX + 64];
	ssize_t n;

	if (argc == 5 && !strcmp(argv[1], "peer"))
		return peer(argv + 2);
	if (argc == 7 && !strcmp(argv[1], "send"))
		return sender(argv + 2);
	if (argc == 8 && !strcmp(argv[1], "stream"))
		return stream(argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "hookrun"))
		return hookrun(atoi(argv[2]), argv + 3);
	if (argc != 1) {
		fprintf(stderr,
			"usage: vmnet_bench [peer|send|stream|hookrun ...] (see the source)\n");
		return 2;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		perror("vmnet_bench: reading /proc/self/exe");
		return 1;
	}
	exe[n] = '\0';
	memcpy(dir, exe, (size_t)n + 1); /* dirname() writes into its argument */
	snprintf(script, sizeof(script), "%s/../../../tests/bench/vmnet_bench.sh", dirname(dir));
	execl("/bin/bash", "bash", script, exe, (char *)NULL);
	fprintf(stderr, "vmnet_bench: running %s: %s\n", script, strerror(errno));
	return 1;
}
