/*
 * test_escape.c - sandbox escapes, after loading and from a constructor: writing a
 * file, reading one, connecting out, executing a shell, forking. Each test checks the
 * side effect did not happen (no marker file, no connection on the listener), shows
 * with a control that it would have been seen, and runs a benign plugin afterwards.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"
#include "policy/policy.h"
#include "tests/integ/harness.h"

TestSuite(escape, .init = it_setup, .fini = it_teardown, .timeout = 90);
TestSuite(ctor, .init = it_setup, .fini = it_teardown, .timeout = 90);

/* A marker path in the drop directory, which nobody could write without the sandbox. */
static const char *
marker_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", it_drop, name);
	cr_assert(it_unconfined_can_create(path),
		  "control failed: the plugin's user could not create %s even unconfined", path);
	return path;
}

/* Runs the escape plugin in @mode with its marker path and port in its cfg table. */
static struct it_run
run_escape(const char *mode, const char *marker, int port)
{
	char portbuf[16];

	it_init_db();
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	it_set_cfg("escape", "mode", mode);
	it_set_cfg("escape", "marker", marker ? marker : "");
	it_set_cfg("escape", "port", portbuf);
	return it_run_plugin("escape");
}

/* Asserts the plugin reached the attempt and was killed there, for syscall @sys. */
static void
assert_killed_at(const struct it_run *r, const char *mode, const char *sys)
{
	char text[128];

	snprintf(text, sizeof(text), "attempting %s", mode);
	cr_assert(it_has_log(r->err, "escape", text),
		  "the plugin never reached the attempt (config not read?):\n%s", r->err);
	cr_assert_null(strstr(r->err, "[escape] survived"), "the attempt returned:\n%s", r->err);
	cr_assert_eq(r->status, 128, "expected exit 128 (killed), got %d:\n%s", r->status,
		     r->err);
	snprintf(text, sizeof(text), "svrun: plugin 'escape' killed: syscall %s", sys);
	cr_assert_not_null(strstr(r->err, text), "missing '%s...' in:\n%s", text, r->err);
}

