/*
 * boards.c - a read-only plugin: lists the boards of the first tenant with the names
 * of their owners, joining two v_plugin_* views. It writes nothing.
 */
#include <stddef.h>

#include <sovereign/plugin.h>

int
sv_plugin_main(sv_ctx *ctx)
{
	const char *tenant[] = {"1"};
	sv_result *r;
	int i;

	r = sv_query(ctx,
		     "SELECT b.name, u.display_name FROM v_plugin_boards b "
		     "JOIN v_plugin_users u ON u.id = b.owner_id "
		     "WHERE b.tenant_id = $1 ORDER BY b.id",
		     1, tenant);
	if (r == NULL) {
		sv_log(ctx, "cannot list boards: %s", sv_errmsg(ctx));
		return 1;
	}
	for (i = 0; i < sv_result_rows(r); i++)
		sv_log(ctx, "board '%s' owned by %s", sv_result_text(r, i, 0),
		       sv_result_text(r, i, 1));
	sv_log(ctx, "%d boards", sv_result_rows(r));
	sv_result_free(r);
	return 0;
}
