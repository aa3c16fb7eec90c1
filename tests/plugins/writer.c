/*
 * writer.c - WRITER_ROWS inserts into its own table, one statement each, begun once
 * another plugin is reading (WRITER_DELAY_MS in). Logs "wrote N rows, F failed" and
 * returns F != 0.
 */
#include <time.h>

#include <sovereign/plugin.h>

#define WRITER_ROWS 50
/* Well inside the 3-million-row read of longread.c, 0.3 s on the fastest host seen. */
#define WRITER_DELAY_MS 100

int
sv_plugin_main(sv_ctx *ctx)
{
	sv_result *r;
	int i, failed = 0;

	nanosleep(&(struct timespec){0, WRITER_DELAY_MS * 1000000L}, NULL);
	for (i = 0; i < WRITER_ROWS; i++) {
		r = sv_query(ctx, "INSERT INTO plugin_writer_rows(note) VALUES ('row')", 0, NULL);
		if (r == NULL) {
			sv_log(ctx, "insert %d failed: %s", i, sv_errmsg(ctx));
			failed++;
		}
		sv_result_free(r);
	}
	sv_log(ctx, "wrote %d rows, %d failed", WRITER_ROWS - failed, failed);
	return failed != 0;
}
