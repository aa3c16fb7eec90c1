/*
 * backend_sqlite.c - the embedded SQLite backend: the core connection, and per plugin a
 * second connection to the same file that runs the plugin's statements under the
 * authorizer of authz.c, hardened with sqlite3_db_config() and tight sqlite3_limit()s.
 *
 * Each plugin statement that writes runs inside a transaction the broker opens and
 * closes, so a statement that fails half-way, is interrupted or gives too large a result
 * changes nothing, and a plugin never holds a lock between two requests of its own; a
 * read is one statement in autocommit, atomic by itself. In a run (sv_session_batch: a
 * pipelined run, or the runner's read lease, at most half a millisecond while the broker
 * has no one else to serve) consecutive reads share one read transaction, which ends
 * before any write and at the end of the run.
 *
 * A statement that passed every check stays compiled in a small per-plugin cache keyed
 * by its exact text: the authorizer decides at compile time and nothing it decides on
 * changes during a session, and SQLite recompiles (asking the authorizer again) when
 * core's schema changes under a cached statement.
 */
#include "broker/backend.h"
#include "broker/internal.h"
#include "common/common.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sovereign/plugin.h>

/* How long a statement waits for another connection's lock before failing. */
#define BUSY_TIMEOUT_MS 2000
#define BUSY_STEP_MS 2
/* Virtual machine steps between two looks at the clock. */
#define PROGRESS_STEPS 1000
/* Compiled statements kept per plugin; the least recently used one makes room. */
#define STATEMENT_CACHE 32

/* A plugin statement that passed every check, kept compiled for its next request. */
struct cached {
	char *sql;
	char *objects;	/* what it names, for the audit trail (sv_authz_objects) */
	sqlite3_stmt *st;
	uint64_t used;	/* the session's request count when last used */
};

/* The broker's own transaction statements, compiled once per session (exec_trusted). */
enum trusted {
	T_BEGIN,
	T_COMMIT,
	T_ROLLBACK,
	T_SAVEPOINT,
	T_RELEASE,
	T_ROLLBACK_TO,
	T_COUNT
};

static const char *const trusted_sql[T_COUNT] = {
	[T_BEGIN] = "BEGIN",
	[T_COMMIT] = "COMMIT",
	[T_ROLLBACK] = "ROLLBACK",
	[T_SAVEPOINT] = "SAVEPOINT sv_statement",
	[T_RELEASE] = "RELEASE sv_statement",
	[T_ROLLBACK_TO] = "ROLLBACK TO sv_statement",
};

struct sqlite_session {
	struct sv_session base;
	sqlite3 *conn;
	struct sv_authz *authz;
	uint64_t deadline_ns;
	int timed_out;
	int trusted;	 /* running the broker's own BEGIN/COMMIT/ROLLBACK */
	sqlite3_stmt *tx[T_COUNT]; /* those statements, once first used */
	sqlite3 *shadow; /* in memory: only the objects the plugin may see */
	char *granted;	 /* views granted at install; NULL: never installed, all */
	struct cached cache[STATEMENT_CACHE];
	uint64_t requests;
	int batch;	/* serving a pipelined run (sv_session_batch) */
	int batch_tx;	/* the run's read transaction is open */
	sqlite3_stmt *pages;	/* the open paged query, or NULL */
	struct cached *pages_cached; /* the cache entry it came from, or NULL: owned */
	int pages_pending;	/* stepped onto a row the last page had no room for */
};

/* A relative path gets "./" so SQLite never reads "file:..." as a URI with options. */
static char *
open_path(const char *path)
{
	char *p;

	if (path[0] == '/')
		return strdup(path);
	if (!(p = malloc(strlen(path) + 3)))
		return NULL;
	strcpy(p, "./");
	strcat(p, path);
	return p;
}

/* Frees a database object at any stage of its construction. */
static void
free_db(struct sqlite_db *d)
{
	if (!d)
		return;
	sqlite3_close(d->core);
	free(d->path);
	free(d->open_path);
	free(d);
}

/*
 * The busy handler of the broker's connections, core's and each plugin's: waits for a
 * lock another connection holds, in BUSY_STEP_MS steps up to BUSY_TIMEOUT_MS, then lets
 * the statement fail as busy. Not at all inside another statement's turn
 * (sv_session_nested()): the lock may be that statement's, which cannot go on while this
 * one waits, and every plugin would wait too.
 */
static int
wait_busy(void *arg, int count)
{
	(void)arg;
	if (sv_session_nested() || count >= BUSY_TIMEOUT_MS / BUSY_STEP_MS)
		return 0;
	sqlite3_sleep(BUSY_STEP_MS);
	return 1;
}

