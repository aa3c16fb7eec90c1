/*
 * test_authz.c - the plugin's rights on SQLite, checked on a real database file: what a
 * session may read and write, what it is refused, and that a refusal changes nothing.
 * Every refusal is checked next to a permitted neighbour, and its effect is read back
 * through a separate sqlite3 connection that the broker's code never touches.
 */
#include "broker/broker.h"
#include "broker/internal.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static char path[128];
static char uri[160];
static char err[512];
static struct sv_db *db;
static struct sv_session *hello;
static struct sv_session *other;

/* Runs @sql on the file directly, as core would, bypassing everything under test. */
static void
raw_exec(const char *sql)
{
	sqlite3 *raw;

	cr_assert_eq(sqlite3_open(path, &raw), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql,
		     sqlite3_errmsg(raw));
	sqlite3_close(raw);
}

/* Reads one value directly from the file; "(null)" for SQL NULL, "(none)" for no row. */
static char *
raw_text(const char *sql)
{
	sqlite3 *raw;
	sqlite3_stmt *st;
	char *out;

	cr_assert_eq(sqlite3_open(path, &raw), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(raw, sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
	if (sqlite3_step(st) != SQLITE_ROW)
		out = strdup("(none)");
	else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		out = strdup("(null)");
	else
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(raw);
	return out;
}

/* The whole of file @name, malloc'd; asserts it can be read. */
static char *
raw_file(const char *name)
{
	char *buf = NULL;
	size_t cap = 0;
	FILE *f = fopen(name, "r");
	ssize_t n;

	cr_assert_not_null(f, "%s: %s", name, strerror(errno));
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	cr_assert_geq(n, 0);
	return buf;
}

static void
expect_raw(const char *sql, const char *want)
{
	char *got = raw_text(sql);

	cr_expect_str_eq(got, want, "%s", sql);
	free(got);
}

/* Runs @sql without parameters and keeps the result in @rows. */
static int
query(struct sv_session *s, const char *sql, struct sv_rows *rows)
{
	return sv_session_query(s, sql, 0, NULL, rows, err, sizeof(err));
}

/* Asserts that @s is refused @sql with a "not permitted" message. */
static void
expect_refused(struct sv_session *s, const char *sql)
{
	struct sv_rows rows;
	int r = query(s, sql, &rows);

	cr_expect_eq(r, -EACCES, "%s: %d %s", sql, r, err);
	cr_expect(strncmp(err, "not permitted: ", 15) == 0, "%s: message \"%s\"", sql, err);
	cr_expect_eq(rows.nrows, 0);
	cr_expect_null(rows.cells);
}

/* Asserts that @s may run @sql and returns its first cell (or "(none)"). */
static char *
expect_ok(struct sv_session *s, const char *sql)
{
	struct sv_rows rows;
	char *first;
	int r = query(s, sql, &rows);

	cr_assert_eq(r, 0, "%s: %d %s (%s)", sql, r, err, sv_session_reason(s));
	if (rows.nrows == 0 || rows.ncols == 0)
		first = strdup("(none)");
	else
		first = strdup(rows.cells[0] ? rows.cells[0] : "(null)");
	sv_rows_clear(&rows);
	return first;
}

static void
expect_ok_value(struct sv_session *s, const char *sql, const char *want)
{
	char *got = expect_ok(s, sql);

	cr_expect_str_eq(got, want, "%s", sql);
	free(got);
}

static struct sv_session *
open_session(const char *id, const struct sv_session_limits *lim)
{
	struct sv_session *s;
	int r = sv_session_open(db, id, lim, &s, err, sizeof(err));

	cr_assert_eq(r, 0, "session %s: %d %s", id, r, err);
	return s;
}

static void
setup(void)
{
	int r;

	strcpy(dir, "/tmp/sv-authz-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sovereign.db", dir);
	snprintf(uri, sizeof(uri), "sqlite:%s", path);
	r = sv_db_init(uri, 1, err, sizeof(err));
	cr_assert_eq(r, 0, "init: %d %s", r, err);
	raw_exec("CREATE TABLE plugin_other_notes(id INTEGER PRIMARY KEY, body TEXT);"
		 "INSERT INTO plugin_other_notes(body) VALUES ('other plugin secret');"
		 "CREATE TABLE plugin_abc_x(v TEXT); INSERT INTO plugin_abc_x VALUES ('abc');");
	r = sv_db_open(uri, &db, err, sizeof(err));
	cr_assert_eq(r, 0, "open: %d %s", r, err);
	hello = open_session("hello", NULL);
	other = open_session("other", NULL);
}

static void
teardown(void)
{
	char cmd[128];

	sv_session_close(hello);
	sv_session_close(other);
	sv_db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(authz, .init = setup, .fini = teardown);

/* The whole schema as text, to show that a refused statement left it as it was. */
static char *
schema(void)
{
	return raw_text("SELECT group_concat(type || ' ' || name || ' ' || coalesce(sql, ''), '\n')"
			" FROM (SELECT * FROM sqlite_master ORDER BY name)");
}

Test(authz, reads_demo_users_through_plugin_view)
{
	struct sv_rows rows;

	cr_assert_eq(query(hello, "SELECT display_name, avatar_url FROM v_plugin_users ORDER BY id",
			   &rows), 0, "%s", err);
	cr_assert_eq(rows.ncols, 2);
	cr_assert_eq(rows.nrows, 3);
	cr_expect_str_eq(rows.names[0], "display_name");
	cr_expect_str_eq(rows.cells[0], "Alice");
	cr_expect_str_eq(rows.cells[2], "Bob");
	cr_expect_null(rows.cells[3], "Bob has no avatar: SQL NULL is a NULL pointer");
	cr_expect_str_eq(rows.cells[4], "Carol");
	sv_rows_clear(&rows);
	cr_expect_null(rows.cells);
	expect_ok_value(hello, "SELECT count(*) FROM v_plugin_users", "3");
	expect_ok_value(hello, "SELECT name FROM v_plugin_boards WHERE owner_id = 2", "Support");
	expect_ok_value(hello, "SELECT b.name FROM v_plugin_boards b JOIN v_plugin_users u"
			       " ON u.id = b.owner_id WHERE u.display_name = 'Alice'", "Roadmap");
}

Test(authz, writes_own_table_and_the_data_is_there)
{
	const char *params[] = { "2", "first visit" };
	struct sv_rows rows;

	cr_assert_eq(sv_session_query(hello, "INSERT INTO plugin_hello_visits(user_id, note)"
					     " VALUES ($1, $2)", 2, params, &rows, err,
				      sizeof(err)), 0, "%s", err);
	cr_expect_eq(rows.changes, 1);
	sv_rows_clear(&rows);
	expect_raw("SELECT user_id || ':' || note FROM plugin_hello_visits", "2:first visit");

	cr_assert_eq(query(hello, "UPDATE plugin_hello_visits SET note = 'updated'", &rows), 0);
	cr_expect_eq(rows.changes, 1);
	sv_rows_clear(&rows);
	expect_raw("SELECT note FROM plugin_hello_visits", "updated");
	expect_ok_value(hello, "SELECT note FROM plugin_hello_visits", "updated");

	cr_assert_eq(query(hello, "DELETE FROM plugin_hello_visits", &rows), 0);
	cr_expect_eq(rows.changes, 1);
	sv_rows_clear(&rows);
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "0");

	cr_assert_eq(query(hello, "SELECT count(*) FROM plugin_hello_visits", &rows), 0);
	cr_expect_eq(rows.changes, 0, "a read reports no changes");
	sv_rows_clear(&rows);
}

Test(authz, refuses_reads_of_core_tables)
{
	expect_ok_value(hello, "SELECT display_name FROM v_plugin_users WHERE id = 1", "Alice");
	expect_refused(hello, "SELECT * FROM users");
	expect_refused(hello, "SELECT password_hash FROM users");
	expect_refused(hello, "SELECT count(*) FROM users");
	expect_refused(hello, "SELECT email FROM users WHERE id = 1");
	expect_refused(hello, "SELECT value FROM config WHERE key = 'smtp_password'");
	expect_refused(hello, "SELECT * FROM boards");
	expect_refused(hello, "SELECT (SELECT password_hash FROM users LIMIT 1)");
	expect_refused(hello, "SELECT display_name FROM v_plugin_users WHERE id IN"
			      " (SELECT id FROM users WHERE password_hash LIKE '$argon%')");
	expect_refused(hello, "INSERT INTO plugin_hello_visits(note)"
			      " SELECT password_hash FROM users");
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "0");
}

Test(authz, reason_names_the_column_for_the_operator_only)
{
	expect_refused(hello, "SELECT password_hash FROM users");
	cr_expect_str_eq(err, "not permitted: access to users");
	cr_expect(strstr(sv_session_reason(hello), "SQLITE_READ") != NULL, "%s",
		  sv_session_reason(hello));
	cr_expect(strstr(sv_session_reason(hello), "password_hash") != NULL, "%s",
		  sv_session_reason(hello));
}

Test(authz, errors_reveal_no_column_of_a_hidden_table)
{
	char existing[600];

	/* An existing and a missing column of a hidden table get the same answer. */
	expect_refused(hello, "SELECT email FROM users");
	snprintf(existing, sizeof(existing), "%s", err);
	expect_refused(hello, "SELECT no_such_column FROM users");
	cr_expect_str_eq(err, existing);
	/* A hidden and a missing table too. */
	expect_refused(hello, "SELECT 1 FROM no_such_table");
	cr_expect_str_eq(err, "not permitted: access to no_such_table");
	/* Control: a missing column of a visible view is an ordinary refusal naming it. */
	expect_refused(hello, "SELECT no_such_column FROM v_plugin_users");
	cr_expect_str_eq(err, "not permitted: access to no_such_column");
	expect_ok_value(hello, "SELECT display_name FROM v_plugin_users WHERE id = 3", "Carol");
}

Test(authz, cte_named_like_a_view_does_not_reach_hidden_columns)
{
	expect_ok_value(hello, "WITH x AS (SELECT display_name FROM v_plugin_users WHERE id = 3)"
			       " SELECT * FROM x", "Carol");
	expect_refused(hello, "WITH v_plugin_users AS (SELECT password_hash FROM users)"
			      " SELECT * FROM v_plugin_users");
	expect_refused(hello, "WITH v_plugin_users(display_name) AS (SELECT email FROM users)"
			      " SELECT display_name FROM v_plugin_users");
}

Test(authz, refuses_reads_of_the_schema)
{
	expect_ok_value(hello, "SELECT count(*) FROM plugin_hello_visits", "0");
	expect_refused(hello, "SELECT * FROM sqlite_master");
	expect_refused(hello, "SELECT sql FROM sqlite_schema");
	expect_refused(hello, "SELECT count(*) FROM sqlite_master");
	expect_refused(hello, "SELECT * FROM sqlite_temp_master");
	expect_refused(hello, "SELECT * FROM temp.sqlite_master");
	expect_refused(hello, "SELECT * FROM pragma_table_info('users')");
	expect_refused(hello, "SELECT * FROM json_each('[1]')");
}

Test(authz, refuses_writes_to_core_tables_and_changes_nothing)
{
	char *before = schema();
	char *after;

	expect_ok_value(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('ok')"
			       " RETURNING note", "ok");
	expect_refused(hello, "INSERT INTO users(tenant_id, email) VALUES (1, 'evil@x')");
	expect_refused(hello, "REPLACE INTO users(id, email) VALUES (1, 'evil@x')");
	expect_refused(hello, "UPDATE users SET password_hash = 'pwned'");
	expect_refused(hello, "DELETE FROM users");
	expect_refused(hello, "UPDATE config SET value = 'pwned' WHERE key = 'smtp_password'");
	expect_refused(hello, "DELETE FROM config");
	expect_refused(hello, "INSERT INTO tenants(name) VALUES ('evil')");
	expect_raw("SELECT count(*) FROM users", "3");
	expect_raw("SELECT email FROM users WHERE id = 1", "alice@acme.example");
	expect_raw("SELECT count(*) FROM users WHERE password_hash LIKE '$argon2id$%'", "3");
	expect_raw("SELECT value FROM config WHERE key = 'smtp_password'", "demo-smtp-secret-7f3a");
	expect_raw("SELECT count(*) FROM tenants", "1");
	after = schema();
	cr_expect_str_eq(after, before);
	free(before);
	free(after);
}

Test(authz, refuses_writes_through_views)
{
	expect_ok_value(hello, "SELECT display_name FROM v_plugin_users WHERE id = 2", "Bob");
	expect_refused(hello, "INSERT INTO v_plugin_users(id, display_name) VALUES (9, 'Eve')");
	expect_refused(hello, "UPDATE v_plugin_users SET display_name = 'Eve'");
	expect_refused(hello, "DELETE FROM v_plugin_users");
	expect_raw("SELECT group_concat(display_name) FROM users", "Alice,Bob,Carol");
}

Test(authz, keeps_plugins_out_of_each_others_tables)
{
	expect_ok_value(other, "SELECT body FROM plugin_other_notes", "other plugin secret");
	expect_refused(hello, "SELECT body FROM plugin_other_notes");
	expect_refused(hello, "INSERT INTO plugin_other_notes(body) VALUES ('x')");
	expect_refused(hello, "UPDATE plugin_other_notes SET body = 'x'");
	expect_refused(hello, "DELETE FROM plugin_other_notes");
	expect_refused(other, "SELECT * FROM plugin_hello_visits");
	expect_raw("SELECT group_concat(body) FROM plugin_other_notes", "other plugin secret");
}

Test(authz, plugin_id_prefix_does_not_reach_a_longer_id)
{
	struct sv_session *ab = open_session("ab", NULL);
	struct sv_session *abc = open_session("abc", NULL);

	expect_ok_value(abc, "SELECT v FROM plugin_abc_x", "abc");
	expect_refused(ab, "SELECT v FROM plugin_abc_x");
	expect_refused(ab, "DELETE FROM plugin_abc_x");
	expect_raw("SELECT count(*) FROM plugin_abc_x", "1");
	sv_session_close(ab);
	sv_session_close(abc);
}

Test(authz, refuses_schema_changes_and_leaves_schema_unchanged)
{
	char *before = schema();
	char *after;

	expect_ok_value(hello, "SELECT count(*) FROM plugin_hello_visits", "0");
	expect_refused(hello, "CREATE TABLE plugin_hello_new(x)");
	expect_refused(hello, "CREATE TEMP TABLE t(x)");
	expect_refused(hello, "CREATE VIEW v_plugin_evil AS SELECT password_hash FROM users");
	expect_refused(hello, "CREATE TRIGGER t AFTER INSERT ON plugin_hello_visits BEGIN"
			      " DELETE FROM users; END");
	expect_refused(hello, "CREATE INDEX i ON plugin_hello_visits(note)");
	expect_refused(hello, "DROP TABLE plugin_hello_visits");
	expect_refused(hello, "DROP TABLE users");
	expect_refused(hello, "DROP VIEW v_plugin_users");
	expect_refused(hello, "ALTER TABLE plugin_hello_visits ADD COLUMN evil TEXT");
	expect_refused(hello, "ALTER TABLE users RENAME TO people");
	expect_refused(hello, "REINDEX");
	expect_refused(hello, "ANALYZE");
	after = schema();
	cr_expect_str_eq(after, before);
	free(before);
	free(after);
}

Test(authz, refuses_attach_and_creates_no_file)
{
	char sql[256], file[160];

	snprintf(file, sizeof(file), "%s/evil.db", dir);
	snprintf(sql, sizeof(sql), "ATTACH '%s' AS evil", file);
	expect_ok_value(hello, "SELECT 1", "1");
	expect_refused(hello, sql);
	expect_refused(hello, "SELECT 1 FROM pragma_database_list");
	expect_refused(hello, "SELECT count(*) FROM pragma_table_info('users')");
	cr_expect_eq(access(file, F_OK), -1, "ATTACH created %s", file);
}

Test(authz, refuses_vacuum_into_and_creates_no_file)
{
	char sql[256], file[160];

	snprintf(file, sizeof(file), "%s/copy.db", dir);
	snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", file);
	expect_ok_value(hello, "SELECT 2", "2");
	expect_refused(hello, sql);
	expect_refused(hello, "VACUUM");
	expect_refused(hello, "EXPLAIN SELECT 1");
	cr_expect_eq(access(file, F_OK), -1, "VACUUM INTO created %s", file);
}

Test(authz, allows_only_harmless_pragma_reads)
{
	char *before = raw_text("PRAGMA user_version");

	free(expect_ok(hello, "PRAGMA data_version"));
	expect_refused(hello, "PRAGMA writable_schema = 1");
	expect_refused(hello, "PRAGMA writable_schema");
	expect_refused(hello, "PRAGMA table_info(users)");
	expect_refused(hello, "PRAGMA table_info(nosuch)");
	expect_refused(hello, "PRAGMA journal_mode = OFF");
	expect_refused(hello, "PRAGMA user_version = 99");
	expect_refused(hello, "PRAGMA data_version = 1");
	expect_refused(hello, "PRAGMA nosuchpragma");
	expect_raw("PRAGMA user_version", before);
	expect_raw("PRAGMA journal_mode", "delete");
	free(before);
}

Test(authz, refuses_functions_outside_the_allow_list)
{
	expect_ok_value(hello, "SELECT upper('a') || length('abc') || abs(-2)", "A32");
	expect_refused(hello, "SELECT load_extension('/tmp/evil.so')");
	expect_refused(hello, "SELECT fts3_tokenizer('simple')");
	expect_refused(hello, "SELECT sqlite_compileoption_used('ENABLE_FTS3')");
	expect_refused(hello, "SELECT sqlite_version()");
}

Test(authz, refuses_transactions)
{
	expect_ok_value(hello, "SELECT 3", "3");
	expect_refused(hello, "BEGIN");
	expect_refused(hello, "BEGIN IMMEDIATE");
	expect_refused(hello, "SAVEPOINT s");
	expect_refused(hello, "COMMIT");
	expect_refused(hello, "ROLLBACK");
}

Test(authz, refuses_a_second_statement_and_runs_neither)
{
	struct sv_rows rows;

	expect_ok_value(hello, "SELECT 4; -- a trailing comment is fine\n /* and this */", "4");
	cr_expect_eq(query(hello, "SELECT 1; DROP TABLE users", &rows), -EINVAL);
	cr_expect_eq(query(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('a');"
				  " INSERT INTO plugin_hello_visits(note) VALUES ('b')", &rows),
		     -EINVAL);
	cr_expect_eq(query(hello, "  -- nothing\n", &rows), -EINVAL);
	expect_raw("SELECT count(*) FROM users", "3");
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "0");
}

