/*
 * test_more.c - escapes after load beyond tests/integ/test_escape.c, each one checked
 * from outside: nothing reached the listener, the terminal or another process, an
 * unrelated sleeper is alive and unsignalled, and a benign plugin runs right after.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/integ/harness.h"

TestSuite(more, .init = it_setup, .fini = it_teardown, .timeout = 120);

/* An unrelated process the plugin must not be able to touch. */
static pid_t
start_sleeper(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

/* Asserts the sleeper is still there, unsignalled, then ends it. */
static void
assert_sleeper_unharmed(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "the sleeper was killed or stopped");
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
}

/* Runs escmore in @mode with @arg and extra svrun options @opts (NULL-terminated). */
static struct it_run
run_mode(const char *mode, const char *arg, const char *const *opts)
{
	const char *argv[16];
	int n = 0;

	it_init_db();
	it_set_cfg("escmore", "mode", mode);
	it_set_cfg("escmore", "arg", arg ? arg : "");
	argv[n++] = "--db";
	argv[n++] = it_uri;
	for (; opts && *opts; opts++)
		argv[n++] = *opts;
	argv[n++] = it_plugin("escmore");
	argv[n] = NULL;
	return it_svrun(argv, NULL);
}

/* The common expectation: killed for @syscall, by name, with everything else unharmed. */
static void
assert_killed_for(const char *mode, const char *arg, const char *syscall_name)
{
	pid_t sleeper = start_sleeper();
	struct it_run r = run_mode(mode, arg, NULL);
	char text[64];

	snprintf(text, sizeof(text), "killed: syscall %s(", syscall_name);
	cr_assert_eq(r.status, 128, "%s:\n%s", mode, r.err);
	cr_assert_not_null(strstr(r.err, text), "%s: the report does not name %s:\n%s", mode,
			   syscall_name, r.err);
	cr_assert(!it_has_log(r.err, "escmore", "survived"), "%s: the plugin went on:\n%s", mode,
		  r.err);
	it_run_free(&r);
	assert_sleeper_unharmed(sleeper);
	it_assert_benign_runs();
}

Test(more, udp_datagram_is_killed_and_never_arrives)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	struct pollfd p;
	char port[16], c;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));
	assert_killed_for("udp", port, "socket");
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	cr_assert_eq(poll(&p, 1, 300), 0, "a datagram arrived from the plugin");
	/* Control: a datagram sent from outside does arrive. */
	cr_assert_eq(sendto(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "y", 1, 0,
			    (struct sockaddr *)&a, sizeof(a)),
		     1);
	cr_assert_eq(poll(&p, 1, 2000), 1, "control: no datagram arrived");
	cr_assert_eq(recv(fd, &c, 1, 0), 1);
	close(fd);
}

Test(more, abstract_unix_socket_of_the_host_is_unreachable)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char name[64];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd;
	socklen_t len;

	snprintf(name, sizeof(name), "svrun-test-%d", (int)getpid());
	memcpy(a.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, len), 0);
	cr_assert_eq(listen(fd, 4), 0);
	assert_killed_for("abstract", name, "socket");
	cr_assert(!it_has_connection(fd, 300), "the abstract socket got a connection");
	/* Control: the socket is reachable from outside. */
	cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(cfd, (struct sockaddr *)&a, len), 0);
	cr_assert(it_has_connection(fd, 2000), "control: no connection");
	close(cfd);
	close(fd);
}

Test(more, a_plugin_s_own_sigsys_handler_does_not_save_it)
{
	assert_killed_for("handler", NULL, "socket");
}

Test(more, kill_of_every_process_is_killed_itself)
{
	assert_killed_for("killall", NULL, "kill");
}

Test(more, ptrace_attach_is_killed)
{
	assert_killed_for("ptrace", NULL, "ptrace");
}

Test(more, memfd_then_execveat_is_killed_at_memfd_create)
{
	assert_killed_for("memfd", NULL, "memfd_create");
}

Test(more, dlopen_of_more_code_after_start_is_killed)
{
	assert_killed_for("dlopen", NULL, "openat");
}

Test(more, tiocsti_into_the_terminal_is_killed)
{
	assert_killed_for("tiocsti", NULL, "ioctl");
}

Test(more, writes_to_other_descriptors_are_killed_at_the_first)
{
	assert_killed_for("fds", NULL, "write");
}

/* A call through another ABI: killed by the filter's architecture check. */
static void
assert_foreign_abi_killed(const char *mode)
{
	pid_t sleeper = start_sleeper();
	struct it_run r = run_mode(mode, NULL, NULL);

	cr_assert_eq(r.status, 128, "%s:\n%s", mode, r.err);
	cr_assert_not_null(strstr(r.err, "non-native architecture"), "%s:\n%s", mode, r.err);
	it_run_free(&r);
	assert_sleeper_unharmed(sleeper);
	it_assert_benign_runs();
}

Test(more, x32_syscall_is_killed)
{
	assert_foreign_abi_killed("x32");
}

Test(more, int_0x80_syscall_is_killed)
{
	assert_foreign_abi_killed("int80");
}

