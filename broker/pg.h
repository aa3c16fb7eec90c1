/*
 * pg.h - the PostgreSQL side of broker/, private: the database object backend_pg.c
 * opens, the core schema and hardening (schema_pg.c), and install and audit
 * (grants_pg.c). Every plugin connects as its own role svc_plugin_<id> (RFC-0003).
 */
#ifndef SV_BROKER_PG_H
#define SV_BROKER_PG_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

#include "broker/backend.h"

/* The role prefix of plugin roles; the id follows. */
#define SV_PG_ROLE_PREFIX "svc_plugin_"

/* Most connections one plugin role may hold at once. */
#define SV_PG_ROLE_CONNECTIONS 8

/* The core connection, opened with the operator's credentials. */
struct pg_db {
	struct sv_db base;
	PGconn *core;
};

/* The core tables and views, and the table of installed plugins. */
extern const char sv_pg_core_sql[];

/* The plugin table the demo creates, as `svrun install` would from hello's manifest. */
extern const char sv_pg_demo_visits[];

/*
 * The hardening migration, run by init and by every install: no CREATE in public for
 * PUBLIC, nothing in public or the database itself for PUBLIC, no EXECUTE on core
 * functions, now or later, for PUBLIC.
 */
extern const char *const sv_pg_hardening[]; /* NULL-terminated */

/* How many core objects sv_pg_count_sql finds in a complete schema. */
#define SV_PG_SCHEMA_OBJECTS 7

/* Counts the core tables and views (and sv_installed) in schema public. */
extern const char sv_pg_count_sql[];

/*
 * Runs @sql (without parameters) on @conn and checks it succeeded. Returns 0, or -EIO
 * with "@what: <PostgreSQL's message>" in @err.
 */
int sv_pg_exec(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen);

/* The install, uninstall and audit of grants_pg.c; contracts as in backend.h. */
int sv_pg_plan_install(struct sv_db *db, const struct sv_rights *r, struct sv_sql *q, char *err,
		       size_t errlen);
int sv_pg_plan_uninstall(struct sv_db *db, const char *id, int keep_data, struct sv_sql *q,
			 char *err, size_t errlen);
int sv_pg_apply(struct sv_db *db, const struct sv_sql *q, char *err, size_t errlen);
int sv_pg_audit(struct sv_db *db, FILE *report, char *err, size_t errlen);
int sv_pg_is_installed(struct sv_db *db, const char *id, char *err, size_t errlen);

/* Copies PostgreSQL's last message for @conn, or @res if given, without its newline. */
void sv_pg_message(PGconn *conn, const PGresult *res, char *out, size_t outlen);

#endif