/* Opens an existing database only, and only if it holds the core schema. */
static int
sqlite_open(const char *target, struct sv_db **out, char *err, size_t errlen)
{
	struct sqlite_db *d = NULL;
	struct stat st;
	int r;

	*out = NULL;
	if (stat(target, &st) < 0) {
		r = -errno;
		if (r == -ENOENT)
			snprintf(err, errlen,
				 "database %s does not exist; create it with: svrun init --db "
				 "sqlite:%s (add --demo for sample data)",
				 target, target);
		else
			snprintf(err, errlen, "cannot open database %s: %s", target, strerror(-r));
		goto out;
	}
	r = -ENOMEM;
	if (!(d = calloc(1, sizeof(*d))) || !(d->path = strdup(target)) ||
	    !(d->open_path = open_path(target)))
		goto out;
	d->base.ops = &sv_backend_sqlite;
	/*
	 * Every connection would otherwise allocate, and touch, 20 pages of cache up front
	 * (https://www.sqlite.org/c3ref/c_config_covering_index_scan.html#sqliteconfigpagecache):
	 * 80 KiB per plugin, idle or not, two thirds of a session's memory. Pages then come
	 * as they are read. It must precede SQLite's initialisation; a process that used
	 * SQLite before (a test) keeps the default, which is only larger.
	 */
	sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	/*
	 * The broker is one thread and keeps no count of SQLite's memory: no mutex around
	 * each connection's calls, none around each allocation's bookkeeping (a fifth of
	 * what opening a plugin's session cost went to malloc and these locks).
	 */
	sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/* Never SQLITE_OPEN_CREATE: a typo in --db must not leave an empty database behind. */
	if (sqlite3_open_v2(d->open_path, &d->core, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", target,
			 d->core ? sqlite3_errmsg(d->core) : "out of memory");
		r = -EIO;
		goto out;
	}
	sqlite3_busy_handler(d->core, wait_busy, NULL);
	if ((r = sv_schema_count(d->core, err, errlen)) < 0)
		goto out;
	if (r != SV_SCHEMA_OBJECTS) {
		snprintf(err, errlen,
			 "database %s lacks the Sovereign core schema; create it with: svrun init "
			 "--db sqlite:%s",
			 target, target);
		r = -EIO;
		goto out;
	}
	*out = &d->base;
	d = NULL;	/* transferred */
	r = 0;
out:
	free_db(d);
	return r;
}

/* The one place a database file may be created. */
static int
sqlite_init(const char *target, int demo, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char *path;
	int r;

	if (!(path = open_path(target)))
		return -ENOMEM;
	if (sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot create database %s: %s", target,
			 db ? sqlite3_errmsg(db) : "out of memory");
		r = -EIO;
		goto out;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	r = sv_schema_create(db, demo, err, errlen);
out:
	sqlite3_close(db);
	free(path);
	return r;
}

/* Closes the core connection; sessions are closed first (broker.h). */
static void
sqlite_close(struct sv_db *base)
{
	free_db((struct sqlite_db *)base);
}

/* SQLite calls this every PROGRESS_STEPS steps; non-zero interrupts the statement. */
static int
progress(void *arg)
{
	struct sqlite_session *s = arg;

	/* The broker's own ROLLBACK must finish even after the deadline or a cancel. */
	if (s->trusted)
		return 0;
	if (s->deadline_ns && sv_now_ns() >= s->deadline_ns) {
		s->timed_out = 1;
		return 1;
	}
	return sv_session_poll_cancel(&s->base);
}

/* sqlite3_limit() takes an int. */
static int
clamp(size_t v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

/*
 * Turns off what a hostile statement could use against the file or the process
 * (https://www.sqlite.org/c3ref/c_dbconfig_defensive.html, .../c_limit_attached.html):
 * DEFENSIVE forbids writable_schema and direct shadow-table writes, TRUSTED_SCHEMA off
 * keeps functions with side effects out of views and triggers, and the limits bound what
 * one statement may cost before the authorizer has even been asked.
 */
static int
harden(sqlite3 *db, const struct sv_session_limits *lim)
{
	static const int off[] = {
		SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, SQLITE_DBCONFIG_TRUSTED_SCHEMA,
		SQLITE_DBCONFIG_WRITABLE_SCHEMA,       SQLITE_DBCONFIG_DQS_DML,
		SQLITE_DBCONFIG_DQS_DDL,
	};
	size_t i;
	int v;

	if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &v) != SQLITE_OK || v != 1)
		return -EIO;
	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (sqlite3_db_config(db, off[i], 0, &v) != SQLITE_OK || v != 0)
			return -EIO;
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, clamp(lim->result_bytes));
	sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, clamp(lim->sql_bytes));
	sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 128);
	sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 100);
	sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 16);
	sqlite3_limit(db, SQLITE_LIMIT_VDBE_OP, 100000);
	sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 32);
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000);
	sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, clamp(lim->params));
	sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 4);
	sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
	sqlite3_busy_handler(db, wait_busy, NULL);
	return 0;
}

/*
 * Declares every v_plugin_* view of the core schema to the authorizer and lets it learn
 * which columns each one reads, by compiling "SELECT * FROM <view>" in learning mode.
 */
static int
learn_views(struct sqlite_session *s, sqlite3 *core)
{
	static const char list[] = "SELECT name FROM main.sqlite_master WHERE type = 'view'"
				   " AND name LIKE 'v\\_plugin\\_%' ESCAPE '\\'";
	sqlite3_stmt *names = NULL, *probe = NULL;
	char *sql = NULL;
	int r = -EIO, rc;

	if (sqlite3_prepare_v2(core, list, -1, &names, NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(names)) == SQLITE_ROW) {
		if (!sv_sqlite_in_list(s->granted, (const char *)sqlite3_column_text(names, 0)))
			continue;
		if ((r = sv_authz_learn_begin(s->authz,
					      (const char *)sqlite3_column_text(names, 0))) < 0)
			goto out;
		r = -ENOMEM;
		sql = sqlite3_mprintf("SELECT * FROM main.\"%w\"", sqlite3_column_text(names, 0));
		if (!sql)
			goto out;
		r = -EIO;
		rc = sqlite3_prepare_v2(s->conn, sql, -1, &probe, NULL);
		sv_authz_learn_end(s->authz);
		sqlite3_free(sql);
		sql = NULL;
		sqlite3_finalize(probe);
		probe = NULL;
		if (rc != SQLITE_OK)
			goto out;
	}
	r = rc == SQLITE_DONE ? 0 : -EIO;
out:
	sv_authz_learn_end(s->authz);
	sqlite3_free(sql);
	sqlite3_finalize(names);
	return r;
}

