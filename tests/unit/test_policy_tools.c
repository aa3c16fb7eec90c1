/*
 * test_policy_tools.c - the reviewer's tools: lint passes every shipped policy and
 * catches each kind of dangerous rule (with a justified twin beside it that passes),
 * diff and the ceiling see widening and only widening, and the proof that explain's
 * text is what the kernel enforces, syscall number by syscall number.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/internal.h"

/* An errno no syscall returns here on its own: it marks "denied by default". */
#define MARKER ENOTRECOVERABLE

static struct sv_policy *
parse(const char *text)
{
	struct sv_policy *p = NULL;
	char err[512];

	cr_assert_eq(sv_policy_parse("t.policy", text, &p, err, sizeof(err)), 0, "%s", err);
	return p;
}

/* Lints @text and returns the findings as one string (the caller frees it). */
static char *
lint(const char *text, size_t *n)
{
	struct sv_policy *p = parse(text);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*n = sv_policy_lint(p, f);
	fclose(f);
	sv_policy_free(p);
	return buf;
}

/* Asserts @bad lints with a finding naming @what and @good (its justified or narrowed twin) lints clean. */
static void
assert_lint_pair(const char *bad, const char *good, const char *what)
{
	size_t n;
	char *out = lint(bad, &n);

	cr_assert_geq(n, 1, "no finding for: %s", bad);
	cr_assert_not_null(strstr(out, what), "finding does not name %s: %s", what, out);
	free(out);
	out = lint(good, &n);
	cr_assert_eq(n, 0, "finding for the acceptable form %s: %s", good, out);
	free(out);
}

Test(policy_tools, lint_flags_socket_unless_justified)
{
	assert_lint_pair("socket: 1 # talks to the metrics agent\n",
			 "socket: 1 # lint: allow the metrics agent, reviewed in SEC-12\n", "socket");
}

Test(policy_tools, lint_flags_openat_that_can_write)
{
	assert_lint_pair("openat: 1 # config files\n",
			 "openat: arg2 & O_ACCMODE|O_CREAT|O_TRUNC|O_APPEND == 0 # read-only opens\n",
			 "may open for writing");
}

Test(policy_tools, lint_flags_clone_that_can_fork)
{
	assert_lint_pair("clone: 1 # threads\n",
			 "clone: arg0 & CLONE_THREAD == CLONE_THREAD # threads only\n",
			 "not only a thread");
}

Test(policy_tools, lint_flags_kill_of_other_processes)
{
	assert_lint_pair("kill: 1 # signals\n", "kill: arg0 == 0 # its own process group\n",
			 "other processes");
}

Test(policy_tools, lint_flags_ioctl_without_a_filter)
{
	assert_lint_pair("ioctl: 1 # terminal size\n", "ioctl: arg0 == 1 # terminal size of stdout\n",
			 "without an argument filter");
}

Test(policy_tools, lint_flags_a_condition_that_can_never_hold)
{
	assert_lint_pair("read: arg0 < 0 # never\n", "read: arg0 < 3 # stdio\n", "can never hold");
}

/* Lints every .policy file in @dir; returns the number of files read. */
static int
lint_dir(const char *dir, size_t *findings)
{
	struct sv_policy *p;
	struct dirent *e;
	char path[1024], err[512];
	int files = 0;
	DIR *d = opendir(dir);

	cr_assert_not_null(d, "%s", dir);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n < 8 || strcmp(e->d_name + n - 7, ".policy") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		cr_assert_eq(sv_policy_load(path, &p, err, sizeof(err)), 0, "%s", err);
		*findings += sv_policy_lint(p, stderr);
		sv_policy_free(p);
		files++;
	}
	closedir(d);
	return files;
}

Test(policy_tools, every_shipped_policy_lints_clean)
{
	size_t findings = 0;
	int files = lint_dir(SV_SOURCE_DIR "/policies", &findings) +
		    lint_dir(SV_SOURCE_DIR "/policies/groups", &findings);

	cr_assert_geq(files, 2, "only %d policy files found", files);
	cr_assert_eq(findings, 0, "%zu lint findings in the shipped policies (printed above)",
		     findings);
}

