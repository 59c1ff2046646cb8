// SPDX-License-Identifier: GPL-2.0-only
/*
 * VM NICs, by MAC: a NIC arrives when its port on this host announces it
 * (RARP after a live migration, gratuitous ARP, the FDB at start) and
 * departs when its port goes, its VM is destroyed, or it is announced on
 * another host.  Its addresses join the whitelist at once on arrival and
 * leave it a grace period after departure, so a short flap costs nothing.
 *
 * A NIC that is here stays on its port: a frame with its MAC on another
 * port is a conflict, reported and ignored, never a move.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "vmnet/vmnet.h"
#include "common/clock.h"

static const char *const state_names[] = {
	[NIC_KNOWN] = "known",
	[NIC_HERE] = "here",
	[NIC_DEPARTING] = "departing",
	[NIC_AWAY] = "away",
};

static const char *const source_names[] = {
	[SRC_INVENTORY] = "inventory", [SRC_ARP] = "arp",  [SRC_GARP] = "garp",
	[SRC_DHCP] = "dhcp",	       [SRC_IPSRC] = "ip", [SRC_NA] = "na",
};

const char *vmnet_source_name(int source)
{
	return source >= 0 && source <= SRC_NA ? source_names[source] : "?";
}

struct vmnet_nic *vmnet_nic_find(struct vmnet *v, const __u8 *mac)
{
	for (unsigned int i = 0; v->nics && i < v->max_nics; i++)
		if (v->nics[i].used && !memcmp(v->nics[i].mac, mac, 6))
			return &v->nics[i];
	return NULL;
}

/* Find or make the NIC of @mac; when the table is full, recycle one that is away. */
struct vmnet_nic *vmnet_nic_get(struct vmnet *v, const __u8 *mac)
{
	struct vmnet_nic *n = vmnet_nic_find(v, mac), *away = NULL;
	char m[18];

	if (n)
		return n;
	for (unsigned int i = 0; i < v->max_nics; i++) {
		if (!v->nics[i].used) {
			n = &v->nics[i];
			break;
		}
		if (!away && v->nics[i].state == NIC_AWAY && !v->nics[i].in_inventory)
			away = &v->nics[i];
	}
	if (!n)
		n = away;
	if (!n) {
		v->refused++;
		vmnet_mac_str(mac, m);
		vmnet_emit(v, "vmnet.limit",
			   json_pack("{s:s, s:s, s:I}", "what", "vms", "mac", m, "max",
				     (json_int_t)v->max_nics));
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	n->used = true;
	memcpy(n->mac, mac, 6);
	n->state = NIC_AWAY;
	n->since = keel_clock_ns(CLOCK_REALTIME);
	return n;
}

static json_t *ips_json(const struct vmnet_nic *n, bool with_source)
{
	json_t *a = json_array();
	char ip[64];

	for (int i = 0; i < n->n_ips; i++) {
		vmnet_ip_str(&n->ips[i].ip, ip, sizeof(ip));
		if (with_source)
			json_array_append_new(a, json_pack("{s:s, s:s}", "ip", ip, "source",
							   vmnet_source_name(n->ips[i].source)));
		else
			json_array_append_new(a, json_string(ip));
	}
	return a;
}

json_t *vmnet_nic_json(struct vmnet *v, const struct vmnet_nic *n)
{
	char mac[18];

	(void)v;
	vmnet_mac_str(n->mac, mac);
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:I, s:b, s:o}", "mac", mac, "vm",
			 n->vm, "state", state_names[n->state], "port", n->port_name, "ifindex",
			 n->port, "pid", n->pid, "reason", n->reason, "since_ns",
			 (json_int_t)n->since, "inventory", n->in_inventory, "ips",
			 ips_json(n, true));
}

