// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmnet: VM mobility on the host's network.
 *
 * vmnet_port sees what a VM sends: QEMU's RARP announcements after a live
 * migration, gratuitous ARP, ARP, IP source addresses and IPv6 neighbour
 * advertisements; vmnet_port_out
 * sees the DHCPACK a VM is given.  On a tap or veth port the VM's frames
 * are the port's TC ingress; on macvtap the reverse (the guest's frames
 * leave through the device: its egress), so keeld attaches each program
 * on the direction the port's link kind says.  Each new observation goes to keeld at once
 * through the vmnet_events ring buffer; repeats are suppressed per
 * (port, kind, MAC, IP) by the vmnet_seen LRU.
 *
 * vmnet_uplink_in/out (TC on the uplink, the ENI) enforce the whitelist
 * keeld maintains: IPv4 and IPv6 pass only to (ingress) or from (egress)
 * an address in vmnet_whitelist, counted per address; the rest is dropped
 * and counted per address in vmnet_denied.  ARP and RARP always pass, and
 * a RARP or gratuitous ARP arriving on the uplink tells keeld that the MAC
 * now lives on another host.
 */
#include "keel.bpf.h"
#include <bpf/bpf_endian.h>
#include "keel/vmnet.h"

#define ETH_HLEN	   14
#define ETH_P_IP	   0x0800
#define ETH_P_ARP	   0x0806
#define ETH_P_IPV6	   0x86DD
#define IPPROTO_UDP	   17
#define IPPROTO_ICMPV6	   58
#define ND_NEIGHBOR_ADVERT 136
#define TC_ACT_SHOT	   2

#define SEC_NS 1000000000ULL

/* Set by keeld before load. */
const volatile __u64 learn_refresh_ns = 30 * SEC_NS;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} vmnet_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct keel_vmnet_counters);
} vmnet_counters SEC(".maps");

/* keeld sets max_entries from [vmnet] max_ips before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct keel_vmnet_ip);
	__type(value, struct keel_vmnet_wl);
} vmnet_whitelist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct keel_vmnet_ip);
	__type(value, struct keel_vmnet_denied);
} vmnet_denied SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct keel_vmnet_seen_key);
	__type(value, __u64);
} vmnet_seen SEC(".maps");

static __always_inline struct keel_vmnet_counters *counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&vmnet_counters, &zero);
}

static __always_inline void ip_from_v4(__u8 *dst, __u32 v4)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &v4, 4);
}

/* True when this (port, kind, MAC, IP) was not reported within @window_ns. */
static __always_inline bool is_new(__u32 ifindex, __u32 kind, const __u8 *mac, const __u8 *ip,
				   __u64 now, __u64 window_ns)
{
	struct keel_vmnet_seen_key key = { .ifindex = ifindex, .kind = kind };
	__u64 *last;

	__builtin_memcpy(key.mac, mac, 6);
	if (ip)
		__builtin_memcpy(key.ip, ip, 16);
	last = bpf_map_lookup_elem(&vmnet_seen, &key);
	if (last && now - *last < window_ns)
		return false;
	bpf_map_update_elem(&vmnet_seen, &key, &now, BPF_ANY);
	return true;
}

static __always_inline void report(__u32 kind, __u32 ifindex, const __u8 *mac, const __u8 *ip,
				   __u64 now)
{
	struct keel_vmnet_counters *cnt = counters();
	struct keel_vmnet_record *r;

	r = bpf_ringbuf_reserve(&vmnet_events, sizeof(*r), 0);
	if (!r) {
		if (cnt)
			cnt->dropped++;
		return;
	}
	r->hdr.type = KEEL_EV_VMNET;
	r->hdr.size = sizeof(*r);
	r->hdr.time_ns = now;
	r->kind = kind;
	r->ifindex = ifindex;
	__builtin_memcpy(r->mac, mac, 6);
	r->flags = 0;
	if (ip)
		__builtin_memcpy(r->ip, ip, 16);
	else
		__builtin_memset(r->ip, 0, 16);
	/* arrivals are latency-critical: wake keeld now, not at the next batch */
	bpf_ringbuf_submit(r, BPF_RB_FORCE_WAKEUP);
	if (cnt)
		cnt->records++;
}

