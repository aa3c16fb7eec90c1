/*
 * authz.c - what a plugin's SQL may touch on SQLite (RFC-0005): read the core v_plugin_*
 * views and its own plugin_<id>_* tables, write its own tables, nothing else.
 *
 * SQLite asks the authorizer about every object while it compiles a statement
 * (https://www.sqlite.org/c3ref/set_authorizer.html); the switch below decides every
 * action code explicitly and denies what it does not know. The statement's first keyword
 * is checked as well, because a few statements (VACUUM) compile without any callback.
 */
#include "broker/backend.h"
#include "broker/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One table column a core view reads, learned when the session opens. */
struct view_read {
	char *table;
	char *column;
};

struct view {
	char *name;
	struct view_read *reads;
	size_t nreads;
};

struct sv_authz {
	char prefix[80];		/* "plugin_<id>_" */
	size_t prefixlen;
	struct view *views;
	size_t nviews;
	struct view *learning;
	char **tables;			/* every table and view of main, from core */
	size_t ntables;
	int trusted;
	/* Tables read through a core view in the current statement (names owned by views). */
	const char **via_view;
	size_t nvia, capvia;
	int denied;
	char message[256];
	char reason[512];
	char objects[512];	/* tables and views the statement named, space-separated */
	size_t objlen;
	int objfull;
};

/* Names of the action codes, for the operator's log and the plugin's message. */
static const struct {
	int code;
	const char *sym;
	const char *what;
} actions[] = {
	{ SQLITE_COPY, "SQLITE_COPY", "COPY" },
	{ SQLITE_CREATE_INDEX, "SQLITE_CREATE_INDEX", "CREATE INDEX" },
	{ SQLITE_CREATE_TABLE, "SQLITE_CREATE_TABLE", "CREATE TABLE" },
	{ SQLITE_CREATE_TEMP_INDEX, "SQLITE_CREATE_TEMP_INDEX", "CREATE TEMP INDEX" },
	{ SQLITE_CREATE_TEMP_TABLE, "SQLITE_CREATE_TEMP_TABLE", "CREATE TEMP TABLE" },
	{ SQLITE_CREATE_TEMP_TRIGGER, "SQLITE_CREATE_TEMP_TRIGGER", "CREATE TEMP TRIGGER" },
	{ SQLITE_CREATE_TEMP_VIEW, "SQLITE_CREATE_TEMP_VIEW", "CREATE TEMP VIEW" },
	{ SQLITE_CREATE_TRIGGER, "SQLITE_CREATE_TRIGGER", "CREATE TRIGGER" },
	{ SQLITE_CREATE_VIEW, "SQLITE_CREATE_VIEW", "CREATE VIEW" },
	{ SQLITE_DELETE, "SQLITE_DELETE", "DELETE" },
	{ SQLITE_DROP_INDEX, "SQLITE_DROP_INDEX", "DROP INDEX" },
	{ SQLITE_DROP_TABLE, "SQLITE_DROP_TABLE", "DROP TABLE" },
	{ SQLITE_DROP_TEMP_INDEX, "SQLITE_DROP_TEMP_INDEX", "DROP TEMP INDEX" },
	{ SQLITE_DROP_TEMP_TABLE, "SQLITE_DROP_TEMP_TABLE", "DROP TEMP TABLE" },
	{ SQLITE_DROP_TEMP_TRIGGER, "SQLITE_DROP_TEMP_TRIGGER", "DROP TEMP TRIGGER" },
	{ SQLITE_DROP_TEMP_VIEW, "SQLITE_DROP_TEMP_VIEW", "DROP TEMP VIEW" },
	{ SQLITE_DROP_TRIGGER, "SQLITE_DROP_TRIGGER", "DROP TRIGGER" },
	{ SQLITE_DROP_VIEW, "SQLITE_DROP_VIEW", "DROP VIEW" },
	{ SQLITE_INSERT, "SQLITE_INSERT", "INSERT" },
	{ SQLITE_PRAGMA, "SQLITE_PRAGMA", "PRAGMA" },
	{ SQLITE_READ, "SQLITE_READ", "read" },
	{ SQLITE_SELECT, "SQLITE_SELECT", "SELECT" },
	{ SQLITE_TRANSACTION, "SQLITE_TRANSACTION", "transaction control" },
	{ SQLITE_UPDATE, "SQLITE_UPDATE", "UPDATE" },
	{ SQLITE_ATTACH, "SQLITE_ATTACH", "ATTACH" },
	{ SQLITE_DETACH, "SQLITE_DETACH", "DETACH" },
	{ SQLITE_ALTER_TABLE, "SQLITE_ALTER_TABLE", "ALTER TABLE" },
	{ SQLITE_REINDEX, "SQLITE_REINDEX", "REINDEX" },
	{ SQLITE_ANALYZE, "SQLITE_ANALYZE", "ANALYZE" },
	{ SQLITE_CREATE_VTABLE, "SQLITE_CREATE_VTABLE", "CREATE VIRTUAL TABLE" },
	{ SQLITE_DROP_VTABLE, "SQLITE_DROP_VTABLE", "DROP VIRTUAL TABLE" },
	{ SQLITE_FUNCTION, "SQLITE_FUNCTION", "function" },
	{ SQLITE_SAVEPOINT, "SQLITE_SAVEPOINT", "savepoint" },
	{ SQLITE_RECURSIVE, "SQLITE_RECURSIVE", "recursive query" },
};

