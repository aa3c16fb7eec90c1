/*
 * query.c - times N brokered point queries through v_plugin_users from inside the
 * sandbox and logs the mean in nanoseconds: "ns_per_query N".
 */
#include <stdio.h>
#include <time.h>

#include <sovereign/plugin.h>

#define N 20000

int
sv_plugin_main(sv_ctx *ctx)
{
	struct timespec a, b;
	char id[16];
	const char *p[] = {id};
	sv_result *r;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "%d", 1 + (i * 7919) % 10000);
		r = sv_query(ctx, "SELECT display_name FROM v_plugin_users WHERE id = $1", 1, p);
		if (r == NULL || sv_result_rows(r) != 1) {
			sv_log(ctx, "query failed: %s", sv_errmsg(ctx));
			return 1;
		}
		sv_result_free(r);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	sv_log(ctx, "ns_per_query %lld",
	       ((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec)) / N);
	return 0;
}
