/*
 * types.c - typed cells: an integer past 2^53, a double, text, a blob with a NUL in it,
 * NULL and a boolean each come back with their type and their exact value through
 * sv_result_type/_int64/_double/_blob/_text, and typed parameters (sv_query_values)
 * come back as they went. The blob literal differs by backend:
 * PostgreSQL's form is tried first (SQLite refuses it), then SQLite's. Logs "types ok: N checks" or "WRONG".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <sovereign/plugin.h>

static int wrong, checks;

/* Counts one check, and logs it when it fails. */
static void
check(sv_ctx *ctx, int ok, const char *what)
{
	checks++;
	if (!ok) {
		wrong++;
		sv_log(ctx, "WRONG %s", what);
	}
}

int
sv_plugin_main(sv_ctx *ctx)
{
	const void *blob;
	size_t len;
	sv_result *r;

	r = sv_query(ctx, "SELECT 9007199254740993, CAST(0.1 AS DOUBLE PRECISION), 'text', NULL, "
			  "true, CAST(-2.5 AS DOUBLE PRECISION)", 0, NULL);
	if (r == NULL) {
		sv_log(ctx, "WRONG query: %s", sv_errmsg(ctx));
		return 1;
	}
	check(ctx, sv_result_type(r, 0, 0) == SV_INTEGER, "integer type");
	check(ctx, sv_result_int64(r, 0, 0) == 9007199254740993LL, "integer value");
	check(ctx, strcmp(sv_result_text(r, 0, 0), "9007199254740993") == 0, "integer text");
	check(ctx, sv_result_type(r, 0, 1) == SV_REAL, "real type");
	check(ctx, sv_result_double(r, 0, 1) == 0.1, "real value");
	check(ctx, strcmp(sv_result_text(r, 0, 1), "0.1") == 0, "real text");
	check(ctx, sv_result_type(r, 0, 2) == SV_TEXT && strcmp(sv_result_text(r, 0, 2), "text") == 0,
	      "text");
	check(ctx, sv_result_type(r, 0, 3) == SV_NULL && sv_result_text(r, 0, 3) == NULL, "null");
	check(ctx, sv_result_type(r, 0, 4) == SV_INTEGER && sv_result_int64(r, 0, 4) == 1,
	      "boolean");
	check(ctx, sv_result_int64(r, 0, 5) == -2 && fabs(sv_result_double(r, 0, 5) + 2.5) < 1e-12,
	      "real to int64 truncates");
	check(ctx, sv_result_blob(r, 0, 0, &len) == NULL && len == 0, "no blob from an integer");
	check(ctx, sv_result_type(r, 9, 9) == SV_NULL, "out of range");
	sv_result_free(r);

	/* PostgreSQL's form first: to it, x'00ff01' would be a bit string. */
	r = sv_query(ctx, "SELECT '\\x00ff01'::bytea", 0, NULL);
	if (r == NULL)
		r = sv_query(ctx, "SELECT x'00ff01'", 0, NULL);
	if (r == NULL) {
		sv_log(ctx, "WRONG blob query: %s", sv_errmsg(ctx));
		return 1;
	}
	blob = sv_result_blob(r, 0, 0, &len);
	check(ctx, sv_result_type(r, 0, 0) == SV_BLOB, "blob type");
	check(ctx, blob && len == 3 && memcmp(blob, "\x00\xff\x01", 3) == 0, "blob bytes");
	check(ctx, sv_result_text(r, 0, 0) == NULL, "no text from a blob");
	sv_result_free(r);
	/* And back: typed parameters arrive as their types, exactly. */
	sv_value in[] = {
		{.type = SV_INTEGER, .integer = 9007199254740993LL},
		{.type = SV_REAL, .real = 0.1},
		{.type = SV_TEXT, .text = "it's text"},
		{.type = SV_BLOB, .blob = "\x00\xff\x01", .len = 3},
		{.type = SV_NULL},
	};
	r = sv_query_values(ctx, "SELECT $1, $2, $3, $4, $5", 5, in);
	if (r == NULL) {
		sv_log(ctx, "WRONG typed parameters: %s", sv_errmsg(ctx));
		return 1;
	}
	check(ctx, sv_result_type(r, 0, 0) == SV_INTEGER &&
		       sv_result_int64(r, 0, 0) == 9007199254740993LL, "integer parameter");
	check(ctx, sv_result_type(r, 0, 1) == SV_REAL && sv_result_double(r, 0, 1) == 0.1,
	      "real parameter");
	check(ctx, sv_result_type(r, 0, 2) == SV_TEXT &&
		       strcmp(sv_result_text(r, 0, 2), "it's text") == 0, "text parameter");
	blob = sv_result_blob(r, 0, 3, &len);
	check(ctx, blob && len == 3 && memcmp(blob, "\x00\xff\x01", 3) == 0, "blob parameter");
	check(ctx, sv_result_type(r, 0, 4) == SV_NULL, "null parameter");
	sv_result_free(r);
	r = sv_query_values(ctx, "SELECT display_name FROM v_plugin_users WHERE id = $1", 1,
			    &(sv_value){.type = SV_INTEGER, .integer = 2});
	check(ctx, r && sv_result_rows(r) == 1 && strcmp(sv_result_text(r, 0, 0), "Bob") == 0,
	      "integer parameter in a comparison");
	sv_result_free(r);
	r = sv_query_values(ctx, "SELECT $1", 1, &(sv_value){.type = 42});
	check(ctx, r == NULL && strstr(sv_errmsg(ctx), "no valid type"), "unknown type refused");
	sv_result_free(r);
	if (wrong == 0)
		sv_log(ctx, "types ok: %d checks", checks);
	return wrong;
}