/*
 * Functions a plugin may call: pure computations on values. Left out on purpose, among
 * others: load_extension (code loading), fts3_tokenizer (pointer games), sqlite_version,
 * sqlite_source_id and sqlite_compileoption_* (fingerprinting), sqlite_offset and
 * total_changes. randomblob and zeroblob stay, since SQLITE_LIMIT_LENGTH bounds them.
 */
static const char *const functions[] = {
	"->", "->>", "abs", "avg", "changes", "char", "coalesce", "count", "cume_dist",
	"date", "datetime", "dense_rank", "first_value", "format", "glob", "group_concat",
	"hex", "ifnull", "iif", "instr", "json", "json_array", "json_array_length",
	"json_extract", "json_group_array", "json_group_object", "json_insert", "json_object",
	"json_patch", "json_quote", "json_remove", "json_replace", "json_set", "json_type",
	"json_valid", "julianday", "lag", "last_insert_rowid", "last_value", "lead", "length",
	"like", "likelihood", "likely", "lower", "ltrim", "max", "min", "nth_value", "ntile",
	"nullif", "percent_rank", "printf", "quote", "random", "randomblob", "rank", "replace",
	"round", "row_number", "rtrim", "strftime", "substr", "substring", "sum", "time",
	"total", "trim", "typeof", "unicode", "unixepoch", "unlikely", "upper", "zeroblob",
};

/*
 * PRAGMAs a plugin may read (never set): data_version only, because it tells a plugin
 * whether anyone changed the database without naming a single object, while nearly every
 * other read pragma (table_info, index_list, foreign_key_list, ...) describes schema.
 */
static const char *const pragmas[] = {
	"data_version",
};

/* Statement kinds a plugin may run; everything else is refused before compiling. */
static const char *const kinds[] = {
	"DELETE", "INSERT", "PRAGMA", "REPLACE", "SELECT", "UPDATE", "VALUES", "WITH",
};

int
sv_authz_new(const char *plugin_id, struct sv_authz **out)
{
	struct sv_authz *a;

	*out = NULL;
	if (!(a = calloc(1, sizeof(*a))))
		return -ENOMEM;
	if (snprintf(a->prefix, sizeof(a->prefix), "plugin_%s_", plugin_id) >=
	    (int)sizeof(a->prefix)) {
		free(a);
		return -EINVAL;
	}
	a->prefixlen = strlen(a->prefix);
	*out = a;
	return 0;
}

void
sv_authz_free(struct sv_authz *a)
{
	size_t i, j;

	if (!a)
		return;
	for (i = 0; i < a->nviews; i++) {
		for (j = 0; j < a->views[i].nreads; j++) {
			free(a->views[i].reads[j].table);
			free(a->views[i].reads[j].column);
		}
		free(a->views[i].reads);
		free(a->views[i].name);
	}
	free(a->views);
	for (i = 0; i < a->ntables; i++)
		free(a->tables[i]);
	free(a->tables);
	free(a->via_view);
	free(a);
}

