/*
 * test_data.c - the plugin's data rights, end to end: the demo plugin runs as the README
 * shows, and a plugin that reaches past its rights is refused every time while the core
 * data and the schema stay byte for byte what they were. The same bodies run on SQLite
 * (integ_data) and on PostgreSQL (integ_data_pg); see harness.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integ/harness.h"

TestSuite(data, .init = it_setup, .fini = it_teardown, .timeout = 90);

/* Everything a refused statement could have changed, as one comparable text. */
static char *
core_dump(void)
{
	static const char *const queries[] = {
	    "SELECT * FROM users ORDER BY id",
	    "SELECT * FROM config ORDER BY key",
	    "SELECT * FROM plugin_other_secrets ORDER BY v",
	    NULL,
	};
	char *all = NULL, *part;
	size_t len = 0, n;

	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		part = queries[i] ? it_sql_dump(queries[i]) : it_schema_dump();
		n = strlen(part);
		all = realloc(all, len + n + 2);
		cr_assert_not_null(all);
		memcpy(all + len, part, n);
		all[len + n] = '#';
		len += n + 1;
		all[len] = '\0';
		free(part);
	}
	return all;
}

Test(data, hello_lists_demo_users_records_a_visit_and_is_refused_the_users_table)
{
	char *users, *line, *save = NULL, *visits, expect[512];
	struct it_run r;
	int n = 0;

	it_init_db();
	users = it_sql_dump("SELECT id, display_name FROM users ORDER BY id");
	r = it_run_plugin("hello");
	cr_assert_eq(r.status, 0, "hello exited %d:\n%s", r.status, r.err);
	for (line = strtok_r(users, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *bar = strchr(line, '|');

		cr_assert_not_null(bar);
		*bar = '\0';
		snprintf(expect, sizeof(expect), "user %s: %s", line, bar + 1);
		cr_assert(it_has_log(r.err, "hello", expect), "missing '[hello] %s' in:\n%s",
			  expect, r.err);
		n++;
	}
	cr_assert_eq(n, 3, "the demo database should hold three users, not %d", n);
	visits = it_sql_dump("SELECT count(*) FROM plugin_hello_visits");
	cr_assert_str_eq(visits, "1\n", "plugin_hello_visits should hold the one visit");
	cr_assert(it_has_log(r.err, "hello", "reading the users table: not permitted"),
		  "the users table read was not refused as 'not permitted':\n%s", r.err);
	free(visits);
	free(users);
	it_run_free(&r);
}

Test(data, rights_plugin_reads_view_writes_own_table_and_every_overreach_is_refused)
{
	static const char *const refused[] = {
		"select-users", "select-config", "update-users", "delete-config",
		"select-other", "insert-other", "drop-users", "create-table",
		"attach", "pragma-writable-schema", "select-master",
	};
	char *before, *after, *names, *notes, expect[600], *p;
	struct it_run r;

	it_init_db();
	it_sql("CREATE TABLE plugin_rights_notes(k TEXT, v TEXT);"
	       "CREATE TABLE plugin_other_secrets(v TEXT);"
	       "INSERT INTO plugin_other_secrets(v) VALUES ('other plugin data');"
	       "INSERT INTO config(key, value) VALUES ('it.secret', 'core config value');");
	it_install("rights");
	before = core_dump();
	r = it_run_plugin("rights");

	/* Positive: the view is readable and the plugin's own table writable. */
	names = it_sql_dump("SELECT display_name FROM users ORDER BY id");
	for (p = names; (p = strchr(p, '\n')) != NULL; p++)
		*p = p[1] ? ',' : '\0';
	snprintf(expect, sizeof(expect), "view: %s", names);
	cr_assert(it_has_log(r.err, "rights", expect), "missing '[rights] %s' in:\n%s", expect,
		  r.err);
	notes = it_sql_dump("SELECT k, v FROM plugin_rights_notes");
	cr_assert_str_eq(notes, "written|by the plugin\n", "own table holds '%s'", notes);
	cr_assert(it_has_log(r.err, "rights", "own: written=by the plugin"), "%s", r.err);

	/* Negative: each overreach refused, clearly, and nothing got through. */
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(expect, sizeof(expect), "refused[%s]: not permitted", refused[i]);
		cr_assert(it_has_log(r.err, "rights", expect), "missing '[rights] %s' in:\n%s",
			  expect, r.err);
	}
	cr_assert(it_has_log(r.err, "rights", "refused[tail]: "),
		  "'SELECT 1; DELETE FROM users' was not refused:\n%s", r.err);
	cr_assert_null(strstr(r.err, "ALLOWED["), "an overreach went through:\n%s", r.err);
	after = core_dump();
	cr_assert_str_eq(after, before, "core data or schema changed:\nbefore:\n%s\nafter:\n%s",
			 before, after);
	cr_assert_eq(r.status, 0, "rights exited %d (the number of overreaches allowed)",
		     r.status);
	free(before);
	free(after);
	free(names);
	free(notes);
	it_run_free(&r);
}

