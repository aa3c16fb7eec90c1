/*
 * policy.h - seccomp policies as plain text: parse, check and compile them.
 *
 * A policy file (grammar in policies/README.md) lists the syscalls a plugin may make,
 * one rule a line, each with a reason. The broker parses it, reports errors before
 * anything is forked and compiles it into the sandbox's two seccomp programs; the
 * sandboxed child loads those and never reads the file. Nothing here writes BPF by hand:
 * conditions become libseccomp argument comparators, or the compiler refuses the line.
 *
 * Pattern of use:
 *  1) sv_policy_load(path, &p, err, sizeof(err));
 *  2) sv_policy_filters(p, &bytes, &len, err, len), or seccomp_init(default action) and
 *     sv_policy_add_rules(p, ctx, skip, n, err, len) for a filter of one's own;
 *  3) sv_policy_free(p).
 */
#ifndef SV_POLICY_H
#define SV_POLICY_H

#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct sv_policy;

/*
 * Parses the policy file at @path, following @include lines, for the native architecture.
 * Returns 0 and a policy in *@out, or -errno with "file:line:column: message" in @err
 * (-ENOENT and -EACCES for an unreadable file, -EINVAL for any error in the text: an
 * unknown syscall, constant or operator, a duplicate or contradictory rule, a missing
 * reason on a dangerous syscall, an include cycle).
 */
int sv_policy_load(const char *path, struct sv_policy **out, char *err, size_t errlen);

/* Same as sv_policy_load() on text in memory; @name stands for the file in messages. */
int sv_policy_parse(const char *name, const char *text, struct sv_policy **out, char *err,
		    size_t errlen);

/* Frees @p; sv_policy_free(NULL) does nothing. */
void sv_policy_free(struct sv_policy *p);

/* The path the policy was loaded from, as given. */
const char *sv_policy_path(const struct sv_policy *p);

/*
 * Adds every rule of @p to @ctx, except rules for the @nskip syscall numbers in @skip.
 * Does not change the filter's default action. Returns 0, or -errno with
 * "file:line: message" in @err when libseccomp cannot express a rule.
 */
int sv_policy_add_rules(const struct sv_policy *p, scmp_filter_ctx ctx, const int *skip,
			size_t nskip, char *err, size_t errlen);

/* Whether @p has at least one rule for syscall number @nr. */
int sv_policy_mentions(const struct sv_policy *p, int nr);

/*
 * Writes "file:line" of the rule of @p for syscall @nr into @buf and returns 1, or
 * returns 0 (and an empty @buf) when no rule names it.
 */
int sv_policy_locate(const struct sv_policy *p, int nr, char *buf, size_t len);

/*
 * Writes into @buf a short description of a call the policy denied, for the violation
 * report: "socket(AF_INET, SOCK_STREAM, ...) [41]". Names the syscall and decodes the
 * first arguments of the common dangerous calls by their constants.
 */
void sv_policy_describe_call(int nr, const uint64_t args[6], char *buf, size_t len);

/* Prints what @p permits, grouped by file, each rule as written with its line and reason. */
void sv_policy_explain(const struct sv_policy *p, FILE *out);

/*
 * Prints "file:line: message" for each dangerous rule of @p that lacks a
 * "# lint: allow <why>" annotation and each condition that can never hold. Returns the
 * number of findings.
 */
size_t sv_policy_lint(const struct sv_policy *p, FILE *out);

/*
 * The two seccomp programs a plugin runs under, as the broker hands them to its sandbox:
 * this header, then @load_len and @final_len struct sock_filter instructions, in the
 * broker's byte order (the sandbox runs on the same machine).
 */
struct sv_policy_filters_header {
	uint32_t magic;		/* SV_POLICY_FILTERS_MAGIC */
	uint32_t load_len;	/* the load-phase program: the policy plus what dlopen needs */
	uint32_t final_len;	/* the final one: the policy, the rest notified to the broker */
};

#define SV_POLICY_FILTERS_MAGIC 0x46425653u	/* "SVBF" */

/*
 * Compiles both programs of @p (through libseccomp: the load phase denies with TRACE,
 * the final filter notifies; foreign architectures kill) into *@bytes (malloc'd) and
 * *@len, header first. Returns 0, or -errno with @err naming the policy and the reason.
 */
int sv_policy_filters(const struct sv_policy *p, uint8_t **bytes, size_t *len, char *err,
		      size_t errlen);

/* Writes the final filter of @p as libseccomp's PFC text to @fd. Returns 0 or -errno. */
int sv_policy_export_pfc(const struct sv_policy *p, int fd, char *err, size_t errlen);

/*
 * Prints "+ rule" for what @b permits that @a does not and "- rule" for the reverse.
 * Returns the number of such rules (0: the two permit the same).
 */
size_t sv_policy_diff(const struct sv_policy *a, const struct sv_policy *b, FILE *out);

/*
 * Counts the rules of @p that permit something @ceiling does not, printing each to @out
 * (NULL: print nothing). Conservative: a rule is within the ceiling only when each of its
 * alternatives is implied comparator by comparator.
 */
size_t sv_policy_exceeds(const struct sv_policy *p, const struct sv_policy *ceiling, FILE *out);

/* Whether rule @i of @p permits something @ceiling does not (see sv_policy_exceeds). */
int sv_policy_rule_exceeds(const struct sv_policy *p, size_t i, const struct sv_policy *ceiling);

/* One rule of a policy, as the learn mode copies it. */
struct sv_policy_rule_info {
	int nr;
	const char *name;
	const char *text;	/* as written, before '#' */
	const char *reason;
	const char *file;
	unsigned int line;
	int allows;		/* its action lets the call run (allow or log) */
	int logs;		/* its action is log: for learn runs only */
	int unconditional;	/* it allows with no argument condition */
};

size_t sv_policy_nrules(const struct sv_policy *p);
void sv_policy_rule(const struct sv_policy *p, size_t i, struct sv_policy_rule_info *out);

#endif