int
sv_authz_add_table(struct sv_authz *a, const char *name)
{
	char **tables;

	tables = realloc(a->tables, (a->ntables + 1) * sizeof(*tables));
	if (!tables)
		return -ENOMEM;
	a->tables = tables;
	if (!(tables[a->ntables] = strdup(name)))
		return -ENOMEM;
	a->ntables++;
	return 0;
}

int
sv_authz_learn_begin(struct sv_authz *a, const char *name)
{
	struct view *views;

	views = realloc(a->views, (a->nviews + 1) * sizeof(*views));
	if (!views)
		return -ENOMEM;
	a->views = views;
	memset(&views[a->nviews], 0, sizeof(views[0]));
	if (!(views[a->nviews].name = strdup(name)))
		return -ENOMEM;
	a->learning = &views[a->nviews++];
	return 0;
}

void
sv_authz_learn_end(struct sv_authz *a)
{
	a->learning = NULL;
}

void
sv_authz_set_trusted(struct sv_authz *a, int on)
{
	a->trusted = on;
}

void
sv_authz_begin(struct sv_authz *a)
{
	a->nvia = 0;
	a->denied = 0;
	a->message[0] = '\0';
	a->reason[0] = '\0';
	a->objects[0] = '\0';
	a->objlen = 0;
	a->objfull = 0;
}

const char *
sv_authz_objects(const struct sv_authz *a)
{
	return a->objects;
}

/* Notes @name among the statement's objects, once; when full, " ..." ends the list. */
static void
note_object(struct sv_authz *a, const char *name)
{
	size_t n = name ? strlen(name) : 0, room = sizeof(a->objects) - a->objlen;

	if (n == 0 || a->trusted || a->learning || a->objfull ||
	    sv_sqlite_in_list(a->objects, name))
		return;
	if (n + sizeof(" ...") + 1 > room) {
		snprintf(a->objects + a->objlen, room, "%s...", a->objlen ? " " : "");
		a->objfull = 1;
		return;
	}
	a->objlen += (size_t)snprintf(a->objects + a->objlen, room, "%s%s", a->objlen ? " " : "",
				      name);
}

int
sv_authz_denied(const struct sv_authz *a)
{
	return a->denied;
}

const char *
sv_authz_message(const struct sv_authz *a)
{
	return a->message;
}

const char *
sv_authz_reason(const struct sv_authz *a)
{
	return a->reason;
}

