// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ENI whitelist: keeld's table of addresses, mirrored into the
 * vmnet_whitelist BPF map that the uplink programs enforce.  keeld is the
 * map's one writer; BPF only counts in it.  An entry lives while it is
 * whitelisted, and after that until the provider hook confirmed its
 * removal, so that no change is lost.
 *
 * Addresses the provider confirmed are written to [vmnet] state_file, so a
 * keeld restarted in the middle of a migration still removes, on the cloud
 * side, an address whose VM left while it was down.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmnet.skel.h"
#include "vmnet/vmnet.h"
#include "common/clock.h"

struct vmnet_wl *vmnet_wl_find(struct vmnet *v, const struct keel_vmnet_ip *ip)
{
	for (unsigned int i = 0; v->wl && i < v->max_wl; i++)
		if (v->wl[i].used && !memcmp(&v->wl[i].ip, ip, sizeof(*ip)))
			return &v->wl[i];
	return NULL;
}

static struct vmnet_wl *wl_get(struct vmnet *v, const struct keel_vmnet_ip *ip)
{
	struct vmnet_wl *w = vmnet_wl_find(v, ip);
	char s[64];

	if (w)
		return w;
	for (unsigned int i = 0; i < v->max_wl; i++) {
		if (v->wl[i].used)
			continue;
		w = &v->wl[i];
		memset(w, 0, sizeof(*w));
		w->used = true;
		w->ip = *ip;
		w->confirmed = -1;
		w->pidfd = w->errfd = -1;
		return w;
	}
	v->refused++;
	vmnet_ip_str(ip, s, sizeof(s));
	vmnet_emit(v, "vmnet.limit",
		   json_pack("{s:s, s:s, s:I}", "what", "ips", "ip", s, "max",
			     (json_int_t)v->max_wl));
	return NULL;
}

static int map_put(struct vmnet *v, struct vmnet_wl *w, uint64_t trigger_boot_ns)
{
	struct keel_vmnet_wl val = { .flags = w->host ? KEEL_VMNET_WL_HOST : KEEL_VMNET_WL_VM,
				     .trigger_ns = trigger_boot_ns };
	int err;

	val.added_ns = vmnet_now_boot();
	err = bpf_map__update_elem(v->skel->maps.vmnet_whitelist, &w->ip, sizeof(w->ip), &val,
				   sizeof(val), BPF_NOEXIST);
	if (err == -EEXIST)
		err = 0; /* keep its counters */
	if (!err)
		w->in_map = true;
	return err;
}

static void map_del(struct vmnet *v, struct vmnet_wl *w)
{
	if (!w->in_map)
		return;
	bpf_map__delete_elem(v->skel->maps.vmnet_whitelist, &w->ip, sizeof(w->ip), 0);
	w->in_map = false;
}

/* Forget @w once nothing is left to do for it. */
void vmnet_wl_release(struct vmnet *v, struct vmnet_wl *w)
{
	(void)v;
	if (w->want || w->in_map || w->running)
		return;
	if (w->confirmed == 1 && v->cfg->provider_command[0] && !w->host)
		return; /* the provider still has to remove it */
	w->used = false;
}

int vmnet_wl_add(struct vmnet *v, const struct keel_vmnet_ip *ip, const struct vmnet_nic *n,
		 uint64_t trigger_boot_ns)
{
	struct vmnet_wl *w = wl_get(v, ip);
	char s[64], m[18];
	uint64_t latency = 0;
	int err;

	if (!w)
		return -ENOSPC;
	if (w->host)
		return -EEXIST; /* never hand a host address to a VM */
	w->remove_at = 0;
	w->want = true;
	memcpy(w->mac, n->mac, 6);
	snprintf(w->vm, sizeof(w->vm), "%s", n->vm);
	if (w->in_map)
		return 0;
	err = map_put(v, w, trigger_boot_ns);
	vmnet_ip_str(ip, s, sizeof(s));
	vmnet_mac_str(n->mac, m);
	if (err) {
		vmnet_emit(v, "vmnet.map_error",
			   json_pack("{s:s, s:s, s:s}", "ip", s, "op", "add", "error",
				     strerror(-err)));
		return err;
	}
	w->added = keel_clock_ns(CLOCK_REALTIME);
	if (trigger_boot_ns)
		latency = vmnet_now_boot() - trigger_boot_ns;
	vmnet_emit(v, "eni.add",
		   json_pack("{s:s, s:s, s:s, s:s, s:I}", "ip", s, "mac", m, "vm", n->vm, "port",
			     n->port_name, "latency_ns", (json_int_t)latency));
	return 0;
}

void vmnet_wl_depart(struct vmnet *v, const struct keel_vmnet_ip *ip, uint64_t at)
{
	struct vmnet_wl *w = vmnet_wl_find(v, ip);

	if (w && !w->host && w->want)
		w->remove_at = at;
}

static void wl_remove(struct vmnet *v, struct vmnet_wl *w, const char *reason)
{
	char s[64], m[18];
	bool was = w->in_map;

	w->want = false;
	w->remove_at = 0;
	map_del(v, w);
	if (was) {
		vmnet_ip_str(&w->ip, s, sizeof(s));
		vmnet_mac_str(w->mac, m);
		vmnet_emit(v, "eni.remove",
			   json_pack("{s:s, s:s, s:s, s:s}", "ip", s, "mac", m, "vm", w->vm,
				     "reason", reason));
	}
	vmnet_wl_release(v, w);
}

