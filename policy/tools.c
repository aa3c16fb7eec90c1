/*
 * tools.c - what a security reviewer asks of a policy: what does it permit (explain),
 * what in it is dangerous (lint), what does the kernel get (the PFC export), and what
 * does one policy permit that another does not (diff, and the ceiling check).
 *
 * Comparing policies is done on the parsed rules, conservatively: a rule counts as
 * within another only when each of its alternatives is implied comparator by comparator.
 * A narrower policy written differently may be reported as wider; a wider one is never
 * reported as narrower.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "policy/internal.h"

/* Where a rule that can never fire, or a dangerous one, is told apart from others. */
#define LINT_ALLOW "lint: allow"

/* Whether @r lets the call run (allow, or log, which allows and records it). */
static int
permits(const struct sv_rule *r)
{
	return r->action == SCMP_ACT_ALLOW || r->action == SCMP_ACT_LOG;
}

/* The action of @r as a reviewer reads it. */
static const char *
action_text(const struct sv_rule *r, char *buf, size_t len)
{
	if (r->action == SCMP_ACT_ALLOW)
		return "allow";
	if (r->action == SCMP_ACT_LOG)
		return "log (learn)";
	if (r->action == SCMP_ACT_KILL_PROCESS)
		return "kill";
	snprintf(buf, len, "errno %u (%s)", r->action & 0xffffu,
		 strerrorname_np((int)(r->action & 0xffffu)));
	return buf;
}

/* The condition part of a rule's text: what follows "name:". */
static const char *
condition_text(const struct sv_rule *r)
{
	const char *c = strchr(r->text, ':');

	c = c ? c + 1 : r->text;
	while (*c == ' ' || *c == '\t')
		c++;
	return c;
}

void
sv_policy_explain(const struct sv_policy *p, FILE *out)
{
	size_t f, i, allowed = 0, conditional = 0;
	char abuf[64];

	fprintf(out, "%s: what a plugin may do once loaded; any other syscall is denied, "
		     "named and the plugin killed\n",
		p->path);
	for (f = 0; f < p->nfile; f++) {
		int header = 0;

		for (i = 0; i < p->nrule; i++) {
			const struct sv_rule *r = &p->rule[i];

			if (r->file != p->file[f])
				continue;
			if (!header) {
				fprintf(out, "\n== %s\n", p->file[f]);
				fprintf(out, "%-18s %-14s %-44s %s\n", "syscall", "action",
					"rule as written", "line: reason");
				header = 1;
			}
			fprintf(out, "%-18s %-14s %-44s %u: %s\n", r->name,
				action_text(r, abuf, sizeof(abuf)), condition_text(r), r->line,
				r->reason);
			if (permits(r)) {
				allowed++;
				if (r->alt[0].ncmp > 0 || r->nalt > 1)
					conditional++;
			}
		}
	}
	fprintf(out, "\n%zu syscalls permitted, %zu of them only under conditions\n", allowed,
		conditional);
}

/* Whether every alternative of @r constrains argument @arg with a masked test that
 * clears all of @bits (an open that can never write, a clone that must be a thread). */
static int
every_alt_masks(const struct sv_rule *r, unsigned int arg, uint64_t bits, uint64_t want)
{
	size_t a;
	unsigned int c;

	for (a = 0; a < r->nalt; a++) {
		int ok = 0;

		for (c = 0; c < r->alt[a].ncmp; c++) {
			const struct scmp_arg_cmp *k = &r->alt[a].cmp[c];

			if (k->arg == arg && k->op == SCMP_CMP_MASKED_EQ &&
			    (k->datum_a & bits) == bits && (k->datum_b & bits) == want)
				ok = 1;
		}
		if (!ok)
			return 0;
	}
	return 1;
}

/* Whether every alternative of @r pins argument @arg to @value. */
static int
every_alt_pins(const struct sv_rule *r, unsigned int arg, uint64_t value)
{
	size_t a;
	unsigned int c;

	for (a = 0; a < r->nalt; a++) {
		int ok = 0;

		for (c = 0; c < r->alt[a].ncmp; c++) {
			const struct scmp_arg_cmp *k = &r->alt[a].cmp[c];

			if (k->arg == arg && k->op == SCMP_CMP_EQ && k->datum_a == value)
				ok = 1;
		}
		if (!ok)
			return 0;
	}
	return 1;
}

/* Whether @r has any argument condition at all. */
static int
is_filtered(const struct sv_rule *r)
{
	size_t a;

	for (a = 0; a < r->nalt; a++)
		if (r->alt[a].ncmp == 0)
			return 0;
	return 1;
}

