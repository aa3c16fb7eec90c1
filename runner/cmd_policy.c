/*
 * cmd_policy.c - `svrun policy`: the tools a security team reviews policies with.
 *
 * Every subcommand parses the files exactly as svrun does before it runs a plugin, so
 * what a reviewer reads here is what the sandbox enforces.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "policy/policy.h"
#include "runner/runner.h"

static const char policy_usage[] =
	"Usage: svrun policy explain FILE     what FILE permits, rule by rule, with sources\n"
	"       svrun policy lint FILE...     dangerous or impossible rules; exit 1 if any\n"
	"       svrun policy bpf FILE         the compiled final filter (libseccomp PFC)\n"
	"       svrun policy diff A B         what B permits that A does not (+) and the\n"
	"                                     reverse (-); exit 1 if they differ\n"
	"A dangerous rule passes lint when its reason starts with 'lint: allow'.\n"
	"The language is described in svrun-policy(5) and policies/README.md.\n";

/* Loads @path or prints why not; NULL on failure. */
static struct sv_policy *
load(const char *path)
{
	struct sv_policy *p = NULL;
	char err[1024];

	if (sv_policy_load(path, &p, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		return NULL;
	}
	return p;
}

/* Prints the table of what the policy permits. */
static int
explain(char **files)
{
	struct sv_policy *p = load(files[0]);

	if (p == NULL)
		return SV_EXIT_FAILURE;
	sv_policy_explain(p, stdout);
	sv_policy_free(p);
	return 0;
}

/* Lints each file; 1 when any has a finding. */
static int
lint(char **files, int n)
{
	struct sv_policy *p;
	size_t findings = 0;
	int i, failed = 0;

	for (i = 0; i < n; i++) {
		if ((p = load(files[i])) == NULL) {
			failed = 1;
			continue;
		}
		findings += sv_policy_lint(p, stdout);
		sv_policy_free(p);
	}
	if (failed)
		return SV_EXIT_FAILURE;
	printf("%zu finding%s in %d file%s\n", findings, findings == 1 ? "" : "s", n,
	       n == 1 ? "" : "s");
	return findings ? 1 : 0;
}

/* Prints the compiled filter. */
static int
bpf(char **files)
{
	struct sv_policy *p = load(files[0]);
	char err[512];
	int r;

	if (p == NULL)
		return SV_EXIT_FAILURE;
	fflush(stdout);
	r = sv_policy_export_pfc(p, STDOUT_FILENO, err, sizeof(err));
	sv_policy_free(p);
	if (r < 0) {
		sv_warn("%s: %s", files[0], err);
		return SV_EXIT_FAILURE;
	}
	return 0;
}

/* Prints the permission-level difference of two policies. */
static int
diff(char **files)
{
	struct sv_policy *a = load(files[0]), *b = NULL;
	size_t n;
	int status = SV_EXIT_FAILURE;

	if (a == NULL || (b = load(files[1])) == NULL)
		goto out;
	n = sv_policy_diff(a, b, stdout);
	status = n ? 1 : 0;
out:
	sv_policy_free(a);
	sv_policy_free(b);
	return status;
}

int
sv_cmd_policy(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (sub && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
		fputs(policy_usage, stdout);
		return 0;
	}
	if (sub && strcmp(sub, "explain") == 0 && argc == 3)
		return explain(argv + 2);
	if (sub && strcmp(sub, "lint") == 0 && argc >= 3)
		return lint(argv + 2, argc - 2);
	if (sub && strcmp(sub, "bpf") == 0 && argc == 3)
		return bpf(argv + 2);
	if (sub && strcmp(sub, "diff") == 0 && argc == 4)
		return diff(argv + 2);
	if (sub == NULL)
		sv_usage_error("policy", "missing subcommand: explain, lint, bpf or diff");
	else if (strcmp(sub, "explain") && strcmp(sub, "lint") && strcmp(sub, "bpf") &&
		 strcmp(sub, "diff"))
		sv_usage_error("policy", "unknown subcommand '%s'", sub);
	else
		sv_usage_error("policy", "wrong number of files for '%s'", sub);
	return SV_EXIT_FAILURE;
}
