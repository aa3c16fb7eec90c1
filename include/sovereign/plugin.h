/*
 * sovereign/plugin.h - the whole interface between a Sovereign plugin and svrun.
 *
 * A plugin is a shared object that defines sv_plugin_main(). svrun loads it inside a
 * sandbox with no files, no network and no credentials; every call below becomes a
 * request to the broker, which decides and answers it. Build a plugin with
 *
 *	cc -shared -fPIC -I<svrun>/include plugin.c -o myplugin.so
 *
 * The SDK functions are resolved from the svrun process when the plugin is loaded, so
 * nothing needs to be linked. The plugin id is the file's basename without ".so"; it
 * matches [a-z][a-z0-9]* and names the plugin's own tables: plugin_<id>_<name>.
 */
#ifndef SOVEREIGN_PLUGIN_H
#define SOVEREIGN_PLUGIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when a change to the request protocol breaks existing plugins. */
#define SV_PLUGIN_ABI_VERSION 1

typedef struct sv_ctx sv_ctx;
typedef struct sv_result sv_result;

/* The type of a cell, as the database gave it, or of a parameter. */
enum sv_type {
	SV_NULL = 0,	/* SQL NULL */
	SV_INTEGER = 1,	/* a 64-bit integer; PostgreSQL's int2, int4, int8 and boolean (1, 0) */
	SV_REAL = 2,	/* a double; PostgreSQL's float4 and float8 */
	SV_TEXT = 3,	/* text, and on PostgreSQL every other type, as its text form */
	SV_BLOB = 4,	/* bytes, NULs included; PostgreSQL's bytea */
};

/*
 * Written by the plugin; called once, inside the sandbox. Its return value (0..125) is
 * svrun's exit status; values outside that range are reported as 125.
 */
int sv_plugin_main(sv_ctx *ctx);

/*
 * Runs one SQL statement with $1..$n placeholders bound to @params (a NULL entry binds
 * SQL NULL). Returns the result, to be freed with sv_result_free(), or NULL when the
 * broker refused or the statement failed; sv_errmsg() then says why. A refusal reads
 * "not permitted: <object>".
 */
sv_result *sv_query(sv_ctx *ctx, const char *sql, int nparams, const char *const *params);

/* A typed parameter for sv_query_values(): .type says which other field holds it. */
typedef struct sv_value {
	int type;		/* enum sv_type */
	long long integer;	/* SV_INTEGER */
	double real;		/* SV_REAL */
	const char *text;	/* SV_TEXT: NUL-terminated; NULL binds SQL NULL */
	const void *blob;	/* SV_BLOB: @len bytes, NULs included */
	size_t len;
} sv_value;

/*
 * sv_query() with typed parameters: an integer binds as an integer (int8 on PostgreSQL),
 * a double as a double (float8), a blob as bytes (bytea), text as text. An unknown
 * type fails the call before anything is sent.
 */
sv_result *sv_query_values(sv_ctx *ctx, const char *sql, int nparams, const sv_value *params);

/*
 * Paging, for a read whose result is larger than one answer may be (--max-result):
 * sv_query_pages() runs it and returns its first page of at most @page_rows rows (fewer
 * where the limits end a page); sv_next_page() returns each next page, and NULL once the
 * last one was returned (sv_errmsg() is then "") or on failure; sv_close_pages() drops
 * the rest. Neither the broker nor the plugin ever holds more than one page. One paged
 * query at a time: until its last page or sv_close_pages(), every other call fails. It
 * reads one snapshot, and on SQLite holds its read lock until it ends, so read promptly.
 *
 *	for (r = sv_query_pages(ctx, sql, 0, NULL, 1000); r; r = sv_next_page(ctx)) {
 *		... sv_result_rows(r) rows ...
 *		sv_result_free(r);
 *	}
 *	if (sv_errmsg(ctx)[0]) ... it failed ...
 */
