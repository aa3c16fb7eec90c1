/*
 * steady.c - STEADY_REQUESTS plain requests, one at a time, each answer checked by
 * content: "SELECT $1" with "<token>:<i>", where the token is random per run, so an
 * answer meant for another plugin, or for another request, is caught. Every hundredth
 * request also reads v_plugin_users. Logs "done N requests, W wrong, slowest S us" (the
 * longest any one request took) and returns W != 0.
 * Built as steadylate too, which waits STEADY_DELAY_MS before its first request.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <sovereign/plugin.h>

#ifndef STEADY_REQUESTS
#define STEADY_REQUESTS 2000
#endif

/* Sends request @i and says whether its answer is exactly what was asked for. */
static int
right(sv_ctx *ctx, unsigned long long token, int i)
{
	char want[64];
	const char *p[] = {want};
	sv_result *r;
	int ok;

	snprintf(want, sizeof(want), "%llx:%d", token, i);
	r = sv_query(ctx, "SELECT $1", 1, p);
	ok = r && sv_result_rows(r) == 1 && strcmp(sv_result_text(r, 0, 0), want) == 0;
	if (!ok)
		sv_log(ctx, "WRONG answer to %s: %s", want,
		       r ? sv_result_text(r, 0, 0) : sv_errmsg(ctx));
	sv_result_free(r);
	if (ok && i % 100 == 0) {
		r = sv_query(ctx, "SELECT display_name FROM v_plugin_users WHERE id = 2", 0, NULL);
		ok = r && sv_result_rows(r) == 1 && strcmp(sv_result_text(r, 0, 0), "Bob") == 0;
		if (!ok)
			sv_log(ctx, "WRONG view read: %s", r ? "other rows" : sv_errmsg(ctx));
		sv_result_free(r);
	}
	return ok;
}

/* CLOCK_MONOTONIC in microseconds. */
static long long
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

int
sv_plugin_main(sv_ctx *ctx)
{
	unsigned long long token = 0;
	long long start, took, slowest = 0;
	int i, wrong = 0;

	if (getrandom(&token, sizeof(token), 0) != (ssize_t)sizeof(token))
		return 2;
#ifdef STEADY_DELAY_MS
	/* Started late on purpose: another plugin's statement is running by then. */
	nanosleep(&(struct timespec){0, STEADY_DELAY_MS * 1000000L}, NULL);
#endif
	for (i = 0; i < STEADY_REQUESTS; i++) {
		start = now_us();
		wrong += !right(ctx, token, i);
		if ((took = now_us() - start) > slowest)
			slowest = took;
	}
	sv_log(ctx, "done %d requests, %d wrong, slowest %lld us", STEADY_REQUESTS, wrong, slowest);
	return wrong != 0;
}
