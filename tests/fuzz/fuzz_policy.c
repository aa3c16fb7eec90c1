/*
 * fuzz_policy.c - policy text from a hostile author, through the parser and, when it
 * parses, the libseccomp compiler (never loaded).
 */
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Includes resolve against the shipped policies, so @include lines do real work. */
	static const char name[] = SV_SOURCE_DIR "/policies/fuzz.policy";
	struct sv_policy *p = NULL;
	scmp_filter_ctx ctx;
	char err[512];
	char *text;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (sv_policy_parse(name, text, &p, err, sizeof(err)) == 0) {
		if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) != NULL) {
			sv_policy_add_rules(p, ctx, NULL, 0, err, sizeof(err));
			seccomp_release(ctx);
		}
		sv_policy_free(p);
	}
	free(text);
	return 0;
}
