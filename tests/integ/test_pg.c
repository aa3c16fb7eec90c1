/*
 * test_pg.c - PostgreSQL only (RFC-0003): hostile SQL against a real server, each attack
 * refused by the database while core data, the catalog and the file system stay as they
 * were and a positive control succeeds beside it; statements and transactions that try
 * to outlast their limits; install, grants --plan, audit and uninstall on the live
 * catalog; credentials kept out of argv. Runs only as integ_pg, with the cluster of
 * scripts/pg.sh.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integ/harness.h"

TestSuite(pg, .init = it_setup, .fini = it_teardown, .timeout = 120);

/* Files a successful COPY TO PROGRAM or COPY TO FILE would leave (the server's /tmp). */
#define PWNED_PROGRAM "/tmp/svrun-pghostile-pwned"
#define PWNED_FILE "/tmp/svrun-pghostile-users"

/* Everything an attack could have changed, as one comparable text. */
static char *
core_dump(void)
{
	char *data = it_sql_dump("SELECT 'users', id::text, email, display_name, password_hash"
				 " FROM users UNION ALL SELECT 'config', key, value, '', '' FROM"
				 " config UNION ALL SELECT 'other', v, '', '', '' FROM"
				 " plugin_other_secrets ORDER BY 1, 2");
	char *schema = it_schema_dump(), *all;

	cr_assert(asprintf(&all, "%s#%s", data, schema) > 0);
	free(data);
	free(schema);
	return all;
}

/* The demo database, hello installed, another plugin's secret table, pghostile installed. */
static void
prepare(void)
{
	cr_assert(it_pg, "test_pg runs on PostgreSQL only (SVRUN_IT_BACKEND=postgresql)");
	it_init_db();
	it_sql("CREATE TABLE plugin_other_secrets(v text);"
	       "INSERT INTO plugin_other_secrets(v) VALUES ('other plugin data')");
	it_install("pghostile");
}

/* Seconds of CLOCK_MONOTONIC, for the "ended at the deadline" checks. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(pg, hostile_sql_is_refused_by_the_database_and_nothing_changes)
{
	static const char *const not_permitted[] = {
	    "set-role",
	    "set-role-hidden",
	    "set-role-stmt",
	    "reset-role",
	    "session-authorization",
	    "session-authorization-hidden",
	    "read-users",
	    "read-config",
	    "update-users",
	    "copy-program",
	    "copy-file",
	    "pg-read-file",
	    "lo-import",
	    "dblink",
	    "create-extension",
	    "create-function-public",
	    "create-table-public",
	    "create-temp-table",
	    "other-plugin-read",
	    "other-plugin-write",
	    "lock-core",
	    "view-for-update",
	    "grant-self",
	};
	char *before, *after, *items, *role, expect[256];
	struct it_run r;
	size_t i;

	unlink(PWNED_PROGRAM);
	unlink(PWNED_FILE);
	prepare();
	before = core_dump();
	r = it_run_plugin("pghostile");

	/* Positive controls: the rights it was granted all work. */
	cr_assert(it_has_log(r.err, "pghostile", "ok[view]: 3"), "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "ok[own-insert]: mine"), "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "ok[own-read]: mine"), "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "ok[harmless-setting]: 8MB"), "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile",
			     "ok[identity]: plugin:pghostile|"
			     "svc_plugin_pghostile|svc_plugin_pghostile"),
		  "the session's identity changed:\n%s", r.err);

	/* Every attack refused, with the reason each deserves. */
	for (i = 0; i < sizeof(not_permitted) / sizeof(not_permitted[0]); i++) {
		snprintf(expect, sizeof(expect), "refused[%s]: not permitted", not_permitted[i]);
		cr_assert(it_has_log(r.err, "pghostile", expect),
			  "missing '[pghostile] %s' in:\n%s", expect, r.err);
	}
	cr_assert(it_has_log(r.err, "pghostile",
			     "refused[app-name]: not permitted: changing "
			     "application_name"),
		  "%s", r.err);
	/* A read cannot make reads writers: the flip is refused, and reads after it stay so. */
	cr_assert(it_has_log(r.err, "pghostile",
			     "refused[read-only-off]: not permitted: changing "
			     "default_transaction_read_only"),
		  "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "ok[read-only]: on"), "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile",
			     "refused[multi-statement]: cannot insert "
			     "multiple commands"),
		  "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile",
			     "refused[sleep]: the statement ran past its "
			     "time limit (1000 ms)"),
		  "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "refused[huge-result]: the result exceeds"),
		  "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "refused[huge-write]: the result exceeds"),
		  "%s", r.err);
	cr_assert_null(strstr(r.err, "ALLOWED["), "an attack went through:\n%s", r.err);
	cr_assert_eq(r.status, 0, "pghostile exited %d (attacks allowed)", r.status);

	/* And none of them left a trace. */
	after = core_dump();
	cr_assert_str_eq(after, before, "core data or catalog changed:\nbefore:\n%s\nafter:\n%s",
			 before, after);
	items = it_sql_dump("SELECT note FROM plugin_pghostile_items");
	cr_assert_str_eq(items, "mine\n", "the multi-statement DELETE ran: items are '%s'", items);
	cr_assert(!it_exists(PWNED_PROGRAM), "COPY TO PROGRAM ran: %s exists", PWNED_PROGRAM);
	cr_assert(!it_exists(PWNED_FILE), "COPY TO FILE ran: %s exists", PWNED_FILE);
	/* The launch's password is gone again: the role cannot log in between runs. */
	role = it_pg_admin_dump("SELECT rolpassword IS NULL FROM pg_authid WHERE rolname ="
				" 'svc_plugin_pghostile'");
	cr_assert_str_eq(role, "t\n", "the plugin role kept a password after the run");
	free(role);
	free(before);
	free(after);
	free(items);
	it_run_free(&r);
}