/* Runs the txn plugin in @mode against a fresh plugin_txn_rows; returns the rows that landed. */
static long
run_txn(const char *mode, int want_status)
{
	struct it_run r;
	char *count;
	long n;

	it_init_db();
	it_install("txn"); /* its manifest declares plugin_txn_rows and plugin_txn_cfg */
	it_set_cfg("txn", "mode", mode);
	r = it_run_plugin("txn");
	cr_assert_eq(r.status, want_status, "%s:\n%s", mode, r.err);
	it_run_free(&r);
	count = it_sql_dump("SELECT count(*) FROM plugin_txn_rows");
	n = strtol(count, NULL, 10);
	free(count);
	return n;
}

Test(data, committed_transaction_lands_whole)
{
	cr_assert_eq(run_txn("commit", 0), 2);
}

Test(data, rolled_back_transaction_leaves_nothing)
{
	cr_assert_eq(run_txn("rollback", 0), 0);
}

Test(data, plugin_that_dies_mid_transaction_leaves_nothing)
{
	cr_assert_eq(run_txn("die", 7), 0);
	/* Control: the database is not left locked; a writer gets through. */
	it_sql("INSERT INTO plugin_txn_rows(note) VALUES ('after')");
}

Test(data, second_begin_is_refused_and_the_first_transaction_still_commits)
{
	cr_assert_eq(run_txn("nested", 0), 2);
}

Test(data, pipelined_statements_answer_in_order_and_refusals_stay_refusals)
{
	char *before, *after, *notes;
	struct it_run r;

	it_init_db();
	it_sql("CREATE TABLE plugin_other_secrets(v TEXT);"
	       "INSERT INTO plugin_other_secrets(v) VALUES ('other plugin data');");
	it_install("pipeline");
	before = core_dump();
	r = it_run_plugin("pipeline");
	cr_assert_null(strstr(r.err, "WRONG"), "%s", r.err);
	cr_assert_eq(r.status, 0, "pipeline exited %d:\n%s", r.status, r.err);
	cr_assert(it_has_log(r.err, "pipeline", "ok: 64 answers in order, 8 rows written, 8 "
						"reads refused"), "%s", r.err);
	cr_assert(it_has_log(r.err, "pipeline", "ok: send past the pipeline refused"), "%s",
		  r.err);
	cr_assert(it_has_log(r.err, "pipeline", "ok: sv_query refused while answers wait"), "%s",
		  r.err);
	/* The writes landed, each once, in the order sent; the refused reads changed nothing. */
	notes = it_sql_dump("SELECT note FROM plugin_pipeline_rows ORDER BY id");
	cr_assert_str_eq(notes, "n3\nn11\nn19\nn27\nn35\nn43\nn51\nn59\n");
	after = core_dump();
	cr_assert_str_eq(after, before, "core data or schema changed");
	free(notes);
	free(before);
	free(after);
	it_run_free(&r);
}

