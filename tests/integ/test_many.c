/*
 * test_many.c - one broker, many plugins: each keeps its own outcome, none is starved or
 * stalled by another (a flood, a plugin that never reads its answers, a crash, a
 * violation, a deadline, a write that locks the database, a plugin reading back to back
 * under the broker's read lease), a signal to svrun leaves no process behind, and a load
 * of 64 plugins x 10,000 requests comes back whole, every answer checked by content;
 * plugins run on one policy file share its parsed rules, each named by its own file.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "tests/integ/harness.h"

TestSuite(many, .init = it_setup, .fini = it_teardown, .timeout = 600);

/* it_plugin(@id) in a buffer of its own (it_plugin's is reused by every call). */
static const char *
plugin(const char *id)
{
	static char paths[8][512];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "%s", it_plugin(id));
	return p;
}

/* What svrun said about plugin @id, for a failure message: each line naming it, at most 2 KiB. */
static const char *
lines_about(const char *err, const char *id)
{
	static char out[2048];
	const char *line, *nl;
	size_t used = 0, len;

	out[0] = '\0';
	for (line = err; *line != '\0' && used + 1 < sizeof(out); line = nl + 1) {
		nl = strchrnul(line, '\n');
		len = (size_t)(nl - line);
		if (memmem(line, len, id, strlen(id)) != NULL && used + len + 2 < sizeof(out)) {
			memcpy(out + used, line, len);
			used += len;
			out[used++] = '\n';
			out[used] = '\0';
		}
		if (*nl == '\0')
			break;
	}
	return out;
}

/* The line of the exit summary for plugin @id, status @status and words @how. */
static int
has_summary(const char *err, const char *id, int status, const char *how)
{
	char line[160];

	snprintf(line, sizeof(line), "svrun:   %-20s %3d  %s", id, status, how);
	return strstr(err, line) != NULL;
}

Test(many, each_plugin_keeps_its_own_outcome_and_the_summary_lists_them_all)
{
	struct it_run r;

	it_init_db();
	r = it_svrun((const char *const[]){"--timeout", "4", "--db", it_uri, plugin("hello"),
					   plugin("nomain"), plugin("learner"), plugin("spin"),
					   plugin("benign"), NULL},
		     NULL);
	/* hello is whole, though beside it one plugin fails to load, one is killed for a
	 * syscall and one at its deadline. */
	cr_assert(it_has_log(r.err, "hello", "user 3: Carol"), "%s", r.err);
	cr_assert(it_has_log(r.err, "hello", "reading the users table: not permitted"), "%s",
		  r.err);
	cr_assert(it_has_log(r.err, "benign", "ok"), "%s", r.err);
	cr_assert(strstr(r.err, "svrun: 5 plugins ended:"), "%s", r.err);
	cr_assert(has_summary(r.err, "hello", 0, "exited with status 0"), "%s", r.err);
	cr_assert(has_summary(r.err, "nomain", 127, "could not be loaded"), "%s", r.err);
	cr_assert(has_summary(r.err, "learner", 128, "killed: a denied syscall"), "%s", r.err);
	cr_assert(has_summary(r.err, "spin", 129, "killed: deadline or CPU limit"), "%s", r.err);
	cr_assert(has_summary(r.err, "benign", 0, "exited with status 0"), "%s", r.err);
	/* svrun's own status: the first plugin, in order, that did not exit 0. */
	cr_assert_eq(r.status, 127, "%s", r.err);
	it_run_free(&r);
}

