/*
 * hello.c - the demo plugin: reads users through the v_plugin_users view, records a
 * visit in its own table inside a transaction (after showing what a rollback drops),
 * and shows that a core table is out of its reach.
 *
 * Build: cc -shared -fPIC -I<svrun>/include hello.c -o hello.so
 * Run:   svrun init --demo && svrun hello.so
 */
#include <stddef.h>

#include <sovereign/plugin.h>

int
sv_plugin_main(sv_ctx *ctx)
{
	const char *note[] = {"hello from the sandbox"};
	sv_result *r;
	int i;

	r = sv_query(ctx, "SELECT id, display_name FROM v_plugin_users ORDER BY id", 0, NULL);
	if (r == NULL) {
		sv_log(ctx, "cannot list users: %s", sv_errmsg(ctx));
		return 1;
	}
	for (i = 0; i < sv_result_rows(r); i++)
		sv_log(ctx, "user %s: %s", sv_result_text(r, i, 0), sv_result_text(r, i, 1));
	sv_result_free(r);

	/* A rolled-back transaction leaves nothing; a committed one lands whole. */
	if (sv_begin(ctx) < 0 || (r = sv_query(ctx, "INSERT INTO plugin_hello_visits(user_id, "
						    "note) VALUES (2, 'rolled back')",
					       0, NULL)) == NULL) {
		sv_log(ctx, "cannot start the first transaction: %s", sv_errmsg(ctx));
		return 1;
	}
	sv_result_free(r);
	if (sv_rollback(ctx) < 0) {
		sv_log(ctx, "cannot roll back: %s", sv_errmsg(ctx));
		return 1;
	}
	if (sv_begin(ctx) < 0) {
		sv_log(ctx, "cannot begin: %s", sv_errmsg(ctx));
		return 1;
	}
	r = sv_query(ctx, "INSERT INTO plugin_hello_visits(user_id, note) VALUES (1, $1)", 1,
		     note);
	if (r == NULL || sv_commit(ctx) < 0) {
		sv_log(ctx, "cannot record the visit: %s", sv_errmsg(ctx));
		sv_result_free(r);
		return 1;
	}
	sv_result_free(r);
	r = sv_query(ctx, "SELECT count(*) FROM plugin_hello_visits", 0, NULL);
	if (r == NULL) {
		sv_log(ctx, "cannot count visits: %s", sv_errmsg(ctx));
		return 1;
	}
	sv_log(ctx, "visits recorded so far: %s", sv_result_text(r, 0, 0));
	sv_result_free(r);

	/* The core table behind the view is out of reach: the broker refuses, clearly. */
	r = sv_query(ctx, "SELECT email, password_hash FROM users", 0, NULL);
	if (r != NULL) {
		sv_log(ctx, "unexpected: the users table was readable");
		sv_result_free(r);
		return 1;
	}
	sv_log(ctx, "reading the users table: %s (as it should be)", sv_errmsg(ctx));
	return 0;
}
