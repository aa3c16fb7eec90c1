/*
 * parse.c - reads policy files into rules: the lexer, the condition grammar, @include and
 * every check that makes a bad policy fail before anything is forked.
 *
 * The first error stops the parse and is reported as "file:line:column: message", naming
 * the token at fault. Nothing weaker than what the line says is ever kept: a condition
 * libseccomp cannot express is an error here, not a looser rule later. The grammar, with
 * examples, is in policies/README.md.
 */
#include "policy/internal.h"

#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_SIZE (1 << 20)	/* a policy is a page or two; anything near this is a mistake */
#define MAX_DEPTH 16		/* nested @include levels */
#define MAX_TOKENS 512		/* tokens on one line */

enum kind { T_END, T_IDENT, T_NUM, T_OP, T_LBRACE, T_RBRACE, T_COMMA, T_COLON };

struct tok {
	enum kind kind;
	const char *s;
	size_t n;
	unsigned int col;
	uint64_t num;
};

struct parser {
	struct sv_policy *p;
	uint32_t arch;
	char *err;
	size_t errlen;
	char *ids[MAX_DEPTH];	/* real path of each file being read, for cycle detection */
	unsigned int depth;
	const char *file;	/* where the current line comes from */
	unsigned int line;
	struct tok tok[MAX_TOKENS];
	size_t ntok;
	size_t pos;
};

static int fail(struct parser *ps, unsigned int col, const char *fmt, ...) SV_PRINTF(3, 4);

/* Every error of the text goes through here, so all carry the same "file:line:col: " form. */
static int
fail(struct parser *ps, unsigned int col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ps->err && ps->errlen)
		snprintf(ps->err, ps->errlen, "%s:%u:%u: %s", ps->file, ps->line, col, msg);
	return -EINVAL;
}

/* Errors that have no line (a file that cannot be read, memory) use "file: message". */
static int
fail_file(struct parser *ps, const char *file, int r)
{
	if (ps->err && ps->errlen)
		snprintf(ps->err, ps->errlen, "%s: %s", file,
			 r == -EINVAL ? "not a text file" : strerror(-r));
	return r;
}

/* Names a token in a message: the token itself, quoted, or the end of the line. */
static const char *
what(const struct tok *t, char *buf, size_t len)
{
	if (t->kind == T_END)
		return "the end of the line";
	snprintf(buf, len, "'%.*s'", (int)(t->n > 64 ? 64 : t->n), t->s);
	return buf;
}

/* The lexer's character classes, fixed to ASCII whatever the locale says. */
static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Letters and '_': syscall names, constants, keywords. */
static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Decimal digits, never the locale's. */
static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Decimal or 0x hex, with an optional '-' (a negative int, as the kernel sees it in 64 bits). */
static int
parse_num(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int base = 10;
	size_t i = 0;
	int neg = 0;

	*out = 0;
	if (n > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		base = 16;
		i += 2;
	}
	if (i == n)
		return -EINVAL;
	for (; i < n; i++) {
		unsigned int d;

		if (is_digit(s[i]))
			d = (unsigned int)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = (unsigned int)(s[i] - 'a' + 10);
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = (unsigned int)(s[i] - 'A' + 10);
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		v = -v;
	}
	*out = v;
	return 0;
}

static const char *const operators[] = { "==", "!=", "<", "<=", ">", ">=", "&", "&&", "|", "||" };

