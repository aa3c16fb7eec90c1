/*
 * runner.h - the svrun command: options, spawning the sandboxed child, and supervising
 * it until it ends.
 *
 * main.c parses the command line (sv_cli_parse), opens the database, then for each
 * plugin: sv_spawn() forks and executes svrun-sandbox, and sv_supervise() serves its
 * requests, relays its output, enforces the deadline and reports how it ended.
 */
#ifndef SV_RUNNER_H
#define SV_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker/broker.h"

#define SV_DEFAULT_DB "sqlite:./sovereign.db"
#define SV_DEFAULT_TIMEOUT 60
#define SV_ID_MAX 64

enum sv_command { SV_CMD_RUN, SV_CMD_INIT };

struct sv_options {
	enum sv_command command;
	const char *db;		/* database URI */
	const char *policy;	/* policy file, NULL for the shipped default */
	unsigned long timeout;	/* wall-clock seconds */
	int demo;		/* init: add demo rows */
	const char *plugin;	/* run: path of the plugin .so */
};

/*
 * Parses @argv into @o. Returns 0 to go on, 1 when --help or --version was printed (exit
 * 0), or -EINVAL after printing a GNU-style usage error on stderr.
 */
int sv_cli_parse(int argc, char **argv, struct sv_options *o);

/*
 * Derives the plugin id from @path: the basename without ".so", matching [a-z][a-z0-9]*.
 * Returns 0 with the id in @id, or -EINVAL with the reason in @err.
 */
int sv_plugin_id(const char *path, char *id, size_t idlen, char *err, size_t errlen);

/* Finds the shipped file @rel ("libexec/svrun/svrun-sandbox", ...) beside svrun. */
int sv_find_installed(const char *rel, const char *fallback, char *out, size_t len);

/* A running sandboxed child, as the broker holds it. */
struct sv_child {
	pid_t pid;	/* also its process group */
	int pidfd;
	int chan;	/* broker end of the socketpair */
	int out;	/* read ends of its stdout and stderr pipes */
	int err;
};

/* What the child is started with. */
struct sv_spawn_args {
	const char *helper;	/* path of svrun-sandbox */
	const char *policy;	/* policy file */
	const char *plugin;	/* plugin .so */
	const char *id;
	unsigned long cpu_seconds;
	unsigned long address_space;
	unsigned long open_files;
};

/*
 * Forks and executes the sandbox helper with the channel on descriptor 3, stdin on
 * /dev/null, stdout and stderr on pipes, a fixed minimal environment, its own process
 * group, and PR_SET_PDEATHSIG. Returns 0 with *@c filled, or -errno with @err set.
 */
int sv_spawn(const struct sv_spawn_args *a, struct sv_child *c, char *err, size_t errlen);

/* Kills @c's whole process group, reaps it and closes its descriptors. */
void sv_child_destroy(struct sv_child *c);

/* How a plugin run is supervised. */
struct sv_supervision {
	const char *id;
	const char *policy;		/* for the violation report */
	struct sv_session *session;
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC */
	unsigned long timeout;		/* seconds, for messages */
	size_t output_max;		/* bytes of stdout and of stderr relayed, each */
	unsigned long max_requests;
};

/*
 * Serves @c until it ends: answers its frames, relays its output tagged, enforces the
 * deadline, reports violations. Returns svrun's exit status (see common/common.h).
 */
int sv_supervise(struct sv_child *c, const struct sv_supervision *s);

/* The current CLOCK_MONOTONIC time in nanoseconds. */
uint64_t sv_now_ns(void);

#endif
