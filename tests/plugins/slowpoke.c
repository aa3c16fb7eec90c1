/*
 * slowpoke.c - one statement that would run forever, in the broker: a recursive count
 * with no end. Its run's deadline ends it. Logs "slow statement started" first and
 * "slow statement ended: ..." if it ever comes back.
 */
#include <sovereign/plugin.h>

int
sv_plugin_main(sv_ctx *ctx)
{
	sv_result *r;

	sv_log(ctx, "slow statement started");
	r = sv_query(ctx, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
			  "SELECT count(*) FROM c",
		     0, NULL);
	sv_log(ctx, "slow statement ended: %s", r ? "with rows" : sv_errmsg(ctx));
	sv_result_free(r);
	return 0;
}
