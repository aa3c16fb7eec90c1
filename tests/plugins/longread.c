/*
 * longread.c - one read of a view that runs for about a second in the broker: a bounded
 * recursive count beside the number of users, so the statement holds SQLite's read lock
 * from its first step to its last. Logs "long read started", then "long read ended: N"
 * with the count it got, or the error. Built as longreadlate too, which waits
 * LONGREAD_DELAY_MS before it asks.
 */
#include <time.h>

#include <sovereign/plugin.h>

#ifndef LONGREAD_DELAY_MS
#define LONGREAD_DELAY_MS 0
#endif

int
sv_plugin_main(sv_ctx *ctx)
{
	sv_result *r;
	int failed;

	nanosleep(&(struct timespec){0, LONGREAD_DELAY_MS * 1000000L}, NULL);
	sv_log(ctx, "long read started");
	r = sv_query(ctx, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
			  "WHERE x < 3000000) SELECT count(*) + (SELECT count(*) FROM v_plugin_users) "
			  "FROM c",
		     0, NULL);
	failed = r == NULL;
	sv_log(ctx, "long read ended: %s", r ? sv_result_text(r, 0, 0) : sv_errmsg(ctx));
	sv_result_free(r);
	return failed;
}
