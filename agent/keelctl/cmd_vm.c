// SPDX-License-Identifier: GPL-2.0-only
#include <argp.h>
#include <stdio.h>
#include <string.h>

#include "keelctl/keelctl.h"

static const char doc[] =
	"List the VM NICs keeld's vmnet subsystem knows: from the inventory, seen "
	"on a VM port of this host, departing or gone, with their addresses and "
	"where each address came from (inventory, arp, garp, dhcp, ip).\v"
	"EXAMPLES:\n"
	"  keelctl vm list\n"
	"  keelctl vm list --json | jq '.[] | select(.state == \"here\") | .ips'";

static void print_ips(json_t *ips)
{
	json_t *ip;
	size_t i;

	json_array_foreach(ips, i, ip)
		printf("%s%s(%s)", i ? " " : "", json_string_value(json_object_get(ip, "ip")),
		       json_string_value(json_object_get(ip, "source")));
}

static int run(const struct keelctl *ctl, const struct keelctl_args *a)
{
	bool json = keelctl_flag(a, 'j');
	json_t *req, *rep, *vms, *vm;
	size_t i;

	req = json_pack("{s:s}", "cmd", "vmnet.vm_list");
	rep = keelctl_call(ctl, req);
	json_decref(req);
	if (!rep)
		return KEELCTL_EXIT_FAIL;
	vms = json_object_get(rep, "vms");
	if (json) {
		keelctl_print_json(vms);
	} else {
		printf("%-17s  %-16s %-10s %-15s %-7s %s\n", "MAC", "VM", "STATE", "PORT", "PID",
		       "IPS");
		json_array_foreach(vms, i, vm) {
			const char *name = json_string_value(json_object_get(vm, "vm"));
			const char *port = json_string_value(json_object_get(vm, "port"));

			printf("%-17s  %-16s %-10s %-15s %-7lld ",
			       json_string_value(json_object_get(vm, "mac")),
			       name && *name ? name : "-",
			       json_string_value(json_object_get(vm, "state")),
			       port && *port ? port : "-",
			       json_integer_value(json_object_get(vm, "pid")));
			print_ips(json_object_get(vm, "ips"));
			putchar('\n');
		}
	}
	json_decref(rep);
	return 0;
}

/* keelctl NOUN list [--json]: the one action of a listing command */
static const char *const list_only[] = { "list", NULL };

static const struct argp_option options[] = {
	{ "json", 'j', NULL, 0, "Print JSON: an array of NICs", 0 },
	{ 0 },
};

const struct keelctl_command keelctl_cmd_vm = {
	.name = "vm",
	.summary = "list VM NICs: here, departing, known (vmnet)",
	.args_doc = "list",
	.doc = doc,
	.options = options,
	.min_args = 1,
	.max_args = 1,
	.usage = "usage: keelctl vm list [--json]",
	.args_hint = ": the only action is 'list'",
	.verbs = list_only,
	.verb_error = "unexpected argument '%s': the only action is 'list'",
	.run = run,
};