Test(authz, missing_and_forbidden_tables_read_the_same)
{
	const char *pairs[][2] = {
		{ "SELECT * FROM users", "SELECT * FROM nosuch" },
		{ "SELECT * FROM USERS", "SELECT * FROM NOSUCH" },
		{ "SELECT * FROM main.users", "SELECT * FROM main.nosuch" },
		{ "INSERT INTO users(id) VALUES (1)", "INSERT INTO nosuch(id) VALUES (1)" },
		{ "DELETE FROM config", "DELETE FROM nosuch" },
		{ "DROP TABLE IF EXISTS users", "DROP TABLE IF EXISTS nosuch" },
		{ "PRAGMA table_info(users)", "PRAGMA table_info(nosuch)" },
	};
	char forbidden[512];
	size_t i;

	expect_ok_value(hello, "SELECT count(*) FROM plugin_hello_visits", "0");
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		expect_refused(hello, pairs[i][0]);
		snprintf(forbidden, sizeof(forbidden), "%s", err);
		expect_refused(hello, pairs[i][1]);
		/* Same text once the name the plugin wrote is swapped. */
		if (strstr(forbidden, "users") || strstr(forbidden, "config")) {
			cr_expect(strstr(err, "nosuch") != NULL, "%s / %s", forbidden, err);
			cr_expect_eq(strlen(forbidden) - (strstr(forbidden, "users") ? 5 : 6),
				     strlen(err) - 6, "%s / %s", forbidden, err);
			cr_expect_eq(strncmp(forbidden, err, strlen(forbidden) -
					     (strstr(forbidden, "users") ? 5 : 6)), 0,
				     "%s / %s", forbidden, err);
		} else {
			cr_expect_str_eq(err, forbidden);
		}
	}
}

