/*
 * sandbox.h - confine the calling process before any plugin code runs.
 *
 * Used only by svrun-sandbox, the fresh program image the broker executes for each
 * plugin. Every function dies (sv_die, status SV_EXIT_FAILURE) rather than return with a
 * protection half in place: a half-confined process must never run plugin code.
 *
 * Order of use, each step documented where it is defined:
 *  0) sv_sandbox_read_filters()  the broker's two seccomp programs, from the channel
 *  1) sv_sandbox_keep_fds()      only stdio and the channel survive
 *  2) sv_sandbox_limit()         resource limits
 *  3) sv_sandbox_no_new_privs()  PR_SET_NO_NEW_PRIVS, needed by seccomp
 *  4) sv_sandbox_drop_user()     to an unprivileged uid/gid when started as root
 *  5) sv_sandbox_drop_caps()     every capability set emptied, through libcap
 *  6) sv_sandbox_load_phase()    the load-phase seccomp filter
 *  7) dlopen() of the plugin, by the caller, once the broker released it
 *  8) sv_sandbox_final()         the final filter; returns its notification descriptor
 */
#ifndef SV_SANDBOX_H
#define SV_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "common/common.h"

/* Where the plugin appears inside its new root. */
#define SV_SANDBOX_PLUGIN_PATH "/plugin.so"

/*
 * In the mount namespace the broker created the child in (with capabilities inside its
 * user namespace): builds a read-only root on a fresh tmpfs holding /usr, the /lib links,
 * /etc/ld.so.cache and the plugin at SV_SANDBOX_PLUGIN_PATH (@plugin_path: a path that
 * stays valid once /tmp is covered, such as /proc/self/fd/N), pivots into it, detaches the
 * host's root and sets the host name to "sandbox". Call after everything that reads host
 * files and before dropping capabilities.
 */
void sv_sandbox_enter_root(const char *plugin_path);

/* The Landlock ABI version of this kernel, or -errno when Landlock is unavailable. */
int sv_sandbox_landlock_abi(void);

/*
 * Restricts file access with Landlock: with @allow_reading, reading and executing below
 * "/" only (the load phase); without, no file access at all (after dlopen). Needs
 * no_new_privs. Stacked rulesets only ever narrow.
 */
void sv_sandbox_landlock(int allow_reading);

/* The resource limits a plugin runs under. */
struct sv_limits {
	unsigned long cpu_seconds;	/* RLIMIT_CPU */
	unsigned long address_space;	/* RLIMIT_AS, bytes */
	unsigned long open_files;	/* RLIMIT_NOFILE */
};

/* The defaults: 30 s of CPU, 1 GiB of address space, 16 descriptors. */
void sv_sandbox_default_limits(struct sv_limits *lim);

/* Closes every descriptor but 0, 1, 2 and @channel_fd; dies if any cannot be closed. */
void sv_sandbox_keep_fds(int channel_fd);

/* Applies @lim plus RLIMIT_CORE 0, RLIMIT_FSIZE 0 and RLIMIT_NPROC 0. */
void sv_sandbox_limit(const struct sv_limits *lim);

/* Sets PR_SET_NO_NEW_PRIVS and checks that it holds. */
void sv_sandbox_no_new_privs(void);

/*
 * When running as root (any uid or gid 0), switches real, effective and saved ids to
 * @uid and @gid (nobody) and clears supplementary groups. Dies if either is 0 or any id
 * is still 0 afterwards. Does nothing for an unprivileged caller.
 */
void sv_sandbox_drop_user(uid_t uid, gid_t gid);

/*
 * The ids of the host's user "nobody" from the name service, SV_NOBODY_ID if it has
 * none. Only without a user namespace: inside one the broker mapped SV_NOBODY_ID.
 */
void sv_sandbox_lookup_nobody(uid_t *uid, gid_t *gid);

/*
 * Empties the effective, permitted, inheritable, ambient and bounding capability sets
 * and checks each one afterwards. Emptying the bounding set needs CAP_SETPCAP; an
 * unprivileged caller has no capabilities to lose there, and with no_new_privs can
 * never gain any, so there the bounding set is left as the kernel gave it.
 */
void sv_sandbox_drop_caps(void);

/*
 * Reads the two seccomp programs the broker compiled from the plugin's policy from @fd
 * (struct sv_policy_filters_header, then the instructions) and checks their shape; the
 * kernel verifies the instructions when they are loaded. Returns a handle for
 * sv_sandbox_load_phase() and sv_sandbox_final().
 */
void *sv_sandbox_read_filters(int fd);

/*
 * Loads the load-phase program: the policy plus what dlopen needs (read-only opens,
 * mmap with PROT_EXEC, ...); any other call fails with ENOSYS (SECCOMP_RET_TRACE with no
 * tracer, which yields to the final filter's notification once that is stacked). Needs
 * no_new_privs, and checks it.
 */
void sv_sandbox_load_phase(void *filters);

/*
 * Loads the final program on top of the load-phase one and returns the seccomp
 * notification descriptor (the broker receives it and reports each violation). Frees
 * @filters.
 */
int sv_sandbox_final(void *filters);

/* The helper's own start, from its command line (sandbox/main.c); must not return. */
typedef void sv_sandbox_main_fn(int argc, char **argv);

/*
 * Serves as the zygote on SV_CHANNEL_FD (a SOCK_SEQPACKET socket from the broker): for
 * each request forks a sandbox, in which @run goes on with the request's command line,
 * and answers with its pid. Exits 0 when the broker closes the socket; dies if the
 * socket fails. A malformed request is answered -EPROTO and forks nothing.
 */
SV_NORETURN void sv_zygote_serve(sv_sandbox_main_fn *run);

#endif
