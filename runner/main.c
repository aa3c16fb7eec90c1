/*
 * main.c - svrun: run plugins in the sandbox, side by side under this one broker, or
 * one of the subcommands.
 *
 * The order matters: the database is opened with core rights here, in the broker,
 * before anything is forked; the child executes a fresh image and never sees it.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

/* One plugin of a run, from its manifest to its exit status. */
struct launch {
	struct sv_options o;		/* the run's options, with this plugin's manifest limits */
	struct sv_manifest manifest;
	const char *id;
	char *policy_path;		/* malloc'd, as are learn_path and the manifest's */
	struct sv_policy *policy;
	uint8_t *filters;		/* its seccomp programs, for the sandbox */
	size_t filters_len;
	int policy_shared;		/* both an earlier launch's, freed with that one */
	struct sv_policy *ceiling;
	struct sv_learn *learn;
	char *learn_path;
	struct sv_audit *audit;		/* the run's, shared */
	struct sv_session *session;
	struct sv_child child;
	struct sv_supervision sup;
	int status;
};

/*
 * The earlier one of the @n launches @ls that compiled the policy at @path, or NULL:
 * plugins run on one policy file hold one copy of it and of its programs, not one each.
 */
static const struct launch *
policy_compiled_before(const struct launch *ls, size_t n, const char *path)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ls[i].filters && strcmp(ls[i].policy_path, path) == 0)
			return &ls[i];
	return NULL;
}

/*
 * Parses the policy of launch @l and compiles the sandbox's seccomp programs from it, or
 * takes both from an earlier launch of @ls on the same file (the file is read once, so
 * what the sandbox runs is what the broker checks and names). Returns 0, or -1 after
 * saying why.
 */
static int
compile_policy(struct launch *ls, size_t i)
{
	struct launch *l = &ls[i];
	const struct launch *before = policy_compiled_before(ls, i, l->policy_path);
	char err[1024];

	if (before != NULL) {
		l->policy = before->policy;
		l->filters = before->filters;
		l->filters_len = before->filters_len;
		l->policy_shared = 1;
		return 0;
	}
	if (sv_policy_load(l->policy_path, &l->policy, err, sizeof(err)) < 0 ||
	    sv_policy_filters(l->policy, &l->filters, &l->filters_len, err, sizeof(err)) < 0) {
		sv_warn("policy: %s", err);
		return -1;
	}
	return 0;
}

/*
 * Reads the manifest of launch @l, which sets its limits and names its policy: what its
 * sandbox is started with. Returns 0, or -1 after saying why.
 */
