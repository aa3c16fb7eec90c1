/*
 * test_policy.c - the policy module: what the parser accepts and the errors it gives,
 * what the compiled filters let through and what they stop, how a denied call is
 * described, and that the shipped policies parse, compile and run a plain C program.
 *
 * Filters are loaded in a child forked inside each test, never in the test process that
 * reports to Criterion. Every denial stands beside a control that the same filter lets
 * through, so a filter that refuses everything fails these tests.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/policy.h"

#define DEFAULT_POLICY SV_SOURCE_DIR "/policies/default.policy"

/* Parses @text as "t.policy"; returns the result and leaves the message in @err. */
static int
parse(const char *text, char *err, size_t len)
{
	struct sv_policy *p = NULL;
	int r = sv_policy_parse("t.policy", text, &p, err, len);

	if (r == 0)
		cr_assert_not_null(p);
	else
		cr_assert_null(p);
	sv_policy_free(p);
	return r;
}

/* Asserts that @text fails with a message that starts with @where and contains @what. */
static void
assert_error(const char *text, const char *where, const char *what)
{
	char err[512];

	cr_assert_eq(parse(text, err, sizeof(err)), -EINVAL, "parsed: %s", text);
	cr_assert(strncmp(err, where, strlen(where)) == 0, "'%s' does not start with '%s'", err,
		  where);
	cr_assert_not_null(strstr(err, what), "'%s' does not name '%s'", err, what);
}

/* Asserts that @text parses, the positive control of each error test. */
static void
assert_parses(const char *text)
{
	char err[512];

	cr_assert_eq(parse(text, err, sizeof(err)), 0, "%s", err);
}

/* A scratch directory for include tests, removed by rm_dir(). */
static char dir[64];

