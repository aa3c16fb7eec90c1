/*
 * test_author.c - the plugin author's loop: --debug hands the plugin the full refusal
 * reason (and only then), --trace shows each request and answer, and the limits an
 * operator sets are enforced with a message that names them.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "tests/integ/harness.h"

TestSuite(author, .init = it_setup, .fini = it_teardown, .timeout = 90);

Test(author, debug_gives_the_plugin_the_full_reason_and_production_does_not)
{
	struct it_run r;

	it_init_db();
	r = it_svrun((const char *const[]){"--db", it_uri, "--debug", it_plugin("hello"), NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "[hello] reading the users table: not permitted: access "
					 "to users [debug: authorizer denied SQLITE_READ"),
			   "%s", r.err);
	cr_assert_not_null(strstr(r.err, "--debug"), "debug mode is not announced:\n%s", r.err);
	it_run_free(&r);

	/* Without --debug the plugin learns the object, never the schema behind it. */
	r = it_run_plugin("hello");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "[hello] reading the users table: not permitted: access "
					 "to users (as it should be)"),
			   "%s", r.err);
	cr_assert_null(strstr(r.err, "[debug:"), "%s", r.err);
	it_run_free(&r);
}

Test(author, trace_prints_each_request_and_its_answer)
{
	struct it_run r;

	it_init_db();
	r = it_svrun((const char *const[]){"--db", it_uri, "--trace", it_plugin("hello"), NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "[trace hello] #1 query (0 parameters): SELECT id, "
					 "display_name FROM v_plugin_users ORDER BY id"),
			   "%s", r.err);
	cr_assert_not_null(strstr(r.err, "[trace hello] #1 -> 3 rows, 2 columns"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "[trace hello] #2 begin"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "[trace hello] #3 -> 0 rows, 0 columns, 1 changed"), "%s",
			   r.err);
	cr_assert_not_null(strstr(r.err, "[trace hello] #4 rollback"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "[trace hello] #9 -> error: not permitted"), "%s", r.err);
	it_run_free(&r);

	/* Control: no trace lines without --trace. */
	r = it_run_plugin("hello");
	cr_assert_null(strstr(r.err, "[trace "), "%s", r.err);
	it_run_free(&r);
}

Test(author, max_requests_stops_the_plugin_and_names_the_limit)
{
	struct it_run r;

	it_init_db();
	/* hello makes nine requests: eight are allowed, the ninth is over the limit. */
	r = it_svrun((const char *const[]){"--db", it_uri, "--max-requests", "8",
					   it_plugin("hello"), NULL},
		     NULL);
	cr_assert_eq(r.status, 130, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "request limit of 8 reached"), "%s", r.err);
	it_run_free(&r);
	r = it_svrun((const char *const[]){"--db", it_uri, "--max-requests", "9",
					   it_plugin("hello"), NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "nine requests are within a limit of 9:\n%s", r.err);
	it_run_free(&r);
}

Test(author, max_result_refuses_a_result_over_the_limit)
{
	struct it_run r;

	it_init_db();
	r = it_svrun((const char *const[]){"--db", it_uri, "--max-result", "16",
					   it_plugin("hello"), NULL},
		     NULL);
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "[hello] cannot list users:"), "%s", r.err);
	it_run_free(&r);
	/* Control: the default limit lets the same result through. */
	it_assert_benign_runs();
}

Test(author, bad_limit_values_are_usage_errors)
{
	struct it_run r;

	it_init_db();
	r = it_svrun((const char *const[]){"--db", it_uri, "--memory", "12X", it_plugin("benign"),
					   NULL},
		     NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "invalid --memory '12X'"), "%s", r.err);
	it_run_free(&r);
}
