/*
 * broker.h - the trusted side's data access: the core database and one restricted
 * session per plugin.
 *
 * The broker opens the database with core rights (sv_db_open), then gives each plugin a
 * session (sv_session_open) whose every statement runs under that plugin's rights only:
 * on SQLite a separate connection guarded by an authorizer (RFC-0005). Every statement a
 * session runs is hostile input; errors are split into what the plugin may read (@err,
 * never naming schema it cannot see) and what the operator reads (sv_session_reason()).
 *
 * Database URIs: "sqlite:PATH" (PATH relative to the working directory), and
 * "postgresql://..." (libpq's URI; the password never in it: PGPASSFILE or ~/.pgpass).
 */
#ifndef SV_BROKER_H
#define SV_BROKER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/common.h"
#include "proto/frame.h"

struct sv_db;
struct sv_session;

/*
 * A result in row-major order. Cell i = r * ncols + c has type types[i] (an enum
 * sv_type) and lens[i] bytes at cells[i], always NUL-terminated: the text of SV_TEXT,
 * the decimal form of SV_INTEGER and SV_REAL (exact: sv_format_double), the bytes of
 * SV_BLOB;
 * cells[i] is NULL for SV_NULL.
 */
struct sv_rows {
	size_t ncols;
	size_t nrows;
	char **names;
	char **cells;
	size_t *lens;
	unsigned char *types;
	long long changes;
};

/* Limits of one session; sv_session_open() starts from sv_session_default_limits(). */
struct sv_session_limits {
	size_t result_bytes;	/* sum over cells of (length + 8), names included */
	size_t result_rows;
	size_t sql_bytes;	    /* longest statement accepted */
	size_t params;		    /* most parameters in one statement */
	unsigned long statement_ms; /* longest one statement may run (PostgreSQL) */
	unsigned long idle_tx_ms;   /* longest a transaction may sit idle (PostgreSQL) */
};

void sv_session_default_limits(struct sv_session_limits *lim);

/*
 * Opens the database named by @uri with core rights. Returns 0, or -errno with a message
 * in @err: -ENOENT when the database does not exist (the message says how to create it
 * with "svrun init"), -EINVAL for a malformed or unsupported URI, -EIO when it cannot be
 * opened or lacks the Sovereign core schema.
 */
int sv_db_open(const char *uri, struct sv_db **out, char *err, size_t errlen);

/*
 * Creates the Sovereign core schema (tenants, users, config, boards, the v_plugin_*
 * views) in the database named by @uri, creating the file if needed; with @demo, also
 * demo rows and the example plugin's table plugin_hello_visits. Returns 0, -EEXIST if
 * the schema is already there, or -errno with a message in @err.
 */
int sv_db_init(const char *uri, int demo, char *err, size_t errlen);

/* Closes @db; sv_db_close(NULL) does nothing. Every session must be closed first. */
void sv_db_close(struct sv_db *db);

/*
 * Opens a session for plugin @plugin_id (already checked against [a-z][a-z0-9]*) with
 * @lim (NULL for the defaults). Returns 0 or -errno with a message in @err: -EBUSY when
 * another statement keeps the database locked (SQLite), past the busy timeout, or at
 * once inside another statement's turn.
 */
int sv_session_open(struct sv_db *db, const char *plugin_id, const struct sv_session_limits *lim,
		    struct sv_session **out, char *err, size_t errlen);

/* Closes @s, rolling back anything it left open; sv_session_close(NULL) does nothing. */
void sv_session_close(struct sv_session *s);

/*
 * Interrupts any statement of @s still running once CLOCK_MONOTONIC passes
 * @deadline_ns (0: no deadline).
 */
void sv_session_set_deadline(struct sv_session *s, uint64_t deadline_ns);

/*
 * Has @s call @cancelled(@arg) while a statement of it runs, every 100 µs at most: when
 * it returns non-zero the statement is interrupted, changes nothing, and fails with
 * -ECANCELED. Meanwhile the callback may run statements of other sessions, never of
 * @s. @cancelled NULL: never asked.
 */
void sv_session_set_cancel(struct sv_session *s, int (*cancelled)(void *arg), void *arg);

