// SPDX-License-Identifier: GPL-2.0-only
/*
 * rtnetlink: VM ports appearing and going (RTM_NEWLINK/DELLINK), where the
 * bridge learned each MAC (AF_BRIDGE neighbours: the FDB), and this host's
 * own addresses (RTM_NEWADDR/DELADDR), which the uplink always lets through
 * so that enforcement never locks the host itself out.
 *
 * One socket subscribes to the groups; a second one dumps the current
 * state at start (and again after the first overflowed), so a keeld
 * started after a VM arrived still finds it: the FDB remembers the port
 * its RARP came in on.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <fnmatch.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmnet.skel.h"
#include "vmnet/vmnet.h"

#define NL_BUF 32768

struct vmnet_port *vmnet_port_find(struct vmnet *v, int ifindex)
{
	for (unsigned int i = 0; v->ports && i < v->max_ports; i++)
		if (v->ports[i].used && v->ports[i].ifindex == ifindex)
			return &v->ports[i];
	return NULL;
}

bool vmnet_port_name_matches(struct vmnet *v, const char *name)
{
	char pats[sizeof(v->cfg->ports)], *save = NULL, *p;

	if (v->uplink_name[0] && !strcmp(name, v->uplink_name))
		return false;
	if (v->cfg->uplink[0] && !strcmp(name, v->cfg->uplink))
		return false;
	snprintf(pats, sizeof(pats), "%s", v->cfg->ports);
	for (p = strtok_r(pats, ", ", &save); p; p = strtok_r(NULL, ", ", &save))
		if (!fnmatch(p, name, 0))
			return true;
	return false;
}

/*
 * macvtap and ipvtap (drivers/net/tap.c) face the other way from a tap: a
 * frame the guest writes into /dev/tapN is queued with dev_queue_xmit()
 * on the device (tap_get_user()), so it is the device's TC egress on its
 * way to the lower device, and a frame for the guest is received on the
 * device (its ingress) before tap_handle_frame() hands it to /dev/tapN.
 * A macvtap's MAC is its guest's (macvlan delivers to it by that MAC), so
 * unlike a tap's it is not a MAC to ignore.  ipvtap is the same tap.c.
 */
static bool guest_sends_on_egress(const char *kind)
{
	return !strcmp(kind, "macvtap") || !strcmp(kind, "ipvtap");
}

static void port_add(struct vmnet *v, int ifindex, const char *name, const __u8 *mac,
		     const char *kind)
{
	struct vmnet_port *p = vmnet_port_find(v, ifindex);
	int from_guest = bpf_program__fd(v->skel->progs.vmnet_port);
	int to_guest = bpf_program__fd(v->skel->progs.vmnet_port_out);
	int err;

	if (p)
		return;
	for (unsigned int i = 0; i < v->max_ports && !p; i++)
		if (!v->ports[i].used)
			p = &v->ports[i];
	if (!p) {
		v->refused++;
		vmnet_emit(v, "vmnet.limit",
			   json_pack("{s:s, s:s, s:I}", "what", "ports", "port", name, "max",
				     (json_int_t)v->max_ports));
		return;
	}
	memset(p, 0, sizeof(*p));
	p->ifindex = ifindex;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->kind, sizeof(p->kind), "%s", kind);
	p->guest_egress = guest_sends_on_egress(kind);
	if (mac && !p->guest_egress)
		memcpy(p->mac, mac, 6);
	if (p->guest_egress)
		err = vmnet_tc_attach(ifindex, to_guest, from_guest, &p->created_qdisc);
	else
		err = vmnet_tc_attach(ifindex, from_guest, to_guest, &p->created_qdisc);
	if (err) {
		vmnet_emit(v, "vmnet.port_error",
			   json_pack("{s:s, s:i, s:s}", "port", name, "ifindex", ifindex, "error",
				     strerror(-err)));
		return;
	}
	p->used = true;
	p->attached = true;
	if (!strcmp(kind, "macvtap"))
		p->tap_rdev = vmnet_macvtap_rdev(name, ifindex);
	p->pid = vmnet_tap_owner(p);
	vmnet_emit(v, "vmnet.port_add",
		   json_pack("{s:s, s:i, s:i, s:s, s:s}", "port", name, "ifindex", ifindex, "pid",
			     p->pid, "kind", p->kind, "guest_frames",
			     p->guest_egress ? "egress" : "ingress"));
}

