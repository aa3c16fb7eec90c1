/*
 * session.c - supervise one sandboxed plugin from the broker: serve its channel, relay
 * its output, enforce its deadline, and report how it ended.
 *
 * Everything the child sends is hostile. The channel is read without blocking into a
 * framer that grows only with bytes received; descriptors a plugin passes are closed,
 * except the one seccomp listener the helper sends with its handshake, which is checked
 * to be one. A violation notification, a bad frame or the deadline kills the child's
 * whole process group; the broker goes on.
 */
#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"
#include "policy/policy.h"
#include "proto/frame.h"
#include "runner/runner.h"

#define LINE_MAX_RELAY 4096
#define READS_PER_WAKEUP 64
#define FDS_PER_MESSAGE 8

/* A stdout or stderr pipe of the child, relayed line by line. */
struct stream {
	int *fd;
	int to;			/* svrun's own descriptor it goes to */
	const char *name;
	char line[LINE_MAX_RELAY];
	size_t len;
	size_t relayed;
	size_t dropped;
};

struct state {
	const struct sv_supervision *sup;
	struct sv_child *child;
	struct sv_peer peer;
	struct sv_framer framer;
	int notify_fd;
	int candidate_fd;	/* a descriptor that came with the handshake bytes */
	int chan_eof;
	int spin;		/* sv_spin_pays(): more than one CPU to run on */
	int busy;		/* the last wake-up served a request: the next one may be close */
	int outcome;		/* an exit status decided by the broker, or -1 */
	struct stream out, err;
};

/* Kills the plugin and records why, unless an earlier reason stands. */
static void
stop(struct state *st, int status)
{
	if (st->outcome < 0)
		st->outcome = status;
	kill(-st->child->pid, SIGKILL);
	kill(st->child->pid, SIGKILL);
}

/* Writes one relayed line, or counts it as dropped past the output limit. */
static void
emit(struct state *st, struct stream *s, const char *text, size_t len)
{
	if (s->relayed + len > st->sup->output_max) {
		s->dropped += len;
		return;
	}
	s->relayed += len;
	sv_print_tagged(s->to, st->sup->id, text, len);
}

/* Relays the whole lines in @buf, keeping a partial last line for later. */
static void
split_lines(struct state *st, struct stream *s, const char *buf, size_t n)
{
	const char *nl;
	size_t take;

	while (n > 0) {
		nl = memchr(buf, '\n', n);
		take = nl ? (size_t)(nl - buf) : n;
		if (take > sizeof(s->line) - s->len)
			take = sizeof(s->line) - s->len;
		memcpy(s->line + s->len, buf, take);
		s->len += take;
		buf += take;
		n -= take;
		/* A newline, or a line too long to hold, ends a relayed line. */
		if (n > 0 && *buf == '\n') {
			buf++;
			n--;
			emit(st, s, s->line, s->len);
			s->len = 0;
		} else if (s->len == sizeof(s->line)) {
			emit(st, s, s->line, s->len);
			s->len = 0;
		}
	}
}

/* Reads what the pipe holds and relays each whole line. */
static void
relay(struct state *st, struct stream *s)
{
	char buf[65536];
	ssize_t n;

	for (int reads = 0; reads < READS_PER_WAKEUP; reads++) {
		n = read(*s->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (s->len)
				emit(st, s, s->line, s->len);
			s->len = 0;
			sv_closep(s->fd);
			return;
		}
		/* Past the limit a flood is only counted: no work per byte. */
		if (s->relayed >= st->sup->output_max)
			s->dropped += (size_t)n;
		else
			split_lines(st, s, buf, (size_t)n);
	}
}

/*
 * Names the address-space limit when the plugin came near it: past it, allocations fail
 * inside the plugin and nothing else would tell the operator why. The peak resident size
 * of the reaped child (getrusage) is the evidence.
 */
static void
report_memory(const struct state *st)
{
	struct rusage ru;
	unsigned long peak, limit = st->sup->address_space;

	if (limit == 0 || getrusage(RUSAGE_CHILDREN, &ru) < 0)
		return;
	peak = (unsigned long)ru.ru_maxrss * 1024;
	if (peak >= limit / 4 * 3)
		sv_warn("plugin '%s' reached its address-space limit of %lu MiB (peak resident "
			"%lu MiB): allocations past it fail; --memory raises it",
			st->sup->id, limit >> 20, peak >> 20);
}

