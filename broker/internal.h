/*
 * internal.h - the SQLite side of broker/: the plugin authorizer (authz.c) and the core
 * schema (schema.c), shared by backend_sqlite.c and the unit tests.
 */
#ifndef SV_BROKER_INTERNAL_H
#define SV_BROKER_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>

/* Version recorded in PRAGMA user_version by sv_schema_create(). */
#define SV_SCHEMA_VERSION 1

/* The rights of one plugin on one connection, and what its last statement was refused. */
struct sv_authz;

/* Returns 0 or -ENOMEM; @plugin_id is already checked against [a-z][a-z0-9]*. */
int sv_authz_new(const char *plugin_id, struct sv_authz **out);

/* sv_authz_free(NULL) does nothing. */
void sv_authz_free(struct sv_authz *a);

/*
 * The callback to pass to sqlite3_set_authorizer() with @a as its argument. Returns
 * SQLITE_OK or SQLITE_DENY; a denial is recorded for sv_authz_message()/_reason().
 */
int sv_authz_callback(void *a, int action, const char *arg1, const char *arg2, const char *db,
		      const char *inner);

/* Declares @name a table or view of the main schema (as opposed to a CTE). Returns 0 or
 * -ENOMEM. */
int sv_authz_add_table(struct sv_authz *a, const char *name);

/*
 * Declares the core view @name (a v_plugin_* view of the main schema) readable, and
 * learns which table columns it reads: until sv_authz_learn_end(), every read SQLite
 * reports inside @name is recorded and allowed. Returns 0 or -ENOMEM.
 */
int sv_authz_learn_begin(struct sv_authz *a, const char *name);
void sv_authz_learn_end(struct sv_authz *a);

/* While on, the broker's own BEGIN/COMMIT/ROLLBACK are allowed; nothing else changes. */
void sv_authz_set_trusted(struct sv_authz *a, int on);

/* Forgets the previous statement's denial and per-statement state. */
void sv_authz_begin(struct sv_authz *a);

/* Whether the statement since sv_authz_begin() was denied. */
int sv_authz_denied(const struct sv_authz *a);

/* "not permitted: <object>" for the plugin, and the full reason for the operator. */
const char *sv_authz_message(const struct sv_authz *a);
const char *sv_authz_reason(const struct sv_authz *a);

/*
 * Checks the kind of the statement @sql starts with, from its first keyword. Returns 0
 * for SELECT, VALUES, WITH, INSERT, REPLACE, UPDATE, DELETE and PRAGMA; -EACCES with
 * "not permitted: <KEYWORD>" in @msg for anything else; -EINVAL when @sql is empty.
 */
int sv_authz_check_kind(const char *sql, char *msg, size_t msglen);

/* Whether @sql holds nothing but whitespace and comments. */
int sv_authz_is_blank(const char *sql);

/*
 * Rewrites SQLite's "no such table: X" and "no such column: X" into the message a denial
 * of X gives, so a plugin cannot tell a missing object from a forbidden one. Returns 1
 * when @errmsg was such an error and @msg now holds the rewrite, 0 otherwise.
 */
int sv_authz_hide_missing(const char *errmsg, char *msg, size_t msglen);

/* Number of core tables and views (tenants, users, config, boards, v_plugin_*). */
#define SV_SCHEMA_OBJECTS 6

/* Returns how many of the SV_SCHEMA_OBJECTS core objects @db holds, or -EIO. */
int sv_schema_count(sqlite3 *db, char *err, size_t errlen);

/* Creates the core schema (with demo rows when @demo) in one transaction. Returns 0 or -EIO. */
int sv_schema_create(sqlite3 *db, int demo, char *err, size_t errlen);

#endif
