/* SPDX-License-Identifier: GPL-2.0-only */
/* keelctl trust import-dpkg: see trust_dpkg.c. */
#ifndef KEELCTL_TRUST_DPKG_H
#define KEELCTL_TRUST_DPKG_H

#include <stdbool.h>

#include "keelctl/keelctl.h"

struct dpkg_import_opts {
	const char *admindir; /* dpkg's database: /var/lib/dpkg */
	const char *root;     /* where the packages' paths start: / */
	char **packages;      /* only these; none: every installed package */
	int n_packages;
	bool json;
};

/* Returns the exit status: 1 when any file was mismatched, missing or failed. */
int keelctl_trust_import_dpkg(const struct keelctl *ctl, const struct dpkg_import_opts *o);

#endif /* KEELCTL_TRUST_DPKG_H */
