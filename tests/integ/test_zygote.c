/*
 * test_zygote.c - svrun-sandbox --zygote, spoken to directly as svrun would: what it
 * forks for a well-formed request, that a malformed one forks nothing and costs it
 * nothing, and that it ends when svrun does. Runs through svrun are in test_inspect.c
 * (the zygote's forks confined and apart) and test_many.c (none outlives svrun).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"
#include "tests/integ/harness.h"

TestSuite(zygote, .init = it_setup, .fini = it_teardown, .timeout = 60);

/* A zygote started by the test, which is then its parent as svrun would be. */
struct zygote {
	pid_t pid;
	int sock;
};

/* Starts HELPER_BIN --zygote with one end of a socket pair of @type on descriptor 3. */
static struct zygote
start_zygote(int type)
{
	struct zygote z;
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_geq(z.pid = fork(), 0);
	if (z.pid == 0) {
		if (dup2(sv[1], SV_CHANNEL_FD) < 0)
			_exit(100);
		execl(HELPER_BIN, "svrun-sandbox", "--zygote", (char *)NULL);
		_exit(101);
	}
	close(sv[1]);
	z.sock = sv[0];
	return z;
}

/* Waits for process @pid and returns its exit status, or 1000 + the signal. */
static int
reap(pid_t pid)
{
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid, "cannot reap %d: %s", (int)pid, strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

/* The descriptors of one request, and the test's ends of them. */
struct wires {
	int fds[SV_ZYGOTE_FDS]; /* channel, stdout, stderr, go: what the zygote is sent */
	int chan, out, go;	/* the test's ends */
};

static struct wires
make_wires(void)
{
	struct wires w;
	int sp[2], po[2], pg[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pg, O_CLOEXEC), 0);
	w.fds[0] = sp[1];
	w.fds[1] = po[1];
	w.fds[2] = po[1];
	w.fds[3] = pg[0];
	w.chan = sp[0];
	w.out = po[0];
	w.go = pg[1];
	return w;
}

/* Closes what the test sent of @w, keeping its own ends. */
static void
close_sent(struct wires *w)
{
	close(w->fds[0]);
	close(w->fds[1]);
	close(w->fds[3]);
}

/* A request's bytes: the header with @magic, then @nargs strings "a0".."aN". */
static size_t
request(char *buf, size_t size, uint32_t magic, int nargs)
{
	struct sv_zygote_request head = {.magic = magic};
	size_t len = sizeof(head);

	memcpy(buf, &head, sizeof(head));
	for (int i = 0; i < nargs; i++)
		len += (size_t)snprintf(buf + len, size - len, "a%d", i) + 1;
	return len;
}

/* Sends @len bytes of @buf with @nfds of @w's descriptors and returns the answer. */
static struct sv_zygote_answer
ask(struct zygote *z, const char *buf, size_t len, struct wires *w, size_t nfds)
{
	struct sv_zygote_answer a;

	cr_assert_eq(sv_send_with_fds(z->sock, buf, len, w->fds, nfds, 0), (ssize_t)len);
	cr_assert_eq(recv(z->sock, &a, sizeof(a), 0), (ssize_t)sizeof(a), "no answer: %s",
		     strerror(errno));
	return a;
}

/* Whether the read end @fd sees end of file: every copy of its write end is closed. */
static int
at_eof(int fd)
{
	char c;

	return read(fd, &c, 1) == 0;
}

