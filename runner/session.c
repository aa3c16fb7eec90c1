/*
 * session.c - supervise the sandboxed plugins from the broker, all of them in one epoll
 * loop: serve each one's channel, relay its output, enforce its deadline, and report
 * how it ended.
 *
 * Everything a child sends is hostile. The channel is read without blocking into a
 * framer that grows only with bytes received; descriptors a plugin passes are closed,
 * except the one seccomp listener the helper sends with its handshake, which is checked
 * to be one. A violation notification, a bad frame or the deadline kills the child's
 * whole process group; the broker and the other plugins go on.
 *
 * No plugin can hold the loop: a turn serves at most FRAMES_PER_TURN of its requests
 * (the rest wait their next turn, and nothing more is read from it meanwhile), answers
 * are written without blocking, a plugin that does not read its answers is not served
 * again until it has, and while one plugin's statement runs long, the loop turns from
 * inside it every 100 µs (while_running), serving everyone else.
 *
 * While the loop has one plugin to serve, that plugin's reads share one read transaction
 * from one request to the next, for half a millisecond at most (take_lease): on SQLite
 * its locking is most of what a point query costs.
 */
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"
#include "policy/policy.h"
#include "proto/frame.h"
#include "runner/runner.h"

#define LINE_MAX_RELAY 4096
#define READS_PER_WAKEUP 64
#define FDS_PER_MESSAGE 8
/* Requests of one plugin served per turn; an honest pipeline is at most this deep. */
#define FRAMES_PER_TURN 64
/* Bytes of frames held, at most, past which a running statement reads no further ahead. */
#define CANCEL_LOOKAHEAD (128u << 10)
/* How long an exited plugin's output pipes may stay open before they are given up. */
#define LINGER_NS 1000000000ull
#define EVENTS_PER_WAIT 64
/* The epoll data of the signal descriptor; every other is (watch index, slot). */
#define SIGNAL_EVENT UINT64_MAX

/* The descriptors of one plugin the loop watches. */
enum slot { SLOT_CHAN, SLOT_NOTIFY, SLOT_OUT, SLOT_ERR, SLOT_PIDFD, NSLOTS };

/* A stdout or stderr pipe of the child, relayed line by line. */
struct stream {
	int *fd;
	enum slot slot;
	int to;			/* svrun's own descriptor it goes to */
	const char *name;
	char *line;		/* the line gathered so far, LINE_MAX_RELAY bytes, malloc'd once needed */
	size_t len;
	size_t relayed;
	size_t dropped;
};

struct loop;

/* One supervised plugin. */
struct state {
	struct loop *loop;
	const struct sv_supervision *sup;
	struct sv_child *child;
	int epfd;
	size_t index;
	int regfd[NSLOTS];	/* the descriptor epoll watches in each slot, or -1 */
	uint32_t regev[NSLOTS];
	struct sv_peer peer;
	struct sv_framer framer;
	int notify_fd;
	int candidate_fd;	/* a descriptor that came with the handshake bytes */
	int chan_eof;
	int backlog;		/* whole requests wait past this turn's budget */
	int stalled;		/* answers wait for the plugin to read them */
	int busy;		/* this wake-up served a request: the next one may be close */
	uint64_t asked_ns;	/* when a request of it was last served, or 0 */
	int running;		/* one of its requests runs: its channel, framer, peer are in use */
	int at_top;		/* its next request met a running statement's lock: it waits for
				   the loop's top level */
	int exited;		/* reaped; si and ru say how */
	uint64_t linger_until;
	int finished;
	int by_signal;		/* stopped because svrun was told to stop */
	int outcome;		/* an exit status decided by the broker, or -1 */
	siginfo_t si;
	struct rusage ru;
	struct stream out, err;
};

/*
 * Everything the loop holds, so that a turn of it can also run inside a plugin's long
 * statement (see while_running) and serve the others meanwhile.
 */
