/*
 * cli.c - the svrun command line: options, help, and the plugin id rule.
 *
 * Errors follow GNU conventions ("svrun: unrecognized option '--x'" and a pointer to
 * --help) but exit with SV_EXIT_FAILURE, since 0..125 belong to the plugin.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "proto/frame.h"
#include "runner/runner.h"

static const char usage_text[] =
	"Usage: svrun [OPTION]... PLUGIN.so...  run plugins in the sandbox, side by side\n"
	"       svrun init [--demo] [--db URI]  create the Sovereign core schema\n"
	"       svrun install|uninstall|grants --plan PLUGIN.so    svrun audit\n"
	"       svrun policy explain|lint|bpf|diff FILE...    svrun doctor\n"
	"  --db URI            database (default " SV_DEFAULT_DB ")\n"
	"  --plugins DIR       run every *.so in DIR too\n"
	"  --audit FILE        one JSON line per request (--audit-params: with values)\n"
	"  --timeout SECONDS   wall-clock deadline (60)      --cpu SECONDS  CPU limit\n"
	"  --policy FILE       seccomp policy (shipped default.policy)\n"
	"  --ceiling FILE      refuse a policy wider than FILE\n"
	"  --learn[=FILE]      denied calls fail and are written to a policy to review\n"
	"  --allow-missing=L,. run without sandbox layers L (logged; see svrun doctor)\n"
	"  --memory BYTES      address space (1G)   --max-requests N   (1000000)\n"
	"  --max-result BYTES  one result (2M)      --max-output BYTES  per stream (1M)\n"
	"  --max-frame BYTES   one request (4M)     --debug  --trace  --help  --version\n"
	"Exit status: the plugin's (0..125); 126 svrun failed; 127 not loadable;\n"
	"128 denied syscall; 129 deadline or CPU; 130 protocol or limit; 131 crash.\n"
	"With several plugins: that of the first, in order, that did not exit 0.\n"
	"Examples:\n"
	"  svrun init --demo && svrun build/plugins/hello.so\n"
	"  svrun --timeout 5 --policy my.policy --trace plugin.so\n"
	"See svrun(1) and svrun-policy(5).\n";

int
sv_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cmd)
		sv_warn("%s: %s", cmd, msg);
	else
		sv_warn("%s", msg);
	if (cmd)
		fprintf(stderr, "Try 'svrun %s --help' for more information.\n", cmd);
	else
		fprintf(stderr, "Try 'svrun --help' for more information.\n");
	return -EINVAL;
}

int
sv_parse_size(const char *s, unsigned long max, unsigned long *out)
{
	char num[32], *end;
	unsigned long mult = 1;
	size_t n = strlen(s);
	long v;
	int r;

	*out = 0;
	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n + 1);
	end = num + n - 1;
	if (*end == 'K' || *end == 'k')
		mult = 1ul << 10;
	else if (*end == 'M' || *end == 'm')
		mult = 1ul << 20;
	else if (*end == 'G' || *end == 'g')
		mult = 1ul << 30;
	if (mult != 1)
		*end = '\0';
	if ((r = sv_parse_long(num, 1, LONG_MAX, &v)) < 0)
		return r;
	if ((unsigned long)v > max / mult)
		return -ERANGE;
	*out = (unsigned long)v * mult;
	return 0;
}

/* Parses a whole-number option value in [1, @max] or reports it. */
static int
number_option(const char *name, const char *arg, unsigned long max, unsigned long *out)
{
	long v;

	if (sv_parse_long(arg, 1, (long)max, &v) < 0)
		return sv_usage_error(NULL, "invalid %s '%s': expected 1..%lu", name, arg, max);
	*out = (unsigned long)v;
	return 0;
}

/* Parses a byte-count option value or reports it. */
static int
size_option(const char *name, const char *arg, unsigned long max, unsigned long *out)
{
	if (sv_parse_size(arg, max, out) < 0)
		return sv_usage_error(NULL, "invalid %s '%s': expected a size up to %lu bytes "
					    "(K, M, G suffixes)",
				      name, arg, max);
	return 0;
}

