/* SPDX-License-Identifier: GPL-2.0-only */
/* The [vdisk] section of keel.conf: subsys_config.c declares each key. */
#ifndef KEEL_VDISK_SUBSYS_CONFIG_H
#define KEEL_VDISK_SUBSYS_CONFIG_H

#include <limits.h>

#include "keeld/config.h"

struct vdisk_config {
	struct keel_subsys_config subsys; /* enabled, required: first */
	char dirs[1024];		  /* colon-separated: where disks may be */
	char run_dir[256];		  /* servers' sockets and locks */
	char server[PATH_MAX];		  /* keel-vdisk; empty: beside keeld */
	unsigned int max_disks;
	unsigned int max_clients;
	unsigned int max_inflight;
	unsigned int max_restarts;
	unsigned int stop_timeout_ms;
	/* ownership between hosts (docs/vdisk.md): off while owner_addr is "" */
	char owner_addr[64];	 /* IPv4 the disk servers' release listeners use */
	unsigned int owner_port; /* the disk in slot i listens on owner_port + i */
	char cluster_key[PATH_MAX];
	char host_id[64]; /* "": $KEEL_HOST_ID, else /etc/machine-id */
	unsigned int lease_ms;
	unsigned int renew_ms;
};

extern const struct keel_opt vdisk_options[];

#endif /* KEEL_VDISK_SUBSYS_CONFIG_H */