/*
 * Runs exactly one statement of @sql with @nparams parameters ($1..$n; NULL binds SQL
 * NULL) under the plugin's rights. Returns 0 and the result in *@out (to be cleared with
 * sv_rows_clear), or -errno with the message for the plugin in @err:
 *  -EACCES     refused: "not permitted: <object>"
 *  -EINVAL     not exactly one statement, bad parameters, or an SQL error
 *  -E2BIG      the result exceeds the session's limits
 *  -ETIMEDOUT  interrupted at the deadline
 *  -ECANCELED  interrupted by sv_session_set_cancel()'s callback
 *  -EAGAIN     run inside that callback, the database is locked by the statement it
 *              was called from, which cannot end while this one waits: nothing of it
 *              was done; ask again once that statement has ended
 *  -EIO        the database failed
 * Nothing is changed when the call fails.
 */
int sv_session_query(struct sv_session *s, const char *sql, size_t nparams,
		     const char *const *params, struct sv_rows *out, char *err, size_t errlen);

/* A typed statement parameter: @type (an enum sv_type) says which other field holds it. */
struct sv_param {
	unsigned char type;
	long long integer;
	double real;
	const char *data;	/* SV_TEXT: NUL-terminated text; SV_BLOB: @len bytes */
	size_t len;
};

/* sv_session_query() with typed parameters, bound as their types say. */
int sv_session_query_values(struct sv_session *s, const char *sql, size_t nparams,
			    const struct sv_param *params, struct sv_rows *out, char *err,
			    size_t errlen);

/*
 * Paging: sv_session_open_pages() opens the session's one cursor over a read of @sql
 * (refused with -EINVAL for anything that writes), sv_session_next_page() reads its next
 * page of at most @rows rows (and within the result limits) into @out and says in *@more
 * whether another follows; the cursor closes by itself after the last page or a failure,
 * or with sv_session_close_pages(), but not after -EAGAIN: the page is then asked again,
 * from where the cursor was. While it is open every other request of @s fails
 * with -EBUSY. The read keeps one snapshot (and on SQLite its read lock) until it ends,
 * so the run's deadline bounds it. Errors as sv_session_query().
 */
int sv_session_open_pages(struct sv_session *s, const char *sql, size_t nparams,
			  const struct sv_param *params, char *err, size_t errlen);
int sv_session_next_page(struct sv_session *s, size_t rows, struct sv_rows *out, int *more,
			 char *err, size_t errlen);
void sv_session_close_pages(struct sv_session *s);

/* Whether @s has a cursor open. */
int sv_session_paging(const struct sv_session *s);

/*
 * Marks the start (@on) and the end of a run of requests on @s served back to back: a
 * pipelined run, or the runner's read lease (runner/session.c). Inside a run a backend
 * may serve consecutive reads from one snapshot, paying for a read transaction once
 * instead of once per read; a write still commits before it is answered, and the end of
 * the run releases every lock. Backends without such a saving ignore it. Returns whether
 * the backend has one.
 */
int sv_session_batch(struct sv_session *s, int on);

/* How the next request on a session may treat its read: see sv_session_defer(). */
enum sv_defer {
	SV_DEFER_OFF = 0,	/* run it and wait for its answer */
	SV_DEFER_SEND = 1,	/* send it ahead; a read sent ahead before, collect */
	SV_DEFER_NESTED = 2,	/* send it ahead; collect one only once its answer is here */
};

/*
 * Lets the next read on @s be sent and left running (@mode not SV_DEFER_OFF), so the
 * runner can send other plugins' statements before it waits for any one answer: the
 * query then returns -EAGAIN at once ("sent ahead"), and the same request, asked again,
 * collects the answer; any other request first reads the abandoned one's results to
 * their end. With SV_DEFER_NESTED, for a caller that runs inside another statement's
 * wait, the same request asked again while its answer has not come returns -EAGAIN
 * ("still running") rather than wait, which would hold that other statement. Only a
 * backend whose statements run elsewhere (PostgreSQL) does it; the others ignore it.
 */
void sv_session_defer(struct sv_session *s, enum sv_defer mode);

/* Whether a read of @s was sent ahead and waits to be collected. */
int sv_session_in_flight(const struct sv_session *s);

/* What a plugin asks of its transaction. */
enum sv_txn { SV_TXN_BEGIN = 1, SV_TXN_COMMIT = 2, SV_TXN_ROLLBACK = 3 };

