/*
 * sandbox.h - confine the calling process before any plugin code runs.
 *
 * Used only by svrun-sandbox, the fresh program image the broker executes for each
 * plugin. Every function dies (sv_die, status SV_EXIT_FAILURE) rather than return with a
 * protection half in place: a half-confined process must never run plugin code.
 *
 * Order of use, each step documented where it is defined:
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

struct sv_policy;

/* Where the plugin appears inside its new root. */
#define SV_SANDBOX_PLUGIN_PATH "/plugin.so"

/*
 * In the mount namespace the broker created the child in (with capabilities inside its
 * user namespace): builds a read-only root on a fresh tmpfs holding /usr, the /lib links,
 * /etc/ld.so.cache and the plugin at SV_SANDBOX_PLUGIN_PATH (@plugin_path: a path that
 * stays valid once /tmp is covered, such as /proc/self/fd/N), pivots into it, detaches the
 * host's root and sets the host name to "sandbox". Call after everything that reads host
 * files (the policy) and before dropping capabilities.
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
 * the user "nobody" (65534 if absent) and clears supplementary groups. Dies if any id
 * is still 0 afterwards. Does nothing for an unprivileged caller.
 */
void sv_sandbox_drop_user(void);

/*
 * Empties the effective, permitted, inheritable, ambient and bounding capability sets
 * and checks each one afterwards. Emptying the bounding set needs CAP_SETPCAP; an
 * unprivileged caller has no capabilities to lose there, and with no_new_privs can
 * never gain any, so there the bounding set is left as the kernel gave it.
 */
void sv_sandbox_drop_caps(void);

/*
 * Prepares the final filter from @policy (default action: user notification, non-native
 * architectures killed) without loading it, and loads the load-phase filter: the same
 * rules plus what dlopen needs (read-only opens, mmap with PROT_EXEC, ...); any other
 * call fails with ENOSYS (SCMP_ACT_TRACE with no tracer, which yields to the final
 * filter's notification once that is stacked). Returns a handle for sv_sandbox_final().
 */
void *sv_sandbox_load_phase(const struct sv_policy *policy);

/*
 * Loads the final filter prepared by sv_sandbox_load_phase() on top of the load-phase
 * one and returns the seccomp notification descriptor (the broker receives it and
 * reports each violation). Frees @handle.
 */
int sv_sandbox_final(void *handle);

#endif