Test(authz, binds_parameters_including_null)
{
	const char *params[] = { "7", NULL };
	const char *one[] = { "x'); DROP TABLE users; --" };
	struct sv_rows rows;

	cr_assert_eq(sv_session_query(hello, "INSERT INTO plugin_hello_visits(user_id, note)"
					     " VALUES ($1, $2) RETURNING user_id, note", 2,
				      params, &rows, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rows.nrows, 1);
	cr_expect_str_eq(rows.cells[0], "7");
	cr_expect_null(rows.cells[1]);
	sv_rows_clear(&rows);
	expect_raw("SELECT count(*) FROM plugin_hello_visits WHERE user_id = 7 AND note IS NULL",
		   "1");
	cr_assert_eq(sv_session_query(hello, "SELECT $1 || '|' || $1", 1, one, &rows, err,
				      sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(rows.cells[0], "x'); DROP TABLE users; --|x'); DROP TABLE users; --");
	sv_rows_clear(&rows);
	expect_raw("SELECT count(*) FROM users", "3");
}

/* Runs @sql with one parameter @p and returns its first cell, "(null)" or "(none)". */
static char *
first_with(struct sv_session *s, const char *sql, const char *p)
{
	const char *params[] = { p };
	struct sv_rows rows;
	char *first;
	int r = sv_session_query(s, sql, 1, params, &rows, err, sizeof(err));

	cr_assert_eq(r, 0, "%s: %d %s", sql, r, err);
	first = strdup(rows.nrows == 0 ? "(none)" : rows.cells[0] ? rows.cells[0] : "(null)");
	sv_rows_clear(&rows);
	return first;
}

Test(authz, a_statement_run_again_binds_its_new_parameters_each_time)
{
	static const char *const names[] = { "Alice", "Bob", "Carol", "Alice" };
	const char *sql = "SELECT display_name FROM v_plugin_users WHERE id = $1";
	char id[8], *got;
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "%d", i % 3 + 1);
		got = first_with(hello, sql, id);
		cr_expect_str_eq(got, names[i]);
		free(got);
	}
	/* A NULL after a value: the old binding does not stick. */
	got = first_with(hello, "SELECT coalesce($1, 'was null')", "x");
	cr_expect_str_eq(got, "x");
	free(got);
	got = first_with(hello, "SELECT coalesce($1, 'was null')", NULL);
	cr_expect_str_eq(got, "was null");
	free(got);
}

Test(authz, a_refused_statement_stays_refused_when_sent_again)
{
	for (int i = 0; i < 3; i++) {
		expect_refused(hello, "SELECT password_hash FROM users");
		expect_ok_value(hello, "SELECT display_name FROM v_plugin_users WHERE id = 2",
				"Bob");
	}
}

Test(authz, a_statement_evicted_from_the_cache_is_checked_and_compiled_again)
{
	char sql[96];

	expect_ok_value(hello, "SELECT display_name FROM v_plugin_users WHERE id = 3", "Carol");
	for (int i = 0; i < 100; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d + 0", i);
		free(expect_ok(hello, sql));
	}
	expect_ok_value(hello, "SELECT display_name FROM v_plugin_users WHERE id = 3", "Carol");
	expect_refused(hello, "SELECT email FROM users WHERE id = 3");
}

Test(authz, a_compiled_statement_is_decided_again_when_core_changes_the_view)
{
	const char *sql = "SELECT * FROM v_plugin_users WHERE id = 1";
	char *want;

	expect_ok_value(hello, sql, "1");
	/* Core (wrongly) widens the view: the plugin's rights were fixed when it started. */
	raw_exec("DROP VIEW v_plugin_users; CREATE VIEW v_plugin_users(id, display_name,"
		 " avatar_url, tenant_id) AS SELECT id, password_hash, avatar_url, tenant_id"
		 " FROM users");
	expect_refused(hello, sql);
	/* Control: what the session was granted still works after the change. */
	want = raw_text("SELECT count(*) FROM boards");
	expect_ok_value(hello, "SELECT count(*) FROM v_plugin_boards", want);
	free(want);
}

Test(authz, a_pipelined_run_commits_each_write_at_once_and_releases_its_lock_at_the_end)
{
	sv_session_batch(hello, 1);
	expect_ok_value(hello, "SELECT display_name FROM v_plugin_users WHERE id = 1", "Alice");
	free(expect_ok(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('in the run')"));
	/* Committed before its answer, not at the end of the run: another connection sees it. */
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "1");
	expect_ok_value(hello, "SELECT count(*) FROM plugin_hello_visits", "1");
	expect_refused(hello, "SELECT email FROM users WHERE id = 1");
	expect_ok_value(hello, "SELECT display_name FROM v_plugin_users WHERE id = 2", "Bob");
	sv_session_batch(hello, 0);
	/* The run's read transaction is gone: core writes at once (raw_exec has no retry). */
	raw_exec("UPDATE users SET display_name = 'Alice B' WHERE id = 1");
	expect_ok_value(hello, "SELECT display_name FROM v_plugin_users WHERE id = 1", "Alice B");
}

Test(authz, the_brokers_compiled_transaction_statements_still_work_after_core_changes_schema)
{
	free(expect_ok(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('before')"));
	/* BEGIN and COMMIT are compiled once per session; core's change must not break them. */
	raw_exec("CREATE TABLE core_added_later(x); DROP TABLE core_added_later");
	free(expect_ok(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('after')"));
	cr_assert_eq(sv_session_txn(hello, SV_TXN_BEGIN, err, sizeof(err)), 0, "%s", err);
	free(expect_ok(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('in its own')"));
	cr_assert_eq(sv_session_txn(hello, SV_TXN_COMMIT, err, sizeof(err)), 0, "%s", err);
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "3");
}

Test(authz, a_transaction_begun_inside_a_pipelined_run_still_lands_whole)
{
	sv_session_batch(hello, 1);
	expect_ok_value(hello, "SELECT count(*) FROM plugin_hello_visits", "0");
	cr_assert_eq(sv_session_txn(hello, SV_TXN_BEGIN, err, sizeof(err)), 0, "%s", err);
	free(expect_ok(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('a')"));
	free(expect_ok(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('b')"));
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "0");
	cr_assert_eq(sv_session_txn(hello, SV_TXN_COMMIT, err, sizeof(err)), 0, "%s", err);
	sv_session_batch(hello, 0);
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "2");
}

/* What the cancel callback of a long read did inside it: hello's COMMIT, once. */
struct inside {
	int calls;
	int commit;
	char err[256];
};

/* The long read's cancel callback: commits hello's transaction there, the first time. */
static int
commit_inside(void *arg)
{
	struct inside *in = arg;

	if (in->calls++ == 0)
		in->commit = sv_session_txn(hello, SV_TXN_COMMIT, in->err, sizeof(in->err));
	return 0;
}

/*
 * Inside a running read (the runner serves other plugins from its cancel callback), a
 * COMMIT cannot get the lock the read holds: it says to ask again, and keeps the
 * transaction, which then commits whole once the read has ended.
 */
Test(authz, a_commit_inside_a_running_reads_turn_waits_to_be_asked_again_and_keeps_the_transaction)
{
	struct inside in = {0};
	struct sv_rows rows;

	cr_assert_eq(sv_session_txn(hello, SV_TXN_BEGIN, err, sizeof(err)), 0, "%s", err);
	free(expect_ok(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('kept')"));
	sv_session_set_cancel(other, commit_inside, &in);
	cr_assert_eq(query(other, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
				  "FROM c WHERE x < 1000000) SELECT count(*) + (SELECT count(*) "
				  "FROM v_plugin_users) FROM c", &rows), 0, "%s", err);
	sv_rows_clear(&rows);
	sv_session_set_cancel(other, NULL, NULL);
	cr_assert_gt(in.calls, 0, "the read never asked its callback");
	cr_expect_eq(in.commit, -EAGAIN, "%d %s", in.commit, in.err);
	cr_expect_str_eq(in.err, "the database is locked by another plugin's running statement");
	cr_assert_eq(sv_session_txn(hello, SV_TXN_COMMIT, err, sizeof(err)), 0, "%s", err);
	expect_raw("SELECT group_concat(note) FROM plugin_hello_visits", "kept");
}

Test(authz, refuses_parameters_that_do_not_match)
{
	const char *two[] = { "1", "2" };
	const char *three[] = { "1", "2", "3" };
	struct sv_rows rows;

	cr_expect_eq(sv_session_query(hello, "SELECT $1 + $2", 2, two, &rows, err, sizeof(err)),
		     0, "%s", err);
	sv_rows_clear(&rows);
	cr_expect_eq(sv_session_query(hello, "SELECT $1 + $2", 1, two, &rows, err, sizeof(err)),
		     -EINVAL);
	cr_expect_eq(sv_session_query(hello, "SELECT $1 + $2", 3, three, &rows, err, sizeof(err)),
		     -EINVAL);
	cr_expect_eq(sv_session_query(hello, "SELECT $1 + $3", 2, two, &rows, err, sizeof(err)),
		     -EINVAL);
	cr_expect_eq(sv_session_query(hello, "SELECT ? + ?", 2, two, &rows, err, sizeof(err)),
		     -EINVAL);
	cr_expect_eq(sv_session_query(hello, "SELECT :a + :b", 2, two, &rows, err, sizeof(err)),
		     -EINVAL);
	cr_expect_eq(sv_session_query(hello, "INSERT INTO plugin_hello_visits(note) VALUES ($1)",
				      2, two, &rows, err, sizeof(err)), -EINVAL);
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "0");
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

Test(authz, deadline_interrupts_a_runaway_query)
{
	struct sv_rows rows;
	uint64_t start = now_ns();

	sv_session_set_deadline(hello, start + 300000000u);
	cr_expect_eq(query(hello, "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1"
				  " FROM c) SELECT count(*) FROM c", &rows), -ETIMEDOUT, "%s", err);
	cr_expect_lt(now_ns() - start, 1000000000u, "took %llu ns",
		     (unsigned long long)(now_ns() - start));
	cr_expect_eq(query(hello, "SELECT 1", &rows), -ETIMEDOUT, "a passed deadline stays");
	sv_session_set_deadline(hello, 0);
	expect_ok_value(hello, "SELECT 5", "5");
}

Test(authz, deadline_interrupts_a_write_and_changes_nothing)
{
	struct sv_rows rows;

	sv_session_set_deadline(hello, now_ns() + 200000000u);
	cr_expect_eq(query(hello, "INSERT INTO plugin_hello_visits(note) WITH RECURSIVE"
				  " c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c)"
				  " SELECT 'spam' FROM c", &rows), -ETIMEDOUT, "%s", err);
	sv_session_set_deadline(hello, 0);
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "0");
	expect_ok_value(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('after')"
			       " RETURNING note", "after");
}

Test(authz, refuses_a_result_over_the_limits_and_changes_nothing)
{
	struct sv_session_limits lim;
	struct sv_session *small;
	struct sv_rows rows;

	sv_session_default_limits(&lim);
	cr_expect_eq(lim.result_bytes, 2u << 20);
	cr_expect_eq(lim.result_rows, 100000);
	cr_expect_eq(lim.sql_bytes, 64u << 10);
	cr_expect_eq(lim.params, 100);
	lim.result_rows = 10;
	lim.result_bytes = 4096;
	small = open_session("hello", &lim);
	expect_ok_value(small, "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c"
			       " LIMIT 10) SELECT n FROM c", "1");
	cr_expect_eq(query(small, "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1"
				  " FROM c LIMIT 11) SELECT n FROM c", &rows), -E2BIG, "%s", err);
	cr_expect_eq(query(small, "SELECT zeroblob(5000)", &rows), -E2BIG, "%s", err);
	cr_expect_eq(query(small, "SELECT hex(randomblob(3000))", &rows), -E2BIG, "%s", err);
	cr_expect_eq(query(small, "INSERT INTO plugin_hello_visits(note) WITH RECURSIVE c(n) AS"
				  " (SELECT 1 UNION ALL SELECT n + 1 FROM c LIMIT 20)"
				  " SELECT 'row' FROM c RETURNING id", &rows), -E2BIG, "%s", err);
	cr_expect_null(rows.cells);
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "0");
	sv_session_close(small);
}

Test(authz, refuses_a_statement_over_the_length_limit)
{
	struct sv_session_limits lim;
	struct sv_session *small;
	struct sv_rows rows;

	sv_session_default_limits(&lim);
	lim.sql_bytes = 32;
	small = open_session("hello", &lim);
	expect_ok_value(small, "SELECT 'short'", "short");
	cr_expect_eq(query(small, "SELECT 'this statement is far too long for the limit'", &rows),
		     -EINVAL);
	sv_session_close(small);
}

Test(authz, open_of_a_missing_database_says_how_to_create_it)
{
	struct sv_db *missing;
	char u[200];

	snprintf(u, sizeof(u), "sqlite:%s/none.db", dir);
	cr_expect_eq(sv_db_open(u, &missing, err, sizeof(err)), -ENOENT);
	cr_expect_null(missing);
	cr_expect(strstr(err, "svrun init") != NULL, "%s", err);
	cr_expect(strstr(err, "none.db") != NULL, "%s", err);
	snprintf(u, sizeof(u), "%s/none.db", dir);
	cr_expect_eq(access(u, F_OK), -1, "open created the file");
}

Test(authz, open_refuses_a_database_without_the_core_schema)
{
	struct sv_db *empty;
	char u[200];

	raw_exec("SELECT 1");
	snprintf(u, sizeof(u), "%s/empty.db", dir);
	cr_assert_not_null(fopen(u, "w"));
	snprintf(u, sizeof(u), "sqlite:%s/empty.db", dir);
	cr_expect_eq(sv_db_open(u, &empty, err, sizeof(err)), -EIO);
	cr_expect(strstr(err, "svrun init") != NULL, "%s", err);
	cr_expect_eq(sv_db_open(uri, &empty, err, sizeof(err)), 0, "the initialised one opens");
	sv_db_close(empty);
}

Test(authz, init_twice_is_eexist_and_keeps_the_data)
{
	cr_expect_eq(sv_db_init(uri, 1, err, sizeof(err)), -EEXIST);
	expect_raw("SELECT count(*) FROM users", "3");
	expect_raw("PRAGMA user_version", "1");
}

Test(authz, init_without_demo_creates_an_empty_schema)
{
	char u[200];
	struct sv_db *fresh;

	snprintf(u, sizeof(u), "sqlite:%s/fresh.db", dir);
	cr_assert_eq(sv_db_init(u, 0, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sv_db_open(u, &fresh, err, sizeof(err)), 0, "%s", err);
	sv_db_close(fresh);
}

Test(authz, refuses_unsupported_uris)
{
	struct sv_session *bad;
	struct sv_db *x;

	cr_expect_eq(sv_db_open("postgres://localhost/sovereign", &x, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "write postgresql://") != NULL, "%s", err);
	/* A server that is not there: a clear error naming where it looked, no crash. */
	cr_expect_eq(sv_db_open("postgresql:///sovereign?host=/nonexistent&connect_timeout=2", &x,
				err, sizeof(err)),
		     -EIO);
	cr_expect(strstr(err, "cannot connect to PostgreSQL") != NULL, "%s", err);
	cr_expect(strstr(err, "/nonexistent") != NULL, "%s", err);
	cr_expect_eq(sv_db_open("postgresql://u:pw@localhost/sovereign", &x, err, sizeof(err)),
		     -EINVAL, "a password in the URI must be refused before connecting");
	cr_expect(strstr(err, "PGPASSFILE") != NULL && strstr(err, "pw@") == NULL, "%s", err);
	cr_expect_eq(sv_db_open("mysql://x", &x, err, sizeof(err)), -EINVAL);
	cr_expect_eq(sv_db_open("sqlite:", &x, err, sizeof(err)), -EINVAL);
	cr_expect_eq(sv_session_open(db, "Bad_id", NULL, &bad, err, sizeof(err)), -EINVAL);
	cr_expect_null(bad);
	cr_expect_eq(sv_session_open(db, "x_y", NULL, &bad, err, sizeof(err)), -EINVAL);
}

Test(authz, callback_decides_every_action_code_explicitly)
{
	struct sv_authz *a;

	cr_assert_eq(sv_authz_new("hello", &a), 0);
	sv_authz_begin(a);
	cr_expect_eq(sv_authz_callback(a, SQLITE_READ, "plugin_hello_x", "c", "main", NULL),
		     SQLITE_OK);
	cr_expect_eq(sv_authz_callback(a, SQLITE_INSERT, "plugin_hello_x", NULL, "main", NULL),
		     SQLITE_OK);
	cr_expect_eq(sv_authz_denied(a), 0);
	cr_expect_eq(sv_authz_callback(a, SQLITE_READ, "plugin_hello_x", "c", "temp", NULL),
		     SQLITE_DENY);
	sv_authz_begin(a);
	cr_expect_eq(sv_authz_callback(a, SQLITE_CREATE_TABLE, "plugin_hello_y", NULL, "main",
				       NULL), SQLITE_DENY);
	cr_expect_str_eq(sv_authz_message(a), "not permitted: CREATE TABLE");
	sv_authz_begin(a);
	cr_expect_eq(sv_authz_callback(a, 9999, NULL, NULL, NULL, NULL), SQLITE_DENY);
	cr_expect_eq(sv_authz_callback(a, SQLITE_TRANSACTION, "BEGIN", NULL, NULL, NULL),
		     SQLITE_DENY);
	sv_authz_set_trusted(a, 1);
	cr_expect_eq(sv_authz_callback(a, SQLITE_TRANSACTION, "BEGIN", NULL, NULL, NULL),
		     SQLITE_OK);
	cr_expect_eq(sv_authz_callback(a, SQLITE_CREATE_TABLE, "plugin_hello_y", NULL, "main",
				       NULL), SQLITE_DENY, "trust covers transactions only");
	sv_authz_free(a);
}

/* Dispatches one query frame for @sql to @p; returns what sv_dispatch_frame() did. */
static int
dispatch_query(struct sv_peer *p, const char *sql, char *why, size_t whylen)
{
	Sovereign__ChildMessage m = SOVEREIGN__CHILD_MESSAGE__INIT;
	Sovereign__Query q = SOVEREIGN__QUERY__INIT;
	uint8_t buf[512];
	size_t n;

	q.sql = (char *)sql;
	m.has_id = 1;
	m.id = 7;
	m.body_case = SOVEREIGN__CHILD_MESSAGE__BODY_QUERY;
	m.query = &q;
	n = sovereign__child_message__pack(&m, buf);
	return sv_dispatch_frame(p, buf, n, why, whylen);
}

/* Reads the next answer from @fd and whether it said the broker is crowded; -1 if none. */
static int
answer_crowded(int fd, struct sv_framer *f)
{
	Sovereign__BrokerMessage *m;
	const uint8_t *payload;
	size_t len;
	int crowded;

	if (sv_frame_read(fd, f, NULL, &payload, &len) < 0 ||
	    (m = sovereign__broker_message__unpack(NULL, len, payload)) == NULL)
		return -1;
	crowded = m->body_case == SOVEREIGN__BROKER_MESSAGE__BODY_ROWS
			  ? m->has_crowded && m->crowded
			  : -1;
	sovereign__broker_message__free_unpacked(m, NULL);
	return crowded;
}

Test(authz, answers_ask_the_plugin_to_wait_asleep_only_while_the_broker_is_crowded)
{
	int sv[2], crowded = 0;
	struct sv_peer p = {.plugin_id = "hello", .session = hello, .hello_seen = 1,
			    .crowded = &crowded};
	struct sv_framer f;
	char why[512];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sv_framer_init(&f);
	p.fd = sv[0];
	cr_assert_eq(dispatch_query(&p, "SELECT 1", why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(sv_peer_flush(&p), 0);
	cr_expect_eq(answer_crowded(sv[1], &f), 0, "an uncrowded broker asked for the CPUs");
	crowded = 1;
	cr_assert_eq(dispatch_query(&p, "SELECT 1", why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(sv_peer_flush(&p), 0);
	cr_expect_eq(answer_crowded(sv[1], &f), 1, "a crowded broker's answer did not say so");
	crowded = 0;
	cr_assert_eq(dispatch_query(&p, "SELECT 1", why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(sv_peer_flush(&p), 0);
	cr_expect_eq(answer_crowded(sv[1], &f), 0, "the crowd's end was not passed on");
	sv_peer_release(&p);
	sv_framer_release(&f);
	close(sv[0]);
	close(sv[1]);
}

Test(authz, a_request_the_audit_trail_cannot_record_gets_no_answer)
{
	struct sv_peer p = {.plugin_id = "hello", .session = hello, .fd = -1, .hello_seen = 1};
	char why[512], trail[160], *line;

	cr_assert_eq(sv_audit_open("/dev/full", 0, &p.audit, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dispatch_query(&p, "SELECT display_name FROM v_plugin_users", why,
				    sizeof(why)), -EIO);
	cr_expect(strstr(why, "audit trail /dev/full cannot be written"), "%s", why);
	cr_expect_eq(p.out.len, 0, "an answer was queued");
	sv_audit_close(p.audit);
	sv_peer_release(&p);
	/* Control: a trail that takes the line lets the answer through, and has the line. */
	snprintf(trail, sizeof(trail), "%s/audit.log", dir);
	cr_assert_eq(sv_audit_open(trail, 0, &p.audit, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dispatch_query(&p, "SELECT display_name FROM v_plugin_users", why,
				    sizeof(why)), 0, "%s", why);
	cr_expect_gt(p.out.len, 0);
	sv_audit_close(p.audit);
	sv_peer_release(&p);
	line = raw_file(trail);
	cr_expect(strstr(line, "\"request\":7,\"sql\":\"SELECT display_name FROM v_plugin_users\""),
		  "%s", line);
	free(line);
}

Test(authz, the_audit_trail_escapes_what_a_plugin_sends_into_valid_json)
{
	struct sv_peer p = {.plugin_id = "hello", .session = hello, .fd = -1, .hello_seen = 1};
	char why[512], trail[160], *line;

	snprintf(trail, sizeof(trail), "%s/audit.log", dir);
	cr_assert_eq(sv_audit_open(trail, 0, &p.audit, err, sizeof(err)), 0, "%s", err);
	dispatch_query(&p, "SELECT '\"},{\"forged\":1\n\\\x01\xff\xc3\xa9'", why, sizeof(why));
	sv_audit_close(p.audit);
	sv_peer_release(&p);
	line = raw_file(trail);
	/* Quotes, newline, backslash and control escaped; a stray byte U+FFFD; é kept. */
	cr_expect(strstr(line, "\"sql\":\"SELECT '\\u0022},{\\u0022forged\\u0022:1\\u000a"
			       "\\u005c\\u0001\\ufffd\xc3\xa9'\""),
		  "%s", line);
	cr_expect_eq(strchr(line, '\n') - line, (long)strlen(line) - 1, "one line: %s", line);
	free(line);
}

Test(authz, a_frame_that_decodes_into_far_more_than_its_size_is_refused)
{
	struct sv_peer p = {.plugin_id = "hello", .session = hello, .fd = -1, .hello_seen = 1};
	Sovereign__ChildMessage m = SOVEREIGN__CHILD_MESSAGE__INIT;
	Sovereign__Query q = SOVEREIGN__QUERY__INIT;
	Sovereign__Param *pv, **pp;
	size_t n, many = 1000000;
	uint8_t *buf;
	char why[512];

	/* A million empty parameters: 2 MB of frame, about 40 MB once decoded. */
	pv = calloc(many, sizeof(*pv));
	pp = calloc(many, sizeof(*pp));
	cr_assert(pv && pp);
	for (size_t i = 0; i < many; i++) {
		sovereign__param__init(&pv[i]);
		pp[i] = &pv[i];
	}
	q.sql = "SELECT 1";
	q.params = pp;
	m.body_case = SOVEREIGN__CHILD_MESSAGE__BODY_QUERY;
	m.query = &q;
	for (size_t count = 100; count <= many; count = count == 100 ? many : many + 1) {
		q.n_params = count;
		buf = malloc(sovereign__child_message__get_packed_size(&m));
		cr_assert_not_null(buf);
		n = sovereign__child_message__pack(&m, buf);
		if (count == 100) {
			/* Control: a hundred decode, and the session refuses them as unused. */
			cr_expect_eq(sv_dispatch_frame(&p, buf, n, why, sizeof(why)), 0, "%s", why);
		} else {
			cr_expect_eq(sv_dispatch_frame(&p, buf, n, why, sizeof(why)), -EPROTO);
			cr_expect(strstr(why, "decodes into more than"), "%s", why);
		}
		free(buf);
	}
	sv_peer_release(&p);
	free(pv);
	free(pp);
}

/* Takes core's write lock on a connection of the test's own, as a core writer would. */
static sqlite3 *
hold_core_write_lock(void)
{
	sqlite3 *raw;

	cr_assert_eq(sqlite3_open(path, &raw), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_exec(raw, "BEGIN EXCLUSIVE; UPDATE config SET value = value", NULL, NULL, NULL),
	    SQLITE_OK, "%s", sqlite3_errmsg(raw));
	return raw;
}

/* Commits what hold_core_write_lock() began, which changed nothing, and closes it. */
static void
release_core_write_lock(sqlite3 *raw)
{
	cr_assert_eq(sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
}

Test(authz, a_write_while_core_holds_the_write_lock_fails_clearly_and_then_works)
{
	struct sv_rows rows;
	sqlite3 *raw;
	time_t start;
	int r;

	raw = hold_core_write_lock();
	/* Bounded: the busy timeout, then a clear error; no hang, nothing written. */
	start = time(NULL);
	r = query(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('while locked')", &rows);
	cr_expect_eq(r, -EIO, "%d %s", r, err);
	cr_expect_str_eq(err, "the database is busy");
	cr_expect_leq(time(NULL) - start, 10, "the write waited %ld s", (long)(time(NULL) - start));
	release_core_write_lock(raw);
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "0");
	/* Control: with the lock released, the same write goes through. */
	free(expect_ok(hello, "INSERT INTO plugin_hello_visits(note) VALUES ('after')"));
	expect_raw("SELECT count(*) FROM plugin_hello_visits", "1");
}

Test(authz, a_session_opened_while_core_is_locked_fails_busy_and_leaves_core_as_it_was)
{
	struct sv_session *s = NULL;
	sqlite3 *raw;
	int r;

	raw = hold_core_write_lock();
	r = sv_session_open(db, "hello", NULL, &s, err, sizeof(err));
	cr_expect_eq(r, -EBUSY, "%d %s", r, err);
	cr_expect_null(s);
	cr_expect(strstr(err, "cannot read the plugin views of"), "%s", err);
	release_core_write_lock(raw);
	/* Control: core kept no transaction from the failed read; the next session opens. */
	s = open_session("hello", NULL);
	expect_ok_value(s, "SELECT count(*) FROM plugin_hello_visits", "0");
	sv_session_close(s);
}
