/* SPDX-License-Identifier: GPL-2.0-only */
/* The [exec] section of keel.conf: exec_config.c declares each key. */
#ifndef KEEL_EXEC_CONFIG_H
#define KEEL_EXEC_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "keeld/config.h"

struct exec_config {
	struct keel_subsys_config subsys; /* enabled, required: first */
	char mode[16];
	char trust_db[PATH_MAX];
	unsigned int max_trusted;
	char installers[1024];
	unsigned int max_installing;
	char jits[1024]; /* programs.c */
	char tracers[1024];
	unsigned int ring_buffer_kib; /* exec_events, a power of two */
	char interpreters[1024];
	char strict_interpreters[1024];
	bool allow_kexec_load;
	bool check_firmware;
	char unstable_fs[512]; /* fstypes.c */
	char allow_unstable_fs[512];
};

extern const struct keel_opt exec_options[];

/* fstypes.c: [exec] unstable_fs and allow_unstable_fs are lists of type names. */
int exec_fs_check_config(const struct exec_config *c, char *key, size_t keylen, char *msg,
			 size_t msglen);
int exec_check_config(const void *config, char *key, size_t keylen, char *msg, size_t msglen);

#endif /* KEEL_EXEC_CONFIG_H */
