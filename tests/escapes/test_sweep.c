/*
 * test_sweep.c - the syscall sweep: for every syscall number of the native architecture,
 * a plugin makes that one call under policies/default.policy, and the outcome must be
 * what the policy says: no rule, the plugin is killed and the number named; a "return
 * ERRNO" rule, the call fails with that errno; an allow rule, made with arguments that
 * satisfy it, the call goes through. Every number, not a sample.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"
#include "tests/integ/harness.h"

TestSuite(sweep, .init = it_setup, .fini = it_teardown, .timeout = 1200);

/* Arguments that satisfy the first alternative of @r. */
static void
satisfying_args(const struct sv_rule *r, uint64_t a[6])
{
	unsigned int c;

	memset(a, 0, 6 * sizeof(a[0]));
	for (c = 0; r && c < r->alt[0].ncmp; c++) {
		const struct scmp_arg_cmp *k = &r->alt[0].cmp[c];

		if (k->op == SCMP_CMP_EQ || k->op == SCMP_CMP_LE || k->op == SCMP_CMP_GE)
			a[k->arg] = k->datum_a;
		else if (k->op == SCMP_CMP_NE || k->op == SCMP_CMP_GT)
			a[k->arg] = k->datum_a + 1;
		else if (k->op == SCMP_CMP_LT)
			a[k->arg] = k->datum_a - 1;
		else if (k->op == SCMP_CMP_MASKED_EQ)
			a[k->arg] = (a[k->arg] & ~k->datum_a) | k->datum_b;
	}
}

/* The rule of @p for @nr, or NULL. */
static const struct sv_rule *
rule_for(const struct sv_policy *p, int nr)
{
	size_t i;

	for (i = 0; i < p->nrule; i++)
		if (p->rule[i].nr == nr)
			return &p->rule[i];
	return NULL;
}

Test(sweep, every_syscall_number_gets_what_the_default_policy_says)
{
	struct sv_policy *p = NULL;
	char err[512], sql[512], text[128];
	int nr, max = 0, checked = 0, denied = 0, allowed = 0, errnos = 0;

	cr_assert_eq(sv_policy_load(SOURCE_DIR "/policies/default.policy", &p, err, sizeof(err)),
		     0, "%s", err);
	for (nr = 0; nr < 1024; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name != NULL)
			max = nr;
		free(name);
	}
	it_init_db();
	it_sql("CREATE TABLE plugin_sweep_call(nr, a0, a1, a2, a3, a4, a5)");
	it_sql("INSERT INTO plugin_sweep_call VALUES (0, 0, 0, 0, 0, 0, 0)");
	for (nr = 0; nr <= max; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		const struct sv_rule *r;
		uint64_t a[6];
		struct it_run run;

		if (name == NULL)
			continue;
		r = rule_for(p, nr);
		satisfying_args(r, a);
		snprintf(sql, sizeof(sql),
			 "UPDATE plugin_sweep_call SET nr = %d, a0 = '%" PRIu64 "', a1 = '%" PRIu64
			 "', a2 = '%" PRIu64 "', a3 = '%" PRIu64 "', a4 = '%" PRIu64
			 "', a5 = '%" PRIu64 "'",
			 nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		it_sql(sql);
		run = it_run_plugin("sweep");
		if (r == NULL) {
			snprintf(text, sizeof(text), "[%d] denied by", nr);
			cr_expect_eq(run.status, 128, "%s [%d] was not killed:\n%s", name, nr,
				     run.err);
			cr_expect_not_null(strstr(run.err, text), "%s [%d] not named:\n%s", name,
					   nr, run.err);
			denied++;
		} else if (r->action == SCMP_ACT_ALLOW) {
			/* exit and exit_group end it with 0, rt_sigreturn with SIGSEGV: all ran. */
			cr_expect_neq(run.status, 128, "%s [%d] is allowed but was killed:\n%s",
				      name, nr, run.err);
			cr_expect_null(strstr(run.err, "denied by"), "%s [%d]:\n%s", name, nr,
				       run.err);
			allowed++;
		} else {
			snprintf(text, sizeof(text), "survived [%d]: returned -1, errno %u", nr,
				 r->action & 0xffffu);
			cr_expect(it_has_log(run.err, "sweep", text), "%s [%d]:\n%s", name, nr,
				  run.err);
			errnos++;
		}
		it_run_free(&run);
		free(name);
		checked++;
	}
	printf("syscall sweep: checked %d syscall numbers (0..%d): %d killed and named, %d "
	       "allowed, %d failed with the policy's errno\n",
	       checked, max, denied, allowed, errnos);
	cr_assert_geq(checked, 300);
	cr_assert_geq(allowed, 10, "the positive controls did not run");
	sv_policy_free(p);
	/* The broker is healthy after all of it. */
	it_assert_benign_runs();
}