Test(pg, a_statement_with_its_timeout_turned_off_ends_at_the_deadline)
{
	const char *argv[] = {"--db", it_uri, "--timeout", "3", it_plugin("pghostile"), NULL};
	char *active;
	struct it_run r;
	double t0;

	prepare();
	it_set_cfg("pghostile", "mode", "sleep");
	t0 = now_s();
	r = it_svrun(argv, NULL);
	cr_assert(it_has_log(r.err, "pghostile", "ok[timeout-off]"), "%s", r.err);
	cr_assert_eq(r.status, 129, "expected the deadline status 129, got %d:\n%s", r.status,
		     r.err);
	cr_assert_lt(now_s() - t0, 15.0, "svrun took %.1f s past a 3 s deadline", now_s() - t0);
	/* The server is not left sleeping for the plugin either. */
	active = it_pg_admin_dump("SELECT count(*) FROM pg_stat_activity WHERE usename ="
				  " 'svc_plugin_pghostile' AND state = 'active'");
	cr_assert_str_eq(active, "0\n", "a plugin statement still runs on the server");
	free(active);
	it_run_free(&r);
}

Test(pg, a_statement_sleeping_until_the_deadline_does_not_stop_another_plugin)
{
	const char *done, *sleeper_killed;
	struct it_run r;

	prepare();
	it_install("steadylate");
	it_set_cfg("pghostile", "mode", "sleep");
	r = it_svrun((const char *const[]){"--db", it_uri, "--timeout", "5",
					   it_plugin("pghostile"), it_plugin("steadylate"), NULL},
		     NULL);
	cr_assert(it_has_log(r.err, "pghostile", "ok[timeout-off]"), "%s", r.err);
	cr_assert(it_has_log(r.err, "steadylate", "done 2000 requests, 0 wrong"), "%s", r.err);
	/* Served while the other's statement slept, not after its deadline ended it. */
	done = strstr(r.err, "[steadylate] done");
	sleeper_killed = strstr(r.err, "plugin 'pghostile' killed: deadline");
	cr_assert(done && sleeper_killed && done < sleeper_killed,
		  "steadylate was served only after pghostile's deadline:\n%s", r.err);
	it_run_free(&r);
}

Test(pg, a_transaction_held_open_releases_its_locks_at_the_deadline)
{
	const char *argv[] = {"--db", it_uri, "--timeout", "3", it_plugin("pghostile"), NULL};
	struct it_proc p;
	struct it_run r;
	char *cols;

	prepare();
	it_set_cfg("pghostile", "mode", "hold");
	it_start(&p, argv, NULL);
	cr_assert(it_wait_for_text(p.err_path, "ok[hold-view]", 10000),
		  "the plugin never got its transaction open");
	/* Core's migration waits for the plugin's lock, and gets it once svrun ends it. */
	it_sql("SET lock_timeout = '20s'; ALTER TABLE users ADD COLUMN nickname text");
	r = it_wait(&p, IT_RUN_LIMIT_S);
	cr_assert_eq(r.status, 129, "expected the deadline status 129, got %d:\n%s", r.status,
		     r.err);
	cols = it_sql_dump("SELECT count(*) FROM information_schema.columns WHERE table_name ="
			   " 'users' AND column_name = 'nickname'");
	cr_assert_str_eq(cols, "1\n", "core's ALTER TABLE did not get through");
	free(cols);
	it_run_free(&r);
}