Test(more, memory_bomb_stops_at_the_address_space_limit_and_it_is_named)
{
	const char *const opts[] = {"--memory", "256M", NULL};
	struct it_run r = run_mode("membomb", NULL, opts);
	const char *s;
	long mib;

	cr_assert_eq(r.status, 3, "%s", r.err);
	s = strstr(r.err, "survived membomb: returned ");
	cr_assert_not_null(s, "%s", r.err);
	mib = strtol(s + strlen("survived membomb: returned "), NULL, 10);
	cr_assert(mib > 16 && mib < 256, "the plugin got %ld MiB under a 256 MiB limit", mib);
	cr_assert_not_null(strstr(r.err, "reached its address-space limit of 256 MiB"), "%s", r.err);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(more, output_flood_is_cut_at_the_limit_and_counted)
{
	const char *const opts[] = {"--max-output", "1M", "--timeout", "120", NULL};
	/* The harness bounds the run: a broker that chewed on each byte would not finish. */
	struct it_run r = run_mode("flood", NULL, opts);

	cr_assert_eq(r.status, 3, "%.2000s", r.err);
	cr_assert(it_has_log(r.err, "escmore", "survived flood: returned 2147483648"), "%.2000s",
		  r.err);
	cr_assert_leq(strlen(r.out), (1u << 20) + (1u << 20) / 8,
		      "svrun relayed %zu bytes of a 1 MiB limit", strlen(r.out));
	cr_assert_not_null(strstr(r.err, "bytes of stdout dropped beyond the 1048576-byte limit"),
			   "%.2000s", r.err);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(more, log_flood_is_cut_at_the_limit_and_counted)
{
	const char *const opts[] = {"--max-output", "64K", NULL};
	struct it_run r = run_mode("logflood", NULL, opts);

	cr_assert_eq(r.status, 3, "%.2000s", r.err);
	cr_assert_leq(strlen(r.err), 128u << 10, "svrun printed %zu bytes of a 64 KiB log limit",
		      strlen(r.err));
	cr_assert_not_null(strstr(r.err, "bytes of sv_log lines dropped beyond the 65536-byte "
					 "limit"),
			   "%.2000s", r.err);
	it_run_free(&r);
	it_assert_benign_runs();
}

Test(more, a_forged_violation_report_stays_tagged_as_the_plugin_s)
{
	struct it_run r = run_mode("fake", NULL, NULL);
	const char *line;

	cr_assert_eq(r.status, 3, "%s", r.err);
	/* Every copy of the forgery is behind the plugin's tag; svrun wrote no such line. */
	for (line = r.err; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		cr_assert(strncmp(line, "svrun: plugin 'escmore' killed", 30) != 0,
			  "a forged report reads as svrun's own:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, "[escmore] svrun: plugin 'escmore' killed"), "%s", r.err);
	it_run_free(&r);
}

Test(more, a_frame_over_max_frame_ends_the_plugin_naming_the_limit)
{
	const char *const opts[] = {"--max-frame", "64", NULL};
	struct it_run r = run_mode("udp", "1", opts);

	/* The first query (its cfg) is over 64 bytes: the plugin never gets to the attempt. */
	cr_assert_eq(r.status, 130, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "--max-frame limit of 64 bytes"), "%s", r.err);
	cr_assert(!it_has_log(r.err, "escmore", "attempting"), "%s", r.err);
	it_run_free(&r);
	it_assert_benign_runs();
}

/* A victim file under the drop directory; returns its path. */
static const char *
victim(void)
{
	static char path[600];

	snprintf(path, sizeof(path), "%s/victim", it_drop);
	it_write_file(path, "data");
	return path;
}

/* Asserts the victim still holds "data" and nothing appeared beside it. */
static void
assert_victim_untouched(const char *path)
{
	char other[700], *text = it_read_file(path, NULL);

	cr_assert_not_null(text, "the victim %s is gone", path);
	cr_assert_str_eq(text, "data", "the victim was changed");
	free(text);
	snprintf(other, sizeof(other), "%s.escaped", path);
	cr_assert(!it_exists(other), "%s appeared", other);
}

/* Runs one file technique against a fresh victim: killed, named, and nothing changed. */
static void
assert_fs_technique_contained(const char *mode, const char *syscall_name)
{
	const char *path = victim();
	char other[700];

	/* Control: the plugin's user could do it outside the sandbox (the directory is open). */
	snprintf(other, sizeof(other), "%s.escaped", path);
	cr_assert(it_unconfined_can_create(other), "control: %s is not creatable outside", other);
	assert_killed_for(mode, path, syscall_name);
	assert_victim_untouched(path);
}

Test(more, creat_is_killed_and_creates_nothing)
{
	assert_fs_technique_contained("creat", "creat");
}

Test(more, truncate_is_killed_and_the_data_stays)
{
	assert_fs_technique_contained("truncate", "truncate");
}

Test(more, rename_is_killed_and_the_file_stays)
{
	assert_fs_technique_contained("rename", "rename");
}

Test(more, link_is_killed_and_no_link_appears)
{
	assert_fs_technique_contained("link", "link");
}

Test(more, symlink_is_killed_and_no_link_appears)
{
	assert_fs_technique_contained("symlink", "symlink");
}

Test(more, mkdir_is_killed_and_no_directory_appears)
{
	assert_fs_technique_contained("mkdir", "mkdir");
}

Test(more, unlink_is_killed_and_the_file_stays)
{
	assert_fs_technique_contained("unlink", "unlink");
}

Test(more, openat2_is_killed)
{
	assert_fs_technique_contained("openat2", "openat2");
}