Test(many, a_plugin_whose_session_cannot_open_fails_alone_and_runs_no_code)
{
	struct it_run r;

	it_init_db();
	/* A view that cannot be read: a plugin granted every view (no manifest) cannot open. */
	it_sql("CREATE VIEW v_plugin_broken AS SELECT * FROM no_such_table");
	r = it_svrun((const char *const[]){"--db", it_uri, plugin("hello"), plugin("benign"), NULL},
		     NULL);
	cr_assert(strstr(r.err, "plugin 'benign': cannot read the plugin views"), "%s", r.err);
	cr_assert_null(strstr(r.err, "[benign]"), "benign ran without a session:\n%s", r.err);
	cr_assert(has_summary(r.err, "benign", 126, "svrun failed to run it"), "%s", r.err);
	/* Beside it, hello (installed, granted v_plugin_users only) runs whole. */
	cr_assert(it_has_log(r.err, "hello", "user 3: Carol"), "%s", r.err);
	cr_assert(has_summary(r.err, "hello", 0, "exited with status 0"), "%s", r.err);
	cr_assert_eq(r.status, 126, "%s", r.err);
	it_run_free(&r);
	/* Control: with the view gone, benign runs. */
	it_sql("DROP VIEW v_plugin_broken");
	r = it_svrun((const char *const[]){"--db", it_uri, plugin("benign"), NULL}, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(it_has_log(r.err, "benign", "ok"), "%s", r.err);
	it_run_free(&r);
}

/* Writes policy @name in it_dir: the default one plus @extra; returns its path. */
static const char *
policy_beside_default(const char *name, const char *extra)
{
	static char paths[2][512];
	static int next;
	char *path = paths[next++ % 2];
	char text[512];

	snprintf(path, sizeof(paths[0]), "%s/%s.policy", it_dir, name);
	snprintf(text, sizeof(text), "@include " SOURCE_DIR "/policies/default.policy\n%s", extra);
	it_write_file(path, text);
	return path;
}

/* A copy of the learner plugin as @id in it_dir, installed under @policy if not NULL. */
static const char *
learner_as(const char *id, const char *policy)
{
	static char paths[4][600];
	static int next;
	char *so = paths[next++ % 4], manifest[600], text[700];
	struct it_run r;

	snprintf(so, sizeof(paths[0]), "%s/%s.so", it_dir, id);
	it_copy(it_plugin("learner"), so);
	if (policy == NULL)
		return so;
	snprintf(manifest, sizeof(manifest), "%s/%s.manifest", it_dir, id);
	snprintf(text, sizeof(text), "[plugin]\nid = %s\npolicy = %s\n", id, policy);
	it_write_file(manifest, text);
	r = it_svrun((const char *const[]){"install", "--db", it_uri, so, NULL}, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
	return so;
}

/* Whether @err says plugin @id was killed for syscall @call, with @why on that line. */
static int
killed_saying(const char *err, const char *id, const char *call, const char *why)
{
	char head[128];
	const char *line, *end;

	snprintf(head, sizeof(head), "plugin '%s' killed: syscall %s(", id, call);
	if ((line = strstr(err, head)) == NULL)
		return 0;
	end = strchr(line, '\n');
	line = strstr(line, why);
	return line != NULL && (end == NULL || line < end);
}

/*
 * The broker parses a policy file once for all the plugins run on it, and names each
 * plugin's violation by the rules of that plugin's own file: two on the default policy
 * are told no rule allows getppid, one on a policy with a conditional uname rule is
 * pointed at that rule, and one on a wider policy makes both calls.
 */
Test(many, plugins_on_one_policy_file_share_its_rules_and_another_file_keeps_its_own)
{
	const char *cond = policy_beside_default(
		"cond", "getppid: 1  # parent pid\nuname: arg0 == 0  # never, for this test\n");
	const char *wider = policy_beside_default(
		"wider", "getppid: 1  # parent pid\nuname: 1  # kernel name\n");
	char want[700];
	struct it_run r;

	it_init_db();
	r = it_svrun((const char *const[]){"--db", it_uri, learner_as("learnera", NULL),
					   learner_as("learnerc", cond),
					   learner_as("learnerb", NULL),
					   learner_as("learnerw", wider), NULL},
		     NULL);
	cr_assert(killed_saying(r.err, "learnera", "getppid", "default.policy: no rule allows it"),
		  "%s", r.err);
	cr_assert(killed_saying(r.err, "learnerb", "getppid", "default.policy: no rule allows it"),
		  "%s", r.err);
	snprintf(want, sizeof(want), "denied by %s: the rule at %s:3 allows it only under its "
		 "conditions", cond, cond);
	cr_assert(killed_saying(r.err, "learnerc", "uname", want), "%s", r.err);
	cr_assert(has_summary(r.err, "learnera", 128, "killed: a denied syscall"), "%s", r.err);
	cr_assert(has_summary(r.err, "learnerb", 128, "killed: a denied syscall"), "%s", r.err);
	cr_assert(has_summary(r.err, "learnerc", 128, "killed: a denied syscall"), "%s", r.err);
	/* The control: the same plugin on a policy that allows both calls makes them. */
	cr_assert(it_has_log(r.err, "learnerw", "getppid worked, uname worked"), "%s", r.err);
	cr_assert(has_summary(r.err, "learnerw", 0, "exited with status 0"), "%s", r.err);
	it_run_free(&r);
}

Test(many, a_flood_and_a_plugin_that_never_reads_do_not_starve_the_others)
{
	const char *done, *deaf_killed;
	char want[64];
	struct it_run r;

	it_init_db();
	it_install("deaf");
	/* The flood may pass the default 1,000,000 requests in its 3 s: no limit in the way. */
	r = it_svrun((const char *const[]){"--db", it_uri, "--max-requests", "1000000000",
					   plugin("deaf"), plugin("flood"), plugin("steady"), NULL},
		     NULL);
	snprintf(want, sizeof(want), "done %d requests, 0 wrong", 2000);
	cr_assert(it_has_log(r.err, "steady", want), "%s", r.err);
	cr_assert(has_summary(r.err, "steady", 0, "exited with status 0"), "%s", r.err);
	/* The flood really ran beside it (a control that it was not simply starved). */
	cr_assert(it_has_log(r.err, "flood", "flooded "), "%s", r.err);
	cr_assert(has_summary(r.err, "flood", 0, "exited with status 0"), "%s", r.err);
	/* The deaf plugin held nothing up: steady was done long before its deadline. */
	cr_assert(has_summary(r.err, "deaf", 129, "killed: deadline or CPU limit"), "%s", r.err);
	done = strstr(r.err, "[steady] done");
	deaf_killed = strstr(r.err, "plugin 'deaf' killed: deadline");
	cr_assert(done && deaf_killed && done < deaf_killed,
		  "steady finished only after deaf's deadline:\n%s", r.err);
	it_run_free(&r);
}

#define CROWDED "more plugins ask than there are CPUs: answers ask this one to wait asleep"

/* Runs @n copies of steady with --trace on one CPU; their whole run, checked. */
static struct it_run
run_steady_on_one_cpu(int n)
{
	const char *argv[8] = {"--db", it_uri, "--trace"};
	char so[4][600], id[16], want[64];
	cpu_set_t all, one;
	struct it_run r;
	int i;

	cr_assert(n <= 4);
	for (i = 0; i < n; i++) {
		snprintf(so[i], sizeof(so[i]), "%s/steady%c.so", it_dir, 'a' + i);
		it_copy(it_plugin("steady"), so[i]);
		argv[3 + i] = so[i];
	}
	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	CPU_ZERO(&one);
	for (i = 0; !CPU_ISSET(i, &all); i++)
		;
	CPU_SET(i, &one);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0, "%s", strerror(errno));
	r = it_svrun(argv, NULL);
	cr_assert_eq(sched_setaffinity(0, sizeof(all), &all), 0);
	snprintf(want, sizeof(want), "done %d requests, 0 wrong", 2000);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "steady%c", 'a' + i);
		cr_assert(it_has_log(r.err, id, want), "%s", r.err);
	}
	return r;
}