/* Splits the first @n bytes of a line into tokens, ending with T_END; columns count bytes. */
static int
lex(struct parser *ps, const char *line0, size_t n)
{
	size_t i = 0, j, k;

	ps->ntok = 0;
	ps->pos = 0;
	for (;;) {
		struct tok *t;
		char c;

		while (i < n && is_space(line0[i]))
			i++;
		if (ps->ntok == MAX_TOKENS)
			return fail(ps, (unsigned int)i + 1, "too many tokens on one line");
		t = &ps->tok[ps->ntok++];
		t->s = line0 + i;
		t->col = (unsigned int)i + 1;
		t->num = 0;
		if (i == n) {
			t->kind = T_END;
			t->n = 0;
			return 0;
		}
		c = line0[i];
		j = i + 1;
		if (is_alpha(c)) {
			while (j < n && (is_alpha(line0[j]) || is_digit(line0[j])))
				j++;
			t->kind = T_IDENT;
		} else if (is_digit(c) || (c == '-' && i + 1 < n && is_digit(line0[i + 1]))) {
			while (j < n && (is_alpha(line0[j]) || is_digit(line0[j])))
				j++;
			t->kind = T_NUM;
			if (parse_num(t->s, j - i, &t->num) < 0)
				return fail(ps, t->col, "bad number '%.*s' (decimal or 0x hex)",
					    (int)(j - i), t->s);
		} else if (strchr("=!<>&|", c)) {
			while (j < n && strchr("=!<>&|", line0[j]))
				j++;
			t->kind = T_OP;
			for (k = 0; k < sizeof(operators) / sizeof(operators[0]); k++) {
				if (strlen(operators[k]) == j - i &&
				    memcmp(operators[k], t->s, j - i) == 0)
					break;
			}
			if (k == sizeof(operators) / sizeof(operators[0]))
				return fail(ps, t->col, "unknown operator '%.*s'", (int)(j - i),
					    t->s);
		} else if (c == '{') {
			t->kind = T_LBRACE;
		} else if (c == '}') {
			t->kind = T_RBRACE;
		} else if (c == ',') {
			t->kind = T_COMMA;
		} else if (c == ':') {
			t->kind = T_COLON;
		} else if (c > ' ' && c < 0x7f) {
			return fail(ps, t->col, "unexpected character '%c'", c);
		} else {
			return fail(ps, t->col, "unexpected byte 0x%02x", (unsigned char)c);
		}
		t->n = j - i;
		i = j;
	}
}

/* Looks at the next token without taking it. */
static struct tok *
peek(struct parser *ps)
{
	return &ps->tok[ps->pos];
}

/* Takes the next token; the T_END at the end is never passed. */
static struct tok *
next(struct parser *ps)
{
	struct tok *t = &ps->tok[ps->pos];

	if (t->kind != T_END)
		ps->pos++;
	return t;
}

/* Whether @t is the keyword @w (tokens are not NUL-terminated). */
static int
is_word(const struct tok *t, const char *w)
{
	return t->kind == T_IDENT && strlen(w) == t->n && memcmp(t->s, w, t->n) == 0;
}

/* Whether @t is the operator @op. */
static int
is_op(const struct tok *t, const char *op)
{
	return t->kind == T_OP && strlen(op) == t->n && memcmp(t->s, op, t->n) == 0;
}

/* value := atom ('|' atom)*, atom := number | constant; flags are written as in C. */
static int
parse_value(struct parser *ps, uint64_t *out)
{
	uint64_t v = 0, x;
	char b[80];

	*out = 0;
	for (;;) {
		struct tok *t = next(ps);

		if (t->kind == T_NUM) {
			x = t->num;
		} else if (t->kind == T_IDENT) {
			if (sv_policy_constant(t->s, t->n, &x) < 0)
				return fail(ps, t->col, "unknown constant '%.*s'", (int)t->n, t->s);
		} else {
			return fail(ps, t->col, "expected a number or a constant, found %s",
				    what(t, b, sizeof(b)));
		}
		v |= x;
		if (!is_op(peek(ps), "|"))
			break;
		ps->pos++;
	}
	*out = v;
	return 0;
}

static const struct {
	const char *op;
	enum scmp_compare cmp;
} comparisons[] = {
	{ "==", SCMP_CMP_EQ }, { "!=", SCMP_CMP_NE }, { "<", SCMP_CMP_LT },
	{ "<=", SCMP_CMP_LE }, { ">", SCMP_CMP_GT }, { ">=", SCMP_CMP_GE },
};