struct loop {
	struct state *sts;
	size_t n;		/* plugins to run; fewer once told to stop */
	size_t started;
	size_t live;		/* started and not finished */
	int *statuses;
	int *signo;
	int epfd;
	int sigfd;
	struct sv_spin spin;
	int cpus;		/* CPUs the broker and its plugins may run on */
	int crowded;		/* more plugins ask than there are CPUs: they should not spin */
	int busy;		/* the last turn served a request */
	int depth;		/* turns running inside statements, at the moment */
	int scatter;		/* in a turn's first pass: reads may be sent ahead (run_turn) */
	struct state *leased;	/* whose reads share one read transaction (take_lease) */
	uint64_t lease_ns;	/* since when */
	int start_at_top;	/* the next start waits for a turn outside any statement */
	sv_start_fn *start;	/* how plugin i is started, with start_arg */
	void *start_arg;
	struct sv_child *children;
	struct sv_supervision *sups;
};

/* Makes epoll watch @fd in @slot for @events (0 or @fd -1: not at all). */
static int
watch_fd(struct state *st, enum slot slot, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events,
				 .data.u64 = (uint64_t)st->index * NSLOTS + slot};
	int op;

	if (fd < 0)
		events = 0;
	if (st->regfd[slot] == fd && st->regev[slot] == events)
		return 0;
	if (st->regfd[slot] >= 0 && (st->regfd[slot] != fd || events == 0)) {
		epoll_ctl(st->epfd, EPOLL_CTL_DEL, st->regfd[slot], NULL);
		st->regfd[slot] = -1;
		st->regev[slot] = 0;
	}
	if (events == 0)
		return 0;
	op = st->regfd[slot] == fd ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(st->epfd, op, fd, &ev) < 0)
		return -errno;
	st->regfd[slot] = fd;
	st->regev[slot] = events;
	return 0;
}

/* Closes a watched descriptor, taking it out of epoll first (a dup elsewhere keeps it). */
static void
drop(struct state *st, enum slot slot, int *fdp)
{
	if (st->regfd[slot] == *fdp)
		watch_fd(st, slot, -1, 0);
	sv_closep(fdp);
}

