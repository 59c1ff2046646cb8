// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>

#include "common/log.h"

/*
 * The one piece of process-wide state outside main(): set once at start,
 * read-only afterwards, like stderr itself.
 */
static struct {
	const char *prog;
	enum keel_log_level max_level;
} log_conf = { "keel", KEEL_LOG_INFO };

void keel_log_setup(const char *prog, enum keel_log_level max_level)
{
	log_conf.prog = prog;
	log_conf.max_level = max_level;
}

enum keel_log_level keel_log_level(void)
{
	return log_conf.max_level;
}

void keel_vlog(enum keel_log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = {
		[KEEL_LOG_ERR] = "error: ",
		[KEEL_LOG_WARN] = "warning: ",
		[KEEL_LOG_INFO] = "",
		[KEEL_LOG_DEBUG] = "debug: ",
	};

	if (level > log_conf.max_level)
		return;
	fprintf(stderr, "%s: %s", log_conf.prog, names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void keel_log(enum keel_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	keel_vlog(level, fmt, ap);
	va_end(ap);
}
