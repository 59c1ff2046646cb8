/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vmnet's internal state, shared by the files of agent/vmnet/:
 *
 *   vmnet.c      the subsystem: open, start, stop, records, timer, commands
 *   vmnet_config.c  the [vmnet] keys
 *   tc.c         attaching the TC programs to VM ports and the uplink
 *   ports.c      rtnetlink: VM ports appearing and going, bridge FDB, host addresses
 *   lifecycle.c  KVM VM creation and destruction from /dev/kvm's uevents
 *   kvm.c        ... and from kprobes on KVM, where they attach
 *   vms.c        the VM NICs: arrival and departure
 *   inventory.c  the MAC to IP inventory directory
 *   learn.c      MAC to IP learning from frames on a VM's own port
 *   whitelist.c  the ENI whitelist: the BPF map, the grace period
 *   provider.c   the provider hook: one ordered, retried command per IP
 *   spawner.c    the thread that spawns provider hooks off the loop
 *
 * Everything runs on keeld's one thread but the spawner (spawner.c).
 * Tables are fixed arrays sized by the [vmnet] limits at start; a full
 * table refuses, with an event.
 */
#ifndef KEEL_AGENT_VMNET_H
#define KEEL_AGENT_VMNET_H

#include <linux/types.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "keel/records.h"
#include "keel/vmnet.h"
#include "keeld/pins.h"
#include "keeld/ringbuf.h"
#include "keeld/subsys.h"
#include "vmnet/vmnet_config.h"

#define VMNET_NIC_IPS  8 /* addresses per NIC */
#define VMNET_NAME_LEN 64

enum vmnet_nic_state {
	NIC_KNOWN,     /* in the inventory, never seen here */
	NIC_HERE,      /* its port is on this host */
	NIC_DEPARTING, /* gone; its addresses leave after the grace period */
	NIC_AWAY,      /* gone */
};

enum vmnet_ip_source {
	SRC_INVENTORY,
	SRC_ARP,
	SRC_GARP,
	SRC_DHCP,
	SRC_IPSRC,
	SRC_NA, /* an IPv6 neighbour advertisement's target */
};

struct vmnet_nic_ip {
	struct keel_vmnet_ip ip;
	uint8_t source; /* enum vmnet_ip_source */
};

struct vmnet_nic {
	bool used;
	__u8 mac[6];
	char vm[VMNET_NAME_LEN]; /* inventory name, or empty */
	bool in_inventory;
	enum vmnet_nic_state state;
	int port; /* ifindex while here or departing */
	char port_name[IF_NAMESIZE];
	uint64_t since;	    /* CLOCK_REALTIME ns of the last change */
	uint64_t depart_at; /* CLOCK_MONOTONIC ns, while departing */
	char reason[32];    /* of the last arrival or departure */
	int pid;	    /* the KVM process owning the port, 0: unknown */
	int n_ips;
	struct vmnet_nic_ip ips[VMNET_NIC_IPS];
};

struct vmnet_port {
	bool used;
	int ifindex;
	char name[IF_NAMESIZE];
	__u8 mac[6];	    /* the port's own MAC: never a VM's (zero on macvtap) */
	char kind[16];	    /* IFLA_INFO_KIND: tun, veth, macvtap, ... */
	bool guest_egress;  /* the guest's frames are the port's TC egress */
	dev_t tap_rdev;	    /* macvtap: its /dev/tapN, 0: unknown */
	bool created_qdisc; /* remove clsact on detach */
	bool attached;
	int pid; /* the process holding the tap, 0: unknown */
};

/* [vmnet] learn */
enum vmnet_learn_policy {
	LEARN_INVENTORY, /* frames never add an address */
	LEARN_FIRST,	 /* a NIC without an address learns its first one */
	LEARN_ANY,	 /* any address no other NIC owns */
};

enum vmnet_prov_action { PROV_REMOVE = 0, PROV_ADD = 1 };

struct vmnet_wl {
	bool used;
	struct keel_vmnet_ip ip;
	__u8 mac[6];
	char vm[VMNET_NAME_LEN];
	bool host; /* an address of this host, not a VM's */
	bool want; /* should be whitelisted */
	bool in_map;
	uint64_t remove_at; /* CLOCK_MONOTONIC ns; 0: not departing */
	uint64_t added;	    /* CLOCK_REALTIME ns */
	/* provider hook: run until the cloud side confirms @want */
	int confirmed;	    /* -1 unknown, 0 absent, 1 present */
	bool running;	    /* queued, spawning or running */
	bool spawning;	    /* queued for the spawner: no pid yet */
	bool queue_noted;   /* "spawn queue full" already said */
	uint64_t spawn_seq; /* matches the spawner's result */
	int running_action;
	int pidfd;
	int errfd; /* the hook's stderr */
	struct keel_watch watch;
	int started_pid;
	uint64_t started_at;
	uint64_t kill_at;
	unsigned int attempts;
	uint64_t retry_at; /* 0: now */
	bool failed;	   /* retries exhausted */
	char error[200];
};