Test(many, more_plugins_asking_than_cpus_are_told_to_wait_asleep_and_one_alone_is_not)
{
	struct it_run r;

	it_init_db();
	/* One CPU: the broker needs it, so two plugins asking are already a crowd. */
	r = run_steady_on_one_cpu(3);
	cr_assert(strstr(r.err, CROWDED), "three plugins on one CPU were never told:\n%.4000s",
		  r.err);
	it_run_free(&r);
	/* Control: one plugin alone is never told, so it may spin wherever that pays. */
	r = run_steady_on_one_cpu(1);
	cr_assert_null(strstr(r.err, CROWDED), "a plugin alone was told to wait asleep");
	it_run_free(&r);
}

/*
 * A core write while a plugin reads back to back: the broker keeps the plugin's reads in
 * one read transaction between its requests (the read lease, runner/session.c), but only
 * half a millisecond at a time, so a writer with an ordinary busy timeout gets through,
 * and the plugin's next reads see what it wrote. @wal: the database in WAL mode, where
 * the writer does not wait but the lease's reads share one snapshot.
 */
static void
core_write_during_back_to_back_reads(int wal)
{
	sqlite3 *db = NULL;
	struct it_proc p;
	struct it_run r;
	char *msg = NULL;
	int rc;

	it_init_db();
	if (wal)
		it_sql("PRAGMA journal_mode = WAL");
	it_start(&p, (const char *const[]){"--db", it_uri, plugin("reader"), NULL}, NULL);
	cr_assert(it_wait_for_text(p.err_path, "[reader] reading", 10000),
		  "the reader never got going");
	cr_assert_eq(sqlite3_open_v2(it_db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	/* A tenth of the lease would do; a thousand times it allows for a loaded machine. */
	sqlite3_busy_timeout(db, 1000);
	rc = sqlite3_exec(db, "UPDATE users SET display_name = 'Alice Z' WHERE id = 1", NULL,
			  NULL, &msg);
	cr_assert_eq(rc, SQLITE_OK, "core's write was kept out: %s", msg ? msg : sqlite3_errstr(rc));
	sqlite3_close(db);
	r = it_wait(&p, 30);
	cr_assert(it_has_log(r.err, "reader", "saw Alice Z after "), "%s", r.err);
	cr_assert_eq(r.status, 0, "%s", r.err);
	it_run_free(&r);
}

Test(many, a_core_write_gets_through_while_a_plugin_reads_back_to_back_and_the_plugin_sees_it)
{
	core_write_during_back_to_back_reads(0);
}

Test(many, in_wal_mode_a_plugin_reading_back_to_back_sees_a_core_write_soon_after_it)
{
	char *mode;

	core_write_during_back_to_back_reads(1);
	/* Control: the run really was in WAL mode. */
	mode = it_sql_dump("PRAGMA journal_mode");
	cr_assert_str_eq(mode, "wal\n");
	free(mode);
}

/*
 * Another plugin's writes while one reads back to back: the lease ends before anyone
 * else is served, so the writer's commits never wait for the reader's lock (they would
 * wait out the busy timeout and fail as busy: the broker holds both connections).
 */
Test(many, a_plugin_reading_back_to_back_never_holds_up_another_plugins_writes)
{
	struct it_run r;
	char *rows;

	it_init_db();
	it_install("writer");
	r = it_svrun((const char *const[]){"--db", it_uri, plugin("reader"), plugin("writer"),
					   NULL},
		     NULL);
	cr_assert(it_has_log(r.err, "writer", "wrote 50 rows, 0 failed"), "%s", r.err);
	cr_assert(has_summary(r.err, "writer", 0, "exited with status 0"), "%s", r.err);
	/* Control: the reader really read the whole time, and read right. */
	cr_assert(it_has_log(r.err, "reader", "reading"), "%s", r.err);
	cr_assert(it_has_log(r.err, "reader", "still Alice after "), "%s", r.err);
	cr_assert(has_summary(r.err, "reader", 0, "exited with status 0"), "%s", r.err);
	rows = it_sql_dump("SELECT count(*) FROM plugin_writer_rows");
	cr_assert_str_eq(rows, "50\n");
	free(rows);
	it_run_free(&r);
}

/*
 * A write asked while another plugin's long read runs is served in a turn inside that
 * read, where the read's lock cannot go until the turn returns: it must wait for the
 * read to end and then be kept, never fail as busy.
 */
Test(many, a_write_asked_during_another_plugins_long_read_waits_for_it_and_is_kept)
{
	const char *waited, *read_ended;
	char want[64], *rows, *users;
	struct it_run r;

	it_init_db();
	it_install("writer");
	users = it_sql_dump("SELECT count(*) FROM users");
	r = it_svrun((const char *const[]){"--db", it_uri, "--trace", plugin("longread"),
					   plugin("writer"), NULL},
		     NULL);
	cr_assert(it_has_log(r.err, "writer", "wrote 50 rows, 0 failed"), "%s", r.err);
	cr_assert(has_summary(r.err, "writer", 0, "exited with status 0"), "%s", r.err);
	rows = it_sql_dump("SELECT count(*) FROM plugin_writer_rows");
	cr_assert_str_eq(rows, "50\n");
	/* Control: the read read right, and the first write came while it ran. */
	snprintf(want, sizeof(want), "long read ended: %ld", 3000000 + atol(users));
	cr_assert(it_has_log(r.err, "longread", want), "%s", r.err);
	cr_assert(has_summary(r.err, "longread", 0, "exited with status 0"), "%s", r.err);
	waited = strstr(r.err, "[trace writer] #1 waits");
	read_ended = strstr(r.err, "[longread] long read ended");
	cr_assert(waited && read_ended && waited < read_ended,
		  "the writer's first insert did not come during the long read:\n%s", r.err);
	free(users);
	free(rows);
	it_run_free(&r);
}

/*
 * The other way round: a read asked while another plugin's long write holds the file
 * locked waits for the write to end, then reads what it wrote; it is not refused.
 */
Test(many, a_read_asked_during_another_plugins_long_write_waits_for_it_and_runs)
{
	const char *waited, *write_ended;
	char want[64], *rows, *users;
	struct it_run r;

	it_init_db();
	it_install("bigwrite");
	users = it_sql_dump("SELECT count(*) FROM users");
	/*
	 * The reader first: started once the write holds the file, its session could not
	 * open until the write ended. It asks 100 ms in, well inside the write: two million
	 * rows take from 0.36 s to some seconds, by host (a million took less than the 300
	 * ms this test waited before, on a fast host, and the read came after the write).
	 */
	r = it_svrun((const char *const[]){"--db", it_uri, "--trace", plugin("longreadlate"),
					   plugin("bigwrite"), NULL},
		     NULL);
	snprintf(want, sizeof(want), "long read ended: %ld", 3000000 + atol(users));
	cr_assert(it_has_log(r.err, "longreadlate", want), "%s", r.err);
	cr_assert(has_summary(r.err, "longreadlate", 0, "exited with status 0"), "%s", r.err);
	/* Control: the write was kept whole, and the read came while it ran. */
	cr_assert(it_has_log(r.err, "bigwrite", "big write ended: with rows"), "%s", r.err);
	rows = it_sql_dump("SELECT count(*) FROM plugin_bigwrite_rows");
	cr_assert_str_eq(rows, "2000000\n");
	waited = strstr(r.err, "[trace longreadlate] #1 waits");
	write_ended = strstr(r.err, "[bigwrite] big write ended");
	cr_assert(waited && write_ended && waited < write_ended,
		  "the read did not come during the long write:\n%s", r.err);
	free(users);
	free(rows);
	it_run_free(&r);
}

Test(many, a_statement_that_runs_until_the_deadline_does_not_stop_the_others)
{
	const char *done, *slow_killed;
	char want[64];
	struct it_run r;

	it_init_db();
	/*
	 * steadylate starts its requests once slowpoke's statement is surely running, and the
	 * plugins before it are still being started then: starting goes on meanwhile too.
	 */
	r = it_svrun((const char *const[]){"--db", it_uri, "--timeout", "5", plugin("slowpoke"),
					   plugin("benign"), plugin("hello"), plugin("steady"),
					   plugin("steadylate"), NULL},
		     NULL);
	cr_assert(it_has_log(r.err, "slowpoke", "slow statement started"), "%s", r.err);
	snprintf(want, sizeof(want), "done %d requests, 0 wrong", 2000);
	cr_assert(it_has_log(r.err, "steadylate", want), "%s", r.err);
	cr_assert(it_has_log(r.err, "steady", want), "%s", r.err);
	cr_assert(has_summary(r.err, "steadylate", 0, "exited with status 0"), "%s", r.err);
	cr_assert(has_summary(r.err, "steady", 0, "exited with status 0"), "%s", r.err);
	cr_assert(has_summary(r.err, "benign", 0, "exited with status 0"), "%s", r.err);
	cr_assert(has_summary(r.err, "hello", 0, "exited with status 0"), "%s", r.err);
	cr_assert(has_summary(r.err, "slowpoke", 129, "killed: deadline or CPU limit"), "%s",
		  r.err);
	/* Served while the statement ran, not after the deadline ended it. */
	done = strstr(r.err, "[steadylate] done");
	slow_killed = strstr(r.err, "plugin 'slowpoke' killed: deadline");
	cr_assert(done && slow_killed && done < slow_killed,
		  "steadylate was served only after slowpoke's deadline:\n%s", r.err);
	it_run_free(&r);
}

#define CALM_PLUGINS 40

Test(many, plugins_started_while_a_write_locks_the_database_wait_for_it_and_run)
{
	static char paths[CALM_PLUGINS][600];
	const char *argv[4 + CALM_PLUGINS];
	char id[16], *users_before, *users_after, *rows;
	struct it_run r;
	int i, k = 0;

	it_init_db();
	it_install("hog");
	users_before = it_sql_dump("SELECT * FROM users ORDER BY id");
	/*
	 * The hog's endless insert soon holds the file EXCLUSIVE; the calm plugins are still
	 * being started then, one per turn inside its statement, and their sessions cannot
	 * read the views. They must wait for the statement to end, not freeze the broker for
	 * the busy timeout and then fail.
	 */
	argv[k++] = "--db";
	argv[k++] = it_uri;
	argv[k++] = plugin("hog");
	for (i = 0; i < CALM_PLUGINS; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/calm%02d.so", it_dir, i);
		it_copy(it_plugin("calm"), paths[i]);
		argv[k++] = paths[i];
	}
	argv[k] = NULL;
	r = it_svrun(argv, NULL);
	cr_assert(it_has_log(r.err, "hog", "big write started"), "%s", r.err);
	cr_assert(strstr(r.err, "waits to start: the database is locked by a running statement"),
		  "no plugin was started while the hog held the database; this run shows "
		  "nothing:\n%s",
		  r.err);
	for (i = 0; i < CALM_PLUGINS; i++) {
		snprintf(id, sizeof(id), "calm%02d", i);
		cr_assert(it_has_log(r.err, id, "calm ran"), "%s never ran:\n%s", id, r.err);
		cr_assert(has_summary(r.err, id, 0, "exited with status 0"), "%s:\n%s", id, r.err);
	}
	cr_assert(has_summary(r.err, "hog", 129, "killed: deadline or CPU limit"), "%s", r.err);
	/* The write ended at the deadline and left nothing; core's data is as it was. */
	rows = it_sql_dump("SELECT count(*) FROM plugin_hog_rows");
	cr_assert_str_eq(rows, "0\n");
	users_after = it_sql_dump("SELECT * FROM users ORDER BY id");
	cr_assert_str_eq(users_after, users_before);
	free(rows);
	free(users_before);
	free(users_after);
	it_run_free(&r);
}

/*
 * Starts svrun with two spinning plugins and returns its children in @kids: their two
 * sandboxes and the zygote the second was forked from.
 */
static size_t
start_two_spinners(struct it_proc *p, pid_t kids[16])
{
	char two[512];
	size_t n, zygotes = 0;

	it_init_db();
	snprintf(two, sizeof(two), "%s/spintwo.so", it_dir);
	it_copy(it_plugin("spin"), two);
	it_start(p, (const char *const[]){"--timeout", "60", "--db", it_uri, plugin("spin"), two,
					  NULL},
		 NULL);
	cr_assert(it_wait_for_text(p->err_path, "[spintwo] spinning", 10000));
	cr_assert(it_wait_for_text(p->err_path, "[spin] spinning", 10000));
	n = it_children(p->pid, kids, 16);
	for (size_t i = 0; i < n; i++)
		zygotes += it_is_zygote(kids[i]);
	cr_assert_eq(n, 3, "svrun should have two sandboxes and a zygote, has %zu children", n);
	cr_assert_eq(zygotes, 1, "svrun should have one zygote, has %zu", zygotes);
	return n;
}

Test(many, sigterm_to_svrun_stops_every_plugin_and_leaves_no_process)
{
	pid_t kids[16];
	struct it_proc p;
	struct it_run r;
	size_t n, i;

	n = start_two_spinners(&p, kids);
	cr_assert_eq(kill(p.pid, SIGTERM), 0);
	r = it_wait(&p, 10);
	cr_assert_eq(r.status, IT_SIGNALED + SIGTERM, "status %d:\n%s", r.status, r.err);
	cr_assert(strstr(r.err, "SIGTERM received: stopping 2 plugins"), "%s", r.err);
	cr_assert(has_summary(r.err, "spin", 126, "stopped: svrun received SIGTERM"), "%s",
		  r.err);
	for (i = 0; i < n; i++)
		cr_assert(kill(kids[i], 0) < 0 && errno == ESRCH, "plugin process %d survived",
			  (int)kids[i]);
	it_run_free(&r);
}

/* The uid a sandbox runs as outside: nobody when svrun is root, else the operator's. */
static uid_t
sandbox_uid(void)
{
	return geteuid() == 0 ? 65534 : geteuid();
}

/* In a child: becomes the sandboxes' uid, or exits 100. */
static void
become_sandbox_uid(void)
{
	uid_t uid = sandbox_uid();

	if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
			       setresuid(uid, uid, uid) < 0))
		_exit(100);
}

