/*
 * backend.h - the interface every database backend of the broker implements (private to
 * broker/). broker.c parses the URI, picks the backend by scheme and calls through this
 * table, so a PostgreSQL backend slots in as one more file (cf. sqlite3_io_methods).
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

/* The head of every backend's database object. */
struct sv_db {
	const struct sv_backend_ops *ops;
};

/* The head of every backend's session object. */
struct sv_session {
	const struct sv_backend_ops *ops;
	struct sv_session_limits lim;
	char reason[SV_BROKER_REASON_MAX];
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
	/* Same contract as sv_session_query(); @out is already zeroed. */
	int (*query)(struct sv_session *s, const char *sql, size_t nparams,
		     const char *const *params, struct sv_rows *out, char *err, size_t errlen);
	/* Same contract as sv_session_txn(). */
	int (*txn)(struct sv_session *s, enum sv_txn op, char *err, size_t errlen);
};

extern const struct sv_backend_ops sv_backend_sqlite;

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
 * Appends one row of ncols cells: @texts[i] of @lens[i] bytes, NULL for SQL NULL.
 * Returns 0, -E2BIG past the limits, or -ENOMEM; on failure the row is not added.
 */
int sv_rows_add_row(struct sv_rows_builder *b, const char *const *texts, const size_t *lens);

/* Formats the operator's reason for the last failure of @s. */
void sv_session_set_reason(struct sv_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
