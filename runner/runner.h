/*
 * runner.h - the svrun command: options, spawning the sandboxed child, and supervising
 * it until it ends.
 *
 * main.c parses the command line (sv_cli_parse), opens the database, then for each
 * plugin: sv_spawn() forks and executes svrun-sandbox; sv_supervise() then serves all
 * of them in one loop, relays their output, enforces their deadlines and reports how
 * each ended.
 */
#ifndef SV_RUNNER_H
#define SV_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker/broker.h"
#include "common/common.h"
#include "policy/policy.h"

#define SV_DEFAULT_DB "sqlite:./sovereign.db"
#define SV_DEFAULT_TIMEOUT 60
#define SV_ID_MAX 64

/* Options given on the command line, which a manifest's limits never override. */
enum {
	SV_GIVEN_TIMEOUT = 1 << 0,
	SV_GIVEN_CPU = 1 << 1,
	SV_GIVEN_MEMORY = 1 << 2,
	SV_GIVEN_MAX_REQUESTS = 1 << 3,
	SV_GIVEN_MAX_RESULT = 1 << 4,
};

/* What `svrun [OPTION]... PLUGIN.so` was asked to do. */
struct sv_options {
	const char *db;			/* database URI */
	const char *policy;		/* policy file, NULL for the shipped default */
	const char *ceiling;		/* ceiling policy, NULL for the default path if present */
	const char *learn;		/* --learn: where the learned policy goes; NULL: enforce */
	const char *allow_missing;	/* comma-separated sandbox layers allowed to be absent */
	unsigned long timeout;		/* wall-clock seconds */
	unsigned long cpu_seconds;	/* RLIMIT_CPU */
	unsigned long memory;		/* RLIMIT_AS, bytes */
	unsigned long max_requests;	/* requests per run */
	unsigned long max_result;	/* bytes of one result */
	unsigned long max_output;	/* bytes relayed of stdout and of stderr, each */
	unsigned long max_frame;	/* bytes of one request frame */
	int debug;			/* full refusal reasons to the plugin */
	int trace;			/* print each request and answer */
	const char *plugin;		/* path of the plugin .so (this launch's) */
	char **plugins;			/* every plugin to run, in order */
	size_t nplugins;
	const char *plugins_dir;	/* --plugins DIR: every *.so in it */
	const char *audit;		/* --audit FILE: one JSON line per request */
	int audit_params;		/* --audit-params: parameter values in it too */
	unsigned given;			/* SV_GIVEN_* */
};

/* A plugin's manifest (runner/manifest.c); without one, the defaults. */
struct sv_manifest {
	char *path;		 /* the manifest read, NULL when there is none */
	struct sv_rights rights; /* id, views, tables */
	char *policy;		 /* its policy file, NULL for the default */
	unsigned long timeout;	 /* limits; 0 where the manifest says nothing */
	unsigned long cpu_seconds;
	unsigned long memory;
	unsigned long max_requests;
	unsigned long max_result;
	unsigned long statement_ms;
};

/*
 * Reads the manifest beside @plugin (NAME.so -> NAME.manifest) into @m, or the
 * defaults when there is none: the id from the file name and every v_plugin_* view.
 * Returns 0, or -errno with "FILE:LINE: [section] key: reason" in @err.
 */
int sv_manifest_load(const char *plugin, struct sv_manifest *m, char *err, size_t errlen);

void sv_manifest_clear(struct sv_manifest *m);

/*
 * Parses the run command line @argv into @o. Returns 0 to go on, 1 when --help or
 * --version was printed (exit 0), or -EINVAL after printing a GNU-style usage error.
 */
int sv_cli_parse(int argc, char **argv, struct sv_options *o);

/* Prints a usage error the GNU way for command @cmd (NULL: svrun) and returns -EINVAL. */
int sv_usage_error(const char *cmd, const char *fmt, ...) SV_PRINTF(2, 3);

/*
 * Parses a byte count with an optional K, M or G suffix (powers of 1024) into
 * [1, @max]. Returns 0, -EINVAL or -ERANGE.
 */
int sv_parse_size(const char *s, unsigned long max, unsigned long *out);

/*
 * Subcommands: `svrun NAME ARGS...`. Each gets the arguments after its name (argv[0]
 * is the name) and returns svrun's exit status.
 */
int sv_cmd_init(int argc, char **argv);
int sv_cmd_policy(int argc, char **argv);
int sv_cmd_doctor(int argc, char **argv);
int sv_cmd_install(int argc, char **argv);
int sv_cmd_grants(int argc, char **argv);
int sv_cmd_uninstall(int argc, char **argv);
int sv_cmd_audit(int argc, char **argv);

/*
 * Derives the plugin id from @path: the basename without ".so", matching [a-z][a-z0-9]*.
 * Returns 0 with the id in @id, or -EINVAL with the reason in @err.
 */
int sv_plugin_id(const char *path, char *id, size_t idlen, char *err, size_t errlen);

/* A running sandboxed child, as the broker holds it. */
struct sv_child {
	pid_t pid;	/* also its process group */
	int pidfd;
	int chan;	/* broker end of the socketpair */
	int out;	/* read ends of its stdout and stderr pipes */
	int err;
};

/*
 * The zygote of a run of several plugins: svrun-sandbox --zygote, which forks their
 * sandboxes as children of the broker (see SV_ZYGOTE_MAGIC in common/common.h).
 */
