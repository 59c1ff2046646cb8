// SPDX-License-Identifier: GPL-2.0-only
/* The [vmnet] keys: type, range, default and the help --print-config shows. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmnet/vmnet_config.h"

#define T struct vmnet_config

const struct keel_opt vmnet_options[] = {
	KEEL_OPT_ENABLED(
		T, "detect VMs arriving and leaving (TC on VM ports) and keep the ENI whitelist"),
	KEEL_OPT_REQUIRED(T, "exit with an error when vmnet cannot run"),
	KEEL_OPT_STRING(
		T, "uplink", uplink, "",
		"the ENI's interface: only whitelisted IPs pass it; empty: enforcement off (observe only)"),
	KEEL_OPT_STRING(T, "ports", ports, "tap*,vnet*,macvtap*",
			"VM port name patterns (fnmatch, comma-separated)"),
	KEEL_OPT_STRING(T, "inventory_dir", inventory_dir, "/etc/keel/vmnet.d",
			"files of lines 'VM MAC IP [IP...]'; reloaded on change; missing: none"),
	KEEL_OPT_STRING(T, "state_file", state_file, "/run/keel/vmnet.state",
			"IPs the provider confirmed, kept across restarts; empty: not kept"),
	KEEL_OPT_UINT(T, "grace_ms", grace_ms, 0, 3600000, "2000",
		      "a departed VM's IPs leave the whitelist after this long"),
	KEEL_OPT_STRING(T, "learn", learn, "inventory",
			"addresses a NIC may learn from frames on its port: inventory (none), first "
			"(its first one, if it has none) or any (any no other NIC owns)"),
	KEEL_OPT_UINT(T, "port_max_macs", port_max_macs, 1, 4096, "4",
		      "NICs (MACs) here at once on one VM port; further MACs on it do not arrive"),
	KEEL_OPT_UINT(T, "port_max_ips", port_max_ips, 1, 4096, "8",
		      "addresses learned (not from the inventory) by the NICs of one VM port"),
	KEEL_OPT_STRING(
		T, "provider_command", provider_command, "",
		"run on each whitelist change: {action} {ip} {mac} {vm} {port} {host} are replaced; empty: none"),
	KEEL_OPT_UINT(T, "provider_timeout_ms", provider_timeout_ms, 100, 3600000, "10000",
		      "a provider command still running after this long is killed and retried"),
	KEEL_OPT_UINT(
		T, "provider_retries", provider_retries, 0, 1000000, "10",
		"attempts per change at a doubling backoff; then it is reported failed and retried "
		"at the longest backoff until the provider confirms (0: never reported failed)"),
	KEEL_OPT_UINT(T, "provider_backoff_ms", provider_backoff_ms, 10, 3600000, "500",
		      "first retry delay; it doubles up to 64 times this"),
	KEEL_OPT_UINT(T, "provider_max_running", provider_max_running, 1, 256, "4",
		      "provider commands running at once"),
	KEEL_OPT_UINT(T, "provider_queue", provider_queue, 1, 1024, "64",
		      "provider commands waiting for the spawner thread; when full, changes wait"),
	KEEL_OPT_UINT(T, "provider_nice", provider_nice, 0, 19, "10",
		      "nice value of provider commands, so that they never slow detection"),
	KEEL_OPT_UINT(T, "max_vms", max_vms, 1, 65536, "1024",
		      "VM NICs tracked (inventory and seen)"),
	KEEL_OPT_UINT(T, "max_ips", max_ips, 1, 65536, "4096",
		      "whitelist entries (VM and host addresses)"),
	KEEL_OPT_UINT(T, "max_ports", max_ports, 1, 65536, "1024",
		      "VM ports with TC programs attached"),
	KEEL_OPT_END
};

int vmnet_check_config(const void *config, char *key, size_t keylen, char *msg, size_t msglen)
{
	const struct vmnet_config *c = config;

	if (strcmp(c->learn, "inventory") && strcmp(c->learn, "first") && strcmp(c->learn, "any")) {
		snprintf(key, keylen, "learn");
		snprintf(msg, msglen, "'%s' is not a learning policy (use inventory, first or any)",
			 c->learn);
		return -EINVAL;
	}
	return 0;
}
