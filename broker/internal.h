/*
 * internal.h - the SQLite side of broker/: the plugin authorizer (authz.c), the core
 * schema (schema.c) and install (grants_sqlite.c), shared by backend_sqlite.c and the
 * unit tests.
 */
#ifndef SV_BROKER_INTERNAL_H
#define SV_BROKER_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>

#include "broker/backend.h"

/* The SQLite database object: the core connection and where the file is. */
struct sqlite_db {
	struct sv_db base;
	sqlite3 *core;
	char *path;	 /* as given, for messages */
	char *open_path; /* never taken for a "file:" URI by SQLite */
};

/* The install, uninstall and audit of grants_sqlite.c; contracts as in backend.h. */
int sv_sqlite_plan_install(struct sv_db *db, const struct sv_rights *r, struct sv_sql *q, char *err,
			   size_t errlen);
int sv_sqlite_plan_uninstall(struct sv_db *db, const char *id, int keep_data, struct sv_sql *q,
			     char *err, size_t errlen);
int sv_sqlite_apply(struct sv_db *db, const struct sv_sql *q, char *err, size_t errlen);
int sv_sqlite_audit(struct sv_db *db, FILE *report, char *err, size_t errlen);
int sv_sqlite_is_installed(struct sv_db *db, const char *id, char *err, size_t errlen);

/*
 * The views plugin @id was granted at install, as a space-separated list in *@out
 * (sqlite3_malloc'd), or *@out NULL when it was never installed (then every v_plugin_*
 * view is readable, as without a manifest). Returns 0 or -EIO.
 */
int sv_sqlite_installed_views(sqlite3 *core, const char *id, char **out);

/* Whether the word @name is in the space-separated @list (NULL: no list, so yes). */
int sv_sqlite_in_list(const char *list, const char *name);

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

/*
 * The tables and views the statement since sv_authz_begin() named, allowed or not, as a
 * space-separated list (ending in "..." when too long), for the audit trail.
 */
const char *sv_authz_objects(const struct sv_authz *a);

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

/* The demo rows of `svrun init --demo`, in SQL both backends read alike. */
extern const char sv_schema_demo_rows[];

/* Creates the core schema (with demo rows when @demo) in one transaction. Returns 0 or -EIO. */
int sv_schema_create(sqlite3 *db, int demo, char *err, size_t errlen);

#endif
