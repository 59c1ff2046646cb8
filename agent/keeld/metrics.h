/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus metrics: `GET /metrics` on [metrics] listen (off by default),
 * served inside keeld's loop (metrics.c); the page (metrics_render.c).
 */
#ifndef KEEL_METRICS_H
#define KEEL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "keeld/daemon.h"

/* 0 when [metrics] listen is empty or the endpoint listens; else @why. */
int keel_metrics_start(struct keel_daemon *d, char *why, size_t len);
void keel_metrics_stop(struct keel_daemon *d);
uint64_t keel_metrics_scrapes(const struct keel_daemon *d);
/* The page, malloc'd, in the Prometheus text format 0.0.4. */
char *keel_metrics_render(struct keel_daemon *d, size_t *ret_len);

#endif /* KEEL_METRICS_H */
