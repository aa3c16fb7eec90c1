/*
 * main.c - svrun: run one plugin in the sandbox, or create the core schema.
 *
 * The order matters: the database is opened with core rights here, in the broker,
 * before anything is forked; the child executes a fresh image and never sees it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "policy/policy.h"
#include "runner/runner.h"

/* Runs one plugin start to end and returns svrun's exit status. */
static int
run_plugin(const struct sv_options *o)
{
	char id[SV_ID_MAX], err[1024], helper[4096], policy_path[4096];
	struct sv_spawn_args args = {0};
	struct sv_supervision sup = {0};
	struct sv_policy *policy = NULL;
	struct sv_session *session = NULL;
	struct sv_child child = {.pid = -1, .pidfd = -1, .chan = -1, .out = -1, .err = -1};
	struct sv_session_limits limits;
	struct sv_db *db = NULL;
	int status = SV_EXIT_FAILURE;

	if (sv_plugin_id(o->plugin, id, sizeof(id), err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		goto out;
	}
	if (access(o->plugin, R_OK) < 0) {
		sv_warn("cannot read plugin %s: %s", o->plugin, strerror(errno));
		goto out;
	}
	if (sv_find_installed("libexec/svrun/svrun-sandbox", SV_INSTALL_HELPER, helper,
			      sizeof(helper)) < 0) {
		sv_warn("sandbox helper svrun-sandbox not found (looked beside svrun and in %s)",
			SV_INSTALL_HELPER);
		goto out;
	}
	if (o->policy) {
		if (sv_strlcpy(policy_path, o->policy, sizeof(policy_path)) < 0) {
			sv_warn("policy path too long");
			goto out;
		}
	} else if (sv_find_installed("share/svrun/policies/default.policy",
				     SV_INSTALL_POLICY_DIR "/default.policy", policy_path,
				     sizeof(policy_path)) < 0) {
		sv_warn("default policy not found in %s", SV_INSTALL_POLICY_DIR);
		goto out;
	}
	/* Checked here so a broken policy is reported before anything is forked. */
	if (sv_policy_load(policy_path, &policy, err, sizeof(err)) < 0) {
		sv_warn("policy: %s", err);
		goto out;
	}
	if (sv_db_open(o->db, &db, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		goto out;
	}
	sv_session_default_limits(&limits);
	limits.result_bytes = o->max_result;
	if (sv_session_open(db, id, &limits, &session, err, sizeof(err)) < 0) {
		sv_warn("plugin '%s': %s", id, err);
		goto out;
	}
	args.helper = helper;
	args.policy = policy_path;
	args.plugin = o->plugin;
	args.id = id;
	args.cpu_seconds = o->cpu_seconds;
	args.address_space = o->memory;
	args.open_files = 16;
	args.allow_missing = o->allow_missing;
	if (sv_spawn(&args, &child, err, sizeof(err)) < 0) {
		sv_warn("plugin '%s': %s", id, err);
		goto out;
	}
	sup.id = id;
	sup.policy = policy_path;
	sup.rules = policy;
	sup.session = session;
	sup.timeout = o->timeout;
	sup.deadline_ns = sv_now_ns() + (uint64_t)o->timeout * 1000000000ull;
	sup.output_max = o->max_output;
	sup.max_requests = o->max_requests;
	sup.debug = o->debug;
	sup.trace = o->trace;
	if (o->debug)
		sv_warn("plugin '%s': --debug: refusals tell the plugin their full reason", id);
	sv_session_set_deadline(session, sup.deadline_ns);
	status = sv_supervise(&child, &sup);
out:
	sv_child_destroy(&child);
	sv_session_close(session);
	sv_db_close(db);
	sv_policy_free(policy);
	return status;
}

/* The subcommands, found by their first word; anything else is a plugin to run. */
static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{"init", sv_cmd_init},
	{"policy", sv_cmd_policy},
	{"doctor", sv_cmd_doctor},
	{"install", sv_cmd_install},
	{"uninstall", sv_cmd_uninstall},
	{"grants", sv_cmd_grants},
	{"audit", sv_cmd_audit},
};

int
main(int argc, char **argv)
{
	struct sv_options o;
	size_t i;
	int r;

	sv_set_progname("svrun");
	/* A plugin that closes its end must not kill the broker with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; argc > 1 && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	if ((r = sv_cli_parse(argc, argv, &o)) != 0)
		return r > 0 ? 0 : SV_EXIT_FAILURE;
	return run_plugin(&o);
}
