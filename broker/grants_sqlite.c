/*
 * grants_sqlite.c - `svrun install`, `uninstall`, `grants --plan` and `audit` on SQLite.
 *
 * SQLite has no roles: what install grants is recorded in sv_installed, and the
 * authorizer of every later session reads that record (which views the plugin may
 * read) besides the fixed rule that plugin_<id>_* tables are its own. Install creates
 * those tables from the manifest, on the core connection, so core owns their schema.
 */
#include "broker/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char installed_table[] =
    "CREATE TABLE IF NOT EXISTS sv_installed(id TEXT PRIMARY KEY, views TEXT NOT NULL,"
    " tables TEXT NOT NULL, installed_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)";

int
sv_sqlite_installed_views(sqlite3 *core, const char *id, char **out)
{
	sqlite3_stmt *st = NULL;
	int rc, r = -EIO;

	*out = NULL;
	rc = sqlite3_prepare_v2(core, "SELECT views FROM main.sv_installed WHERE id = ?1", -1, &st,
				NULL);
	/* No table: nothing was ever installed here. */
	if (rc != SQLITE_OK) {
		r = strstr(sqlite3_errmsg(core), "no such table") ? 0 : -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (!(*out = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0))))
			goto out;
	} else if (rc != SQLITE_DONE) {
		goto out;
	}
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

