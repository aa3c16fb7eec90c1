/*
 * harness_db.c - the integration tests' own view of the database, through a connection
 * of their own (never through svrun), on either backend: SQLite, a file in the test's
 * directory; PostgreSQL, a fresh database in the cluster scripts/pg.sh started, dropped
 * again with the plugin roles the test made. A PostgreSQL test without that cluster
 * fails: it never skips.
 */
#include "tests/integ/harness.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The port scripts/pg.sh starts the server on, in its private socket directory. */
#define IT_PG_PORT "5499"

char it_db[300];
char it_uri[1024];
int it_pg;

static char pg_dir[256];

/* "relation already exists, skipping" and the like are no test's business. */
static void
ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Connects to database @db as @user (postgres: the cluster's superuser, no password). */
static PGconn *
pg_connect(const char *db, const char *user)
{
	char info[512];
	PGconn *c;

	snprintf(info, sizeof(info), "host=%s/sock port=" IT_PG_PORT " user=%s dbname=%s", pg_dir,
		 user, db);
	c = PQconnectdb(info);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect to PostgreSQL (%s): %s", info,
		     PQerrorMessage(c));
	PQsetNoticeProcessor(c, ignore_notice, NULL);
	return c;
}

/* Runs @sql on @c and asserts it succeeded. */
static void
pg_exec(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(res);

	cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
		  PQresultErrorMessage(res));
	PQclear(res);
}

void
it_db_setup(void)
{
	const char *backend = getenv("SVRUN_IT_BACKEND"), *dir = getenv("SVRUN_TEST_PG_DIR");
	struct timespec ts;
	char sql[512], pass[512];
	PGconn *c;

	it_pg = backend && strcmp(backend, "postgresql") == 0;
	if (!it_pg) {
		snprintf(it_db, sizeof(it_db), "%s/sovereign.db", it_dir);
		snprintf(it_uri, sizeof(it_uri), "sqlite:%s", it_db);
		return;
	}
	cr_assert(dir && dir[0],
		  "SVRUN_IT_BACKEND=postgresql needs the cluster of scripts/pg.sh "
		  "(SVRUN_TEST_PG_DIR is not set): run the tests with scripts/test.sh");
	snprintf(pg_dir, sizeof(pg_dir), "%s", dir);
	snprintf(pass, sizeof(pass), "%s/pgpass", pg_dir);
	cr_assert_eq(access(pass, R_OK), 0, "%s: the cluster's core password is missing", pass);
	setenv("PGPASSFILE", pass, 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(it_db, sizeof(it_db), "it_%d_%ld", (int)getpid(), (long)(ts.tv_nsec % 1000000));
	snprintf(it_uri, sizeof(it_uri),
		 "postgresql:///%s?host=%s/sock&port=" IT_PG_PORT "&user=svc_core", it_db, pg_dir);
	c = pg_connect("postgres", "postgres");
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER svc_core", it_db);
	pg_exec(c, sql);
	PQfinish(c);
}

void
it_db_teardown(void)
{
	PGresult *res;
	char sql[512];
	PGconn *c;
	int i;

	if (!it_pg || it_db[0] == '\0')
		return;
	c = pg_connect("postgres", "postgres");
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", it_db);
	pg_exec(c, sql);
	/* Roles are the cluster's, not the database's: the next test must not meet them. */
	res = PQexec(c, "SELECT rolname FROM pg_roles WHERE rolname LIKE 'svc\\_plugin\\_%'");
	for (i = 0; i < PQntuples(res); i++) {
		snprintf(sql, sizeof(sql), "DROP ROLE %s", PQgetvalue(res, i, 0));
		PQclear(PQexec(c, sql));
	}
	PQclear(res);
	PQfinish(c);
}

void
it_init_db(void)
{
	const char *argv[] = {"init", "--demo", "--db", it_uri, NULL};
	struct it_run r = it_svrun(argv, NULL);

	cr_assert_eq(r.status, 0, "svrun init --demo failed (%d):\n%s", r.status, r.err);
	cr_assert(it_pg || it_exists(it_db), "svrun init did not create %s", it_db);
	it_run_free(&r);
	it_install("hello");
}

void
it_install(const char *id)
{
	const char *argv[] = {"install", "--db", it_uri, it_plugin(id), NULL};
	struct it_run r = it_svrun(argv, NULL);

	cr_assert_eq(r.status, 0, "svrun install %s failed (%d):\n%s", id, r.status, r.err);
	it_run_free(&r);
}

/* Opens the test's SQLite file directly, bypassing svrun; asserts on failure. */
static sqlite3 *
open_sqlite(void)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(it_db, &db, SQLITE_OPEN_READWRITE, NULL);
	cr_assert_eq(rc, SQLITE_OK, "sqlite3_open %s: %s", it_db, sqlite3_errstr(rc));
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* Runs @sql with text parameters $1, $2 (@np of them) on the test's database as core. */
static void
exec_params(const char *sql, int np, const char *const *params)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	PGconn *c;
	PGresult *res;
	char *msg = NULL;
	int rc, i;

	if (it_pg) {
		c = pg_connect(it_db, "svc_core");
		res = np ? PQexecParams(c, sql, np, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
		cr_assert(PQresultStatus(res) == PGRES_COMMAND_OK ||
			      PQresultStatus(res) == PGRES_TUPLES_OK,
			  "%s: %s", sql, PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(c);
		return;
	}
	db = open_sqlite();
	if (np == 0) {
		rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
		cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
	} else {
		rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
		cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
		for (i = 0; i < np; i++)
			sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_TRANSIENT);
		cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}

void
it_sql(const char *sql)
{
	exec_params(sql, 0, NULL);
}

/* Appends @s to the growing buffer *@buf of *@len bytes. */
static void
append(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	*buf = realloc(*buf, *len + n + 1);
	cr_assert_not_null(*buf);
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

/* The rows of @sql on @c as "a|b\n" lines, NULL as "<null>". */
static char *
pg_dump_rows(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	char *buf = NULL;
	size_t len = 0;
	int i, row;

	append(&buf, &len, "");
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql,
		     PQresultErrorMessage(res));
	for (row = 0; row < PQntuples(res); row++) {
		for (i = 0; i < PQnfields(res); i++) {
			if (i > 0)
				append(&buf, &len, "|");
			append(&buf, &len,
			       PQgetisnull(res, row, i) ? "<null>" : PQgetvalue(res, row, i));
		}
		append(&buf, &len, "\n");
	}
	PQclear(res);
	return buf;
}

char *
it_pg_admin_dump(const char *sql)
{
	PGconn *c = pg_connect(it_db, "postgres");
	char *buf = pg_dump_rows(c, sql);

	PQfinish(c);
	return buf;
}

char *
it_sql_dump(const char *sql)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	PGconn *c;
	char *buf = NULL;
	size_t len = 0;
	const char *cell;
	int rc, i;

	if (it_pg) {
		c = pg_connect(it_db, "svc_core");
		buf = pg_dump_rows(c, sql);
		PQfinish(c);
		return buf;
	}
	append(&buf, &len, "");
	db = open_sqlite();
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < sqlite3_column_count(st); i++) {
			cell = (const char *)sqlite3_column_text(st, i);
			if (i > 0)
				append(&buf, &len, "|");
			append(&buf, &len, cell ? cell : "<null>");
		}
		append(&buf, &len, "\n");
	}
	cr_assert_eq(rc, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf;
}