/*
 * Forks a process of the sandboxes' uid that puts @n descriptors in flight on a socket
 * pair nobody reads, holds them for @hold_ms and lets them go by exiting. Returns once
 * they are all in flight.
 */
static pid_t
hold_descriptors_in_flight(int n, int hold_ms)
{
	int ready[2], sv[2], devnull, i;
	pid_t pid;
	char byte;

	cr_assert_eq(pipe(ready), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(ready[0]);
		become_sandbox_uid();
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
		    (devnull = open("/dev/null", O_RDONLY)) < 0)
			_exit(101);
		for (i = 0; i < n; i++)
			if (sv_send_with_fd(sv[0], "x", 1, devnull, MSG_NOSIGNAL) != 1)
				_exit(102);
		if (write(ready[1], "r", 1) != 1)
			_exit(103);
		nanosleep(&(struct timespec){hold_ms / 1000, (hold_ms % 1000) * 1000000L}, NULL);
		_exit(0);
	}
	close(ready[1]);
	cr_assert_eq(read(ready[0], &byte, 1), 1, "the holder of descriptors in flight failed");
	close(ready[0]);
	return pid;
}

/* Whether one descriptor sent now by the sandboxes' uid with 16 descriptors is refused. */
static int
sending_a_descriptor_is_refused(void)
{
	struct rlimit lim = {16, 16};
	int sv[2], st;
	pid_t pid;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		become_sandbox_uid();
		if (setrlimit(RLIMIT_NOFILE, &lim) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			_exit(101);
		if (sv_send_with_fd(sv[0], "x", 1, sv[1], MSG_NOSIGNAL) == 1)
			_exit(1);
		_exit(errno == ETOOMANYREFS ? 0 : 2);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) <= 1, "the probe failed: status 0x%x", st);
	return WEXITSTATUS(st) == 0;
}

