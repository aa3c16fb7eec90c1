/*
 * test_cli.c - svrun's command line as a user meets it: help, bad options, a missing
 * database, a badly named plugin and a shared object that is not a plugin, each with
 * its documented exit status and a message that says what to do.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/integ/harness.h"

TestSuite(cli, .init = it_setup, .fini = it_teardown, .timeout = 90);

Test(cli, help_prints_usage_and_exits_0)
{
	struct it_run r = it_svrun((const char *const[]){"--help", NULL}, NULL);

	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "Usage: svrun"), "%s", r.out);
	it_run_free(&r);
}

Test(cli, version_prints_the_version_and_exits_0)
{
	struct it_run r = it_svrun((const char *const[]){"--version", NULL}, NULL);

	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "svrun "), "%s", r.out);
	it_run_free(&r);
}

Test(cli, unknown_option_exits_126_with_unrecognized_option)
{
	struct it_run r;

	it_init_db();
	r = it_svrun((const char *const[]){"--db", it_uri, "--bogus", it_plugin("benign"), NULL},
		     NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "unrecognized option"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "--bogus"), "the message does not name it:\n%s", r.err);
	it_run_free(&r);
	/* Control: the same command without the bad option runs. */
	it_assert_benign_runs();
}

Test(cli, missing_database_exits_126_says_svrun_init_and_creates_nothing)
{
	char path[512], uri[600];
	struct it_run r;

	snprintf(path, sizeof(path), "%s/missing.db", it_dir);
	snprintf(uri, sizeof(uri), "sqlite:%s", path);
	r = it_svrun((const char *const[]){"--db", uri, it_plugin("benign"), NULL}, NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "svrun init"), "no hint how to create it:\n%s", r.err);
	cr_assert(!it_exists(path), "svrun created %s", path);
	it_run_free(&r);
	/* Control: once created, the same database runs the plugin. */
	it_init_db();
	it_assert_benign_runs();
}

Test(cli, plugin_id_outside_a_to_z_digits_exits_126)
{
	char bad[512], good[512];
	struct it_run r;

	it_init_db();
	snprintf(bad, sizeof(bad), "%s/Bad_Name.so", it_dir);
	snprintf(good, sizeof(good), "%s/goodname2.so", it_dir);
	it_copy(it_plugin("benign"), bad);
	it_copy(it_plugin("benign"), good);
	r = it_svrun((const char *const[]){"--db", it_uri, bad, NULL}, NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "[a-z][a-z0-9]*"), "the rule is not stated:\n%s", r.err);
	cr_assert_null(strstr(r.err, "[Bad_Name]"), "the plugin ran:\n%s", r.err);
	it_run_free(&r);
	/* Control: the same object under a valid id runs. */
	r = it_svrun((const char *const[]){"--db", it_uri, good, NULL}, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(it_has_log(r.err, "goodname2", "ok: 3 users visible"), "%s", r.err);
	it_run_free(&r);
}

Test(cli, shared_object_without_sv_plugin_main_exits_127)
{
	struct it_run r;

	it_init_db();
	r = it_run_plugin("nomain");
	cr_assert_eq(r.status, 127, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "sv_plugin_main"), "the reason is not given:\n%s",
			   r.err);
	it_run_free(&r);
	it_assert_benign_runs();
}