void vmnet_arrive(struct vmnet *v, const __u8 *mac, int ifindex, const char *reason,
		  uint64_t trigger_boot_ns)
{
	struct vmnet_port *p = vmnet_port_find(v, ifindex);
	struct vmnet_nic *n;
	uint64_t latency = 0;
	char m[18];

	if (!p || !memcmp(p->mac, mac, 6))
		return;
	n = vmnet_nic_find(v, mac);
	if ((!n || n->state != NIC_HERE) &&
	    vmnet_port_nics(v, ifindex, NULL) >= v->cfg->port_max_macs) {
		/* a guest making up MACs must not fill the NIC table */
		v->refused++;
		vmnet_mac_str(mac, m);
		vmnet_emit(v, "vmnet.limit",
			   json_pack("{s:s, s:s, s:s, s:I}", "what", "port_macs", "mac", m, "port",
				     p->name, "max", (json_int_t)v->cfg->port_max_macs));
		return;
	}
	n = vmnet_nic_get(v, mac);
	if (!n)
		return;
	if (n->state == NIC_HERE && n->port == ifindex)
		return; /* later RARP rounds, FDB refreshes */
	vmnet_mac_str(mac, m);
	if (n->state == NIC_HERE && vmnet_port_find(v, n->port)) {
		v->conflicts++;
		vmnet_emit(v, "vm.conflict",
			   json_pack("{s:s, s:s, s:s, s:s, s:s}", "mac", m, "vm", n->vm, "port",
				     p->name, "owner_port", n->port_name, "reason",
				     "MAC already here on another port; ignored"));
		return;
	}
	n->state = NIC_HERE;
	n->port = ifindex;
	snprintf(n->port_name, sizeof(n->port_name), "%s", p->name);
	snprintf(n->reason, sizeof(n->reason), "%s", reason);
	n->since = keel_clock_ns(CLOCK_REALTIME);
	n->depart_at = 0;
	n->pid = p->pid;
	v->arrivals++;
	for (int i = 0; i < n->n_ips; i++)
		vmnet_wl_add(v, &n->ips[i].ip, n, trigger_boot_ns);
	if (trigger_boot_ns) {
		latency = vmnet_now_boot() - trigger_boot_ns;
		v->last_arrive_latency_ns = latency;
	}
	vmnet_emit(v, "vm.arrive",
		   json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:o, s:I}", "mac", m, "vm", n->vm,
			     "port", n->port_name, "ifindex", ifindex, "pid", n->pid, "reason",
			     reason, "ips", ips_json(n, false), "latency_ns", (json_int_t)latency));
	vmnet_provider_kick(v, vmnet_now_mono());
}

void vmnet_depart(struct vmnet *v, struct vmnet_nic *n, const char *reason)
{
	unsigned int grace = v->cfg->grace_ms;
	uint64_t at = vmnet_now_mono() + (uint64_t)grace * 1000000ULL;
	char m[18];

	if (n->state != NIC_HERE)
		return;
	n->state = NIC_DEPARTING;
	n->depart_at = at;
	snprintf(n->reason, sizeof(n->reason), "%s", reason);
	n->since = keel_clock_ns(CLOCK_REALTIME);
	v->departures++;
	for (int i = 0; i < n->n_ips; i++)
		vmnet_wl_depart(v, &n->ips[i].ip, at);
	vmnet_mac_str(n->mac, m);
	vmnet_emit(v, "vm.depart",
		   json_pack("{s:s, s:s, s:s, s:s, s:o, s:i}", "mac", m, "vm", n->vm, "port",
			     n->port_name, "reason", reason, "ips", ips_json(n, false), "grace_ms",
			     (int)grace));
	vmnet_timer_arm(v);
}

/* NICs here on port @ifindex, and how many addresses they learned. */
unsigned int vmnet_port_nics(struct vmnet *v, int ifindex, unsigned int *ret_learned)
{
	unsigned int nics = 0, learned = 0;

	for (unsigned int i = 0; i < v->max_nics; i++) {
		const struct vmnet_nic *n = &v->nics[i];

		if (!n->used || n->state != NIC_HERE || n->port != ifindex)
			continue;
		nics++;
		for (int j = 0; j < n->n_ips; j++)
			learned += n->ips[j].source != SRC_INVENTORY;
	}
	if (ret_learned)
		*ret_learned = learned;
	return nics;
}

void vmnet_port_gone(struct vmnet *v, int ifindex)
{
	for (unsigned int i = 0; i < v->max_nics; i++)
		if (v->nics[i].used && v->nics[i].state == NIC_HERE && v->nics[i].port == ifindex)
			vmnet_depart(v, &v->nics[i], "port_gone");
}

void vmnet_pid_gone(struct vmnet *v, int pid)
{
	if (pid <= 0)
		return;
	for (unsigned int i = 0; i < v->max_nics; i++)
		if (v->nics[i].used && v->nics[i].state == NIC_HERE && v->nics[i].pid == pid)
			vmnet_depart(v, &v->nics[i], "vm_destroyed");
}

/* Departures whose grace period ended: learned addresses are released. */
void vmnet_nics_expire(struct vmnet *v, uint64_t now)
{
	for (unsigned int i = 0; i < v->max_nics; i++) {
		struct vmnet_nic *n = &v->nics[i];
		int keep = 0;

		if (!n->used || n->state != NIC_DEPARTING || n->depart_at > now)
			continue;
		n->state = NIC_AWAY;
		n->port = 0;
		n->pid = 0;
		for (int j = 0; j < n->n_ips; j++)
			if (n->ips[j].source == SRC_INVENTORY)
				n->ips[keep++] = n->ips[j];
		n->n_ips = keep;
	}
}
