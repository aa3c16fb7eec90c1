/*
 * audit.c - the audit trail: one JSON line per plugin request, appended to a file with
 * one write() each, so lines from one broker never interleave and a reader can follow
 * the file while it grows.
 *
 * Everything in a line that came from a plugin (its SQL, its parameters) is escaped
 * into valid JSON: control characters and quotes as \u escapes, bytes that are not UTF-8
 * as U+FFFD. Parameter values are left out unless the operator asked for them, since
 * they may hold personal data. A line that cannot be written is an error the caller
 * must act on: the broker answers no request it could not record.
 */
#include "broker/broker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"

/* The longest SQL text kept in a line; the rest is cut, and an ellipsis says so. */
#define SQL_KEPT 4096
/* The longest parameter value kept in a line. */
#define PARAM_KEPT 256

struct sv_audit {
	int fd;
	int params;	/* log parameter values too */
	char path[4096];
};

/* A growing line; on running out of memory it stays failed and is never written. */
struct line {
	char *buf;
	size_t len;
	size_t cap;
	int failed;
};

int
sv_audit_open(const char *path, int params, struct sv_audit **out, char *err, size_t errlen)
{
	struct sv_audit *a;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	a->params = params;
	if (sv_strlcpy(a->path, path, sizeof(a->path)) < 0) {
		snprintf(err, errlen, "audit trail path too long");
		free(a);
		return -ENAMETOOLONG;
	}
	/* Readable by the operator only: it names what every plugin did. */
	if ((a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600)) < 0) {
		snprintf(err, errlen, "cannot open the audit trail %s: %s", path, strerror(errno));
		free(a);
		return -errno;
	}
	*out = a;
	return 0;
}

void
sv_audit_close(struct sv_audit *a)
{
	if (a == NULL)
		return;
	sv_closep(&a->fd);
	free(a);
}

const char *
sv_audit_path(const struct sv_audit *a)
{
	return a->path;
}

/* Appends @n bytes to @l. */
static void
put_bytes(struct line *l, const char *s, size_t n)
{
	size_t cap;
	char *nb;

	if (l->failed)
		return;
	if (l->cap - l->len < n + 1) {
		cap = (l->cap ? 2 * l->cap : 512) + n;
		if ((nb = realloc(l->buf, cap)) == NULL) {
			l->failed = 1;
			return;
		}
		l->buf = nb;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static void put(struct line *l, const char *fmt, ...) SV_PRINTF(2, 3);

/* Appends formatted text that holds nothing from a plugin. */
static void
put(struct line *l, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		put_bytes(l, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* The length of the valid UTF-8 sequence at @s (at most @n bytes), or 0 if there is none. */
static size_t
utf8_length(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Appends @s (at most @max bytes of it) as a JSON string; NULL as null. */
static void
put_string(struct line *l, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, k;

	if (s == NULL) {
		put_bytes(l, "null", 4);
		return;
	}
	n = strlen(s);
	put_bytes(l, "\"", 1);
	while (n > 0 && max > 0) {
		k = utf8_length(p, n);
		if (k == 0) {
			put_bytes(l, "\\ufffd", 6);
			k = 1;
		} else if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f) {
			put(l, "\\u%04x", *p);
		} else {
			put_bytes(l, (const char *)p, k);
		}
		p += k;
		n -= k;
		max = max > k ? max - k : 0;
	}
	/* Cut: an ellipsis says so, inside the string, so arrays stay valid too. */
	if (n > 0)
		put_bytes(l, "\\u2026", 6);
	put_bytes(l, "\"", 1);
}

/* Appends a space-separated list of names as a JSON array; NULL as null. */
static void
put_names(struct line *l, const char *names)
{
	const char *p = names, *end;
	char one[256];
	int first = 1;

	if (names == NULL) {
		put_bytes(l, "null", 4);
		return;
	}
	put_bytes(l, "[", 1);
	while (*p) {
		end = strchr(p, ' ');
		if (end == NULL)
			end = p + strlen(p);
		snprintf(one, sizeof(one), "%.*s", (int)(end - p), p);
		if (!first)
			put_bytes(l, ",", 1);
		put_string(l, one, sizeof(one));
		first = 0;
		p = *end ? end + 1 : end;
	}
	put_bytes(l, "]", 1);
}

/* Starts a line with the time (UTC, microseconds), the plugin and the operation. */
static void
begin_line(struct line *l, const char *plugin, const char *op)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	put(l, "{\"time\":\"%s.%06ldZ\",\"plugin\":", when, ts.tv_nsec / 1000);
	put_string(l, plugin, SV_TAG_MAX);
	put(l, ",\"op\":\"%s\"", op);
}

/* Ends the line and writes it whole; the line's memory is freed either way. */
static int
end_line(struct sv_audit *a, struct line *l)
{
	ssize_t n;
	int r = 0;

	put_bytes(l, "}\n", 2);
	if (l->failed) {
		r = -ENOMEM;
	} else {
		/* One write with O_APPEND: the line lands whole at the end, or not at all. */
		do
			n = write(a->fd, l->buf, l->len);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			r = -errno;
		else if ((size_t)n != l->len)
			r = -ENOSPC;
	}
	free(l->buf);
	return r;
}

int
sv_audit_request(struct sv_audit *a, const struct sv_audit_request *q)
{
	struct line l = {0};

	begin_line(&l, q->plugin, q->op);
	put(&l, ",\"request\":%llu", (unsigned long long)q->id);
	if (q->sql) {
		put_bytes(&l, ",\"sql\":", 7);
		put_string(&l, q->sql, SQL_KEPT);
		put(&l, ",\"params\":%zu", q->nparams);
		if (a->params) {
			put_bytes(&l, ",\"values\":[", 11);
			for (size_t i = 0; i < q->nparams; i++) {
				if (i)
					put_bytes(&l, ",", 1);
				put_string(&l, q->params[i], PARAM_KEPT);
			}
			put_bytes(&l, "]", 1);
		}
		put_bytes(&l, ",\"objects\":", 11);
		put_names(&l, q->objects);
	}
	put(&l, ",\"decision\":\"%s\"", q->decision);
	if (q->reason && q->reason[0]) {
		put_bytes(&l, ",\"reason\":", 10);
		put_string(&l, q->reason, 1024);
	}
	put(&l, ",\"rows\":%zu,\"bytes\":%zu,\"latency_us\":%llu", q->rows, q->bytes,
	    (unsigned long long)(q->latency_ns / 1000));
	return end_line(a, &l);
}

int
sv_audit_event(struct sv_audit *a, const char *plugin, const char *op, const char *fmt, ...)
{
	struct line l = {0};
	char extra[512];
	va_list ap;

	begin_line(&l, plugin, op);
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(extra, sizeof(extra), fmt, ap);
		va_end(ap);
		put_bytes(&l, ",", 1);
		put_bytes(&l, extra, strlen(extra));
	}
	return end_line(a, &l);
}
