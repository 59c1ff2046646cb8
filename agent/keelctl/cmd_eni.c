// SPDX-License-Identifier: GPL-2.0-only
#include <argp.h>
#include <stdio.h>
#include <string.h>

#include "keelctl/keelctl.h"

static const char doc[] =
	"List this host's ENI whitelist as keeld's vmnet subsystem keeps it: each "
	"address, whether it is whitelisted, departing (removed after the grace "
	"period) or removed and waiting for the provider, the VM it belongs to, "
	"the provider hook's state, and the packets the uplink passed for it.  "
	"Mode 'observe' means no uplink is configured: nothing is filtered.\v"
	"EXAMPLES:\n"
	"  keelctl eni list\n"
	"  keelctl eni list --json | jq '.ips[] | select(.state == \"whitelisted\") | .ip'";

int keelctl_eni(const struct keelctl *ctl, int argc, char **argv)
{
	json_t *req, *rep, *ip;
	bool json = false;
	const char *uplink;
	size_t i;
	int err;

	err = keelctl_parse_list(argc, argv, doc, "Print JSON: {uplink, mode, ips: [...]}", &json);
	if (err)
		return err;
	req = json_pack("{s:s}", "cmd", "vmnet.eni_list");
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	json_object_del(rep, "ok");
	if (json) {
		keelctl_print_json(rep);
		json_decref(rep);
		return 0;
	}
	uplink = json_string_value(json_object_get(rep, "uplink"));
	printf("uplink %s, mode %s\n", uplink && *uplink ? uplink : "(none)",
	       json_string_value(json_object_get(rep, "mode")));
	printf("%-39s %-11s %-17s %-16s %-8s %10s %10s  %s\n", "IP", "STATE", "MAC", "VM",
	       "PROVIDER", "RX_PKTS", "TX_PKTS", "ERROR");
	json_array_foreach(json_object_get(rep, "ips"), i, ip) {
		const char *mac = json_string_value(json_object_get(ip, "mac"));
		const char *vm = json_string_value(json_object_get(ip, "vm"));

		printf("%-39s %-11s %-17s %-16s %-8s %10lld %10lld  %s\n",
		       json_string_value(json_object_get(ip, "ip")),
		       json_string_value(json_object_get(ip, "state")),
		       mac && *mac ? mac : "-", vm && *vm ? vm : "-",
		       json_string_value(json_object_get(ip, "provider")),
		       json_integer_value(json_object_get(ip, "rx_packets")),
		       json_integer_value(json_object_get(ip, "tx_packets")),
		       json_string_value(json_object_get(ip, "error")));
	}
	json_decref(rep);
	return 0;
}