/*
 * Begins, commits or rolls back the plugin's own transaction on @s. Within one, each
 * statement stays atomic on its own; closing the session rolls back what is still open,
 * so a plugin that dies mid-transaction leaves nothing behind. Returns 0, or -EINVAL
 * (begin inside a transaction, commit or rollback outside one), -EAGAIN as
 * sv_session_query() (a COMMIT keeps the transaction open, to be asked again) or -EIO,
 * with @err set.
 */
int sv_session_txn(struct sv_session *s, enum sv_txn op, char *err, size_t errlen);

/*
 * The tables and views the last statement of @s named, allowed or not, space-separated
 * (valid until the next call on @s); NULL when the backend cannot tell (PostgreSQL).
 */
const char *sv_session_objects(const struct sv_session *s);

/* The full reason of the last failure of @s, for the operator's log ("" if none). */
const char *sv_session_reason(const struct sv_session *s);

/* Frees what @r holds and zeroes it. */
void sv_rows_clear(struct sv_rows *r);

/* A column type a manifest may declare; each backend writes it in its own dialect. */
enum sv_column_type {
	SV_COL_ID = 1, /* integer primary key, filled in when not given */
	SV_COL_INTEGER,
	SV_COL_REAL,
	SV_COL_TEXT,
	SV_COL_BOOLEAN,
	SV_COL_TIMESTAMP,
};

struct sv_column {
	char *name;
	enum sv_column_type type;
	int not_null;
};

/* One table a plugin owns: plugin_<id>_<name>, created and owned by core. */
struct sv_table {
	char *name; /* the full name, plugin_<id>_<name> */
	struct sv_column *cols;
	size_t ncols;
};

/* What one plugin may touch: read the listed views, write its own tables. */
struct sv_rights {
	char id[65];
	int all_views; /* no manifest: every v_plugin_* view there is */
	char **views;  /* else these, each v_plugin_* */
	size_t nviews;
	struct sv_table *tables; /* tables to create; existing plugin_<id>_* are kept */
	size_t ntables;
};

/* Frees what @r holds and zeroes it. */
void sv_rights_clear(struct sv_rights *r);

/*
 * Installs the plugin of @r: creates its tables (owned by core), and on PostgreSQL its
 * role svc_plugin_<id> with exactly the grants @r implies, and records what was granted
 * for sv_audit(). With @plan, nothing runs: the statements are printed there instead.
 * Returns 0, or -errno with @err set; on failure nothing is changed.
 */
int sv_install(struct sv_db *db, const struct sv_rights *r, FILE *plan, char *err, size_t errlen);

/*
 * Removes plugin @id: its grants and role, its record, and its tables unless
 * @keep_data. @plan as for sv_install(). Returns 0, -ENOENT when it is not installed,
 * or -errno with @err set.
 */
int sv_uninstall(struct sv_db *db, const char *id, int keep_data, FILE *plan, char *err,
		 size_t errlen);

/*
 * Whether @s is [a-z][a-z0-9]* (with '_' too when @underscores) and at most @max bytes:
 * the names that may stand in SQL as identifiers (plugin ids, tables, columns, views).
 */
int sv_is_plain_name(const char *s, size_t max, int underscores);

/* Whether plugin @id is installed in @db: 1, 0, or -errno with @err set. */
int sv_is_installed(struct sv_db *db, const char *id, char *err, size_t errlen);

/*
 * Compares what every installed plugin can do, read from the live catalog, with what it
 * was granted, and checks the core hardening. Prints one line per excess on @report.
 * Returns the number of excesses, or -errno with @err set.
 */
int sv_audit(struct sv_db *db, FILE *report, char *err, size_t errlen);

/* The audit trail (audit.c): one JSON line per request, in a file of the operator's. */
struct sv_audit;

/*
 * Opens (creating, mode 0600) the audit trail @path for appending; with @params,
 * parameter values are recorded too. Returns 0 or -errno with @err set.
 */
int sv_audit_open(const char *path, int params, struct sv_audit **out, char *err, size_t errlen);

/* sv_audit_close(NULL) does nothing. */
void sv_audit_close(struct sv_audit *a);

const char *sv_audit_path(const struct sv_audit *a);