static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	       a[5] == b[5];
}

struct arp_eth_ipv4 {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 oper;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

/*
 * An ARP frame whose sender fields match the Ethernet source: fills @ip
 * with the sender's address and says whether it is gratuitous (sender and
 * target address equal).  Returns false for anything else, including ARP
 * probes (sender address 0).
 */
static __always_inline bool parse_arp(struct __sk_buff *skb, const __u8 *src, __u8 *ip,
				      bool *gratuitous)
{
	struct arp_eth_ipv4 arp;
	__u32 spa, tpa;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &arp, sizeof(arp)))
		return false;
	if (arp.ptype != bpf_htons(ETH_P_IP) || arp.hlen != 6 || arp.plen != 4)
		return false;
	if (!mac_eq(arp.sha, src))
		return false;
	__builtin_memcpy(&spa, arp.spa, 4);
	__builtin_memcpy(&tpa, arp.tpa, 4);
	if (!spa)
		return false;
	*gratuitous = spa == tpa;
	ip_from_v4(ip, spa);
	return true;
}

/* IPv6 addresses that name no NIC: multicast, link-local, unspecified. */
static __always_inline bool v6_says_nothing(const __u8 *ip)
{
	return ip[0] == 0xff || (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) ||
	       (!ip[0] && !ip[1] && !ip[2] && !ip[3] && !ip[15]);
}

/*
 * A neighbour advertisement (ICMPv6 136 right after the IPv6 header, hop
 * limit 255 as RFC 4861 requires) fills @ip with its target: the address
 * the sender says is its own.  Guests send one unsolicited after DAD or a
 * migration, often from their link-local address, so the source alone
 * would not say which global address the NIC holds.
 */
static __always_inline bool parse_na(struct __sk_buff *skb, __u8 *ip)
{
	__u8 h[8], icmp[2];

	if (bpf_skb_load_bytes(skb, ETH_HLEN, h, sizeof(h)) || h[6] != IPPROTO_ICMPV6 ||
	    h[7] != 255 || bpf_skb_load_bytes(skb, ETH_HLEN + 40, icmp, sizeof(icmp)) ||
	    icmp[0] != ND_NEIGHBOR_ADVERT || icmp[1] ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + 40 + 8, ip, 16))
		return false;
	return !v6_says_nothing(ip);
}

/* Frames a VM sends: arrivals (RARP, GARP) and learning (ARP, IP source, NA). */
SEC("tc")
int vmnet_port(struct __sk_buff *skb)
{
	struct keel_vmnet_counters *cnt = counters();
	__u64 now = bpf_ktime_get_boot_ns();
	__u8 eth[ETH_HLEN], ip[16];
	bool garp;
	__u16 proto;
	__u32 v4;

	if (cnt)
		cnt->port_frames++;
	if (bpf_skb_load_bytes(skb, 0, eth, sizeof(eth)))
		return KEEL_TC_ACT_OK;
	if (eth[6] & 1) /* a multicast source MAC is never a NIC's */
		return KEEL_TC_ACT_OK;
	proto = (__u16)eth[12] << 8 | eth[13];
	switch (proto) {
	case KEEL_VMNET_ETH_P_RARP:
		/* QEMU sends 5 rounds; keeld wants the first at once */
		if (is_new(skb->ifindex, KEEL_VMNET_RARP, eth + 6, NULL, now, 10000000ULL))
			report(KEEL_VMNET_RARP, skb->ifindex, eth + 6, NULL, now);
		break;
	case ETH_P_ARP:
		if (!parse_arp(skb, eth + 6, ip, &garp))
			break;
		if (garp && is_new(skb->ifindex, KEEL_VMNET_GARP, eth + 6, ip, now, SEC_NS))
			report(KEEL_VMNET_GARP, skb->ifindex, eth + 6, ip, now);
		else if (!garp &&
			 is_new(skb->ifindex, KEEL_VMNET_ARP, eth + 6, ip, now, learn_refresh_ns))
			report(KEEL_VMNET_ARP, skb->ifindex, eth + 6, ip, now);
		break;
	case ETH_P_IP:
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 12, &v4, 4) || !v4 || v4 == 0xffffffff)
			break;
		ip_from_v4(ip, v4);
		if (is_new(skb->ifindex, KEEL_VMNET_IPSRC, eth + 6, ip, now, learn_refresh_ns))
			report(KEEL_VMNET_IPSRC, skb->ifindex, eth + 6, ip, now);
		break;
	case ETH_P_IPV6:
		if (parse_na(skb, ip) &&
		    is_new(skb->ifindex, KEEL_VMNET_NA, eth + 6, ip, now, learn_refresh_ns))
			report(KEEL_VMNET_NA, skb->ifindex, eth + 6, ip, now);
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 8, ip, 16) || v6_says_nothing(ip))
			break;
		if (is_new(skb->ifindex, KEEL_VMNET_IPSRC, eth + 6, ip, now, learn_refresh_ns))
			report(KEEL_VMNET_IPSRC, skb->ifindex, eth + 6, ip, now);
		break;
	}
	return KEEL_TC_ACT_OK;
}

