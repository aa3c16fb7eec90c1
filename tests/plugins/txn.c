/*
 * txn.c - the plugin's own transaction, by mode from plugin_txn_cfg: commit (two rows
 * land), rollback (none does), die (begin, insert, then exit without committing: none
 * may land), nested (a second sv_begin is refused while the first stays usable).
 * Rows go to plugin_txn_rows, which the test creates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sovereign/plugin.h>

/* Inserts one row with @note; returns 0 or -1. */
static int
insert(sv_ctx *ctx, const char *note)
{
	const char *p[] = {note};
	sv_result *r = sv_query(ctx, "INSERT INTO plugin_txn_rows(note) VALUES ($1)", 1, p);

	if (r == NULL) {
		sv_log(ctx, "insert failed: %s", sv_errmsg(ctx));
		return -1;
	}
	sv_result_free(r);
	return 0;
}

int
sv_plugin_main(sv_ctx *ctx)
{
	sv_result *r = sv_query(ctx, "SELECT value FROM plugin_txn_cfg WHERE key = 'mode'", 0, NULL);
	char mode[32] = "";

	if (r != NULL && sv_result_rows(r) == 1)
		snprintf(mode, sizeof(mode), "%s", sv_result_text(r, 0, 0));
	sv_result_free(r);
	if (sv_begin(ctx) < 0 || insert(ctx, "one") < 0 || insert(ctx, "two") < 0)
		return 1;
	if (strcmp(mode, "commit") == 0)
		return sv_commit(ctx) == 0 ? 0 : 2;
	if (strcmp(mode, "rollback") == 0)
		return sv_rollback(ctx) == 0 ? 0 : 2;
	if (strcmp(mode, "die") == 0)
		_exit(7);
	if (strcmp(mode, "nested") == 0) {
		if (sv_begin(ctx) == 0)
			return 3;
		sv_log(ctx, "second begin refused: %s", sv_errmsg(ctx));
		return sv_commit(ctx) == 0 ? 0 : 2;
	}
	return 4;
}
