/* SPDX-License-Identifier: GPL-2.0-only */
/* The [memh] section of keel.conf: memh_config.c declares each key. */
#ifndef KEEL_MEMH_CONFIG_H
#define KEEL_MEMH_CONFIG_H

#include <sys/un.h>

#include "keeld/config.h"

struct memh_config {
	struct keel_subsys_config subsys; /* enabled, required: first */
	char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char allowed_dirs[1024];
	unsigned int max_clients;
	unsigned int max_inflight;
	unsigned int max_read_bytes;
	unsigned int workers;
};

extern const struct keel_opt memh_options[];

#endif /* KEEL_MEMH_CONFIG_H */
