// SPDX-License-Identifier: GPL-2.0-only
/* The [memh] keys: type, range, default and the help --print-config shows. */
#include "memh/memh_config.h"

#define T struct memh_config

const struct keel_opt memh_options[] = {
	KEEL_OPT_ENABLED(
		T, "serve file reads into clients' memory handles (keel.ko, else pidfd fallback)"),
	KEEL_OPT_REQUIRED(T, "exit with an error when the memh read service cannot run"),
	KEEL_OPT_STRING(
		T, "socket", socket, "",
		"the read service's Unix socket (mode 0660, [control] group); empty: memh.sock beside [control] socket"),
	KEEL_OPT_STRING(T, "allowed_dirs", allowed_dirs, "",
			"colon-separated directories whose files clients may read; empty: none"),
	KEEL_OPT_UINT(T, "max_clients", max_clients, 1, 4096, "64",
		      "client connections at once; more are refused with a message"),
	KEEL_OPT_UINT(T, "max_inflight", max_inflight, 1, 1024, "16",
		      "requests one client may have queued or running"),
	KEEL_OPT_UINT(T, "max_read_bytes", max_read_bytes, 4096, 1U << 30, "67108864",
		      "bytes one request may read"),
	KEEL_OPT_UINT(T, "workers", workers, 1, 64, "2",
		      "threads doing the reads, so that a slow file never stalls keeld's loop"),
	KEEL_OPT_END
};
