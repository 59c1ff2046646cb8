// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM VM creation and destruction, from the uevents KVM raises on /dev/kvm
 * (kvm_uevent_notify_change: "change@/devices/virtual/misc/kvm" with
 * EVENT=create or EVENT=destroy, PID=<the VMM>; seen on the 6.18 host).
 * An earlier keeld waited for "terminate", which KVM never sends, so it
 * missed every destruction.  The destroy event comes from kvm_destroy_vm(),
 * when the VM's last reference goes (its fd closed, normally at the VMM's
 * exit).  This works on every
 * kernel with KVM and needs neither kprobes nor fentry, which the hosts
 * keel runs on may refuse.
 *
 * A VM is tied to its ports through the tap file descriptors its VMM holds:
 * /proc/PID/fdinfo of a tun file names the interface ("iff:"); a macvtap's
 * is its character device, /dev/tapN, which the VMM holds open (libvirt
 * opens it and passes the fd).  When the VMM's VM is destroyed, the NICs
 * on its ports depart.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vmnet/vmnet.h"

/*
 * The device number of macvtap @ifname's character device, 0 when not
 * found.  sysfs names it (/sys/class/net/NAME/macvtap/tapIFINDEX/dev) where
 * keeld's sysfs belongs to the device's namespace; else devtmpfs's node,
 * /dev/tapIFINDEX, made for every namespace's macvtaps.
 */
dev_t vmnet_macvtap_rdev(const char *ifname, int ifindex)
{
	unsigned int maj, min;
	char path[PATH_MAX];
	struct stat st;
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/macvtap/tap%d/dev", ifname, ifindex);
	f = fopen(path, "re");
	if (f) {
		n = fscanf(f, "%u:%u", &maj, &min);
		fclose(f);
		if (n == 2)
			return makedev(maj, min);
	}
	snprintf(path, sizeof(path), "/dev/tap%d", ifindex);
	if (!stat(path, &st) && S_ISCHR(st.st_mode))
		return st.st_rdev;
	return 0;
}

/* Is fd @fd of process @pid the character device @rdev? */
static bool fd_is_chardev(const char *pid, const char *fd, dev_t rdev)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, fd);
	return !stat(path, &st) && S_ISCHR(st.st_mode) && st.st_rdev == rdev;
}

/*
 * Does process @pid hold port @p: a tun file attached to it (fdinfo names
 * it), or its macvtap character device?
 */
static bool pid_holds_port(const char *pid, const struct vmnet_port *p)
{
	char path[PATH_MAX], line[128];
	struct dirent *de;
	bool found = false;
	DIR *dp;

	snprintf(path, sizeof(path), "/proc/%s/fdinfo", pid);
	dp = opendir(path);
	if (!dp)
		return false;
	while (!found && (de = readdir(dp))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		if (p->tap_rdev) {
			found = fd_is_chardev(pid, de->d_name, p->tap_rdev);
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char name[IF_NAMESIZE + 1];

			if (sscanf(line, "iff: %16s", name) == 1 && !strcmp(name, p->name)) {
				found = true;
				break;
			}
		}
		fclose(f);
	}
	closedir(dp);
	return found;
}

/*
 * The process holding port @p, 0 when none (not a tap, or persistent and
 * unused).  Only processes that look like VMMs are looked at closely.
 */
int vmnet_tap_owner(const struct vmnet_port *p)
{
	DIR *dp = opendir("/proc");
	struct dirent *de;
	int pid = 0;

	if (!dp)
		return 0;
	while (!pid && (de = readdir(dp))) {
		char comm[64] = "", path[300];
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		/* VMMs: qemu-system-*, qemu-kvm, firecracker, cloud-hypervisor, crosvm */
		if (strncmp(comm, "qemu", 4) && !strstr(comm, "firecracker") &&
		    !strstr(comm, "hypervisor") && !strstr(comm, "crosvm"))
			continue;
		if (pid_holds_port(de->d_name, p))
			pid = atoi(de->d_name);
	}
	closedir(dp);
	return pid;
}

/* A VM created or destroyed by the VMM @pid; @fields: what the source adds. */
void vmnet_kvm_event(struct vmnet *v, bool create, int pid, json_t *fields)
{
	if (!fields)
		fields = json_object();
	json_object_set_new(fields, "pid", json_integer(pid));
	if (create) {
		/* the VMM opened its taps before or will after: look again */
		for (unsigned int i = 0; i < v->max_ports; i++)
			if (v->ports[i].used && !v->ports[i].pid)
				v->ports[i].pid = vmnet_tap_owner(&v->ports[i]);
		vmnet_emit(v, "vm.create", fields);
	} else {
		vmnet_emit(v, "vm.destroy", fields);
		vmnet_pid_gone(v, pid);
	}
}

static void on_kvm_event(struct vmnet *v, const char *event, int pid)
{
	bool create = !strcmp(event, "create");

	if (v->kvm_skel)
		return; /* the kprobes report it, with more detail */
	if (create || !strcmp(event, "destroy"))
		vmnet_kvm_event(v, create, pid, json_pack("{s:s}", "source", "uevent"));
}

static void on_uevent(struct keel_watch *w, uint32_t events)
{
	struct vmnet *v = w->data;
	char buf[4096 + 1];
	ssize_t n;

	(void)events;
	while ((n = recv(w->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		const char *event = NULL, *p;
		bool kvm = false;
		int pid = 0;

		buf[n] = '\0';
		/* "ACTION@DEVPATH\0KEY=VALUE\0..." from the kernel, not udev */
		if (!strcmp(buf, "add@/module/kvm")) {
			vmnet_kvm_attach(v);
			continue;
		}
		if (!strcmp(buf, "remove@/module/kvm")) {
			vmnet_kvm_module_gone(v);
			continue;
		}
		if (strncmp(buf, "change@", 7))
			continue;
		for (p = buf; p < buf + n; p += strlen(p) + 1) {
			if (!strcmp(p, "DEVNAME=kvm") ||
			    !strcmp(p, "DEVPATH=/devices/virtual/misc/kvm"))
				kvm = true;
			else if (!strncmp(p, "EVENT=", 6))
				event = p + 6;
			else if (!strncmp(p, "PID=", 4))
				pid = atoi(p + 4);
		}
		if (kvm && event)
			on_kvm_event(v, event, pid);
	}
	vmnet_timer_arm(v);
}

int vmnet_uevent_open(struct vmnet *v, char *why, size_t len)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int fd, err;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		snprintf(why, len, "opening the kernel uevent socket for KVM events: %s",
			 strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	v->uevent_watch = (struct keel_watch){ .fd = fd, .cb = on_uevent, .data = v };
	err = keel_watch_add(v->d, &v->uevent_watch, EPOLLIN);
	if (err) {
		close(fd);
		v->uevent_watch.fd = 0;
		snprintf(why, len, "watching the uevent socket: %s", strerror(-err));
	}
	return err;
}

void vmnet_uevent_close(struct vmnet *v)
{
	if (v->uevent_watch.fd > 0) {
		keel_watch_del(v->d, &v->uevent_watch);
		close(v->uevent_watch.fd);
		v->uevent_watch.fd = 0;
	}
}
