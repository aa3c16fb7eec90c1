/*
 * compile.c - turns a parsed policy into libseccomp rules.
 *
 * Each alternative of a rule becomes one seccomp_rule_add_array() call, so || and "in"
 * are several libseccomp rules with the same action, and && is several comparators in
 * one. libseccomp generates the BPF; nothing here writes any. The caller owns the filter:
 * its default action and its architecture handling are set before the rules come in.
 */
#include "policy/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Whether the caller asked to leave syscall @nr out (it adds its own rule for it). */
static int
skipped(int nr, const int *skip, size_t nskip)
{
	size_t i;

	for (i = 0; i < nskip; i++) {
		if (skip[i] == nr)
			return 1;
	}
	return 0;
}

/*
 * The sandbox compiles one policy into filters with different defaults; the rules go in
 * here, and only the rules.
 */
int
sv_policy_add_rules(const struct sv_policy *p, scmp_filter_ctx ctx, const int *skip,
		    size_t nskip, char *err, size_t errlen)
{
	uint32_t def = 0;
	size_t i, j;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if ((r = seccomp_attr_get(ctx, SCMP_FLTATR_ACT_DEFAULT, &def)) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot read the filter's default action: %s",
				 p->path, strerror(-r));
		goto out;
	}
	for (i = 0; i < p->nrule; i++) {
		const struct sv_rule *rule = &p->rule[i];

		if (skipped(rule->nr, skip, nskip))
			continue;
		/*
		 * A rule that repeats the default action changes nothing the filter does,
		 * and libseccomp refuses it (-EACCES); "kill" lines under a kill default
		 * (the load phase) are such rules.
		 */
		if (rule->action == def)
			continue;
		for (j = 0; j < rule->nalt; j++) {
			const struct sv_alt *a = &rule->alt[j];

			r = seccomp_rule_add_array(ctx, rule->action, rule->nr, a->ncmp, a->cmp);
			if (r < 0) {
				if (err && errlen)
					snprintf(err, errlen, "%s:%u: libseccomp cannot add the "
						 "rule for '%s': %s", rule->file, rule->line,
						 rule->name, strerror(-r));
				goto out;
			}
		}
	}
	r = 0;
out:
	return r;
}

/* The sandbox asks this before it adds its own rule for a syscall the policy may also rule. */
int
sv_policy_mentions(const struct sv_policy *p, int nr)
{
	size_t i;

	for (i = 0; i < p->nrule; i++) {
		if (p->rule[i].nr == nr)
			return 1;
	}
	return 0;
}

/* The violation report points the operator at the line that ruled on a denied call. */
int
sv_policy_locate(const struct sv_policy *p, int nr, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < p->nrule; i++) {
		if (p->rule[i].nr == nr) {
			snprintf(buf, len, "%s:%u", p->rule[i].file, p->rule[i].line);
			return 1;
		}
	}
	if (len)
		buf[0] = '\0';
	return 0;
}
