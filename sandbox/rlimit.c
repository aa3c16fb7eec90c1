/*
 * rlimit.c - the resource limits a sandboxed plugin runs under.
 *
 * Limits bound what a plugin can consume even through the syscalls its policy allows:
 * CPU time, address space, descriptors, and nothing at all for core files, file sizes and
 * new processes. Each limit is read back after it is set, because a limit that did not
 * take must stop the sandbox rather than be assumed.
 */
#include <errno.h>
#include <sys/resource.h>

#include "common/common.h"
#include "sandbox/sandbox.h"

void
sv_sandbox_default_limits(struct sv_limits *lim)
{
	/* The values sandbox.h documents; svrun's options override them one by one. */
	lim->cpu_seconds = 30;
	lim->address_space = 1UL << 30;
	lim->open_files = 16;
}

/* Sets one limit, never above the hard limit already in force, and dies unless it holds. */
static void
set_limit(int resource, const char *name, rlim_t soft, rlim_t hard)
{
	struct rlimit cur, want;

	if (getrlimit(resource, &cur) < 0)
		sv_pdie("getrlimit(%s)", name);
	/*
	 * Only ever lower a limit: raising a hard limit needs CAP_SYS_RESOURCE, and a
	 * sandbox that asked for more than its parent had would be wider, not narrower.
	 */
	if (cur.rlim_max != RLIM_INFINITY && hard > cur.rlim_max)
		hard = cur.rlim_max;
	if (soft > hard)
		soft = hard;
	want.rlim_cur = soft;
	want.rlim_max = hard;
	if (setrlimit(resource, &want) < 0)
		sv_pdie("setrlimit(%s)", name);
	if (getrlimit(resource, &cur) < 0)
		sv_pdie("getrlimit(%s)", name);
	if (cur.rlim_cur != want.rlim_cur || cur.rlim_max != want.rlim_max)
		sv_die("%s did not take: asked %llu/%llu, got %llu/%llu", name,
		       (unsigned long long)want.rlim_cur, (unsigned long long)want.rlim_max,
		       (unsigned long long)cur.rlim_cur, (unsigned long long)cur.rlim_max);
}

void
sv_sandbox_limit(const struct sv_limits *lim)
{
	/*
	 * CPU: the soft limit sends SIGXCPU, which the plugin could catch; the hard limit
	 * one second later is SIGKILL, which it cannot. See setrlimit(2).
	 */
	set_limit(RLIMIT_CPU, "RLIMIT_CPU", lim->cpu_seconds, lim->cpu_seconds + 1);
	set_limit(RLIMIT_AS, "RLIMIT_AS", lim->address_space, lim->address_space);
	set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", lim->open_files, lim->open_files);
	/* A core file would write plugin memory (and what it read) to disk. */
	set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, 0);
	/* No file may grow: a write past size 0 raises SIGXFSZ, whatever the policy says. */
	set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", 0, 0);
	/*
	 * No new process for a non-root user. The kernel ignores this limit for root, which
	 * is why sv_sandbox_drop_user() follows; the seccomp policy is the other guard.
	 */
	set_limit(RLIMIT_NPROC, "RLIMIT_NPROC", 0, 0);
}
