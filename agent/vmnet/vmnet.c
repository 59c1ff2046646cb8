// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmnet subsystem: loads bpf/vmnet.bpf.c, attaches it to VM ports as they
 * appear and to the uplink when one is configured, and turns what it sees
 * into VM arrivals and departures and ENI whitelist changes.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "vmnet.skel.h"
#include "vmnet/vmnet.h"
#include "keeld/percpu.h"
#include "keeld/ringbuf.h"

static int on_record(void *ctx, void *data, size_t size)
{
	struct vmnet *v = ctx;
	const struct keel_vmnet_record *r = data;
	struct vmnet_nic *n;

	if (size < sizeof(*r) || r->hdr.type != KEEL_EV_VMNET)
		return 0; /* a newer BPF object than this keeld: skip */
	switch (r->kind) {
	case KEEL_VMNET_RARP:
		vmnet_arrive(v, r->mac, (int)r->ifindex, "rarp", r->hdr.time_ns);
		break;
	case KEEL_VMNET_GARP:
	case KEEL_VMNET_ARP:
	case KEEL_VMNET_DHCP:
	case KEEL_VMNET_IPSRC:
	case KEEL_VMNET_NA:
		vmnet_learn(v, r);
		break;
	case KEEL_VMNET_ELSEWHERE:
		n = vmnet_nic_find(v, r->mac);
		if (n && n->state == NIC_HERE)
			vmnet_depart(v, n, "announced_elsewhere");
		break;
	}
	vmnet_timer_arm(v);
	return 0;
}

static void on_ringbuf(void *ctx)
{
	struct vmnet *v = ctx;

	v->defer_hooks = true;
	keel_ringbuf_consume(&v->rb);
	v->defer_hooks = false;
	vmnet_provider_kick(v, vmnet_now_mono());
	vmnet_timer_arm(v);
}

static int read_counters(struct vmnet *v, struct keel_vmnet_counters *sum);

static int read_dropped(void *ctx, __u64 *ret_total)
{
	struct keel_vmnet_counters sum;
	int err = read_counters(ctx, &sum);

	*ret_total = sum.dropped;
	return err;
}

static int vmnet_open(struct keel_subsys *s, char *why, size_t len)
{
	struct vmnet *v = s->priv;
	const struct vmnet_config *cfg = s->config;
	int err;

	v->s = s;
	v->d = s->d;
	v->cfg = cfg;
	v->max_nics = cfg->max_vms;
	v->max_ports = cfg->max_ports;
	v->max_wl = cfg->max_ips;
	v->learn = !strcmp(cfg->learn, "any")	? LEARN_ANY :
		   !strcmp(cfg->learn, "first") ? LEARN_FIRST :
						  LEARN_INVENTORY;
	v->nics = calloc(v->max_nics, sizeof(*v->nics));
	v->ports = calloc(v->max_ports, sizeof(*v->ports));
	v->wl = calloc(v->max_wl, sizeof(*v->wl));
	if (!v->nics || !v->ports || !v->wl) {
		snprintf(why, len, "allocating tables for %u VMs, %u ports, %u IPs: out of memory",
			 v->max_nics, v->max_ports, v->max_wl);
		return -ENOMEM;
	}
	v->skel = vmnet_bpf__open();
	if (!v->skel) {
		err = -errno;
		snprintf(why, len, "opening the vmnet BPF object: %s", strerror(-err));
		return err;
	}
	bpf_map__set_max_entries(v->skel->maps.vmnet_whitelist, v->max_wl);
	err = vmnet_bpf__load(v->skel);
	if (err) {
		snprintf(why, len,
			 "loading the vmnet BPF object: %s (%s); run keeld -v for the verifier log",
			 strerror(-err), keel_errno_name(err));
		return err;
	}
	return 0;
}

/* what bpftool should see: the whitelist, the denied addresses, the counters */
static int pin_maps(struct vmnet *v, char *why, size_t len)
{
	struct bpf_map *maps[] = { v->skel->maps.vmnet_whitelist, v->skel->maps.vmnet_denied,
				   v->skel->maps.vmnet_counters };
	int err;

	err = keel_pins_open(&v->pins, v->s, KEEL_PINS_FRESH, why, len);
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]) && !err; i++)
		err = keel_pins_map(&v->pins, maps[i], why, len);
	return err;
}

