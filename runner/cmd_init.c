/*
 * cmd_init.c - `svrun init`: create the Sovereign core schema an operator starts from.
 */
#include <getopt.h>
#include <stdio.h>

#include "common/common.h"
#include "runner/runner.h"

static const char init_usage[] =
	"Usage: svrun init [--demo] [--db URI]\n"
	"Create the Sovereign core schema (tenants, users, config, boards and the\n"
	"v_plugin_* views) in a new database.\n"
	"\n"
	"  --db URI   database (default " SV_DEFAULT_DB ")\n"
	"  --demo     add demo tenants, users, boards and the example plugin's table\n";

int
sv_cmd_init(int argc, char **argv)
{
	enum { OPT_DB = 256, OPT_DEMO, OPT_HELP };
	static const struct option longopts[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"demo", no_argument, NULL, OPT_DEMO},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *db = SV_DEFAULT_DB;
	char err[512];
	int c, demo = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			db = optarg;
			break;
		case OPT_DEMO:
			demo = 1;
			break;
		case OPT_HELP:
			fputs(init_usage, stdout);
			return 0;
		case ':':
			sv_usage_error("init", "option '%s' requires an argument",
				       argv[optind - 1]);
			return SV_EXIT_FAILURE;
		case '?':
		default:
			sv_usage_error("init", "unrecognized option '%s'", argv[optind - 1]);
			return SV_EXIT_FAILURE;
		}
	}
	if (optind != argc) {
		sv_usage_error("init", "unexpected argument '%s'", argv[optind]);
		return SV_EXIT_FAILURE;
	}
	if (sv_db_init(db, demo, err, sizeof(err)) < 0) {
		sv_warn("init %s: %s", db, err);
		return SV_EXIT_FAILURE;
	}
	printf("svrun: created the Sovereign core schema in %s%s\n", db,
	       demo ? " with demo data" : "");
	return 0;
}
