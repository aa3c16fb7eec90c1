/*
 * pipeline.c - sv_query_send()/sv_query_recv(): a full pipeline of SV_PIPELINE_MAX
 * statements sent before any answer is read, mixing view reads, writes to the plugin's
 * own table and a refused read of users; each answer is checked by content and order.
 * While answers wait, one more send and a plain sv_query() must fail; drained, both work.
 * Logs "ok: ..." lines the test looks for, and "WRONG ..." for anything out of place;
 * returns the number of wrong things.
 */
#include <stdio.h>
#include <string.h>

#include <sovereign/plugin.h>

static const char *const names[] = {"Alice", "Bob", "Carol"};

/* What statement @i of the pipeline is: 'r'ead, 'w'rite or 'x' (refused). */
static char
kind(int i)
{
	return i % 8 == 5 ? 'x' : i % 8 == 3 ? 'w' : 'r';
}

/* Sends statement @i; returns 0 or 1 (a wrong thing). */
static int
send_one(sv_ctx *ctx, int i)
{
	char arg[16];
	const char *p[] = {arg};
	int r;

	switch (kind(i)) {
	case 'x':
		r = sv_query_send(ctx, "SELECT email FROM users WHERE id = 1", 0, NULL);
		break;
	case 'w':
		snprintf(arg, sizeof(arg), "n%d", i);
		r = sv_query_send(ctx, "INSERT INTO plugin_pipeline_rows(note) VALUES ($1)", 1, p);
		break;
	default:
		snprintf(arg, sizeof(arg), "%d", i % 3 + 1);
		r = sv_query_send(ctx, "SELECT display_name FROM v_plugin_users WHERE id = $1", 1,
				  p);
		break;
	}
	if (r < 0)
		sv_log(ctx, "WRONG send %d: %s", i, sv_errmsg(ctx));
	return r < 0;
}

/* Receives the answer to statement @i and checks it; returns 0 or 1. */
static int
check_one(sv_ctx *ctx, int i)
{
	sv_result *r = sv_query_recv(ctx);
	int wrong = 0;

	switch (kind(i)) {
	case 'x':
		wrong = r != NULL || strncmp(sv_errmsg(ctx), "not permitted", 13) != 0;
		break;
	case 'w':
		wrong = r == NULL || sv_result_changes(r) != 1;
		break;
	default:
		wrong = r == NULL || sv_result_rows(r) != 1 ||
			strcmp(sv_result_text(r, 0, 0), names[i % 3]) != 0;
		break;
	}
	if (wrong)
		sv_log(ctx, "WRONG answer %d (%c): %s", i, kind(i),
		       r ? (sv_result_rows(r) ? sv_result_text(r, 0, 0) : "no rows") : sv_errmsg(ctx));
	sv_result_free(r);
	return wrong;
}

int
sv_plugin_main(sv_ctx *ctx)
{
	sv_result *r;
	int i, wrong = 0;

	for (i = 0; i < SV_PIPELINE_MAX; i++)
		wrong += send_one(ctx, i);
	if (sv_query_send(ctx, "SELECT 1", 0, NULL) == 0)
		wrong += (sv_log(ctx, "WRONG: a send past SV_PIPELINE_MAX was taken"), 1);
	else
		sv_log(ctx, "ok: send past the pipeline refused: %s", sv_errmsg(ctx));
	if ((r = sv_query(ctx, "SELECT 1", 0, NULL)) != NULL) {
		sv_result_free(r);
		wrong += (sv_log(ctx, "WRONG: sv_query ran while answers waited"), 1);
	} else {
		sv_log(ctx, "ok: sv_query refused while answers wait: %s", sv_errmsg(ctx));
	}
	for (i = 0; i < SV_PIPELINE_MAX; i++)
		wrong += check_one(ctx, i);
	if ((r = sv_query_recv(ctx)) != NULL) {
		sv_result_free(r);
		wrong += (sv_log(ctx, "WRONG: an answer with nothing sent"), 1);
	}
	/* Drained: the plain call works again, and sees every write of the pipeline. */
	r = sv_query(ctx, "SELECT count(*) FROM plugin_pipeline_rows", 0, NULL);
	if (r == NULL || strcmp(sv_result_text(r, 0, 0), "8") != 0)
		wrong += (sv_log(ctx, "WRONG: after the pipeline: %s",
				 r ? sv_result_text(r, 0, 0) : sv_errmsg(ctx)), 1);
	else
		sv_log(ctx, "ok: %d answers in order, 8 rows written, 8 reads refused",
		       SV_PIPELINE_MAX);
	sv_result_free(r);
	return wrong;
}
