/* SPDX-License-Identifier: GPL-2.0-only */
/* The [vmnet] section of keel.conf: vmnet_config.c declares each key. */
#ifndef KEEL_VMNET_CONFIG_H
#define KEEL_VMNET_CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "keeld/config.h"

struct vmnet_config {
	struct keel_subsys_config subsys; /* enabled, required: first */
	char uplink[16];
	char ports[256];
	char inventory_dir[PATH_MAX];
	char state_file[PATH_MAX];
	unsigned int grace_ms;
	char learn[16];
	unsigned int port_max_macs;
	unsigned int port_max_ips;
	char provider_command[1024];
	unsigned int provider_timeout_ms;
	unsigned int provider_retries;
	unsigned int provider_backoff_ms;
	unsigned int provider_max_running;
	unsigned int provider_queue;
	unsigned int provider_nice;
	unsigned int max_vms;
	unsigned int max_ips;
	unsigned int max_ports;
};

extern const struct keel_opt vmnet_options[];

/* [vmnet] learn names a policy: the ops' check_config. */
int vmnet_check_config(const void *config, char *key, size_t keylen, char *msg, size_t msglen);

#endif /* KEEL_VMNET_CONFIG_H */