#define DHCP_OFF_YIADDR	 16
#define DHCP_OFF_CHADDR	 28
#define DHCP_OFF_MAGIC	 236
#define DHCP_OFF_OPTIONS 240
#define DHCP_MAGIC	 0x63825363
#define DHCP_MAX_OPTIONS 16

/* Is the DHCP message at @off a DHCPACK?  Walks at most 16 options. */
static __always_inline bool dhcp_is_ack(struct __sk_buff *skb, __u32 off)
{
	__u32 magic, o = off + DHCP_OFF_OPTIONS;
	__u8 opt[3];

	if (bpf_skb_load_bytes(skb, off + DHCP_OFF_MAGIC, &magic, 4) ||
	    magic != bpf_htonl(DHCP_MAGIC))
		return false;
	for (int i = 0; i < DHCP_MAX_OPTIONS; i++) {
		if (bpf_skb_load_bytes(skb, o, opt, 3))
			return false;
		if (opt[0] == 0) { /* pad */
			o++;
			continue;
		}
		if (opt[0] == 255) /* end */
			return false;
		if (opt[0] == 53) /* message type; 5 is DHCPACK */
			return opt[1] == 1 && opt[2] == 5;
		o += 2 + opt[1];
	}
	return false;
}

/* Frames sent to a VM: the address a DHCP server gives it. */
SEC("tc")
int vmnet_port_out(struct __sk_buff *skb)
{
	__u64 now = bpf_ktime_get_boot_ns();
	__u8 eth[ETH_HLEN], iph[20], mac[6], ip[16];
	__u32 off, yiaddr;
	__be16 ports[2];

	if (bpf_skb_load_bytes(skb, 0, eth, sizeof(eth)) || eth[12] != 0x08 || eth[13] != 0x00 ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, iph, sizeof(iph)) || iph[9] != IPPROTO_UDP ||
	    (iph[6] & 0x3f) || iph[7]) /* fragments */
		return KEEL_TC_ACT_OK;
	off = ETH_HLEN + (iph[0] & 0xf) * 4;
	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)) || ports[0] != bpf_htons(67) ||
	    ports[1] != bpf_htons(68))
		return KEEL_TC_ACT_OK;
	off += 8;
	if (bpf_skb_load_bytes(skb, off + DHCP_OFF_YIADDR, &yiaddr, 4) || !yiaddr ||
	    bpf_skb_load_bytes(skb, off + DHCP_OFF_CHADDR, mac, 6) || !dhcp_is_ack(skb, off))
		return KEEL_TC_ACT_OK;
	ip_from_v4(ip, yiaddr);
	if (is_new(skb->ifindex, KEEL_VMNET_DHCP, mac, ip, now, SEC_NS))
		report(KEEL_VMNET_DHCP, skb->ifindex, mac, ip, now);
	return KEEL_TC_ACT_OK;
}

/* Load the address at @off (IPv4 when @v4) into @key. */
static __always_inline int load_ip(struct __sk_buff *skb, __u32 off, bool v4,
				   struct keel_vmnet_ip *key)
{
	__u32 a;

	if (!v4)
		return bpf_skb_load_bytes(skb, off, key->addr, 16);
	if (bpf_skb_load_bytes(skb, off, &a, 4))
		return -1;
	ip_from_v4(key->addr, a);
	return 0;
}

