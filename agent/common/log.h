/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logging for keel's programs: messages go to stderr, prefixed with the
 * program name, so they never mix with the event stream on stdout.
 * Only the top level logs errors; library code returns negative errno.
 */
#ifndef KEEL_LOG_H
#define KEEL_LOG_H

#include <stdarg.h>

enum keel_log_level {
	KEEL_LOG_ERR,
	KEEL_LOG_WARN,
	KEEL_LOG_INFO,
	KEEL_LOG_DEBUG,
};

void keel_log_setup(const char *prog, enum keel_log_level max_level);
enum keel_log_level keel_log_level(void);
void keel_log(enum keel_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void keel_vlog(enum keel_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define pr_err(...)   keel_log(KEEL_LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  keel_log(KEEL_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  keel_log(KEEL_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) keel_log(KEEL_LOG_DEBUG, __VA_ARGS__)

#endif /* KEEL_LOG_H */
