/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KEEL_VERSION_H
#define KEEL_VERSION_H

#define KEEL_VERSION "0.1.0"

#endif /* KEEL_VERSION_H */