/* Whether @name is in the list @list of @n names, compared as SQLite does (ASCII case). */
static int
listed(const char *const *list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; name && i < n; i++)
		if (strcasecmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* Writes "not permitted: <what>[ <name>]" with @name lowercased, as SQLite folds case. */
static void
format_refusal(char *msg, size_t msglen, const char *what, const char *name)
{
	size_t n;

	snprintf(msg, msglen, "not permitted: %s%s", what, name ? " " : "");
	n = strlen(msg);
	for (; name && *name && n + 1 < msglen; name++)
		msg[n++] = (char)tolower((unsigned char)*name);
	if (msglen > 0)
		msg[n < msglen ? n : msglen - 1] = '\0';
}

/* The action code's symbol, so the log can be grepped against the SQLite docs. */
static const char *
action_sym(int action)
{
	size_t i;

	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (actions[i].code == action)
			return actions[i].sym;
	return "unknown action";
}

/* What the plugin asked for, in words it can be shown. */
static const char *
action_what(int action)
{
	size_t i;

	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (actions[i].code == action)
			return actions[i].what;
	return "statement";
}

/* Prints an absent authorizer argument as "-". */
static const char *
orempty(const char *s)
{
	return s ? s : "-";
}

/*
 * Records the first denial of the statement: the plugin learns only @what and @name (an
 * object it named itself), the operator everything SQLite reported.
 */
static int
deny(struct sv_authz *a, int action, const char *what, const char *name, const char *arg1,
     const char *arg2, const char *db, const char *inner)
{
	if (a->denied)
		return SQLITE_DENY;
	a->denied = 1;
	format_refusal(a->message, sizeof(a->message), what, name);
	snprintf(a->reason, sizeof(a->reason),
		 "authorizer denied %s for plugin %.*s: arg1=%s arg2=%s db=%s inside=%s",
		 action_sym(action), (int)(a->prefixlen - 8), a->prefix + 7, orempty(arg1),
		 orempty(arg2), orempty(db), orempty(inner));
	return SQLITE_DENY;
}

/* The plugin's own tables are plugin_<id>_<name>; ids never hold '_', so no id's prefix
 * is another's. */
static int
own_table(const struct sv_authz *a, const char *table)
{
	return table && strncasecmp(table, a->prefix, a->prefixlen) == 0 &&
	       table[a->prefixlen] != '\0';
}

/* The core view named @name, compared without case as SQLite does. */
static struct view *
find_view(const struct sv_authz *a, const char *name)
{
	size_t i;

	for (i = 0; name && i < a->nviews; i++)
		if (strcasecmp(a->views[i].name, name) == 0)
			return &a->views[i];
	return NULL;
}

/* Returns the view's own copy of @table when @v reads @table.@column, else NULL. */
static const char *
view_reads(const struct view *v, const char *table, const char *column)
{
	size_t i;

	for (i = 0; i < v->nreads; i++)
		if (strcasecmp(v->reads[i].table, table) == 0 &&
		    strcasecmp(v->reads[i].column, column) == 0)
			return v->reads[i].table;
	return NULL;
}

/* Records the table columns the view being learned reads; core's own SQL is trusted. */
static int
learn(struct sv_authz *a, int action, const char *table, const char *column,
      const char *inner)
{
	struct view *v = a->learning;
	struct view_read *reads;

	if (action != SQLITE_READ || !table || !column || !inner ||
	    strcasecmp(inner, v->name) != 0 || view_reads(v, table, column))
		return SQLITE_OK;
	reads = realloc(v->reads, (v->nreads + 1) * sizeof(*reads));
	if (!reads)
		return SQLITE_DENY;
	v->reads = reads;
	reads[v->nreads].table = strdup(table);
	reads[v->nreads].column = strdup(column);
	if (!reads[v->nreads].table || !reads[v->nreads].column) {
		free(reads[v->nreads].table);
		free(reads[v->nreads].column);
		return SQLITE_DENY;
	}
	v->nreads++;
	return SQLITE_OK;
}

/* Remembers that this statement reads @table through a view (see decide_read). */
static int
note_via_view(struct sv_authz *a, const char *table)
{
	const char **via;
	size_t cap;

	if (a->nvia == a->capvia) {
		cap = a->capvia ? 2 * a->capvia : 8;
		if (!(via = realloc(a->via_view, cap * sizeof(*via))))
			return -ENOMEM;
		a->via_view = via;
		a->capvia = cap;
	}
	a->via_view[a->nvia++] = table;
	return 0;
}

/* Whether this statement already read @table through a core view. */
static int
read_via_view(const struct sv_authz *a, const char *table)
{
	size_t i;

	for (i = 0; i < a->nvia; i++)
		if (strcasecmp(a->via_view[i], table) == 0)
			return 1;
	return 0;
}

/*
 * A read is allowed of the plugin's own tables, of a core view's columns, and of a table
 * column inside a core view when that view itself reads that column. The last test
 * matters: SQLite reports the innermost FROM-item name as the context, and a CTE named
 * v_plugin_users gives the same context as the real view. Since only the columns the view
 * reads are granted, such a CTE sees no column the view does not show (v_plugin_* views
 * must therefore be plain projections: a row filter in one could be bypassed this way).
 * A read with an empty column ("SELECT count(*) FROM t") is allowed only of a table this
 * statement already reads through a view, as SQLite reports count(*) over a flattened view
 * that way; the residual is that "FROM users, v_plugin_users" shows users' row count.
 * SQLite gives such an empty-column read no schema name, and also makes one for a CTE.
 */
static int
decide_read(struct sv_authz *a, const char *table, const char *column, const char *db,
	    const char *inner)
{
	const struct view *v;
	const char *copy;

	/* SQLite gives no schema name with an empty column; the plugin has no temp tables. */
	if (!table || !column || (db ? strcmp(db, "main") != 0 : column[0] != '\0'))
		goto refuse;
	if (own_table(a, table) || find_view(a, table)) {
		note_object(a, table);
		return SQLITE_OK;
	}
	/* Inside a view the plugin named the view, not the table under it. */
	if (inner && (v = find_view(a, inner)) && (copy = view_reads(v, table, column))) {
		note_object(a, inner);
		if (note_via_view(a, copy) < 0)
			goto refuse;
		return SQLITE_OK;
	}
	if (column[0] == '\0' && read_via_view(a, table))
		return SQLITE_OK;
	if (!db && !listed((const char *const *)a->tables, a->ntables, table) &&
	    strncasecmp(table, "sqlite_", 7) != 0 && strncasecmp(table, "pragma_", 7) != 0 &&
	    strncasecmp(table, "json_", 5) != 0 && strcasecmp(table, "dbstat") != 0)
		/* Not in the schema: a CTE ("WITH c ... SELECT count(*) FROM c"). The
		 * built-in virtual tables are refused by name, though connecting one
		 * already fails, as it writes sqlite_master. */
		return SQLITE_OK;
refuse:
	note_object(a, table);
	/* Name the view the read happened in, not a table the plugin may never have seen. */
	return deny(a, SQLITE_READ, "access to", inner ? inner : table, table, column, db, inner);
}

/* Writes go to the plugin's own tables in main only; views and core tables are refused. */
static int
decide_write(struct sv_authz *a, int action, const char *table, const char *column,
	     const char *db)
{
	note_object(a, table);
	if (db && strcmp(db, "main") == 0 && own_table(a, table))
		return SQLITE_OK;
	return deny(a, action, "access to", table, table, column, db, NULL);
}

int
sv_authz_callback(void *arg, int action, const char *arg1, const char *arg2, const char *db,
		  const char *inner)
{
	struct sv_authz *a = arg;

	if (a->learning)
		return learn(a, action, arg1, arg2, inner);
	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_RECURSIVE:
		/* Starting a query grants nothing: every object in it is decided on its own. */
		return SQLITE_OK;
	case SQLITE_READ:
		return decide_read(a, arg1, arg2, db, inner);
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
		return decide_write(a, action, arg1, arg2, db);
	case SQLITE_FUNCTION:
		if (listed(functions, sizeof(functions) / sizeof(functions[0]), arg2))
			return SQLITE_OK;
		return deny(a, action, "function", arg2, arg1, arg2, db, inner);
	case SQLITE_PRAGMA:
		if (!arg2 && (!db || strcmp(db, "main") == 0) &&
		    listed(pragmas, sizeof(pragmas) / sizeof(pragmas[0]), arg1))
			return SQLITE_OK;
		return deny(a, action, "PRAGMA", arg1, arg1, arg2, db, inner);
	case SQLITE_TRANSACTION:
	case SQLITE_SAVEPOINT:
		/*
		 * The SDK has no transactions: a plugin holding the write lock between
		 * requests would stall the broker. Only the broker's own wrapper passes.
		 */
		if (a->trusted)
			return SQLITE_OK;
		return deny(a, action, action_what(action), NULL, arg1, arg2, db, inner);
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		/* Another file would escape every rule here; SQLITE_LIMIT_ATTACHED is 0 too. */
	case SQLITE_CREATE_INDEX:
	case SQLITE_CREATE_TABLE:
	case SQLITE_CREATE_TEMP_INDEX:
	case SQLITE_CREATE_TEMP_TABLE:
	case SQLITE_CREATE_TEMP_TRIGGER:
	case SQLITE_CREATE_TEMP_VIEW:
	case SQLITE_CREATE_TRIGGER:
	case SQLITE_CREATE_VIEW:
	case SQLITE_CREATE_VTABLE:
	case SQLITE_DROP_INDEX:
	case SQLITE_DROP_TABLE:
	case SQLITE_DROP_TEMP_INDEX:
	case SQLITE_DROP_TEMP_TABLE:
	case SQLITE_DROP_TEMP_TRIGGER:
	case SQLITE_DROP_TEMP_VIEW:
	case SQLITE_DROP_TRIGGER:
	case SQLITE_DROP_VIEW:
	case SQLITE_DROP_VTABLE:
	case SQLITE_ALTER_TABLE:
		/*
		 * The schema belongs to core: a plugin's tables are created for it, and a
		 * trigger or view of its own could run code under someone else's rights.
		 */
	case SQLITE_REINDEX:
	case SQLITE_ANALYZE:
		/* Maintenance writes core structures and names them in its errors. */
	case SQLITE_COPY:
		/* Unused since SQLite 3; refused rather than trusted. */
		return deny(a, action, action_what(action), NULL, arg1, arg2, db, inner);
	default:
		return deny(a, action, "statement", NULL, arg1, arg2, db, inner);
	}
}

