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

static int run(const struct keelctl *ctl, const struct keelctl_args *a)
{
	bool json = keelctl_flag(a, 'j');
	json_t *req, *rep, *ip;
	const char *uplink;
	size_t i;

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
		       json_string_value(json_object_get(ip, "state")), mac && *mac ? mac : "-",
		       vm && *vm ? vm : "-", json_string_value(json_object_get(ip, "provider")),
		       json_integer_value(json_object_get(ip, "rx_packets")),
		       json_integer_value(json_object_get(ip, "tx_packets")),
		       json_string_value(json_object_get(ip, "error")));
	}
	json_decref(rep);
	return 0;
}

/* keelctl NOUN list [--json]: the one action of a listing command */
static const char *const list_only[] = { "list", NULL };

static const struct argp_option options[] = {
	{ "json", 'j', NULL, 0, "Print JSON: {uplink, mode, ips: [...]}", 0 },
	{ 0 },
};

const struct keelctl_command keelctl_cmd_eni = {
	.name = "eni",
	.summary = "list the ENI whitelist with per-IP counters (vmnet)",
	.args_doc = "list",
	.doc = doc,
	.options = options,
	.min_args = 1,
	.max_args = 1,
	.usage = "usage: keelctl eni list [--json]",
	.args_hint = ": the only action is 'list'",
	.verbs = list_only,
	.verb_error = "unexpected argument '%s': the only action is 'list'",
	.run = run,
};
