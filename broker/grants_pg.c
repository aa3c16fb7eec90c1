/*
 * grants_pg.c - `svrun install`, `uninstall`, `grants --plan` and `audit` on PostgreSQL.
 *
 * Install gives the role svc_plugin_<id> exactly: LOGIN (with no password until a launch
 * sets one), NOINHERIT, no other attribute and no membership; CONNECT on this database;
 * USAGE on schema public; SELECT on the views its manifest lists; SELECT, INSERT, UPDATE
 * and DELETE on its own tables, which core creates and owns, so the plugin can never
 * attach a trigger core would later run. What was granted is recorded in sv_installed,
 * and audit compares the live catalog with that record.
 *
 * Names are checked before they reach SQL (sv_install): plugin ids are [a-z][a-z0-9]*,
 * table and column names [a-z][a-z0-9_]*, views v_plugin_[a-z0-9_]*; quoted anyway.
 */
#include "broker/pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Runs a catalog query with one text parameter; the rows go to *@out. */
static int
catalog(PGconn *core, const char *sql, const char *param, PGresult **out, char *err, size_t errlen)
{
	const char *params[1] = {param};
	char msg[512];

	*out = PQexecParams(core, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(*out) != PGRES_TUPLES_OK) {
		sv_pg_message(core, *out, msg, sizeof(msg));
		snprintf(err, errlen, "cannot read the catalog: %s", msg);
		PQclear(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

/* Appends @name to the space-separated list *@buf. */
static int
list_add(char **buf, const char *name)
{
	size_t old = *buf ? strlen(*buf) : 0;
	char *p = realloc(*buf, old + strlen(name) + 2);

	if (!p)
		return -ENOMEM;
	if (old)
		p[old++] = ' ';
	strcpy(p + old, name);
	*buf = p;
	return 0;
}

/* The statements that create table @t as core's, in PostgreSQL's words. */
static int
plan_table(struct sv_sql *q, const struct sv_table *t)
{
	char *cols = NULL, *more;
	size_t i;
	int r;

	for (i = 0; i < t->ncols; i++) {
		if (asprintf(&more, "%s%s\"%s\" %s%s", cols ? cols : "", i ? ", " : "",
			     t->cols[i].name, sv_column_sql_type(t->cols[i].type, 1),
			     t->cols[i].not_null ? " NOT NULL" : "") < 0) {
			free(cols);
			return -ENOMEM;
		}
		free(cols);
		cols = more;
	}
	r = sv_sql_add(q, "CREATE TABLE IF NOT EXISTS \"%s\"(%s)", t->name, cols ? cols : "");
	free(cols);
	return r;
}

/* The views @r may read, checked to exist, one per row of *@out. */
static int
views_of(PGconn *core, const struct sv_rights *r, PGresult **out, char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	    " WHERE n.nspname = 'public' AND c.relkind = 'v' AND c.relname LIKE"
	    " 'v\\_plugin\\_%' AND ($1 = '*' OR c.relname = ANY(string_to_array($1, ' ')))"
	    " ORDER BY 1";
	char *want = NULL;
	size_t i;
	int ret;

	if (r->all_views)
		want = strdup("*");
	for (i = 0; !r->all_views && i < r->nviews; i++)
		if (list_add(&want, r->views[i]) < 0) {
			free(want);
			return -ENOMEM;
		}
	if (!want && r->all_views)
		return -ENOMEM;
	if ((ret = catalog(core, sql, want ? want : "", out, err, errlen)) == 0 && !r->all_views &&
	    (size_t)PQntuples(*out) != r->nviews) {
		snprintf(err, errlen,
			 "the manifest lists a view the database does not have "
			 "(wanted: %s)",
			 want);
		PQclear(*out);
		*out = NULL;
		ret = -ENOENT;
	}
	free(want);
	return ret;
}

/* The plugin's tables: the manifest's, and any plugin_<id>_* that already exist. */
static int
tables_of(PGconn *core, const struct sv_rights *r, char **list, char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND"
	    " substr(c.relname, 1, length($1)) = $1 ORDER BY 1";
	char prefix[96];
	PGresult *res;
	size_t i;
	int ret, j, dup;

	snprintf(prefix, sizeof(prefix), "plugin_%s_", r->id);
	if ((ret = catalog(core, sql, prefix, &res, err, errlen)) < 0)
		return ret;
	for (j = 0; j < PQntuples(res); j++)
		if ((ret = list_add(list, PQgetvalue(res, j, 0))) < 0)
			goto out;
	for (i = 0; i < r->ntables; i++) {
		for (dup = 0, j = 0; j < PQntuples(res); j++)
			dup |= strcmp(PQgetvalue(res, j, 0), r->tables[i].name) == 0;
		if (!dup && (ret = list_add(list, r->tables[i].name)) < 0)
			goto out;
	}
	ret = 0;
out:
	PQclear(res);
	return ret;
}

/* REVOKEs for every role the plugin role is a member of. */
static int
plan_drop_memberships(PGconn *core, const char *role, struct sv_sql *q, char *err, size_t errlen)
{
	static const char sql[] =
	    "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
	    " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1";
	PGresult *res;
	int i, r;

	if ((r = catalog(core, sql, role, &res, err, errlen)) < 0)
		return r;
	for (i = 0; r == 0 && i < PQntuples(res); i++) {
		char *g =
		    PQescapeIdentifier(core, PQgetvalue(res, i, 0), strlen(PQgetvalue(res, i, 0)));

		r = g ? sv_sql_add(q, "REVOKE %s FROM \"%s\"", g, role) : -ENOMEM;
		PQfreemem(g);
	}
	PQclear(res);
	return r;
}

/* Every privilege the role may hold on this database and its public schema, taken back. */
static int
plan_revoke_all(PGconn *core, const char *role, struct sv_sql *q)
{
	char *db = PQescapeIdentifier(core, PQdb(core), strlen(PQdb(core)));
	int r;

	if (!db)
		return -ENOMEM;
	if ((r = sv_sql_add(q, "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM \"%s\"", role)) ==
		0 &&
	    (r = sv_sql_add(q, "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM \"%s\"", role)) ==
		0 &&
	    (r = sv_sql_add(q, "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM \"%s\"", role)) ==
		0 &&
	    (r = sv_sql_add(q, "REVOKE ALL ON SCHEMA public FROM \"%s\"", role)) == 0)
		r = sv_sql_add(q, "REVOKE ALL ON DATABASE %s FROM \"%s\"", db, role);
	PQfreemem(db);
	return r;
}

int
sv_pg_plan_install(struct sv_db *base, const struct sv_rights *r, struct sv_sql *q, char *err,
		   size_t errlen)
{
	PGconn *core = ((struct pg_db *)base)->core;
	char role[96], *views = NULL, *tables = NULL, *copy = NULL, *db = NULL, *one;
	char *save = NULL;
	PGresult *vres = NULL;
	size_t i;
	int ret, j;

	snprintf(role, sizeof(role), SV_PG_ROLE_PREFIX "%s", r->id);
	if ((ret = views_of(core, r, &vres, err, errlen)) < 0 ||
	    (ret = tables_of(core, r, &tables, err, errlen)) < 0)
		goto out;
	ret = -ENOMEM;
	if (!(db = PQescapeIdentifier(core, PQdb(core), strlen(PQdb(core)))))
		goto out;
	for (j = 0; j < PQntuples(vres); j++)
		if (list_add(&views, PQgetvalue(vres, j, 0)) < 0)
			goto out;
	/* Hardening first: the grants below must be the only way in. */
	for (i = 0; sv_pg_hardening[i]; i++)
		if ((ret = sv_sql_add(q, "%s", sv_pg_hardening[i])) < 0)
			goto out;
	if ((ret = sv_sql_add(q,
			      "DO $sv$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE "
			      "rolname = '%s') THEN CREATE ROLE \"%s\"; END IF; END $sv$",
			      role, role)) < 0 ||
	    /* SUPERUSER, REPLICATION, BYPASSRLS: off from CREATE ROLE; audit checks. */
	    (ret = sv_sql_add(q,
			      "ALTER ROLE \"%s\" LOGIN NOINHERIT NOCREATEDB NOCREATEROLE "
			      "CONNECTION LIMIT %d PASSWORD NULL",
			      role, SV_PG_ROLE_CONNECTIONS)) < 0 ||
	    (ret = plan_drop_memberships(core, role, q, err, errlen)) < 0 ||
	    (ret = plan_revoke_all(core, role, q)) < 0 ||
	    (ret = sv_sql_add(q, "GRANT CONNECT ON DATABASE %s TO \"%s\"", db, role)) < 0 ||
	    (ret = sv_sql_add(q, "GRANT USAGE ON SCHEMA public TO \"%s\"", role)) < 0)
		goto out;
	for (i = 0; i < r->ntables; i++)
		if ((ret = plan_table(q, &r->tables[i])) < 0)
			goto out;
	for (j = 0; j < PQntuples(vres); j++)
		if ((ret = sv_sql_add(q, "GRANT SELECT ON \"%s\" TO \"%s\"", PQgetvalue(vres, j, 0),
				      role)) < 0)
			goto out;
	if (tables && !(copy = strdup(tables))) {
		ret = -ENOMEM;
		goto out;
	}
	for (one = copy ? strtok_r(copy, " ", &save) : NULL; one; one = strtok_r(NULL, " ", &save))
		if ((ret = sv_sql_add(q, "GRANT SELECT, INSERT, UPDATE, DELETE ON \"%s\" TO \"%s\"",
				      one, role)) < 0)
			goto out;
	ret = sv_sql_add(q,
			 "INSERT INTO sv_installed(id, views, tables) VALUES ('%s', '%s', "
			 "'%s') ON CONFLICT (id) DO UPDATE SET views = EXCLUDED.views, tables = "
			 "EXCLUDED.tables, installed_at = now()",
			 r->id, views ? views : "", tables ? tables : "");
out:
	PQclear(vres);
	PQfreemem(db);
	free(views);
	free(tables);
	free(copy);
	return ret;
}

int
sv_pg_plan_uninstall(struct sv_db *base, const char *id, int keep_data, struct sv_sql *q, char *err,
		     size_t errlen)
{
	PGconn *core = ((struct pg_db *)base)->core;
	struct sv_rights none = {0};
	char role[96], *tables = NULL, *one, *save = NULL;
	PGresult *res = NULL;
	int r;

	snprintf(role, sizeof(role), SV_PG_ROLE_PREFIX "%s", id);
	snprintf(none.id, sizeof(none.id), "%s", id);
	if ((r = catalog(core, "SELECT 1 FROM sv_installed WHERE id = $1", id, &res, err, errlen)) <
	    0)
		goto out;
	if (PQntuples(res) != 1) {
		snprintf(err, errlen, "plugin %s is not installed in database %s", id, PQdb(core));
		r = -ENOENT;
		goto out;
	}
	if ((r = plan_revoke_all(core, role, q)) < 0 ||
	    (r = plan_drop_memberships(core, role, q, err, errlen)) < 0 ||
	    (r = tables_of(core, &none, &tables, err, errlen)) < 0)
		goto out;
	for (one = (!keep_data && tables) ? strtok_r(tables, " ", &save) : NULL; one;
	     one = strtok_r(NULL, " ", &save))
		if ((r = sv_sql_add(q, "DROP TABLE \"%s\"", one)) < 0)
			goto out;
	if ((r = sv_sql_add(q, "DELETE FROM sv_installed WHERE id = '%s'", id)) == 0)
		r = sv_sql_add(q, "DROP ROLE IF EXISTS \"%s\"", role);
out:
	PQclear(res);
	free(tables);
	return r;
}

int
sv_pg_apply(struct sv_db *base, const struct sv_sql *q, char *err, size_t errlen)
{
	PGconn *core = ((struct pg_db *)base)->core;
	size_t i;
	int r;

	if ((r = sv_pg_exec(core, "BEGIN", "cannot start", err, errlen)) < 0)
		return r;
	for (i = 0; r == 0 && i < q->n; i++)
		r = sv_pg_exec(core, q->stmts[i], q->stmts[i], err, errlen);
	if (r == 0)
		r = sv_pg_exec(core, "COMMIT", "cannot commit", err, errlen);
	else
		PQclear(PQexec(core, "ROLLBACK"));
	return r;
}

/*
 * The audit, as one query per kind of excess; each yields (role, what) rows. "p" holds
 * every installed plugin with what it was granted; a role named like a plugin's but
 * not installed is an excess in itself.
 */
#define INSTALLED                                                                                  \
	"WITH p AS (SELECT i.id, r.oid AS roid, r.rolname,"                                        \
	" string_to_array(i.views, ' ') AS views, string_to_array(i.tables, ' ') AS tabs"          \
	" FROM sv_installed i JOIN pg_roles r ON r.rolname = '" SV_PG_ROLE_PREFIX "' || i.id)"     \
	" "
#define USER_SCHEMAS                                                                               \
	"n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE"             \
	" 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"

static const char *const audit_sql[] = {
    /* Roles that look like a plugin's but belong to none. */
    ("SELECT r.rolname, 'role exists but no plugin of that id is installed' FROM pg_roles r"
     " WHERE r.rolname LIKE 'svc\\_plugin\\_%' AND substr(r.rolname, 12) NOT IN"
     " (SELECT id FROM sv_installed)"),
    /* Installed plugins whose role is gone. */
    ("SELECT '" SV_PG_ROLE_PREFIX "' || i.id, 'installed but the role does not exist'"
     " FROM sv_installed i WHERE NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname ="
     " '" SV_PG_ROLE_PREFIX "' || i.id)"),
    /* Role attributes beyond LOGIN NOINHERIT. */
    (INSTALLED "SELECT p.rolname, 'role attribute ' || a FROM p JOIN pg_roles r ON r.oid ="
	       " p.roid, LATERAL (VALUES ('SUPERUSER', r.rolsuper), ('INHERIT', r.rolinherit),"
	       " ('CREATEROLE', r.rolcreaterole), ('CREATEDB', r.rolcreatedb), ('REPLICATION',"
	       " r.rolreplication), ('BYPASSRLS', r.rolbypassrls)) AS x(a, v) WHERE v"),
    /* Membership in any other role. */
    (INSTALLED "SELECT p.rolname, 'member of role ' || g.rolname FROM p JOIN"
	       " pg_auth_members m ON m.member = p.roid JOIN pg_roles g ON g.oid = m.roleid"),
    /* Privileges on tables and views beyond the declared ones, from any grant. */
    (INSTALLED "SELECT p.rolname, v.priv || ' on ' || n.nspname || '.' || c.relname ||"
	       " ' (not declared)' FROM p CROSS JOIN pg_class c JOIN pg_namespace n ON n.oid ="
	       " c.relnamespace CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'),"
	       " ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) AS v(priv) WHERE c.relkind IN ('r',"
	       " 'v', 'm', 'f', 'p') AND " USER_SCHEMAS " AND CASE WHEN v.priv IN ('SELECT',"
	       " 'INSERT', 'UPDATE', 'REFERENCES') THEN has_any_column_privilege(p.roid, c.oid,"
	       " v.priv) ELSE has_table_privilege(p.roid, c.oid, v.priv) END AND NOT (n.nspname ="
	       " 'public' AND ((c.relname = ANY(p.views) AND v.priv = 'SELECT') OR (c.relname ="
	       " ANY(p.tabs) AND v.priv IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE'))))"),
    /* Sequences: none is needed (identity columns need no grant). */
    (INSTALLED "SELECT p.rolname, v.priv || ' on sequence ' || n.nspname || '.' ||"
	       " c.relname FROM p CROSS JOIN pg_class c JOIN pg_namespace n ON n.oid ="
	       " c.relnamespace CROSS JOIN (VALUES ('USAGE'), ('SELECT'), ('UPDATE')) AS v(priv)"
	       " WHERE c.relkind = 'S' AND " USER_SCHEMAS " AND has_sequence_privilege(p.roid,"
	       " c.oid, v.priv)"),
    /* CREATE in any schema; USAGE on any schema but public. */
    (INSTALLED
     "SELECT p.rolname, v.priv || ' on schema ' || n.nspname FROM p CROSS JOIN"
     " pg_namespace n CROSS JOIN (VALUES ('CREATE'), ('USAGE')) AS v(priv) WHERE " USER_SCHEMAS
     " AND has_schema_privilege(p.roid, n.oid, v.priv) AND NOT (v.priv ="
     " 'USAGE' AND n.nspname = 'public')"),
    /* CREATE or TEMP on this database; CONNECT to any other. */
    (INSTALLED "SELECT p.rolname, v.priv || ' on database ' || d.datname FROM p CROSS JOIN"
	       " pg_database d CROSS JOIN (VALUES ('CREATE'), ('TEMPORARY'), ('CONNECT')) AS"
	       " v(priv) WHERE has_database_privilege(p.roid, d.oid, v.priv) AND NOT (v.priv ="
	       " 'CONNECT' AND d.datname = current_database()) AND d.datallowconn"),
    /* EXECUTE on any function outside the system schemas. */
    (INSTALLED
     "SELECT p.rolname, 'EXECUTE on function ' || f.oid::regprocedure::text FROM"
     " p CROSS JOIN pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace WHERE " USER_SCHEMAS
     " AND has_function_privilege(p.roid, f.oid, 'EXECUTE')"),
    /* Default privileges that hand future objects to the role or to PUBLIC. */
    (INSTALLED "SELECT p.rolname, 'default privileges of ' || d.defaclrole::regrole::text ||"
	       " ' grant ' || a.privilege_type || ' on future ' || CASE d.defaclobjtype WHEN 'r'"
	       " THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN"
	       " 'types' ELSE 'schemas' END || ' to ' || CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE"
	       " p.rolname END FROM p CROSS JOIN pg_default_acl d CROSS JOIN LATERAL"
	       " aclexplode(d.defaclacl) a WHERE a.grantee IN (0, p.roid) AND d.defaclobjtype <>"
	       " 'T'"),
    /* Future functions of the database owner are PUBLIC's unless revoked by default. */
    (INSTALLED "SELECT p.rolname, 'functions the database owner creates later are"
	       " executable by PUBLIC (run svrun install again, or ALTER DEFAULT PRIVILEGES REVOKE"
	       " EXECUTE ON FUNCTIONS FROM PUBLIC)' FROM p, pg_database db WHERE db.datname ="
	       " current_database() AND NOT EXISTS (SELECT FROM pg_default_acl d WHERE"
	       " d.defaclrole = db.datdba AND d.defaclobjtype = 'f' AND d.defaclnamespace = 0)"),
    /* Anything the role owns: tables, functions, schemas, types, large objects. */
    (INSTALLED
     "SELECT p.rolname, 'owns ' || o.what FROM p CROSS JOIN LATERAL (SELECT"
     " 'relation ' || c.relname AS what FROM pg_class c WHERE c.relowner = p.roid UNION"
     " ALL SELECT 'function ' || f.oid::regprocedure::text FROM pg_proc f WHERE"
     " f.proowner = p.roid UNION ALL SELECT 'schema ' || n.nspname FROM pg_namespace n"
     " WHERE n.nspowner = p.roid UNION ALL SELECT 'large object ' || l.oid FROM"
     " pg_largeobject_metadata l WHERE l.lomowner = p.roid UNION ALL SELECT 'database ' ||"
     " d.datname FROM pg_database d WHERE d.datdba = p.roid) AS o"),
    /* Core hardening: the views owned by core, and projecting no secret column. */
    ("SELECT 'core', 'view ' || c.relname || ' is owned by ' || c.relowner::regrole::text ||"
     " ', a plugin role' FROM pg_class c WHERE c.relkind = 'v' AND c.relname LIKE"
     " 'v\\_plugin\\_%' AND c.relowner::regrole::text LIKE 'svc\\_plugin\\_%'"),
    ("SELECT DISTINCT 'core', 'view ' || v.relname || ' reads ' || t.relname || '.' ||"
     " a.attname FROM pg_rewrite w JOIN pg_class v ON v.oid = w.ev_class JOIN pg_depend d"
     " ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid JOIN pg_class t ON t.oid"
     " = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum ="
     " d.refobjsubid WHERE v.relname LIKE 'v\\_plugin\\_%' AND ((t.relname = 'users' AND"
     " a.attname IN ('email', 'password_hash')) OR t.relname IN ('config', 'sv_installed'))"),
    ("SELECT 'core', 'PUBLIC may CREATE in schema public' WHERE"
     " has_schema_privilege('public', 'public', 'CREATE')"),
};

int
sv_pg_audit(struct sv_db *base, FILE *report, char *err, size_t errlen)
{
	PGconn *core = ((struct pg_db *)base)->core;
	PGresult *res;
	size_t i;
	int j, found = 0, r;

	for (i = 0; i < sizeof(audit_sql) / sizeof(audit_sql[0]); i++) {
		if ((r = catalog(core, audit_sql[i], NULL, &res, err, errlen)) < 0)
			return r;
		for (j = 0; j < PQntuples(res); j++, found++)
			fprintf(report, "%s: %s\n", PQgetvalue(res, j, 0), PQgetvalue(res, j, 1));
		PQclear(res);
	}
	return found;
}

int
sv_pg_is_installed(struct sv_db *base, const char *id, char *err, size_t errlen)
{
	PGconn *core = ((struct pg_db *)base)->core;
	PGresult *res;
	int r;

	if ((r = catalog(core, "SELECT 1 FROM sv_installed WHERE id = $1", id, &res, err, errlen)) <
	    0)
		return r;
	r = PQntuples(res) == 1;
	PQclear(res);
	return r;
}
