/*
 * hog.c - one write into its own table that never ends: an endless recursive insert,
 * which at once spills SQLite's page cache and from then on holds the database file
 * locked EXCLUSIVE, until its run's deadline ends it (hog.manifest). Built as "calm" with
 * HOG_CALM: a plugin that only says it ran, to start while the hog's statement runs.
 * Built as "bigwrite" with HOG_ROWS: the same write, ended after that many rows (0.2 to
 * 2 seconds for a million, by host) and kept.
 */
#include <sovereign/plugin.h>

#ifdef HOG_ROWS
#define HOG_QUOTE(x) #x
#define HOG_TEXT(x) HOG_QUOTE(x)
#define HOG_TABLE "plugin_bigwrite_rows"
#define HOG_END " WHERE x < " HOG_TEXT(HOG_ROWS)
#else
#define HOG_TABLE "plugin_hog_rows"
#define HOG_END ""
#endif

int
sv_plugin_main(sv_ctx *ctx)
{
#ifdef HOG_CALM
	sv_log(ctx, "calm ran");
#else
	sv_result *r;

	sv_log(ctx, "big write started");
	/* The first rows are large, so the cache spills and the lock comes at once. */
	r = sv_query(ctx, "INSERT INTO " HOG_TABLE "(n) WITH RECURSIVE c(x) AS (SELECT 1 "
			  "UNION ALL SELECT x + 1 FROM c" HOG_END ") "
			  "SELECT CASE WHEN x <= 64 THEN zeroblob(65536) ELSE x END FROM c",
		     0, NULL);
	sv_log(ctx, "big write ended: %s", r ? "with rows" : sv_errmsg(ctx));
	sv_result_free(r);
#endif
	return 0;
}