#define HOLD_MS 600

Test(many, a_handshake_refused_for_descriptors_in_flight_waits_for_them_and_the_plugin_runs)
{
	struct timespec a, b;
	struct it_run r;
	double ms;
	pid_t holder;
	int st;

	it_init_db();
	/* Control: with nothing held, one descriptor from a 16-descriptor process goes. */
	cr_assert(!sending_a_descriptor_is_refused(), "descriptors already in flight for uid %u",
		  (unsigned)sandbox_uid());
	/* More in flight than a sandbox's RLIMIT_NOFILE: the kernel refuses its handshake. */
	holder = hold_descriptors_in_flight(24, HOLD_MS);
	cr_assert(sending_a_descriptor_is_refused(), "24 descriptors in flight did not fill it");
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = it_svrun((const char *const[]){"--timeout", "20", "--db", it_uri, plugin("benign"),
					   NULL},
		     NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	cr_assert_eq(waitpid(holder, &st, 0), holder);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "holder status 0x%x", st);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	cr_assert_eq(r.status, 0, "status %d:\n%s", r.status, r.err);
	cr_assert(it_has_log(r.err, "benign", "ok: 3 users visible"), "%s", r.err);
	cr_assert_null(strstr(r.err, "handshake"), "%s", r.err);
	/* It ran because it waited: its handshake could only go once the holder let go. */
	cr_assert_geq(ms, HOLD_MS * 0.8, "the plugin ran in %.0f ms, within the hold", ms);
	it_run_free(&r);
}

