/*
 * manifest.c - a plugin's manifest: the INI file beside its .so (hello.so ->
 * hello.manifest) saying what it reads, which tables it owns, and its policy and limits.
 * libinih reads the syntax; this file only checks each field as it comes, so the first
 * error is reported with its line (inih returns the line of the first handler failure).
 *
 *   [plugin]                  [limits]                  [table visits]
 *   id = hello                timeout = 30              id = id
 *   reads = v_plugin_users    memory = 256M             user_id = integer
 *   policy = hello.policy     statement_timeout = 5000  note = text not null
 */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "runner/runner.h"

/* What the handler carries between calls. */
struct parse {
	struct sv_manifest *m;
	char dir[PATH_MAX]; /* the manifest's directory, for a relative policy */
	char error[512];    /* the first field error, without file and line */
	int seen_id, seen_policy;
};

static const struct {
	const char *word;
	enum sv_column_type type;
} column_types[] = {
    {"id", SV_COL_ID},	   {"integer", SV_COL_INTEGER}, {"real", SV_COL_REAL},
    {"text", SV_COL_TEXT}, {"boolean", SV_COL_BOOLEAN}, {"timestamp", SV_COL_TIMESTAMP},
};

/* Records the first field error; returns 0 so inih notes the line. */
static int SV_PRINTF(4, 5)
    field_error(struct parse *p, const char *section, const char *name, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	if (p->error[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(what, sizeof(what), fmt, ap);
		va_end(ap);
		snprintf(p->error, sizeof(p->error), "[%s] %s: %s", section, name, what);
	}
	return 0;
}

/* Adds each word of @value (one or more views) to the rights. */
static int
add_views(struct parse *p, const char *value)
{
	struct sv_rights *r = &p->m->rights;
	char *copy = strdup(value), *word, *save = NULL, **more;
	int ok = copy != NULL;

	for (word = ok ? strtok_r(copy, " \t,", &save) : NULL; ok && word;
	     word = strtok_r(NULL, " \t,", &save)) {
		if (strncmp(word, "v_plugin_", 9) != 0 || !sv_is_plain_name(word, 63, 1)) {
			ok = -1;
			break;
		}
		if (!(more = realloc(r->views, (r->nviews + 1) * sizeof(*more))) ||
		    !(more[r->nviews] = strdup(word))) {
			if (more)
				r->views = more;
			ok = 0;
			break;
		}
		r->views = more;
		r->nviews++;
	}
	free(copy);
	return ok;
}

/* One key of [plugin]. */
static int
plugin_key(struct parse *p, const char *name, const char *value)
{
	int r;

	if (strcmp(name, "id") == 0) {
		if (p->seen_id++)
			return field_error(p, "plugin", name, "given twice");
		if (!sv_is_plain_name(value, 64, 0))
			return field_error(p, "plugin", name,
					   "\"%s\" is not an id: expected [a-z][a-z0-9]*", value);
		snprintf(p->m->rights.id, sizeof(p->m->rights.id), "%s", value);
		return 1;
	}
	if (strcmp(name, "reads") == 0) {
		p->m->rights.all_views = 0;
		if ((r = add_views(p, value)) < 0)
			return field_error(p, "plugin", name,
					   "\"%s\": a plugin reads only v_plugin_* views", value);
		return r ? 1 : field_error(p, "plugin", name, "out of memory");
	}
	if (strcmp(name, "policy") == 0) {
		if (p->seen_policy++)
			return field_error(p, "plugin", name, "given twice");
		if (value[0] == '\0')
			return field_error(p, "plugin", name, "empty");
		if (value[0] == '/')
			p->m->policy = strdup(value);
		else if (asprintf(&p->m->policy, "%s/%s", p->dir, value) < 0)
			p->m->policy = NULL;
		return p->m->policy ? 1 : field_error(p, "plugin", name, "out of memory");
	}
	return field_error(p, "plugin", name, "unknown key (known: id, reads, policy)");
}

/* One key of [limits]: counts, sizes (K, M, G) and milliseconds. */
static int
limits_key(struct parse *p, const char *name, const char *value)
{
	static const struct {
		const char *name;
		size_t offset;
		int size;
		unsigned long max;
	} keys[] = {
	    {"timeout", offsetof(struct sv_manifest, timeout), 0, 86400},
	    {"cpu", offsetof(struct sv_manifest, cpu_seconds), 0, 86400},
	    {"memory", offsetof(struct sv_manifest, memory), 1, 1ul << 40},
	    {"max_requests", offsetof(struct sv_manifest, max_requests), 0, 1ul << 40},
	    {"max_result", offsetof(struct sv_manifest, max_result), 1, 1ul << 30},
	    {"statement_timeout", offsetof(struct sv_manifest, statement_ms), 0, 86400000},
	};
	unsigned long *slot;
	long v;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(name, keys[i].name) != 0)
			continue;
		slot = (unsigned long *)((char *)p->m + keys[i].offset);
		if (*slot)
			return field_error(p, "limits", name, "given twice");
		if (keys[i].size ? sv_parse_size(value, keys[i].max, slot) < 0
				 : sv_parse_long(value, 1, (long)keys[i].max, &v) < 0)
			return field_error(p, "limits", name,
					   keys[i].size
					       ? "\"%s\": expected a size like 256M"
					       : "\"%s\": expected a positive whole number",
					   value);
		if (!keys[i].size)
			*slot = (unsigned long)v;
		return 1;
	}
	return field_error(p, "limits", name,
			   "unknown key (known: timeout, cpu, memory, "
			   "max_requests, max_result, statement_timeout)");
}

