/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef KEEL_CLOCK_H
#define KEEL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on @clock (CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME) */
static inline uint64_t keel_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif /* KEEL_CLOCK_H */
