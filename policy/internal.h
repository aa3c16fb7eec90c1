/*
 * internal.h - what the policy parser, compiler and name tables share; private to policy/.
 *
 * A parsed policy is a list of rules, one per syscall. Each rule holds the alternatives its
 * condition expands to (|| and "in" make several), and each alternative is one libseccomp
 * rule: up to six argument comparators that must all hold.
 */
#ifndef SV_POLICY_INTERNAL_H
#define SV_POLICY_INTERNAL_H

#include "policy/policy.h"

/* The most libseccomp rules one policy line may expand to. */
#define SV_POLICY_MAX_ALTS 64

/* One libseccomp rule: every comparator must hold (an empty list always holds). */
struct sv_alt {
	unsigned int ncmp;
	struct scmp_arg_cmp cmp[6];
};

struct sv_rule {
	int nr;			/* native syscall number */
	char *name;		/* syscall name as written */
	uint32_t action;	/* SCMP_ACT_ALLOW, SCMP_ACT_ERRNO(e) or SCMP_ACT_KILL_PROCESS */
	const char *file;	/* owned by the policy's file list */
	unsigned int line;
	char *text;		/* the rule as written, before its '#' */
	char *reason;		/* the text after '#', trimmed; "" when there is none */
	size_t nalt;
	struct sv_alt *alt;
};

struct sv_policy {
	char *path;		/* as given to sv_policy_load() or sv_policy_parse() */
	struct sv_rule *rule;
	size_t nrule;
	size_t caprule;
	char **file;		/* every file read, for the rules' locations */
	size_t nfile;
};

/* Looks up a named constant (PROT_EXEC, O_CLOEXEC, ...). Returns 0 or -ENOENT. */
int sv_policy_constant(const char *name, size_t len, uint64_t *out);

/* Looks up an errno name (EPERM, ...). Returns the positive number or -ENOENT. */
int sv_policy_errno(const char *name, size_t len);

/* Whether allowing syscall @name needs a reason on its line. */
int sv_policy_dangerous(const char *name);

#endif
