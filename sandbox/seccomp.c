/*
 * seccomp.c - the two seccomp programs a plugin runs under, as the broker compiled them
 * from its policy (policy/filters.c says what each holds and why there are two): read
 * from the channel before anything else, checked for shape, and given to the kernel,
 * which verifies every instruction. The sandbox neither reads the policy nor links
 * libseccomp.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/common.h"
#include "policy/policy.h"
#include "sandbox/sandbox.h"

/* What sv_sandbox_read_filters() hands to the two loads. */
struct filters {
	struct sock_fprog load;
	struct sock_fprog final;
	struct sock_filter insns[];
};

/* Reads exactly @len bytes of the programs from @fd, or dies saying how many came. */
static void
read_exactly(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if ((n = read(fd, (char *)buf + got, len - got)) < 0 && errno == EINTR)
			continue;
		if (n < 0)
			sv_pdie("cannot read the seccomp programs from the broker");
		if (n == 0)
			sv_die("the broker sent %zu of %zu bytes of the seccomp programs", got, len);
		got += (size_t)n;
	}
}

/* Whether @n instructions make a program the kernel may take. */
static int
fits(uint32_t n)
{
	return n >= 1 && n <= BPF_MAXINSNS;
}

void *
sv_sandbox_read_filters(int fd)
{
	struct sv_policy_filters_header h;
	struct filters *f;
	size_t n;

	read_exactly(fd, &h, sizeof(h));
	if (h.magic != SV_POLICY_FILTERS_MAGIC)
		sv_die("the broker's seccomp programs begin with 0x%08x, not their header",
		       h.magic);
	if (!fits(h.load_len) || !fits(h.final_len))
		sv_die("the broker's seccomp programs claim %u and %u instructions; the kernel "
		       "takes 1 to %d each", h.load_len, h.final_len, BPF_MAXINSNS);
	n = (size_t)h.load_len + h.final_len;
	if ((f = malloc(sizeof(*f) + n * sizeof(struct sock_filter))) == NULL)
		sv_die("out of memory");
	read_exactly(fd, f->insns, n * sizeof(struct sock_filter));
	f->load.len = (unsigned short)h.load_len;
	f->load.filter = f->insns;
	f->final.len = (unsigned short)h.final_len;
	f->final.filter = f->insns + h.load_len;
	return f;
}

void
sv_sandbox_load_phase(void *filters)
{
	struct filters *f = filters;

	SV_ASSERT(f != NULL);
	/* Without no_new_privs the kernel refuses an unprivileged filter; never go on. */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		sv_die("no_new_privs is not set; the seccomp filters need it");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f->load) < 0)
		sv_pdie("cannot load the load-phase seccomp filter");
}

int
sv_sandbox_final(void *filters)
{
	struct filters *f = filters;
	long fd;

	SV_ASSERT(f != NULL);
	/* The one call of this kind the load phase allows (policy/filters.c, load_set). */
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
		     &f->final);
	if (fd < 0)
		sv_pdie("cannot load the final seccomp filter");
	/*
	 * The kernel copied the program and created the listener close-on-exec. From here
	 * on the final filter applies, so nothing below makes a syscall but free()'s brk or
	 * munmap.
	 */
	free(f);
	return (int)fd;
}