static int
read_manifest(struct launch *l)
{
	struct sv_options *o = &l->o;
	char err[1024], path[4096];

	if (sv_manifest_load(o->plugin, &l->manifest, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		return -1;
	}
	l->id = l->manifest.rights.id;
	apply_manifest_limits(o, &l->manifest);
	if (!o->policy)
		o->policy = l->manifest.policy;
	if (access(o->plugin, R_OK) < 0) {
		sv_warn("cannot read plugin %s: %s", o->plugin, strerror(errno));
		return -1;
	}
	if (!o->policy && sv_find_installed("share/svrun/policies/default.policy",
					    SV_INSTALL_POLICY_DIR "/default.policy", path,
					    sizeof(path)) < 0) {
		sv_warn("default policy not found in %s", SV_INSTALL_POLICY_DIR);
		return -1;
	}
	if ((l->policy_path = strdup(o->policy ? o->policy : path)) == NULL) {
		sv_warn("plugin '%s': out of memory", l->id);
		return -1;
	}
	if (o->allow_missing)
		sv_warn("plugin '%s': --allow-missing=%s: these sandbox layers may be absent; "
			"each one that is will be logged",
			l->id, o->allow_missing);
	return 0;
}

/*
 * Reads the policy of launch @i of @ls and checks it against the ceiling, before any
 * plugin code can run: a sandbox started already waits for its seccomp programs.
 * Returns 0, or -1 after saying why.
 */
static int
prepare(struct launch *ls, size_t i)
{
	struct launch *l = &ls[i];
	struct sv_options *o = &l->o;

	if (compile_policy(ls, i) < 0)
		return -1;
	if (!o->learn && refuse_log_rules(l->policy) < 0)
		return -1;
	if (check_ceiling(o, l->policy, &l->ceiling) < 0)
		return -1;
	if (o->learn) {
		if (o->learn[0])
			l->learn_path = strdup(o->learn);
		else if (asprintf(&l->learn_path, "%s.learned.policy", l->id) < 0)
			l->learn_path = NULL;
		if (l->learn_path == NULL) {
			sv_warn("out of memory");
			return -1;
		}
		if ((l->learn = sv_learn_new()) == NULL) {
			sv_warn("out of memory");
			return -1;
		}
		sv_warn("plugin '%s': learn mode: denied syscalls fail with EPERM instead of "
			"killing it, and go to %s; the sandbox is otherwise unchanged",
			l->id, l->learn_path);
	}
	return 0;
}

/* Refuses a plugin whose manifest is not installed in @db: never the wider defaults instead. */
static int
check_installed(struct launch *l, struct sv_db *db)
{
	char err[1024];
	int r;

	if (!l->manifest.path || (r = sv_is_installed(db, l->id, err, sizeof(err))) > 0)
		return 0;
	if (r == 0)
		sv_warn("plugin '%s' has a manifest (%s) but is not installed in %s; "
			"install it first: svrun install --db %s %s",
			l->id, l->manifest.path, l->o.db, l->o.db, l->o.plugin);
	else
		sv_warn("%s", err);
	return -1;
}

/*
 * Opens the plugin's own session on @db, under the rights it was installed with. Returns
 * 0; -EAGAIN when @in_turn and the database is locked (by the statement the turn runs
 * in, which cannot end while this waits); or -1; each after saying why.
 */
static int
open_session(struct launch *l, struct sv_db *db, int in_turn)
{
	struct sv_options *o = &l->o;
	struct sv_session_limits limits;
	char err[1024];
	int r;

	sv_session_default_limits(&limits);
	limits.result_bytes = o->max_result;
	if (l->manifest.statement_ms)
		limits.statement_ms = l->manifest.statement_ms;
	if (limits.statement_ms > o->timeout * 1000ul)
		limits.statement_ms = o->timeout * 1000ul;
	limits.idle_tx_ms = o->timeout * 1000ul;
	if ((r = sv_session_open(db, l->id, &limits, &l->session, err, sizeof(err))) == 0)
		return 0;
	if (r == -EBUSY && in_turn) {
		sv_warn("plugin '%s' waits to start: the database is locked by a running statement",
			l->id);
		return -EAGAIN;
	}
	sv_warn("plugin '%s': %s", l->id, err);
	return -1;
}

/*
 * What the supervisor needs to start plugin i: every launch, the helper, the zygote
 * (NULL for a run of one), the database.
 */
struct starter {
	struct launch *ls;
	const char *helper;
	struct sv_zygote *zygote;
	struct sv_db *db;
};

/*
 * Forks the sandbox of launch @l, which sets itself up and waits for its programs; from
 * @zygote when there is one.
 */
static int
start_sandbox(struct launch *l, const char *helper, struct sv_zygote *zygote)
{
	struct sv_options *o = &l->o;
	struct sv_spawn_args args = {0};
	char err[1024];

	args.zygote = zygote;
	args.helper = helper;
	args.plugin = o->plugin;
	args.id = l->id;
	args.cpu_seconds = o->cpu_seconds;
	args.address_space = o->memory;
	args.open_files = 16;
	args.allow_missing = o->allow_missing;
	if (sv_spawn(&args, &l->child, err, sizeof(err)) < 0) {
		sv_warn("plugin '%s': %s", l->id, err);
		return -1;
	}
	return 0;
}

/*
 * Forks the plugin's sandbox unless run_plugins() did, hands it its seccomp programs,
 * opens its session while the sandbox sets itself up (on another CPU, if there is one),
 * arms its supervision and lets it load the plugin; its deadline starts now. A plugin
 * whose session cannot be opened never runs any code. Returns 0, -EAGAIN as
 * open_session() does, or -1.
 */
static int
launch(struct launch *l, const struct starter *st, int in_turn)
{
	struct sv_options *o = &l->o;
	struct sv_db *db = st->db;
	char err[1024];
	int r;

	if (l->child.pid < 0 && start_sandbox(l, st->helper, st->zygote) < 0)
		return -1;
	if (sv_child_send_filters(&l->child, l->filters, l->filters_len, err, sizeof(err)) < 0) {
		sv_warn("plugin '%s': %s", l->id, err);
		sv_child_destroy(&l->child);
		return -1;
	}
	if ((r = open_session(l, db, in_turn)) < 0) {
		sv_child_destroy(&l->child);
		return r;
	}
	l->sup.id = l->id;
	l->sup.policy = l->policy_path;
	l->sup.rules = l->policy;
	l->sup.session = l->session;
	l->sup.timeout = o->timeout;
	l->sup.deadline_ns = sv_now_ns() + (uint64_t)o->timeout * 1000000000ull;
	l->sup.output_max = o->max_output;
	l->sup.frame_max = o->max_frame;
	l->sup.address_space = o->memory;
	l->sup.max_requests = o->max_requests;
	l->sup.debug = o->debug;
	l->sup.trace = o->trace;
	l->sup.learn = l->learn;
	l->sup.audit = l->audit;
	if (o->debug)
		sv_warn("plugin '%s': --debug: refusals tell the plugin their full reason", l->id);
	sv_session_set_deadline(l->session, l->sup.deadline_ns);
	if (sv_child_release(&l->child, err, sizeof(err)) < 0) {
		sv_warn("plugin '%s': %s", l->id, err);
		sv_child_destroy(&l->child);
		return -1;
	}
	return 0;
}

/* sv_start_fn: starts launch @i, handing its child and supervision to the loop. */
static int
start_launch(size_t i, int in_turn, struct sv_child *c, struct sv_supervision *sup, void *arg)
{
	struct starter *st = arg;
	int r = launch(&st->ls[i], st, in_turn);

	/* Failed, the child is gone: the loop must not keep the early start's copy of it. */
	*c = st->ls[i].child;
	if (r < 0)
		return r;
	*sup = st->ls[i].sup;
	return 0;
}

/* Writes what learn mode gathered; returns the launch's status, failed if that failed. */
static int
write_learned(struct launch *l)
{
	char err[1024];

	if (!l->learn)
		return l->status;
	if (sv_learn_write(l->learn, l->learn_path, l->id, l->policy, l->ceiling, err,
			   sizeof(err)) < 0) {
		sv_warn("learn: %s", err);
		return SV_EXIT_FAILURE;
	}
	sv_warn("plugin '%s': learned policy written to %s; review it with svrun policy "
		"explain and lint before use",
		l->id, l->learn_path);
	return l->status;
}

/* Frees what launch @l holds, at whatever stage it got to. */
static void
release(struct launch *l)
{
	sv_learn_free(l->learn);
	sv_policy_free(l->ceiling);
	sv_child_destroy(&l->child);
	sv_session_close(l->session);
	if (!l->policy_shared) {
		sv_policy_free(l->policy);
		free(l->filters);
	}
	sv_manifest_clear(&l->manifest);
	free(l->policy_path);
	free(l->learn_path);
}

/* How a plugin ended, in the words of the summary. */
static void
describe_status(int status, int signo, char *buf, size_t len)
{
	static const char *const words[] = {
		[SV_EXIT_FAILURE - SV_EXIT_FAILURE] = "svrun failed to run it",
		[SV_EXIT_LOAD - SV_EXIT_FAILURE] = "could not be loaded",
		[SV_EXIT_VIOLATION - SV_EXIT_FAILURE] = "killed: a denied syscall",
		[SV_EXIT_DEADLINE - SV_EXIT_FAILURE] = "killed: deadline or CPU limit",
		[SV_EXIT_PROTOCOL - SV_EXIT_FAILURE] = "stopped: protocol violation or limit",
		[SV_EXIT_CRASH - SV_EXIT_FAILURE] = "crashed",
	};

	if (status <= SV_EXIT_PLUGIN_MAX)
		snprintf(buf, len, "exited with status %d", status);
	else if (status == SV_EXIT_FAILURE && signo)
		snprintf(buf, len, "stopped: svrun received SIG%s", sigabbrev_np(signo));
	else
		snprintf(buf, len, "%s", words[status - SV_EXIT_FAILURE]);
}

/* Prints how each plugin of a run of several ended, one line each. */
static void
summarize(const struct launch *ls, size_t n, int signo)
{
	char how[96];

	sv_warn("%zu plugins ended:", n);
	for (size_t i = 0; i < n; i++) {
		describe_status(ls[i].status, signo, how, sizeof(how));
		sv_warn("  %-20s %3d  %s", ls[i].id, ls[i].status, how);
	}
}

/*
 * The plugins to run: the operands, then the *.so files of --plugins DIR in name order.
 * Returns 0 with a malloc'd array of paths (the strings of DIR's files malloc'd too; the
 * first o->nplugins borrowed from argv), or -1 after saying why.
 */
static int
list_plugins(const struct sv_options *o, char ***out, size_t *n)
{
	struct dirent **names = NULL;
	char **all = NULL;
	int k = 0, r = -1;
	size_t len;

	*out = NULL;
	*n = 0;
	if (o->plugins_dir && (k = scandir(o->plugins_dir, &names, NULL, alphasort)) < 0) {
		sv_warn("--plugins %s: %s", o->plugins_dir, strerror(errno));
		return -1;
	}
	if ((all = calloc(o->nplugins + (size_t)k + 1, sizeof(*all))) == NULL)
		goto out;
	for (size_t i = 0; i < o->nplugins; i++)
		all[(*n)++] = o->plugins[i];
	for (int i = 0; i < k; i++) {
		len = strlen(names[i]->d_name);
		if (len <= 3 || strcmp(names[i]->d_name + len - 3, ".so") != 0)
			continue;
		if (asprintf(&all[*n], "%s/%s", o->plugins_dir, names[i]->d_name) < 0) {
			all[*n] = NULL;
			goto out;
		}
		(*n)++;
	}
	if (*n == 0) {
		sv_warn("--plugins %s: no *.so file there", o->plugins_dir);
		goto out;
	}
	*out = all;
	all = NULL;	/* transferred */
	r = 0;
out:
	if (r < 0 && errno == ENOMEM)
		sv_warn("out of memory");
	for (size_t i = o->nplugins; all && all[i]; i++)
		free(all[i]);
	free(all);
	for (int i = 0; i < k; i++)
		free(names[i]);
	free(names);
	return r;
}

/* Refuses a run where two plugins share an id: they would share tables and a role. */
static int
refuse_duplicate_ids(const struct launch *ls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(ls[i].id, ls[j].id) == 0) {
				sv_warn("plugins %s and %s have the same id '%s'; each plugin "
					"runs once per svrun",
					ls[j].o.plugin, ls[i].o.plugin, ls[i].id);
				return -1;
			}
	return 0;
}