/*
 * Waits for the "cut" run @p: the nap in flight fails cleanly, the broker connects the
 * plugin again, as its own role, and its next request is answered; the run ends well.
 */
static void
assert_cut_cleanly(struct it_proc *p)
{
	struct it_run r = it_wait(p, IT_RUN_LIMIT_S);
	char *who;

	cr_assert_eq(r.status, 0, "the plugin should end normally, not %d:\n%s", r.status, r.err);
	cr_assert(it_has_log(r.err, "pghostile", "failed[nap]: the database connection was lost"),
		  "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "ok[after-cut]: 1"), "%s", r.err);
	cr_assert_null(strstr(r.err, "WRONG"), "%s", r.err);
	it_run_free(&r);
	/* The new connection was the plugin's own role, and it let no password behind. */
	who = it_pg_admin_dump("SELECT count(*) FROM pg_authid WHERE rolname = "
			       "'svc_plugin_pghostile' AND rolpassword IS NULL");
	cr_assert_str_eq(who, "1\n", "the plugin role kept a password after reconnecting");
	free(who);
}

/* Starts pghostile in @mode and, once it naps, has the server end its one connection. */
static void
start_and_cut(struct it_proc *p, const char *mode)
{
	const char *argv[] = {"--db", it_uri, "--timeout", "20", it_plugin("pghostile"), NULL};
	char *cut;

	prepare();
	it_set_cfg("pghostile", "mode", mode);
	it_start(p, argv, NULL);
	cr_assert(it_wait_for_text(p->err_path, "ok[nap]", 10000), "the plugin never napped");
	cut = it_pg_admin_dump("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
			       " WHERE usename = 'svc_plugin_pghostile'");
	cr_assert_str_eq(cut, "1\n", "expected one plugin connection to cut, not %s", cut);
	free(cut);
}

Test(pg, a_connection_cut_by_the_server_fails_cleanly_and_the_broker_connects_again)
{
	struct it_proc p;
	struct it_run r;

	start_and_cut(&p, "cut");
	assert_cut_cleanly(&p);
	/* Control: the next launch connects afresh and works. */
	it_set_cfg("pghostile", "mode", "statements");
	it_sql("DELETE FROM plugin_pghostile_cfg WHERE value = 'cut'");
	r = it_run_plugin("pghostile");
	cr_assert(it_has_log(r.err, "pghostile", "ok[view]: 3"), "%s", r.err);
	it_run_free(&r);
}

Test(pg, a_transaction_cut_with_its_connection_is_lost_whole_and_said_to_be)
{
	struct it_proc p;
	struct it_run r;
	char *rows;

	start_and_cut(&p, "cuttx");
	r = it_wait(&p, IT_RUN_LIMIT_S);
	cr_assert_eq(r.status, 0, "%s", r.err);
	/* The positive control: the row was written inside the transaction before the cut. */
	cr_assert(it_has_log(r.err, "pghostile", "ok[in-tx]: lost"), "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "ok[lost-tx]: the connection was lost inside "
						 "the transaction"), "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "ok[commit-lost]: the connection was lost "
						 "inside the transaction: nothing of it was "
						 "committed"), "%s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "ok[after-cut]: 1"), "%s", r.err);
	cr_assert_null(strstr(r.err, "WRONG"), "%s", r.err);
	it_run_free(&r);
	rows = it_sql_dump("SELECT count(*) FROM plugin_pghostile_items WHERE note = 'lost'");
	cr_assert_str_eq(rows, "0\n", "a row of the lost transaction landed");
	free(rows);
}

