/*
 * cmd_install.c - the operator's commands for a plugin's database rights, run with core
 * credentials on either backend: `svrun install`, `svrun grants --plan`, `svrun
 * uninstall` and `svrun audit` (RFC-0003). The broker does the work (broker/install.c);
 * this file reads the manifest and the command line and says what happened.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "runner/runner.h"

static const char install_usage[] =
    "Usage: svrun install [--db URI] PLUGIN.so\n"
    "       svrun grants --plan [--db URI] PLUGIN.so\n"
    "       svrun uninstall [--db URI] [--keep-data] PLUGIN.so|ID\n"
    "       svrun audit [--db URI]\n"
    "Give a plugin exactly the database rights its manifest (PLUGIN.manifest) declares:\n"
    "its own tables plugin_<id>_*, created and owned by core, and SELECT on the\n"
    "v_plugin_* views it lists (all of them without a manifest). On PostgreSQL the\n"
    "plugin's role svc_plugin_<id> gets those grants and nothing else.\n"
    "\n"
    "  --db URI      database (default " SV_DEFAULT_DB "); PostgreSQL\n"
    "                credentials come from PGPASSFILE or ~/.pgpass, never the URI\n"
    "  --plan        print the SQL install would run, run nothing\n"
    "  --keep-data   uninstall: keep the plugin's tables\n"
    "audit exits 0 when no plugin can do more than it was granted, 1 listing each\n"
    "excess when one can, 126 when it cannot tell.\n";

/* The command line shared by the four commands. */
struct install_args {
	const char *cmd;
	const char *db;
	const char *target; /* PLUGIN.so, or an id for uninstall */
	int plan;
	int keep_data;
};

/* Parses @argv for @a->cmd. Returns 0 to go on, 1 after --help, -1 after an error. */
static int
parse_args(int argc, char **argv, struct install_args *a, int want_target)
{
	enum { OPT_DB = 256, OPT_PLAN, OPT_KEEP, OPT_HELP };
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, OPT_DB},
	    {"plan", no_argument, NULL, OPT_PLAN},
	    {"keep-data", no_argument, NULL, OPT_KEEP},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	int c;

	a->db = SV_DEFAULT_DB;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			a->db = optarg;
			break;
		case OPT_PLAN:
			a->plan = 1;
			break;
		case OPT_KEEP:
			a->keep_data = 1;
			break;
		case OPT_HELP:
			fputs(install_usage, stdout);
			return 1;
		case ':':
			sv_usage_error(a->cmd, "option '%s' requires an argument",
				       argv[optind - 1]);
			return -1;
		default:
			sv_usage_error(a->cmd, "unrecognized option '%s'", argv[optind - 1]);
			return -1;
		}
	}
	if ((a->plan && strcmp(a->cmd, "grants") != 0) ||
	    (a->keep_data && strcmp(a->cmd, "uninstall") != 0)) {
		sv_usage_error(a->cmd, "option '%s' is not for %s",
			       a->plan ? "--plan" : "--keep-data", a->cmd);
		return -1;
	}
	if (want_target && optind == argc) {
		sv_usage_error(a->cmd, "missing plugin: svrun %s [OPTION]... PLUGIN.so", a->cmd);
		return -1;
	}
	if (optind + want_target != argc) {
		sv_usage_error(a->cmd, "unexpected argument '%s'", argv[optind + want_target]);
		return -1;
	}
	a->target = want_target ? argv[optind] : NULL;
	return 0;
}

/* Prints what @r grants, in one line an operator can check against the manifest. */
static void
say_installed(const struct sv_manifest *m, const char *db)
{
	const struct sv_rights *r = &m->rights;
	size_t i;

	printf("svrun: installed plugin %s in %s: reads", r->id, db);
	if (r->all_views)
		printf(" every v_plugin_* view (no manifest)");
	for (i = 0; i < r->nviews; i++)
		printf(" %s", r->views[i]);
	printf("; owns plugin_%s_*", r->id);
	for (i = 0; i < r->ntables; i++)
		printf("%s%s", i ? ", " : " (declared: ", r->tables[i].name);
	printf("%s\n", r->ntables ? ")" : "");
}

/* install and grants --plan: the same plan, run or printed. */
static int
install_or_plan(int argc, char **argv, const char *cmd)
{
	struct install_args a = {.cmd = cmd};
	struct sv_manifest m;
	struct sv_db *db = NULL;
	char err[1024];
	int r, status = SV_EXIT_FAILURE;

	if ((r = parse_args(argc, argv, &a, 1)) != 0)
		return r > 0 ? 0 : SV_EXIT_FAILURE;
	if (sv_manifest_load(a.target, &m, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		return SV_EXIT_FAILURE;
	}
	if (sv_db_open(a.db, &db, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		goto out;
	}
	if (sv_install(db, &m.rights, a.plan ? stdout : NULL, err, sizeof(err)) < 0) {
		sv_warn("%s %s: %s", cmd, m.rights.id, err);
		goto out;
	}
	if (!a.plan)
		say_installed(&m, a.db);
	status = 0;
out:
	sv_db_close(db);
	sv_manifest_clear(&m);
	return status;
}

int
sv_cmd_install(int argc, char **argv)
{
	return install_or_plan(argc, argv, "install");
}

int
sv_cmd_grants(int argc, char **argv)
{
	return install_or_plan(argc, argv, "grants");
}

int
sv_cmd_uninstall(int argc, char **argv)
{
	struct install_args a = {.cmd = "uninstall"};
	struct sv_manifest m = {0};
	struct sv_db *db = NULL;
	const char *id;
	char err[1024];
	int r, status = SV_EXIT_FAILURE;

	if ((r = parse_args(argc, argv, &a, 1)) != 0)
		return r > 0 ? 0 : SV_EXIT_FAILURE;
	/* An id is enough: the plugin file may already be gone. */
	id = a.target;
	if (strchr(a.target, '/') || strstr(a.target, ".so")) {
		if (sv_manifest_load(a.target, &m, err, sizeof(err)) < 0) {
			sv_warn("%s", err);
			return SV_EXIT_FAILURE;
		}
		id = m.rights.id;
	}
	if (sv_db_open(a.db, &db, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		goto out;
	}
	if (sv_uninstall(db, id, a.keep_data, NULL, err, sizeof(err)) < 0) {
		sv_warn("uninstall %s: %s", id, err);
		goto out;
	}
	printf("svrun: uninstalled plugin %s from %s%s\n", id, a.db,
	       a.keep_data ? "; its tables are kept" : "; its tables are dropped");
	status = 0;
out:
	sv_db_close(db);
	sv_manifest_clear(&m);
	return status;
}

int
sv_cmd_audit(int argc, char **argv)
{
	struct install_args a = {.cmd = "audit"};
	struct sv_db *db = NULL;
	char err[1024];
	int r, status = SV_EXIT_FAILURE;

	if ((r = parse_args(argc, argv, &a, 0)) != 0)
		return r > 0 ? 0 : SV_EXIT_FAILURE;
	if (sv_db_open(a.db, &db, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		goto out;
	}
	if ((r = sv_audit(db, stdout, err, sizeof(err))) < 0) {
		sv_warn("audit %s: %s", a.db, err);
		goto out;
	}
	if (r > 0)
		sv_warn("audit %s: %d excess%s found: a plugin can do more than it was granted",
			a.db, r, r == 1 ? "" : "es");
	else
		printf("svrun: audit %s: every plugin can do exactly what it was granted\n", a.db);
	status = r > 0 ? 1 : 0;
out:
	sv_db_close(db);
	return status;
}