/* Tells the operator how much of a stream went unrelayed past the output limit. */
static void
report_dropped(const struct state *st, const struct stream *s)
{
	if (s->dropped)
		sv_warn("plugin '%s': %zu bytes of %s dropped beyond the %zu-byte limit",
			st->sup->id, s->dropped, s->name, st->sup->output_max);
}

/* Keeps the first descriptor of the handshake as the listener candidate, closes the rest. */
static void
take_fds(struct state *st, struct msghdr *msg)
{
	struct cmsghdr *c;
	size_t i, n;
	int fd;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (!st->peer.hello_seen && st->candidate_fd < 0 && st->notify_fd < 0)
				st->candidate_fd = fd;
			else
				close(fd);
		}
	}
}

/*
 * Accepts the listener that came with the handshake. A real seccomp listener answers
 * the ID_VALID ioctl for an unknown id with ENOENT; any other descriptor does not.
 */
static int
accept_listener(struct state *st, char *why, size_t len)
{
	if (st->candidate_fd < 0) {
		snprintf(why, len, "handshake without the seccomp listener");
		return -EPROTO;
	}
	if (seccomp_notify_id_valid(st->candidate_fd, 0) != -ENOENT) {
		snprintf(why, len, "handshake with a descriptor that is not a seccomp listener");
		return -EPROTO;
	}
	st->notify_fd = st->candidate_fd;
	st->candidate_fd = -1;
	return 0;
}

/* Dispatches every whole frame held; returns -EPROTO with @why on a violation. */
static int
serve_frames(struct state *st, char *why, size_t len)
{
	const uint8_t *payload;
	size_t plen;
	int was_hello, batch = 0, k, r = 0;

	while ((k = sv_framer_next(&st->framer, &payload, &plen)) == 1) {
		st->busy = 1;
		/* Two whole requests at hand: a pipelined run, served as one (sv_session_batch). */
		if (!batch && st->peer.hello_seen && sv_framer_more(&st->framer)) {
			batch = 1;
			sv_session_batch(st->peer.session, 1);
		}
		was_hello = st->peer.hello_seen;
		if ((r = sv_dispatch_frame(&st->peer, payload, plen, why, len)) < 0) {
			if (r != -EPROTO)
				snprintf(why, len, "cannot answer: %s", strerror(-r));
			r = -EPROTO;
			goto out;
		}
		if (!was_hello && st->peer.hello_seen && (r = accept_listener(st, why, len)) < 0)
			goto out;
	}
	if (k < 0) {
		snprintf(why, len, "frame header claims more than the --max-frame limit of %zu bytes",
			 st->framer.max);
		r = -EPROTO;
		goto out;
	}
	/* No whole frame left: what was answered leaves now, in one write. */
	if ((r = sv_peer_flush(&st->peer)) < 0) {
		snprintf(why, len, "cannot answer: %s", strerror(-r));
		r = -EPROTO;
	}
out:
	if (batch)
		sv_session_batch(st->peer.session, 0);
	return r;
}

/* Reads what the channel holds (bounded per wakeup) and serves it. */
static void
read_channel(struct state *st)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(FDS_PER_MESSAGE * sizeof(int))];
	} control;
	struct msghdr msg;
	struct iovec iov;
	char why[256] = "";
	uint8_t *dst;
	size_t room;
	ssize_t n;

	for (int reads = 0; reads < READS_PER_WAKEUP; reads++) {
		if (sv_framer_reserve(&st->framer, &dst, &room) < 0) {
			snprintf(why, sizeof(why),
				 "frame header claims more than the --max-frame limit of %zu bytes",
				 st->framer.max);
			goto violation;
		}
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = dst;
		iov.iov_len = room;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		n = recvmsg(st->child->chan, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			snprintf(why, sizeof(why), "channel: %s", strerror(errno));
			goto violation;
		}
		take_fds(st, &msg);
		if (n == 0) {
			st->chan_eof = 1;
			if (sv_framer_pending(&st->framer) > 0 && st->outcome < 0)
				sv_warn("plugin '%s': channel closed inside a frame (%zu bytes "
					"dropped)",
					st->sup->id, sv_framer_pending(&st->framer));
			return;
		}
		sv_framer_commit(&st->framer, (size_t)n);
		if (serve_frames(st, why, sizeof(why)) < 0)
			goto violation;
		/* A short read emptied the socket: poll, rather than a read that finds nothing. */
		if ((size_t)n < room)
			return;
	}
	return;
