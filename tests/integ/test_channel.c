/*
 * test_channel.c - what a plugin can do to the broker through its channel and its CPU:
 * garbage bytes, a header claiming 4 GiB, a second handshake and a truncated frame are
 * each reported, never crash svrun; a plugin that never returns is killed at the
 * deadline with its whole process tree.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tests/integ/harness.h"

TestSuite(channel, .init = it_setup, .fini = it_teardown, .timeout = 90);
TestSuite(deadline, .init = it_setup, .fini = it_teardown, .timeout = 90);

/* Runs the garbage plugin in @mode and checks it got as far as sending. */
static struct it_run
run_garbage(const char *mode)
{
	char text[64];
	struct it_run r;

	it_init_db();
	it_set_cfg("garbage", "mode", mode);
	r = it_run_plugin("garbage");
	snprintf(text, sizeof(text), "sending %s", mode);
	cr_assert(it_has_log(r.err, "garbage", text),
		  "the plugin never sent its garbage (config not read?):\n%s", r.err);
	return r;
}

/* Asserts svrun ended the plugin for a protocol violation, in its exit status and log. */
static void
assert_protocol_violation(const struct it_run *r)
{
	cr_assert_eq(r->status, 130, "expected exit 130 (protocol violation), got %d:\n%s",
		     r->status, r->err);
	cr_assert_not_null(strstr(r->err, "protocol violation: "), "no clear log line:\n%s",
			   r->err);
}

Test(channel, garbage_frame_is_a_protocol_violation_and_the_broker_survives)
{
	struct it_run r = run_garbage("bytes");

	assert_protocol_violation(&r);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(channel, header_claiming_4_gib_is_a_protocol_violation_and_the_broker_survives)
{
	struct it_run r = run_garbage("huge");

	assert_protocol_violation(&r);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(channel, second_handshake_is_a_protocol_violation_and_the_broker_survives)
{
	struct it_run r = run_garbage("hello");

	assert_protocol_violation(&r);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(channel, truncated_frame_then_exit_is_reported_and_the_broker_survives)
{
	struct it_run r = run_garbage("trunc");

	cr_assert(r.status == 0 || r.status == 130,
		  "expected the plugin's 0 or 130 (protocol violation), got %d:\n%s", r.status,
		  r.err);
	cr_assert(strstr(r.err, "inside a frame") != NULL ||
			  strstr(r.err, "protocol violation") != NULL,
		  "the truncated frame went unreported:\n%s", r.err);
	it_run_free(&r);
	it_assert_benign_runs();
}

/* CLOCK_MONOTONIC now, in milliseconds. */
static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

Test(channel, output_lines_are_relayed_whole_cut_at_4_kib_and_the_last_kept)
{
	static char want[16384];
	struct it_run r;
	size_t len;

	it_init_db();
	/* The plugin's long line is 10,000 bytes: two lines of 4,096 and one of 1,808. */
	len = (size_t)snprintf(want, sizeof(want), "[lines] first half\n[lines] second line\n");
	for (int i = 0; i < 3; i++) {
		len += (size_t)snprintf(want + len, sizeof(want) - len, "[lines] ");
		memset(want + len, 'x', i < 2 ? 4096 : 1808);
		len += i < 2 ? 4096 : 1808;
		want[len++] = '\n';
	}
	snprintf(want + len, sizeof(want) - len, "[lines] no newline at the end\n");
	r = it_run_plugin("lines");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, want);
	it_run_free(&r);
}

Test(deadline, endless_loop_is_killed_at_the_deadline_and_leaves_no_process)
{
	const char *argv[] = {"--db", it_uri, "--timeout", "2", it_plugin("spin"), NULL};
	struct it_proc p;
	struct it_run r;
	pid_t child;
	long start, elapsed;

	it_init_db();
	start = now_ms();
	it_start(&p, argv, NULL);
	cr_assert(it_wait_for_text(p.err_path, "[spin] spinning", 10000),
		  "the spinning plugin never started");
	child = it_find_child(p.pid, 2000);
	/* Control: the plugin is there to be killed, as svrun's child and its own group. */
	cr_assert_gt(child, 0, "no child of svrun found while the plugin spins");
	cr_assert_eq(kill(child, 0), 0, "the spinning plugin is not alive");
	cr_assert_eq(getpgid(child), child, "the plugin does not lead its own process group");
	r = it_wait(&p, 15);
	elapsed = now_ms() - start;
	cr_assert_eq(r.status, 129, "expected exit 129 (deadline), got %d:\n%s", r.status, r.err);
	/* Wall clock or CPU limit, whichever the plugin meets first: both are the deadline. */
	cr_assert(strstr(r.err, "killed: deadline") != NULL ||
			  strstr(r.err, "killed: CPU time limit") != NULL,
		  "no deadline message:\n%s", r.err);
	cr_assert_lt(elapsed, 5000, "the 2 s deadline took %ld ms", elapsed);
	cr_assert_geq(elapsed, 1900, "killed before the deadline, after %ld ms", elapsed);
	cr_assert(kill(child, 0) < 0 && errno == ESRCH, "plugin process %d remains", (int)child);
	cr_assert(kill(-child, 0) < 0 && errno == ESRCH, "process group %d remains", (int)child);
	it_run_free(&r);
	it_assert_benign_runs();
}
