/*
 * conc.c - K point queries through v_plugin_users, each one timed, for the concurrency
 * rows: logs "conc start S end E p50 P p99 Q" in nanoseconds of CLOCK_MONOTONIC, which
 * every plugin shares (the sandbox has no time namespace), so bench/run.sh can put the
 * plugins of one run on one time line.
 */
#include <stdio.h>
#include <time.h>

#include <sovereign/plugin.h>

#define K 5000

static long long
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Sorts @v in place; not qsort(), which asks the kernel for sysinfo the policy denies. */
static void
sort(long long *v, int n)
{
	long long x;
	int i, j;

	for (i = 1; i < n; i++) {
		x = v[i];
		for (j = i; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

int
sv_plugin_main(sv_ctx *ctx)
{
	static long long lat[K];
	long long start, end, t;
	char id[16];
	const char *p[] = {id};
	sv_result *r;
	int i;

	start = now_ns();
	for (i = 0; i < K; i++) {
		snprintf(id, sizeof(id), "%d", 1 + (i * 7919) % 10000);
		t = now_ns();
		r = sv_query(ctx, "SELECT display_name FROM v_plugin_users WHERE id = $1", 1, p);
		lat[i] = now_ns() - t;
		if (r == NULL || sv_result_rows(r) != 1) {
			sv_log(ctx, "query failed: %s", sv_errmsg(ctx));
			return 1;
		}
		sv_result_free(r);
	}
	end = now_ns();
	sort(lat, K);
	sv_log(ctx, "conc start %lld end %lld p50 %lld p99 %lld", start, end, lat[K / 2],
	       lat[K * 99 / 100]);
	return 0;
}
