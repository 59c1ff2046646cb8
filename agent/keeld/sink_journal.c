// SPDX-License-Identifier: GPL-2.0-only
/*
 * The journal sink: every event becomes one journal entry with structured
 * fields, sent with sd_journal_sendv() from the sink's worker thread:
 *   MESSAGE           "<type>: key=value ..." for a person
 *   PRIORITY          by severity (event_priority.c)
 *   SYSLOG_IDENTIFIER keeld
 *   KEEL_TYPE, KEEL_SUBSYSTEM, KEEL_TIME, KEEL_HOST
 *   KEEL_<FIELD>      each other field of the event, upper-cased: strings
 *                     as they are, numbers and booleans as JSON text,
 *                     objects and arrays as compact JSON
 * so `journalctl KEEL_TYPE=exec.deny -o json` gives the decision fields.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
/* no CODE_FILE/CODE_LINE: the place in keeld that sends says nothing */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "keeld/events.h"
#include "keeld/sink.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define MESSAGE_MAX    2048
#define FIELD_NAME_MAX 64 /* journald's limit on a field name */

struct journal {
	/* read-only after open: the types not sent ([events] journal_exclude) */
	struct keel_subscriber exclude;
};

/* A growing buffer of "NAME=value\0" entries. */
struct fields {
	char *p;
	size_t len, cap;
	bool oom;
};

static void fields_add(struct fields *f, const char *name, const char *value, size_t vlen)
{
	size_t nlen = strlen(name), need = nlen + 1 + vlen + 1;

	if (f->oom)
		return;
	if (f->len + need > f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 1024;
		char *p;

		while (cap < f->len + need)
			cap *= 2;
		p = realloc(f->p, cap);
		if (!p) {
			f->oom = true;
			return;
		}
		f->p = p;
		f->cap = cap;
	}
	memcpy(f->p + f->len, name, nlen);
	f->p[f->len + nlen] = '=';
	memcpy(f->p + f->len + nlen + 1, value, vlen);
	f->p[f->len + need - 1] = '\0';
	f->len += need;
}

/* KEEL_<KEY>: journal field names are upper-case letters, digits and '_'. */
static void field_name(const char *key, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "KEEL_");

	for (; *key && n < len - 1 && n < FIELD_NAME_MAX; key++, n++)
		buf[n] = isalnum((unsigned char)*key) ? (char)toupper((unsigned char)*key) : '_';
	buf[n] = '\0';
}

/* The value as text: strings raw, the rest as compact JSON.  Free with free(). */
static char *value_text(json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

static bool is_common(const char *key)
{
	return !strcmp(key, "time") || !strcmp(key, "host") || !strcmp(key, "subsystem") ||
	       !strcmp(key, "type");
}

/* "exec.deny: pid=42 comm=bash path=/tmp/x ..." with scalar fields only. */
static void message(const char *type, json_t *ev, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "%s:", type);
	const char *key;
	json_t *v;

	json_object_foreach(ev, key, v) {
		char *text;

		if (is_common(key) || json_is_object(v) || json_is_array(v) || n >= len)
			continue;
		text = value_text(v);
		if (!text)
			continue;
		n += (size_t)snprintf(buf + n, len - n,
				      strpbrk(text, " \t") ? " %s=\"%s\"" : " %s=%s", key, text);
		free(text);
	}
	if (n >= len && len > 4)
		strcpy(buf + len - 4, "...");
}

static struct keel_sink_item *journal_encode(void *priv, const char *type, json_t *ev,
					     const char *line, size_t len, int priority)
{
	struct journal *j = priv;
	struct fields f = { 0 };
	struct keel_sink_item *it;
	char msg[MESSAGE_MAX], name[FIELD_NAME_MAX + 1], prio[4];
	const char *key;
	json_t *v;

	(void)line;
	(void)len;
	if (j->exclude.types[0] && keel_subscriber_wants(&j->exclude, type))
		return NULL;
	message(type, ev, msg, sizeof(msg));
	snprintf(prio, sizeof(prio), "%d", priority);
	fields_add(&f, "MESSAGE", msg, strlen(msg));
	fields_add(&f, "PRIORITY", prio, strlen(prio));
	fields_add(&f, "SYSLOG_IDENTIFIER", "keeld", 5);
	json_object_foreach(ev, key, v) {
		char *text = value_text(v);

		if (!text) {
			f.oom = true;
			break;
		}
		field_name(key, name, sizeof(name));
		fields_add(&f, name, text, strlen(text));
		free(text);
	}
	if (f.oom) {
		free(f.p);
		return NULL;
	}
	it = malloc(sizeof(*it) + f.len);
	if (it) {
		it->priority = priority;
		it->len = f.len;
		memcpy(it->data, f.p, f.len);
	}
	free(f.p);
	return it;
}

static int journal_write(void *priv, const struct keel_sink_item *it)
{
	struct iovec iov[256];
	size_t n = 0;
	int err;

	(void)priv;
	for (size_t off = 0; off < it->len && n < sizeof(iov) / sizeof(iov[0]);) {
		size_t l = strlen(it->data + off);

		iov[n].iov_base = (void *)(it->data + off);
		iov[n].iov_len = l;
		n++;
		off += l + 1;
	}
	err = sd_journal_sendv(iov, (int)n);
	return err < 0 ? err : 0;
}

static void journal_close(void *priv)
{
	struct journal *j = priv;

	for (int i = 0; i < KEEL_MAX_TYPE_FILTERS; i++)
		free(j->exclude.types[i]);
	free(j);
}

const struct keel_sink_ops keel_sink_journal_ops = {
	.name = "journal",
	.encode = journal_encode,
	.write = journal_write,
	.close = journal_close,
};

int keel_sink_journal_open(const char *exclude, void **ret_priv, char *why, size_t len)
{
	struct journal *j;
	struct stat st;
	char *list, *save = NULL;
	int n = 0;

	/*
	 * libsystemd drops an entry silently when no journald listens
	 * (ENOENT): say so at start instead.
	 */
	if (stat(JOURNAL_SOCKET, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(why, len, "no journald socket at %s", JOURNAL_SOCKET);
		return -ENOENT;
	}
	j = calloc(1, sizeof(*j));
	list = strdup(exclude);
	if (!j || !list) {
		free(j);
		free(list);
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	for (char *t = strtok_r(list, ", ", &save); t && n < KEEL_MAX_TYPE_FILTERS;
	     t = strtok_r(NULL, ", ", &save))
		j->exclude.types[n++] = strdup(t);
	free(list);
	*ret_priv = j;
	return 0;
}
