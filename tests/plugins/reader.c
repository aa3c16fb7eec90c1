/*
 * reader.c - reads row 1 of v_plugin_users back to back, as fast as the answers come,
 * until its name is no longer "Alice" (core changed it meanwhile) or READER_MS pass.
 * Logs "reading" after its first READER_WARM reads, then "saw <name> after N reads" or
 * "still Alice after N reads"; returns 1 only if a read failed.
 */
#include <string.h>
#include <time.h>

#include <sovereign/plugin.h>

#define READER_MS 3000
#define READER_WARM 1000

static long long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

int
sv_plugin_main(sv_ctx *ctx)
{
	long long end = now_ms() + READER_MS;
	sv_result *r;
	long reads;

	for (reads = 1;; reads++) {
		r = sv_query(ctx, "SELECT display_name FROM v_plugin_users WHERE id = 1", 0, NULL);
		if (r == NULL || sv_result_rows(r) != 1) {
			sv_log(ctx, "read %ld failed: %s", reads, r ? "no row" : sv_errmsg(ctx));
			sv_result_free(r);
			return 1;
		}
		if (strcmp(sv_result_text(r, 0, 0), "Alice") != 0) {
			sv_log(ctx, "saw %s after %ld reads", sv_result_text(r, 0, 0), reads);
			sv_result_free(r);
			return 0;
		}
		sv_result_free(r);
		if (reads == READER_WARM)
			sv_log(ctx, "reading");
		if (reads % 64 == 0 && now_ms() >= end)
			break;
	}
	sv_log(ctx, "still Alice after %ld reads", reads);
	return 0;
}