Test(pg, a_server_restart_fails_the_request_in_flight_cleanly_and_the_plugin_goes_on)
{
	const char *argv[] = {"--db", it_uri, "--timeout", "30", it_plugin("pghostile"), NULL};
	const char *cluster = getenv("SVRUN_TEST_PG_DIR");
	char cmd[1024];
	struct it_proc p;
	struct it_run r;

	prepare();
	cr_assert_not_null(cluster, "SVRUN_TEST_PG_DIR is not set: start the cluster first");
	it_set_cfg("pghostile", "mode", "cut");
	it_start(&p, argv, NULL);
	cr_assert(it_wait_for_text(p.err_path, "ok[nap]", 10000), "the plugin never napped");
	snprintf(cmd, sizeof(cmd), "'%s/scripts/pg.sh' restart '%s'", SOURCE_DIR, cluster);
	cr_assert_eq(system(cmd), 0, "the cluster did not restart");
	assert_cut_cleanly(&p);
	/* Control: the next launch connects to the restarted server and works. */
	it_sql("DELETE FROM plugin_pghostile_cfg WHERE value = 'cut'");
	r = it_run_plugin("pghostile");
	cr_assert(it_has_log(r.err, "pghostile", "ok[view]: 3"), "%s", r.err);
	it_run_free(&r);
}

/* Runs `svrun audit` on the test's database. */
static struct it_run
audit(void)
{
	return it_svrun((const char *const[]){"audit", "--db", it_uri, NULL}, NULL);
}

Test(pg, install_grants_exactly_the_manifest_and_audit_finds_every_excess)
{
	struct it_run plan, r;
	char *role, *roles;

	prepare();
	it_sql("DROP TABLE plugin_pghostile_items");
	/* --plan runs nothing. */
	plan = it_svrun(
	    (const char *const[]){"grants", "--plan", "--db", it_uri, it_plugin("pghostile"), NULL},
	    NULL);
	cr_assert_eq(plan.status, 0, "%s", plan.err);
	cr_assert_not_null(strstr(plan.out, "GRANT SELECT ON \"v_plugin_users\" TO "
					    "\"svc_plugin_pghostile\""),
			   "%s", plan.out);
	cr_assert_null(strstr(plan.out, "v_plugin_boards"), "a view not in the manifest: %s",
		       plan.out);
	cr_assert_not_null(strstr(plan.out, "CREATE TABLE IF NOT EXISTS "
					    "\"plugin_pghostile_items\""),
			   "%s", plan.out);
	roles = it_sql_dump("SELECT count(*) FROM pg_class WHERE relname = "
			    "'plugin_pghostile_items'");
	cr_assert_str_eq(roles, "0\n", "grants --plan created a table");
	free(roles);

	it_install("pghostile");
	role = it_pg_admin_dump("SELECT rolcanlogin, rolinherit, rolsuper, rolcreaterole,"
				" rolpassword IS NULL FROM pg_authid WHERE rolname ="
				" 'svc_plugin_pghostile'");
	cr_assert_str_eq(role, "t|f|f|f|t\n",
			 "the role is not LOGIN NOINHERIT without a password: %s", role);
	free(role);
	r = audit();
	cr_assert_eq(r.status, 0, "a fresh install has excesses:\n%s%s", r.out, r.err);
	it_run_free(&r);

	/* Each excess a careless grant could add is named. */
	it_sql("GRANT SELECT (email) ON users TO svc_plugin_pghostile;"
	       "GRANT svc_core TO svc_plugin_pghostile;"
	       "GRANT CREATE ON SCHEMA public TO PUBLIC;"
	       "CREATE FUNCTION core_helper() RETURNS int LANGUAGE sql AS 'SELECT 1';"
	       "GRANT EXECUTE ON FUNCTION core_helper() TO PUBLIC");
	r = audit();
	cr_assert_eq(r.status, 1, "audit should fail on excesses:\n%s%s", r.out, r.err);
	cr_assert_not_null(strstr(r.out, "svc_plugin_pghostile: SELECT on public.users"), "%s",
			   r.out);
	cr_assert_not_null(strstr(r.out, "svc_plugin_pghostile: member of role svc_core"), "%s",
			   r.out);
	cr_assert_not_null(strstr(r.out, "svc_plugin_pghostile: CREATE on schema public"), "%s",
			   r.out);
	cr_assert_not_null(strstr(r.out, "svc_plugin_pghostile: EXECUTE on function "
					 "core_helper()"),
			   "%s", r.out);
	it_run_free(&r);

	/* Installing again takes the plugin's excesses back; the hardening, PUBLIC's. */
	it_install("pghostile");
	r = audit();
	cr_assert_eq(r.status, 0, "install did not repair the grants:\n%s%s", r.out, r.err);
	it_run_free(&r);
	it_run_free(&plan);
}

