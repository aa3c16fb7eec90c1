/*
 * test_learn.c - the reviewer's workflow end to end: a plugin killed under the default
 * policy, learn mode recording what it needs without running it, the learned policy
 * letting it work, and a ceiling refusing any policy wider than itself.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integ/harness.h"

TestSuite(learn, .init = it_setup, .fini = it_teardown, .timeout = 90);

Test(learn, learn_mode_records_denied_calls_and_the_learned_policy_runs_the_plugin)
{
	char learned[600], learn_opt[620], *text;
	struct it_run r;

	it_init_db();
	snprintf(learned, sizeof(learned), "%s/learner.policy", it_dir);
	/* An optional argument, GNU style: only the "=" form attaches it. */
	snprintf(learn_opt, sizeof(learn_opt), "--learn=%s", learned);

	/* Control: under the default policy the plugin is killed, naming the call. */
	r = it_run_plugin("learner");
	cr_assert_eq(r.status, 128, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "killed: syscall getppid("), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "svrun --learn"), "no pointer to learn mode:\n%s", r.err);
	it_run_free(&r);

	/* Learn mode: not killed; the calls fail (they never ran) and are written down. */
	r = it_svrun((const char *const[]){"--db", it_uri, learn_opt, it_plugin("learner"), NULL},
		     NULL);
	cr_assert_eq(r.status, 3, "the plugin should run on with both calls failed:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, "[learner] getppid failed, uname failed"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "learn mode"), "learn mode is not announced:\n%s", r.err);
	text = it_read_file(learned, NULL);
	cr_assert_not_null(text, "no learned policy at %s", learned);
	cr_assert_not_null(strstr(text, "\ngetppid: 1  # learned: called 1 time"), "%s", text);
	cr_assert_not_null(strstr(text, "\nuname: 1  # learned: called 1 time"), "%s", text);
	cr_assert_null(strstr(text, "socket"), "learned more than was asked:\n%s", text);
	free(text);
	it_run_free(&r);

	/* The learned policy lints clean and lets the plugin do its work. */
	r = it_svrun((const char *const[]){"policy", "lint", learned, NULL}, NULL);
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	it_run_free(&r);
	r = it_svrun((const char *const[]){"--db", it_uri, "--policy", learned,
					   it_plugin("learner"), NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "[learner] getppid worked, uname worked"), "%s", r.err);
	it_run_free(&r);

	/* Learn mode never overwrites a policy that exists. */
	r = it_svrun((const char *const[]){"--db", it_uri, learn_opt, it_plugin("learner"), NULL},
		     NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "cannot create"), "%s", r.err);
	it_run_free(&r);
}

Test(learn, ceiling_refuses_a_wider_policy_and_accepts_a_narrower_one)
{
	char ceiling[600], narrower[600], wider[600];
	struct it_run r;

	it_init_db();
	snprintf(ceiling, sizeof(ceiling), "%s/ceiling.policy", it_dir);
	snprintf(narrower, sizeof(narrower), "%s/narrower.policy", it_dir);
	snprintf(wider, sizeof(wider), "%s/wider.policy", it_dir);
	it_write_file(ceiling, "@include " SOURCE_DIR "/policies/default.policy\n");
	it_write_file(narrower, "@include " SOURCE_DIR "/policies/default.policy\n");
	it_write_file(wider, "@include " SOURCE_DIR "/policies/default.policy\n"
			     "getppid: 1  # parent pid\nuname: 1  # kernel name\n");

	r = it_svrun((const char *const[]){"--db", it_uri, "--ceiling", ceiling, "--policy",
					   wider, it_plugin("learner"), NULL},
		     NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "permits what the ceiling"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "getppid: 1"), "the difference is not printed:\n%s",
			   r.err);
	cr_assert_null(strstr(r.err, "[learner]"), "the plugin ran:\n%s", r.err);
	it_run_free(&r);

	/* Control: a policy within the ceiling runs. */
	r = it_svrun((const char *const[]){"--db", it_uri, "--ceiling", ceiling, "--policy",
					   narrower, it_plugin("benign"), NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
	/* Control: without the ceiling, the wider policy runs the plugin. */
	r = it_svrun((const char *const[]){"--db", it_uri, "--policy", wider,
					   it_plugin("learner"), NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
}