/* Tells the authorizer which names are real tables, so it can tell them from CTEs. */
static int
list_tables(struct sqlite_session *s, sqlite3 *core)
{
	static const char list[] = "SELECT name FROM main.sqlite_master"
				   " WHERE type IN ('table', 'view')";
	sqlite3_stmt *names = NULL;
	int r = -EIO, rc;

	if (sqlite3_prepare_v2(core, list, -1, &names, NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(names)) == SQLITE_ROW)
		if ((r = sv_authz_add_table(s->authz,
					    (const char *)sqlite3_column_text(names, 0))) < 0)
			goto out;
	r = rc == SQLITE_DONE ? 0 : -EIO;
out:
	sqlite3_finalize(names);
	return r;
}

/* Closes a session at any stage of its construction. */
static void
sqlite_session_close(struct sv_session *base)
{
	struct sqlite_session *s = (struct sqlite_session *)base;

	if (!s)
		return;
	if (s->pages && !s->pages_cached)
		sqlite3_finalize(s->pages);
	for (size_t i = 0; i < STATEMENT_CACHE; i++) {
		sqlite3_finalize(s->cache[i].st);
		free(s->cache[i].sql);
		free(s->cache[i].objects);
	}
	for (size_t i = 0; i < T_COUNT; i++)
		sqlite3_finalize(s->tx[i]);
	/* sqlite3_close() rolls back an open transaction; the authorizer goes after it. */
	sqlite3_close(s->conn);
	sqlite3_close(s->shadow);
	sqlite3_free(s->granted);
	sv_authz_free(s->authz);
	free(s);
}