Test(pg, uninstall_drops_the_role_and_keeps_data_only_when_asked)
{
	struct it_run r;
	char *left;

	prepare();
	r = it_svrun(
	    (const char *const[]){"uninstall", "--keep-data", "--db", it_uri, "pghostile", NULL},
	    NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
	left = it_sql_dump("SELECT (SELECT count(*) FROM pg_roles WHERE rolname ="
			   " 'svc_plugin_pghostile') || '|' || (SELECT count(*) FROM pg_class"
			   " WHERE relkind = 'r' AND relname LIKE 'plugin\\_pghostile\\_%')");
	cr_assert_str_eq(left, "0|2\n", "role|tables after uninstall --keep-data: %s", left);
	free(left);
	/* Not installed now: it does not run, and a second uninstall says so. */
	r = it_run_plugin("pghostile");
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "not installed"), "%s", r.err);
	it_run_free(&r);
	it_install("pghostile");
	r = it_svrun((const char *const[]){"uninstall", "--db", it_uri, "pghostile", NULL}, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
	left = it_sql_dump("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE "
			   "'plugin\\_pghostile\\_%'");
	cr_assert_str_eq(left, "0\n", "uninstall left tables: %s", left);
	free(left);
}

Test(pg, a_password_in_the_uri_is_refused_and_never_printed)
{
	char uri[1200];
	struct it_run r;

	prepare();
	snprintf(uri, sizeof(uri), "%s&password=hunter2secret", it_uri);
	r = it_svrun((const char *const[]){"--db", uri, it_plugin("hello"), NULL}, NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "PGPASSFILE"), "%s", r.err);
	cr_assert_null(strstr(r.err, "hunter2secret"), "the password was printed:\n%s", r.err);
	it_run_free(&r);
	/* Control: the same URI without it runs the plugin. */
	r = it_svrun((const char *const[]){"--db", it_uri, it_plugin("hello"), NULL}, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
}

Test(pg, a_missing_database_gets_a_clear_error)
{
	char uri[1200];
	struct it_run r;

	prepare();
	snprintf(uri, sizeof(uri), "postgresql:///no_such_db?host=%s", strchr(it_uri, '=') + 1);
	r = it_svrun((const char *const[]){"--db", uri, it_plugin("hello"), NULL}, NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "no_such_db"), "%s", r.err);
	it_run_free(&r);
}

Test(pg, statements_sent_again_run_prepared_and_the_last_thirty_two_are_kept)
{
	char want[64];
	struct it_run r;
	int i;

	prepare();
	it_install("prepared");
	r = it_run_plugin("prepared");
	cr_assert_eq(r.status, 0, "%s", r.err);
	/* Right answers every time, one statement per text and parameter types. */
	cr_assert(it_has_log(r.err, "prepared", "ok[int]: 42"), "%s", r.err);
	cr_assert(it_has_log(r.err, "prepared", "ok[text]: 42"), "%s", r.err);
	cr_assert(it_has_log(r.err, "prepared", "ok[sum-statements]: 2"), "%s", r.err);
	/* One the server could not prepare: a clear error, nothing kept, and it goes on. */
	cr_assert(it_has_log(r.err, "prepared", "failed[bad]: "), "%s", r.err);
	cr_assert(strstr(r.err, "syntax error"), "%s", r.err);
	cr_assert(it_has_log(r.err, "prepared", "ok[bad-statements]: 0"), "%s", r.err);
	cr_assert(it_has_log(r.err, "prepared", "ok[in-tx]: rolled back"), "%s", r.err);
	cr_assert(it_has_log(r.err, "prepared", "ok[after-rollback]: rolled back"), "%s", r.err);
	/* Past the bound the statements still run, and the server holds no more than 32. */
	for (i = 0; i < 40; i++) {
		snprintf(want, sizeof(want), "ok[distinct-%d]: %d", i, i);
		cr_assert(it_has_log(r.err, "prepared", want), "missing %s in:\n%s", want, r.err);
	}
	cr_assert(it_has_log(r.err, "prepared", "ok[all-statements]: 32"), "%s", r.err);
	cr_assert(it_has_log(r.err, "prepared", "ok[first-distinct]: 0"), "%s", r.err);
	cr_assert(it_has_log(r.err, "prepared", "ok[last-distinct]: 1"), "%s", r.err);
	cr_assert(it_has_log(r.err, "prepared", "ok[int-again]: 42"), "%s", r.err);
	cr_assert(it_has_log(r.err, "prepared", "ok[full-tx]: 12345"), "%s", r.err);
	cr_assert(it_has_log(r.err, "prepared", "ok[full-tx-statements]: 0"), "%s", r.err);
	it_run_free(&r);
}

