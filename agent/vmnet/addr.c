// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmnet's addresses as people write them: MACs as aa:bb:cc:dd:ee:ff, IPs
 * as IPv4 dotted quads or IPv6 text.  Inside, every IP is 16 bytes, IPv4
 * as ::ffff:a.b.c.d (struct keel_vmnet_ip), as the BPF side keys its maps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmnet/vmnet.h"

void vmnet_mac_str(const __u8 *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

int vmnet_mac_parse(const char *s, __u8 *mac)
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6 ||
	    strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (__u8)b[i];
	return 0;
}

static const __u8 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void vmnet_ip_str(const struct keel_vmnet_ip *ip, char *buf, size_t len)
{
	if (!memcmp(ip->addr, v4mapped, 12))
		inet_ntop(AF_INET, ip->addr + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, ip->addr, buf, (socklen_t)len);
}

int vmnet_ip_parse(const char *s, struct keel_vmnet_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, ip->addr + 12) == 1) {
		memcpy(ip->addr, v4mapped, 12);
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip->addr) == 1)
		return 0;
	return -EINVAL;
}

bool vmnet_ip_zero(const struct keel_vmnet_ip *ip)
{
	static const struct keel_vmnet_ip zero;

	return !memcmp(ip, &zero, sizeof(zero));
}
