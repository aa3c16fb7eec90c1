/*
 * sweep.c - makes exactly one syscall, the number and six arguments of which it reads
 * from its own table plugin_sweep_call, then reports what it returned. The sweep test
 * runs it once for every syscall number of the architecture.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <sovereign/plugin.h>

int
sv_plugin_main(sv_ctx *ctx)
{
	long a[7], ret;
	sv_result *r;
	int i, err;

	r = sv_query(ctx, "SELECT nr, a0, a1, a2, a3, a4, a5 FROM plugin_sweep_call", 0, NULL);
	if (r == NULL || sv_result_rows(r) != 1) {
		sv_log(ctx, "no call to make: %s", sv_errmsg(ctx));
		sv_result_free(r);
		return 2;
	}
	for (i = 0; i < 7; i++)
		a[i] = strtol(sv_result_text(r, 0, i), NULL, 0);
	sv_result_free(r);
	errno = 0;
	ret = syscall(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
	err = errno;
	sv_log(ctx, "survived [%ld]: returned %ld, errno %d", a[0], ret, err);
	return 3;
}