Test(escape, open_for_writing_is_killed_and_no_marker_file_appears)
{
	const char *marker = marker_path("openw");
	struct it_run r = run_escape("openw", marker, 0);

	assert_killed_at(&r, "openw", "open");
	cr_assert(!it_exists(marker), "%s was created from inside the sandbox", marker);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(escape, reading_etc_hostname_is_killed_and_nothing_leaks)
{
	char *host = it_read_file("/etc/hostname", NULL);
	struct it_run r;

	cr_assert(host != NULL && host[0] != '\0', "control: /etc/hostname is readable here");
	r = run_escape("readhost", NULL, 0);
	assert_killed_at(&r, "readhost", "open");
	cr_assert_null(strstr(r.err, "[escape] read "), "the file was read:\n%s", r.err);
	cr_assert_null(strstr(r.out, host), "the host name reached stdout:\n%s", r.out);
	free(host);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(escape, socket_connect_is_killed_and_no_connection_reaches_listener)
{
	int port, lfd = it_listen(&port), cfd;
	struct it_run r = run_escape("connect", NULL, port);

	assert_killed_at(&r, "connect", "socket(");
	cr_assert(!it_has_connection(lfd, 500), "the listener got a connection from the plugin");
	/* Control: the listener does see a connection when one is made. */
	cfd = it_connect(port);
	cr_assert(it_has_connection(lfd, 2000), "control: the listener saw no connection");
	close(cfd);
	close(lfd);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(escape, execve_of_a_shell_is_killed_and_its_command_never_runs)
{
	const char *marker = marker_path("exec");
	struct it_run r = run_escape("exec", marker, 0);

	assert_killed_at(&r, "exec", "execve(");
	usleep(200 * 1000);
	cr_assert(!it_exists(marker), "the shell ran: %s exists", marker);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(escape, fork_is_killed_and_no_child_runs)
{
	const char *marker = marker_path("fork");
	struct it_run r = run_escape("fork", marker, 0);

	assert_killed_at(&r, "fork", "clone");
	usleep(200 * 1000);
	cr_assert(!it_exists(marker), "a forked child ran: %s exists", marker);
	it_run_free(&r);
	it_assert_benign_runs();
}

/* Copies the ctor plugin into the test's directory with "SVCFG mode marker port" appended. */
static const char *
ctor_copy(const char *mode, const char *marker, int port)
{
	static char path[600];
	char cfg[700];
	int fd;

	snprintf(cfg, sizeof(cfg), "\nSVCFG %s %s %d\n", mode, marker ? marker : "-", port);
	snprintf(path, sizeof(path), "%s/ctor.so", it_dir);
	it_copy(it_plugin("ctor"), path);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, cfg, strlen(cfg)), (ssize_t)strlen(cfg));
	close(fd);
	return path;
}

/* Runs a copy of the ctor plugin in @mode through svrun. */
static struct it_run
run_ctor(const char *mode, const char *marker, int port)
{
	const char *argv[] = {"--db", it_uri, "--timeout", "20", NULL, NULL};

	it_init_db();
	argv[4] = ctor_copy(mode, marker, port);
	return it_svrun(argv, NULL);
}

/*
 * Asserts the constructor's attempt in @mode came to nothing: either the plugin ran on
 * and reports that the call failed, or the sandbox killed it for the syscall.
 */
static void
assert_attempt_failed(const struct it_run *r, const char *mode)
{
	char text[128];

	if (r->status == 128) {
		cr_assert_not_null(strstr(r->err, "killed"), "%s", r->err);
		return;
	}
	cr_assert_eq(r->status, 0, "expected the plugin to run on (0) or be killed (128), got "
				   "%d:\n%s", r->status, r->err);
	snprintf(text, sizeof(text), "ctor mode=%s result=-1 ", mode);
	cr_assert(it_has_log(r->err, "ctor", text),
		  "the constructor's %s attempt did not fail:\n%s", mode, r->err);
}

Test(ctor, constructor_reads_its_cfg_read_only_and_the_plugin_then_runs)
{
	struct it_run r = run_ctor("none", NULL, 0);

	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(it_has_log(r.err, "ctor", "ctor mode=none result=0 "),
		  "the constructor did not read its cfg:\n%s", r.err);
	it_run_free(&r);
}

Test(ctor, constructor_open_for_writing_is_contained_and_no_marker_appears)
{
	const char *marker = marker_path("ctor-openw");
	struct it_run r = run_ctor("openw", marker, 0);

	assert_attempt_failed(&r, "openw");
	cr_assert(!it_exists(marker), "%s was created by a constructor", marker);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(ctor, constructor_connect_is_contained_and_no_connection_reaches_listener)
{
	int port, lfd = it_listen(&port), cfd;
	struct it_run r = run_ctor("connect", NULL, port);

	assert_attempt_failed(&r, "connect");
	cr_assert(!it_has_connection(lfd, 500), "the listener got a connection from a constructor");
	cfd = it_connect(port);
	cr_assert(it_has_connection(lfd, 2000), "control: the listener saw no connection");
	close(cfd);
	close(lfd);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(ctor, constructor_execve_is_contained_and_its_command_never_runs)
{
	const char *marker = marker_path("ctor-exec");
	struct it_run r = run_ctor("exec", marker, 0);

	assert_attempt_failed(&r, "exec");
	usleep(200 * 1000);
	cr_assert(!it_exists(marker), "a shell ran from a constructor: %s exists", marker);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(ctor, constructor_fork_is_contained_and_no_child_runs)
{
	const char *marker = marker_path("ctor-fork");
	struct it_run r = run_ctor("fork", marker, 0);

	assert_attempt_failed(&r, "fork");
	usleep(200 * 1000);
	cr_assert(!it_exists(marker), "a child forked by a constructor ran: %s exists", marker);
	it_run_free(&r);
	it_assert_benign_runs();
}

/*
 * Asserts that run @r was refused with @why before any plugin code ran (the "say"
 * constructor never spoke) and that no sandbox outlived it: with the test process the
 * subreaper, a sandbox left behind would be its child now.
 */
static void
assert_refused_before_loading(struct it_run *r, const char *why)
{
	cr_assert_eq(r->status, 126, "%s", r->err);
	cr_assert_not_null(strstr(r->err, why), "the refusal does not say why:\n%s", r->err);
	cr_assert_null(strstr(r->out, "ctor ran"), "the plugin was loaded:\n%s", r->out);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a sandbox outlived the refused run");
	cr_assert_eq(errno, ECHILD);
	it_run_free(r);
}

Test(ctor, a_run_refused_after_its_sandbox_started_never_loads_the_plugin_or_leaves_it)
{
	char ceiling[600], wider[600], missing[600];
	const char *plugin;
	struct it_run r;

	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	it_init_db();
	plugin = ctor_copy("say", NULL, 0);
	/* The first sandbox starts before the database is opened and the policy checked. */
	snprintf(missing, sizeof(missing), "sqlite:%s/missing.db", it_dir);
	r = it_svrun((const char *const[]){"--db", missing, plugin, NULL}, NULL);
	assert_refused_before_loading(&r, "does not exist");
	snprintf(ceiling, sizeof(ceiling), "%s/ceiling.policy", it_dir);
	snprintf(wider, sizeof(wider), "%s/wider.policy", it_dir);
	it_write_file(ceiling, "@include " SOURCE_DIR "/policies/default.policy\n");
	it_write_file(wider, "@include " SOURCE_DIR "/policies/default.policy\n"
			     "getppid: 1  # parent pid\n");
	r = it_svrun((const char *const[]){"--db", it_uri, "--ceiling", ceiling, "--policy", wider,
					   plugin, NULL},
		     NULL);
	assert_refused_before_loading(&r, "permits what the ceiling");
	/* Control: with its database and within the ceiling, the same plugin loads and runs. */
	r = it_svrun((const char *const[]){"--db", it_uri, "--ceiling", ceiling, plugin, NULL},
		     NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "ctor ran"), "control: the constructor never spoke:\n%s",
			   r.out);
	it_run_free(&r);
}

/* The sandbox helper, started by the test the way the broker starts it. */
struct helper {
	pid_t pid;
	int chan;	/* the broker's end of the channel */
	int out;	/* the read end of the helper's stdout */
	int err;	/* and of its stderr */
};

/* The default policy's two seccomp programs, compiled as svrun compiles them. */
static uint8_t *
default_programs(size_t *len)
{
	struct sv_policy *p = NULL;
	uint8_t *bytes = NULL;
	char err[512];

	cr_assert_eq(sv_policy_load(SOURCE_DIR "/policies/default.policy", &p, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(sv_policy_filters(p, &bytes, len, err, sizeof(err)), 0, "%s", err);
	sv_policy_free(p);
	return bytes;
}

/*
 * Starts svrun-sandbox on @plugin with the channel on descriptor 3, holding @len bytes
 * of seccomp @programs first, and stdout and stderr on pipes, in "nons" mode (the test
 * makes no namespaces; every other layer is in place).
 */
static struct helper
start_helper_with(const char *plugin, const void *programs, size_t len)
{
	char *argv[] = {"svrun-sandbox", "20", "1073741824", "16", "-", "nons", (char *)plugin,
			NULL};
	struct helper h;
	int sv[2], out[2], err[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
	cr_assert_eq(send(sv[0], programs, len, MSG_NOSIGNAL), (ssize_t)len);
	h.pid = fork();
	cr_assert_geq(h.pid, 0);
	if (h.pid == 0) {
		if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(err[1], STDERR_FILENO) < 0 ||
		    dup2(sv[1], SV_CHANNEL_FD) < 0)
			_exit(99);
		execv(HELPER_BIN, argv);
		_exit(98);
	}
	close(sv[1]);
	close(out[1]);
	close(err[1]);
	h.chan = sv[0];
	h.out = out[0];
	h.err = err[0];
	return h;
}

/* start_helper_with() the default policy's programs, as svrun would hand them. */
static struct helper
start_helper(const char *plugin)
{
	size_t len;
	uint8_t *programs = default_programs(&len);
	struct helper h = start_helper_with(plugin, programs, len);

	free(programs);
	return h;
}

/* Whether bytes can be read from @fd within @ms milliseconds (end of file is not bytes). */
static int
has_bytes(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Waits up to 10 s for the helper to exit; returns its wait status, or -1 if it did not. */
static int
wait_helper(struct helper *h)
{
	int status;

	for (int i = 0; i < 1000; i++) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			h->pid = -1;
			return status;
		}
		usleep(10 * 1000);
	}
	return -1;
}

/* Ends the helper, whatever state it is in. */
static void
stop_helper(struct helper *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
	}
	if (h->chan >= 0)
		close(h->chan);
	close(h->out);
	close(h->err);
}

/* Releases @h and checks that the plugin loads: its constructor says "ctor ran". */
static void
expect_release_runs_the_plugin(struct helper *h)
{
	static const char release = SV_RELEASE_BYTE;
	char text[64];
	ssize_t n;

	cr_assert_eq(send(h->chan, &release, 1, MSG_NOSIGNAL), 1);
	cr_assert(has_bytes(h->out, 5000), "the plugin did not load after the release");
	n = read(h->out, text, sizeof(text) - 1);
	cr_assert_gt(n, 0);
	text[n] = '\0';
	cr_assert_str_eq(text, "ctor ran\n");
}

Test(ctor, the_sandbox_runs_no_plugin_code_before_the_broker_releases_it)
{
	struct helper h = start_helper(ctor_copy("say", NULL, 0));

	/* Set up and confined, the helper waits: no constructor has run, no handshake came. */
	cr_assert_not(has_bytes(h.out, 500), "the plugin's constructor ran before the release");
	cr_assert_not(has_bytes(h.chan, 0), "the handshake came before the release");
	cr_assert_eq(waitpid(h.pid, NULL, WNOHANG), 0, "the helper did not wait for the release");
	/* Control: released, it loads the plugin, whose constructor speaks, and says hello. */
	expect_release_runs_the_plugin(&h);
	cr_assert(has_bytes(h.chan, 5000), "no handshake after the release");
	stop_helper(&h);
}

/* Everything @fd gives until its end (or 5 s), as a string to free. */
static char *
read_until_end(int fd)
{
	char *buf = calloc(1, 8192);
	size_t len = 0;
	ssize_t n;

	cr_assert_not_null(buf);
	while (len < 8191 && has_bytes(fd, 5000) && (n = read(fd, buf + len, 8191 - len)) > 0)
		len += (size_t)n;
	return buf;
}

/*
 * Starts the helper on the "say" constructor with @len bytes of @programs (and @release
 * after them, unless 0) and checks that it exits SV_EXIT_FAILURE saying @why, with no
 * plugin code run.
 */
static void
expect_programs_refused(const void *programs, size_t len, int release, const char *why)
{
	static const char byte = SV_RELEASE_BYTE;
	struct helper h = start_helper_with(ctor_copy("say", NULL, 0), programs, len);
	char *said;
	int status;

	/* Released at once: a helper that went on anyway would run the constructor. */
	if (release)
		cr_assert_eq(send(h.chan, &byte, 1, MSG_NOSIGNAL), 1);
	else
		shutdown(h.chan, SHUT_WR);
	said = read_until_end(h.err);
	status = wait_helper(&h);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == SV_EXIT_FAILURE,
		  "wait status %d; it said: %s", status, said);
	cr_assert(strstr(said, why), "expected \"%s\", it said: %s", why, said);
	cr_assert_not(has_bytes(h.out, 0), "plugin code ran under programs it could not load");
	free(said);
	stop_helper(&h);
}

/*
 * The sandbox loads the seccomp programs the broker hands it as they are; any it cannot
 * load whole (not its header, more than the kernel takes, cut short, instructions the
 * kernel refuses) ends it before the plugin loads.
 */
Test(ctor, a_sandbox_handed_malformed_seccomp_programs_never_runs_the_plugin)
{
	struct {
		struct sv_policy_filters_header h;
		struct sock_filter insns[2];
	} bad = {{SV_POLICY_FILTERS_MAGIC, 1, 1}, {{0xffff, 0, 0, 0}, {0xffff, 0, 0, 0}}};
	struct sv_policy_filters_header h = {0, 1, 1};
	struct helper ok;
	uint8_t *good;
	size_t len;

	expect_programs_refused(&h, sizeof(h), 1, "begin with 0x00000000, not their header");
	h = (struct sv_policy_filters_header){SV_POLICY_FILTERS_MAGIC, BPF_MAXINSNS + 1, 1};
	expect_programs_refused(&h, sizeof(h), 1, "claim 4097 and 1 instructions");
	good = default_programs(&len);
	expect_programs_refused(good, len / 2, 0, "the broker sent");
	expect_programs_refused(&bad, sizeof(bad), 1, "cannot load the load-phase seccomp filter");
	/* Control: the programs svrun compiles load, and the released plugin runs. */
	ok = start_helper_with(ctor_copy("say", NULL, 0), good, len);
	expect_release_runs_the_plugin(&ok);
	stop_helper(&ok);
	free(good);
}

Test(ctor, a_sandbox_the_broker_never_releases_exits_without_running_plugin_code)
{
	struct helper h = start_helper(ctor_copy("say", NULL, 0));
	int status;

	cr_assert_not(has_bytes(h.out, 300), "the plugin's constructor ran before the release");
	/* The broker refused the plugin (its session would not open): it closes the channel. */
	close(h.chan);
	h.chan = -1;
	status = wait_helper(&h);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == SV_EXIT_FAILURE,
		  "the helper did not exit %d when the channel closed (wait status %d)",
		  SV_EXIT_FAILURE, status);
	cr_assert_not(has_bytes(h.out, 0), "plugin code ran although it was never released");
	stop_helper(&h);
}