/* Syscalls no plugin policy should allow without a reviewer's explicit word. */
static const char *const always_dangerous[] = {
	"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "execve",
	"execveat", "fork", "vfork", "clone3", "ptrace", "process_vm_readv", "process_vm_writev",
	"tgkill", "tkill", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
	"fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr", "bpf", "perf_event_open",
	"io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "keyctl",
	"add_key", "request_key", "init_module", "finit_module", "delete_module", "kexec_load",
	"kexec_file_load", "unshare", "setns", "personality", "memfd_create", "seccomp", "creat",
	"openat2", "open_by_handle_at", "name_to_handle_at", "reboot", "swapon", "swapoff",
	"acct", "quotactl", "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "setuid",
	"setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "capset",
	"rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "unlink",
	"unlinkat", "mkdir", "mkdirat", "rmdir", "truncate", "chmod", "fchmodat", "chown",
	"lchown", "fchownat", "mknod", "mknodat", "sendfile", "splice",
};

/* Why @r is dangerous as written, or NULL when it is not. */
static const char *
danger(const struct sv_rule *r)
{
	static const uint64_t write_bits = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
	size_t i;

	if (!permits(r))
		return NULL;
	for (i = 0; i < sizeof(always_dangerous) / sizeof(always_dangerous[0]); i++)
		if (strcmp(r->name, always_dangerous[i]) == 0)
			return "reaches outside the sandbox or changes privileges";
	if (strcmp(r->name, "open") == 0 && !every_alt_masks(r, 1, write_bits, 0))
		return "may open for writing (test arg1 & (O_ACCMODE|O_CREAT|O_TRUNC|O_APPEND) == 0)";
	if (strcmp(r->name, "openat") == 0 && !every_alt_masks(r, 2, write_bits, 0))
		return "may open for writing (test arg2 & (O_ACCMODE|O_CREAT|O_TRUNC|O_APPEND) == 0)";
	if (strcmp(r->name, "clone") == 0 && !every_alt_masks(r, 0, CLONE_THREAD, CLONE_THREAD))
		return "may create a process, not only a thread (require CLONE_THREAD)";
	if (strcmp(r->name, "kill") == 0 && !every_alt_pins(r, 0, 0))
		return "may signal other processes (pin arg0 == 0)";
	if ((strcmp(r->name, "prctl") == 0 || strcmp(r->name, "ioctl") == 0 ||
	     strcmp(r->name, "fcntl") == 0) &&
	    !is_filtered(r))
		return "is allowed without an argument filter";
	return NULL;
}

/* Why alternative @k of a rule can never hold, or NULL. */
static const char *
never_holds(const struct scmp_arg_cmp *k)
{
	if (k->op == SCMP_CMP_LT && k->datum_a == 0)
		return "an argument is never below 0 (the comparison is unsigned)";
	if (k->op == SCMP_CMP_GT && k->datum_a == UINT64_MAX)
		return "an argument is never above 0xffffffffffffffff";
	if (k->op == SCMP_CMP_MASKED_EQ && (k->datum_b & ~k->datum_a) != 0)
		return "the masked test wants bits outside its mask";
	return NULL;
}

size_t
sv_policy_lint(const struct sv_policy *p, FILE *out)
{
	size_t i, a, n = 0;
	unsigned int c;
	const char *why;

	for (i = 0; i < p->nrule; i++) {
		const struct sv_rule *r = &p->rule[i];

		if ((why = danger(r)) != NULL &&
		    strncmp(r->reason, LINT_ALLOW, strlen(LINT_ALLOW)) != 0) {
			fprintf(out, "%s:%u: '%s' %s; justify it with '# %s <why>' or remove it\n",
				r->file, r->line, r->name, why, LINT_ALLOW);
			n++;
		}
		for (a = 0; a < r->nalt; a++) {
			for (c = 0; c < r->alt[a].ncmp; c++) {
				if ((why = never_holds(&r->alt[a].cmp[c])) != NULL) {
					fprintf(out, "%s:%u: a condition of '%s' can never hold: %s\n",
						r->file, r->line, r->name, why);
					n++;
				}
			}
		}
	}
	return n;
}

int
sv_policy_export_pfc(const struct sv_policy *p, int fd, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int r;

	/* The final filter exactly as the sandbox builds it. */
	if ((ctx = seccomp_init(SCMP_ACT_NOTIFY)) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -ENOMEM;
	}
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0) {
		snprintf(err, errlen, "cannot set the bad-architecture action: %s", strerror(-r));
		goto out;
	}
	if ((r = sv_policy_add_rules(p, ctx, NULL, 0, err, errlen)) < 0)
		goto out;
	if ((r = seccomp_export_pfc(ctx, fd)) < 0)
		snprintf(err, errlen, "seccomp_export_pfc: %s", strerror(-r));