int
sv_cli_parse(int argc, char **argv, struct sv_options *o)
{
	enum {
		OPT_DB = 256, OPT_TIMEOUT, OPT_POLICY, OPT_CEILING, OPT_LEARN, OPT_ALLOW_MISSING,
		OPT_CPU, OPT_MEMORY, OPT_MAX_REQUESTS, OPT_MAX_RESULT, OPT_MAX_OUTPUT, OPT_MAX_FRAME,
		OPT_DEBUG,
		OPT_TRACE, OPT_HELP, OPT_VERSION, OPT_PLUGINS, OPT_AUDIT, OPT_AUDIT_PARAMS,
	};
	static const struct option longopts[] = {
		{"db", required_argument, NULL, OPT_DB},
		{"plugins", required_argument, NULL, OPT_PLUGINS},
		{"audit", required_argument, NULL, OPT_AUDIT},
		{"audit-params", no_argument, NULL, OPT_AUDIT_PARAMS},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"policy", required_argument, NULL, OPT_POLICY},
		{"ceiling", required_argument, NULL, OPT_CEILING},
		{"learn", optional_argument, NULL, OPT_LEARN},
		{"allow-missing", required_argument, NULL, OPT_ALLOW_MISSING},
		{"cpu", required_argument, NULL, OPT_CPU},
		{"memory", required_argument, NULL, OPT_MEMORY},
		{"max-requests", required_argument, NULL, OPT_MAX_REQUESTS},
		{"max-result", required_argument, NULL, OPT_MAX_RESULT},
		{"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
		{"max-frame", required_argument, NULL, OPT_MAX_FRAME},
		{"debug", no_argument, NULL, OPT_DEBUG},
		{"trace", no_argument, NULL, OPT_TRACE},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	int c, r = 0;

	memset(o, 0, sizeof(*o));
	o->db = SV_DEFAULT_DB;
	o->timeout = SV_DEFAULT_TIMEOUT;
	o->memory = 1ul << 30;
	o->max_requests = 1000000;
	o->max_result = 2ul << 20;
	o->max_output = 1ul << 20;
	o->max_frame = SV_FRAME_MAX;
	opterr = 0;
	optind = 1;
	/* "+" stops at the first operand, so a plugin's name is never taken for an option. */
	while (r == 0 && (c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			o->db = optarg;
			break;
		case OPT_PLUGINS:
			o->plugins_dir = optarg;
			break;
		case OPT_AUDIT:
			o->audit = optarg;
			break;
		case OPT_AUDIT_PARAMS:
			o->audit_params = 1;
			break;
		case OPT_TIMEOUT:
			r = number_option("--timeout", optarg, 86400, &o->timeout);
			o->given |= SV_GIVEN_TIMEOUT;
			break;
		case OPT_POLICY:
			o->policy = optarg;
			break;
		case OPT_CEILING:
			o->ceiling = optarg;
			break;
		case OPT_LEARN:
			o->learn = optarg ? optarg : "";
			break;
		case OPT_ALLOW_MISSING:
			o->allow_missing = optarg;
			break;
		case OPT_CPU:
			r = number_option("--cpu", optarg, 86400, &o->cpu_seconds);
			o->given |= SV_GIVEN_CPU;
			break;
		case OPT_MEMORY:
			r = size_option("--memory", optarg, 1ul << 40, &o->memory);
			o->given |= SV_GIVEN_MEMORY;
			break;
		case OPT_MAX_REQUESTS:
			r = number_option("--max-requests", optarg, 1ul << 40, &o->max_requests);
			o->given |= SV_GIVEN_MAX_REQUESTS;
			break;
		case OPT_MAX_RESULT:
			r = size_option("--max-result", optarg, 1ul << 30, &o->max_result);
			o->given |= SV_GIVEN_MAX_RESULT;
			break;
		case OPT_MAX_OUTPUT:
			r = size_option("--max-output", optarg, 1ul << 40, &o->max_output);
			break;
		case OPT_MAX_FRAME:
			r = size_option("--max-frame", optarg, SV_FRAME_MAX, &o->max_frame);
			break;
		case OPT_DEBUG:
			o->debug = 1;
			break;
		case OPT_TRACE:
			o->trace = 1;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			return 1;
		case OPT_VERSION:
			printf("svrun %s\n", SV_VERSION);
			return 1;
		case ':':
			return sv_usage_error(NULL, "option '%s' requires an argument",
					      argv[optind - 1]);
		case '?':
		default:
			return sv_usage_error(NULL, "unrecognized option '%s'", argv[optind - 1]);
		}
	}
	if (r < 0)
		return r;
	if (o->audit_params && !o->audit)
		return sv_usage_error(NULL, "--audit-params needs --audit FILE");
	if (!(o->given & SV_GIVEN_CPU))
		o->cpu_seconds = o->timeout;
	if (optind == argc && o->plugins_dir == NULL)
		return sv_usage_error(NULL, "missing plugin: svrun [OPTION]... PLUGIN.so...");
	o->plugins = argv + optind;
	o->nplugins = (size_t)(argc - optind);
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
