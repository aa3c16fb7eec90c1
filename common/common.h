/*
 * common.h - helpers every svrun module shares: exit statuses, dying in setup code,
 * logging, full reads and writes, and descriptors that close themselves.
 */
#ifndef SV_COMMON_H
#define SV_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/*
 * svrun's exit statuses. 0..125 belong to the plugin (its sv_plugin_main() return
 * value); everything svrun says itself lies above, so the two never mix.
 */
#define SV_EXIT_PLUGIN_MAX 125	/* a plugin return value outside 0..125 becomes this */
#define SV_EXIT_FAILURE 126	/* svrun failed: usage, database, sandbox set-up */
#define SV_EXIT_LOAD 127	/* the plugin could not be loaded (dlopen, sv_plugin_main) */
#define SV_EXIT_VIOLATION 128	/* the plugin made a syscall its policy denies */
#define SV_EXIT_DEADLINE 129	/* the deadline passed; the plugin was killed */
#define SV_EXIT_PROTOCOL 130	/* the plugin broke the channel protocol or a limit */
#define SV_EXIT_CRASH 131	/* the plugin died of a signal of its own (SIGSEGV, ...) */

/* Room for a tag of sv_print_tagged(): a plugin id and a word before it. */
#define SV_TAG_MAX 96

/* The descriptor number of the broker channel inside the sandboxed child. */
#define SV_CHANNEL_FD 3

/*
 * The uid and gid of nobody on Debian: what a sandbox started by root runs as. The
 * broker maps exactly this id into the sandbox's user namespace, beside inside root.
 */
#define SV_NOBODY_ID 65534

/*
 * The first byte on the channel, from the broker: the plugin may be loaded. The broker
 * opens the plugin's session while the sandbox sets itself up, and sends it only then.
 */
#define SV_RELEASE_BYTE 'R'

/*
 * A run of several plugins forks their sandboxes from one zygote, `svrun-sandbox
 * --zygote`: a fresh image of the helper, executed before any plugin, that holds no
 * broker memory and shares its relocated libraries with every sandbox it forks
 * (runner/spawn.c, sandbox/zygote.c). The broker asks on a SOCK_SEQPACKET socket, one
 * message a sandbox: struct sv_zygote_request, then SV_ZYGOTE_ARGS NUL-terminated
 * strings (CPU seconds, address space, descriptor limit, allowed-missing layers, mode,
 * plugin path, plugin id), with the sandbox's channel, stdout, stderr and go pipe
 * attached in that order. The zygote answers each with one struct sv_zygote_answer.
 */
/*
 * The namespaces every sandbox is created in unless the operator allowed them to be
 * missing (the user of this needs <sched.h> or <linux/sched.h> for the flags).
 */
#define SV_NS_FLAGS                                                                        \
	(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS)

#define SV_ZYGOTE_MAGIC 0x315a5653u	/* "SVZ1" */
#define SV_ZYGOTE_ARGS 7
#define SV_ZYGOTE_FDS 4
#define SV_ZYGOTE_REQUEST_MAX 8192
#define SV_ZYGOTE_NS_OPTIONAL 1u	/* flags: fall back to no namespaces, as allowed */

struct sv_zygote_request {
	uint32_t magic;
	uint32_t flags;
};

struct sv_zygote_answer {
	int32_t pid;	/* the sandbox, a child of the broker; or -errno */
	int32_t ns;	/* 1: in new namespaces; 0: without, as the flags allowed */
	int32_t error;	/* errno of the namespaces' refusal, when ns is 0 */
};

/*
 * The shortest time each side of the channel polls for the other's next frame before it
 * sleeps (struct sv_spin sizes it to the answers seen). An answer usually comes within a
 * few microseconds, while waking a sleeping process on another CPU costs tens of them on
 * a VM; past the spin, waiting blocks and costs no CPU.
 */
#define SV_SPIN_NS 50000u

#define SV_NORETURN __attribute__((noreturn))
#define SV_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Stays on in release builds: a broken invariant in a sandbox tool must not continue. */
#define SV_ASSERT(x)                                                                       \
	do {                                                                               \
		if (!(x))                                                                  \
			sv_die("assertion failed at %s:%d: %s", __FILE__, __LINE__, #x);   \
	} while (0)

/* Program name used as the prefix of every message ("svrun" unless set). */
void sv_set_progname(const char *name);
const char *sv_progname(void);

/* Prints "<prog>: <message>" on stderr. */
void sv_warn(const char *fmt, ...) SV_PRINTF(1, 2);
void sv_vwarn(const char *fmt, va_list ap) SV_PRINTF(1, 0);

/* Prints the message and exits with SV_EXIT_FAILURE; for set-up code only. */
SV_NORETURN void sv_die(const char *fmt, ...) SV_PRINTF(1, 2);

/* Same as sv_die(), with ": strerror(errno)" appended. */
SV_NORETURN void sv_pdie(const char *fmt, ...) SV_PRINTF(1, 2);

/* Same as sv_die() with a chosen exit status. */
SV_NORETURN void sv_die_status(int status, const char *fmt, ...) SV_PRINTF(2, 3);

/* Writes exactly @len bytes, retrying on EINTR and short writes. Returns 0 or -errno. */
int sv_write_full(int fd, const void *buf, size_t len);

/*
 * Sends @len bytes of @buf on socket @sock in one sendmsg() with the @nfds descriptors
 * of @fds attached (SCM_RIGHTS, at most SV_FDS_MAX), with @flags. Returns what sendmsg()
 * returns, errno set on -1 (EINVAL for too many descriptors).
 */
ssize_t sv_send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds,
			 int flags);