out:
	seccomp_release(ctx);
	return r;
}

/* Whether comparator @p (of a narrower rule) guarantees comparator @c. */
static int
cmp_implies(const struct scmp_arg_cmp *p, const struct scmp_arg_cmp *c)
{
	uint64_t v = p->datum_a;

	if (p->arg != c->arg)
		return 0;
	if (p->op == c->op && p->datum_a == c->datum_a && p->datum_b == c->datum_b)
		return 1;
	if (p->op != SCMP_CMP_EQ)
		return 0;
	switch (c->op) {
	case SCMP_CMP_NE:
		return v != c->datum_a;
	case SCMP_CMP_LT:
		return v < c->datum_a;
	case SCMP_CMP_LE:
		return v <= c->datum_a;
	case SCMP_CMP_GT:
		return v > c->datum_a;
	case SCMP_CMP_GE:
		return v >= c->datum_a;
	case SCMP_CMP_MASKED_EQ:
		return (v & c->datum_a) == c->datum_b;
	case SCMP_CMP_EQ:
	case _SCMP_CMP_MIN:
	case _SCMP_CMP_MAX:
	default:
		return 0;
	}
}

/* Whether every comparator of @c is guaranteed by one of @p. */
static int
alt_implies(const struct sv_alt *p, const struct sv_alt *c)
{
	unsigned int i, j;

	for (i = 0; i < c->ncmp; i++) {
		int ok = 0;

		for (j = 0; j < p->ncmp && !ok; j++)
			ok = cmp_implies(&p->cmp[j], &c->cmp[i]);
		if (!ok)
			return 0;
	}
	return 1;
}

/* The rule of @p for syscall @nr, or NULL. */
static const struct sv_rule *
find_rule(const struct sv_policy *p, int nr)
{
	size_t i;

	for (i = 0; i < p->nrule; i++)
		if (p->rule[i].nr == nr)
			return &p->rule[i];
	return NULL;
}

/* Whether rule @r permits anything policy @c does not. */
static int
rule_exceeds(const struct sv_rule *r, const struct sv_policy *c)
{
	const struct sv_rule *k;
	size_t a, b;

	if (!permits(r))
		return 0;
	if ((k = find_rule(c, r->nr)) == NULL || !permits(k))
		return 1;
	for (a = 0; a < r->nalt; a++) {
		int covered = 0;

		for (b = 0; b < k->nalt && !covered; b++)
			covered = alt_implies(&r->alt[a], &k->alt[b]);
		if (!covered)
			return 1;
	}
	return 0;
}

int
sv_policy_rule_exceeds(const struct sv_policy *p, size_t i, const struct sv_policy *ceiling)
{
	return rule_exceeds(&p->rule[i], ceiling);
}

size_t
sv_policy_exceeds(const struct sv_policy *p, const struct sv_policy *ceiling, FILE *out)
{
	size_t i, n = 0;

	for (i = 0; i < p->nrule; i++) {
		const struct sv_rule *r = &p->rule[i];
		const struct sv_rule *k;

		if (!rule_exceeds(r, ceiling))
			continue;
		n++;
		if (out == NULL)
			continue;
		k = find_rule(ceiling, r->nr);
		fprintf(out, "  %s:%u permits %s, beyond %s\n", r->file, r->line, r->text,
			k ? k->text : "anything the ceiling allows (it has no rule for it)");
	}
	return n;
}

/* Denials that differ only in how they deny (errno or kill) change no permission. */
size_t
sv_policy_diff(const struct sv_policy *a, const struct sv_policy *b, FILE *out)
{
	size_t i, n = 0;

	for (i = 0; i < b->nrule; i++) {
		const struct sv_rule *r = &b->rule[i];

		if (rule_exceeds(r, a)) {
			fprintf(out, "+ %s:%u: %s\n", r->file, r->line, r->text);
			n++;
		}
	}
	for (i = 0; i < a->nrule; i++) {
		const struct sv_rule *r = &a->rule[i];

		if (rule_exceeds(r, b)) {
			fprintf(out, "- %s:%u: %s\n", r->file, r->line, r->text);
			n++;
		}
	}
	return n;
}

size_t
sv_policy_nrules(const struct sv_policy *p)
{
	return p->nrule;
}

void
sv_policy_rule(const struct sv_policy *p, size_t i, struct sv_policy_rule_info *out)
{
	const struct sv_rule *r = &p->rule[i];

	out->nr = r->nr;
	out->name = r->name;
	out->text = r->text;
	out->reason = r->reason;
	out->file = r->file;
	out->line = r->line;
	out->allows = permits(r);
	out->logs = r->action == SCMP_ACT_LOG;
	out->unconditional = permits(r) && !is_filtered(r);
}