/* Adds to the shadow a table standing for view @name, with the view's column names. */
static int
shadow_view(struct sqlite_session *s, sqlite3 *core, const char *name)
{
	sqlite3_stmt *cols = NULL;
	char *sql = NULL, *more;
	int rc, n = 0;

	if (sqlite3_prepare_v2(core, "SELECT name FROM pragma_table_info(?1)", -1, &cols, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(cols, 1, name, -1, SQLITE_STATIC);
	sql = sqlite3_mprintf("CREATE TABLE \"%w\"(", name);
	while (sql && (rc = sqlite3_step(cols)) == SQLITE_ROW) {
		more = sqlite3_mprintf("%s%s\"%w\"", sql, n++ ? ", " : "",
				       (const char *)sqlite3_column_text(cols, 0));
		sqlite3_free(sql);
		sql = more;
	}
	sqlite3_finalize(cols);
	if (sql == NULL)
		return -ENOMEM;
	more = sqlite3_mprintf("%s)", sql);
	sqlite3_free(sql);
	rc = more ? sqlite3_exec(s->shadow, more, NULL, NULL, NULL) : SQLITE_NOMEM;
	sqlite3_free(more);
	return rc == SQLITE_OK ? 0 : -EIO;
}

/*
 * Builds the shadow schema: the plugin's own tables as they are, and each v_plugin_*
 * view as a table of its columns. Every statement is compiled there first, so a name
 * the plugin cannot see gets the same answer whether or not it exists in the real
 * schema: nothing about core tables or their columns can be learned from errors.
 */
static int
build_shadow(struct sqlite_session *s, sqlite3 *core, const char *plugin_id)
{
	sqlite3_stmt *objs = NULL;
	char prefix[96];
	const char *type, *name, *sql;
	int r = -EIO, rc;

	if (sqlite3_open_v2(":memory:", &s->shadow, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return -ENOMEM;
	/*
	 * The shadow never holds a row, only a schema: its smallest page keeps every table's
	 * root page and the pager's scratch 512 bytes, not 4 KiB, in each idle session.
	 */
	if (sqlite3_exec(s->shadow, "PRAGMA page_size = 512", NULL, NULL, NULL) != SQLITE_OK)
		return -ENOMEM;
	snprintf(prefix, sizeof(prefix), "plugin_%s_", plugin_id);
	if (sqlite3_prepare_v2(core,
			       "SELECT type, name, sql FROM sqlite_schema WHERE "
			       "(type = 'view' AND substr(name, 1, 9) = 'v_plugin_') OR "
			       "(type = 'table' AND substr(name, 1, length(?1)) = ?1)",
			       -1, &objs, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(objs, 1, prefix, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(objs)) == SQLITE_ROW) {
		type = (const char *)sqlite3_column_text(objs, 0);
		name = (const char *)sqlite3_column_text(objs, 1);
		sql = (const char *)sqlite3_column_text(objs, 2);
		if (strcmp(type, "view") == 0) {
			if (sv_sqlite_in_list(s->granted, name) &&
			    (r = shadow_view(s, core, name)) < 0)
				goto out;
		} else if (sql == NULL || sqlite3_exec(s->shadow, sql, NULL, NULL, NULL) != SQLITE_OK) {
			r = -EIO;
			goto out;
		}
	}
	r = rc == SQLITE_DONE ? 0 : -EIO;
out:
	sqlite3_finalize(objs);
	return r;
}

/*
 * Compiles @sql against the shadow schema. Returns 0 when it compiles, or the refusal
 * (-EACCES) or error (-EINVAL) the plugin gets: its message names only visible objects.
 */
static int
check_shadow(struct sqlite_session *s, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	const char *msg;
	int rc = sqlite3_prepare_v2(s->shadow, sql, -1, &st, NULL);

	sqlite3_finalize(st);
	if (rc == SQLITE_OK)
		return 0;
	msg = sqlite3_errmsg(s->shadow);
	sv_session_set_reason(&s->base, "outside the plugin's view of the schema: %s", msg);
	/* The operator's log gets the real reason: compiled (never run) on the real schema. */
	st = NULL;
	sqlite3_prepare_v2(s->conn, sql, -1, &st, NULL);
	sqlite3_finalize(st);
	if (sv_authz_denied(s->authz))
		sv_session_set_reason(&s->base, "%s", sv_authz_reason(s->authz));
	if (sv_authz_hide_missing(msg, err, errlen))
		return -EACCES;
	snprintf(err, errlen, "%s", msg);
	return -EINVAL;
}

/*
 * Reads what a new session needs from core (grants, tables, views, the shadow schema)
 * in one read transaction: one consistent picture, so an install in between cannot
 * pair old grants with new tables, and core's shared lock taken twice, not four times
 * (the first prepare checks the schema under a lock of its own). Returns 0, -EBUSY or
 * another -errno.
 */
static int
read_core_for(struct sqlite_session *s, struct sqlite_db *d, const char *plugin_id, char *err,
	      size_t errlen)
{
	int r = -EIO;

	if (sqlite3_exec(d->core, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
	    (r = sv_sqlite_installed_views(d->core, plugin_id, &s->granted)) >= 0 &&
	    (r = list_tables(s, d->core)) >= 0 && (r = learn_views(s, d->core)) >= 0 &&
	    (r = build_shadow(s, d->core, plugin_id)) >= 0)
		return sqlite3_exec(d->core, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
	snprintf(err, errlen, "cannot read the plugin views of %s: %s", d->path,
		 sqlite3_errmsg(d->core));
	if ((sqlite3_extended_errcode(d->core) & 0xff) == SQLITE_BUSY)
		r = -EBUSY;
	/* It wrote nothing; a failed BEGIN left none open. */
	if (!sqlite3_get_autocommit(d->core))
		sqlite3_exec(d->core, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* A connection per plugin, so its authorizer and limits bind that plugin only. */
static int
sqlite_session_open(struct sv_db *dbase, const char *plugin_id,
		    const struct sv_session_limits *lim, struct sv_session **out, char *err,
		    size_t errlen)
{
	struct sqlite_db *d = (struct sqlite_db *)dbase;
	struct sqlite_session *s;
	int r;

	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->base.ops = &sv_backend_sqlite;
	s->base.lim = *lim;
	if ((r = sv_authz_new(plugin_id, &s->authz)) < 0) {
		snprintf(err, errlen, "cannot set up rights for plugin %s", plugin_id);
		goto out;
	}
	/* A connection of its own: the authorizer and limits must never touch core's. */
	if (sqlite3_open_v2(d->open_path, &s->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s for plugin %s: %s", d->path,
			 plugin_id, s->conn ? sqlite3_errmsg(s->conn) : "out of memory");
		r = -EIO;
		goto out;
	}
	/* Installed before anything is compiled on this connection, and never removed. */
	sqlite3_set_authorizer(s->conn, sv_authz_callback, s->authz);
	sqlite3_progress_handler(s->conn, PROGRESS_STEPS, progress, s);
	/* Before the limits, which bound plugin statements, not the core schema's. */
	if ((r = read_core_for(s, d, plugin_id, err, errlen)) < 0)
		goto out;
	if ((r = harden(s->conn, lim)) < 0) {
		snprintf(err, errlen, "cannot restrict the database connection of plugin %s",
			 plugin_id);
		goto out;
	}
	*out = &s->base;
	s = NULL;	/* transferred */
	r = 0;
out:
	sqlite_session_close(s ? &s->base : NULL);
	return r;
}

/* Read by progress() while a statement runs. */
static void
sqlite_set_deadline(struct sv_session *base, uint64_t deadline_ns)
{
	((struct sqlite_session *)base)->deadline_ns = deadline_ns;
}

/*
 * Runs one of the broker's own transaction statements past the authorizer, compiled
 * the first time and kept: it opens and closes a transaction around every write and
 * every run of reads, where compiling it each time would cost more than the statement.
 * A recompile SQLite does after a schema change runs trusted too. SQLITE_OK or an error.
 */
static int
exec_trusted(struct sqlite_session *s, enum trusted which)
{
	sqlite3_stmt **st = &s->tx[which];
	int rc;

	s->trusted = 1;
	sv_authz_set_trusted(s->authz, 1);
	rc = *st ? SQLITE_OK : sqlite3_prepare_v2(s->conn, trusted_sql[which], -1, st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(*st);
		sqlite3_reset(*st);
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sv_authz_set_trusted(s->authz, 0);
	s->trusted = 0;
	return rc;
}

/* Returns n for a parameter named "$n" with 1 <= n <= @max, else 0. */
static size_t
param_number(const char *name, size_t max)
{
	size_t n = 0;

	if (!name || name[0] != '$' || name[1] < '1' || name[1] > '9')
		return 0;
	for (name++; *name; name++) {
		if (*name < '0' || *name > '9' || n > max)
			return 0;
		n = n * 10 + (size_t)(*name - '0');
	}
	return n <= max ? n : 0;
}

/* Binds @p to parameter @i of @st as its type says. */
static int
bind_one(sqlite3_stmt *st, int i, const struct sv_param *p)
{
	switch (p->type) {
	case SV_INTEGER:
		return sqlite3_bind_int64(st, i, p->integer);
	case SV_REAL:
		return sqlite3_bind_double(st, i, p->real);
	case SV_TEXT:
		return sqlite3_bind_text64(st, i, p->data, p->len, SQLITE_TRANSIENT, SQLITE_UTF8);
	case SV_BLOB:
		return sqlite3_bind_blob64(st, i, p->data, p->len, SQLITE_TRANSIENT);
	default:
		return sqlite3_bind_null(st, i);
	}
}

/*
 * Binds $1..$n by name. The statement must use exactly the names $1..$@nparams: as
 * distinct names get distinct indexes, a matching count with every name in range means
 * each parameter given is used and each one used is given.
 */
static int
bind_params(struct sqlite_session *s, sqlite3_stmt *st, size_t nparams,
	    const struct sv_param *params, char *err, size_t errlen)
{
	int count = sqlite3_bind_parameter_count(st), i, rc;
	size_t n;

	if ((size_t)count != nparams) {
		snprintf(err, errlen, "the statement uses %d parameters, %zu given", count,
			 nparams);
		return -EINVAL;
	}
	for (i = 1; i <= count; i++) {
		if (!(n = param_number(sqlite3_bind_parameter_name(st, i), nparams))) {
			snprintf(err, errlen, "parameters must be written $1..$%zu", nparams);
			return -EINVAL;
		}
		rc = bind_one(st, i, &params[n - 1]);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "cannot bind parameter $%zu: %s", n,
				 sqlite3_errstr(rc));
			sv_session_set_reason(&s->base, "bind $%zu: %s", n,
					      sqlite3_errmsg(s->conn));
			if (rc == SQLITE_TOOBIG)
				return -E2BIG;
			return rc == SQLITE_NOMEM ? -ENOMEM : -EINVAL;
		}
	}
	return 0;
}

/*
 * Maps a failed prepare or step to the plugin's errno and message. Denials and missing
 * objects become -EACCES with the same text; the operator gets SQLite's own words.
 */
static int
map_error(struct sqlite_session *s, int rc, char *err, size_t errlen)
{
	const char *msg = sqlite3_errmsg(s->conn);

	sv_session_set_reason(&s->base, "sqlite: %s (%s)", msg, sqlite3_errstr(rc));
	if (s->timed_out) {
		snprintf(err, errlen, "the deadline passed; statement interrupted");
		return -ETIMEDOUT;
	}
	if (s->base.cancelled) {
		snprintf(err, errlen, "cancelled while it ran; nothing of it was kept");
		sv_session_set_reason(&s->base, "cancelled by the plugin while it ran");
		return -ECANCELED;
	}
	if (sv_authz_denied(s->authz)) {
		snprintf(err, errlen, "%s", sv_authz_message(s->authz));
		sv_session_set_reason(&s->base, "%s", sv_authz_reason(s->authz));
		return -EACCES;
	}
	if (sv_authz_hide_missing(msg, err, errlen))
		return -EACCES;
	switch (rc & 0xff) {
	case SQLITE_TOOBIG:
		snprintf(err, errlen, "a value exceeds the session's limits");
		return -E2BIG;
	case SQLITE_NOMEM:
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	case SQLITE_BUSY:
		/* The lock is the running statement's (wait_busy): ask again once it ends. */
		if (sv_session_nested()) {
			snprintf(err, errlen,
				 "the database is locked by another plugin's running statement");
			return -EAGAIN;
		}
		snprintf(err, errlen, "the database is busy");
		return -EIO;
	case SQLITE_LOCKED:
		snprintf(err, errlen, "the database is busy");
		return -EIO;
	case SQLITE_ERROR:
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		/* Statement errors: the tables involved are the plugin's own or its views. */
		snprintf(err, errlen, "%s", msg);
		return -EINVAL;
	default:
		snprintf(err, errlen, "the database failed");
		return -EIO;
	}
}

/*
 * Reads cell @i of the current row of @st into @text/@len/@type: the bytes SQLite holds,
 * or for a REAL its shortest exact decimal form (SQLite's own text keeps 15 digits),
 * written to @num. Returns 0 or -ENOMEM.
 */
static int
read_cell(sqlite3_stmt *st, int i, char num[32], const char **text, size_t *len,
	  unsigned char *type)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		*text = NULL;
		*len = 0;
		*type = SV_NULL;
		return 0;
	case SQLITE_FLOAT:
		*len = sv_format_double(num, sqlite3_column_double(st, i));
		*text = num;
		*type = SV_REAL;
		return 0;
	case SQLITE_BLOB:
		*text = sqlite3_column_blob(st, i);
		*type = SV_BLOB;
		/* An empty blob has no pointer: keep it a cell, not a NULL. */
		if (*text == NULL)
			*text = "";
		break;
	case SQLITE_INTEGER:
		*text = (const char *)sqlite3_column_text(st, i);
		*type = SV_INTEGER;
		break;
	default:
		*text = (const char *)sqlite3_column_text(st, i);
		*type = SV_TEXT;
		break;
	}
	*len = (size_t)sqlite3_column_bytes(st, i);
	return *text ? 0 : -ENOMEM;
}

/* Room to read one row of @ncols cells before it is copied into a result. */
struct row_buffer {
	int ncols;
	const char **texts;
	size_t *lens;
	unsigned char *types;
	char (*nums)[32];
};

/* Frees what @rb holds. */
static void
free_row_buffer(struct row_buffer *rb)
{
	free(rb->texts);
	free(rb->lens);
	free(rb->types);
	free(rb->nums);
	memset(rb, 0, sizeof(*rb));
}

/* Sizes @rb for @st's columns and starts @b with their names. Returns 0 or -errno. */
static int
begin_rows(struct sqlite_session *s, sqlite3_stmt *st, struct row_buffer *rb,
	   struct sv_rows_builder *b, struct sv_rows *out)
{
	int i, r;

	memset(rb, 0, sizeof(*rb));
	rb->ncols = sqlite3_column_count(st);
	sv_rows_begin(b, out, &s->base.lim);
	if (rb->ncols > 0 && (!(rb->texts = calloc((size_t)rb->ncols, sizeof(*rb->texts))) ||
			      !(rb->lens = calloc((size_t)rb->ncols, sizeof(*rb->lens))) ||
			      !(rb->types = calloc((size_t)rb->ncols, sizeof(*rb->types))) ||
			      !(rb->nums = calloc((size_t)rb->ncols, sizeof(*rb->nums)))))
		return -ENOMEM;
	for (i = 0; i < rb->ncols; i++)
		if ((r = sv_rows_add_name(b, sqlite3_column_name(st, i))) < 0)
			return r;
	return 0;
}

/* Adds the row @st stands on to @b. Returns 0, -E2BIG past the limits, or -ENOMEM. */
static int
add_current_row(sqlite3_stmt *st, struct row_buffer *rb, struct sv_rows_builder *b)
{
	int i, r;

	for (i = 0; i < rb->ncols; i++)
		if ((r = read_cell(st, i, rb->nums[i], &rb->texts[i], &rb->lens[i],
				   &rb->types[i])) < 0)
			return r;
	return sv_rows_add_row(b, rb->texts, rb->lens, rb->types);
}

/* Says in @err why a result went over the limits or out of memory. */
static void
explain_result_failure(struct sqlite_session *s, int r, char *err, size_t errlen)
{
	if (r != -E2BIG && r != -ENOMEM)
		return;
	snprintf(err, errlen, r == -E2BIG ? "the result exceeds the session's limits"
					  : "out of memory");
	sv_session_set_reason(&s->base, "result: %s (limits: %zu bytes, %zu rows)", strerror(-r),
			      s->base.lim.result_bytes, s->base.lim.result_rows);
}

/* Steps @st to the end, collecting rows into @out within the session's limits. */
static int
collect(struct sqlite_session *s, sqlite3_stmt *st, struct sv_rows *out, char *err,
	size_t errlen)
{
	struct sv_rows_builder b;
	struct row_buffer rb;
	int rc, r;

	if ((r = begin_rows(s, st, &rb, &b, out)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = add_current_row(st, &rb, &b)) < 0)
			goto out;
	if (rc != SQLITE_DONE) {
		r = map_error(s, rc, err, errlen);
		goto out;
	}
	/* sqlite3_changes() keeps the last write's count; a read must not report it. */
	if (!sqlite3_stmt_readonly(st))
		out->changes = sqlite3_changes64(s->conn);
	r = 0;
out:
	explain_result_failure(s, r, err, errlen);
	free_row_buffer(&rb);
	return r;
}

/* The cached statement compiled from exactly @sql, or NULL. */
static struct cached *
cache_find(struct sqlite_session *s, const char *sql)
{
	for (size_t i = 0; i < STATEMENT_CACHE; i++)
		if (s->cache[i].st && strcmp(s->cache[i].sql, sql) == 0)
			return &s->cache[i];
	return NULL;
}

/*
 * Keeps @st, compiled from @sql and naming @objects, in the cache slot used least
 * recently; NULL if there is no memory for it.
 */
static struct cached *
cache_add(struct sqlite_session *s, const char *sql, const char *objects, sqlite3_stmt *st)
{
	struct cached *c = &s->cache[0];
	char *copy = strdup(sql), *names = strdup(objects);

	if (copy == NULL || names == NULL) {
		free(copy);
		free(names);
		return NULL;
	}
	for (size_t i = 1; i < STATEMENT_CACHE && c->st; i++)
		if (!s->cache[i].st || s->cache[i].used < c->used)
			c = &s->cache[i];
	sqlite3_finalize(c->st);
	free(c->sql);
	free(c->objects);
	c->sql = copy;
	c->objects = names;
	c->st = st;
	return c;
}

/*
 * Checks and compiles one plugin statement: its size and kind, then against the shadow
 * schema so errors reveal nothing, then under the authorizer. Returns 0 with *@out.
 */
static int
compile(struct sqlite_session *s, const char *sql, sqlite3_stmt **out, char *err,
	size_t errlen)
{
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	int r, rc;

	*out = NULL;
	/* First, so statements the authorizer never hears of (VACUUM) are refused too. */
	if ((r = sv_authz_check_kind(sql, err, errlen)) < 0) {
		sv_session_set_reason(&s->base, "statement kind refused: %s", err);
		return r;
	}
	if ((r = check_shadow(s, sql, err, errlen)) < 0)
		return r;
	rc = sqlite3_prepare_v2(s->conn, sql, -1, &st, &tail);
	if (rc != SQLITE_OK || sv_authz_denied(s->authz)) {
		r = map_error(s, rc, err, errlen);
		goto out;
	}
	/* A tail is refused, not dropped: "SELECT 1; DROP ..." must not half-run. */
	if (!st || !sv_authz_is_blank(tail)) {
		snprintf(err, errlen, st ? "only one statement per request" : "no statement");
		sv_session_set_reason(&s->base, "statement count: %s", err);
		r = -EINVAL;
		goto out;
	}
	*out = st;
	st = NULL;	/* transferred */
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

/* Ends the read transaction a pipelined run opened, releasing its shared lock. */
static void
end_batch_tx(struct sqlite_session *s)
{
	if (!s->batch_tx)
		return;
	s->batch_tx = 0;
	/* A read-only transaction has nothing to lose: ROLLBACK cannot fail to release. */
	if (!sqlite3_get_autocommit(s->conn))
		exec_trusted(s, T_ROLLBACK);
}

/*
 * Begins the statement's transaction: a savepoint inside the plugin's, none for a read
 * (in a pipelined run, the run's shared read transaction), BEGIN for a write.
 */
static int
open_statement_tx(struct sqlite_session *s, sqlite3_stmt *st, int *in_tx)
{
	int rc;

	*in_tx = 0;
	if (!s->base.plugin_tx && sqlite3_stmt_readonly(st)) {
		if (!s->batch || s->batch_tx)
			return SQLITE_OK;
		rc = exec_trusted(s, T_BEGIN);
		s->batch_tx = rc == SQLITE_OK;
		return rc;
	}
	end_batch_tx(s);
	rc = exec_trusted(s, s->base.plugin_tx ? T_SAVEPOINT : T_BEGIN);
	*in_tx = rc == SQLITE_OK;
	return rc;
}

/*
 * Readies @sql: within the limits and the deadline, compiled (or taken from the cache,
 * then *@c is its entry) and its parameters bound, in *@st. Whatever it returns, the
 * caller releases *@st with release_statement().
 */
static int
ready_statement(struct sqlite_session *s, const char *sql, size_t nparams,
		const struct sv_param *params, struct cached **c, sqlite3_stmt **st, char *err,
		size_t errlen)
{
	struct sv_session *base = &s->base;
	int r;

	*c = NULL;
	*st = NULL;
	s->timed_out = 0;
	s->requests++;
	sv_authz_begin(s->authz);
	base->objects = "";
	if (strlen(sql) > base->lim.sql_bytes || nparams > base->lim.params) {
		snprintf(err, errlen, "the statement exceeds the session's limits (%zu bytes, %zu "
			 "parameters)", base->lim.sql_bytes, base->lim.params);
		return -EINVAL;
	}
	if (s->deadline_ns && sv_now_ns() >= s->deadline_ns) {
		s->timed_out = 1;
		r = map_error(s, SQLITE_INTERRUPT, err, errlen);
		sv_session_set_reason(base, "the deadline passed before the statement started");
		return r;
	}
	if ((*c = cache_find(s, sql)) == NULL) {
		r = compile(s, sql, st, err, errlen);
		base->objects = sv_authz_objects(s->authz);
		if (r < 0)
			return r;
		/* Without memory for the cache the statement still runs, compiled anew next time. */
		if ((*c = cache_add(s, sql, base->objects, *st)) == NULL)
			return bind_params(s, *st, nparams, params, err, errlen);
	}
	(*c)->used = s->requests;
	*st = (*c)->st;
	base->objects = (*c)->objects;
	return bind_params(s, *st, nparams, params, err, errlen);
}

/* Resets a cached statement for its next use, or finalizes one the cache could not keep. */
static void
release_statement(struct cached *c, sqlite3_stmt *st)
{
	if (c != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else {
		sqlite3_finalize(st);
	}
}

/* One plugin statement: checked and compiled (or taken from the cache), then run. */
static int
sqlite_query(struct sv_session *base, const char *sql, size_t nparams,
	     const struct sv_param *params, struct sv_rows *out, char *err, size_t errlen)
{
	struct sqlite_session *s = (struct sqlite_session *)base;
	struct cached *c;
	sqlite3_stmt *st;
	int in_tx = 0, r, rc;

	if ((r = ready_statement(s, sql, nparams, params, &c, &st, err, errlen)) < 0)
		goto out;
	if ((rc = open_statement_tx(s, st, &in_tx)) != SQLITE_OK) {
		r = map_error(s, rc, err, errlen);
		goto out;
	}
	if ((r = collect(s, st, out, err, errlen)) < 0)
		goto out;
	/* Reset before COMMIT, which would otherwise wait for this statement to end. */
	sqlite3_reset(st);
	if (in_tx && (rc = exec_trusted(s, s->base.plugin_tx ? T_RELEASE : T_COMMIT)) !=
			     SQLITE_OK) {
		r = map_error(s, rc, err, errlen);
		goto out;
	}
	in_tx = 0;
	r = 0;
out:
	release_statement(c, st);
	/* An interrupted write may already have rolled the transaction back itself. */
	if (in_tx && !sqlite3_get_autocommit(s->conn)) {
		if (s->base.plugin_tx) {
			exec_trusted(s, T_ROLLBACK_TO);
			exec_trusted(s, T_RELEASE);
		} else {
			exec_trusted(s, T_ROLLBACK);
		}
	}
	/* Should SQLite have ended the whole transaction itself, the plugin's is gone. */
	if (s->base.plugin_tx && sqlite3_get_autocommit(s->conn))
		s->base.plugin_tx = 0;
	if (s->batch_tx && sqlite3_get_autocommit(s->conn))
		s->batch_tx = 0;
	if (r < 0)
		sv_rows_clear(out);
	return r;
}

/* Opens the session's paged query: a read, readied like any statement, not yet stepped. */
static int
sqlite_pages_open(struct sv_session *base, const char *sql, size_t nparams,
		  const struct sv_param *params, char *err, size_t errlen)
{
	struct sqlite_session *s = (struct sqlite_session *)base;
	struct cached *c;
	sqlite3_stmt *st;
	int r;

	if ((r = ready_statement(s, sql, nparams, params, &c, &st, err, errlen)) == 0 &&
	    !sqlite3_stmt_readonly(st)) {
		snprintf(err, errlen, "a paged query must only read; write with sv_query");
		sv_session_set_reason(base, "paged: %s", err);
		r = -EINVAL;
	}
	if (r < 0) {
		release_statement(c, st);
		return r;
	}
	/* Its own read keeps its snapshot: no batch transaction may end under it. */
	end_batch_tx(s);
	s->pages = st;
	s->pages_cached = c;
	s->pages_pending = 0;
	return 0;
}

/*
 * The next page: up to @rows rows, fewer where the result limits end it, the row that
 * did not fit kept for the next page. One row past a full page is stepped onto, so the
 * last page says it is the last.
 */
static int
sqlite_pages_next(struct sv_session *base, size_t rows, struct sv_rows *out, int *more,
		  char *err, size_t errlen)
{
	struct sqlite_session *s = (struct sqlite_session *)base;
	struct sv_rows_builder b;
	struct row_buffer rb;
	int rc = SQLITE_ROW, r;

	s->timed_out = 0;
	if ((r = begin_rows(s, s->pages, &rb, &b, out)) < 0)
		goto out;
	while (out->nrows < rows) {
		if (!s->pages_pending && (rc = sqlite3_step(s->pages)) != SQLITE_ROW)
			break;
		s->pages_pending = 0;
		r = add_current_row(s->pages, &rb, &b);
		/* Over the limits with rows in the page: that row opens the next one. */
		if (r == -E2BIG && out->nrows > 0) {
			s->pages_pending = 1;
			*more = 1;
			r = 0;
			goto out;
		}
		if (r < 0)
			goto out;
	}
	if (rc == SQLITE_ROW && !s->pages_pending && (rc = sqlite3_step(s->pages)) == SQLITE_ROW)
		s->pages_pending = 1;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = map_error(s, rc, err, errlen);
		/* Rows this page took from the cursor cannot be taken again: no asking again. */
		if (r == -EAGAIN && out->nrows > 0) {
			snprintf(err, errlen, "the database is busy");
			r = -EIO;
		}
		goto out;
	}
	*more = rc == SQLITE_ROW;
	r = 0;
out:
	explain_result_failure(s, r, err, errlen);
	free_row_buffer(&rb);
	return r;
}

/* Ends the paged query, releasing its statement and so its read. */
static void
sqlite_pages_close(struct sv_session *base)
{
	struct sqlite_session *s = (struct sqlite_session *)base;

	if (s->pages)
		release_statement(s->pages_cached, s->pages);
	s->pages = NULL;
	s->pages_cached = NULL;
	s->pages_pending = 0;
}

/* Starts or ends a pipelined run; its reads then share one read transaction. */
static void
sqlite_batch(struct sv_session *base, int on)
{
	struct sqlite_session *s = (struct sqlite_session *)base;

	s->batch = on;
	if (!on)
		end_batch_tx(s);
}

/* The plugin's own transaction: the broker issues the statements, the plugin cannot. */
static int
sqlite_txn(struct sv_session *base, enum sv_txn op, char *err, size_t errlen)
{
	static const enum trusted sql[] = {[SV_TXN_BEGIN] = T_BEGIN, [SV_TXN_COMMIT] = T_COMMIT,
					   [SV_TXN_ROLLBACK] = T_ROLLBACK};
	struct sqlite_session *s = (struct sqlite_session *)base;
	int r, rc;

	s->timed_out = 0;
	end_batch_tx(s);
	if ((rc = exec_trusted(s, sql[op])) != SQLITE_OK) {
		/* A COMMIT that must wait for the top level keeps the transaction to retry. */
		if ((r = map_error(s, rc, err, errlen)) == -EAGAIN)
			return r;
		/* Any other failed COMMIT leaves it open too: roll it back, report it. */
		if (!sqlite3_get_autocommit(s->conn))
			exec_trusted(s, T_ROLLBACK);
		s->base.plugin_tx = 0;
		return r;
	}
	s->base.plugin_tx = op == SV_TXN_BEGIN;
	return 0;
}

const struct sv_backend_ops sv_backend_sqlite = {
	.name = "sqlite",
	.scheme = "sqlite:",
	.open = sqlite_open,
	.init = sqlite_init,
	.close = sqlite_close,
	.session_open = sqlite_session_open,
	.session_close = sqlite_session_close,
	.set_deadline = sqlite_set_deadline,
	.query = sqlite_query,
	.pages_open = sqlite_pages_open,
	.pages_next = sqlite_pages_next,
	.pages_close = sqlite_pages_close,
	.batch = sqlite_batch,
	.txn = sqlite_txn,
	.plan_install = sv_sqlite_plan_install,
	.plan_uninstall = sv_sqlite_plan_uninstall,
	.apply = sv_sqlite_apply,
	.audit = sv_sqlite_audit,
	.is_installed = sv_sqlite_is_installed,
};
