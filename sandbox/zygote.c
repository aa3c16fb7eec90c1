/*
 * zygote.c - svrun-sandbox --zygote: forks the sandboxes of a run of several plugins.
 *
 * Each sandbox used to be a fresh execution of svrun-sandbox, and each paid for its own
 * copy of what the loader writes at start-up: the relocated data of libc, ld.so and the
 * helper, libc's own state, the TLS block, about half of an idle sandbox's memory. The
 * broker executes this program once per run instead, before it forks any plugin, and
 * asks it for each sandbox: the zygote clones itself into the sandbox's new namespaces
 * and the copy goes on as svrun-sandbox would from its first line, sharing those pages
 * copy-on-write with the zygote and every other sandbox. The zygote is a fresh image
 * too, so no sandbox ever holds broker memory. Its clones are the broker's children
 * (CLONE_PARENT): the broker maps their ids, reaps them, reads their rusage, and their
 * parent-death signal follows the broker. The wire format is in common/common.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/common.h"
#include "sandbox/sandbox.h"

/* One request, checked: its flags, its strings (in the receive buffer) and descriptors. */
struct request {
	uint32_t flags;
	char *args[SV_ZYGOTE_ARGS];
	int fds[SV_ZYGOTE_FDS];
	size_t nfds;
};

/* The request's strings, by their place in SV_ZYGOTE_ARGS. */
enum { ARG_CPU, ARG_AS, ARG_NOFILE, ARG_MISSING, ARG_MODE, ARG_PLUGIN, ARG_ID };

/* The request's descriptors, in the order the broker attaches them. */
enum { FD_CHANNEL, FD_STDOUT, FD_STDERR, FD_GO };

/* Closes the descriptors @rq received. */
static void
close_fds(struct request *rq)
{
	for (size_t i = 0; i < rq->nfds; i++)
		close(rq->fds[i]);
	rq->nfds = 0;
}

/*
 * Splits @len bytes of strings at @p into @rq's arguments: exactly SV_ZYGOTE_ARGS, each
 * NUL-terminated, nothing after the last. Returns 0 or -EPROTO.
 */
static int
split_args(char *p, size_t len, struct request *rq)
{
	char *end = p + len, *nul;

	for (size_t i = 0; i < SV_ZYGOTE_ARGS; i++) {
		if ((nul = memchr(p, '\0', (size_t)(end - p))) == NULL)
			return -EPROTO;
		rq->args[i] = p;
		p = nul + 1;
	}
	return p == end ? 0 : -EPROTO;
}

/*
 * Receives one request into @buf and @rq. Returns 1, 0 at end of file (the broker is
 * done or gone), -EPROTO for a request that is not one (its descriptors closed), or
 * another -errno when the socket fails.
 */
static int
receive(int sock, char *buf, size_t size, struct request *rq)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * SV_ZYGOTE_FDS)];
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = size};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct sv_zygote_request head;
	ssize_t n;

	memset(rq, 0, sizeof(*rq));
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n <= 0)
		return n == 0 ? 0 : -errno;
	rq->nfds = sv_take_fds(&msg, rq->fds, SV_ZYGOTE_FDS);
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(head))
		goto refuse;
	memcpy(&head, buf, sizeof(head));
	if (head.magic != SV_ZYGOTE_MAGIC || rq->nfds != SV_ZYGOTE_FDS ||
	    split_args(buf + sizeof(head), (size_t)n - sizeof(head), rq) < 0)
		goto refuse;
	/* Each lands on its own number in the sandbox: none may sit on one of those yet. */
	for (size_t i = 0; i < rq->nfds; i++)
		if (rq->fds[i] <= SV_CHANNEL_FD)
			goto refuse;
	rq->flags = head.flags;
	return 1;
refuse:
	close_fds(rq);
	return -EPROTO;
}

/*
 * In the new sandbox, what the broker's own fork does before it executes the helper:
 * parent-death signal, the go byte (sent once the broker mapped our ids), a process
 * group of our own, the four descriptors on their numbers and the plugin's id in the
 * environment. Then the helper's own start, as if freshly executed with that command
 * line. The zygote's socket sits on the channel's number and goes with the dup2().
 */
