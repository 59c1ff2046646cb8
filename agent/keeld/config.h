/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * keeld's configuration: an embedded default, overridden key by key by an
 * INI file (parsed with libinih).  Every key is declared once, in the table
 * in config.c, with its type, range and help text; the parser, the
 * validation and `keeld --print-config` all read that table.
 */
#ifndef KEEL_CONFIG_H
#define KEEL_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/un.h>

#define KEEL_DEFAULT_CONFIG_PATH "/etc/keel/keel.conf"

struct keel_subsys_config {
	bool enabled;	/* start it when its kernel features are there */
	bool required;	/* keeld refuses to run without it */
};

struct keel_config {
	char host[64];
	char control_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char control_group[64];
	unsigned int control_max_clients;
	bool events_stdout;
	unsigned int events_backlog;
	unsigned int events_queue_bytes;
	char pin_dir[128];
	struct keel_subsys_config exec;
	char exec_mode[16];
	char exec_trust_db[PATH_MAX];
	unsigned int exec_max_trusted;
	char exec_installers[1024];
	unsigned int exec_max_installing;
	struct keel_subsys_config blk;
	unsigned int blk_stats_interval_ms;
	unsigned int blk_cache_mib;
	unsigned int blk_block_size;
	unsigned int blk_max_disks;
	char blk_devices[256];
	char blk_cgroups[1024];
	unsigned int blk_ring_kib;
	char blk_mrc_mode[16];
	unsigned int blk_mrc_rate_ppm;
	unsigned int blk_mrc_max_samples;
	unsigned int blk_mrc_bins;
	unsigned int blk_mrc_keel_points;
	unsigned int blk_mrc_keel_max_entries;
	unsigned int blk_max_recordings;
	unsigned int blk_record_max_s;
	unsigned int blk_record_max_mib;
	struct keel_subsys_config kmod;
	char kmod_module[PATH_MAX];
	struct keel_subsys_config vmnet;
	char vmnet_uplink[16];
	char vmnet_ports[256];
	char vmnet_inventory_dir[PATH_MAX];
	char vmnet_state_file[PATH_MAX];
	unsigned int vmnet_grace_ms;
	char vmnet_learn[16];
	unsigned int vmnet_port_max_macs;
	unsigned int vmnet_port_max_ips;
	char vmnet_provider_command[1024];
	unsigned int vmnet_provider_timeout_ms;
	unsigned int vmnet_provider_retries;
	unsigned int vmnet_provider_backoff_ms;
	unsigned int vmnet_provider_max_running;
	unsigned int vmnet_provider_queue;
	unsigned int vmnet_provider_nice;
	unsigned int vmnet_max_vms;
	unsigned int vmnet_max_ips;
	unsigned int vmnet_max_ports;
	struct keel_subsys_config memh;
	char memh_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char memh_allowed_dirs[1024];
	unsigned int memh_max_clients;
	unsigned int memh_max_inflight;
	unsigned int memh_max_read_bytes;
	unsigned int memh_workers;
};

/* What went wrong in a configuration file, for one clear message. */
struct keel_config_error {
	char file[PATH_MAX];
	int line;		/* 0 when the error is not on a line */
	char key[96];		/* "[section] name", empty when none */
	char msg[256];
};

/* Fill @cfg with the embedded defaults. */
void keel_config_defaults(struct keel_config *cfg);

/*
 * Apply the file at @path on top of what @cfg holds.  On error @cfg is left
 * exactly as it was, @err says where and why, and a negative errno returns:
 * -ENOENT/-EACCES for an unreadable file, -EINVAL for bad content.
 */
int keel_config_load_file(struct keel_config *cfg, const char *path,
			  struct keel_config_error *err);

/* Same, from a string (named @name in errors); used by tests. */
int keel_config_load_string(struct keel_config *cfg, const char *text,
			    const char *name, struct keel_config_error *err);

/* Checks that need the system: does [control] group exist? */
int keel_config_validate(const struct keel_config *cfg, struct keel_config_error *err);

/* "FILE:LINE: [section] key: message" */
void keel_config_error_format(const struct keel_config_error *err, char *buf,
			      size_t len);

/* Write the effective configuration as a commented INI file. */
void keel_config_print(const struct keel_config *cfg, FILE *out);

#endif /* KEEL_CONFIG_H */