/* Makes the scratch directory, with a groups/ folder as in policies/. */
static void
make_dir(void)
{
	char groups[96];

	strcpy(dir, "/tmp/test_policy.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(groups, sizeof(groups), "%s/groups", dir);
	cr_assert_eq(mkdir(groups, 0700), 0);
}

/* Writes @text to @name under the scratch directory. */
static void
put_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Removes the scratch directory and everything in it. */
static void
rm_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Loads @name from the scratch directory; returns the result and the message in @err. */
static int
load(const char *name, char *err, size_t len)
{
	struct sv_policy *p = NULL;
	char path[128];
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = sv_policy_load(path, &p, err, len);
	sv_policy_free(p);
	return r;
}

Test(parse, accepts_every_form_of_the_language)
{
	struct sv_policy *p = NULL;
	char err[512];

	cr_assert_eq(sv_policy_parse("t.policy",
				     "# a comment line\n"
				     "\n"
				     "brk: 1\n"
				     "   # an indented comment\n"
				     "exit_group: allow     # with a reason\n"
				     "read: arg0 == 3\n"
				     "write: arg0 == 3 || arg0 == 1 || arg0 == 2\n"
				     "mmap: arg2 & PROT_EXEC == 0 && arg3 & MAP_ANONYMOUS == 0x20"
				     "  # heap\n"
				     "close: arg0 in {0, 1, 2, 3}\n"
				     "lseek: arg0 != 3 && arg1 <= 100 && arg2 >= SEEK_SET\n"
				     "dup3: arg2 == O_CLOEXEC|O_NONBLOCK\n"
				     "getppid: arg0 < 1 || arg0 > 0xff\n"
				     "getuid: return EPERM\n"
				     "getgid: 1 return EACCES\n"
				     "geteuid: kill\n"
				     "getegid: arg0 == -1 kill\n"
				     "openat: arg0 == AT_FDCWD && arg2 & O_ACCMODE == O_RDONLY"
				     "  # test\n",
				     &p, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(sv_policy_path(p), "t.policy");
	cr_assert(sv_policy_mentions(p, SYS_read));
	cr_assert(sv_policy_mentions(p, SYS_openat));
	cr_assert(sv_policy_mentions(p, SYS_geteuid));
	cr_assert_not(sv_policy_mentions(p, SYS_socket));
	sv_policy_free(p);
}

Test(parse, free_of_null_does_nothing)
{
	sv_policy_free(NULL);
}

Test(parse, names_an_unknown_syscall_with_its_position)
{
	assert_parses("read: 1\nwrite: 1\n");
	assert_error("read: 1\n  frobnicate: 1\n", "t.policy:2:3: ",
		     "unknown syscall 'frobnicate'");
}

Test(parse, refuses_a_syscall_of_another_architecture)
{
	/* socketcall exists on i386, not on x86_64: policies are for the native arch. */
	assert_parses("socket: return EACCES\n");
	assert_error("socketcall: return EACCES\n", "t.policy:1:1: ", "'socketcall'");
}

Test(parse, names_an_unknown_constant_with_its_position)
{
	assert_parses("mmap: arg2 & PROT_EXEC == 0 # ok\n");
	assert_error("mmap: arg2 & PROT_EXCE == 0 # typo\n", "t.policy:1:14: ",
		     "unknown constant 'PROT_EXCE'");
}

Test(parse, names_a_bad_operator_with_its_position)
{
	assert_parses("read: arg0 == 3\n");
	assert_error("read: arg0 = 3\n", "t.policy:1:12: ", "unknown operator '='");
	assert_error("read: arg0 => 3\n", "t.policy:1:12: ", "unknown operator '=>'");
	assert_error("read: arg0 == 3 ; kill\n", "t.policy:1:17: ", "';'");
}

Test(parse, names_an_unknown_argument)
{
	assert_parses("read: arg5 == 3\n");
	assert_error("read: arg6 == 3\n", "t.policy:1:7: ", "unknown argument 'arg6'");
}

Test(parse, names_an_unknown_errno)
{
	assert_parses("getppid: return EWOULDBLOCK\n");
	assert_error("getppid: return EPERN\n", "t.policy:1:17: ", "unknown errno name 'EPERN'");
}

Test(parse, reports_a_duplicate_rule_at_its_second_line)
{
	assert_parses("read: arg0 == 3 || arg0 == 4\n");
	assert_error("read: arg0 == 3\nwrite: 1\nread: arg0 == 4\n", "t.policy:3:1: ",
		     "duplicate rule for 'read' (first at t.policy:1)");
}

Test(parse, reports_a_contradictory_rule)
{
	assert_parses("getppid: arg0 == 1 return EPERM\n");
	assert_error("getppid: 1\ngetppid: return EPERM\n", "t.policy:2:1: ",
		     "contradictory rule for 'getppid'");
}

Test(parse, requires_a_reason_to_allow_a_dangerous_syscall)
{
	assert_parses("socket: arg0 == AF_UNIX   # the test needs a local socket\n");
	assert_parses("socket: return EACCES\n");
	assert_parses("execve: kill\n");
	assert_error("brk: 1\nsocket: arg0 == AF_UNIX\n", "t.policy:2:1: ",
		     "dangerous syscall 'socket'");
	assert_error("clone: 1 #   \n", "t.policy:1:1: ", "dangerous syscall 'clone'");
}

Test(parse, refuses_one_argument_compared_twice_in_one_conjunction)
{
	/* libseccomp takes one comparator per argument in a rule; a range needs two. */
	assert_parses("close: arg0 >= 3 || arg0 <= 1\n");
	assert_parses("lseek: arg0 >= 3 && arg2 == SEEK_SET\n");
	assert_error("close: arg0 >= 3 && arg0 <= 10\n", "t.policy:1:21: ",
		     "arg0 is compared twice");
	assert_error("close: arg0 in {3, 4} && arg0 != 5\n", "t.policy:1:26: ",
		     "arg0 is compared twice");
}

Test(parse, refuses_a_masked_inequality)
{
	assert_parses("mmap: arg2 & PROT_EXEC == 0 # ok\n");
	assert_error("mmap: arg2 & PROT_EXEC != 0 # not expressible\n", "t.policy:1:24: ",
		     "'!='");
}

Test(parse, refuses_a_masked_test_that_can_never_hold)
{
	assert_parses("mmap: arg2 & PROT_EXEC == PROT_EXEC # ok\n");
	assert_error("mmap: arg2 & PROT_EXEC == PROT_READ # never\n", "t.policy:1:24: ",
		     "never be true");
}

Test(parse, refuses_a_line_without_condition_or_action)
{
	assert_parses("brk: 1\n");
	assert_error("brk:\n", "t.policy:1:5: ", "needs a condition");
	assert_error("brk 1\n", "t.policy:1:5: ", "expected ':'");
	assert_error("brk: 1 maybe\n", "t.policy:1:8: ", "'maybe'");
}

Test(parse, takes_a_negative_int_only_where_it_is_unambiguous)
{
	assert_parses("close: arg0 == -1 || arg0 in {AT_FDCWD, -2}\n");
	assert_error("close: arg0 < -1\n", "t.policy:1:13: ", "negative");
	assert_error("close: arg0 != AT_FDCWD\n", "t.policy:1:13: ", "negative");
}

Test(parse, reads_numbers_in_decimal_and_hex_only)
{
	assert_parses("close: arg0 == 0x10 || arg0 == 16 || arg0 == -1\n");
	assert_error("close: arg0 == 0x1g\n", "t.policy:1:16: ", "bad number '0x1g'");
	assert_error("close: arg0 == 99999999999999999999\n", "t.policy:1:16: ", "bad number");
}

Test(parse, refuses_a_set_too_large_to_compile)
{
	char text[1024] = "close: arg0 in {0";
	size_t n;
	int i;

	for (i = 1; i < 64; i++)
		sprintf(text + strlen(text), ", %d", i);
	n = strlen(text);
	strcpy(text + n, "}\n");
	assert_parses(text);
	strcpy(text + n, ", 64}\n");
	assert_error(text, "t.policy:1:", "more than 64");
}

Test(parse, follows_an_include_relative_to_the_including_file)
{
	struct sv_policy *p = NULL;
	char err[512], path[128];

	make_dir();
	put_file("groups/mem.policy", "brk: 1  # malloc\n");
	put_file("top.policy", "@include groups/mem.policy   # memory\nread: arg0 == 3\n");
	snprintf(path, sizeof(path), "%s/top.policy", dir);
	cr_assert_eq(sv_policy_load(path, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert(sv_policy_mentions(p, SYS_brk));
	cr_assert(sv_policy_mentions(p, SYS_read));
	cr_assert_str_eq(sv_policy_path(p), path);
	sv_policy_free(p);
	rm_dir();
}

Test(parse, reports_an_include_cycle_where_it_closes)
{
	char err[512], where[256];

	make_dir();
	put_file("ok.policy", "@include groups/b.policy\n");
	put_file("groups/b.policy", "brk: 1\n");
	cr_assert_eq(load("ok.policy", err, sizeof(err)), 0, "%s", err);
	put_file("a.policy", "brk: 1\n@include groups/c.policy\n");
	put_file("groups/c.policy", "# comment\n@include ../a.policy\n");
	cr_assert_eq(load("a.policy", err, sizeof(err)), -EINVAL);
	snprintf(where, sizeof(where), "%s/groups/c.policy:2:10: include cycle", dir);
	cr_assert(strncmp(err, where, strlen(where)) == 0, "%s", err);
	cr_assert_not_null(strstr(err, "a.policy"), "%s", err);
	rm_dir();
}

Test(parse, reports_a_missing_include_where_it_is_named)
{
	char err[512], where[256];

	make_dir();
	put_file("groups/here.policy", "brk: 1\n");
	put_file("ok.policy", "@include groups/here.policy\n");
	cr_assert_eq(load("ok.policy", err, sizeof(err)), 0, "%s", err);
	put_file("a.policy", "brk: 1\n\n@include groups/gone.policy\n");
	cr_assert_eq(load("a.policy", err, sizeof(err)), -EINVAL);
	snprintf(where, sizeof(where), "%s/a.policy:3:10: cannot include", dir);
	cr_assert(strncmp(err, where, strlen(where)) == 0, "%s", err);
	cr_assert_not_null(strstr(err, "groups/gone.policy"), "%s", err);
	cr_assert_not_null(strstr(err, "No such file"), "%s", err);
	rm_dir();
}

Test(parse, reports_a_rule_duplicated_across_files)
{
	char err[512], where[256];

	make_dir();
	put_file("groups/mem.policy", "brk: 1\n");
	put_file("a.policy", "@include groups/mem.policy\nbrk: 1\n");
	cr_assert_eq(load("a.policy", err, sizeof(err)), -EINVAL);
	snprintf(where, sizeof(where), "%s/a.policy:2:1: duplicate rule for 'brk' (first at %s/",
		 dir, dir);
	cr_assert(strncmp(err, where, strlen(where)) == 0, "%s", err);
	rm_dir();
}

Test(parse, refuses_an_unknown_directive)
{
	assert_parses("# @import x.policy\n");
	assert_error("@import x.policy\n", "t.policy:1:1: ", "unknown directive '@import'");
}

Test(load, returns_enoent_for_a_missing_file)
{
	struct sv_policy *p = (struct sv_policy *)&p;
	char err[512];

	cr_assert_eq(sv_policy_load("/nonexistent/x.policy", &p, err, sizeof(err)), -ENOENT);
	cr_assert_null(p);
	cr_assert_not_null(strstr(err, "/nonexistent/x.policy"), "%s", err);
	cr_assert_eq(sv_policy_load(DEFAULT_POLICY, &p, err, sizeof(err)), 0, "%s", err);
	sv_policy_free(p);
}

/*
 * Ends a filtered child with exit_group itself: _exit() may run a sanitizer's exit hooks
 * (the leak checker), which make syscalls no test policy allows.
 */
static void
leave(int code)
{
	syscall(SYS_exit_group, code);
}

/* Ends the child with the errno of the call just made, or 0 when it succeeded. */
static void
report(long r)
{
	leave(r < 0 ? errno : 0);
}

/*
 * Runs @fn in a child under @text compiled with default action @def (rules for the
 * @nskip numbers in @skip left out) and returns its wait status.
 */
static int
run_under(const char *text, uint32_t def, const int *skip, size_t nskip, void (*fn)(void))
{
	int status;
	pid_t pid;

	fflush(NULL);
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		struct sv_policy *p = NULL;
		scmp_filter_ctx ctx;
		char err[512];

		if (sv_policy_parse("t.policy", text, &p, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			_exit(200);
		}
		if (!(ctx = seccomp_init(def)) ||
		    sv_policy_add_rules(p, ctx, skip, nskip, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			_exit(201);
		}
		if (seccomp_load(ctx) < 0)
			_exit(202);
		fn();
		leave(203);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* The errno the filtered child's call ended with (0 for success). */
static int
errno_under(const char *text, void (*fn)(void))
{
	int status = run_under(text, SCMP_ACT_ERRNO(ENOSYS), NULL, 0, fn);

	cr_assert(WIFEXITED(status), "child died of signal %d", WTERMSIG(status));
	cr_assert_lt(WEXITSTATUS(status), 200, "child set-up failed: %d", WEXITSTATUS(status));
	return WEXITSTATUS(status);
}

/* Each call_* makes one syscall in the filtered child and reports how it ended. */
static void
call_getpid(void)
{
	report(syscall(SYS_getpid));
}

static void
call_getppid(void)
{
	report(syscall(SYS_getppid));
}

static void
call_dup3_plain(void)
{
	report(syscall(SYS_dup3, 0, 100, 0));
}

static void
call_dup3_cloexec(void)
{
	report(syscall(SYS_dup3, 0, 100, O_CLOEXEC));
}

static void
call_dup3_nonblock(void)
{
	report(syscall(SYS_dup3, 0, 100, O_NONBLOCK));
}

static void
call_mmap_rw(void)
{
	report(syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0) == (long)MAP_FAILED ? -1 : 0);
}

static void
call_mmap_exec(void)
{
	report(syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0) == (long)MAP_FAILED ? -1 : 0);
}

static void
call_close_101(void)
{
	report(syscall(SYS_close, 101));
}

static void
call_close_102(void)
{
	report(syscall(SYS_close, 102));
}

static void
call_close_150(void)
{
	report(syscall(SYS_close, 150));
}

static void
call_close_250(void)
{
	report(syscall(SYS_close, 250));
}

static void
call_lseek_100_set(void)
{
	report(syscall(SYS_lseek, 100, 0, SEEK_SET));
}

static void
call_lseek_100_end(void)
{
	report(syscall(SYS_lseek, 100, 0, SEEK_END));
}

static void
call_lseek_101_set(void)
{
	report(syscall(SYS_lseek, 101, 0, SEEK_SET));
}

static void
call_openat_rdonly(void)
{
	report(openat(AT_FDCWD, "/nonexistent/x", O_RDONLY));
}

static void
call_openat_sign_extended(void)
{
	report(syscall(SYS_openat, (long)AT_FDCWD, "/nonexistent/x", (long)O_RDONLY));
}

static void
call_openat_other_dirfd(void)
{
	report(syscall(SYS_openat, 0xffffff9bL, "/nonexistent/x", (long)O_RDONLY));
}

static void
call_openat_wronly(void)
{
	report(openat(AT_FDCWD, "/nonexistent/x", O_WRONLY));
}

Test(compile, allows_a_listed_call_and_denies_an_unlisted_one)
{
	const char *pol = "exit_group: 1\ngetpid: 1\n";

	cr_assert_eq(errno_under(pol, call_getpid), 0);
	cr_assert_eq(errno_under(pol, call_getppid), ENOSYS);
}

Test(compile, tests_argument_equality)
{
	const char *pol = "exit_group: 1\ndup3: arg2 == 0\n";

	cr_assert_eq(errno_under(pol, call_dup3_plain), 0);
	cr_assert_eq(errno_under(pol, call_dup3_cloexec), ENOSYS);
}

Test(compile, compiles_or_into_one_rule_per_alternative)
{
	const char *pol = "exit_group: 1\ndup3: arg2 == 0 || arg2 == O_CLOEXEC\n";

	cr_assert_eq(errno_under(pol, call_dup3_plain), 0);
	cr_assert_eq(errno_under(pol, call_dup3_cloexec), 0);
	/* The kernel would answer EINVAL; ENOSYS shows the filter stopped it first. */
	cr_assert_eq(errno_under(pol, call_dup3_nonblock), ENOSYS);
}

Test(compile, tests_a_masked_argument)
{
	const char *pol = "exit_group: 1\nmmap: arg2 & PROT_EXEC == 0 # test\n";

	cr_assert_eq(errno_under(pol, call_mmap_rw), 0);
	cr_assert_eq(errno_under(pol, call_mmap_exec), ENOSYS);
}

Test(compile, tests_set_membership)
{
	const char *pol = "exit_group: 1\nclose: arg0 in {100, 101}\n";

	/* EBADF comes from the kernel: the call went through the filter. */
	cr_assert_eq(errno_under(pol, call_close_101), EBADF);
	cr_assert_eq(errno_under(pol, call_close_102), ENOSYS);
}

Test(compile, requires_every_comparator_of_a_conjunction)
{
	const char *pol = "exit_group: 1\nlseek: arg0 == 100 && arg2 == SEEK_SET\n";

	cr_assert_eq(errno_under(pol, call_lseek_100_set), EBADF);
	cr_assert_eq(errno_under(pol, call_lseek_100_end), ENOSYS);
	cr_assert_eq(errno_under(pol, call_lseek_101_set), ENOSYS);
}

Test(compile, tests_ranges_and_inequality)
{
	const char *pol = "exit_group: 1\nclose: arg0 > 200 || arg0 < 102 && arg1 != 7\n";

	cr_assert_eq(errno_under(pol, call_close_250), EBADF);
	cr_assert_eq(errno_under(pol, call_close_101), EBADF);
	cr_assert_eq(errno_under(pol, call_close_150), ENOSYS);
	cr_assert_eq(errno_under(pol, call_close_102), ENOSYS);
}

Test(compile, matches_a_negative_int_on_its_low_32_bits)
{
	/* glibc's openat() passes AT_FDCWD (-100) as 0xffffff9c, not sign-extended. */
	const char *pol = "exit_group: 1\nopenat: arg0 == AT_FDCWD && arg2 == O_RDONLY # test\n";

	cr_assert_eq(errno_under(pol, call_openat_rdonly), ENOENT);
	cr_assert_eq(errno_under(pol, call_openat_sign_extended), ENOENT);
	cr_assert_eq(errno_under(pol, call_openat_wronly), ENOSYS);
	cr_assert_eq(errno_under(pol, call_openat_other_dirfd), ENOSYS);
}

Test(compile, returns_the_named_errno)
{
	const char *pol = "exit_group: 1\ngetpid: 1\ngetppid: return EACCES\n";

	cr_assert_eq(errno_under(pol, call_getpid), 0);
	cr_assert_eq(errno_under(pol, call_getppid), EACCES);
}

Test(compile, kills_on_a_kill_rule)
{
	const char *pol = "exit_group: 1\ngetpid: 1\ngetppid: kill\n";
	int status;

	cr_assert_eq(errno_under(pol, call_getpid), 0);
	status = run_under(pol, SCMP_ACT_ERRNO(ENOSYS), NULL, 0, call_getppid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "status %#x", status);
}

Test(compile, leaves_out_the_skipped_syscalls)
{
	const char *pol = "exit_group: 1\ngetpid: 1\ngetppid: 1\n";
	int skip[] = { SYS_getppid }, status;

	status = run_under(pol, SCMP_ACT_ERRNO(ENOSYS), skip, 1, call_getppid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == ENOSYS, "status %#x", status);
	status = run_under(pol, SCMP_ACT_ERRNO(ENOSYS), skip, 1, call_getpid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}

Test(compile, accepts_a_rule_that_repeats_the_default_action)
{
	const char *pol = "exit_group: 1\ngetpid: 1\ngetppid: kill\n";
	int status;

	status = run_under(pol, SCMP_ACT_KILL_PROCESS, NULL, 0, call_getpid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	status = run_under(pol, SCMP_ACT_KILL_PROCESS, NULL, 0, call_getppid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "status %#x", status);
}

Test(shipped, default_policy_parses_and_compiles)
{
	struct sv_policy *p = NULL;
	scmp_filter_ctx ctx;
	char err[512];

	cr_assert_eq(sv_policy_load(DEFAULT_POLICY, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(ctx = seccomp_init(SCMP_ACT_NOTIFY));
	cr_assert_eq(sv_policy_add_rules(p, ctx, NULL, 0, err, sizeof(err)), 0, "%s", err);
	seccomp_release(ctx);
	cr_assert(sv_policy_mentions(p, SYS_read));
	cr_assert(sv_policy_mentions(p, SYS_write));
	cr_assert(sv_policy_mentions(p, SYS_exit_group));
	cr_assert_not(sv_policy_mentions(p, SYS_openat));
	cr_assert_not(sv_policy_mentions(p, SYS_open));
	cr_assert_not(sv_policy_mentions(p, SYS_socket));
	cr_assert_not(sv_policy_mentions(p, SYS_execve));
	cr_assert_not(sv_policy_mentions(p, SYS_clone));
	cr_assert_not(sv_policy_mentions(p, SYS_ioctl));
	sv_policy_free(p);
}

/* Runs @fn under default.policy with a kill default, the strictest reading of it. */
static int
run_default(void (*fn)(void))
{
	int status;
	pid_t pid;

	fflush(NULL);
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		struct sv_policy *p = NULL;
		scmp_filter_ctx ctx;
		char err[512];

		if (sv_policy_load(DEFAULT_POLICY, &p, err, sizeof(err)) < 0 ||
		    !(ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) ||
		    sv_policy_add_rules(p, ctx, NULL, 0, err, sizeof(err)) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(200);
		fn();
		leave(203);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* What a plain C plugin does: allocate, grow, print to stdout and stderr, and leave. */
static void
plain_c_work(void)
{
	char *big, *small = malloc(100);

	if (!small || !(big = malloc(1 << 20)))
		leave(1);
	if (!(big = realloc(big, 4 << 20)))
		leave(2);
	memset(big, 'x', 4 << 20);
	free(big);
	strcpy(small, "hello");
	printf("%s from the sandbox\n", small);
	fprintf(stderr, "%s", "");
	free(small);
	if (fflush(stdout) != 0)
		leave(3);
	leave(0);
}

Test(shipped, default_policy_runs_malloc_and_stdio)
{
	char buf[128] = { 0 };
	int fds[2], status, saved;

	cr_assert_eq(pipe(fds), 0);
	saved = dup(1);
	cr_assert_eq(dup2(fds[1], 1), 1);
	status = run_default(plain_c_work);
	cr_assert_eq(dup2(saved, 1), 1);
	close(fds[1]);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	cr_assert_gt(read(fds[0], buf, sizeof(buf) - 1), 0);
	cr_assert_str_eq(buf, "hello from the sandbox\n");
	close(fds[0]);
}

/* Each try_* is an escape a plugin might attempt; under default.policy each must die. */
static void
try_open(void)
{
	report(syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY));
}

static void
try_socket(void)
{
	report(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
}

static void
try_fork(void)
{
	report(fork());
}

static void
try_exec(void)
{
	char *argv[] = { "/bin/true", NULL };

	report(execve(argv[0], argv, NULL));
}

static void
try_mmap_exec(void)
{
	report(mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
	       MAP_FAILED ? -1 : 0);
}

static void
try_write_fd_5(void)
{
	report(syscall(SYS_write, 5, "x", 1));
}

/* Asserts that @fn was killed by the filter (SIGSYS). */
static void
assert_killed(void (*fn)(void), const char *what)
{
	int status = run_default(fn);

	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "%s: status %#x", what,
		  status);
}

Test(shipped, default_policy_stops_open_socket_fork_exec_and_exec_memory)
{
	int status = run_default(call_getpid);

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "control: status %#x", status);
	status = run_default(call_mmap_rw);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "control: status %#x", status);
	assert_killed(try_open, "openat");
	assert_killed(try_socket, "socket");
	assert_killed(try_fork, "fork");
	assert_killed(try_exec, "execve");
	assert_killed(try_mmap_exec, "mmap PROT_EXEC");
	assert_killed(try_write_fd_5, "write to fd 5");
}

/* Describes syscall @nr with @args and compares the text to @want plus " [nr]". */
static void
assert_describes(int nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, const char *want)
{
	uint64_t args[6] = { a0, a1, a2, a3, 0, 0 };
	char buf[256], full[256];

	snprintf(full, sizeof(full), "%s [%d]", want, nr);
	sv_policy_describe_call(nr, args, buf, sizeof(buf));
	cr_assert_str_eq(buf, full);
}

Test(describe, decodes_socket_arguments)
{
	assert_describes(SYS_socket, AF_INET, SOCK_STREAM, 0, 0, "socket(AF_INET, SOCK_STREAM, 0)");
	assert_describes(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0,
			 "socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC, 0)");
	assert_describes(SYS_socket, 9999, 12, 6, 0, "socket(9999, 12, 6)");
}

Test(describe, decodes_openat_without_reading_the_path)
{
	/* 0x1 as the path pointer: following it would crash this test. */
	assert_describes(SYS_openat, (uint64_t)(int64_t)AT_FDCWD, 1, O_RDONLY, 0,
			 "openat(AT_FDCWD, \"...\", O_RDONLY)");
	assert_describes(SYS_openat, 5, 1, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644,
			 "openat(5, \"...\", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644)");
}

Test(describe, decodes_clone_flags_and_exit_signal)
{
	assert_describes(SYS_clone, CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | SIGCHLD, 0, 0, 0,
			 "clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, ...)");
}

Test(describe, decodes_kill_signals)
{
	assert_describes(SYS_kill, 1, SIGKILL, 0, 0, "kill(1, SIGKILL)");
	assert_describes(SYS_kill, (uint64_t)-1, 0, 0, 0, "kill(-1, 0)");
	assert_describes(SYS_tgkill, 10, 11, SIGABRT, 0, "tgkill(10, 11, SIGABRT)");
}

Test(describe, prints_other_calls_in_hex)
{
	assert_describes(SYS_mkdir, 0x7ffd0000, 0755, 0, 0, "mkdir(0x7ffd0000, 0x1ed, 0x0, ...)");
	assert_describes(SYS_fork, 0, 0, 0, 0, "fork()");
	assert_describes(99999, 1, 2, 3, 0, "unknown(0x1, 0x2, 0x3, ...)");
}

Test(describe, cuts_the_text_at_the_buffer_end)
{
	uint64_t args[6] = { AF_INET, SOCK_STREAM, 0, 0, 0, 0 };
	char buf[12];

	memset(buf, '#', sizeof(buf));
	sv_policy_describe_call(SYS_socket, args, buf, 8);
	cr_assert_str_eq(buf, "socket(");
	cr_assert_eq(buf[8], '#');
}
