/*
 * query.c - times N brokered point queries through v_plugin_users from inside the
 * sandbox, first one at a time (sv_query), then pipelined SV_PIPELINE_MAX deep
 * (sv_query_send / sv_query_recv), and logs the means in nanoseconds:
 * "ns_per_query N" and "ns_per_query_pipelined N".
 */
#include <stdio.h>
#include <time.h>

#include <sovereign/plugin.h>

#define N 20000
#define SQL "SELECT display_name FROM v_plugin_users WHERE id = $1"

static long long
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Takes one answer and checks it is one row; 0 or -1. */
static int
take(sv_ctx *ctx, sv_result *r)
{
	if (r == NULL || sv_result_rows(r) != 1) {
		sv_log(ctx, "query failed: %s", sv_errmsg(ctx));
		sv_result_free(r);
		return -1;
	}
	sv_result_free(r);
	return 0;
}

int
sv_plugin_main(sv_ctx *ctx)
{
	char id[16];
	const char *p[] = {id};
	long long start, sync, piped;
	int i, j;

	start = now_ns();
	for (i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "%d", 1 + (i * 7919) % 10000);
		if (take(ctx, sv_query(ctx, SQL, 1, p)) < 0)
			return 1;
	}
	sync = (now_ns() - start) / N;
	start = now_ns();
	for (i = 0; i < N; i += SV_PIPELINE_MAX) {
		for (j = i; j < i + SV_PIPELINE_MAX && j < N; j++) {
			snprintf(id, sizeof(id), "%d", 1 + (j * 7919) % 10000);
			if (sv_query_send(ctx, SQL, 1, p) < 0)
				return 1;
		}
		for (j = i; j < i + SV_PIPELINE_MAX && j < N; j++)
			if (take(ctx, sv_query_recv(ctx)) < 0)
				return 1;
	}
	piped = (now_ns() - start) / N;
	sv_log(ctx, "ns_per_query %lld", sync);
	sv_log(ctx, "ns_per_query_pipelined %lld", piped);
	return 0;
}