violation:
	if (st->outcome < 0)
		sv_warn("plugin '%s' stopped: protocol violation: %s", st->sup->id, why);
	stop(st, SV_EXIT_PROTOCOL);
	st->chan_eof = 1;
}

/* In learn mode: keeps the denied call, fails it with EPERM, and lets the plugin go on. */
static void
learn_call(struct state *st, const struct seccomp_notif *req, struct seccomp_notif_resp *resp,
	   const char *desc)
{
	if (sv_learn_record(st->sup->learn, (int)req->data.nr, (const uint64_t *)req->data.args))
		sv_warn("plugin '%s' learn: syscall %s denied by %s; failed with EPERM, recorded",
			st->sup->id, desc, st->sup->policy);
	/* Never SECCOMP_USER_NOTIF_FLAG_CONTINUE: learning must not run the call. */
	resp->id = req->id;
	resp->val = 0;
	resp->error = -EPERM;
	resp->flags = 0;
	if (seccomp_notify_respond(st->notify_fd, resp) < 0 &&
	    seccomp_notify_id_valid(st->notify_fd, req->id) == 0) {
		sv_warn("plugin '%s' killed: cannot answer its denied call in learn mode",
			st->sup->id);
		stop(st, SV_EXIT_VIOLATION);
	}
}

/* Reports the syscall the final filter stopped, then kills the plugin (or learns it). */
static void
report_violation(struct state *st)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	char desc[256], where[512];

	if (seccomp_notify_alloc(&req, &resp) < 0 ||
	    seccomp_notify_receive(st->notify_fd, req) < 0) {
		/* A call abandoned by a killed plugin; otherwise fail closed. */
		if (st->sup->learn == NULL || st->outcome >= 0) {
			sv_warn("plugin '%s' killed: a syscall denied by %s (unreadable "
				"notification)",
				st->sup->id, st->sup->policy);
			stop(st, SV_EXIT_VIOLATION);
			sv_closep(&st->notify_fd);
		}
		goto out;
	}
	sv_policy_describe_call((int)req->data.nr, (const uint64_t *)req->data.args, desc,
				sizeof(desc));
	if (st->sup->learn != NULL) {
		learn_call(st, req, resp, desc);
		goto out;
	}
	/* Point at what to read next: the rule that ruled, or the way to learn one. */
	if (sv_policy_locate(st->sup->rules, (int)req->data.nr, where, sizeof(where)))
		sv_warn("plugin '%s' killed: syscall %s denied by %s: the rule at %s allows it "
			"only under its conditions (svrun policy explain shows them)",
			st->sup->id, desc, st->sup->policy, where);
	else
		sv_warn("plugin '%s' killed: syscall %s denied by %s: no rule allows it (svrun "
			"--learn shows what the plugin needs)",
			st->sup->id, desc, st->sup->policy);
	stop(st, SV_EXIT_VIOLATION);
	sv_closep(&st->notify_fd);
out:
	seccomp_notify_free(req, resp);
}

/* Maps how the child ended to svrun's exit status, explaining anything but success. */
static int
classify(struct state *st, const siginfo_t *si)
{
	const char *id = st->sup->id;
	int code = si->si_status;

	if (st->outcome >= 0)
		return st->outcome;
	if (si->si_code == CLD_EXITED) {
		if (!st->peer.hello_seen && code == SV_EXIT_LOAD)
			return SV_EXIT_LOAD;
		if (!st->peer.hello_seen) {
			sv_warn("plugin '%s': the sandbox could not be set up (helper status %d); "
				"the plugin did not run",
				id, code);
			return SV_EXIT_FAILURE;
		}
		if (code > SV_EXIT_PLUGIN_MAX) {
			sv_warn("plugin '%s' returned %d, outside 0..%d; reporting %d", id, code,
				SV_EXIT_PLUGIN_MAX, SV_EXIT_PLUGIN_MAX);
			return SV_EXIT_PLUGIN_MAX;
		}
		return code;
	}
	if (code == SIGSYS) {
		sv_warn("plugin '%s' killed: a syscall of a non-native architecture (x32 or "
			"32-bit) denied by the seccomp filter",
			id);
		return SV_EXIT_VIOLATION;
	}
	if (code == SIGXCPU || code == SIGKILL) {
		sv_warn("plugin '%s' killed: CPU time limit of %lu s reached", id,
			st->sup->timeout);
		return SV_EXIT_DEADLINE;
	}
	sv_warn("plugin '%s' crashed: killed by signal %d (%s)", id, code, strsignal(code));
	return SV_EXIT_CRASH;
}