struct vmnet_bpf;
struct vmnet_kvm_bpf;
struct bpf_link;
struct vmnet_spawner;
struct vmnet_spawn_req;

struct vmnet_spawn_result {
	unsigned int slot; /* index in vmnet.wl */
	uint64_t seq;
	int err; /* negative errno: not started */
	int pid, pidfd, errfd;
};

struct vmnet {
	struct keel_subsys *s;
	struct keel_daemon *d;
	const struct vmnet_config *cfg; /* [vmnet] */
	struct vmnet_bpf *skel;
	struct keel_ringbuf rb;	 /* vmnet_events */
	struct keel_watch timer; /* one-shot, at the earliest deadline */
	struct keel_watch rtnl_watch;
	struct keel_watch uevent_watch;
	/* KVM lifecycle from kprobes (kvm.c), else from uevents */
	struct vmnet_kvm_bpf *kvm_skel;
	struct bpf_link *kvm_links[2];
	struct keel_ringbuf kvm_rb; /* vmnet_kvm_events */
	char kvm_source[16];	    /* "kprobe" or "uevent" */
	char kvm_reason[256];	    /* why not kprobes */
	const char *kvm_create_fn, *kvm_destroy_fn;
	struct keel_watch inotify_watch;
	struct keel_pins pins; /* <pin_dir>/vmnet */
	/* the uplink */
	int uplink;
	char uplink_name[IF_NAMESIZE];
	bool uplink_created_qdisc;
	bool uplink_attached;
	/* tables */
	struct vmnet_nic *nics;
	unsigned int max_nics;
	struct vmnet_port *ports;
	unsigned int max_ports;
	struct vmnet_wl *wl;
	unsigned int max_wl;
	enum vmnet_learn_policy learn;
	unsigned int running_hooks; /* queued for the spawner or running */
	/* while a ring-buffer batch is handled, hooks are queued after it */
	bool defer_hooks;
	bool retry_soon; /* the spawn queue was full */
	struct vmnet_spawner *spawner;
	struct keel_watch spawn_watch; /* the spawner's results */
	uint64_t spawn_seq;
	uint64_t provider_queue_full;
	uint64_t state_save_at; /* CLOCK_MONOTONIC ns; 0: saved */
	/* counters */
	uint64_t arrivals, departures, conflicts, refused, provider_ok, provider_errors;
	uint64_t learn_refused;
	uint64_t inventory_errors;
	bool inventory_applied; /* a reading took effect since start */
	uint64_t last_arrive_latency_ns;
};

/* timer.c: clocks, and the one timer that serves every deadline */
uint64_t vmnet_now_mono(void);
uint64_t vmnet_now_boot(void);
int vmnet_timer_open(struct vmnet *v, char *why, size_t len);
void vmnet_timer_arm(struct vmnet *v);
void vmnet_timer_close(struct vmnet *v);

/* addr.c: addresses as text */
void vmnet_mac_str(const __u8 *mac, char *buf); /* buf: 18 bytes */
int vmnet_mac_parse(const char *s, __u8 *mac);
void vmnet_ip_str(const struct keel_vmnet_ip *ip, char *buf, size_t len);
int vmnet_ip_parse(const char *s, struct keel_vmnet_ip *ip);
bool vmnet_ip_zero(const struct keel_vmnet_ip *ip);

/* An event of vmnet's on keeld's bus. */
static inline void vmnet_emit(struct vmnet *v, const char *type, json_t *fields)
{
	keel_emit(v->d, "vmnet", type, fields);
}

/* tc.c */
int vmnet_tc_attach(int ifindex, int ingress_fd, int egress_fd, bool *created_qdisc);
void vmnet_tc_detach(int ifindex, bool ingress, bool egress, bool remove_qdisc);

/* ports.c */
int vmnet_rtnl_open(struct vmnet *v, char *why, size_t len);
void vmnet_rtnl_close(struct vmnet *v);
struct vmnet_port *vmnet_port_find(struct vmnet *v, int ifindex);
bool vmnet_port_name_matches(struct vmnet *v, const char *name);

