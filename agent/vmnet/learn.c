// SPDX-License-Identifier: GPL-2.0-only
/*
 * Learning MAC to IP from what a VM sends on its own port: ARP and
 * gratuitous ARP (sender fields that match the Ethernet source), the
 * DHCPACK it is given, IP source addresses and the target of an IPv6
 * neighbour advertisement.  The rules that keep a
 * guest from taking another VM's address:
 *   - a frame counts only on the port the NIC is here on;
 *   - an address owned by another NIC (inventory, or learned while that
 *     NIC is here) is a conflict: reported, never moved;
 *   - inventory addresses always belong to their inventory MAC;
 *   - [vmnet] learn says which other addresses a NIC may take: none
 *     (inventory, the default: an address this host does not know may
 *     be a VM's on another host), its first (first), or any (any);
 *   - per port, at most port_max_macs NICs and port_max_ips learned
 *     addresses, so that a guest cannot fill the tables.
 * A gratuitous ARP is also an arrival: a virtio guest announces itself
 * that way after a migration.
 */
#include <errno.h>
#include <string.h>

#include "vmnet/vmnet.h"

static int source_of(__u32 kind)
{
	switch (kind) {
	case KEEL_VMNET_GARP:
		return SRC_GARP;
	case KEEL_VMNET_ARP:
		return SRC_ARP;
	case KEEL_VMNET_DHCP:
		return SRC_DHCP;
	case KEEL_VMNET_NA:
		return SRC_NA;
	default:
		return SRC_IPSRC;
	}
}

int vmnet_nic_add_ip(struct vmnet *v, struct vmnet_nic *n, const struct keel_vmnet_ip *ip,
		     int source)
{
	struct vmnet_nic *owner = vmnet_ip_owner(v, ip);

	if (owner == n) {
		for (int j = 0; j < n->n_ips; j++)
			if (!memcmp(&n->ips[j].ip, ip, sizeof(*ip)) && source == SRC_INVENTORY)
				n->ips[j].source = SRC_INVENTORY;
		return 0;
	}
	if (owner) {
		int j;

		for (j = 0; j < owner->n_ips; j++)
			if (!memcmp(&owner->ips[j].ip, ip, sizeof(*ip)))
				break;
		if (source != SRC_INVENTORY || owner->ips[j].source == SRC_INVENTORY)
			return -EEXIST;
		/* the inventory takes an address back from a NIC that learned it */
		owner->ips[j] = owner->ips[--owner->n_ips];
		vmnet_wl_remove_now(v, ip, "inventory");
	}
	if (n->n_ips == VMNET_NIC_IPS)
		return -ENOSPC;
	n->ips[n->n_ips].ip = *ip;
	n->ips[n->n_ips].source = (uint8_t)source;
	n->n_ips++;
	if (n->state == NIC_HERE)
		vmnet_wl_add(v, ip, n, 0);
	return 0;
}

static void conflict(struct vmnet *v, const struct keel_vmnet_record *r, const char *port,
		     const struct vmnet_nic *owner, const char *why)
{
	char m[18], om[18] = "", ip[64];

	v->conflicts++;
	vmnet_mac_str(r->mac, m);
	if (owner)
		vmnet_mac_str(owner->mac, om);
	vmnet_ip_str((const struct keel_vmnet_ip *)r->ip, ip, sizeof(ip));
	vmnet_emit(v, "vm.conflict",
		   json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "mac", m, "ip", ip, "port", port,
			     "owner_mac", om, "owner_vm", owner ? owner->vm : "", "reason", why));
}

void vmnet_learn(struct vmnet *v, const struct keel_vmnet_record *r)
{
	const struct keel_vmnet_ip *ip = (const struct keel_vmnet_ip *)r->ip;
	struct vmnet_port *p = vmnet_port_find(v, (int)r->ifindex);
	struct vmnet_nic *n, *owner;
	unsigned int learned;
	char m[18], ips[64];
	int err;

	if (!p)
		return;
	n = vmnet_nic_find(v, r->mac);
	/* a VM's first frames on its port, or its GARP after a migration */
	if (!n || n->state != NIC_HERE)
		vmnet_arrive(v, r->mac, (int)r->ifindex,
			     r->kind == KEEL_VMNET_GARP ? "garp" :
							  vmnet_source_name(source_of(r->kind)),
			     r->hdr.time_ns);
	n = vmnet_nic_find(v, r->mac);
	if (!n || n->state != NIC_HERE)
		return;
	if (n->port != (int)r->ifindex) {
		conflict(v, r, p->name, n, "MAC is here on another port");
		return;
	}
	if (vmnet_ip_zero(ip))
		return;
	owner = vmnet_ip_owner(v, ip);
	if (owner && owner != n) {
		conflict(v, r, p->name, owner, "address belongs to another NIC");
		return;
	}
	if (owner == n)
		return;
	vmnet_mac_str(r->mac, m);
	vmnet_ip_str(ip, ips, sizeof(ips));
	if (v->learn == LEARN_INVENTORY || (v->learn == LEARN_FIRST && n->n_ips)) {
		/* an address nobody here knows may be another host's VM's */
		v->learn_refused++;
		vmnet_emit(v, "vm.learn_refused",
			   json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "mac", m, "vm", n->vm, "ip",
				     ips, "port", p->name, "source",
				     vmnet_source_name(source_of(r->kind)), "reason",
				     v->learn == LEARN_INVENTORY ?
					     "not in the inventory ([vmnet] learn = inventory)" :
					     "the NIC has an address ([vmnet] learn = first)"));
		return;
	}
	vmnet_port_nics(v, n->port, &learned);
	if (learned >= v->cfg->port_max_ips) {
		v->refused++;
		vmnet_emit(v, "vmnet.limit",
			   json_pack("{s:s, s:s, s:s, s:s, s:I}", "what", "port_ips", "mac", m,
				     "ip", ips, "port", p->name, "max",
				     (json_int_t)v->cfg->port_max_ips));
		return;
	}
	err = vmnet_nic_add_ip(v, n, ip, source_of(r->kind));
	if (err) {
		vmnet_emit(v, "vmnet.limit",
			   json_pack("{s:s, s:s, s:s, s:i}", "what", "ips_per_nic", "mac", m, "ip",
				     ips, "max", VMNET_NIC_IPS));
		return;
	}
	vmnet_emit(v, "vm.learn",
		   json_pack("{s:s, s:s, s:s, s:s, s:s}", "mac", m, "vm", n->vm, "ip", ips, "port",
			     p->name, "source", vmnet_source_name(source_of(r->kind))));
}