/* Runs @sql with one text parameter and appends column 0 of each row to *@list. */
static int
collect_names(sqlite3 *core, const char *sql, const char *param, char **list, size_t *count,
	      char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *more;
	int rc, r = -EIO;

	if (sqlite3_prepare_v2(core, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		more = sqlite3_mprintf("%s%s%s", *list ? *list : "", *list ? " " : "",
				       (const char *)sqlite3_column_text(st, 0));
		sqlite3_free(*list);
		if (!(*list = more)) {
			r = -ENOMEM;
			goto out;
		}
		(*count)++;
	}
	r = rc == SQLITE_DONE ? 0 : -EIO;
out:
	if (r == -EIO)
		snprintf(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(core));
	sqlite3_finalize(st);
	return r;
}

int
sv_sqlite_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	if (!list)
		return 1;
	while (p && (p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* The views @r reads, checked to exist, as a space-separated list. */
static int
views_of(sqlite3 *core, const struct sv_rights *r, char **views, char *err, size_t errlen)
{
	size_t n = 0, i;
	int ret;

	if ((ret = collect_names(core,
				 "SELECT name FROM main.sqlite_master WHERE type = 'view' AND"
				 " substr(name, 1, 9) = 'v_plugin_' ORDER BY name",
				 NULL, views, &n, err, errlen)) < 0 ||
	    r->all_views)
		return ret;
	for (i = 0; i < r->nviews; i++)
		if (!*views || !sv_sqlite_in_list(*views, r->views[i]) ||
		    strncmp(r->views[i], "v_plugin_", 9) != 0) {
			snprintf(err, errlen,
				 "the manifest lists view %s, which the database does "
				 "not have (a plugin reads only v_plugin_* views)",
				 r->views[i]);
			return -ENOENT;
		}
	sqlite3_free(*views);
	*views = NULL;
	for (i = 0; i < r->nviews; i++) {
		char *more =
		    sqlite3_mprintf("%s%s%s", *views ? *views : "", i ? " " : "", r->views[i]);

		sqlite3_free(*views);
		if (!(*views = more))
			return -ENOMEM;
	}
	return 0;
}

int
sv_sqlite_plan_install(struct sv_db *base, const struct sv_rights *r, struct sv_sql *q, char *err,
		       size_t errlen)
{
	sqlite3 *core = ((struct sqlite_db *)base)->core;
	char prefix[96], *views = NULL, *tables = NULL, *cols = NULL, *more;
	size_t i, j, n = 0;
	int ret;

	snprintf(prefix, sizeof(prefix), "plugin_%s_", r->id);
	if ((ret = views_of(core, r, &views, err, errlen)) < 0 ||
	    (ret = collect_names(core,
				 "SELECT name FROM main.sqlite_master WHERE type = 'table' AND"
				 " substr(name, 1, length(?1)) = ?1 ORDER BY name",
				 prefix, &tables, &n, err, errlen)) < 0 ||
	    (ret = sv_sql_add(q, "%s", installed_table)) < 0)
		goto out;
	for (i = 0; i < r->ntables; i++) {
		for (j = 0; j < r->tables[i].ncols; j++) {
			more = sqlite3_mprintf("%s%s\"%w\" %s%s", cols ? cols : "", j ? ", " : "",
					       r->tables[i].cols[j].name,
					       sv_column_sql_type(r->tables[i].cols[j].type, 0),
					       r->tables[i].cols[j].not_null ? " NOT NULL" : "");
			sqlite3_free(cols);
			if (!(cols = more)) {
				ret = -ENOMEM;
				goto out;
			}
		}
		if ((ret = sv_sql_add(q, "CREATE TABLE IF NOT EXISTS \"%s\"(%s)", r->tables[i].name,
				      cols ? cols : "")) < 0)
			goto out;
		sqlite3_free(cols);
		cols = NULL;
		if (!tables || !sv_sqlite_in_list(tables, r->tables[i].name)) {
			more = sqlite3_mprintf("%s%s%s", tables ? tables : "", tables ? " " : "",
					       r->tables[i].name);
			sqlite3_free(tables);
			if (!(tables = more)) {
				ret = -ENOMEM;
				goto out;
			}
		}
	}
	ret = sv_sql_add(q,
			 "INSERT INTO sv_installed(id, views, tables) VALUES ('%s', '%s', "
			 "'%s') ON CONFLICT (id) DO UPDATE SET views = excluded.views, tables = "
			 "excluded.tables, installed_at = CURRENT_TIMESTAMP",
			 r->id, views ? views : "", tables ? tables : "");
out:
	sqlite3_free(views);
	sqlite3_free(tables);
	sqlite3_free(cols);
	return ret;
}

int
sv_sqlite_plan_uninstall(struct sv_db *base, const char *id, int keep_data, struct sv_sql *q,
			 char *err, size_t errlen)
{
	sqlite3 *core = ((struct sqlite_db *)base)->core;
	struct sqlite_db *d = (struct sqlite_db *)base;
	char prefix[96], *views = NULL, *tables = NULL, *one, *save = NULL;
	size_t n = 0;
	int r;

	if ((r = sv_sqlite_installed_views(core, id, &views)) < 0) {
		snprintf(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(core));
		goto out;
	}
	if (!views) {
		snprintf(err, errlen, "plugin %s is not installed in database %s", id, d->path);
		r = -ENOENT;
		goto out;
	}
	snprintf(prefix, sizeof(prefix), "plugin_%s_", id);
	if (!keep_data &&
	    (r = collect_names(core,
			       "SELECT name FROM main.sqlite_master WHERE type = 'table' AND"
			       " substr(name, 1, length(?1)) = ?1 ORDER BY name",
			       prefix, &tables, &n, err, errlen)) < 0)
		goto out;
	for (one = tables ? strtok_r(tables, " ", &save) : NULL; one;
	     one = strtok_r(NULL, " ", &save))
		if ((r = sv_sql_add(q, "DROP TABLE \"%s\"", one)) < 0)
			goto out;
	r = sv_sql_add(q, "DELETE FROM sv_installed WHERE id = '%s'", id);
out:
	sqlite3_free(views);
	sqlite3_free(tables);
	return r;
}

int
sv_sqlite_apply(struct sv_db *base, const struct sv_sql *q, char *err, size_t errlen)
{
	sqlite3 *core = ((struct sqlite_db *)base)->core;
	size_t i;
	int rc;

	rc = sqlite3_exec(core, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (i = 0; rc == SQLITE_OK && i < q->n; i++)
		rc = sqlite3_exec(core, q->stmts[i], NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(core, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: %s", i > 0 && i <= q->n ? q->stmts[i - 1] : "BEGIN",
		 sqlite3_errmsg(core));
	sqlite3_exec(core, "ROLLBACK", NULL, NULL, NULL);
	return -EIO;
}

/*
 * On SQLite the rights live in the record the authorizer reads, so the audit checks
 * that record against the schema: each declared object exists, and no trigger hangs on
 * a plugin's table or a v_plugin view (it would run inside the plugin's statements).
 */
int
sv_sqlite_audit(struct sv_db *base, FILE *report, char *err, size_t errlen)
{
	static const char *const checks[] = {
	    "WITH RECURSIVE split(id, kind, rest, name) AS (SELECT id, 'view', views || ' ',"
	    " '' FROM sv_installed UNION ALL SELECT id, 'table', tables || ' ', '' FROM"
	    " sv_installed UNION ALL SELECT id, kind, substr(rest, instr(rest, ' ') + 1),"
	    " substr(rest, 1, instr(rest, ' ') - 1) FROM split WHERE rest <> '')"
	    " SELECT 'plugin ' || id, 'declares ' || kind || ' ' || name || ', which does not"
	    " exist' FROM split WHERE name <> '' AND name NOT IN (SELECT name FROM"
	    " sqlite_master WHERE type = split.kind)",
	    "SELECT 'trigger ' || name, 'on ' || tbl_name || ', which a plugin writes or reads'"
	    " FROM sqlite_master WHERE type = 'trigger' AND (tbl_name LIKE 'plugin\\_%' ESCAPE"
	    " '\\' OR tbl_name LIKE 'v\\_plugin\\_%' ESCAPE '\\')",
	};
	sqlite3 *core = ((struct sqlite_db *)base)->core;
	sqlite3_stmt *st = NULL;
	size_t i, first = 0;
	int found = 0, rc;

	/* Until something is installed there is no record to hold the schema against. */
	if (sqlite3_table_column_metadata(core, "main", "sv_installed", NULL, NULL, NULL, NULL,
					  NULL, NULL) != SQLITE_OK)
		first = 1;
	for (i = first; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (sqlite3_prepare_v2(core, checks[i], -1, &st, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(core));
			return -EIO;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			fprintf(report, "%s: %s\n", sqlite3_column_text(st, 0),
				sqlite3_column_text(st, 1));
			found++;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			snprintf(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(core));
			return -EIO;
		}
	}
	return found;
}

int
sv_sqlite_is_installed(struct sv_db *base, const char *id, char *err, size_t errlen)
{
	sqlite3 *core = ((struct sqlite_db *)base)->core;
	char *views = NULL;

	if (sv_sqlite_installed_views(core, id, &views) < 0) {
		snprintf(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(core));
		return -EIO;
	}
	sqlite3_free(views);
	return views != NULL;
}
