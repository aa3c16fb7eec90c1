/*
 * pages.c - a read of 50,000 rows of about 100 bytes, some 5 MB: refused whole by
 * sv_query (over the 2 MiB --max-result), then read through sv_query_pages() a page of
 * 1,000 rows at a time, every row checked in order. Also: every other call fails while
 * pages are open, sv_close_pages() ends it early, a write cannot be paged, and the
 * session works normally afterwards. The SQL differs by backend: PostgreSQL's is tried
 * first. Logs "pages ok: ..." or "WRONG ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sovereign/plugin.h>

#define ROWS 50000

static const char *const pg_sql =
	"SELECT n, lpad(n::text, 100, '0') FROM generate_series(1, 50000) AS g(n)";
static const char *const sqlite_sql =
	"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 50000) "
	"SELECT n, substr('0000000000000000000000000000000000000000000000000000000000000000"
	"0000000000000000000000000000000000000000' || n, -100) FROM c";

static int wrong;

/* Logs a failed check. */
static void
check(sv_ctx *ctx, int ok, const char *what)
{
	if (!ok) {
		wrong++;
		sv_log(ctx, "WRONG %s: %s", what, sv_errmsg(ctx));
	}
}

int
sv_plugin_main(sv_ctx *ctx)
{
	const char *sql = pg_sql;
	long long next = 1;
	int pages = 0;
	sv_result *r;

	/* Which backend: PostgreSQL's SQL fails on SQLite before it runs. */
	r = sv_query(ctx, "SELECT lpad('1', 2, '0')", 0, NULL);
	if (r == NULL)
		sql = sqlite_sql;
	sv_result_free(r);

	r = sv_query(ctx, sql, 0, NULL);
	check(ctx, r == NULL && strstr(sv_errmsg(ctx), "exceeds the session's limits"),
	      "the whole result was not refused");
	sv_result_free(r);

	for (r = sv_query_pages(ctx, sql, 0, NULL, 1000); r; r = sv_next_page(ctx)) {
		pages++;
		for (int i = 0; i < sv_result_rows(r); i++, next++)
			if (sv_result_int64(r, i, 0) != next ||
			    strtoll(sv_result_text(r, i, 1), NULL, 10) != next ||
			    strlen(sv_result_text(r, i, 1)) != 100) {
				check(ctx, 0, "a row out of order");
				break;
			}
		if (pages == 1) {
			sv_result *other = sv_query(ctx, "SELECT 1", 0, NULL);

			check(ctx, other == NULL && strstr(sv_errmsg(ctx), "paged query is open"),
			      "a query ran while pages were open");
			sv_result_free(other);
		}
		sv_result_free(r);
	}
	check(ctx, sv_errmsg(ctx)[0] == '\0', "paging failed");
	check(ctx, next == ROWS + 1, "not every row came");

	/* Ended early: the next page is not there, and the session is free again. */
	r = sv_query_pages(ctx, sql, 0, NULL, 100);
	sv_result_free(r);
	check(ctx, r != NULL && sv_close_pages(ctx) == 0, "closing early failed");
	check(ctx, sv_next_page(ctx) == NULL && sv_errmsg(ctx)[0] == '\0', "a page after close");
	r = sv_query_pages(ctx, "INSERT INTO plugin_pages_rows(n) VALUES (1)", 0, NULL, 10);
	check(ctx, r == NULL && strstr(sv_errmsg(ctx), "must only read"), "a write was paged");
	sv_result_free(r);
	r = sv_query(ctx, "SELECT count(*) FROM plugin_pages_rows", 0, NULL);
	check(ctx, r != NULL && sv_result_int64(r, 0, 0) == 0, "the session after paging");
	sv_result_free(r);
	if (wrong == 0)
		sv_log(ctx, "pages ok: %lld rows in %d pages", next - 1, pages);
	return wrong;
}