/* Whether process @pid is gone: no such process, or only its zombie waits to be reaped. */
static int
gone(pid_t pid)
{
	char path[64], buf[512], *close_paren;
	FILE *f;
	int dead = 1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')) != NULL)
		dead = close_paren[2] == 'Z' || close_paren[2] == 'X';
	fclose(f);
	return dead;
}

Test(many, sigkill_to_svrun_takes_every_plugin_with_it_within_a_second)
{
	pid_t kids[16];
	struct it_proc p;
	struct it_run r;
	size_t n, i;
	int waited, all_gone = 0;

	n = start_two_spinners(&p, kids);
	/* Control: they are alive, spinning, until the broker dies. */
	for (i = 0; i < n; i++)
		cr_assert_not(gone(kids[i]), "plugin %d ended before svrun was killed", (int)kids[i]);
	cr_assert_eq(kill(p.pid, SIGKILL), 0);
	for (waited = 0; waited <= 1000 && !all_gone; waited += 10) {
		all_gone = 1;
		for (i = 0; i < n; i++)
			all_gone &= gone(kids[i]);
		if (!all_gone)
			usleep(10000);
	}
	r = it_wait(&p, 10);
	cr_assert_eq(r.status, IT_SIGNALED + SIGKILL);
	for (i = 0; i < n; i++)
		cr_assert(gone(kids[i]), "plugin process %d outlived its broker by a second",
			  (int)kids[i]);
	it_run_free(&r);
}