/* One column of a [table NAME] section: "name = type [not null]". */
static int
table_key(struct parse *p, const char *section, const char *name, const char *value)
{
	struct sv_rights *r = &p->m->rights;
	struct sv_table *t;
	struct sv_column *cols;
	char table[160], type[32];
	size_t i, n;
	int not_null = 0;

	snprintf(table, sizeof(table), "plugin_%s_%s", r->id, section + 6);
	if (!p->seen_id)
		return field_error(p, section, name, "[plugin] id must come first");
	if (!sv_is_plain_name(section + 6, 40, 1))
		return field_error(p, section, name, "table name \"%s\": expected [a-z][a-z0-9_]*",
				   section + 6);
	if (!sv_is_plain_name(name, 63, 1))
		return field_error(p, section, name,
				   "column name \"%s\": expected "
				   "[a-z][a-z0-9_]*",
				   name);
	n = strcspn(value, " \t");
	if (n >= sizeof(type))
		n = sizeof(type) - 1;
	memcpy(type, value, n);
	type[n] = '\0';
	if (value[n] != '\0') {
		if (strcasecmp(value + n + strspn(value + n, " \t"), "not null") != 0)
			return field_error(p, section, name,
					   "\"%s\": expected TYPE or TYPE not null", value);
		not_null = 1;
	}
	for (i = 0; i < sizeof(column_types) / sizeof(column_types[0]); i++)
		if (strcmp(type, column_types[i].word) == 0)
			break;
	if (i == sizeof(column_types) / sizeof(column_types[0]))
		return field_error(p, section, name,
				   "type \"%s\": expected id, integer, real, "
				   "text, boolean or timestamp",
				   type);
	for (t = NULL, n = 0; n < r->ntables; n++)
		if (strcmp(r->tables[n].name, table) == 0)
			t = &r->tables[n];
	if (!t) {
		if (!(t = realloc(r->tables, (r->ntables + 1) * sizeof(*t))))
			return field_error(p, section, name, "out of memory");
		r->tables = t;
		t = &r->tables[r->ntables];
		memset(t, 0, sizeof(*t));
		if (!(t->name = strdup(table)))
			return field_error(p, section, name, "out of memory");
		r->ntables++;
	}
	for (n = 0; n < t->ncols; n++)
		if (strcmp(t->cols[n].name, name) == 0)
			return field_error(p, section, name, "column given twice");
	if (!(cols = realloc(t->cols, (t->ncols + 1) * sizeof(*cols))))
		return field_error(p, section, name, "out of memory");
	t->cols = cols;
	if (!(cols[t->ncols].name = strdup(name)))
		return field_error(p, section, name, "out of memory");
	cols[t->ncols].type = column_types[i].type;
	cols[t->ncols].not_null = not_null;
	t->ncols++;
	return 1;
}