struct sv_zygote {
	pid_t pid;
	int sock;	/* -1 once it is stopped or failed */
};

/*
 * Forks and executes the zygote @helper --zygote in a process group of its own, with
 * stdin and stdout on /dev/null, svrun's stderr, a fixed minimal environment and
 * PR_SET_PDEATHSIG. Returns 0, or -errno with @err set (*@z is then stopped).
 */
int sv_zygote_start(const char *helper, struct sv_zygote *z, char *err, size_t errlen);

/* Ends the zygote @z and reaps it; a stopped zygote is left alone. */
void sv_zygote_stop(struct sv_zygote *z);

/* What the child is started with. */
struct sv_spawn_args {
	struct sv_zygote *zygote;	/* forks the child, or NULL (or stopped): svrun does */
	const char *helper;	/* path of svrun-sandbox */
	const char *plugin;	/* plugin .so */
	const char *id;
	unsigned long cpu_seconds;
	unsigned long address_space;
	unsigned long open_files;
	const char *allow_missing;	/* sandbox layers the operator lets go, or NULL */
};

/*
 * Forks and executes the sandbox helper, or has the zygote fork it, with the channel on
 * descriptor 3, stdin on /dev/null, stdout and stderr on pipes, a fixed minimal
 * environment, its own process group, and PR_SET_PDEATHSIG; either way it is svrun's
 * child. Returns 0 with *@c filled, or -errno with @err set. A zygote that fails to
 * answer is stopped, and the sandboxes after it are forked by svrun.
 */
int sv_spawn(const struct sv_spawn_args *a, struct sv_child *c, char *err, size_t errlen);

/*
 * Checks a --allow-missing list: every name must be a layer (userns pidns netns ipcns
 * utsns mountns landlock). Returns 0 or -EINVAL with @err naming the unknown one.
 */
int sv_allow_missing_check(const char *list, char *err, size_t errlen);

/*
 * Hands the sandbox @c its two seccomp programs (sv_policy_filters), which it reads once
 * its set-up is done and before it loads anything. Returns 0, or -errno with @err set.
 */
int sv_child_send_filters(struct sv_child *c, const uint8_t *filters, size_t len, char *err,
			  size_t errlen);

/*
 * Lets the child load its plugin (SV_RELEASE_BYTE): until then it waits, set up and
 * confined, with no plugin code run. Returns 0 or -errno with @err set.
 */
int sv_child_release(struct sv_child *c, char *err, size_t errlen);

/* Kills @c's whole process group, reaps it and closes its descriptors. */
void sv_child_destroy(struct sv_child *c);

/* What a plugin in learn mode was denied; see runner/learn.c. */
struct sv_learn;

struct sv_learn *sv_learn_new(void);
void sv_learn_free(struct sv_learn *l);

/* Records one denied call; returns 1 the first time syscall @nr is seen, else 0. */
int sv_learn_record(struct sv_learn *l, int nr, const uint64_t args[6]);

/*
 * Writes the learned policy to @path, a new file: @base's rules plus one line per denied
 * syscall, leaving out (with a comment) what @ceiling (NULL: none) does not allow.
 * Returns 0 or -errno with @err set.
 */
int sv_learn_write(const struct sv_learn *l, const char *path, const char *id,
		   const struct sv_policy *base, const struct sv_policy *ceiling, char *err,
		   size_t errlen);

/* How a plugin run is supervised. */
struct sv_supervision {
	const char *id;
	const char *policy;		/* for the violation report */
	const struct sv_policy *rules;	/* the same policy, parsed */
	struct sv_session *session;
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC */
	unsigned long timeout;		/* seconds, for messages */
	size_t output_max;		/* bytes of stdout, of stderr and of sv_log relayed, each */
	size_t frame_max;		/* bytes of one request frame */
	unsigned long address_space;	/* the plugin's RLIMIT_AS, for the report */
	unsigned long max_requests;
	int debug;			/* full refusal reasons to the plugin */
	int trace;			/* each request and answer on stderr */
	struct sv_learn *learn;		/* learn mode: denied calls fail and are kept here */
	struct sv_audit *audit;		/* the audit trail, or NULL */
};

/*
 * Starts plugin @i of a run: spawns its child into @c[i] and fills @s[i]. @in_turn says
 * it is called inside another plugin's statement. Returns 0; -EAGAIN when it cannot start
 * inside that statement (its database is locked by it), to be called again once no
 * statement runs; or -1 after saying why (that plugin then ends with SV_EXIT_FAILURE,
 * the others run on).
 */
typedef int sv_start_fn(size_t i, int in_turn, struct sv_child *c, struct sv_supervision *s,
			void *arg);

/*
 * Starts @n plugins with @start, one after another, and serves them all in one event
 * loop until every one has ended: answers their frames, relays their output tagged,
 * enforces each deadline, reports violations. Plugins started earlier are served while
 * later ones start. One plugin's flood, violation or end never disturbs another.
 * SIGINT, SIGTERM and SIGHUP stop them all; *@signo then says which came (else 0).
 * Sets @statuses[i] to the exit status of plugin i (see common/common.h) and returns 0,
 * or -1 when the loop could not be set up (every status is then SV_EXIT_FAILURE). @c
 * and @s hold @n entries each and must stay in place until it returns.
 */
int sv_supervise(size_t n, sv_start_fn *start, void *arg, struct sv_child *c,
		 struct sv_supervision *s, int *statuses, int *signo);

#endif