#define SV_FDS_MAX 4

/*
 * Takes the descriptors that came with received message @msg (every SCM_RIGHTS part):
 * the first @max into @fds, closing any past them. Returns how many are in @fds.
 */
size_t sv_take_fds(struct msghdr *msg, int *fds, size_t max);

/* sv_send_with_fds() with the one descriptor @fd. */
ssize_t sv_send_with_fd(int sock, const void *buf, size_t len, int fd, int flags);

/* Closes *@fdp if it is open; for the sv_autoclose attribute. */
void sv_closep(int *fdp);

/* An fd closed when it goes out of scope, unless taken with sv_steal_fd(). */
#define sv_autoclose __attribute__((cleanup(sv_closep)))

/* Returns *@fdp and leaves -1 behind, so the cleanup does not close it. */
static inline int
sv_steal_fd(int *fdp)
{
	int fd = *fdp;

	*fdp = -1;
	return fd;
}

/* Copies @src into @dst of @size bytes, always terminated; returns -ENAMETOOLONG if cut. */
int sv_strlcpy(char *dst, const char *src, size_t size);

/* Formats into @dst of @size bytes; returns -ENAMETOOLONG if the text was cut. */
int sv_snprintf(char *dst, size_t size, const char *fmt, ...) SV_PRINTF(3, 4);

/*
 * Finds the shipped file @rel ("libexec/svrun/svrun-sandbox", ...) beside the running
 * program (the build tree and the install share one layout), else at @fallback. Returns
 * 0 with the path in @out, or -ENOENT (with @fallback in @out) or -ENAMETOOLONG.
 */
int sv_find_installed(const char *rel, const char *fallback, char *out, size_t len);

/*
 * Parses a decimal number in [@min, @max] from the whole of @s. Returns 0 or -EINVAL
 * (not a number, trailing text) or -ERANGE.
 */
int sv_parse_long(const char *s, long min, long max, long *out);

/*
 * Writes @len bytes of text from plugin @id to @fd as one line "[id] text", with every
 * control character (bar tab) shown as \xNN: plugin output is hostile and must not
 * drive the operator's terminal. Returns 0 or -errno.
 */
int sv_print_tagged(int fd, const char *id, const char *text, size_t len);

/*
 * Writes @v in the shortest of %.15g, %.16g and %.17g that reads back as exactly @v
 * ("0.1", not "0.10000000000000001"); returns the length.
 */
size_t sv_format_double(char buf[32], double v);

/* The current CLOCK_MONOTONIC time in nanoseconds: the clock every deadline is in. */
uint64_t sv_now_ns(void);

/* The CPUs this process may run on (1 when that cannot be told). */
int sv_cpu_count(void);

/*
 * Whether spinning for the peer (SV_SPIN_NS) can pay: only when this process may run on
 * more than one CPU. On one CPU a spinner only delays the peer it waits for.
 */
int sv_spin_pays(void);

/*
 * Whether spinning for an answer of process @peer (0: one this process cannot see, such
 * as a server over TCP) can pay: some CPU can run the peer while this process spins,
 * either because this process may run on more than one, or because the peer may run on
 * one this process may not. A peer it cannot see counts as able to run anywhere.
 */
int sv_spin_pays_for(pid_t peer);

/*
 * Spinning sized to the peer: each side keeps a running average of how long its recent
 * waits for the peer took, spun or slept, and spins for twice that, at least SV_SPIN_NS.
 * When twice the average is above SV_SPIN_MAX_NS (a broker busy with many plugins, a
 * slow server) it does not spin at all, so spinners never take the CPU the peer needs;
 * waits that sleep still count, so the spin comes back once answers are quick again.
 * Start from {.on = ...}.
 */
struct sv_spin {
	int on;			/* spinning can pay at all (sv_spin_pays, sv_spin_pays_for) */
	int crowded;		/* the peer asked for the CPUs: no spin until it says otherwise */
	uint64_t avg_ns;	/* running average of the recent waits */
};
#define SV_SPIN_MAX_NS 200000u
/* One long wait counts as at most this, so a rare slow answer does not stop the spin. */
#define SV_SPIN_SAMPLE_MAX_NS (2 * SV_SPIN_MAX_NS)
/* The newest wait weighs 1/SV_SPIN_WEIGHT in the average. */
#define SV_SPIN_WEIGHT 8

/* How long the coming wait should spin before it sleeps, in nanoseconds; 0 for not at all. */
uint64_t sv_spin_budget(const struct sv_spin *s);

/* Records that a wait for the peer took @waited_ns from its start to the peer's bytes. */
void sv_spin_record(struct sv_spin *s, uint64_t waited_ns);

#endif
