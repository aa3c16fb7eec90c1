/*
 * seccomp.c - the two seccomp filters a plugin runs under, built with libseccomp.
 *
 * The load-phase filter is loaded before dlopen(): the policy's rules plus what loading a
 * shared object needs, so plugin constructors are confined too. The final filter (the
 * policy alone, everything else handed to the broker as a user notification) is compiled
 * at the same time but loaded after dlopen(), on top. Filters stack and the kernel applies
 * the action of highest precedence among them (Documentation/userspace-api/
 * seccomp_filter.rst): KILL > TRAP > ERRNO > USER_NOTIF > TRACE > ALLOW. So the load
 * phase denies with TRACE, which fails the call with ENOSYS when no tracer is attached
 * (and none can be: the child is not dumpable) and which yields to the final filter's
 * USER_NOTIF: after loading, every call outside the policy reaches the broker, named.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "common/common.h"
#include "policy/policy.h"
#include "sandbox/sandbox.h"

/*
 * Open flags that create, truncate, or open for writing. O_TMPFILE includes O_DIRECTORY,
 * which is harmless alone, so only its own bit is part of the mask.
 */
#define WRITE_FLAGS (O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY))

/* A syscall the load phase allows, with up to two argument conditions. */
struct load_rule {
	int nr;
	unsigned int ncmp;
	struct scmp_arg_cmp cmp[2];
};

/*
 * What glibc's dlopen(RTLD_NOW) of a plugin (libstdc++ and libm included) and the
 * libseccomp load of the final filter make, found with strace; nothing that writes a
 * file, opens a socket, executes or forks.
 */
/* One rule a line, each with its reason, reads better than the formatter's layout. */
/* clang-format off */
static const struct load_rule load_set[] = {
	/* The plugin and its libraries, opened for reading only (O_RDONLY is 0). */
	{ SCMP_SYS(openat), 1, { SCMP_A2(SCMP_CMP_MASKED_EQ, WRITE_FLAGS, 0) } },
	/* The ELF header of each object. */
	{ SCMP_SYS(read), 0, { { 0 } } },
	/* Program headers beyond the first read, on some objects. */
	{ SCMP_SYS(pread64), 0, { { 0 } } },
	/* The size of each object, and of /etc/ld.so.cache. */
	{ SCMP_SYS(newfstatat), 0, { { 0 } } },
	{ SCMP_SYS(fstat), 0, { { 0 } } },
	/* The loader resolves $ORIGIN of a relative path against the working directory. */
	{ SCMP_SYS(getcwd), 0, { { 0 } } },
	/* Each object's descriptor once it is mapped. */
	{ SCMP_SYS(close), 0, { { 0 } } },
	/* Segments, code included; the final policy forbids executable mappings later. */
	{ SCMP_SYS(mmap), 0, { { 0 } } },
	/* RELRO turns relocated data read-only after loading. */
	{ SCMP_SYS(mprotect), 0, { { 0 } } },
	/* ld.so.cache is unmapped after the lookup; malloc returns and resizes large blocks. */
	{ SCMP_SYS(munmap), 0, { { 0 } } },
	{ SCMP_SYS(mremap), 0, { { 0 } } },
	{ SCMP_SYS(madvise), 0, { { 0 } } },
	/* malloc in the loader, in constructors and while the final filter is generated. */
	{ SCMP_SYS(brk), 0, { { 0 } } },
	/* The loader's lock and C++ static initialisation guards. */
	{ SCMP_SYS(futex), 0, { { 0 } } },
	/*
	 * The Landlock ruleset with no file access at all, stacked after dlopen(): creating
	 * one and restricting oneself can only ever narrow what the caller may do.
	 */
	{ SCMP_SYS(landlock_create_ruleset), 0, { { 0 } } },
	{ SCMP_SYS(landlock_restrict_self), 1, { SCMP_A1(SCMP_CMP_EQ, 0) } },
	/* A failed load ends the process. */
	{ SCMP_SYS(exit_group), 0, { { 0 } } },
	{ SCMP_SYS(exit), 0, { { 0 } } },
	/*
	 * seccomp_load() of the final filter: one SECCOMP_SET_MODE_FILTER call that asks
	 * for the notification listener, and nothing else seccomp(2) can do.
	 */
	{ SCMP_SYS(seccomp), 2, { SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER),
				  SCMP_A1(SCMP_CMP_EQ, SECCOMP_FILTER_FLAG_NEW_LISTENER) } },
};
/* clang-format on */