/* Kills the plugin and records why, unless an earlier reason stands. */
static void
stop(struct state *st, int status)
{
	if (st->outcome < 0)
		st->outcome = status;
	/* Reaped, its pid is -1: kill(-1) would be every process there is. */
	if (st->child->pid <= 0)
		return;
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
		/*
		 * Most plugins never print: none holds a buffer before it does. Without
		 * memory for one, each piece goes out as a line of its own.
		 */
		if (s->line == NULL && (s->line = malloc(LINE_MAX_RELAY)) == NULL) {
			emit(st, s, buf, take);
			buf += take;
			n -= take;
			if (n > 0 && *buf == '\n') {
				buf++;
				n--;
			}
			continue;
		}
		if (take > LINE_MAX_RELAY - s->len)
			take = LINE_MAX_RELAY - s->len;
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
		} else if (s->len == LINE_MAX_RELAY) {
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
			drop(st, s->slot, s->fd);
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
 * of this reaped child (its own rusage, from waitid) is the evidence.
 */
static void
report_memory(const struct state *st)
{
	unsigned long peak, limit = st->sup->address_space;

	if (limit == 0)
		return;
	peak = (unsigned long)st->ru.ru_maxrss * 1024;
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
	int fd;

	if (sv_take_fds(msg, &fd, 1) == 0)
		return;
	if (!st->peer.hello_seen && st->candidate_fd < 0 && st->notify_fd < 0)
		st->candidate_fd = fd;
	else
		close(fd);
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

/*
 * Whether a failure to answer only means the plugin closed its end (it exited, or
 * closed the channel): nobody is left to read, and that breaks no rule. Its answers go.
 */
static int
nobody_reads(struct state *st, int r)
{
	if (r != -EPIPE && r != -ECONNRESET)
		return 0;
	sv_peer_release(&st->peer);
	return 1;
}

/*
 * How long one plugin's reads may share one read transaction (take_lease). On SQLite
 * that is its shared lock, which a core writer waits for: less than the 1 ms of SQLite's
 * first busy wait, so a writer that meets it is through at its first retry.
 */
#define LEASE_NS 500000ull

/* Ends the loop's read lease, and with it the shared lock; not under a running statement. */
static void
end_lease(struct loop *l)
{
	if (l->leased == NULL || l->leased->running)
		return;
	sv_session_batch(l->leased->peer.session, 0);
	l->leased = NULL;
}

/* Ends the lease once it has lasted LEASE_NS, wherever the loop notices. */
static void
check_lease(struct loop *l, uint64_t now)
{
	if (l->leased != NULL && now - l->lease_ns >= LEASE_NS)
		end_lease(l);
}

/*
 * Lets the reads of @st share one read transaction across its requests, for up to
 * LEASE_NS, so that a plugin asking one question at a time pays SQLite's locking (eight
 * syscalls, most of what a point query costs) once a lease instead of once a read. Only
 * at the loop's top level and for one plugin at a time: the lease ends before another
 * plugin is served or started, so no other plugin's write ever waits for it, and a core
 * writer waits LEASE_NS at most. The reads see no commit of another connection
 * meanwhile: in rollback-journal mode none can commit, in WAL mode they read one
 * snapshot, no older than LEASE_NS.
 */
static void
take_lease(struct loop *l, struct state *st)
{
	check_lease(l, sv_now_ns());
	if (l->leased == st)
		return;
	end_lease(l);
	/* A backend with nothing to share (PostgreSQL) needs no lease to end. */
	if (sv_session_batch(st->peer.session, 1)) {
		l->leased = st;
		l->lease_ns = sv_now_ns();
	}
}

/*
 * Serves the whole requests held, at most FRAMES_PER_TURN of them and none while the
 * plugin leaves its answers unread; sets st->backlog when some must wait for the next
 * serve (a read sent ahead waits for the turn's second pass), and st->at_top too when
 * one met the lock of the statement this turn runs inside (held, it is served again at
 * the loop's top level). Returns 0, or -EPROTO with @why on a violation.
 */
static int
serve_frames(struct state *st, char *why, size_t len)
{
	const uint8_t *payload;
	enum sv_defer defer;
	size_t plen;
	int was_hello, batch = 0, served = 0, k = 0, r = 0;

	/* Stopped by the broker, it is being killed: what it still asks goes unanswered. */
	if (st->outcome >= 0) {
		st->backlog = st->stalled = 0;
		st->chan_eof = 1;
		return 0;
	}
	while (served < FRAMES_PER_TURN && !sv_peer_backed_up(&st->peer) &&
	       (k = sv_framer_next(&st->framer, &payload, &plen)) == 1) {
		served++;
		st->busy = 1;
		/* Inside another statement's turn, only a pipelined run shares its reads. */
		if (st->peer.hello_seen && st->loop->depth == 0) {
			take_lease(st->loop, st);
		} else if (!batch && st->peer.hello_seen && sv_framer_more(&st->framer)) {
			batch = 1;
			sv_session_batch(st->peer.session, 1);
		}
		was_hello = st->peer.hello_seen;
		st->running = 1;
		sv_framer_hold(&st->framer);
		/*
		 * Sent ahead in the turn's first pass, a read is collected in the second.
		 * Inside another statement's wait, it is sent ahead too and collected only
		 * once answered: a long read started or waited for there would hold that
		 * statement until it ended.
		 */
		defer = st->loop->depth > 0 ? SV_DEFER_NESTED
		      : st->loop->scatter   ? SV_DEFER_SEND
					    : SV_DEFER_OFF;
		sv_session_defer(st->peer.session, defer);
		r = sv_dispatch_frame(&st->peer, payload, plen, why, len);
		sv_session_defer(st->peer.session, SV_DEFER_OFF);
		st->running = 0;
		if (r == -EAGAIN) {
			sv_framer_unget(&st->framer);
			/*
			 * A read sent ahead is collected at any depth, so a long statement
			 * collected before it does not hold it; a lock met inside another
			 * statement waits for the top.
			 */
			st->at_top = !sv_session_in_flight(st->peer.session);
			r = 0;
			break;
		}
		if (r < 0 && !nobody_reads(st, r)) {
			if (r != -EPROTO && r != -EIO)
				snprintf(why, len, "cannot answer: %s", strerror(-r));
			if (r != -EIO)
				r = -EPROTO;
			goto out;
		}
		if (!was_hello && st->peer.hello_seen && (r = accept_listener(st, why, len)) < 0)
			goto out;
	}
	if (served > 0)
		st->asked_ns = sv_now_ns();
	if (k < 0) {
		snprintf(why, len, "frame header claims more than the --max-frame limit of %zu bytes",
			 st->framer.max);
		r = -EPROTO;
		goto out;
	}
	st->backlog = k == 1 || (served == FRAMES_PER_TURN && sv_framer_more(&st->framer));
	/* What was answered leaves now, in one write, or when the plugin reads again. */
	r = sv_peer_flush(&st->peer);
	st->stalled = r == -EAGAIN;
	if (r == -EAGAIN || nobody_reads(st, r)) {
		r = 0;
	} else if (r < 0) {
		snprintf(why, len, "cannot answer: %s", strerror(-r));
		r = -EPROTO;
	}
out:
	if (batch)
		sv_session_batch(st->peer.session, 0);
	return r;
}

/*
 * Stops the plugin, saying why: it broke the protocol (@r -EPROTO), or the broker cannot
 * go on serving it (-EIO: its requests can no longer be recorded).
 */
static void
halt(struct state *st, int r, const char *why)
{
	if (st->outcome < 0)
		sv_warn("plugin '%s' stopped: %s%s", st->sup->id,
			r == -EIO ? "" : "protocol violation: ", why);
	stop(st, r == -EIO ? SV_EXIT_FAILURE : SV_EXIT_PROTOCOL);
	st->chan_eof = 1;
	st->backlog = st->stalled = 0;
}

/* Serves the requests left from the plugin's last turn, or writes its waiting answers. */
static void
serve_backlog(struct state *st)
{
	char why[512] = "";
	int r;

	if (st->stalled && sv_peer_flush(&st->peer) == -EAGAIN)
		return;
	st->stalled = 0;
	if (st->at_top && st->loop->depth > 0)
		return;
	st->at_top = 0;
	if ((r = serve_frames(st, why, sizeof(why))) < 0)
		halt(st, r, why);
}

/*
 * Reads once from the channel into the framer without blocking, keeping a descriptor
 * that came with the handshake and closing any other. Returns the bytes read (with the
 * room there was in *@room), 0 at its end (st->chan_eof set), -EAGAIN when it is empty,
 * or -EPROTO with @why.
 */
static ssize_t
receive(struct state *st, size_t *room, char *why, size_t len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(FDS_PER_MESSAGE * sizeof(int))];
	} control;
	struct msghdr msg;
	struct iovec iov;
	uint8_t *dst;
	ssize_t n;

	if (sv_framer_reserve(&st->framer, &dst, room) < 0) {
		snprintf(why, len, "frame header claims more than the --max-frame limit of %zu bytes",
			 st->framer.max);
		return -EPROTO;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = dst;
	iov.iov_len = *room;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	do
		n = recvmsg(st->child->chan, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return -EAGAIN;
	if (n < 0) {
		snprintf(why, len, "channel: %s", strerror(errno));
		return -EPROTO;
	}
	take_fds(st, &msg);
	if (n == 0) {
		st->chan_eof = 1;
		if (sv_framer_pending(&st->framer) > 0 && st->outcome < 0)
			sv_warn("plugin '%s': channel closed inside a frame (%zu bytes dropped)",
				st->sup->id, sv_framer_pending(&st->framer));
		return 0;
	}
	sv_framer_commit(&st->framer, (size_t)n);
	return n;
}

/* Reads what the channel holds and serves it, until a turn's budget is spent. */
static void
read_channel(struct state *st)
{
	char why[512] = "";
	size_t room;
	ssize_t n;
	int r = -EPROTO;

	for (int reads = 0; reads < READS_PER_WAKEUP && !st->backlog && !st->stalled; reads++) {
		if ((n = receive(st, &room, why, sizeof(why))) == -EPROTO)
			goto violation;
		if (n <= 0)
			return;
		if ((r = serve_frames(st, why, sizeof(why))) < 0)
			goto violation;
		/* A short read emptied the socket: wait, rather than a read that finds nothing. */
		if ((size_t)n < room)
			return;
	}
	return;
violation:
	halt(st, r, why);
}

static void run_turn(struct loop *l, int may_sleep);

/*
 * Nested turns at most, so the stack stays bounded: past this many statements running
 * at once, one more waits for its turn like any request.
 */
#define NESTED_TURNS_MAX 16

/*
 * The session's question while one of this plugin's statements runs (every 100 µs at
 * most): did it cancel it? Reads what has come on the channel since, within
 * CANCEL_LOOKAHEAD bytes held (a plugin cannot make the broker buffer more by sending
 * while it waits), and looks for a Cancel among the frames not yet served. A read that
 * fails here is left for the loop, which meets it again and ends the plugin.
 * Meanwhile it runs one turn of the loop without waiting, so the other plugins are
 * served, their deadlines kept and their output relayed while this statement runs:
 * a plugin whose statement is running (this one, and any the turn is nested in) is
 * left alone until it returns.
 */
static int
while_running(void *arg)
{
	struct state *st = arg;
	struct loop *l = st->loop;
	char why[512];
	size_t room;

	if (!st->chan_eof && sv_framer_pending(&st->framer) < CANCEL_LOOKAHEAD)
		receive(st, &room, why, sizeof(why));
	if (l->depth < NESTED_TURNS_MAX) {
		l->depth++;
		run_turn(l, 0);
		l->depth--;
	}
	return sv_peer_cancelled(&st->peer, &st->framer);
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
			drop(st, SLOT_NOTIFY, &st->notify_fd);
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
	drop(st, SLOT_NOTIFY, &st->notify_fd);
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

/* Sets up the supervision of child @c as watch @index of the loop on @epfd. */
static void
start_watch(struct state *st, size_t index, int epfd, struct sv_child *c,
      const struct sv_supervision *sup)
{
	st->sup = sup;
	st->child = c;
	st->epfd = epfd;
	st->index = index;
	for (int i = 0; i < NSLOTS; i++)
		st->regfd[i] = -1;
	st->notify_fd = st->candidate_fd = -1;
	st->outcome = -1;
	st->peer.plugin_id = sup->id;
	st->peer.session = sup->session;
	st->peer.fd = c->chan;
	st->peer.max_requests = sup->max_requests;
	st->peer.debug = sup->debug;
	st->peer.trace = sup->trace;
	st->peer.audit = sup->audit;
	st->peer.log_max = sup->output_max;
	sv_session_set_cancel(sup->session, while_running, st);
	sv_framer_init(&st->framer);
	st->framer.max = sup->frame_max;
	st->out = (struct stream){.fd = &c->out, .slot = SLOT_OUT, .to = STDOUT_FILENO,
				  .name = "stdout"};
	st->err = (struct stream){.fd = &c->err, .slot = SLOT_ERR, .to = STDERR_FILENO,
				  .name = "stderr"};
}

/*
 * Brings what epoll watches of @st in line with its state: the channel for requests
 * unless a backlog or unread answers hold it (then for room to write), the listener,
 * the pipes, and the pidfd until reaped. A registration that fails stops the plugin:
 * unwatched, it could not be served nor stopped in time.
 */
static void
sync_watch(struct state *st)
{
	uint32_t chan = 0;
	int r = 0;

	if (!st->chan_eof)
		chan = st->stalled ? EPOLLOUT : st->backlog ? 0 : EPOLLIN;
	if (st->finished)
		chan = 0;
	r |= watch_fd(st, SLOT_CHAN, st->child->chan, chan);
	r |= watch_fd(st, SLOT_NOTIFY, st->notify_fd, st->finished ? 0 : EPOLLIN);
	r |= watch_fd(st, SLOT_OUT, st->child->out, st->finished ? 0 : EPOLLIN);
	r |= watch_fd(st, SLOT_ERR, st->child->err, st->finished ? 0 : EPOLLIN);
	r |= watch_fd(st, SLOT_PIDFD, st->exited ? -1 : st->child->pidfd, EPOLLIN);
	if (r < 0 && st->outcome < 0) {
		sv_warn("plugin '%s' stopped: the broker cannot watch its descriptors", st->sup->id);
		stop(st, SV_EXIT_FAILURE);
	}
}

/* Reaps the child once its pidfd says it ended, keeping its own rusage for the report. */
static void
reap(struct state *st)
{
	/* The raw call, for the fifth argument glibc's waitid() does not pass. */
	if (syscall(SYS_waitid, P_PIDFD, st->child->pidfd, &st->si, WEXITED, &st->ru) < 0)
		return;
	st->exited = 1;
	st->child->pid = -1;
	st->linger_until = sv_now_ns() + LINGER_NS;
	/* Once it is gone, whatever is left in the channel is all there will be. */
	if (!st->chan_eof && !st->running)
		read_channel(st);
}

/* Handles one event on slot @slot of @st. */
static void
handle(struct state *st, enum slot slot, uint32_t events)
{
	switch (slot) {
	case SLOT_CHAN:
		/* Its statement runs further up: the channel is that frame's until it returns. */
		if (st->running)
			break;
		if (st->stalled)
			serve_backlog(st);
		else
			read_channel(st);
		break;
	case SLOT_NOTIFY:
		/* EPOLLIN is a pending call; EPOLLHUP alone: every filtered task is gone. */
		if (events & EPOLLIN)
			report_violation(st);
		else
			drop(st, SLOT_NOTIFY, &st->notify_fd);
		break;
	case SLOT_OUT:
		relay(st, &st->out);
		break;
	case SLOT_ERR:
		relay(st, &st->err);
		break;
	case SLOT_PIDFD:
	case NSLOTS:
	default:
		reap(st);
		break;
	}
}

/* Whether @st has nothing more to give: reaped, channel and pipes at their end. */
static int
drained(const struct state *st, uint64_t now)
{
	if (!st->exited)
		return 0;
	/* Requests read before the end (a cancel poll may read up to it) are served first. */
	if (st->chan_eof && !st->backlog && st->child->out < 0 && st->child->err < 0)
		return 1;
	/* Exited, but a pipe stays open past the linger: nothing more is coming. */
	return now >= st->linger_until;
}

/* Reports what is left to say about @st and sets its exit status. */
static int
finish(struct state *st)
{
	int status;

	report_dropped(st, &st->out);
	report_dropped(st, &st->err);
	if (st->exited)
		report_memory(st);
	if (st->peer.log_dropped)
		sv_warn("plugin '%s': %zu bytes of sv_log lines dropped beyond the %zu-byte limit",
			st->sup->id, st->peer.log_dropped, st->sup->output_max);
	if (st->loop->leased == st)
		end_lease(st->loop);
	st->finished = 1;
	sync_watch(st);
	drop(st, SLOT_NOTIFY, &st->notify_fd);
	sv_closep(&st->candidate_fd);
	/* A reaped plugin's descriptors go now, not when the last plugin ends. */
	if (st->exited) {
		drop(st, SLOT_CHAN, &st->child->chan);
		drop(st, SLOT_OUT, &st->child->out);
		drop(st, SLOT_ERR, &st->child->err);
		sv_closep(&st->child->pidfd);
	}
	sv_session_set_cancel(st->sup->session, NULL, NULL);
	sv_framer_release(&st->framer);
	sv_peer_release(&st->peer);
	free(st->out.line);
	free(st->err.line);
	st->out.line = st->err.line = NULL;
	status = st->by_signal ? SV_EXIT_FAILURE : classify(st, &st->si);
	if (st->sup->audit &&
	    sv_audit_event(st->sup->audit, st->sup->id, "end", "\"status\":%d,\"requests\":%lu",
			   status, st->peer.requests) < 0)
		sv_warn("plugin '%s': its end could not be written to the audit trail %s",
			st->sup->id, sv_audit_path(st->sup->audit));
	return status;
}

/* Stops @st at its deadline, before anything else is looked at, so it cannot race it. */
static void
check_deadline(struct state *st, uint64_t now)
{
	if (st->exited || st->outcome >= 0 || now < st->sup->deadline_ns)
		return;
	sv_warn("plugin '%s' killed: deadline of %lu s passed", st->sup->id, st->sup->timeout);
	stop(st, SV_EXIT_DEADLINE);
}

/* Milliseconds to sleep at most: until the next deadline or linger; 0 with work left. */
static int
next_timeout(const struct state *sts, size_t n, uint64_t now)
{
	uint64_t next = UINT64_MAX, t;

	for (size_t i = 0; i < n; i++) {
		if (sts[i].finished)
			continue;
		if (sts[i].backlog && !sts[i].stalled)
			return 0;
		t = sts[i].exited ? sts[i].linger_until : sts[i].sup->deadline_ns;
		if (t < next)
			next = t;
	}
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return (int)((next - now + 999999) / 1000000);
}

/*
 * Sleeps until events come or @timeout_ms passes. The lease ends first: held through a
 * sleep it would need a timer of its own, and on a VM arming and cancelling one costs
 * about what the lease saves.
 */
static int
sleep_for_events(struct loop *l, struct epoll_event *ev, int timeout_ms)
{
	end_lease(l);
	return epoll_wait(l->epfd, ev, EVENTS_PER_WAIT, timeout_ms);
}

/*
 * Waits for events, first polling without sleep (as long as sv_spin_budget() says) when a
 * plugin has just been served: its next request is then likely microseconds away, and
 * waking this process from sleep would cost more than the spin.
 */
static int
wait_for_events(struct loop *l, struct epoll_event *ev, int timeout_ms)
{
	uint64_t start, now, until, budget;
	int n = 0;

	if (timeout_ms == 0)
		return epoll_wait(l->epfd, ev, EVENTS_PER_WAIT, 0);
	if (l->depth > 0 || !l->busy)
		return sleep_for_events(l, ev, timeout_ms);
	start = sv_now_ns();
	if ((budget = sv_spin_budget(&l->spin)) > 0) {
		until = start + budget;
		while ((n = epoll_wait(l->epfd, ev, EVENTS_PER_WAIT, 0)) == 0 &&
		       (now = sv_now_ns()) < until)
			check_lease(l, now);
	}
	if (n == 0)
		n = sleep_for_events(l, ev, timeout_ms);
	if (n > 0)
		sv_spin_record(&l->spin, sv_now_ns() - start);
	return n;
}

/* Stops every plugin still running because svrun itself was told to stop. */
static void
stop_all(struct state *sts, size_t n, int signo)
{
	size_t running = 0;

	for (size_t i = 0; i < n; i++)
		running += !sts[i].exited;
	sv_warn("SIG%s received: stopping %zu plugin%s",
		sigabbrev_np(signo) ? sigabbrev_np(signo) : "NAL", running, running == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		if (sts[i].exited)
			continue;
		sts[i].by_signal = 1;
		stop(&sts[i], SV_EXIT_FAILURE);
	}
}

/* Reads which signal came; 0 if none could be read. */
static int
read_signal(int sigfd)
{
	struct signalfd_siginfo si;

	if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

/* The signals that stop svrun, which the loop takes through a signalfd. */
static void
stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

/*
 * Starts the next plugin and begins to watch it; a failed start is its end. One start
 * per turn, inside a long statement too: the handshakes of those already started are
 * read meanwhile, and no plugin waits to start for another's statement, unless that
 * statement locks the database the new session must read: then starting waits for the
 * loop's top level.
 */
static void
admit_next(struct loop *l)
{
	size_t i = l->started++;
	struct state *st = &l->sts[i];
	struct sv_supervision *s = &l->sups[i];
	int r;

	l->start_at_top = 0;
	if ((r = l->start(i, l->depth > 0, &l->children[i], s, l->start_arg)) == -EAGAIN) {
		l->started--;
		l->start_at_top = 1;
		return;
	}
	if (r < 0) {
		st->finished = 1;
		l->statuses[i] = SV_EXIT_FAILURE;
		return;
	}
	l->live++;
	st->loop = l;
	st->peer.crowded = &l->crowded;
	start_watch(st, i, l->epfd, &l->children[i], s);
	sync_watch(st);
	/* Unrecorded, it is not served: the trail must show every plugin that ran. */
	if (s->audit && sv_audit_event(s->audit, s->id, "start", "\"timeout_s\":%lu",
				       s->timeout) < 0)
		halt(st, -EIO, "the audit trail cannot be written");
}

/*
 * A plugin that had a request served this recently is one of those asking. When more
 * of them ask than there are CPUs, the ones that spin for their answers take the CPU
 * the broker needs: with 8 plugins on 2 vCPUs, spinning cost a sixth of the throughput
 * and two to three times the p99, while two plugins on two CPUs still gain from it
 * (bench/README.md). The answers then tell the plugins to wait asleep
 * (BrokerMessage.crowded).
 */
#define ASKING_WINDOW_NS 1000000ull

/*
 * One turn of the loop: starts the next plugin, waits for events (until the next
 * deadline with @may_sleep and nothing left to start, else not at all), stops whoever
 * passed a deadline, handles the events, serves what waits, and finishes the plugins
 * that are done. Plugins with a statement running are left as they are.
 */
static void
run_turn(struct loop *l, int may_sleep)
{
	struct epoll_event ev[EVENTS_PER_WAIT];
	struct state *st;
	uint64_t now, data;
	size_t i, asking = 0;
	int k, m, timeout_ms = 0;

	check_lease(l, sv_now_ns());
	/* A start takes longer than a lease may last. */
	if (l->started < l->n && *l->signo == 0 && (l->depth == 0 || !l->start_at_top)) {
		end_lease(l);
		admit_next(l);
	}
	if (may_sleep && (l->started == l->n || *l->signo != 0))
		timeout_ms = next_timeout(l->sts, l->started, sv_now_ns());
	k = wait_for_events(l, ev, timeout_ms);
	if (k < 0 && errno != EINTR) {
		sv_warn("the broker's event loop failed: %s", strerror(errno));
		stop_all(l->sts, l->started, SIGTERM);
		k = 0;
	}
	now = sv_now_ns();
	if (l->depth == 0)
		l->busy = 0;
	for (i = 0; i < l->started; i++)
		check_deadline(&l->sts[i], now);
	/*
	 * The first pass, over the plugins that asked: each one's read that can wait at the
	 * server (PostgreSQL) is sent there and left running, so the server works on all of
	 * them at once; the second pass, over every plugin, collects them in turn.
	 */
	if (l->depth == 0)
		l->scatter = 1;
	for (m = 0; m < k; m++) {
		data = ev[m].data.u64;
		if (data == SIGNAL_EVENT) {
			if (*l->signo == 0 && (*l->signo = read_signal(l->sigfd)) != 0)
				stop_all(l->sts, l->started, *l->signo);
			else
				read_signal(l->sigfd);
			continue;
		}
		if (data / NSLOTS < l->started && !l->sts[data / NSLOTS].finished)
			handle(&l->sts[data / NSLOTS], (enum slot)(data % NSLOTS), ev[m].events);
	}
	if (l->depth == 0)
		l->scatter = 0;
	now = sv_now_ns();
	for (i = 0; i < l->started; i++) {
		st = &l->sts[i];
		asking += !st->finished && now - st->asked_ns < ASKING_WINDOW_NS;
		if (st->finished || st->running)
			continue;
		if (st->backlog && !st->stalled)
			serve_backlog(st);
		l->busy |= st->busy;
		st->busy = 0;
		if (drained(st, now)) {
			l->statuses[i] = finish(st);
			l->live--;
		} else {
			sync_watch(st);
		}
	}
	l->crowded = asking > (size_t)l->cpus;
}

int
sv_supervise(size_t n, sv_start_fn *start, void *arg, struct sv_child *c,
	     struct sv_supervision *s, int *statuses, int *signo)
{
	struct loop l = {.n = n, .statuses = statuses, .signo = signo, .epfd = -1, .sigfd = -1,
			 .spin = {.on = sv_spin_pays()}, .cpus = sv_cpu_count(), .start = start, .start_arg = arg,
			 .children = c, .sups = s};
	sigset_t set, old;
	int r = -1;

	*signo = 0;
	for (size_t i = 0; i < n; i++)
		statuses[i] = SV_EXIT_FAILURE;
	stop_signals(&set);
	sigprocmask(SIG_BLOCK, &set, &old);
	if ((l.sts = calloc(n, sizeof(*l.sts))) == NULL ||
	    (l.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (l.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
	    epoll_ctl(l.epfd, EPOLL_CTL_ADD, l.sigfd,
		      &(struct epoll_event){.events = EPOLLIN, .data.u64 = SIGNAL_EVENT}) < 0) {
		sv_warn("cannot set up the broker's event loop: %s", strerror(errno));
		goto out;
	}
	while (l.started < l.n || l.live > 0) {
		run_turn(&l, 1);
		/* Told to stop before all were started: the rest never start. */
		if (*signo != 0)
			l.n = l.started;
	}
	r = 0;
out:
	free(l.sts);
	sv_closep(&l.sigfd);
	sv_closep(&l.epfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}
