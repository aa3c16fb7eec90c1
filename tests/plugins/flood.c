/*
 * flood.c - floods the broker for FLOOD_SECONDS with full pipelines of requests, as
 * fast as the SDK allows, then logs "flooded N requests" and returns 0. Beside it, other
 * plugins must still be served (tests/integ/test_many.c).
 */
#include <time.h>

#include <sovereign/plugin.h>

#define FLOOD_SECONDS 3

int
sv_plugin_main(sv_ctx *ctx)
{
	struct timespec start, now;
	long long sent = 0;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (i = 0; i < SV_PIPELINE_MAX; i++)
			if (sv_query_send(ctx, "SELECT 1", 0, NULL) < 0)
				return 1;
		for (i = 0; i < SV_PIPELINE_MAX; i++)
			sv_result_free(sv_query_recv(ctx));
		sent += SV_PIPELINE_MAX;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - start.tv_sec < FLOOD_SECONDS);
	sv_log(ctx, "flooded %lld requests", sent);
	return 0;
}