/* What one request was and how it was decided. */
struct sv_audit_request {
	const char *plugin;
	uint64_t id;			/* the request id the plugin gave */
	const char *op;			/* "query", "begin", "commit", "rollback" */
	const char *sql;		/* NULL for a transaction request */
	size_t nparams;
	const char *const *params;	/* recorded only if the trail was opened with them */
	const char *objects;		/* space-separated names, or NULL: not known */
	const char *decision;		/* "allowed", "refused" or "failed" */
	const char *reason;		/* why, for the operator; NULL or "" when allowed */
	size_t rows;
	size_t bytes;			/* of the cells returned */
	uint64_t latency_ns;
};

/*
 * Appends one line for @q in one write. Returns 0, or -errno (-ENOSPC for a full disk)
 * when the line could not be written whole; the caller then must not answer.
 */
int sv_audit_request(struct sv_audit *a, const struct sv_audit_request *q);

/*
 * Appends one line for event @op of @plugin ("start", "end"); @fmt (trusted text only)
 * adds JSON members, e.g. "\"status\":%d". Returns 0 or -errno like sv_audit_request().
 */
int sv_audit_event(struct sv_audit *a, const char *plugin, const char *op, const char *fmt, ...)
	SV_PRINTF(4, 5);

/*
 * One plugin's end of the channel, as the dispatcher sees it. The runner owns the
 * descriptors and the session; the dispatcher only reads and answers frames.
 */
struct sv_peer {
	const char *plugin_id;
	struct sv_session *session;
	int fd;			/* the channel, for answers */
	struct sv_outbox out;	/* answers not yet written: see sv_peer_flush() */
	int hello_seen;		/* the handshake came, exactly once, first */
	unsigned long requests;	/* queries answered so far */
	unsigned long max_requests;
	size_t log_max;		/* bytes of sv_log lines printed; 0: no limit */
	size_t log_bytes;	/* printed so far */
	size_t log_dropped;	/* past the limit, counted */
	int debug;		/* refusals carry the full reason to the plugin */
	int trace;		/* each request and answer is printed on stderr */
	struct sv_audit *audit;	/* where each request is recorded, or NULL */
	size_t page_rows;	/* rows per page of the open paged query */
	uint64_t serving;	/* the id of the query running now, or 0 */
	uint64_t cancel_through; /* queries up to this id are cancelled (Cancel frames) */
	const int *crowded;	/* nonzero: answers ask the plugin not to spin; may be NULL */
	int told_crowded;	/* what the last answer asked */
};

/*
 * Decodes one frame from @p and answers it: a query runs in p->session, a log line is
 * printed on stderr tagged with the plugin id. Answers queue in p->out, written (without
 * blocking) once it holds SV_OUTBOX_FLUSH bytes, or at sv_peer_flush(). Returns 0;
 * -EPROTO with the reason in @why when the frame is malformed, unexpected, or over a
 * limit (the caller ends that plugin, nothing else); -EIO with the reason in @why when
 * the request could not be recorded in p->audit (it was not answered); -EAGAIN when, run
 * inside another statement's cancel callback, it met that statement's lock: nothing of
 * it was done, recorded or answered, and the caller gives the same frame again once that
 * statement has ended; or -errno when an answer cannot be made or written.
 */
int sv_dispatch_frame(struct sv_peer *p, const uint8_t *payload, size_t len, char *why,
		      size_t whylen);

/*
 * Whether the plugin cancelled the query p is running: a Cancel frame came before it
 * was served, or is among the whole frames @f holds behind it (decoded, not taken: each
 * is still served in its turn). For the session's cancel callback.
 */
int sv_peer_cancelled(struct sv_peer *p, const struct sv_framer *f);

/*
 * Writes the answers queued in p->out to p->fd without blocking; called when no further
 * whole frame is at hand, so a pipelined run of answers leaves in one write. Returns 0,
 * -EAGAIN when the plugin is not reading and some answers wait, or -errno.
 */
int sv_peer_flush(struct sv_peer *p);

/*
 * Whether answers pile up unread (SV_OUTBOX_FLUSH bytes or more wait): the session then
 * serves no further request of this plugin until sv_peer_flush() returns 0.
 */
int sv_peer_backed_up(const struct sv_peer *p);

/* Frees what @p holds (its queued answers); the session and fd are the caller's. */
void sv_peer_release(struct sv_peer *p);

#endif