/* The line of @log holding @needle, as a malloc'd string; NULL if none. */
static char *
line_with(const char *log, const char *needle)
{
	const char *p = strstr(log, needle), *start, *end;

	if (p == NULL)
		return NULL;
	for (start = p; start > log && start[-1] != '\n'; start--)
		;
	end = strchr(p, '\n');
	return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

/* Every line of @log is one JSON object with a time, the plugin and an operation. */
static void
assert_lines_are_records(const char *log)
{
	const char *p = log, *end;
	int n = 0;

	cr_assert(log[0] != '\0', "the audit trail is empty");
	for (; *p; p = end + 1, n++) {
		end = strchr(p, '\n');
		cr_assert_not_null(end, "the last line is not ended: %s", p);
		cr_assert(strncmp(p, "{\"time\":\"", 9) == 0 && end[-1] == '}',
			  "line %d is not a record: %.*s", n + 1, (int)(end - p), p);
		cr_assert(memmem(p, (size_t)(end - p), "\"plugin\":\"", 10) &&
				  memmem(p, (size_t)(end - p), "\"op\":\"", 6),
			  "line %d: %.*s", n + 1, (int)(end - p), p);
	}
}

Test(data, the_audit_trail_has_a_line_per_request_with_its_decision_and_no_values)
{
	char trail[512], *log, *line;
	struct it_run r;

	it_init_db();
	it_sql("CREATE TABLE plugin_rights_notes(k TEXT, v TEXT);"
	       "CREATE TABLE plugin_other_secrets(v TEXT);");
	it_install("rights");
	snprintf(trail, sizeof(trail), "%s/audit.log", it_dir);
	r = it_svrun((const char *const[]){"--db", it_uri, "--audit", trail, it_plugin("rights"),
					   NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
	log = it_read_file(trail, NULL);
	cr_assert_not_null(log);
	assert_lines_are_records(log);
	cr_assert(strstr(log, "\"plugin\":\"rights\",\"op\":\"start\""), "%s", log);
	/* The positive control: the view read, allowed, with its rows. */
	line = line_with(log, "\"sql\":\"SELECT display_name FROM v_plugin_users ORDER BY id\"");
	cr_assert_not_null(line, "%s", log);
	cr_assert(strstr(line, "\"decision\":\"allowed\"") && strstr(line, "\"rows\":3,"), "%s",
		  line);
	cr_assert(strstr(line, it_pg ? "\"objects\":null" : "\"objects\":[\"v_plugin_users\"]"),
		  "%s", line);
	free(line);
	/* The refusal, with the reason for the security team. */
	line = line_with(log, "\"sql\":\"SELECT email, password_hash FROM users\"");
	cr_assert_not_null(line, "%s", log);
	cr_assert(strstr(line, "\"decision\":\"refused\",\"reason\":\""), "%s", line);
	cr_assert(strstr(line, "\"rows\":0,"), "%s", line);
	free(line);
	/* Parameters are counted, their values kept out. */
	line = line_with(log, "INSERT INTO plugin_rights_notes(k, v) VALUES ($1, $2)");
	cr_assert_not_null(line, "%s", log);
	cr_assert(strstr(line, "\"params\":2,"), "%s", line);
	cr_assert_null(strstr(log, "\"values\""), "values logged without --audit-params");
	cr_assert_null(strstr(log, "by the plugin"), "a parameter value is in the trail");
	free(line);
	cr_assert(strstr(log, "\"plugin\":\"rights\",\"op\":\"end\",\"status\":0,"), "%s", log);
	free(log);
	/* Asked for, the values are there. */
	unlink(trail);
	r = it_svrun((const char *const[]){"--db", it_uri, "--audit", trail, "--audit-params",
					   it_plugin("rights"), NULL},
		     NULL);
	it_run_free(&r);
	log = it_read_file(trail, NULL);
	cr_assert_not_null(log);
	assert_lines_are_records(log);
	cr_assert(strstr(log, "\"params\":2,\"values\":[\"written\",\"by the plugin\"]"), "%s",
		  log);
	free(log);
}

Test(data, a_full_audit_disk_stops_the_plugin_before_it_gets_an_answer)
{
	char trail[512];
	struct it_run r;

	it_init_db();
	r = it_svrun((const char *const[]){"--db", it_uri, "--audit", "/dev/full",
					   it_plugin("hello"), NULL},
		     NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert(strstr(r.err, "audit trail"), "%s", r.err);
	cr_assert_null(strstr(r.err, "[hello] user 1"), "data went out unrecorded:\n%s", r.err);
	it_run_free(&r);
	/* Control: with a trail that can be written, the same run answers. */
	snprintf(trail, sizeof(trail), "%s/audit.log", it_dir);
	r = it_svrun((const char *const[]){"--db", it_uri, "--audit", trail, it_plugin("hello"),
					   NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(it_has_log(r.err, "hello", "user 1: Alice"), "%s", r.err);
	it_run_free(&r);
}

Test(data, cells_and_parameters_keep_their_type_and_exact_value)
{
	struct it_run r;

	it_init_db();
	it_install("types");
	r = it_run_plugin("types");
	cr_assert_null(strstr(r.err, "WRONG"), "%s", r.err);
	cr_assert(it_has_log(r.err, "types", "types ok: 22 checks"), "%s", r.err);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
}

Test(data, a_result_larger_than_any_answer_comes_page_by_page)
{
	struct it_run r;

	it_init_db();
	it_install("pages");
	r = it_run_plugin("pages");
	cr_assert_null(strstr(r.err, "WRONG"), "%s", r.err);
	cr_assert(it_has_log(r.err, "pages", "pages ok: 50000 rows in 50 pages"), "%s", r.err);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
}

/* Installs a copy of the rights plugin whose manifest reads @reads, runs it, returns it. */
static struct it_run
run_rights_reading(const char *reads)
{
	char so[512], manifest[512], text[256];
	struct it_run r;

	snprintf(so, sizeof(so), "%s/rights.so", it_dir);
	snprintf(manifest, sizeof(manifest), "%s/rights.manifest", it_dir);
	snprintf(text, sizeof(text), "[plugin]\nid = rights\nreads = %s\n", reads);
	it_copy(it_plugin("rights"), so);
	it_write_file(manifest, text);
	r = it_svrun((const char *const[]){"install", "--db", it_uri, so, NULL}, NULL);
	cr_assert_eq(r.status, 0, "install: %s", r.err);
	it_run_free(&r);
	return it_svrun((const char *const[]){"--db", it_uri, so, NULL}, NULL);
}

Test(data, a_view_the_manifest_does_not_list_is_refused)
{
	struct it_run r;

	it_init_db();
	it_sql("CREATE TABLE plugin_rights_notes(k TEXT, v TEXT)");
	r = run_rights_reading("v_plugin_boards");
	cr_assert(it_has_log(r.err, "rights", "view read failed: not permitted"),
		  "v_plugin_users was readable though not listed:\n%s", r.err);
	it_run_free(&r);
	/* Control: listed, the same read works. */
	r = run_rights_reading("v_plugin_boards v_plugin_users");
	cr_assert(it_has_log(r.err, "rights", "view: Alice,Bob,Carol"), "%s", r.err);
	it_run_free(&r);
}

/*
 * Runs the cancel plugin with @slow as its slow statement (this backend's spelling in
 * @sqlite or @pg) and checks every step: the write before the cancel is kept, the slow
 * statement is interrupted while it runs, the write after it never runs, and the
 * session serves again; from outside, the table holds only the first write. With
 * @neighbour a steady plugin runs beside it, untouched by its cancel (beside a write on
 * SQLite it could only hear that the database is busy: the write locks the file).
 */
static void
check_cancel(const char *sqlite, const char *pg, int neighbour)
{
	char trail[512], *rows, *log, *line;
	struct it_run r;

	it_init_db();
	it_install("cancel");
	it_install("steady");
	it_set_cfg("cancel", "slow", it_pg ? pg : sqlite);
	snprintf(trail, sizeof(trail), "%s/audit.log", it_dir);
	/* With @neighbour, steady runs beside it: served meanwhile, and cancels nothing. */
	r = it_svrun((const char *const[]){"--db", it_uri, "--audit", trail, it_plugin("cancel"),
					   neighbour ? it_plugin("steady") : NULL, NULL},
		     NULL);
	cr_assert(!neighbour || it_has_log(r.err, "steady", "done 2000 requests, 0 wrong"), "%s",
		  r.err);
	cr_assert_null(strstr(r.err, "WRONG"), "%s", r.err);
	cr_assert_eq(r.status, 0, "cancel exited %d:\n%s", r.status, r.err);
	cr_assert(it_has_log(r.err, "cancel", "ok: the slow statement: cancelled while it ran"),
		  "%s", r.err);
	cr_assert(it_has_log(r.err, "cancel", "ok: the write after: cancelled before it ran"),
		  "%s", r.err);
	cr_assert(it_has_log(r.err, "cancel", "ok: the session serves again"), "%s", r.err);
	cr_assert(strstr(r.err, "cancelled by the plugin while it ran"),
		  "the operator's log does not say why:\n%s", r.err);
	rows = it_sql_dump("SELECT note FROM plugin_cancel_rows ORDER BY id");
	cr_assert_str_eq(rows, "before\n", "rows after the cancel: %s", rows);
	/* The trail tells the security team the same: one kept, two cancelled, and why. */
	log = it_read_file(trail, NULL);
	cr_assert_not_null(log);
	line = line_with(log, "\"decision\":\"cancelled\",\"reason\":\"cancelled by the "
			      "plugin while it ran");
	cr_assert_not_null(line, "%s", log);
	cr_assert(strstr(line, "\"rows\":0,"), "%s", line);
	free(line);
	cr_assert(strstr(log, "\"decision\":\"cancelled\",\"reason\":\"cancelled by the "
			      "plugin before it ran\""), "%s", log);
	line = line_with(log, "\"sql\":\"INSERT INTO plugin_cancel_rows(note) VALUES ($1)\"");
	cr_assert(line && strstr(line, "\"decision\":\"allowed\""), "%s", log);
	free(line);
	free(log);
	free(rows);
	it_run_free(&r);
}

Test(data, a_cancelled_read_stops_while_it_runs_and_the_next_write_never_runs)
{
	check_cancel("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
		     "SELECT count(*) FROM c",
		     "SELECT pg_sleep(30)", 1);
}

Test(data, a_write_cancelled_half_way_leaves_none_of_its_rows)
{
	check_cancel("INSERT INTO plugin_cancel_rows(note) SELECT 'x' FROM (WITH RECURSIVE "
		     "c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)",
		     "INSERT INTO plugin_cancel_rows(note) SELECT 'x' FROM generate_series(1, "
		     "1000) UNION ALL SELECT 'y' FROM pg_sleep(30)", 0);
}