/* Whether @v is a negative C int (AT_FDCWD, -1) sign-extended to 64 bits. */
static int
is_int_negative(uint64_t v)
{
	return v >= 0xffffffff80000000ULL;
}

/*
 * One comparator. An int argument reaches the kernel in the low 32 bits of a register
 * whose upper half glibc leaves zero (and the kernel ignores), so a negative int is
 * matched on those 32 bits alone: "arg0 == AT_FDCWD" holds for 0xffffff9c with either
 * upper half.
 */
static struct scmp_arg_cmp
compare(unsigned int arg, enum scmp_compare op, uint64_t v)
{
	if (op == SCMP_CMP_EQ && is_int_negative(v))
		return SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, 0xffffffffULL, v & 0xffffffffULL);
	return SCMP_CMP(arg, op, v);
}

/* "in {a, b}": one equality per member, each becoming its own alternative. */
static int
parse_set(struct parser *ps, unsigned int arg, struct scmp_arg_cmp *c, size_t *nc)
{
	struct tok *t = next(ps);
	char b[80];
	uint64_t v;
	int r;

	if (t->kind != T_LBRACE)
		return fail(ps, t->col, "expected '{' after 'in', found %s", what(t, b, sizeof(b)));
	for (;;) {
		t = peek(ps);
		if (*nc == SV_POLICY_MAX_ALTS)
			return fail(ps, t->col, "more than %d values in one set",
				    SV_POLICY_MAX_ALTS);
		if ((r = parse_value(ps, &v)) < 0)
			return r;
		c[(*nc)++] = compare(arg, SCMP_CMP_EQ, v);
		t = next(ps);
		if (t->kind == T_RBRACE)
			return 0;
		if (t->kind != T_COMMA)
			return fail(ps, t->col, "expected ',' or '}' in the set, found %s",
				    what(t, b, sizeof(b)));
	}
}

/*
 * term := argN CMP value | argN '&' value '==' value | argN 'in' '{' value, ... '}'.
 * Fills @c with the term's alternatives (one, or one per set member) and @col with where
 * the term starts.
 */
static int
parse_term(struct parser *ps, struct scmp_arg_cmp *c, size_t *nc, unsigned int *col)
{
	struct tok *t = next(ps), *op;
	uint64_t mask, v;
	unsigned int arg;
	char b[80];
	size_t i;
	int r;

	*nc = 0;
	*col = t->col;
	if (t->kind != T_IDENT)
		return fail(ps, t->col, "expected an argument (arg0..arg5), found %s",
			    what(t, b, sizeof(b)));
	if (t->n != 4 || memcmp(t->s, "arg", 3) != 0 || t->s[3] < '0' || t->s[3] > '5')
		return fail(ps, t->col, "unknown argument '%.*s' (arguments are arg0..arg5)",
			    (int)t->n, t->s);
	arg = (unsigned int)(t->s[3] - '0');
	op = next(ps);
	if (is_word(op, "in"))
		return parse_set(ps, arg, c, nc);
	if (is_op(op, "&")) {
		if ((r = parse_value(ps, &mask)) < 0)
			return r;
		t = next(ps);
		if (is_op(t, "!="))
			return fail(ps, t->col, "'!=' after a mask cannot be expressed in "
				    "libseccomp (it has only a masked ==)");
		if (!is_op(t, "=="))
			return fail(ps, t->col, "expected '==' after the mask, found %s",
				    what(t, b, sizeof(b)));
		if ((r = parse_value(ps, &v)) < 0)
			return r;
		if (v & ~mask)
			return fail(ps, t->col, "'& 0x%llx == 0x%llx' can never be true",
				    (unsigned long long)mask, (unsigned long long)v);
		c[(*nc)++] = SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, mask, v);
		return 0;
	}
	for (i = 0; i < sizeof(comparisons) / sizeof(comparisons[0]); i++) {
		if (is_op(op, comparisons[i].op))
			break;
	}
	if (i == sizeof(comparisons) / sizeof(comparisons[0]))
		return fail(ps, op->col, "expected a comparison after 'arg%u', found %s", arg,
			    what(op, b, sizeof(b)));
	if ((r = parse_value(ps, &v)) < 0)
		return r;
	if (is_int_negative(v) && comparisons[i].cmp != SCMP_CMP_EQ)
		return fail(ps, op->col, "only '==' and 'in' take a negative int; write a "
			    "64-bit value in hex");
	c[(*nc)++] = compare(arg, comparisons[i].cmp, v);
	return 0;
}

