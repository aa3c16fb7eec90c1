/*
 * cli.c - the svrun command line: options, help, and the plugin id rule.
 *
 * Errors follow GNU conventions ("svrun: unrecognized option '--x'" and a pointer to
 * --help) but exit with SV_EXIT_FAILURE, since 0..125 belong to the plugin.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "runner/runner.h"

static const char usage_text[] =
	"Usage: svrun [OPTION]... PLUGIN.so\n"
	"       svrun init [--demo] [--db URI]\n"
	"Run a Sovereign plugin in a sandbox: no files, no network, no credentials;\n"
	"its only channel is the broker, which runs its SQL under the plugin's rights.\n"
	"\n"
	"Options:\n"
	"  --db URI           database (default " SV_DEFAULT_DB ")\n"
	"  --timeout SECONDS  wall-clock deadline for the plugin (default 60)\n"
	"  --policy FILE      seccomp policy (default: the shipped default.policy)\n"
	"  --demo             with init: add demo tenants, users and boards\n"
	"  --help             show this help and exit\n"
	"  --version          show the version and exit\n"
	"\n"
	"Exit status: the plugin's return value (0..125); 126 svrun failed; 127 plugin\n"
	"could not be loaded; 128 killed for a denied syscall; 129 deadline passed;\n"
	"130 protocol or limit violation; 131 plugin crashed.\n"
	"\n"
	"Examples:\n"
	"  svrun init --demo                  create ./sovereign.db with demo data\n"
	"  svrun build/plugins/hello.so       run a plugin against it\n";

/* Prints a usage error the GNU way and returns -EINVAL. */
static int SV_PRINTF(1, 2)
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sv_vwarn(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'svrun --help' for more information.\n");
	return -EINVAL;
}

int
sv_cli_parse(int argc, char **argv, struct sv_options *o)
{
	enum { OPT_DB = 256, OPT_TIMEOUT, OPT_POLICY, OPT_DEMO, OPT_HELP, OPT_VERSION };
	static const struct option longopts[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"policy", required_argument, NULL, OPT_POLICY},
		{"demo", no_argument, NULL, OPT_DEMO},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->db = SV_DEFAULT_DB;
	o->timeout = SV_DEFAULT_TIMEOUT;
	opterr = 0;
	/* "+" stops at the first operand, so a plugin's name is never taken for an option. */
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			o->db = optarg;
			break;
		case OPT_TIMEOUT:
			if (sv_parse_long(optarg, 1, 86400, &v) < 0)
				return usage_error("invalid --timeout '%s': expected 1..86400 "
						   "seconds", optarg);
			o->timeout = (unsigned long)v;
			break;
		case OPT_POLICY:
			o->policy = optarg;
			break;
		case OPT_DEMO:
			o->demo = 1;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			return 1;
		case OPT_VERSION:
			printf("svrun %s\n", SV_VERSION);
			return 1;
		case ':':
			return usage_error("option '%s' requires an argument", argv[optind - 1]);
		case '?':
		default:
			return usage_error("unrecognized option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc && strcmp(argv[optind], "init") == 0) {
		o->command = SV_CMD_INIT;
		/* init takes its options after the word too: svrun init --demo --db URI. */
		optind++;
		while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
			if (c == OPT_DB)
				o->db = optarg;
			else if (c == OPT_DEMO)
				o->demo = 1;
			else if (c == ':')
				return usage_error("option '%s' requires an argument",
						   argv[optind - 1]);
			else
				return usage_error("init: unrecognized option '%s'",
						   argv[optind - 1]);
		}
		if (optind != argc)
			return usage_error("init: unexpected argument '%s'", argv[optind]);
		return 0;
	}
	if (o->demo)
		return usage_error("--demo goes with init");
	if (optind == argc)
		return usage_error("missing plugin: svrun [OPTION]... PLUGIN.so");
	if (optind + 1 != argc)
		return usage_error("unexpected argument '%s': one plugin at a time",
				   argv[optind + 1]);
	o->command = SV_CMD_RUN;
	o->plugin = argv[optind];
	return 0;
}

int
sv_plugin_id(const char *path, char *id, size_t idlen, char *err, size_t errlen)
{
	const char *base = strrchr(path, '/');
	size_t n, i;

	base = base ? base + 1 : path;
	n = strlen(base);
	id[0] = '\0';
	if (n < 4 || strcmp(base + n - 3, ".so") != 0) {
		snprintf(err, errlen, "plugin '%s' is not a .so file", path);
		return -EINVAL;
	}
	n -= 3;
	if (n >= idlen || n >= SV_ID_MAX) {
		snprintf(err, errlen, "plugin id of '%s' is longer than %d characters", path,
			 SV_ID_MAX - 1);
		return -EINVAL;
	}
	/* The id names the plugin's tables and role: [a-z][a-z0-9]*, nothing else. */
	for (i = 0; i < n; i++) {
		if ((base[i] >= 'a' && base[i] <= 'z') || (i > 0 && base[i] >= '0' && base[i] <= '9'))
			continue;
		snprintf(err, errlen,
			 "plugin id '%.*s' (from '%s') must match [a-z][a-z0-9]*: rename the file",
			 (int)n, base, path);
		return -EINVAL;
	}
	memcpy(id, base, n);
	id[n] = '\0';
	return 0;
}

int
sv_find_installed(const char *rel, const char *fallback, char *out, size_t len)
{
	char exe[4096], guess[4096], *slash;
	ssize_t n;

	/* svrun's own directory first: the build tree and the install share one layout. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			/* Resolved, so messages name the file as a person would find it. */
			if (sv_snprintf(guess, sizeof(guess), "%s/../%s", exe, rel) == 0 &&
			    realpath(guess, exe) != NULL && sv_strlcpy(out, exe, len) == 0 &&
			    access(out, R_OK) == 0)
				return 0;
		}
	}
	if (sv_strlcpy(out, fallback, len) < 0)
		return -ENAMETOOLONG;
	return access(out, R_OK) == 0 ? 0 : -ENOENT;
}