/* lifecycle.c */
int vmnet_uevent_open(struct vmnet *v, char *why, size_t len);
void vmnet_uevent_close(struct vmnet *v);
int vmnet_tap_owner(const struct vmnet_port *p);
dev_t vmnet_macvtap_rdev(const char *ifname, int ifindex);
void vmnet_kvm_event(struct vmnet *v, bool create, int pid, json_t *fields);

/* kvm.c */
void vmnet_kvm_attach(struct vmnet *v);
void vmnet_kvm_detach(struct vmnet *v);
void vmnet_kvm_module_gone(struct vmnet *v);

/* vms.c */
struct vmnet_nic *vmnet_nic_find(struct vmnet *v, const __u8 *mac);
struct vmnet_nic *vmnet_nic_get(struct vmnet *v, const __u8 *mac);
void vmnet_arrive(struct vmnet *v, const __u8 *mac, int ifindex, const char *reason,
		  uint64_t trigger_boot_ns);
void vmnet_depart(struct vmnet *v, struct vmnet_nic *n, const char *reason);
void vmnet_port_gone(struct vmnet *v, int ifindex);
void vmnet_pid_gone(struct vmnet *v, int pid);
void vmnet_nics_expire(struct vmnet *v, uint64_t now);
unsigned int vmnet_port_nics(struct vmnet *v, int ifindex, unsigned int *ret_learned);
json_t *vmnet_nic_json(struct vmnet *v, const struct vmnet_nic *n);
const char *vmnet_source_name(int source);

/* inventory.c */
int vmnet_inventory_open(struct vmnet *v, char *why, size_t len);
void vmnet_inventory_close(struct vmnet *v);
void vmnet_inventory_load(struct vmnet *v);
struct vmnet_nic *vmnet_ip_owner(struct vmnet *v, const struct keel_vmnet_ip *ip);

/* learn.c */
void vmnet_learn(struct vmnet *v, const struct keel_vmnet_record *r);
int vmnet_nic_add_ip(struct vmnet *v, struct vmnet_nic *n, const struct keel_vmnet_ip *ip,
		     int source);

/* whitelist.c */
int vmnet_wl_add(struct vmnet *v, const struct keel_vmnet_ip *ip, const struct vmnet_nic *n,
		 uint64_t trigger_boot_ns);
void vmnet_wl_depart(struct vmnet *v, const struct keel_vmnet_ip *ip, uint64_t at);
void vmnet_wl_remove_now(struct vmnet *v, const struct keel_vmnet_ip *ip, const char *reason);
int vmnet_wl_add_host(struct vmnet *v, const struct keel_vmnet_ip *ip);
void vmnet_wl_remove_host(struct vmnet *v, const struct keel_vmnet_ip *ip);
void vmnet_wl_expire(struct vmnet *v, uint64_t now);
struct vmnet_wl *vmnet_wl_find(struct vmnet *v, const struct keel_vmnet_ip *ip);
void vmnet_wl_release(struct vmnet *v, struct vmnet_wl *w);
json_t *vmnet_wl_json(struct vmnet *v, const struct vmnet_wl *w);
void vmnet_wl_state_save(struct vmnet *v);
void vmnet_wl_state_load(struct vmnet *v);

/* provider.c */
void vmnet_provider_kick(struct vmnet *v, uint64_t now);
void vmnet_provider_stop(struct vmnet *v);
uint64_t vmnet_provider_deadline(struct vmnet *v);
int vmnet_provider_start(struct vmnet *v, char *why, size_t len);

/* spawner.c */
struct vmnet_spawn_req *vmnet_spawn_req_new(unsigned int slot, uint64_t seq, size_t size);
int vmnet_spawn_req_add(struct vmnet_spawn_req *r, bool env, const char *s);
void vmnet_spawn_req_free(struct vmnet_spawn_req *r);
int vmnet_spawner_start(struct vmnet_spawner **out, unsigned int cap, int nice, int *result_fd);
int vmnet_spawner_push(struct vmnet_spawner *sp, struct vmnet_spawn_req *r);
unsigned int vmnet_spawner_queued(struct vmnet_spawner *sp);
int vmnet_spawner_result(struct vmnet_spawner *sp, struct vmnet_spawn_result *res);
void vmnet_spawner_stop(struct vmnet_spawner *sp);
void vmnet_spawner_free(struct vmnet_spawner *sp);

#endif /* KEEL_AGENT_VMNET_H */