/* Skips whitespace and comments as SQLite's tokenizer does; an open comment runs to the end. */
static const char *
skip_blank(const char *p)
{
	for (;;) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\f' || *p == '\r') {
			p++;
		} else if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			p += 2;
			while (*p && !(p[0] == '*' && p[1] == '/'))
				p++;
			if (*p)
				p += 2;
		} else {
			return p;
		}
	}
}

int
sv_authz_is_blank(const char *sql)
{
	return *skip_blank(sql) == '\0';
}

/* Identifier characters as SQLite's tokenizer knows them (bytes >= 0x80 included). */
static int
ident_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

int
sv_check_kind(const char *sql, const char *const *kinds_, size_t nkinds, char *msg, size_t msglen)
{
	char word[16];
	size_t n = 0;
	const char *p = skip_blank(sql);

	if (*p == '\0') {
		snprintf(msg, msglen, "no statement");
		return -EINVAL;
	}
	while (ident_char((unsigned char)p[n]) && n + 1 < sizeof(word)) {
		word[n] = (char)toupper((unsigned char)p[n]);
		n++;
	}
	word[n] = '\0';
	if (!ident_char((unsigned char)p[n]) && listed(kinds_, nkinds, word))
		return 0;
	if (n == 0 || ident_char((unsigned char)p[n]))
		snprintf(msg, msglen, "not permitted: this kind of statement");
	else
		snprintf(msg, msglen, "not permitted: %s", word);
	return -EACCES;
}

