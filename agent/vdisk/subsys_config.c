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
	KEEL_OPT_STRING(T, "server", server, "",
			"the keel-vdisk program that runs a disk server; empty: keel-vdisk beside keeld, else $PATH"),
	KEEL_OPT_UINT(T, "max_disks", max_disks, 1, 1024, "16",
		      "disks open (served) at once; more are refused"),
	KEEL_OPT_UINT(T, "max_clients", max_clients, 1, 1024, "16",
		      "NBD connections to one disk at once (nbdkit's limit filter)"),
	KEEL_OPT_UINT(T, "max_inflight", max_inflight, 1, 256, "16",
		      "NBD requests one disk server handles at once (its threads; the rest wait in the socket)"),
	KEEL_OPT_UINT(T, "max_restarts", max_restarts, 0, 100, "3",
		      "restarts of a disk server that died while serving, then the disk is failed"),
	KEEL_OPT_UINT(T, "stop_timeout_ms", stop_timeout_ms, 100, 600000, "10000",
		      "how long close waits for a disk server to flush and exit before killing it"),
	KEEL_OPT_END
};
