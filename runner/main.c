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

/* Where an operator puts the policy no plugin may exceed, if present. */
#define SV_DEFAULT_CEILING "/etc/svrun/ceiling.policy"

/*
 * Loads the ceiling (--ceiling, or the default path when that file exists) into *@out
 * (NULL when there is none) and refuses @policy if it permits anything the ceiling does
 * not. Returns 0 or -1 after saying why.
 */
static int
check_ceiling(const struct sv_options *o, const struct sv_policy *policy,
	      struct sv_policy **out)
{
	const char *path = o->ceiling;
	char err[1024];

	*out = NULL;
	if (path == NULL && access(SV_DEFAULT_CEILING, F_OK) == 0)
		path = SV_DEFAULT_CEILING;
	if (path == NULL)
		return 0;
	if (sv_policy_load(path, out, err, sizeof(err)) < 0) {
		sv_warn("ceiling: %s", err);
		return -1;
	}
	if (sv_policy_exceeds(policy, *out, NULL) > 0) {
		sv_warn("policy %s permits what the ceiling %s does not:", sv_policy_path(policy),
			path);
		sv_policy_exceeds(policy, *out, stderr);
		return -1;
	}
	return 0;
}

/* A "log" rule lets a call through for learning; outside learn mode it is refused. */
static int
refuse_log_rules(const struct sv_policy *policy)
{
	struct sv_policy_rule_info ri;
	size_t i;

	for (i = 0; i < sv_policy_nrules(policy); i++) {
		sv_policy_rule(policy, i, &ri);
		if (ri.logs) {
			sv_warn("%s:%u: '%s: log' is for learn runs only (svrun --learn); write "
				"allow, return or kill for a real run",
				ri.file, ri.line, ri.name);
			return -1;
		}
	}
	return 0;
}

/* The manifest's limits, where the operator gave none on the command line. */
static void
apply_manifest_limits(struct sv_options *o, const struct sv_manifest *m)
{
	if (m->timeout && !(o->given & SV_GIVEN_TIMEOUT))
		o->timeout = m->timeout;
	if (m->cpu_seconds && !(o->given & SV_GIVEN_CPU))
		o->cpu_seconds = m->cpu_seconds;
	else if (!(o->given & SV_GIVEN_CPU))
		o->cpu_seconds = o->timeout;
	if (m->memory && !(o->given & SV_GIVEN_MEMORY))
		o->memory = m->memory;
	if (m->max_requests && !(o->given & SV_GIVEN_MAX_REQUESTS))
		o->max_requests = m->max_requests;
	if (m->max_result && !(o->given & SV_GIVEN_MAX_RESULT))
		o->max_result = m->max_result;
}

/* Runs one plugin start to end and returns svrun's exit status. */
static int
run_plugin(struct sv_options *o)
{
	char err[1024], helper[4096], policy_path[4096];
	struct sv_manifest manifest = {0};
	const char *id;
	struct sv_spawn_args args = {0};
	struct sv_supervision sup = {0};
	struct sv_policy *policy = NULL, *ceiling = NULL;
	struct sv_learn *learn = NULL;
	char learn_path[4096];
	struct sv_session *session = NULL;
	struct sv_child child = {.pid = -1, .pidfd = -1, .chan = -1, .out = -1, .err = -1};
	struct sv_session_limits limits;
	struct sv_db *db = NULL;
	int status = SV_EXIT_FAILURE, r;

	if (sv_manifest_load(o->plugin, &manifest, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		goto out;
	}
	id = manifest.rights.id;
	apply_manifest_limits(o, &manifest);
	if (!o->policy)
		o->policy = manifest.policy;
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
	if (!o->learn && refuse_log_rules(policy) < 0)
		goto out;
	if (check_ceiling(o, policy, &ceiling) < 0)
		goto out;
	if (o->allow_missing) {
		if (sv_allow_missing_check(o->allow_missing, err, sizeof(err)) < 0) {
			sv_warn("%s", err);
			goto out;
		}
		sv_warn("plugin '%s': --allow-missing=%s: these sandbox layers may be absent; "
			"each one that is will be logged",
			id, o->allow_missing);
	}
	if (o->learn) {
		if (sv_snprintf(learn_path, sizeof(learn_path), "%s.learned.policy", id) < 0 ||
		    (o->learn[0] && sv_strlcpy(learn_path, o->learn, sizeof(learn_path)) < 0)) {
			sv_warn("learned policy path too long");
			goto out;
		}
		if ((learn = sv_learn_new()) == NULL) {
			sv_warn("out of memory");
			goto out;
		}
		sv_warn("plugin '%s': learn mode: denied syscalls fail with EPERM instead of "
			"killing it, and go to %s; the sandbox is otherwise unchanged",
			id, learn_path);
	}
	if (sv_db_open(o->db, &db, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		goto out;
	}
	/* A manifest's rights hold only once installed; never the wider defaults instead. */
	if (manifest.path[0] && (r = sv_is_installed(db, id, err, sizeof(err))) <= 0) {
		if (r == 0)
			sv_warn("plugin '%s' has a manifest (%s) but is not installed in %s; "
				"install it first: svrun install --db %s %s",
				id, manifest.path, o->db, o->db, o->plugin);
		else
			sv_warn("%s", err);
		goto out;
	}
	sv_session_default_limits(&limits);
	limits.result_bytes = o->max_result;
	if (manifest.statement_ms)
		limits.statement_ms = manifest.statement_ms;
	if (limits.statement_ms > o->timeout * 1000ul)
		limits.statement_ms = o->timeout * 1000ul;
	limits.idle_tx_ms = o->timeout * 1000ul;
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
	sup.frame_max = o->max_frame;
	sup.address_space = o->memory;
	sup.max_requests = o->max_requests;
	sup.debug = o->debug;
	sup.trace = o->trace;
	if (o->debug)
		sv_warn("plugin '%s': --debug: refusals tell the plugin their full reason", id);
	sv_session_set_deadline(session, sup.deadline_ns);
	sup.learn = learn;
	status = sv_supervise(&child, &sup);
	if (learn && sv_learn_write(learn, learn_path, id, policy, ceiling, err, sizeof(err)) < 0) {
		sv_warn("learn: %s", err);
		status = SV_EXIT_FAILURE;
	} else if (learn) {
		sv_warn("plugin '%s': learned policy written to %s; review it with svrun policy "
			"explain and lint before use",
			id, learn_path);
	}
out:
	sv_learn_free(learn);
	sv_policy_free(ceiling);
	sv_child_destroy(&child);
	sv_session_close(session);
	sv_db_close(db);
	sv_policy_free(policy);
	sv_manifest_clear(&manifest);
	return status;
}

/* The subcommands, found by their first word; anything else is a plugin to run. */
static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{"init", sv_cmd_init},	 {"policy", sv_cmd_policy}, {"doctor", sv_cmd_doctor},
	{"install", sv_cmd_install}, {"grants", sv_cmd_grants}, {"uninstall", sv_cmd_uninstall},
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