/* Milliseconds until the deadline, at least 0. */
static int
ms_left(const struct state *st)
{
	uint64_t now = sv_now_ns();

	if (now >= st->sup->deadline_ns)
		return 0;
	return (int)((st->sup->deadline_ns - now + 999999) / 1000000);
}

/*
 * Waits for events, first polling without sleep for up to SV_SPIN_NS when the plugin
 * has just been served: its next request is then likely microseconds away, and waking
 * this process from sleep would cost more than the spin.
 */
static int
wait_for_events(struct state *st, struct pollfd *pfd, nfds_t n, int timeout_ms)
{
	uint64_t until;
	int r;

	if (st->busy && st->spin) {
		st->busy = 0;
		until = sv_now_ns() + SV_SPIN_NS;
		do {
			if ((r = poll(pfd, n, 0)) != 0)
				return r;
		} while (sv_now_ns() < until);
	}
	return poll(pfd, n, timeout_ms);
}

/* Arms the channel's send timeout so an answer never blocks past the deadline. */
static void
bound_sends(struct state *st)
{
	struct timeval tv;
	int ms = ms_left(st) + 1;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	setsockopt(st->child->chan, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int
sv_supervise(struct sv_child *c, const struct sv_supervision *sup)
{
	struct state st = {0};
	struct pollfd pfd[5];
	siginfo_t si = {0};
	int exited = 0, n;

	st.sup = sup;
	st.child = c;
	st.notify_fd = st.candidate_fd = -1;
	st.outcome = -1;
	st.spin = sv_spin_pays();
	st.peer.plugin_id = sup->id;
	st.peer.session = sup->session;
	st.peer.fd = c->chan;
	st.peer.max_requests = sup->max_requests;
	st.peer.debug = sup->debug;
	st.peer.trace = sup->trace;
	sv_framer_init(&st.framer);
	st.framer.max = sup->frame_max;
	st.peer.log_max = sup->output_max;
	st.out = (struct stream){.fd = &c->out, .to = STDOUT_FILENO, .name = "stdout"};
	st.err = (struct stream){.fd = &c->err, .to = STDERR_FILENO, .name = "stderr"};
	bound_sends(&st);

	while (!exited || !st.chan_eof || c->out >= 0 || c->err >= 0) {
		pfd[0] = (struct pollfd){.fd = st.chan_eof ? -1 : c->chan, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = st.notify_fd, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = c->out, .events = POLLIN};
		pfd[3] = (struct pollfd){.fd = c->err, .events = POLLIN};
		pfd[4] = (struct pollfd){.fd = exited ? -1 : c->pidfd, .events = POLLIN};
		n = wait_for_events(&st, pfd, 5, exited ? 1000 : ms_left(&st));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && !exited) {
			sv_warn("plugin '%s' killed: deadline of %lu s passed", sup->id,
				sup->timeout);
			stop(&st, SV_EXIT_DEADLINE);
			continue;
		}
		if (n == 0)
			break;	/* exited, but a pipe stays open: nothing more is coming */
		/* POLLIN is a pending call; POLLHUP alone means every filtered task is gone. */
		if (pfd[1].revents & POLLIN)
			report_violation(&st);
		else if (pfd[1].revents)
			sv_closep(&st.notify_fd);
		if (pfd[0].revents)
			read_channel(&st);
		if (pfd[2].revents)
			relay(&st, &st.out);
		if (pfd[3].revents)
			relay(&st, &st.err);
		if (pfd[4].revents && waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED) == 0) {
			exited = 1;
			c->pid = -1;	/* reaped */
		}
		/* Once it is gone, whatever is left in the channel is all there will be. */
		if (exited && !st.chan_eof)
			read_channel(&st);
	}
	report_dropped(&st, &st.out);
	report_dropped(&st, &st.err);
	if (exited)
		report_memory(&st);
	if (st.peer.log_dropped)
		sv_warn("plugin '%s': %zu bytes of sv_log lines dropped beyond the %zu-byte limit",
			sup->id, st.peer.log_dropped, sup->output_max);
	sv_framer_release(&st.framer);
	sv_peer_release(&st.peer);
	sv_closep(&st.notify_fd);
	sv_closep(&st.candidate_fd);
	return classify(&st, &si);
}