void vmnet_wl_remove_now(struct vmnet *v, const struct keel_vmnet_ip *ip, const char *reason)
{
	struct vmnet_wl *w = vmnet_wl_find(v, ip);

	if (w && !w->host)
		wl_remove(v, w, reason);
	vmnet_provider_kick(v, vmnet_now_mono());
}

void vmnet_wl_expire(struct vmnet *v, uint64_t now)
{
	for (unsigned int i = 0; i < v->max_wl; i++) {
		struct vmnet_wl *w = &v->wl[i];

		if (w->used && w->remove_at && w->remove_at <= now)
			wl_remove(v, w, w->in_map ? "departed" : "not here after restart");
	}
}

int vmnet_wl_add_host(struct vmnet *v, const struct keel_vmnet_ip *ip)
{
	struct vmnet_wl *w = vmnet_wl_find(v, ip);

	if (w && !w->host)
		return -EEXIST; /* a VM's address configured on the host: the VM's rules apply */
	w = wl_get(v, ip);
	if (!w)
		return -ENOSPC;
	w->host = true;
	w->want = true;
	w->confirmed = 1;
	w->added = keel_clock_ns(CLOCK_REALTIME);
	return map_put(v, w, 0);
}

void vmnet_wl_remove_host(struct vmnet *v, const struct keel_vmnet_ip *ip)
{
	struct vmnet_wl *w = vmnet_wl_find(v, ip);

	if (!w || !w->host)
		return;
	w->want = false;
	map_del(v, w);
	w->used = false;
}

json_t *vmnet_wl_json(struct vmnet *v, const struct vmnet_wl *w)
{
	struct keel_vmnet_wl val = { 0 };
	const char *state, *prov;
	char s[64], m[18];

	if (w->in_map)
		bpf_map__lookup_elem(v->skel->maps.vmnet_whitelist, &w->ip, sizeof(w->ip), &val,
				     sizeof(val), 0);
	vmnet_ip_str(&w->ip, s, sizeof(s));
	vmnet_mac_str(w->mac, m);
	if (w->host)
		state = "host";
	else if (w->in_map && w->remove_at)
		state = "departing";
	else if (w->in_map)
		state = "whitelisted";
	else
		state = "removed";
	if (w->host || !v->cfg->provider_command[0])
		prov = "none";
	else if (w->running)
		prov = w->spawning ? "queued" : "running";
	else if (w->failed)
		prov = "failed";
	else if (w->confirmed == (int)w->want)
		prov = "ok";
	else
		prov = "pending";
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I}", "ip", s,
			 "state", state, "mac", w->host ? "" : m, "vm", w->vm, "provider", prov,
			 "attempts", (int)w->attempts, "error", w->error, "rx_packets",
			 (json_int_t)val.rx_packets, "rx_bytes", (json_int_t)val.rx_bytes,
			 "tx_packets", (json_int_t)val.tx_packets, "tx_bytes",
			 (json_int_t)val.tx_bytes);
}

void vmnet_wl_state_save(struct vmnet *v)
{
	const char *path = v->cfg->state_file;
	char tmp[PATH_MAX + 8], s[64], m[18];
	FILE *f;

	if (!path[0] || !v->cfg->provider_command[0])
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "# keeld vmnet: addresses the provider confirmed on this host's ENI\n");
	for (unsigned int i = 0; i < v->max_wl; i++) {
		const struct vmnet_wl *w = &v->wl[i];

		if (!w->used || w->host || w->confirmed != 1)
			continue;
		vmnet_ip_str(&w->ip, s, sizeof(s));
		vmnet_mac_str(w->mac, m);
		fprintf(f, "%s %s %s\n", s, m, w->vm[0] ? w->vm : "-");
	}
	if (fclose(f) == 0)
		rename(tmp, path);
	else
		unlink(tmp);
}

/*
 * Addresses a previous keeld confirmed: the provider has them.  Unless a
 * NIC is found here within the grace period, they are removed.
 */
void vmnet_wl_state_load(struct vmnet *v)
{
	const char *path = v->cfg->state_file;
	uint64_t at = vmnet_now_mono() + (uint64_t)v->cfg->grace_ms * 1000000ULL;
	char line[256], ip_s[64], mac_s[32], vm[VMNET_NAME_LEN];
	FILE *f;

	if (!path[0] || !v->cfg->provider_command[0])
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		struct keel_vmnet_ip ip;
		struct vmnet_wl *w;
		__u8 mac[6];

		if (line[0] == '#' || sscanf(line, "%63s %31s %63s", ip_s, mac_s, vm) != 3 ||
		    vmnet_ip_parse(ip_s, &ip) < 0 || vmnet_mac_parse(mac_s, mac) < 0)
			continue;
		w = wl_get(v, &ip);
		if (!w)
			break;
		memcpy(w->mac, mac, 6);
		snprintf(w->vm, sizeof(w->vm), "%s", strcmp(vm, "-") ? vm : "");
		w->confirmed = 1;
		w->remove_at = at;
	}
	fclose(f);
}