static int attach_uplink(struct vmnet *v, char *why, size_t len)
{
	const char *name = v->cfg->uplink;
	int err;

	if (!name[0])
		return 0; /* observe only: nothing is filtered */
	v->uplink = (int)if_nametoindex(name);
	if (!v->uplink) {
		err = -errno;
		snprintf(
			why, len,
			"uplink '%s' ([vmnet] uplink): %s; set an existing interface or leave it empty for observe-only",
			name, strerror(-err));
		return err;
	}
	snprintf(v->uplink_name, sizeof(v->uplink_name), "%s", name);
	err = vmnet_tc_attach(v->uplink, bpf_program__fd(v->skel->progs.vmnet_uplink_in),
			      bpf_program__fd(v->skel->progs.vmnet_uplink_out),
			      &v->uplink_created_qdisc);
	if (err) {
		snprintf(why, len, "attaching TC programs to uplink %s: %s (%s)", name,
			 strerror(-err), keel_errno_name(err));
		return err;
	}
	v->uplink_attached = true;
	return 0;
}

static int vmnet_start(struct keel_subsys *s, char *why, size_t len)
{
	struct vmnet *v = s->priv;
	int err;

	err = pin_maps(v, why, len);
	if (err)
		return err;
	v->rb = (struct keel_ringbuf){ .subsystem = "vmnet",
				       .drop_event = "vmnet.dropped",
				       .read_dropped = read_dropped,
				       .woken = on_ringbuf };
	err = keel_ringbuf_open(&v->rb, v->d, v->skel->maps.vmnet_events, on_record, v, why, len);
	if (err)
		return err;
	err = vmnet_timer_open(v, why, len);
	if (err)
		return err;
	/* before anything can change the whitelist: changes queue hooks */
	err = vmnet_provider_start(v, why, len);
	if (err)
		return err;
	/* the whitelist first, so that the uplink never filters with a stale view */
	vmnet_wl_state_load(v);
	err = vmnet_inventory_open(v, why, len);
	if (err)
		return err;
	err = vmnet_rtnl_open(v, why, len); /* ports, FDB, host addresses */
	if (err)
		return err;
	err = attach_uplink(v, why, len);
	if (err)
		return err;
	err = vmnet_uevent_open(v, why, len);
	if (err)
		return err;
	vmnet_kvm_attach(v); /* falls back to the uevents above, never fails */
	vmnet_emit(v, "vmnet.start",
		   json_pack("{s:s, s:s, s:b}", "uplink", v->uplink_name, "mode",
			     v->uplink_attached ? "enforce" : "observe", "provider",
			     v->cfg->provider_command[0] != '\0'));
	vmnet_provider_kick(v, vmnet_now_mono());
	vmnet_timer_arm(v);
	return 0;
}

static void vmnet_stop(struct keel_subsys *s)
{
	struct vmnet *v = s->priv;

	keel_ringbuf_close(&v->rb);
	vmnet_uevent_close(v);
	vmnet_kvm_detach(v);
	vmnet_inventory_close(v);
	vmnet_rtnl_close(v); /* detaches the VM ports */
	if (v->uplink_attached)
		vmnet_tc_detach(v->uplink, true, true, v->uplink_created_qdisc);
	vmnet_provider_stop(v);
	vmnet_timer_close(v);
	keel_pins_remove(&v->pins);
	vmnet_bpf__destroy(v->skel);
	free(v->nics);
	free(v->ports);
	free(v->wl);
	memset(v, 0, sizeof(*v));
}

static int read_counters(struct vmnet *v, struct keel_vmnet_counters *sum)
{
	if (!v->skel) {
		memset(sum, 0, sizeof(*sum));
		return -EINVAL;
	}
	return keel_percpu_sum(v->skel->maps.vmnet_counters, 0, sum, sizeof(*sum));
}

