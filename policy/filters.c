/*
 * filters.c - the two seccomp programs a plugin runs under, compiled by the broker from
 * the policy it parsed and handed to the sandbox as BPF, which loads them as they are.
 *
 * The load-phase program is loaded before dlopen(): the policy's rules plus what loading
 * a shared object needs, so plugin constructors are confined too. The final program (the
 * policy alone, everything else handed to the broker as a user notification) is loaded
 * after dlopen(), on top. Filters stack and the kernel applies the action of highest
 * precedence among them (Documentation/userspace-api/seccomp_filter.rst): KILL > TRAP >
 * ERRNO > USER_NOTIF > TRACE > ALLOW. So the load phase denies with TRACE, which fails
 * the call with ENOSYS when no tracer is attached (and none can be: the child is not
 * dumpable) and which yields to the final filter's USER_NOTIF: after loading, every call
 * outside the policy reaches the broker, named.
 *
 * libseccomp generates both programs (seccomp_export_bpf); nothing here writes BPF. The
 * sandbox then needs neither the policy nor libseccomp, and runs exactly the rules the
 * broker checked against the ceiling and names violations by.
 */
#include "policy/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
 * What glibc's dlopen(RTLD_NOW) of a plugin (libstdc++ and libm included) and the load
 * of the final program make, found with strace; nothing that writes a file, opens a
 * socket, executes or forks.
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
	/* malloc in the loader and in constructors. */
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
	 * The load of the final program: one SECCOMP_SET_MODE_FILTER call that asks for the
	 * notification listener, and nothing else seccomp(2) can do.
	 */
	{ SCMP_SYS(seccomp), 2, { SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER),
				  SCMP_A1(SCMP_CMP_EQ, SECCOMP_FILTER_FLAG_NEW_LISTENER) } },
};
/* clang-format on */

#define NLOAD (sizeof(load_set) / sizeof(load_set[0]))

/* A filter context with @def as default action and foreign architectures killed. */
static scmp_filter_ctx
new_filter(uint32_t def, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int r;

	if ((ctx = seccomp_init(def)) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return NULL;
	}
	/*
	 * Only the native architecture is in the context. Calls made through another ABI
	 * (i386 int 0x80, x32 on x86_64) would reach different syscall numbers, so they kill.
	 */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0) {
		snprintf(err, errlen, "cannot set the bad-architecture action: %s", strerror(-r));
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * The load-phase context of @p. The load set replaces the policy's own rules for its
 * syscalls: one rule per syscall and action is all libseccomp merges cleanly. As filters
 * stack, a policy rule wider than the load rule (an openat for writing) never takes effect.
 */
static scmp_filter_ctx
load_phase(const struct sv_policy *p, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int skip[NLOAD], r;
	size_t i;

	if ((ctx = new_filter(SCMP_ACT_TRACE(0), err, errlen)) == NULL)
		return NULL;
	for (i = 0; i < NLOAD; i++)
		skip[i] = load_set[i].nr;
	if (sv_policy_add_rules(p, ctx, skip, NLOAD, err, errlen) < 0)
		goto fail;
	for (i = 0; i < NLOAD; i++) {
		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, load_set[i].nr, load_set[i].ncmp,
					   load_set[i].cmp);
		if (r < 0) {
			snprintf(err, errlen, "cannot add the load-phase rule for syscall %d: %s",
				 load_set[i].nr, strerror(-r));
			goto fail;
		}
	}
	return ctx;
fail:
	seccomp_release(ctx);
	return NULL;
}

/*
 * Appends the program of @ctx to memfd @fd and says in *@insns how many instructions it
 * has. Returns 0, or -errno with @err naming @what.
 */
static int
export_program(const struct sv_policy *p, scmp_filter_ctx ctx, int fd, const char *what,
	       uint32_t *insns, char *err, size_t errlen)
{
	off_t before = lseek(fd, 0, SEEK_END), after;
	int r;

	if ((r = seccomp_export_bpf(ctx, fd)) < 0) {
		snprintf(err, errlen, "%s: cannot generate the %s program: %s", p->path, what,
			 strerror(-r));
		return r;
	}
	after = lseek(fd, 0, SEEK_END);
	if (before < 0 || after < before || (after - before) % sizeof(struct sock_filter)) {
		snprintf(err, errlen, "%s: the %s program came out malformed", p->path, what);
		return -EIO;
	}
	*insns = (uint32_t)((size_t)(after - before) / sizeof(struct sock_filter));
	if (*insns == 0 || *insns > BPF_MAXINSNS) {
		snprintf(err, errlen, "%s: the %s program has %u instructions; the kernel takes "
			 "1 to %d", p->path, what, *insns, BPF_MAXINSNS);
		return -E2BIG;
	}
	return 0;
}

int
sv_policy_filters(const struct sv_policy *p, uint8_t **bytes, size_t *len, char *err,
		  size_t errlen)
{
	struct sv_policy_filters_header h = {.magic = SV_POLICY_FILTERS_MAGIC};
	scmp_filter_ctx load = NULL, final = NULL;
	uint8_t *buf = NULL;
	size_t size = 0;
	int fd = -1, r;

	*bytes = NULL;
	*len = 0;
	if ((final = new_filter(SCMP_ACT_NOTIFY, err, errlen)) == NULL ||
	    (load = load_phase(p, err, errlen)) == NULL) {
		r = -EINVAL;
		goto out;
	}
	if ((r = sv_policy_add_rules(p, final, NULL, 0, err, errlen)) < 0)
		goto out;
	/* libseccomp 2.5 exports to a descriptor only; the memory one is read back. */
	if ((fd = memfd_create("svrun-filters", MFD_CLOEXEC)) < 0 ||
	    write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h)) {
		r = -errno;
		snprintf(err, errlen, "cannot hold the seccomp programs: %s", strerror(errno));
		goto out;
	}
	if ((r = export_program(p, load, fd, "load-phase", &h.load_len, err, errlen)) < 0 ||
	    (r = export_program(p, final, fd, "final", &h.final_len, err, errlen)) < 0)
		goto out;
	size = sizeof(h) + ((size_t)h.load_len + h.final_len) * sizeof(struct sock_filter);
	if ((buf = malloc(size)) == NULL) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (pread(fd, buf, size, 0) != (ssize_t)size) {
		r = -EIO;
		snprintf(err, errlen, "cannot read the seccomp programs back");
		goto out;
	}
	memcpy(buf, &h, sizeof(h));
	*bytes = buf;
	*len = size;
	buf = NULL;
	r = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	if (load)
		seccomp_release(load);
	if (final)
		seccomp_release(final);
	return r;
}