Test(zygote, refuses_malformed_requests_forks_nothing_and_serves_the_next)
{
	static char big[SV_ZYGOTE_REQUEST_MAX + 64];
	struct zygote z = start_zygote(SOCK_SEQPACKET);
	struct sv_zygote_answer a;
	struct wires w;
	char buf[512], ns_test[64], ns_child[64], path[64];
	size_t len;
	pid_t none;
	ssize_t k;
	struct {
		const char *what;
		uint32_t magic;
		int nargs;
		size_t nfds;
		int cut; /* drop the last string's NUL */
	} bad[] = {
	    {"another magic", 0x12345678u, SV_ZYGOTE_ARGS, SV_ZYGOTE_FDS, 0},
	    {"three descriptors", SV_ZYGOTE_MAGIC, SV_ZYGOTE_ARGS, 3, 0},
	    {"one string short", SV_ZYGOTE_MAGIC, SV_ZYGOTE_ARGS - 1, SV_ZYGOTE_FDS, 0},
	    {"one string over", SV_ZYGOTE_MAGIC, SV_ZYGOTE_ARGS + 1, SV_ZYGOTE_FDS, 0},
	    {"an unterminated string", SV_ZYGOTE_MAGIC, SV_ZYGOTE_ARGS, SV_ZYGOTE_FDS, 1},
	    {"a bare header", SV_ZYGOTE_MAGIC, 0, SV_ZYGOTE_FDS, 0},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		w = make_wires();
		len = request(buf, sizeof(buf), bad[i].magic, bad[i].nargs) - (size_t)bad[i].cut;
		a = ask(&z, buf, len, &w, bad[i].nfds);
		cr_assert_eq(a.pid, -EPROTO, "%s: answered %d", bad[i].what, a.pid);
		/* Nothing kept the stdout pipe: the zygote closed what it got, nothing forked. */
		close_sent(&w);
		cr_assert(at_eof(w.out), "%s: a copy of the descriptors was kept", bad[i].what);
		close(w.chan);
		close(w.out);
		close(w.go);
	}
	/* Larger than any request: cut by the socket, refused the same way. */
	w = make_wires();
	memset(big, 'x', sizeof(big));
	request(big, sizeof(big), SV_ZYGOTE_MAGIC, SV_ZYGOTE_ARGS);
	a = ask(&z, big, sizeof(big), &w, SV_ZYGOTE_FDS);
	cr_assert_eq(a.pid, -EPROTO, "an oversized request: answered %d", a.pid);
	close_sent(&w);
	cr_assert(at_eof(w.out), "an oversized request: a copy of the descriptors was kept");
	close(w.chan);
	close(w.out);
	close(w.go);
	none = waitpid(-1, NULL, WNOHANG);
	cr_assert_eq(none, 0, "something was forked for a refused request (%d)", (int)none);

	/* Control: the same zygote forks for a well-formed request, as the test's child. */
	w = make_wires();
	len = request(buf, sizeof(buf), SV_ZYGOTE_MAGIC, SV_ZYGOTE_ARGS);
	a = ask(&z, buf, len, &w, SV_ZYGOTE_FDS);
	close_sent(&w);
	cr_assert_gt(a.pid, 0, "a well-formed request was answered %d", a.pid);
	if (geteuid() == 0) {
		cr_assert_eq(a.ns, 1, "root's sandbox should get its namespaces");
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)a.pid);
		cr_assert_gt(k = readlink(path, ns_child, sizeof(ns_child) - 1), 0);
		ns_child[k] = '\0';
		cr_assert_gt(k = readlink("/proc/self/ns/net", ns_test, sizeof(ns_test) - 1), 0);
		ns_test[k] = '\0';
		cr_assert_str_neq(ns_child, ns_test,
				  "the fork shares the test's network namespace");
	}
	/* No go byte: the fork ends as svrun's own would, having run nothing. */
	close(w.go);
	cr_assert_eq(reap(a.pid), SV_EXIT_FAILURE);
	close(w.chan);
	close(w.out);
	close(z.sock);
	cr_assert_eq(reap(z.pid), 0, "the zygote should end quietly when svrun closes its socket");
}

Test(zygote, refuses_to_serve_on_anything_but_a_seqpacket_socket)
{
	struct zygote z = start_zygote(SOCK_STREAM);

	cr_assert_eq(reap(z.pid), SV_EXIT_FAILURE);
	close(z.sock);
	/* Control: on the socket svrun gives it, it serves until the socket closes. */
	z = start_zygote(SOCK_SEQPACKET);
	close(z.sock);
	cr_assert_eq(reap(z.pid), 0);
}
