/*
 * prepared.c - the broker's prepared statements on PostgreSQL, seen from the plugin's
 * own session (pg_prepared_statements lists those of the connection it runs on). Logs
 * "ok[<step>]: <first cell>" or "failed[<step>]: <error>" for each statement.
 */
#include <stdio.h>

#include <sovereign/plugin.h>

#define SUM "SELECT ($1::int + 1)::text"
#define COUNT "SELECT count(*) FROM pg_prepared_statements"
#define COUNT_SUM COUNT " WHERE statement = '" SUM "'"

/* Runs @sql with @n typed parameters and logs its first cell or its error; 1 if it ran. */
static int
step(sv_ctx *ctx, const char *name, const char *sql, int n, const sv_value *params)
{
	sv_result *r = sv_query_values(ctx, sql, n, params);
	int ran = r != NULL;

	if (r && sv_result_rows(r) > 0)
		sv_log(ctx, "ok[%s]: %s", name, sv_result_text(r, 0, 0));
	else if (r)
		sv_log(ctx, "ok[%s]: no rows", name);
	else
		sv_log(ctx, "failed[%s]: %s", name, sv_errmsg(ctx));
	sv_result_free(r);
	return ran;
}

int
sv_plugin_main(sv_ctx *ctx)
{
	const sv_value as_int = {.type = SV_INTEGER, .integer = 41};
	const sv_value as_text = {.type = SV_TEXT, .text = "41"};
	char sql[64], name[32];
	int i;

	/* The same text three times, and once with a parameter of another type. */
	for (i = 0; i < 3; i++)
		step(ctx, "int", SUM, 1, &as_int);
	step(ctx, "text", SUM, 1, &as_text);
	step(ctx, "sum-statements", COUNT_SUM, 0, NULL);
	/* A statement the server cannot prepare fails, is not kept, and the next one runs. */
	step(ctx, "bad", "SELECT FROM WHERE", 0, NULL);
	step(ctx, "bad-statements", COUNT " WHERE statement = 'SELECT FROM WHERE'", 0, NULL);
	/* Prepared inside a transaction that is rolled back, it runs again after. */
	if (sv_begin(ctx) == 0) {
		step(ctx, "in-tx", "SELECT 'rolled back'", 0, NULL);
		sv_rollback(ctx);
	}
	step(ctx, "after-rollback", "SELECT 'rolled back'", 0, NULL);
	/* More distinct statements than the broker keeps: every one runs all the same. */
	for (i = 0; i < 40; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", i);
		snprintf(name, sizeof(name), "distinct-%d", i);
		step(ctx, name, sql, 0, NULL);
	}
	step(ctx, "all-statements", COUNT, 0, NULL);
	/* The least recently used went, the last ones stayed, and a gone one runs again. */
	step(ctx, "first-distinct", COUNT " WHERE statement = 'SELECT 0'", 0, NULL);
	step(ctx, "last-distinct", COUNT " WHERE statement = 'SELECT 39'", 0, NULL);
	step(ctx, "int-again", SUM, 1, &as_int);
	/* Inside a transaction, a full cache deallocates nothing: the new one runs unprepared. */
	if (sv_begin(ctx) == 0) {
		step(ctx, "full-tx", "SELECT 12345", 0, NULL);
		step(ctx, "full-tx-statements", COUNT " WHERE statement = 'SELECT 12345'", 0, NULL);
		sv_commit(ctx);
	}
	return 0;
}