/* Whether a --trace line of plugin @id in @err says @text. */
static int
traced(const char *err, const char *id, const char *text)
{
	char tag[64];
	const char *line, *end;

	snprintf(tag, sizeof(tag), "[trace %s] ", id);
	for (line = err; (line = strstr(line, tag)) != NULL; line = end) {
		end = strchr(line, '\n') ? strchr(line, '\n') : line + strlen(line);
		if (memmem(line, (size_t)(end - line), text, strlen(text)))
			return 1;
	}
	return 0;
}

/*
 * Several plugins reading at once: each one's read goes to the server before the
 * broker waits for any answer (--trace: "sent ahead"), and each plugin gets exactly its
 * own answers (steady checks every one by content, with a random token of its own).
 */
Test(pg, the_reads_of_several_plugins_go_to_the_server_together_and_each_gets_its_own)
{
	const char *argv[8] = {"--db", it_uri, "--trace"};
	char so[4][600], id[16];
	struct it_run r;
	int i;

	prepare();
	for (i = 0; i < 4; i++) {
		snprintf(so[i], sizeof(so[i]), "%s/steady%c.so", it_dir, 'a' + i);
		it_copy(it_plugin("steady"), so[i]);
		r = it_svrun((const char *const[]){"install", "--db", it_uri, so[i], NULL}, NULL);
		cr_assert_eq(r.status, 0, "%s", r.err);
		it_run_free(&r);
		argv[3 + i] = so[i];
	}
	r = it_svrun(argv, NULL);
	cr_assert_eq(r.status, 0, "%.4000s", r.err);
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "steady%c", 'a' + i);
		cr_assert(it_has_log(r.err, id, "done 2000 requests, 0 wrong"), "%.4000s", r.err);
	}
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "steady%c", 'a' + i);
		cr_assert(traced(r.err, id, "waits: sent ahead"), "no read of %s was sent ahead",
			  id);
	}
	it_run_free(&r);
}

/* The "slowest N us" that steady reported in @err, or -1. */
static long long
slowest_of_steady(const char *err)
{
	const char *p = strstr(err, "[steady] done ");
	long long us = -1;

	if (p && (p = strstr(p, "slowest ")) != NULL)
		sscanf(p, "slowest %lld us", &us);
	return us;
}

/*
 * A long read sent ahead beside another plugin's reads: pghostile naps sixty times for
 * 50 ms in one prepared statement, each nap a read sent ahead, often in the same pass as
 * one of steady's, and collected first (pghostile is the first plugin). Steady's read is
 * collected from inside that wait, not after it: none of its 2,000 requests, which span
 * several naps, waits anywhere near a nap (3-5 ms at most here; 35 ms leaves room for a
 * busy host). Held until the nap's end, one waits the whole 50 ms.
 */
Test(pg, a_long_read_sent_ahead_does_not_hold_up_the_reads_sent_beside_it)
{
	struct it_run r;
	long long slowest;

	prepare();
	it_install("steady");
	it_set_cfg("pghostile", "mode", "naps");
	r = it_svrun((const char *const[]){"--db", it_uri, "--trace", it_plugin("pghostile"),
					   it_plugin("steady"), NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "%.4000s", r.err);
	cr_assert(it_has_log(r.err, "steady", "done 2000 requests, 0 wrong"), "%.4000s", r.err);
	cr_assert(it_has_log(r.err, "pghostile", "ok[naps]: 60"), "%.4000s", r.err);
	/* The naps went ahead like steady's reads: the case this test is about. */
	cr_assert(traced(r.err, "pghostile", "waits: sent ahead"),
		  "no nap was sent ahead:\n%.4000s", r.err);
	slowest = slowest_of_steady(r.err);
	cr_assert(slowest >= 0, "steady reported no slowest request:\n%.4000s", r.err);
	cr_assert_lt(slowest, 35000, "one of steady's requests waited %lld us, held by a nap",
		     slowest);
	it_run_free(&r);
}