/* inih's callback: one "name = value" of @section. */
static int
handle(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;

	if (strcmp(section, "plugin") == 0)
		return plugin_key(p, name, value);
	if (strcmp(section, "limits") == 0)
		return limits_key(p, name, value);
	if (strncmp(section, "table ", 6) == 0)
		return table_key(p, section, name, value);
	return field_error(p, section, name,
			   "unknown section (known: [plugin], [limits], "
			   "[table NAME])");
}

/* The manifest path for @plugin, malloc'd: the same name with ".manifest" for ".so". */
static char *
manifest_path(const char *plugin)
{
	size_t n = strlen(plugin);
	char *out;

	if (n > 3 && strcmp(plugin + n - 3, ".so") == 0)
		n -= 3;
	if ((out = malloc(n + sizeof(".manifest"))) == NULL)
		return NULL;
	memcpy(out, plugin, n);
	memcpy(out + n, ".manifest", sizeof(".manifest"));
	return out;
}

int
sv_manifest_load(const char *plugin, struct sv_manifest *m, char *err, size_t errlen)
{
	struct parse p = {.m = m};
	char *slash;
	int line, r;

	memset(m, 0, sizeof(*m));
	m->rights.all_views = 1;
	if ((r = sv_plugin_id(plugin, m->rights.id, sizeof(m->rights.id), err, errlen)) < 0)
		return r;
	if ((m->path = manifest_path(plugin)) == NULL) {
		snprintf(err, errlen, "manifest of %s: out of memory", plugin);
		return -ENOMEM;
	}
	/* No manifest: the defaults hold. One that cannot be looked at never means them. */
	if (access(m->path, F_OK) < 0) {
		r = -errno;
		if (r == -ENOENT) {
			free(m->path);
			m->path = NULL;
			return 0;
		}
		/* The reason first: a path this long would push it past @errlen. */
		snprintf(err, errlen, "cannot look up the manifest (%s): %s", strerror(-r), m->path);
		sv_manifest_clear(m);
		return r;
	}
	snprintf(p.dir, sizeof(p.dir), "%s", m->path);
	if ((slash = strrchr(p.dir, '/')))
		*slash = '\0';
	else
		snprintf(p.dir, sizeof(p.dir), ".");
	/* The id comes from the manifest, not the file name, once there is one. */
	m->rights.id[0] = '\0';
	line = ini_parse(m->path, handle, &p);
	if (line < 0) {
		snprintf(err, errlen, "manifest %s: %s", m->path,
			 line == -1 ? "cannot be read" : "out of memory");
		r = -EIO;
	} else if (line > 0) {
		snprintf(err, errlen, "manifest %s:%d: %s", m->path, line,
			 p.error[0] ? p.error
				    : "not a valid line (expected [section] or "
				      "name = value, at most 199 bytes)");
		r = -EINVAL;
	} else if (!p.seen_id) {
		snprintf(err, errlen, "manifest %s: [plugin] id is missing", m->path);
		r = -EINVAL;
	} else {
		r = 0;
	}
	if (r < 0)
		sv_manifest_clear(m);
	return r;
}

void
sv_manifest_clear(struct sv_manifest *m)
{
	sv_rights_clear(&m->rights);
	free(m->policy);
	m->policy = NULL;
	free(m->path);
	m->path = NULL;
}