/* VmRSS or VmHWM of process @pid in KiB (@field "VmRSS:"), or -1. */
static long
status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field), NULL, 10);
	fclose(f);
	return v;
}

#define LOAD_PLUGINS 64
#define LOAD_REQUESTS 10000

Test(many, sixty_four_plugins_ten_thousand_requests_each_none_lost_or_misrouted)
{
	char dir[512], so[600], want[64], id[16], asan[512];
	long rss, peak = 0, first_rss = -1, last_rss = -1, fds, fds_max = 0, fds_end = -1;
	struct timespec a, b;
	struct it_proc p;
	struct it_run r;
	siginfo_t si;
	double secs;
	int i;

	it_init_db();
	snprintf(dir, sizeof(dir), "%s/load", it_dir);
	cr_assert_eq(mkdir(dir, 0755), 0);
	for (i = 0; i < LOAD_PLUGINS; i++) {
		snprintf(so, sizeof(so), "%s/echo%02d.so", dir, i);
		it_copy(it_plugin("echoload"), so);
	}
	/*
	 * Under AddressSanitizer freed memory waits in a quarantine of 256 MiB by default,
	 * which would read as growth; a small one keeps RSS about the broker's own use.
	 */
	snprintf(asan, sizeof(asan), "%s%squarantine_size_mb=8",
		 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "",
		 getenv("ASAN_OPTIONS") ? ":" : "");
	cr_assert_eq(setenv("ASAN_OPTIONS", asan, 1), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	it_start(&p, (const char *const[]){"--timeout", "500", "--db", it_uri, "--plugins", dir,
					   NULL},
		 NULL);
	/* Sample the broker from outside while it serves (WNOWAIT: it_wait reaps it). */
	for (;;) {
		memset(&si, 0, sizeof(si));
		cr_assert(waitid(P_PID, (id_t)p.pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 ||
				  errno == EINTR,
			  "waitid: %s", strerror(errno));
		if (si.si_pid == p.pid)
			break;
		if ((rss = status_kib(p.pid, "VmRSS:")) > 0) {
			peak = rss > peak ? rss : peak;
			first_rss = first_rss < 0 ? rss : first_rss;
			last_rss = rss;
		}
		if ((fds = it_open_fds(p.pid)) > 0) {
			fds_max = fds > fds_max ? fds : fds_max;
			fds_end = fds;
		}
		usleep(50000);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	r = it_wait(&p, 10);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	snprintf(want, sizeof(want), "done %d requests, 0 wrong", LOAD_REQUESTS);
	for (i = 0; i < LOAD_PLUGINS; i++) {
		snprintf(id, sizeof(id), "echo%02d", i);
		cr_assert(it_has_log(r.err, id, want), "%s did not get all its answers right:\n%s",
			  id, lines_about(r.err, id));
		cr_assert(has_summary(r.err, id, 0, "exited with status 0"), "%s did not exit 0:\n%s",
			  id, lines_about(r.err, id));
	}
	cr_assert_null(strstr(r.err, "WRONG"));
	cr_assert_eq(r.status, 0);
	fprintf(stderr, "load: %d plugins x %d requests in %.1f s (spawning included): %.0f "
			"requests/s; broker RSS peak %ld KiB, first sample %ld, last %ld; "
			"descriptors at most %ld, %ld at the last sample\n",
		LOAD_PLUGINS, LOAD_REQUESTS, secs, LOAD_PLUGINS * (double)LOAD_REQUESTS / secs,
		peak, first_rss, last_rss, fds_max, fds_end);
	/* Bounded: a broker that kept results or frames would grow with the 640,000. */
	cr_assert_lt(peak, 256 * 1024, "broker peak RSS %ld KiB", peak);
	/* At most a handful per plugin, and each plugin's go when it ends. */
	cr_assert_leq(fds_max, LOAD_PLUGINS * 6 + 64, "%ld descriptors", fds_max);
	cr_assert_lt(fds_end, fds_max, "descriptors stayed at %ld", fds_end);
	it_run_free(&r);
}
