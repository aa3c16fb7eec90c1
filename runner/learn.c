/*
 * learn.c - learn mode: what a plugin tried that its policy denies, kept while it runs
 * and written out as a policy for a reviewer.
 *
 * The learned policy is the base policy's rules, flattened, plus one line for each
 * syscall the plugin was denied, commented with what was seen. It is never wider than
 * the ceiling: a syscall the ceiling does not allow unconditionally is left out with a
 * comment saying why, for a person to decide.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "runner/runner.h"

/* How many different first arguments are kept per syscall, as examples. */
#define ARG_SAMPLES 4
/* More entries than there are syscalls on any architecture. */
#define MAX_SEEN 1024

struct seen {
	int nr;
	unsigned long count;
	size_t nargs;
	uint64_t arg0[ARG_SAMPLES];
};

struct sv_learn {
	struct seen seen[MAX_SEEN];
	size_t n;
};

struct sv_learn *
sv_learn_new(void)
{
	return calloc(1, sizeof(struct sv_learn));
}

void
sv_learn_free(struct sv_learn *l)
{
	free(l);
}

int
sv_learn_record(struct sv_learn *l, int nr, const uint64_t args[6])
{
	struct seen *s = NULL;
	size_t i;

	for (i = 0; i < l->n && s == NULL; i++)
		if (l->seen[i].nr == nr)
			s = &l->seen[i];
	if (s == NULL) {
		if (l->n == MAX_SEEN)
			return 0;
		s = &l->seen[l->n++];
		s->nr = nr;
	}
	s->count++;
	for (i = 0; i < s->nargs; i++)
		if (s->arg0[i] == args[0])
			break;
	if (i == s->nargs && s->nargs < ARG_SAMPLES)
		s->arg0[s->nargs++] = args[0];
	return s->count == 1;
}

/* The entry for syscall @nr, or NULL when the plugin never asked for it. */
static const struct seen *
find_seen(const struct sv_learn *l, int nr)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->seen[i].nr == nr)
			return &l->seen[i];
	return NULL;
}

/* Whether @ceiling (NULL: none) allows syscall @nr with no condition; else says why not. */
static int
ceiling_allows(const struct sv_policy *ceiling, int nr, char *why, size_t len)
{
	struct sv_policy_rule_info ri;
	size_t i;

	if (ceiling == NULL)
		return 1;
	for (i = 0; i < sv_policy_nrules(ceiling); i++) {
		sv_policy_rule(ceiling, i, &ri);
		if (ri.nr != nr)
			continue;
		if (ri.unconditional)
			return 1;
		snprintf(why, len, "the ceiling allows it only as '%s' (%s:%u): write a rule "
				   "within that by hand",
			 ri.text, ri.file, ri.line);
		return 0;
	}
	snprintf(why, len, "the ceiling %s does not allow it", sv_policy_path(ceiling));
	return 0;
}

/* Writes the learned line for @s. */
static void
write_learned(FILE *f, const struct seen *s, const struct sv_policy_rule_info *base)
{
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, s->nr);
	size_t i;

	fprintf(f, "%s: 1  # learned: called %lu time%s, first argument seen:", name ? name : "?",
		s->count, s->count == 1 ? "" : "s");
	for (i = 0; i < s->nargs; i++)
		fprintf(f, "%s 0x%llx", i ? "," : "", (unsigned long long)s->arg0[i]);
	if (base)
		fprintf(f, "; widens %s:%u, which was '%s'", base->file, base->line, base->text);
	fputc('\n', f);
	free(name);
}

/* A "log" rule the run went through becomes the allow rule it stood for. */
static void
write_logged(FILE *f, const struct sv_policy_rule_info *ri)
{
	size_t n = strlen(ri->text);
	const char *colon = strchr(ri->text, ':');

	/* The text ends in "log"; what stands before it is the condition, if any. */
	if (n >= 3 && strcmp(ri->text + n - 3, "log") == 0)
		n -= 3;
	while (n > 0 && (ri->text[n - 1] == ' ' || ri->text[n - 1] == '\t'))
		n--;
	fprintf(f, "%.*s%s  # learned: was 'log' at %s:%u: %s\n", (int)n, ri->text,
		colon && ri->text + n == colon + 1 ? " 1" : "", ri->file, ri->line,
		ri->reason[0] ? ri->reason : "-");
}

int
sv_learn_write(const struct sv_learn *l, const char *path, const char *id,
	       const struct sv_policy *base, const struct sv_policy *ceiling, char *err,
	       size_t errlen)
{
	struct sv_policy_rule_info ri;
	char why[512];
	FILE *f = NULL;
	size_t i, j;
	int fd = -1, r = 0;

	/* A new file only: learn mode never overwrites a policy someone may have edited. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		r = -errno;
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;	/* transferred */
	fprintf(f, "# %s: written by svrun --learn for plugin '%s' from %s.\n", path, id,
		sv_policy_path(base));
	fprintf(f, "# Review it before use: svrun policy explain %s; svrun policy lint %s.\n",
		path, path);
	fprintf(f, "\n# The rules of %s, unchanged:\n", sv_policy_path(base));
	for (i = 0; i < sv_policy_nrules(base); i++) {
		sv_policy_rule(base, i, &ri);
		if (find_seen(l, ri.nr) && ceiling_allows(ceiling, ri.nr, why, sizeof(why)))
			continue;	/* replaced by its learned line below */
		if (ri.logs)
			write_logged(f, &ri);
		else
			fprintf(f, "%s  # %s (from %s:%u)\n", ri.text,
				ri.reason[0] ? ri.reason : "-", ri.file, ri.line);
	}
	fprintf(f, "\n# What the plugin asked for beyond them:\n");
	for (j = 0; j < l->n; j++) {
		const struct seen *s = &l->seen[j];
		const struct sv_policy_rule_info *bp = NULL;

		for (i = 0; i < sv_policy_nrules(base) && bp == NULL; i++) {
			sv_policy_rule(base, i, &ri);
			if (ri.nr == s->nr)
				bp = &ri;
		}
		if (!ceiling_allows(ceiling, s->nr, why, sizeof(why))) {
			char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, s->nr);

			fprintf(f, "# not learned: %s [%d], called %lu times: %s\n",
				name ? name : "?", s->nr, s->count, why);
			free(name);
			continue;
		}
		write_learned(f, s, bp);
	}
	if (l->n == 0)
		fprintf(f, "# nothing: the plugin stayed within the rules above\n");
	if (fflush(f) != 0 || ferror(f)) {
		r = -EIO;
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	}
out:
	if (f != NULL && fclose(f) != 0 && r == 0) {
		r = -EIO;
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	}
	sv_closep(&fd);
	return r;
}
