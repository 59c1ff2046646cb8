// SPDX-License-Identifier: GPL-2.0-only
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/log.h"

/*
 * The one piece of process-wide state outside main(): set once at start,
 * read-only afterwards, like stderr itself.
 */
static struct {
	const char *prog;
	enum keel_log_level max_level;
	bool journal; /* stderr is a journal stream: prefix priorities */
} log_conf = { "keel", KEEL_LOG_INFO, false };

/*
 * systemd sets JOURNAL_STREAM=DEV:INODE when stderr goes to the journal;
 * a line starting with "<N>" then gets priority N (sd-daemon(3)), so that
 * `journalctl -p err -u keeld` shows keeld's errors.
 */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void keel_log_setup(const char *prog, enum keel_log_level max_level)
{
	log_conf.prog = prog;
	log_conf.max_level = max_level;
	log_conf.journal = stderr_is_journal();
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

	/* syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
	static const int priorities[] = {
		[KEEL_LOG_ERR] = 3,
		[KEEL_LOG_WARN] = 4,
		[KEEL_LOG_INFO] = 6,
		[KEEL_LOG_DEBUG] = 7,
	};
	char line[4096];
	int n = 0;

	if (level > log_conf.max_level)
		return;
	/* one write per line: the sink threads may log too */
	if (log_conf.journal)
		n = snprintf(line, sizeof(line), "<%d>", priorities[level]);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "%s: %s", log_conf.prog, names[level]);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void keel_log(enum keel_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	keel_vlog(level, fmt, ap);
	va_end(ap);
}