sv_result *sv_query_pages(sv_ctx *ctx, const char *sql, int nparams, const char *const *params,
			  int page_rows);
sv_result *sv_next_page(sv_ctx *ctx);
int sv_close_pages(sv_ctx *ctx);

/*
 * Pipelining: sv_query_send() sends a statement without waiting for its answer, and
 * sv_query_recv() returns the answers, one per call, in the order the statements were
 * sent, each as sv_query() would have (a result, or NULL with sv_errmsg()). A run of
 * statements then costs about one round trip to the broker, not one each. At most
 * SV_PIPELINE_MAX statements (and 64 KiB of them) await answers at once; past that
 * sv_query_send() returns -1 until one is received. While any answer awaits,
 * sv_query(), sv_begin(), sv_commit() and sv_rollback() fail. Statements run one after
 * another, in order, exactly as if each had been sent with sv_query(): a refused one
 * does not stop the ones after it.
 */
#define SV_PIPELINE_MAX 64
int sv_query_send(sv_ctx *ctx, const char *sql, int nparams, const char *const *params);
int sv_query_send_values(sv_ctx *ctx, const char *sql, int nparams, const sv_value *params);
sv_result *sv_query_recv(sv_ctx *ctx);

/*
 * Cancels every statement sent with sv_query_send() whose answer has not been received:
 * one the broker has not started is not run, one it is running is interrupted and
 * changes nothing, one already done keeps its result. Their answers still come, in
 * order, from sv_query_recv(): a cancelled one's is NULL with sv_errmsg() starting
 * "cancelled". Returns 0 (also when nothing awaits an answer), or -1 with sv_errmsg().
 */
int sv_cancel(sv_ctx *ctx);


/* Number of rows and columns of @r (0 for a statement that returns no rows). */
int sv_result_rows(const sv_result *r);
int sv_result_cols(const sv_result *r);

/* Name of column @col, or NULL when @col is out of range. */
const char *sv_result_name(const sv_result *r, int col);

/*
 * Text of the cell at @row, @col, valid until sv_result_free(): the text of an SV_TEXT
 * cell, the decimal form of an SV_INTEGER or SV_REAL one. NULL for SQL NULL, for a blob
 * (see sv_result_blob) and for a cell out of range.
 */
const char *sv_result_text(const sv_result *r, int row, int col);

/* The enum sv_type of the cell at @row, @col; SV_NULL for a cell out of range. */
int sv_result_type(const sv_result *r, int row, int col);

/*
 * The cell at @row, @col as an integer or a double: an SV_INTEGER or SV_REAL cell
 * converted (a double truncated toward zero), 0 for anything else.
 */
long long sv_result_int64(const sv_result *r, int row, int col);
double sv_result_double(const sv_result *r, int row, int col);

/*
 * The bytes of an SV_BLOB cell and their number in *@len, valid until sv_result_free();
 * NULL (and *@len 0) for any other cell.
 */
const void *sv_result_blob(const sv_result *r, int row, int col, size_t *len);

/* Number of rows the last INSERT, UPDATE or DELETE changed; 0 for other statements. */
long long sv_result_changes(const sv_result *r);

/*
 * The plugin's own transaction: sv_begin() opens it, sv_commit() makes what it did
 * permanent, sv_rollback() drops it. Each statement inside stays atomic on its own; if
 * the plugin ends or is killed with a transaction open, nothing of it lands. Return 0,
 * or -1 with the reason in sv_errmsg().
 */
int sv_begin(sv_ctx *ctx);
int sv_commit(sv_ctx *ctx);
int sv_rollback(sv_ctx *ctx);

/* Frees @r; sv_result_free(NULL) does nothing. */
void sv_result_free(sv_result *r);

/* Why the last call on @ctx failed, or "" if it did not. */
const char *sv_errmsg(const sv_ctx *ctx);

/* Sends one log line to the broker, which prints it tagged with the plugin id. */
void sv_log(sv_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif
