/*
 * backend.h - the interface every database backend of the broker implements (private to
 * broker/). broker.c parses the URI, picks the backend by scheme and calls through this
 * table, so a PostgreSQL backend slots in as one more file (cf. sqlite3_io_methods).
 * SQLite's is built in; PostgreSQL's is the module svrun-backend-pg.so, which exports
 * sv_backend_pg and takes the helpers below from svrun (broker/module.list).
 *
 * A backend's database and session objects start with the generic struct sv_db and
 * struct sv_session below, so broker.c can reach the operations and the shared fields.
 */
#ifndef SV_BROKER_BACKEND_H
#define SV_BROKER_BACKEND_H

#include "broker/broker.h"

#include <stddef.h>
#include <stdint.h>

/* Longest reason kept for the operator's log, terminator included. */
#define SV_BROKER_REASON_MAX 512

struct sv_backend_ops;

/* A list of statements: what install and uninstall would run, in order. */
struct sv_sql {
	char **stmts;
	size_t n;
};

/* Appends one formatted statement. Returns 0 or -ENOMEM. */
int sv_sql_add(struct sv_sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void sv_sql_clear(struct sv_sql *q);

/* The head of every backend's database object. */
struct sv_db {
	const struct sv_backend_ops *ops;
};

/* The head of every backend's session object. */
struct sv_session {
	const struct sv_backend_ops *ops;
	struct sv_session_limits lim;
	int plugin_tx;	/* the plugin has a transaction open (sv_begin) */
	int paging;	/* a cursor is open (sv_session_open_pages) */
	const char *objects; /* what the last statement named ("a b"), or NULL: unknown */
	char reason[SV_BROKER_REASON_MAX];
	int (*cancel)(void *arg); /* sv_session_set_cancel(), or NULL */
	void *cancel_arg;
	uint64_t cancel_next;	/* CLOCK_MONOTONIC of the next poll of cancel() */
	uint64_t first_poll_ns;	/* how long a request runs before cancel() is first asked;
				 * 0 for SV_CANCEL_POLL_NS */
	int cancelled;		/* cancel() said so during the current request */
	enum sv_defer defer;	/* sv_session_defer(): a read may be sent and left running */
	int in_flight;		/* a read sent ahead waits to be collected */
};

struct sv_backend_ops {
	const char *name;
	/* URI prefix selecting this backend, e.g. "sqlite:"; the rest is the target. */
	const char *scheme;
	/* Same contract as sv_db_open(), with the URI prefix removed. */
	int (*open)(const char *target, struct sv_db **out, char *err, size_t errlen);
	/* Same contract as sv_db_init(), with the URI prefix removed. */
	int (*init)(const char *target, int demo, char *err, size_t errlen);
	void (*close)(struct sv_db *db);
	/* @lim is never NULL here; broker.c has filled in the defaults. */
	int (*session_open)(struct sv_db *db, const char *plugin_id,
			    const struct sv_session_limits *lim, struct sv_session **out, char *err,
			    size_t errlen);
	void (*session_close)(struct sv_session *s);
	void (*set_deadline)(struct sv_session *s, uint64_t deadline_ns);
	/* Same contract as sv_session_query_values(); @out is already zeroed. */
	int (*query)(struct sv_session *s, const char *sql, size_t nparams,
		     const struct sv_param *params, struct sv_rows *out, char *err,
		     size_t errlen);
	/* Same contracts as sv_session_open_pages(), _next_page() (@out zeroed) and
	 * _close_pages(); the session layer keeps s->paging and refuses the rest. */
	int (*pages_open)(struct sv_session *s, const char *sql, size_t nparams,
			  const struct sv_param *params, char *err, size_t errlen);
	int (*pages_next)(struct sv_session *s, size_t rows, struct sv_rows *out, int *more,
			  char *err, size_t errlen);
	void (*pages_close)(struct sv_session *s);
	/* Same contract as sv_session_batch(); NULL when a backend has nothing to save. */
	void (*batch)(struct sv_session *s, int on);
	/* Same contract as sv_session_txn(); @op is valid for s->plugin_tx, checked. */
	int (*txn)(struct sv_session *s, enum sv_txn op, char *err, size_t errlen);
	/* Appends to @q the statements that install @r; runs nothing. */
	int (*plan_install)(struct sv_db *db, const struct sv_rights *r, struct sv_sql *q,
			    char *err, size_t errlen);
	/* Appends to @q the statements that uninstall @id; -ENOENT if not installed. */
	int (*plan_uninstall)(struct sv_db *db, const char *id, int keep_data, struct sv_sql *q,
			      char *err, size_t errlen);
	/* Runs @q with core rights in one transaction: all of it, or nothing. */
	int (*apply)(struct sv_db *db, const struct sv_sql *q, char *err, size_t errlen);
	/* Same contract as sv_audit(). */
	int (*audit)(struct sv_db *db, FILE *report, char *err, size_t errlen);
	/* Same contract as sv_is_installed(). */
	int (*is_installed)(struct sv_db *db, const char *id, char *err, size_t errlen);
};

extern const struct sv_backend_ops sv_backend_sqlite;
/* In svrun-backend-pg.so only, found there with dlsym(). */
extern const struct sv_backend_ops sv_backend_pg;

/*
 * Checks the kind of the statement @sql starts with, from its first keyword, against
 * @kinds (upper case). Returns 0 when listed; -EACCES with "not permitted: <KEYWORD>" in
 * @msg otherwise; -EINVAL when @sql holds no statement.
 */
int sv_check_kind(const char *sql, const char *const *kinds, size_t nkinds, char *msg,
		  size_t msglen);

/* The dialect's name of column type @t; @pg selects PostgreSQL's. */
const char *sv_column_sql_type(enum sv_column_type t, int pg);

/* Bookkeeping while a backend fills a struct sv_rows within a session's limits. */
struct sv_rows_builder {
	struct sv_rows *rows;
	const struct sv_session_limits *lim;
	size_t cap;	/* cells allocated */
	size_t bytes;	/* charged against lim->result_bytes */
};

/* Starts @b on the zeroed @rows; ncols and names are set with sv_rows_add_name(). */
void sv_rows_begin(struct sv_rows_builder *b, struct sv_rows *rows,
		   const struct sv_session_limits *lim);

/* Appends a column name. Returns 0, -E2BIG past the limits, or -ENOMEM. */
int sv_rows_add_name(struct sv_rows_builder *b, const char *name);

/*
 * Appends one row of ncols cells: @texts[i] of @lens[i] bytes and type @types[i] (as in
 * struct sv_rows), NULL for SQL NULL. Returns 0, -E2BIG past the limits, or -ENOMEM; on
 * failure the row is not added.
 */
int sv_rows_add_row(struct sv_rows_builder *b, const char *const *texts, const size_t *lens,
		    const unsigned char *types);

/*
 * How often, at most, a running statement asks whether the plugin cancelled it: the
 * runner also serves the other plugins then, so this is what they may wait at most
 * while a long statement runs, besides their own work.
 */
#define SV_CANCEL_POLL_NS 100000ull

/*
 * Whether the plugin cancelled the request @s runs, for a backend to call while its
 * statement runs: asks s->cancel at most every SV_CANCEL_POLL_NS (a statement that ends
 * sooner never asks), and once it said yes, says so until the next request.
 */
int sv_session_poll_cancel(struct sv_session *s);

/*
 * Whether a statement runs now inside another's cancel callback, with that one
 * suspended up the stack: a lock the suspended one holds cannot be released meanwhile.
 */
int sv_session_nested(void);

/* Formats the operator's reason for the last failure of @s. */
void sv_session_set_reason(struct sv_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
