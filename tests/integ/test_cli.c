/*
 * test_cli.c - svrun's command line as a user meets it: help, bad options, a missing
 * database, a badly named plugin and a shared object that is not a plugin, each with
 * its documented exit status and a message that says what to do.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Copies the rights plugin into the test's directory with @manifest beside it. */
static const char *
plugin_with_manifest(const char *manifest)
{
	static char so[512];
	char path[512];

	snprintf(so, sizeof(so), "%s/rights.so", it_dir);
	snprintf(path, sizeof(path), "%s/rights.manifest", it_dir);
	it_copy(it_plugin("rights"), so);
	it_write_file(path, manifest);
	return so;
}

Test(cli, an_invalid_manifest_names_file_line_and_field_and_nothing_runs)
{
	static const struct {
		const char *text;
		const char *expect;
	} cases[] = {
	    {"[plugin]\nid = rights\n\n[limits]\nmemory = lots\n",
	     "rights.manifest:5: [limits] memory: \"lots\": expected a size like 256M"},
	    {"[plugin]\nid = rights\ncolour = blue\n",
	     "rights.manifest:3: [plugin] colour: unknown key"},
	    {"[plugin]\nid = Rights!\n",
	     "rights.manifest:2: [plugin] id: \"Rights!\" is not an id"},
	    {"[plugin]\nid = rights\nreads = users\n",
	     "rights.manifest:3: [plugin] reads: \"users\": a plugin reads only v_plugin_* views"},
	    {"[plugin]\nid = rights\n[table notes]\nk = blob\n",
	     "rights.manifest:4: [table notes] k: type \"blob\": expected id, integer"},
	    {"[plugin]\nid = rights\nthis is not ini\n", "rights.manifest:3: not a valid line"},
	    {"[limits]\ntimeout = 5\n", "rights.manifest: [plugin] id is missing"},
	};
	struct it_run r;
	char *before, *after;

	it_init_db();
	before = it_schema_dump();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *so = plugin_with_manifest(cases[i].text);

		r = it_svrun((const char *const[]){"install", "--db", it_uri, so, NULL}, NULL);
		cr_assert_eq(r.status, 126, "case %zu: %s", i, r.err);
		cr_assert_not_null(strstr(r.err, cases[i].expect), "case %zu: want '%s' in:\n%s", i,
				   cases[i].expect, r.err);
		it_run_free(&r);
		r = it_svrun((const char *const[]){"--db", it_uri, so, NULL}, NULL);
		cr_assert_eq(r.status, 126, "case %zu ran: %s", i, r.err);
		cr_assert_null(strstr(r.err, "[rights]"), "case %zu: the plugin ran:\n%s", i,
			       r.err);
		it_run_free(&r);
	}
	after = it_schema_dump();
	cr_assert_str_eq(after, before, "a refused install changed the schema");
	free(before);
	free(after);
}