/* Counts the rules of @p wider than @reviewed whose reason does not justify them. */
static size_t
unjustified_widenings(const struct sv_policy *p, const struct sv_policy *reviewed)
{
	struct sv_policy_rule_info ri;
	size_t i, n = 0;

	for (i = 0; i < sv_policy_nrules(p); i++) {
		sv_policy_rule(p, i, &ri);
		if (sv_policy_rule_exceeds(p, i, reviewed) &&
		    strncmp(ri.reason, "lint: allow", 11) != 0) {
			fprintf(stderr, "%s:%u: '%s' permits more than policies/reviewed/ and does "
					"not say why ('# lint: allow <why>')\n",
				ri.file, ri.line, ri.text);
			n++;
		}
	}
	return n;
}

Test(policy_tools, shipped_policy_widens_nothing_beyond_the_review_unless_justified)
{
	struct sv_policy *shipped = NULL, *reviewed = NULL, *wider, *justified;
	char err[512];

	cr_assert_eq(sv_policy_load(SV_SOURCE_DIR "/policies/default.policy", &shipped, err,
				    sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(sv_policy_load(SV_SOURCE_DIR "/policies/reviewed/default.policy", &reviewed,
				    err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(unjustified_widenings(shipped, reviewed), 0,
		     "the shipped policy widens the reviewed one (printed above)");
	/* Controls: a silent widening is caught, a justified one passes. */
	wider = parse("brk: 1 # heap\ngetppid: 1 # parent\n");
	justified = parse("brk: 1 # heap\ngetppid: 1 # lint: allow the parent's pid, SEC-40\n");
	cr_assert_eq(unjustified_widenings(wider, reviewed), 1);
	cr_assert_eq(unjustified_widenings(justified, reviewed), 0);
	sv_policy_free(wider);
	sv_policy_free(justified);
	sv_policy_free(shipped);
	sv_policy_free(reviewed);
}

Test(policy_tools, log_rules_parse_and_count_as_permissions)
{
	struct sv_policy *p = parse("getppid: log # learning what it needs\n");
	struct sv_policy *none = parse("brk: 1 # heap\n");
	struct sv_policy_rule_info ri;

	sv_policy_rule(p, 0, &ri);
	cr_assert(ri.logs && ri.allows);
	cr_assert_eq(sv_policy_exceeds(p, none, NULL), 1, "a log rule widens like an allow");
	sv_policy_free(p);
	sv_policy_free(none);
}

Test(policy_tools, diff_of_a_policy_with_itself_is_empty_and_sees_a_widening)
{
	struct sv_policy *a = parse("read: arg0 == 3 # channel\nbrk: 1 # heap\n");
	struct sv_policy *same = parse("brk: 1 # heap, in another order\nread: arg0 == 3 # ch\n");
	struct sv_policy *wider = parse("read: 1 # any fd\nbrk: 1 # heap\n");
	FILE *null = fopen("/dev/null", "w");

	cr_assert_eq(sv_policy_diff(a, same, null), 0);
	cr_assert_eq(sv_policy_diff(a, wider, null), 1, "the wider read is not seen");
	cr_assert_eq(sv_policy_exceeds(wider, a, NULL), 1);
	cr_assert_eq(sv_policy_exceeds(a, wider, NULL), 0, "a narrower policy exceeds a wider one");
	fclose(null);
	sv_policy_free(a);
	sv_policy_free(same);
	sv_policy_free(wider);
}

Test(policy_tools, ceiling_accepts_implied_conditions_and_refuses_new_syscalls)
{
	struct sv_policy *ceiling = parse("write: arg0 >= 1 # stdio and up\nbrk: 1 # heap\n");
	struct sv_policy *narrow = parse("write: arg0 == 2 # stderr\n");
	struct sv_policy *errno_only = parse("socket: return EACCES\n");
	struct sv_policy *wide = parse("write: arg0 == 2 # stderr\ngetppid: 1 # parent\n");

	cr_assert_eq(sv_policy_exceeds(narrow, ceiling, NULL), 0);
	cr_assert_eq(sv_policy_exceeds(errno_only, ceiling, NULL), 0, "a denial is no widening");
	cr_assert_eq(sv_policy_exceeds(wide, ceiling, NULL), 1);
	sv_policy_free(ceiling);
	sv_policy_free(narrow);
	sv_policy_free(errno_only);
	sv_policy_free(wide);
}

/* Arguments that satisfy the first alternative of @r, so an allowed call is allowed. */
static void
satisfying_args(const struct sv_rule *r, uint64_t a[6])
{
	unsigned int c;

	memset(a, 0, 6 * sizeof(a[0]));
	for (c = 0; c < r->alt[0].ncmp; c++) {
		const struct scmp_arg_cmp *k = &r->alt[0].cmp[c];

		switch (k->op) {
		case SCMP_CMP_EQ:
		case SCMP_CMP_LE:
		case SCMP_CMP_GE:
			a[k->arg] = k->datum_a;
			break;
		case SCMP_CMP_NE:
		case SCMP_CMP_GT:
			a[k->arg] = k->datum_a + 1;
			break;
		case SCMP_CMP_LT:
			a[k->arg] = k->datum_a - 1;
			break;
		case SCMP_CMP_MASKED_EQ:
			a[k->arg] = (a[k->arg] & ~k->datum_a) | k->datum_b;
			break;
		case _SCMP_CMP_MIN:
		case _SCMP_CMP_MAX:
		default:
			break;
		}
	}
}

enum outcome { DENIED_BY_DEFAULT, FAILED_WITH_RULE_ERRNO, KILLED, REACHED_THE_KERNEL };

/* Makes syscall @nr with @a under @p's filter in a child and says what happened. */
static enum outcome
try_call(const struct sv_policy *p, int nr, const uint64_t a[6], int rule_errno)
{
	char err[512];
	scmp_filter_ctx ctx;
	int status;
	pid_t pid;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		long r;

		if ((ctx = seccomp_init(SCMP_ACT_ERRNO(MARKER))) == NULL ||
		    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
		    sv_policy_add_rules(p, ctx, NULL, 0, err, sizeof(err)) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(100);
		/* The verdict leaves through the exit status: exit_group is always allowed. */
		r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		if (r == -1 && errno == MARKER)
			_exit(10);
		if (r == -1 && rule_errno && errno == rule_errno)
			_exit(11);
		_exit(12);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(!WIFEXITED(status) || WEXITSTATUS(status) != 100, "set-up failed in the child");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 10)
		return DENIED_BY_DEFAULT;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 11)
		return FAILED_WITH_RULE_ERRNO;
	/* exit, exit_group and rt_sigreturn end the child another way: they reached the kernel. */
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS ? KILLED : REACHED_THE_KERNEL;
}

Test(policy_tools, explain_matches_what_the_kernel_enforces_for_every_syscall, .timeout = 120)
{
	struct sv_policy *p = NULL;
	char err[512];
	int nr, max = 0, checked = 0, allowed = 0;

	cr_assert_eq(sv_policy_load(SV_SOURCE_DIR "/policies/default.policy", &p, err,
				    sizeof(err)),
		     0, "%s", err);
	for (nr = 0; nr < 1024; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name != NULL)
			max = nr;
		free(name);
	}
	for (nr = 0; nr <= max; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		const struct sv_rule *r = NULL;
		uint64_t a[6] = {0};
		enum outcome want, got;
		size_t i;

		if (name == NULL)
			continue;
		for (i = 0; i < p->nrule; i++)
			if (p->rule[i].nr == nr)
				r = &p->rule[i];
		want = DENIED_BY_DEFAULT;
		if (r && r->action == SCMP_ACT_ALLOW)
			want = REACHED_THE_KERNEL;
		else if (r && r->action == SCMP_ACT_KILL_PROCESS)
			want = KILLED;
		else if (r)
			want = FAILED_WITH_RULE_ERRNO;
		if (r)
			satisfying_args(r, a);
		got = try_call(p, nr, a, r && want == FAILED_WITH_RULE_ERRNO ?
						  (int)(r->action & 0xffff) :
						  0);
		cr_expect_eq(got, want, "%s [%d]: the policy text says %d, the kernel did %d",
			     name, nr, want, got);
		allowed += got == REACHED_THE_KERNEL;
		checked++;
		free(name);
	}
	cr_log_info("checked %d syscall numbers (0..%d), %d reached the kernel", checked, max,
		    allowed);
	printf("explain vs kernel: checked %d syscall numbers, %d allowed\n", checked, allowed);
	cr_assert_geq(checked, 300);
	sv_policy_free(p);
}
