/*
 * test_layers.c - the layers beneath seccomp, each shown from outside: the plugin's own
 * namespaces, a network namespace that reaches nothing even when the policy allows
 * sockets, a root where host files do not exist even when the policy allows opening
 * them, death with the broker, and svrun doctor.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integ/harness.h"

TestSuite(layers, .init = it_setup, .fini = it_teardown, .timeout = 90);

/* Starts the inspect plugin and returns svrun's process, once the plugin is running. */
static pid_t
start_inspect(struct it_proc *p)
{
	const char *argv[] = {"--db", it_uri, "--timeout", "30", it_plugin("inspect"), NULL};
	pid_t child;

	it_init_db();
	it_start(p, argv, NULL);
	cr_assert(it_wait_for_text(p->err_path, "[inspect] ready", 15000),
		  "the plugin never said it was ready");
	child = it_find_child(p->pid, 2000);
	cr_assert_gt(child, 0, "no child of svrun found");
	return child;
}

/* Whether /proc/@pid/ns/@ns is the test's own namespace. */
static int
same_ns(pid_t pid, const char *ns)
{
	char a[128], b[128], path[64];
	ssize_t n, m;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	n = readlink(path, a, sizeof(a) - 1);
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	m = readlink(path, b, sizeof(b) - 1);
	cr_assert(n > 0 && m > 0, "cannot read the %s namespace links", ns);
	a[n] = b[m] = '\0';
	return strcmp(a, b) == 0;
}

Test(layers, plugin_runs_in_its_own_six_namespaces_as_pid_1)
{
	static const char *const ns[] = {"user", "pid", "net", "ipc", "uts", "mnt"};
	struct it_proc p;
	struct it_run r;
	char *status, *nspid;
	char path[64];
	pid_t child = start_inspect(&p);
	size_t i;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		cr_expect(!same_ns(child, ns[i]), "the plugin shares the test's %s namespace",
			  ns[i]);
	/* Control: the broker itself stays in the test's namespaces. */
	cr_assert(same_ns(p.pid, "net"), "svrun left the test's network namespace");
	snprintf(path, sizeof(path), "/proc/%d/status", (int)child);
	status = it_read_file(path, NULL);
	cr_assert_not_null(status);
	nspid = strstr(status, "NSpid:");
	cr_assert_not_null(nspid, "%s", status);
	cr_assert(strstr(nspid, "\t1\n") != NULL && strstr(nspid, "\t1\n") < strchr(nspid, '\n') + 1,
		  "the plugin is not pid 1 of its namespace: %.40s", nspid);
	free(status);
	kill(p.pid, SIGTERM);
	r = it_wait(&p, 30);
	it_run_free(&r);
}

/* A policy that allows what the layer under test must still stop. */
static const char *
permissive_policy(const char *extra)
{
	static char path[600];
	char text[1024];

	snprintf(path, sizeof(path), "%s/permissive.policy", it_dir);
	snprintf(text, sizeof(text), "@include %s/policies/default.policy\n%s", SOURCE_DIR, extra);
	it_write_file(path, text);
	return path;
}

/* Runs the escape plugin in @mode under @policy. */
static struct it_run
run_escape(const char *mode, int port, const char *policy)
{
	char portbuf[16];

	it_init_db();
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	it_set_cfg("escape", "mode", mode);
	it_set_cfg("escape", "marker", "");
	it_set_cfg("escape", "port", portbuf);
	return it_svrun((const char *const[]){"--db", it_uri, "--policy", policy,
					      it_plugin("escape"), NULL},
			NULL);
}

