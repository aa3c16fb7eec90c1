/*
 * benign.c - the positive control run after every hostile plugin: it reads through a
 * view it is granted and returns 0, so it must always succeed if the broker is healthy.
 */
#include <stddef.h>

#include <sovereign/plugin.h>

/* Counts the users visible through v_plugin_users and reports the count. */
int
sv_plugin_main(sv_ctx *ctx)
{
	sv_result *r;

	r = sv_query(ctx, "SELECT count(*) FROM v_plugin_users", 0, NULL);
	if (r == NULL) {
		sv_log(ctx, "view read failed: %s", sv_errmsg(ctx));
		return 1;
	}
	sv_log(ctx, "ok: %s users visible", sv_result_text(r, 0, 0));
	sv_result_free(r);
	return 0;
}