static SV_NORETURN void
become_sandbox(const struct request *rq, int ns, sv_sandbox_main_fn *run)
{
	char *argv[SV_ZYGOTE_ARGS + 1], byte;
	int null;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || read(rq->fds[FD_GO], &byte, 1) != 1)
		_exit(SV_EXIT_FAILURE);
	if (setpgid(0, 0) < 0 || (null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		_exit(SV_EXIT_FAILURE);
	if (dup2(null, STDIN_FILENO) < 0 || dup2(rq->fds[FD_STDOUT], STDOUT_FILENO) < 0 ||
	    dup2(rq->fds[FD_STDERR], STDERR_FILENO) < 0 ||
	    dup2(rq->fds[FD_CHANNEL], SV_CHANNEL_FD) < 0)
		_exit(SV_EXIT_FAILURE);
	if (setenv("SVRUN_PLUGIN", rq->args[ARG_ID], 1) < 0)
		_exit(SV_EXIT_FAILURE);
	/* Every sandbox shares the zygote's command line: its name says which plugin it is. */
	prctl(PR_SET_NAME, rq->args[ARG_ID]);
	argv[0] = "svrun-sandbox";
	argv[1] = rq->args[ARG_CPU];
	argv[2] = rq->args[ARG_AS];
	argv[3] = rq->args[ARG_NOFILE];
	argv[4] = rq->args[ARG_MISSING];
	argv[5] = ns ? rq->args[ARG_MODE] : "nons";
	argv[6] = rq->args[ARG_PLUGIN];
	argv[7] = NULL;
	run(SV_ZYGOTE_ARGS, argv);
	_exit(SV_EXIT_FAILURE); /* NOTREACHED */
}

/*
 * Clones this process with @flags as a child of the broker. clone3() requires no exit
 * signal with CLONE_PARENT: the child takes ours, SIGCHLD, which the broker reaps by.
 */
static pid_t
clone_for_broker(uint64_t flags)
{
	struct clone_args ca;

	memset(&ca, 0, sizeof(ca));
	ca.flags = flags | CLONE_PARENT;
	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

/*
 * Forks the sandbox @rq asks for, in new namespaces, or without them when they are
 * refused and the request allows it. Returns the answer for the broker; does not return
 * in the sandbox.
 */
static struct sv_zygote_answer
fork_sandbox(const struct request *rq, sv_sandbox_main_fn *run)
{
	struct sv_zygote_answer a = {.ns = 1};
	pid_t pid;

	pid = clone_for_broker(SV_NS_FLAGS);
	if (pid < 0 && (rq->flags & SV_ZYGOTE_NS_OPTIONAL)) {
		a.ns = 0;
		a.error = errno;
		pid = clone_for_broker(0);
	}
	if (pid == 0)
		become_sandbox(rq, a.ns, run);
	a.pid = pid < 0 ? -errno : pid;
	return a;
}

void
sv_zygote_serve(sv_sandbox_main_fn *run)
{
	/* Static: a sandbox forked from inside this loop keeps no copy of it on its stack. */
	static char buf[SV_ZYGOTE_REQUEST_MAX];
	struct sv_zygote_answer a;
	struct request rq;
	struct stat st;
	int r, type;
	socklen_t tlen = sizeof(type);

	if (fstat(SV_CHANNEL_FD, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(SV_CHANNEL_FD, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
	    type != SOCK_SEQPACKET)
		sv_die("descriptor %d is not svrun's zygote socket; the zygote is started by "
		       "svrun only",
		       SV_CHANNEL_FD);
	sv_sandbox_keep_fds(SV_CHANNEL_FD);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		sv_pdie("prctl(PR_SET_PDEATHSIG)");
	for (;;) {
		if ((r = receive(SV_CHANNEL_FD, buf, sizeof(buf), &rq)) == 0)
			exit(0);
		if (r < 0 && r != -EPROTO)
			sv_die("cannot read svrun's requests: %s", strerror(-r));
		if (r == -EPROTO)
			a = (struct sv_zygote_answer){.pid = -EPROTO};
		else
			a = fork_sandbox(&rq, run);
		close_fds(&rq);
		if (send(SV_CHANNEL_FD, &a, sizeof(a), MSG_NOSIGNAL) != (ssize_t)sizeof(a))
			sv_die("cannot answer svrun: %s", strerror(errno));
	}
}