Test(layers, network_namespace_stops_a_connect_the_policy_allows)
{
	int port, lfd = it_listen(&port), cfd;
	const char *policy = permissive_policy(
		"socket: 1  # lint: allow this test shows the network namespace alone\n"
		"connect: 1  # lint: allow this test shows the network namespace alone\n");
	struct it_run r = run_escape("connect", port, policy);

	/* The syscalls ran (no violation) and failed: there is no route out. */
	cr_assert_eq(r.status, 3, "%s", r.err);
	cr_assert(it_has_log(r.err, "escape", "survived connect: returned -1, errno 101"),
		  "connect did not fail with ENETUNREACH:\n%s", r.err);
	cr_assert(!it_has_connection(lfd, 500), "the listener got a connection from the plugin");
	/* Control: the listener is reachable from outside the sandbox. */
	cfd = it_connect(port);
	cr_assert(it_has_connection(lfd, 2000), "control: the listener saw no connection");
	close(cfd);
	close(lfd);
	it_run_free(&r);
}

Test(layers, empty_root_and_landlock_stop_a_read_the_policy_allows)
{
	const char *policy = permissive_policy(
		"openat: arg2 & O_ACCMODE|O_CREAT|O_TRUNC|O_APPEND == 0  # read-only opens, for "
		"this test\n");
	char *host = it_read_file("/etc/hostname", NULL);
	struct it_run r;

	/* Control: the file exists and is readable outside. */
	cr_assert_not_null(host, "control: /etc/hostname is not readable outside");
	r = run_escape("readhost", 0, policy);
	cr_assert_eq(r.status, 3, "%s", r.err);
	cr_assert(it_has_log(r.err, "escape", "survived readhost: returned -1"),
		  "reading /etc/hostname did not fail:\n%s", r.err);
	cr_assert_null(strstr(r.err, "read "), "the plugin read something:\n%s", r.err);
	free(host);
	it_run_free(&r);
}

/* Whether @pid still runs: a zombie waiting for its new parent to reap it does not. */
static int
alive(pid_t pid)
{
	char path[64], *status, *state;
	int running;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((status = it_read_file(path, NULL)) == NULL)
		return 0;
	state = strstr(status, "State:\t");
	running = state != NULL && state[7] != 'Z' && state[7] != 'X';
	free(status);
	return running;
}

Test(layers, plugin_dies_within_a_second_of_the_broker)
{
	struct it_proc p;
	struct it_run r;
	pid_t child = start_inspect(&p);
	int i;

	cr_assert(alive(child), "control: the plugin is not running");
	cr_assert_eq(kill(p.pid, SIGKILL), 0);
	r = it_wait(&p, 5);
	it_run_free(&r);
	/* Control: the plugin was running when its broker died. */
	cr_assert(alive(child) || r.status == IT_SIGNALED + SIGKILL);
	for (i = 0; i < 100 && alive(child); i++)
		usleep(10 * 1000);
	cr_assert(!alive(child), "the plugin outlived its broker by a second");
}

Test(layers, doctor_lists_every_layer_and_exits_0_here)
{
	struct it_run r = it_svrun((const char *const[]){"doctor", NULL}, NULL);

	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	cr_assert_not_null(strstr(r.out, "seccomp user notification"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "network namespace (netns)"), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "Landlock (ABI"), "%s", r.out);
	cr_assert_null(strstr(r.out, " NO "), "a layer is missing:\n%s", r.out);
	it_run_free(&r);
}

Test(layers, allow_missing_rejects_an_unknown_layer)
{
	struct it_run r;

	it_init_db();
	r = it_svrun((const char *const[]){"--db", it_uri, "--allow-missing=netns,bogus",
					   it_plugin("benign"), NULL},
		     NULL);
	cr_assert_eq(r.status, 126, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "unknown sandbox layer 'bogus'"), "%s", r.err);
	it_run_free(&r);
	/* Control: known names are accepted, announced, and the plugin runs fully sandboxed. */
	r = it_svrun((const char *const[]){"--db", it_uri, "--allow-missing=netns,landlock",
					   it_plugin("benign"), NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "--allow-missing=netns,landlock"), "%s", r.err);
	it_run_free(&r);
}