/*
 * conj := term ('&&' term)*. Expands in place into @alt (room for @cap): each term's
 * alternatives multiply those so far, and every resulting alternative is one libseccomp
 * rule whose comparators must all hold.
 */
static int
parse_conj(struct parser *ps, struct sv_alt *alt, size_t cap, size_t *nalt)
{
	struct scmp_arg_cmp c[SV_POLICY_MAX_ALTS];
	unsigned int col, k;
	size_t n = 1, nc, i, j;
	int r;

	memset(&alt[0], 0, sizeof(alt[0]));
	for (;;) {
		if ((r = parse_term(ps, c, &nc, &col)) < 0)
			return r;
		/* Each alternative of a conjunction compares the same arguments. */
		for (k = 0; k < alt[0].ncmp; k++) {
			if (alt[0].cmp[k].arg == c[0].arg)
				return fail(ps, col, "arg%u is compared twice in one '&&', which "
					    "libseccomp cannot express; use '||' or 'in'",
					    c[0].arg);
		}
		if (n * nc > cap)
			return fail(ps, col, "the condition expands to more than %d rules",
				    SV_POLICY_MAX_ALTS);
		for (j = nc; j-- > 0;) {
			for (i = 0; i < n; i++) {
				struct sv_alt *a = &alt[j * n + i];

				if (j > 0)
					*a = alt[i];
				a->cmp[a->ncmp++] = c[j];
			}
		}
		n *= nc;
		if (!is_op(peek(ps), "&&"))
			break;
		ps->pos++;
	}
	*nalt = n;
	return 0;
}

/* disj := conj ('||' conj)*: alternatives side by side, one libseccomp rule each. */
static int
parse_disj(struct parser *ps, struct sv_alt *alt, size_t *nalt)
{
	size_t n = 0, m = 0;
	int r;

	*nalt = 0;
	for (;;) {
		if (n == SV_POLICY_MAX_ALTS)
			return fail(ps, peek(ps)->col, "the condition expands to more than "
				    "%d rules", SV_POLICY_MAX_ALTS);
		if ((r = parse_conj(ps, alt + n, SV_POLICY_MAX_ALTS - n, &m)) < 0)
			return r;
		n += m;
		if (!is_op(peek(ps), "||"))
			break;
		ps->pos++;
	}
	*nalt = n;
	return 0;
}

/* action := nothing (allow) | 'kill' | 'return' ERRNO_NAME. */
static int
parse_action(struct parser *ps, uint32_t *action)
{
	struct tok *t = next(ps);
	char b[80];
	int e;

	*action = SCMP_ACT_ALLOW;
	if (t->kind == T_END)
		return 0;
	if (is_word(t, "kill")) {
		*action = SCMP_ACT_KILL_PROCESS;
	} else if (is_word(t, "log")) {
		/* Allowed and recorded by the kernel's audit log: svrun runs it only with --learn. */
		*action = SCMP_ACT_LOG;
	} else if (is_word(t, "return")) {
		t = next(ps);
		if (t->kind != T_IDENT)
			return fail(ps, t->col, "expected an errno name after 'return', found %s",
				    what(t, b, sizeof(b)));
		if ((e = sv_policy_errno(t->s, t->n)) < 0)
			return fail(ps, t->col, "unknown errno name '%.*s'", (int)t->n, t->s);
		*action = SCMP_ACT_ERRNO((uint32_t)e);
	} else {
		return fail(ps, t->col,
			    "unexpected %s (expected '&&', '||', 'return', 'kill' or 'log')",
			    what(t, b, sizeof(b)));
	}
	t = next(ps);
	if (t->kind != T_END)
		return fail(ps, t->col, "unexpected %s after the action", what(t, b, sizeof(b)));
	return 0;
}