int
sv_authz_check_kind(const char *sql, char *msg, size_t msglen)
{
	return sv_check_kind(sql, kinds, sizeof(kinds) / sizeof(kinds[0]), msg, msglen);
}

/*
 * SQLite checks names (and, for UPDATE and DELETE, whether the target is a view) before
 * the authorizer sees them, so without this a plugin could
 * tell "users exists but is forbidden" from "nosuch does not exist". Tables are handled
 * fully: a missing table and a forbidden one both read "not permitted: access to <name>".
 * Columns are not: SQLite resolves the tables of a FROM clause, then the columns, and
 * reports an unknown column before the authorizer hears of the table, so "SELECT nosuch
 * FROM users" says "access to nosuch" where "SELECT nosuch FROM nope" says "access to
 * nope". That still reveals that a table named users exists; it reveals none of its
 * columns, since a real column of a forbidden table is refused as "access to users".
 */
int
sv_authz_hide_missing(const char *errmsg, char *msg, size_t msglen)
{
	static const char table[] = "no such table: ", column[] = "no such column: ",
			  modify[] = "cannot modify ", view[] = " because it is a view";
	const char *name, *end;
	char buf[128];

	if (strncmp(errmsg, table, sizeof(table) - 1) == 0) {
		name = errmsg + sizeof(table) - 1;
		/* A qualified name comes back as "main.x"; a denial names plain "x". */
		if (strncasecmp(name, "main.", 5) == 0 || strncasecmp(name, "temp.", 5) == 0)
			name += 5;
	} else if (strncmp(errmsg, column, sizeof(column) - 1) == 0) {
		name = errmsg + sizeof(column) - 1;
	} else if (strncmp(errmsg, modify, sizeof(modify) - 1) == 0 &&
		   (end = strstr(errmsg, view)) && end[sizeof(view) - 1] == '\0') {
		/* UPDATE and DELETE check for a view before asking the authorizer. */
		name = errmsg + sizeof(modify) - 1;
		snprintf(buf, sizeof(buf), "%.*s", (int)(end - name), name);
		name = buf;
	} else {
		return 0;
	}
	format_refusal(msg, msglen, "access to", name);
	return 1;
}
