// SPDX-License-Identifier: GPL-2.0-only
/*
 * The inventory: what libvirt or an operator knows about this host's VMs,
 * as files in [vmnet] inventory_dir, each line "VM MAC IP [IP...]" ('#'
 * starts a comment).  Read at start and again whenever a file in the
 * directory changes (inotify).  A bad line is reported with its file and
 * line.  At start the rest applies (there is nothing older to keep); a
 * later reading with any bad line changes nothing, because applying the
 * rest would drop the bad line's NIC and take its addresses off the
 * whitelist while an operator is half-way through an edit.  An inventory
 * address belongs to its MAC: learning never gives it to another NIC.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "vmnet/vmnet.h"

struct inv_entry {
	__u8 mac[6];
	char vm[VMNET_NAME_LEN];
	int n_ips;
	struct keel_vmnet_ip ips[VMNET_NIC_IPS];
};

struct inv {
	struct inv_entry *e;
	unsigned int n, max;
	unsigned int errors; /* reported one by one up to INV_MAX_ERRORS */
};

#define INV_MAX_ERRORS 16
#define INV_MAX_LINES  65536 /* per file: an inventory is not a log */

struct vmnet_nic *vmnet_ip_owner(struct vmnet *v, const struct keel_vmnet_ip *ip)
{
	for (unsigned int i = 0; v->nics && i < v->max_nics; i++) {
		struct vmnet_nic *n = &v->nics[i];

		for (int j = 0; n->used && j < n->n_ips; j++)
			if (!memcmp(&n->ips[j].ip, ip, sizeof(*ip)))
				return n;
	}
	return NULL;
}

static void inv_error(struct vmnet *v, struct inv *inv, const char *file, int line, const char *msg)
{
	v->inventory_errors++;
	if (++inv->errors > INV_MAX_ERRORS)
		return; /* counted; the summary event says how many */
	vmnet_emit(v, "vmnet.inventory_error",
		   json_pack("{s:s, s:i, s:s}", "file", file, "line", line, "error", msg));
}

static struct inv_entry *inv_find(struct inv *inv, const __u8 *mac)
{
	for (unsigned int i = 0; i < inv->n; i++)
		if (!memcmp(inv->e[i].mac, mac, 6))
			return &inv->e[i];
	return NULL;
}

static bool inv_has_ip(struct inv *inv, const struct keel_vmnet_ip *ip)
{
	for (unsigned int i = 0; i < inv->n; i++)
		for (int j = 0; j < inv->e[i].n_ips; j++)
			if (!memcmp(&inv->e[i].ips[j], ip, sizeof(*ip)))
				return true;
	return false;
}

static void parse_line(struct vmnet *v, struct inv *inv, char *line, const char *file, int lineno)
{
	char *save = NULL, *vm, *mac_s, *tok, msg[160];
	struct inv_entry *e;
	__u8 mac[6];

	line[strcspn(line, "#\n")] = '\0';
	vm = strtok_r(line, " \t", &save);
	if (!vm)
		return; /* blank or comment */
	mac_s = strtok_r(NULL, " \t", &save);
	if (!mac_s || vmnet_mac_parse(mac_s, mac) < 0 || (mac[0] & 1)) {
		inv_error(v, inv, file, lineno,
			  "expected 'VM MAC IP [IP...]' with a unicast MAC like 52:54:00:12:34:56");
		return;
	}
	if (strlen(vm) >= VMNET_NAME_LEN) {
		snprintf(msg, sizeof(msg), "VM name longer than %d characters", VMNET_NAME_LEN - 1);
		inv_error(v, inv, file, lineno, msg);
		return;
	}
	e = inv_find(inv, mac);
	if (!e) {
		if (inv->n == inv->max) {
			snprintf(msg, sizeof(msg),
				 "more than [vmnet] max_vms = %u NICs; line ignored", inv->max);
			inv_error(v, inv, file, lineno, msg);
			return;
		}
		e = &inv->e[inv->n++];
		memset(e, 0, sizeof(*e));
		memcpy(e->mac, mac, 6);
	}
	snprintf(e->vm, sizeof(e->vm), "%s", vm);
	while ((tok = strtok_r(NULL, " \t", &save))) {
		struct keel_vmnet_ip ip;

		if (vmnet_ip_parse(tok, &ip) < 0 || vmnet_ip_zero(&ip)) {
			snprintf(msg, sizeof(msg), "'%.64s' is not an IP address", tok);
			inv_error(v, inv, file, lineno, msg);
		} else if (inv_has_ip(inv, &ip)) {
			snprintf(msg, sizeof(msg), "%.64s is already given to another NIC; ignored",
				 tok);
			inv_error(v, inv, file, lineno, msg);
		} else if (e->n_ips == VMNET_NIC_IPS) {
			snprintf(msg, sizeof(msg), "more than %d addresses for one NIC",
				 VMNET_NIC_IPS);
			inv_error(v, inv, file, lineno, msg);
		} else {
			e->ips[e->n_ips++] = ip;
		}
	}
}