static void port_del(struct vmnet *v, int ifindex)
{
	struct vmnet_port *p = vmnet_port_find(v, ifindex);

	if (!p)
		return;
	vmnet_emit(v, "vmnet.port_remove",
		   json_pack("{s:s, s:i}", "port", p->name, "ifindex", ifindex));
	vmnet_port_gone(v, ifindex);
	p->used = false; /* the kernel removed its filters with the device */
}

/* IFLA_INFO_KIND inside IFLA_LINKINFO, or "" (a device without link ops) */
static const char *link_kind(struct rtattr *linkinfo)
{
	int len = (int)RTA_PAYLOAD(linkinfo);
	struct rtattr *rta;

	for (rta = RTA_DATA(linkinfo); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == IFLA_INFO_KIND && RTA_PAYLOAD(rta) > 0 &&
		    memchr(RTA_DATA(rta), 0, RTA_PAYLOAD(rta)))
			return RTA_DATA(rta);
	return "";
}

static void on_link(struct vmnet *v, struct nlmsghdr *nh)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	int rtlen = (int)IFLA_PAYLOAD(nh);
	const char *name = NULL, *kind = "";
	const __u8 *mac = NULL;
	struct rtattr *rta;

	for (rta = IFLA_RTA(ifi); RTA_OK(rta, rtlen); rta = RTA_NEXT(rta, rtlen)) {
		if (rta->rta_type == IFLA_IFNAME)
			name = RTA_DATA(rta);
		else if (rta->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(rta) == 6)
			mac = RTA_DATA(rta);
		else if (rta->rta_type == IFLA_LINKINFO)
			kind = link_kind(rta);
	}
	if (nh->nlmsg_type == RTM_DELLINK) {
		port_del(v, ifi->ifi_index);
		return;
	}
	if (!name)
		return;
	if (vmnet_port_name_matches(v, name))
		port_add(v, ifi->ifi_index, name, mac, kind);
	else if (vmnet_port_find(v, ifi->ifi_index))
		port_del(v, ifi->ifi_index); /* renamed away from the patterns */
}

static void on_fdb(struct vmnet *v, struct nlmsghdr *nh)
{
	struct ndmsg *nd = NLMSG_DATA(nh);
	int rtlen = (int)RTM_PAYLOAD(nh);
	const __u8 *mac = NULL;
	struct vmnet_port *p;
	struct vmnet_nic *n;
	struct rtattr *rta;

	if (nd->ndm_family != AF_BRIDGE || nh->nlmsg_type != RTM_NEWNEIGH ||
	    (nd->ndm_state & (NUD_PERMANENT | NUD_NOARP)))
		return; /* local and static entries are not VMs */
	for (rta = RTM_RTA(nd); RTA_OK(rta, rtlen); rta = RTA_NEXT(rta, rtlen))
		if (rta->rta_type == NDA_LLADDR && RTA_PAYLOAD(rta) == 6)
			mac = RTA_DATA(rta);
	if (!mac || (mac[0] & 1))
		return;
	p = vmnet_port_find(v, nd->ndm_ifindex);
	if (p) {
		if (memcmp(p->mac, mac, 6))
			vmnet_arrive(v, mac, nd->ndm_ifindex, "fdb", 0);
		return;
	}
	/* the bridge now reaches this MAC elsewhere: it left this host */
	n = vmnet_nic_find(v, mac);
	if (n && n->state == NIC_HERE && (!v->uplink || nd->ndm_ifindex == v->uplink))
		vmnet_depart(v, n, "fdb_moved");
}

static void on_addr(struct vmnet *v, struct nlmsghdr *nh)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	int rtlen = (int)IFA_PAYLOAD(nh);
	struct keel_vmnet_ip ip = { 0 };
	struct rtattr *rta;
	bool have = false;

	if (ifa->ifa_scope >= RT_SCOPE_LINK)
		return; /* host and link scope never cross the uplink filter */
	for (rta = IFA_RTA(ifa); RTA_OK(rta, rtlen); rta = RTA_NEXT(rta, rtlen)) {
		if (rta->rta_type != IFA_LOCAL && rta->rta_type != IFA_ADDRESS)
			continue;
		if (ifa->ifa_family == AF_INET && RTA_PAYLOAD(rta) == 4) {
			ip.addr[10] = ip.addr[11] = 0xff;
			memcpy(ip.addr + 12, RTA_DATA(rta), 4);
			have = true;
		} else if (ifa->ifa_family == AF_INET6 && RTA_PAYLOAD(rta) == 16) {
			memcpy(ip.addr, RTA_DATA(rta), 16);
			have = true;
		}
		if (rta->rta_type == IFA_LOCAL)
			break; /* IFA_LOCAL is the address on point-to-point links */
	}
	if (!have)
		return;
	if (nh->nlmsg_type == RTM_NEWADDR)
		vmnet_wl_add_host(v, &ip);
	else
		vmnet_wl_remove_host(v, &ip);
}