/* Traffic that is not a unicast VM or host address is not the ENI's to filter. */
static __always_inline bool not_unicast(const struct keel_vmnet_ip *k, bool v4)
{
	if (v4)
		return k->addr[12] >= 224 ||
		       !(k->addr[12] | k->addr[13] | k->addr[14] | k->addr[15]);
	/* multicast, link-local, unspecified */
	return k->addr[0] == 0xff || (k->addr[0] == 0xfe && (k->addr[1] & 0xc0) == 0x80) ||
	       (!k->addr[0] && !k->addr[1] && !k->addr[8] && !k->addr[15]);
}

static __always_inline int uplink(struct __sk_buff *skb, bool ingress)
{
	struct keel_vmnet_counters *cnt = counters();
	__u64 now = bpf_ktime_get_boot_ns();
	struct keel_vmnet_denied *den, fresh = {};
	struct keel_vmnet_ip key;
	struct keel_vmnet_wl *wl;
	__u8 eth[ETH_HLEN], ip[16];
	bool v4, garp;
	__u16 proto;
	__u32 off;

	if (!cnt || bpf_skb_load_bytes(skb, 0, eth, sizeof(eth)))
		return KEEL_TC_ACT_OK;
	proto = (__u16)eth[12] << 8 | eth[13];
	if (proto == KEEL_VMNET_ETH_P_RARP || proto == ETH_P_ARP) {
		/* another host announces a MAC: if it lives here, it has left */
		if (ingress && !(eth[6] & 1)) {
			if (proto == KEEL_VMNET_ETH_P_RARP) {
				if (is_new(skb->ifindex, KEEL_VMNET_ELSEWHERE, eth + 6, NULL, now,
					   100000000ULL))
					report(KEEL_VMNET_ELSEWHERE, skb->ifindex, eth + 6, NULL,
					       now);
			} else if (parse_arp(skb, eth + 6, ip, &garp) && garp &&
				   is_new(skb->ifindex, KEEL_VMNET_ELSEWHERE, eth + 6, ip, now,
					  100000000ULL)) {
				report(KEEL_VMNET_ELSEWHERE, skb->ifindex, eth + 6, ip, now);
			}
		}
		cnt->uplink_passed++;
		return KEEL_TC_ACT_OK;
	}
	if (proto != ETH_P_IP && proto != ETH_P_IPV6) {
		cnt->uplink_other++;
		return KEEL_TC_ACT_OK;
	}
	v4 = proto == ETH_P_IP;
	if (v4)
		off = ETH_HLEN + (ingress ? 16 : 12);
	else
		off = ETH_HLEN + (ingress ? 24 : 8);
	if (load_ip(skb, off, v4, &key))
		return KEEL_TC_ACT_OK;
	if (not_unicast(&key, v4)) {
		cnt->uplink_other++;
		return KEEL_TC_ACT_OK;
	}
	wl = bpf_map_lookup_elem(&vmnet_whitelist, &key);
	if (wl) {
		if (ingress) {
			__sync_fetch_and_add(&wl->rx_packets, 1);
			__sync_fetch_and_add(&wl->rx_bytes, skb->len);
		} else {
			__sync_fetch_and_add(&wl->tx_packets, 1);
			__sync_fetch_and_add(&wl->tx_bytes, skb->len);
		}
		cnt->uplink_passed++;
		return KEEL_TC_ACT_OK;
	}
	cnt->uplink_denied++;
	den = bpf_map_lookup_elem(&vmnet_denied, &key);
	if (!den) {
		bpf_map_update_elem(&vmnet_denied, &key, &fresh, BPF_NOEXIST);
		den = bpf_map_lookup_elem(&vmnet_denied, &key);
	}
	if (den) {
		if (ingress)
			__sync_fetch_and_add(&den->rx_packets, 1);
		else
			__sync_fetch_and_add(&den->tx_packets, 1);
		den->last_ns = now;
	}
	return TC_ACT_SHOT;
}

SEC("tc")
int vmnet_uplink_in(struct __sk_buff *skb)
{
	return uplink(skb, true);
}

SEC("tc")
int vmnet_uplink_out(struct __sk_buff *skb)
{
	return uplink(skb, false);
}

char LICENSE[] SEC("license") = "GPL";
