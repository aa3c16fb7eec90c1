/*
 * rights.c - exercises the SQLite rights end to end: reads through v_plugin_users and
 * writes its own table (both must work), then tries what a plugin may not do (core
 * tables, another plugin's table, schema changes, ATTACH, PRAGMA, a statement tail).
 * Every attempt is logged as "refused[label]: why" or "ALLOWED[label]"; the return
 * value is the number allowed, so 0 means every one was refused.
 */
#include <stddef.h>
#include <stdio.h>

#include <sovereign/plugin.h>

static const struct {
	const char *label;
	const char *sql;
} forbidden[] = {
	{"select-users", "SELECT email, password_hash FROM users"},
	{"select-config", "SELECT key, value FROM config"},
	{"update-users", "UPDATE users SET display_name = 'pwned'"},
	{"delete-config", "DELETE FROM config"},
	{"select-other", "SELECT v FROM plugin_other_secrets"},
	{"insert-other", "INSERT INTO plugin_other_secrets(v) VALUES ('pwned')"},
	{"drop-users", "DROP TABLE users"},
	{"create-table", "CREATE TABLE evil(x)"},
	{"attach", "ATTACH DATABASE ':memory:' AS evil"},
	{"pragma-writable-schema", "PRAGMA writable_schema = 1"},
	{"select-master", "SELECT sql FROM sqlite_master"},
	{"tail", "SELECT 1; DELETE FROM users"},
};

/* Reads the view and writes and reads back its own table; returns 0 if all worked. */
static int
permitted(sv_ctx *ctx)
{
	const char *kv[] = {"written", "by the plugin"};
	char names[512];
	size_t n = 0;
	sv_result *r;
	int i;

	r = sv_query(ctx, "SELECT display_name FROM v_plugin_users ORDER BY id", 0, NULL);
	if (r == NULL) {
		sv_log(ctx, "view read failed: %s", sv_errmsg(ctx));
		return -1;
	}
	names[0] = '\0';
	for (i = 0; i < sv_result_rows(r) && n < sizeof(names); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? "," : "",
				      sv_result_text(r, i, 0));
	sv_log(ctx, "view: %s", names);
	sv_result_free(r);

	r = sv_query(ctx, "INSERT INTO plugin_rights_notes(k, v) VALUES ($1, $2)", 2, kv);
	if (r == NULL) {
		sv_log(ctx, "own insert failed: %s", sv_errmsg(ctx));
		return -1;
	}
	sv_log(ctx, "own insert changed %lld row(s)", sv_result_changes(r));
	sv_result_free(r);

	r = sv_query(ctx, "SELECT k, v FROM plugin_rights_notes WHERE k = $1", 1, kv);
	if (r == NULL || sv_result_rows(r) != 1) {
		sv_log(ctx, "own read failed: %s", sv_errmsg(ctx));
		sv_result_free(r);
		return -1;
	}
	sv_log(ctx, "own: %s=%s", sv_result_text(r, 0, 0), sv_result_text(r, 0, 1));
	sv_result_free(r);
	return 0;
}

/* Runs the permitted part, then every forbidden statement, and counts what got through. */
int
sv_plugin_main(sv_ctx *ctx)
{
	sv_result *r;
	size_t i;
	int allowed = 0;

	if (permitted(ctx) < 0)
		return 100;
	for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		r = sv_query(ctx, forbidden[i].sql, 0, NULL);
		if (r == NULL) {
			sv_log(ctx, "refused[%s]: %s", forbidden[i].label, sv_errmsg(ctx));
			continue;
		}
		sv_log(ctx, "ALLOWED[%s]: %d row(s)", forbidden[i].label, sv_result_rows(r));
		sv_result_free(r);
		allowed++;
	}
	return allowed;
}