static void dispatch(struct vmnet *v, char *buf, ssize_t n)
{
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
	     nh = NLMSG_NEXT(nh, n)) {
		switch (nh->nlmsg_type) {
		case RTM_NEWLINK:
		case RTM_DELLINK:
			on_link(v, nh);
			break;
		case RTM_NEWNEIGH:
		case RTM_DELNEIGH:
			on_fdb(v, nh);
			break;
		case RTM_NEWADDR:
		case RTM_DELADDR:
			on_addr(v, nh);
			break;
		}
	}
}

/*
 * Dump one table synchronously on a private socket.  The request carries a
 * struct ndmsg: the FDB dump refuses a bare rtgenmsg with EINVAL, which it
 * reports inside NLMSG_DONE.
 */
static int dump(struct vmnet *v, int type, int family)
{
	struct {
		struct nlmsghdr nh;
		struct ndmsg nd;
	} req = { .nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg)),
			  .nlmsg_type = (__u16)type,
			  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			  .nlmsg_seq = 1 },
		  .nd = { .ndm_family = (__u8)family } };
	char *buf = malloc(NL_BUF);
	int fd, err = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0 || !buf) {
		err = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	if (send(fd, &req, sizeof(req), 0) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, NL_BUF, 0);
		struct nlmsghdr *nh;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE) {
				if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
					err = *(int *)NLMSG_DATA(nh);
				goto out;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				goto out;
			}
			dispatch(v, (char *)nh, (ssize_t)nh->nlmsg_len);
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

static int resync(struct vmnet *v)
{
	int err = dump(v, RTM_GETLINK, AF_UNSPEC);

	if (!err)
		err = dump(v, RTM_GETADDR, AF_UNSPEC);
	if (!err)
		err = dump(v, RTM_GETNEIGH, AF_BRIDGE);
	return err;
}

static void on_rtnl(struct keel_watch *w, uint32_t events)
{
	struct vmnet *v = w->data;
	char buf[NL_BUF];

	(void)events;
	for (;;) {
		ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == ENOBUFS) {
			/* the kernel dropped notifications: read the state again */
			vmnet_emit(v, "vmnet.resync",
				   json_pack("{s:s}", "reason", "rtnetlink overrun"));
			resync(v);
			continue;
		}
		if (n <= 0)
			break;
		dispatch(v, buf, n);
	}
	vmnet_timer_arm(v);
}

int vmnet_rtnl_open(struct vmnet *v, char *why, size_t len)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR |
					       RTMGRP_IPV6_IFADDR };
	int fd, err, rcvbuf = 4 << 20;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		snprintf(why, len, "opening an rtnetlink socket for port events: %s",
			 strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	v->rtnl_watch = (struct keel_watch){ .fd = fd, .cb = on_rtnl, .data = v };
	err = keel_watch_add(v->d, &v->rtnl_watch, EPOLLIN);
	if (err) {
		snprintf(why, len, "watching rtnetlink: %s", strerror(-err));
		return err;
	}
	err = resync(v);
	if (err) {
		snprintf(why, len, "reading links, addresses and the bridge FDB: %s",
			 strerror(-err));
		return err;
	}
	return 0;
}

void vmnet_rtnl_close(struct vmnet *v)
{
	if (v->rtnl_watch.fd > 0) {
		keel_watch_del(v->d, &v->rtnl_watch);
		close(v->rtnl_watch.fd);
		v->rtnl_watch.fd = 0;
	}
	for (unsigned int i = 0; v->ports && i < v->max_ports; i++) {
		struct vmnet_port *p = &v->ports[i];

		if (p->used && p->attached)
			vmnet_tc_detach(p->ifindex, true, true, p->created_qdisc);
		p->used = false;
	}
}