/*
 * Runs every plugin side by side under this one broker and returns svrun's exit status:
 * that of the first plugin, in order, that did not exit 0. Nothing starts unless every
 * plugin's manifest, policy and installation are in order; a plugin whose sandbox or
 * session then fails to start ends with SV_EXIT_FAILURE, beside the others.
 */
static int
run_plugins(const struct sv_options *o)
{
	struct launch *ls = NULL;
	struct sv_child *children = NULL;
	struct sv_supervision *sups = NULL;
	int *statuses = NULL;
	struct sv_db *db = NULL;
	struct sv_audit *audit = NULL;
	struct starter starter;
	struct sv_zygote zygote = {.pid = -1, .sock = -1};
	char **paths = NULL, err[1024], helper[4096];
	size_t n = 0, i;
	int status = SV_EXIT_FAILURE, signo = 0;

	if (list_plugins(o, &paths, &n) < 0)
		goto out;
	if (o->learn && n > 1) {
		sv_usage_error(NULL, "--learn runs one plugin at a time, not %zu", n);
		goto out;
	}
	if (o->allow_missing && sv_allow_missing_check(o->allow_missing, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		goto out;
	}
	if ((ls = calloc(n, sizeof(*ls))) == NULL || (children = calloc(n, sizeof(*children))) ==
	    NULL || (sups = calloc(n, sizeof(*sups))) == NULL ||
	    (statuses = calloc(n, sizeof(*statuses))) == NULL) {
		sv_warn("out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		ls[i].o = *o;
		ls[i].o.plugin = paths[i];
		ls[i].child = (struct sv_child){.pid = -1, .pidfd = -1, .chan = -1, .out = -1,
						.err = -1};
	}
	for (i = 0; i < n; i++)
		if (read_manifest(&ls[i]) < 0)
			goto out;
	if (refuse_duplicate_ids(ls, n) < 0)
		goto out;
	if (sv_find_installed("libexec/svrun/svrun-sandbox", SV_INSTALL_HELPER, helper,
			      sizeof(helper)) < 0) {
		sv_warn("sandbox helper svrun-sandbox not found (looked beside svrun and in %s)",
			SV_INSTALL_HELPER);
		goto out;
	}
	/*
	 * The first sandbox sets itself up (namespaces, exec, mounts, Landlock) while the
	 * policies are compiled and the database opened: half of a launch, on another CPU.
	 * It runs only svrun-sandbox until its programs come; a run refused below kills it.
	 */
	if (start_sandbox(&ls[0], helper, NULL) < 0)
		goto out;
	/*
	 * The others fork from one zygote, which starts meanwhile: each then shares the
	 * relocated libraries and start-up state of one fresh image instead of making its own.
	 * It saves memory and time, no protection: without it svrun forks each sandbox itself.
	 */
	if (n > 1 && sv_zygote_start(helper, &zygote, err, sizeof(err)) < 0)
		sv_warn("%s; svrun forks each sandbox itself", err);
	for (i = 0; i < n; i++)
		if (prepare(ls, i) < 0)
			goto out;
	if (o->audit && sv_audit_open(o->audit, o->audit_params, &audit, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		goto out;
	}
	for (i = 0; i < n; i++)
		ls[i].audit = audit;
	if (sv_db_open(o->db, &db, err, sizeof(err)) < 0) {
		sv_warn("%s", err);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (check_installed(&ls[i], db) < 0)
			goto out;
	for (i = 0; i < n; i++)
		children[i] = ls[i].child;
	starter = (struct starter){.ls = ls, .helper = helper, .zygote = &zygote, .db = db};
	sv_supervise(n, start_launch, &starter, children, sups, statuses, &signo);
	status = 0;
	for (i = 0; i < n; i++) {
		ls[i].child = children[i];
		ls[i].status = statuses[i];
		ls[i].status = write_learned(&ls[i]);
		if (status == 0)
			status = ls[i].status;
	}
	if (n > 1)
		summarize(ls, n, signo);
out:
	for (i = 0; ls && i < n; i++)
		release(&ls[i]);
	sv_zygote_stop(&zygote);
	sv_db_close(db);
	sv_audit_close(audit);
	free(ls);
	free(children);
	free(sups);
	free(statuses);
	for (i = o->nplugins; paths && i < n; i++)
		free(paths[i]);
	free(paths);
	/* Stopped by a signal: after the cleanup, end the way that signal would have. */
	if (signo) {
		signal(signo, SIG_DFL);
		raise(signo);
	}
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
	return run_plugins(&o);
}
