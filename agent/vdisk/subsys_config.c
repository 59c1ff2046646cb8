// SPDX-License-Identifier: GPL-2.0-only
/* The [vdisk] keys: type, range, default and the help --print-config shows. */
#include "vdisk/subsys_config.h"

#define T struct vdisk_config

const struct keel_opt vdisk_options[] = {
	KEEL_OPT_ENABLED(T, "create, open and serve VMDK disks, one disk server process each"),
	KEEL_OPT_REQUIRED(T, "exit with an error when the vdisk subsystem cannot run"),
	KEEL_OPT_STRING(T, "dirs", dirs, "/var/lib/keel/vdisk",
			"colon-separated directories where keelctl vdisk may create and open disks"),
	KEEL_OPT_STRING(T, "run_dir", run_dir, "/run/keel/vdisk",
			"the disk servers' NBD sockets, channels and locks"),
	KEEL_OPT_STRING(
		T, "server", server, "",
		"the keel-vdisk program that runs a disk server; empty: keel-vdisk beside keeld, else $PATH"),
	KEEL_OPT_UINT(T, "max_disks", max_disks, 1, 1024, "16",
		      "disks open (served) at once; more are refused"),
	KEEL_OPT_UINT(T, "max_clients", max_clients, 1, 1024, "16",
		      "NBD connections to one disk at once (nbdkit's limit filter)"),
	KEEL_OPT_UINT(
		T, "max_inflight", max_inflight, 1, 256, "16",
		"NBD requests one disk server handles at once (its threads; the rest wait in the socket)"),
	KEEL_OPT_UINT(T, "max_restarts", max_restarts, 0, 100, "3",
		      "restarts of a disk server that died while serving, then the disk is failed"),
	KEEL_OPT_UINT(T, "stop_timeout_ms", stop_timeout_ms, 100, 600000, "10000",
		      "how long close waits for a disk server to flush and exit before killing it"),
	KEEL_OPT_STRING(
		T, "owner_addr", owner_addr, "",
		"IPv4 address where this host's disk servers take release requests from other hosts; empty: ownership off (disks are not shared between hosts)"),
	KEEL_OPT_UINT(
		T, "owner_port", owner_port, 1, 65535, "7700",
		"first TCP port of the release listeners: the disk in slot i (0 .. max_disks - 1) listens on owner_port + i"),
	KEEL_OPT_STRING(
		T, "cluster_key", cluster_key, "/etc/keel/cluster.key",
		"the per-cluster HMAC key signing release requests: 32 to 1024 bytes, the same file on every host, mode 0600 or refused"),
	KEEL_OPT_STRING(
		T, "host_id", host_id, "",
		"this host's id in owner records; empty: $KEEL_HOST_ID, else /etc/machine-id"),
	KEEL_OPT_UINT(T, "lease_ms", lease_ms, 300, 3600000, "10000",
		      "an owner's lease: a silent owner's disk is taken over after this long"),
	KEEL_OPT_UINT(T, "renew_ms", renew_ms, 10, 1200000, "2000",
		      "how often an owner renews its lease (at most lease_ms / 3)"),
	KEEL_OPT_END
};