/* The policy owns its rules; this moves one in, growing the array. */
static int
add_rule(struct sv_policy *p, const struct sv_rule *rule)
{
	if (p->nrule == p->caprule) {
		size_t cap = p->caprule ? p->caprule * 2 : 64;
		struct sv_rule *n = realloc(p->rule, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->rule = n;
		p->caprule = cap;
	}
	p->rule[p->nrule++] = *rule;
	return 0;
}

/* rule := SYSCALL ':' ( action | ('1' | 'allow' | disj) action ), checked for every rule. */
static int
parse_rule(struct parser *ps, const char *line0, size_t n, const char *reason, size_t rlen)
{
	int has_reason = rlen > 0;
	struct sv_alt alt[SV_POLICY_MAX_ALTS];
	struct sv_rule rule = { 0 };
	struct tok *t0, *t;
	char b[80];
	size_t i;
	int r;

	if ((r = lex(ps, line0, n)) < 0)
		goto out;
	t0 = next(ps);
	if (t0->kind != T_IDENT) {
		r = fail(ps, t0->col, "expected a syscall name, found %s", what(t0, b, sizeof(b)));
		goto out;
	}
	t = next(ps);
	if (t->kind != T_COLON) {
		r = fail(ps, t->col, "expected ':' after the syscall name, found %s",
			 what(t, b, sizeof(b)));
		goto out;
	}
	if (!(rule.name = strndup(t0->s, t0->n))) {
		r = fail_file(ps, ps->file, -ENOMEM);
		goto out;
	}
	rule.nr = seccomp_syscall_resolve_name_arch(ps->arch, rule.name);
	if (rule.nr < 0) {
		r = fail(ps, t0->col, "unknown syscall '%s'", rule.name);
		goto out;
	}
	t = peek(ps);
	if (is_word(t, "allow") || (t->kind == T_NUM && t->n == 1 && t->s[0] == '1')) {
		ps->pos++;
		memset(&alt[0], 0, sizeof(alt[0]));
		rule.nalt = 1;
	} else if (is_word(t, "return") || is_word(t, "kill") || is_word(t, "log")) {
		memset(&alt[0], 0, sizeof(alt[0]));
		rule.nalt = 1;
	} else if (t->kind == T_END) {
		r = fail(ps, t->col, "'%s:' needs a condition ('1' for always) or an action",
			 rule.name);
		goto out;
	} else if ((r = parse_disj(ps, alt, &rule.nalt)) < 0) {
		goto out;
	}
	if ((r = parse_action(ps, &rule.action)) < 0)
		goto out;
	for (i = 0; i < ps->p->nrule; i++) {
		const struct sv_rule *o = &ps->p->rule[i];

		if (o->nr == rule.nr) {
			r = fail(ps, t0->col,
				 "%s rule for '%s' (first at %s:%u); write alternatives on one "
				 "line with '||'",
				 o->action == rule.action ? "duplicate" : "contradictory",
				 rule.name, o->file, o->line);
			goto out;
		}
	}
	if ((rule.action == SCMP_ACT_ALLOW || rule.action == SCMP_ACT_LOG) && !has_reason &&
	    sv_policy_dangerous(rule.name)) {
		r = fail(ps, t0->col, "dangerous syscall '%s' allowed without a reason; say why "
			 "after '#' on the same line", rule.name);
		goto out;
	}
	if (!(rule.alt = calloc(rule.nalt, sizeof(*rule.alt)))) {
		r = fail_file(ps, ps->file, -ENOMEM);
		goto out;
	}
	memcpy(rule.alt, alt, rule.nalt * sizeof(*rule.alt));
	rule.file = ps->file;
	rule.line = ps->line;
	while (n > 0 && is_space(line0[n - 1]))
		n--;
	while (n > 0 && is_space(*line0))
		line0++, n--;
	if (!(rule.text = strndup(line0, n)) || !(rule.reason = strndup(reason, rlen))) {
		r = fail_file(ps, ps->file, -ENOMEM);
		goto out;
	}
	if ((r = add_rule(ps->p, &rule)) < 0) {
		r = fail_file(ps, ps->file, r);
		goto out;
	}
	memset(&rule, 0, sizeof(rule));	/* transferred */
	r = 0;
out:
	free(rule.name);
	free(rule.alt);
	free(rule.text);
	free(rule.reason);
	return r;
}

/* Reads a whole policy file into a string; -EFBIG past MAX_FILE_SIZE, -EINVAL if not text. */
static int
read_text(const char *path, char **out)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, r;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if (st.st_size > MAX_FILE_SIZE) {
		r = -EFBIG;
		goto out;
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		r = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	text[got] = '\0';
	if (strlen(text) != got) {
		r = -EINVAL;
		goto out;
	}
	*out = text;
	text = NULL;	/* transferred */
	r = 0;
out:
	free(text);
	close(fd);
	return r;
}

static int parse_file(struct parser *ps, const char *path, const char *text, unsigned int col);

/* "@include PATH": PATH is relative to the directory of the file that includes it. */
static int
parse_include(struct parser *ps, const char *line0, size_t start, size_t n)
{
	const char *slash = strrchr(ps->file, '/');
	char path[4096];
	size_t i = start, j;
	int r;

	while (i < n && is_space(line0[i]))
		i++;
	if (i == n)
		return fail(ps, (unsigned int)i + 1, "@include needs a file name");
	for (j = i; j < n && !is_space(line0[j]); j++)
		;
	if (j < n) {
		size_t k = j;

		while (k < n && is_space(line0[k]))
			k++;
		if (k < n)
			return fail(ps, (unsigned int)k + 1, "unexpected '%.*s' after the "
				    "file name", (int)(n - k), line0 + k);
	}
	if (line0[i] == '/' || !slash)
		r = sv_snprintf(path, sizeof(path), "%.*s", (int)(j - i), line0 + i);
	else
		r = sv_snprintf(path, sizeof(path), "%.*s/%.*s", (int)(slash - ps->file),
				ps->file, (int)(j - i), line0 + i);
	if (r < 0)
		return fail(ps, (unsigned int)i + 1, "include path too long");
	return parse_file(ps, path, NULL, (unsigned int)i + 1);
}

/* One line: blank, comment, directive or rule. A '#' starts the reason (or comment). */
static int
parse_line(struct parser *ps, const char *line0, size_t n)
{
	const char *hash = memchr(line0, '#', n);
	size_t body = hash ? (size_t)(hash - line0) : n, i = 0, j;
	const char *reason = line0 + n;
	size_t rlen = 0;

	/* The reason is what follows '#', trimmed; only spaces there is no reason. */
	if (hash) {
		reason = hash + 1;
		rlen = n - body - 1;
		while (rlen > 0 && is_space(*reason))
			reason++, rlen--;
		while (rlen > 0 && is_space(reason[rlen - 1]))
			rlen--;
	}
	while (i < body && is_space(line0[i]))
		i++;
	if (i == body)
		return 0;
	if (line0[i] != '@')
		return parse_rule(ps, line0, body, reason, rlen);
	for (j = i + 1; j < body && is_alpha(line0[j]); j++)
		;
	if (j - i == 8 && memcmp(line0 + i, "@include", 8) == 0)
		return parse_include(ps, line0, j, body);
	return fail(ps, (unsigned int)i + 1, "unknown directive '%.*s'", (int)(j - i), line0 + i);
}

/* Parses @text line by line; @file is owned by the policy and names the lines in errors. */
static int
parse_lines(struct parser *ps, const char *file, const char *text)
{
	const char *s = text;
	unsigned int line = 0;
	int r;

	while (*s) {
		const char *e = strchr(s, '\n');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		ps->file = file;
		ps->line = ++line;
		if ((r = parse_line(ps, s, n)) < 0)
			return r;
		s += n + (e ? 1 : 0);
	}
	return 0;
}

/*
 * Reads @path (or takes @text, when given, as its content) and parses it. @col is where
 * an @include named it, 0 for the top file. Cycles are found by real path, so two
 * spellings of one file are one file.
 */
static int
parse_file(struct parser *ps, const char *path, const char *text, unsigned int col)
{
	struct sv_policy *p = ps->p;
	char *buf = NULL, *id = NULL, **files;
	const char *name;
	unsigned int i;
	int r;

	if (!text) {
		if ((r = read_text(path, &buf)) < 0) {
			if (col)
				r = fail(ps, col, "cannot include '%s': %s", path,
					 r == -EINVAL ? "not a text file" : strerror(-r));
			else
				r = fail_file(ps, path, r);
			goto out;
		}
		text = buf;
	}
	if (!(id = realpath(path, NULL)) && !(id = strdup(path))) {
		r = fail_file(ps, path, -ENOMEM);
		goto out;
	}
	for (i = 0; i < ps->depth; i++) {
		if (strcmp(ps->ids[i], id) == 0) {
			r = fail(ps, col, "include cycle: '%s' is already being read", path);
			goto out;
		}
	}
	if (ps->depth == MAX_DEPTH) {
		r = fail(ps, col, "@include nested more than %d deep", MAX_DEPTH);
		goto out;
	}
	if (!(files = realloc(p->file, (p->nfile + 1) * sizeof(*files)))) {
		r = fail_file(ps, path, -ENOMEM);
		goto out;
	}
	p->file = files;
	if (!(p->file[p->nfile] = strdup(path))) {
		r = fail_file(ps, path, -ENOMEM);
		goto out;
	}
	name = p->file[p->nfile++];
	ps->ids[ps->depth++] = id;
	r = parse_lines(ps, name, text);
	ps->depth--;
out:
	free(id);
	free(buf);
	return r;
}

/* The shared entry of sv_policy_load() and sv_policy_parse(). */
static int
start(const char *path, const char *text, struct sv_policy **out, char *err, size_t errlen)
{
	struct parser *ps = NULL;
	struct sv_policy *p = NULL;
	int r;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!(ps = calloc(1, sizeof(*ps))) || !(p = calloc(1, sizeof(*p))) ||
	    !(p->path = strdup(path))) {
		r = -ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		goto out;
	}
	ps->p = p;
	ps->arch = seccomp_arch_native();
	ps->err = err;
	ps->errlen = errlen;
	ps->file = path;
	if ((r = parse_file(ps, path, text, 0)) < 0)
		goto out;
	*out = p;
	p = NULL;	/* transferred */
	r = 0;
out:
	sv_policy_free(p);
	free(ps);
	return r;
}

/* Policies on disk are what svrun ships and what the sandbox compiles. */
int
sv_policy_load(const char *path, struct sv_policy **out, char *err, size_t errlen)
{
	return start(path, NULL, out, err, errlen);
}

/* Text in memory lets tests and tools check a policy without a file. */
int
sv_policy_parse(const char *name, const char *text, struct sv_policy **out, char *err,
		size_t errlen)
{
	return start(name, text, out, err, errlen);
}

/* A policy owns its rules, their alternatives and the names of the files they came from. */
void
sv_policy_free(struct sv_policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nrule; i++) {
		free(p->rule[i].name);
		free(p->rule[i].alt);
		free(p->rule[i].text);
		free(p->rule[i].reason);
	}
	for (i = 0; i < p->nfile; i++)
		free(p->file[i]);
	free(p->rule);
	free(p->file);
	free(p->path);
	free(p);
}

/* Messages about a policy name the file it came from. */
const char *
sv_policy_path(const struct sv_policy *p)
{
	return p->path;
}
