/*
 * schema.c - the Sovereign core schema on SQLite, and the demo rows `svrun init --demo`
 * adds. The v_plugin_* views are the only window plugins have on core data, so they list
 * safe columns only (never email, password_hash or config) and stay plain projections,
 * which the authorizer relies on (see decide_read() in authz.c).
 */
#include "broker/internal.h"

#include <errno.h>
#include <stdio.h>

static const char core_sql[] =
	"CREATE TABLE tenants(id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
	"CREATE TABLE users(id INTEGER PRIMARY KEY, tenant_id INTEGER REFERENCES tenants,\n"
	"  email TEXT NOT NULL, display_name TEXT, avatar_url TEXT, password_hash TEXT);\n"
	"CREATE TABLE config(key TEXT PRIMARY KEY, value TEXT);\n"
	"CREATE TABLE boards(id INTEGER PRIMARY KEY, tenant_id INTEGER REFERENCES tenants,\n"
	"  name TEXT, owner_id INTEGER REFERENCES users, created_at TEXT);\n"
	"CREATE VIEW v_plugin_users(id, display_name, avatar_url, tenant_id) AS\n"
	"  SELECT id, display_name, avatar_url, tenant_id FROM users;\n"
	"CREATE VIEW v_plugin_boards(id, tenant_id, name, owner_id) AS\n"
	"  SELECT id, tenant_id, name, owner_id FROM boards;\n";

/* The hashes and the SMTP password are fake, but tests check they never reach a plugin. */
const char sv_schema_demo_rows[] =
	"INSERT INTO tenants(id, name) VALUES (1, 'Acme');\n"
	"INSERT INTO users(id, tenant_id, email, display_name, avatar_url, password_hash)"
	" VALUES\n"
	"  (1, 1, 'alice@acme.example', 'Alice', 'https://acme.example/a.png',"
	" '$argon2id$v=19$m=65536,t=3,p=4$YWxpY2VzYWx0$aGFzaC1vZi1hbGljZQ'),\n"
	"  (2, 1, 'bob@acme.example', 'Bob', NULL,"
	" '$argon2id$v=19$m=65536,t=3,p=4$Ym9ic2FsdA$aGFzaC1vZi1ib2I'),\n"
	"  (3, 1, 'carol@acme.example', 'Carol', 'https://acme.example/c.png',"
	" '$argon2id$v=19$m=65536,t=3,p=4$Y2Fyb2xzYWx0$aGFzaC1vZi1jYXJvbA');\n"
	"INSERT INTO config(key, value) VALUES ('site_name', 'Acme boards'),\n"
	"  ('smtp_host', 'smtp.acme.example'), ('smtp_password', 'demo-smtp-secret-7f3a');\n"
	"INSERT INTO boards(id, tenant_id, name, owner_id, created_at) VALUES\n"
	"  (1, 1, 'Roadmap', 1, '2024-01-15T09:00:00Z'),\n"
	"  (2, 1, 'Support', 2, '2024-02-01T14:30:00Z');\n";

/* The example plugin's table, which `svrun install` would create from its manifest. */
static const char demo_visits[] =
	"CREATE TABLE plugin_hello_visits(id INTEGER PRIMARY KEY, user_id INTEGER, note TEXT);\n";

int
sv_schema_count(sqlite3 *db, char *err, size_t errlen)
{
	static const char sql[] =
		"SELECT count(*) FROM main.sqlite_master WHERE (type = 'table' AND name IN"
		" ('tenants', 'users', 'config', 'boards')) OR (type = 'view' AND name IN"
		" ('v_plugin_users', 'v_plugin_boards'))";
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(db));
		r = -EIO;
		goto out;
	}
	r = sqlite3_column_int(st, 0);
out:
	sqlite3_finalize(st);
	return r;
}

/* Formats SQLite's reason for a failed creation. */
static int
sql_failed(sqlite3 *db, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot create the schema: %s", sqlite3_errmsg(db));
	return -EIO;
}

int
sv_schema_create(sqlite3 *db, int demo, char *err, size_t errlen)
{
	char version[64];
	int in_tx = 0, r;

	/* IMMEDIATE: two concurrent `svrun init` must not both see an empty file. */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		r = sql_failed(db, err, errlen);
		goto out;
	}
	in_tx = 1;
	if ((r = sv_schema_count(db, err, errlen)) < 0)
		goto out;
	if (r > 0) {
		snprintf(err, errlen, "the database already holds the Sovereign schema");
		r = -EEXIST;
		goto out;
	}
	snprintf(version, sizeof(version), "PRAGMA user_version = %d", SV_SCHEMA_VERSION);
	if (sqlite3_exec(db, core_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    (demo && sqlite3_exec(db, sv_schema_demo_rows, NULL, NULL, NULL) != SQLITE_OK) ||
	    (demo && sqlite3_exec(db, demo_visits, NULL, NULL, NULL) != SQLITE_OK) ||
	    sqlite3_exec(db, version, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		r = sql_failed(db, err, errlen);
		goto out;
	}
	in_tx = 0;
	r = 0;
out:
	if (in_tx)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}