Test(cli, a_plugin_with_a_manifest_runs_only_once_installed)
{
	const char *so;
	struct it_run r;

	it_init_db();
	it_sql("CREATE TABLE plugin_rights_notes(k TEXT, v TEXT)");
	so = plugin_with_manifest("[plugin]\nid = rights\nreads = v_plugin_users\n");
	r = it_svrun((const char *const[]){"--db", it_uri, so, NULL}, NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "is not installed"), "%s", r.err);
	cr_assert_null(strstr(r.err, "[rights]"), "the plugin ran:\n%s", r.err);
	it_run_free(&r);
	/* Control: installed, it runs. */
	r = it_svrun((const char *const[]){"install", "--db", it_uri, so, NULL}, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
	r = it_svrun((const char *const[]){"--db", it_uri, so, NULL}, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(it_has_log(r.err, "rights", "view: "), "%s", r.err);
	it_run_free(&r);
}

/*
 * A plugin whose path is 4092 bytes: readable, while its manifest's name (6 bytes
 * longer) is past PATH_MAX and cannot be looked up. Directories of up to 200 bytes
 * make up the length.
 */
static const char *
plugin_at_the_longest_path(void)
{
	static char so[4200];
	const size_t want = 4092 - strlen("/benign.so");
	size_t len, rest, seg;

	len = (size_t)snprintf(so, sizeof(so), "%s", it_dir);
	while (len < want) {
		/* A '/' and a name each time; never a remainder too short for one. */
		rest = want - len;
		seg = rest <= 201 ? rest - 1 : rest == 202 ? 100 : 200;
		so[len++] = '/';
		memset(so + len, 'd', seg);
		len += seg;
		so[len] = '\0';
		cr_assert_eq(mkdir(so, 0755), 0, "mkdir of a %zu-byte path", len);
	}
	snprintf(so + len, sizeof(so) - len, "/benign.so");
	it_copy(it_plugin("benign"), so);
	cr_assert_eq(strlen(so), 4092);
	return so;
}

Test(cli, a_manifest_that_cannot_be_looked_up_is_refused_never_read_as_none)
{
	const char *so, *tail;
	struct it_run r;
	char want[128];

	it_init_db();
	so = plugin_at_the_longest_path();
	cr_assert_eq(access(so, R_OK), 0, "the plugin itself is readable");
	r = it_svrun((const char *const[]){"--db", it_uri, "--timeout", "20", so, NULL}, NULL);
	/* The path fills the output: what follows it is what tells. */
	tail = r.err + (strlen(r.err) > 400 ? strlen(r.err) - 400 : 0);
	cr_assert_eq(r.status, 126, "...%s", tail);
	snprintf(want, sizeof(want), "cannot look up the manifest (%s): /", strerror(ENAMETOOLONG));
	cr_assert(strstr(r.err, want), "...%s", tail);
	cr_assert_null(strstr(r.err, "[benign]"), "the plugin ran with the defaults: ...%s", tail);
	it_run_free(&r);
	/* Control: the same plugin where its manifest can be looked up (there is none) runs. */
	r = it_run_plugin("benign");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(it_has_log(r.err, "benign", "ok: 3 users visible"), "%s", r.err);
	it_run_free(&r);
}

Test(cli, a_run_of_several_plugins_refuses_a_shared_id_learn_and_an_empty_directory)
{
	char dir[512], copy[600], benign[512];
	struct it_run r;

	it_init_db();
	snprintf(benign, sizeof(benign), "%s", it_plugin("benign"));
	snprintf(dir, sizeof(dir), "%s/plugins", it_dir);
	cr_assert_eq(mkdir(dir, 0755), 0);
	/* Two files, one id: they would share tables and a role. Nothing runs. */
	snprintf(copy, sizeof(copy), "%s/benign.so", dir);
	it_copy(benign, copy);
	r = it_svrun((const char *const[]){"--db", it_uri, benign, copy, NULL}, NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert(strstr(r.err, "have the same id 'benign'"), "%s", r.err);
	cr_assert_null(strstr(r.err, "[benign]"), "a plugin ran:\n%s", r.err);
	it_run_free(&r);
	r = it_svrun((const char *const[]){"--db", it_uri, "--learn", benign, it_plugin("spin"),
					   NULL},
		     NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert(strstr(r.err, "--learn runs one plugin at a time, not 2"), "%s", r.err);
	it_run_free(&r);
	unlink(copy);
	r = it_svrun((const char *const[]){"--db", it_uri, "--plugins", dir, NULL}, NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert(strstr(r.err, "no *.so file there"), "%s", r.err);
	it_run_free(&r);
	/* Control: the directory with one plugin in it runs that plugin. */
	it_copy(benign, copy);
	r = it_svrun((const char *const[]){"--db", it_uri, "--plugins", dir, NULL}, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(it_has_log(r.err, "benign", "ok"), "%s", r.err);
	it_run_free(&r);
}