#define NLOAD (sizeof(load_set) / sizeof(load_set[0]))

/* What sv_sandbox_load_phase() hands to sv_sandbox_final(). */
struct filters {
	scmp_filter_ctx final;
};

/* A filter context with @def as default action and foreign architectures killed. */
static scmp_filter_ctx
new_filter(uint32_t def)
{
	scmp_filter_ctx ctx;
	int r;

	if ((ctx = seccomp_init(def)) == NULL)
		sv_die("seccomp_init failed");
	/*
	 * Only the native architecture is in the context. Calls made through another ABI
	 * (i386 int 0x80, x32 on x86_64) would reach different syscall numbers, so they kill.
	 */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
		sv_die("cannot set the bad-architecture action: %s", strerror(-r));
	/*
	 * sv_sandbox_no_new_privs() has set no_new_privs already and the load phase checks
	 * it; libseccomp setting it again would need prctl() under the load-phase filter.
	 */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
		sv_die("cannot configure no_new_privs handling: %s", strerror(-r));
	return ctx;
}

/* Adds the rules of @policy, less those for the @nskip syscalls in @skip, or dies. */
static void
add_policy(scmp_filter_ctx ctx, const struct sv_policy *policy, const int *skip, size_t nskip)
{
	char err[512];

	if (sv_policy_add_rules(policy, ctx, skip, nskip, err, sizeof(err)) < 0)
		sv_die("%s", err);
}

void *
sv_sandbox_load_phase(const struct sv_policy *policy)
{
	struct filters *f;
	scmp_filter_ctx load;
	int skip[NLOAD];
	size_t i;
	int r;

	/* Without no_new_privs the kernel refuses an unprivileged filter; never go on. */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		sv_die("no_new_privs is not set; the seccomp filters need it");
	if ((f = calloc(1, sizeof(*f))) == NULL)
		sv_die("out of memory");
	/*
	 * The final filter's rules are set up now, from the policy read before any plugin
	 * code ran. A constructor can still write to this memory, and so widen them; the
	 * load-phase filter, which nothing can undo, stays the ceiling in that case.
	 */
	f->final = new_filter(SCMP_ACT_NOTIFY);
	add_policy(f->final, policy, NULL, 0);

	/*
	 * The load set replaces the policy's own rules for those syscalls: one rule per
	 * syscall and action is all libseccomp merges cleanly. As filters stack, a policy
	 * rule wider than the load rule (an openat for writing) can never take effect.
	 */
	/* See the top of this file for why the load phase denies with TRACE, not KILL. */
	load = new_filter(SCMP_ACT_TRACE(0));
	for (i = 0; i < NLOAD; i++)
		skip[i] = load_set[i].nr;
	add_policy(load, policy, skip, NLOAD);
	for (i = 0; i < NLOAD; i++) {
		r = seccomp_rule_add_array(load, SCMP_ACT_ALLOW, load_set[i].nr, load_set[i].ncmp,
					   load_set[i].cmp);
		if (r < 0)
			sv_die("cannot add the load-phase rule for syscall %d: %s", load_set[i].nr,
			       strerror(-r));
	}
	if ((r = seccomp_load(load)) < 0)
		sv_die("cannot load the load-phase seccomp filter: %s", strerror(-r));
	seccomp_release(load);
	return f;
}

int
sv_sandbox_final(void *handle)
{
	struct filters *f = handle;
	int fd, r;

	SV_ASSERT(f != NULL && f->final != NULL);
	if ((r = seccomp_load(f->final)) < 0)
		sv_die("cannot load the final seccomp filter: %s", strerror(-r));
	/*
	 * The listener belongs to the loaded filter, not to the context: libseccomp keeps
	 * it open after seccomp_release() (it is closed only by seccomp_reset(NULL, ...)),
	 * and the kernel created it close-on-exec. From here on the final filter applies,
	 * so nothing below makes a syscall but free()'s brk or munmap.
	 */
	if ((fd = seccomp_notify_fd(f->final)) < 0)
		sv_die("the final filter has no notification descriptor: %s", strerror(-fd));
	seccomp_release(f->final);
	free(f);
	return fd;
}
