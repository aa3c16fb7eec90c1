/*
 * cancel.c - sv_cancel(): a pipeline of a write, a statement that would run until the
 * deadline (its text comes from plugin_cancel_cfg 'slow', as each backend spells one),
 * and a second write, cancelled once the broker is well into the slow one. The first
 * write was answered before the cancel and stays; the slow statement is interrupted;
 * the second write never runs. Then the session serves as before. Logs "ok: ..." for each
 * step the test looks for and "WRONG ..." for anything out of place; returns the number
 * of wrong things.
 */
#include <string.h>
#include <time.h>

#include <sovereign/plugin.h>

/* The text of config key @key, copied into @buf; "" when unset. */
static const char *
cfg(sv_ctx *ctx, const char *key, char *buf, size_t len)
{
	const char *p[] = {key};
	sv_result *r = sv_query(ctx, "SELECT value FROM plugin_cancel_cfg WHERE key = $1", 1, p);

	buf[0] = '\0';
	if (r && sv_result_rows(r) == 1 && sv_result_text(r, 0, 0))
		strncpy(buf, sv_result_text(r, 0, 0), len - 1);
	buf[len - 1] = '\0';
	sv_result_free(r);
	return buf;
}

/* Receives one answer and checks whether it failed with @prefix (NULL: it must succeed). */
static int
expect(sv_ctx *ctx, const char *what, const char *prefix)
{
	sv_result *r = sv_query_recv(ctx);
	int wrong = prefix ? r != NULL || strncmp(sv_errmsg(ctx), prefix, strlen(prefix)) != 0
			   : r == NULL;

	if (wrong)
		sv_log(ctx, "WRONG %s: %s", what, r ? "it succeeded" : sv_errmsg(ctx));
	else
		sv_log(ctx, "ok: %s: %s", what, r ? "answered" : sv_errmsg(ctx));
	sv_result_free(r);
	return wrong;
}

int
sv_plugin_main(sv_ctx *ctx)
{
	const char *before[] = {"before"}, *after[] = {"after"};
	struct timespec pause = {0, 300 * 1000 * 1000};
	char slow[512];
	sv_result *r;
	int wrong = 0;

	if (sv_cancel(ctx) != 0)
		wrong += (sv_log(ctx, "WRONG: a cancel with nothing in flight failed"), 1);
	cfg(ctx, "slow", slow, sizeof(slow));
	sv_query_send(ctx, "INSERT INTO plugin_cancel_rows(note) VALUES ($1)", 1, before);
	sv_query_send(ctx, slow, 0, NULL);
	sv_query_send(ctx, "INSERT INTO plugin_cancel_rows(note) VALUES ($1)", 1, after);
	/* A log line writes the queued statements out; the broker starts on them now. */
	sv_log(ctx, "sent");
	nanosleep(&pause, NULL);
	if (sv_cancel(ctx) != 0)
		wrong += (sv_log(ctx, "WRONG: sv_cancel: %s", sv_errmsg(ctx)), 1);
	wrong += expect(ctx, "the write before", NULL);
	wrong += expect(ctx, "the slow statement", "cancelled while it ran");
	wrong += expect(ctx, "the write after", "cancelled before it ran");
	/* The session is as it was: the first write is there, the second is not. */
	r = sv_query(ctx, "SELECT note FROM plugin_cancel_rows ORDER BY id", 0, NULL);
	if (r == NULL || sv_result_rows(r) != 1 || strcmp(sv_result_text(r, 0, 0), "before") != 0)
		wrong += (sv_log(ctx, "WRONG: after the cancel the rows are not just 'before'"), 1);
	else
		sv_log(ctx, "ok: the session serves again and holds only the write before");
	sv_result_free(r);
	return wrong;
}