static void read_dir(struct vmnet *v, struct inv *inv)
{
	const char *dir = v->cfg->inventory_dir;
	struct dirent **names;
	char path[PATH_MAX + 256], line[1024];
	int n;

	n = scandir(dir, &names, NULL,
		    alphasort); /* sorted: the result never depends on readdir order */
	if (n < 0)
		return; /* no inventory: every address is learned */
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		int lineno = 0;
		FILE *f;

		if (name[0] == '.' || name[len - 1] == '~' || names[i]->d_type == DT_DIR)
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		f = fopen(path, "re");
		if (!f)
			goto next;
		while (lineno < INV_MAX_LINES && fgets(line, sizeof(line), f))
			parse_line(v, inv, line, path, ++lineno);
		fclose(f);
next:
		free(names[i]);
	}
	free(names);
}

static bool entry_has_ip(const struct inv_entry *e, const struct keel_vmnet_ip *ip)
{
	for (int j = 0; e && j < e->n_ips; j++)
		if (!memcmp(&e->ips[j], ip, sizeof(*ip)))
			return true;
	return false;
}

void vmnet_inventory_load(struct vmnet *v)
{
	struct inv inv = { .max = v->max_nics };
	char m[18], ip[64];

	inv.e = calloc(inv.max, sizeof(*inv.e));
	if (!inv.e)
		return;
	read_dir(v, &inv);
	if (inv.errors && v->inventory_applied) {
		vmnet_emit(v, "vmnet.inventory",
			   json_pack("{s:s, s:i, s:i, s:b}", "dir", v->cfg->inventory_dir, "nics",
				     (int)inv.n, "errors", (int)inv.errors, "applied", 0));
		free(inv.e);
		return; /* the previous reading stays in force */
	}
	v->inventory_applied = true;
	/* what the inventory no longer says */
	for (unsigned int i = 0; i < v->max_nics; i++) {
		struct vmnet_nic *n = &v->nics[i];
		struct inv_entry *e;
		int keep = 0;

		if (!n->used || !n->in_inventory)
			continue;
		e = inv_find(&inv, n->mac);
		for (int j = 0; j < n->n_ips; j++) {
			if (n->ips[j].source != SRC_INVENTORY || entry_has_ip(e, &n->ips[j].ip)) {
				n->ips[keep++] = n->ips[j];
				continue;
			}
			vmnet_wl_remove_now(v, &n->ips[j].ip, "inventory");
		}
		n->n_ips = keep;
		if (!e) {
			n->in_inventory = false;
			n->vm[0] = '\0';
		}
	}
	/* what it says now */
	for (unsigned int i = 0; i < inv.n; i++) {
		struct inv_entry *e = &inv.e[i];
		struct vmnet_nic *n = vmnet_nic_get(v, e->mac);

		if (!n)
			break;
		if (!n->in_inventory && n->state == NIC_AWAY && !n->port)
			n->state = NIC_KNOWN;
		n->in_inventory = true;
		snprintf(n->vm, sizeof(n->vm), "%s", e->vm);
		for (int j = 0; j < e->n_ips; j++) {
			int err = vmnet_nic_add_ip(v, n, &e->ips[j], SRC_INVENTORY);

			if (err) {
				vmnet_mac_str(e->mac, m);
				vmnet_ip_str(&e->ips[j], ip, sizeof(ip));
				vmnet_emit(v, "vmnet.inventory_error",
					   json_pack("{s:s, s:s, s:s}", "mac", m, "ip", ip, "error",
						     strerror(-err)));
			}
		}
	}
	vmnet_emit(v, "vmnet.inventory",
		   json_pack("{s:s, s:i, s:i, s:b}", "dir", v->cfg->inventory_dir, "nics",
			     (int)inv.n, "errors", (int)inv.errors, "applied", 1));
	free(inv.e);
	vmnet_timer_arm(v);
}

static void on_inotify(struct keel_watch *w, uint32_t events)
{
	struct vmnet *v = w->data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;

	(void)events;
	while (read(w->fd, buf, sizeof(buf)) > 0)
		changed = true;
	if (changed)
		vmnet_inventory_load(v);
}

int vmnet_inventory_open(struct vmnet *v, char *why, size_t len)
{
	const char *dir = v->cfg->inventory_dir;
	int fd;

	(void)why;
	(void)len;
	if (dir[0]) {
		fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (fd >= 0 && inotify_add_watch(fd, dir,
						 IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
							 IN_DELETE) >= 0) {
			v->inotify_watch =
				(struct keel_watch){ .fd = fd, .cb = on_inotify, .data = v };
			if (keel_watch_add(v->d, &v->inotify_watch, EPOLLIN) < 0) {
				close(fd);
				v->inotify_watch.fd = 0;
			}
		} else if (fd >= 0) {
			close(fd); /* no directory (yet): nothing to watch */
		}
	}
	vmnet_inventory_load(v);
	return 0;
}

void vmnet_inventory_close(struct vmnet *v)
{
	if (v->inotify_watch.fd > 0) {
		keel_watch_del(v->d, &v->inotify_watch);
		close(v->inotify_watch.fd);
		v->inotify_watch.fd = 0;
	}
}