static void vmnet_counters(struct keel_subsys *s, json_t *out)
{
	__u64 kvm_dropped;
	struct vmnet *v = s->priv;
	struct keel_vmnet_counters c;
	unsigned int here = 0, ports = 0, ips = 0;

	for (unsigned int i = 0; i < v->max_nics; i++)
		here += v->nics[i].used && v->nics[i].state == NIC_HERE;
	for (unsigned int i = 0; i < v->max_ports; i++)
		ports += v->ports[i].used;
	for (unsigned int i = 0; i < v->max_wl; i++)
		ips += v->wl[i].used && v->wl[i].in_map && !v->wl[i].host;
	json_object_set_new(out, "vms_here", json_integer(here));
	json_object_set_new(out, "ports", json_integer(ports));
	json_object_set_new(out, "whitelisted", json_integer(ips));
	json_object_set_new(out, "arrivals", json_integer((json_int_t)v->arrivals));
	json_object_set_new(out, "departures", json_integer((json_int_t)v->departures));
	json_object_set_new(out, "conflicts", json_integer((json_int_t)v->conflicts));
	json_object_set_new(out, "learn", json_string(v->cfg->learn));
	json_object_set_new(out, "learn_refused", json_integer((json_int_t)v->learn_refused));
	json_object_set_new(out, "refused", json_integer((json_int_t)v->refused));
	json_object_set_new(out, "provider_errors", json_integer((json_int_t)v->provider_errors));
	json_object_set_new(out, "kvm_source", json_string(v->kvm_source));
	json_object_set_new(out, "provider_queue_full",
			    json_integer((json_int_t)v->provider_queue_full));
	if (read_counters(v, &c))
		return;
	json_object_set_new(out, "port_frames", json_integer((json_int_t)c.port_frames));
	json_object_set_new(out, "records", json_integer((json_int_t)c.records));
	json_object_set_new(out, "dropped", json_integer((json_int_t)c.dropped));
	if (v->kvm_skel && !v->kvm_rb.read_dropped(v, &kvm_dropped))
		json_object_set_new(out, "kvm_dropped", json_integer((json_int_t)kvm_dropped));
	json_object_set_new(out, "uplink_passed", json_integer((json_int_t)c.uplink_passed));
	json_object_set_new(out, "uplink_denied", json_integer((json_int_t)c.uplink_denied));
}

static json_t *vmnet_command(struct keel_subsys *s, const char *verb, json_t *req, bool privileged,
			     char *why, size_t len)
{
	struct vmnet *v = s->priv;
	json_t *arr;

	(void)req;
	(void)privileged; /* both verbs only read */
	arr = json_array();
	if (!strcmp(verb, "vm_list")) {
		for (unsigned int i = 0; i < v->max_nics; i++)
			if (v->nics[i].used)
				json_array_append_new(arr, vmnet_nic_json(v, &v->nics[i]));
		return json_pack("{s:o}", "vms", arr);
	}
	if (!strcmp(verb, "eni_list")) {
		for (unsigned int i = 0; i < v->max_wl; i++)
			if (v->wl[i].used)
				json_array_append_new(arr, vmnet_wl_json(v, &v->wl[i]));
		return json_pack("{s:s, s:s, s:o}", "uplink", v->uplink_name, "mode",
				 v->uplink_attached ? "enforce" : "observe", "ips", arr);
	}
	json_decref(arr);
	snprintf(why, len, "unknown command 'vmnet.%s' (known: vmnet.vm_list, vmnet.eni_list)",
		 verb);
	return NULL;
}

/*
 * Worth a person's look in the journal (the others are LOG_INFO): vmnet's
 * own types and the vm.* and eni.* it emits.
 */
static const struct keel_event_priority vmnet_priorities[] = {
	{ "vmnet.map_error", LOG_ERR },
	{ "eni.provider_error", LOG_WARNING },
	{ "eni.provider_queue_full", LOG_WARNING },
	{ "vm.conflict", LOG_WARNING },
	{ "vm.learn_refused", LOG_WARNING },
	{ "vmnet.limit", LOG_WARNING },
	{ "vmnet.inventory_error", LOG_WARNING },
	{ "vmnet.port_error", LOG_WARNING },
	{ "vm.arrive", LOG_NOTICE },
	{ "vm.depart", LOG_NOTICE },
	{ "eni.add", LOG_NOTICE },
	{ "eni.remove", LOG_NOTICE },
	{ NULL, 0 },
};

const struct keel_subsys_ops keel_vmnet_ops = {
	.name = "vmnet",
	.summary = "VM arrivals and departures, ENI whitelist, through TC",
	.needs = { KEEL_FEAT_BTF, KEEL_FEAT_TC },
	.n_needs = 2,
	.priv_size = sizeof(struct vmnet),
	.options = vmnet_options,
	.config_size = sizeof(struct vmnet_config),
	.check_config = vmnet_check_config,
	.open = vmnet_open,
	.start = vmnet_start,
	.stop = vmnet_stop,
	.counters = vmnet_counters,
	.command = vmnet_command,
	.event_priorities = vmnet_priorities,
};