char *
it_schema_dump(void)
{
	static const char pg_catalog[] =
	    "SELECT n.nspname::text, c.relname::text, c.relkind::text, c.relowner::regrole::text,"
	    " c.relacl::text"
	    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname"
	    " NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
	    " UNION ALL SELECT 'schema', nspname::text, '', nspowner::regrole::text,"
	    " nspacl::text FROM pg_namespace UNION ALL SELECT 'role', rolname::text,"
	    " rolsuper::text || rolcreaterole::text || rolinherit::text, '', '' FROM pg_roles"
	    " UNION ALL SELECT 'function', p.oid::regprocedure::text, '',"
	    " p.proowner::regrole::text, p.proacl::text FROM pg_proc p"
	    " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
	    " ORDER BY 1, 2";

	if (it_pg)
		return it_sql_dump(pg_catalog);
	return it_sql_dump("SELECT type, name, tbl_name, sql FROM sqlite_master "
			   "UNION ALL SELECT 'schema_version', schema_version, '', '' FROM "
			   "pragma_schema_version ORDER BY 1, 2");
}

void
it_set_cfg(const char *id, const char *key, const char *value)
{
	const char *params[] = {key, value};
	char sql[256];

	snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS plugin_%s_cfg(key TEXT, value TEXT)",
		 id);
	it_sql(sql);
	snprintf(sql, sizeof(sql), "INSERT INTO plugin_%s_cfg(key, value) VALUES ($1, $2)", id);
	exec_params(sql, 2, params);
}
