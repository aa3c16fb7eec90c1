/*
 * main.c - svrun-sandbox, the fresh program image each plugin runs in.
 *
 * The broker forks and executes this program, so the plugin's address space never
 * holds broker memory: no credentials, no database pages, no connection. It confines
 * itself step by step (sandbox/sandbox.h gives the order), waits for the broker's
 * release, loads the plugin under the load-phase filter so that constructors are
 * already confined, stacks the final filter, hands the broker the filter's notification
 * descriptor and calls sv_plugin_main().
 *
 * Usage (by the broker only): svrun-sandbox CPU_SECONDS AS_BYTES NOFILE ALLOW_MISSING
 * MODE PLUGIN.so, with the channel on descriptor 3; the channel begins with the two
 * seccomp programs the broker compiled from the plugin's policy. MODE says whether the
 * broker created the child in new namespaces, as root ("ns-root") or as a user
 * ("ns-user"), or not ("nons", only when --allow-missing named every namespace). For a
 * run of several plugins the broker starts `svrun-sandbox --zygote` once, and each
 * sandbox begins here as a fork of it, with that command line (sandbox/zygote.c).
 */
#include <dlfcn.h>
#include <errno.h>
#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "proto/frame.h"
#include "sandbox/sandbox.h"
#include "sdk/sdk.h"

typedef int (*plugin_main_fn)(sv_ctx *);

/* Dies unless the channel descriptor is the socket the broker set up. */
static void
check_channel(void)
{
	struct stat st;

	if (fstat(SV_CHANNEL_FD, &st) < 0 || !S_ISSOCK(st.st_mode))
		sv_die("descriptor %d is not the broker channel; run plugins through svrun",
		       SV_CHANNEL_FD);
}

/* Parses a numeric argument of the broker's command line or dies naming it. */
static unsigned long
number_arg(const char *what, const char *s)
{
	long v;

	if (sv_parse_long(s, 1, LONG_MAX, &v) < 0)
		sv_die("invalid %s: %s", what, s);
	return (unsigned long)v;
}

/*
 * Whether Landlock will be used: it must be, unless the kernel lacks it and the operator
 * named it in --allow-missing (@allow_missing), which is then logged.
 */
static int
check_landlock(const char *allow_missing)
{
	int abi = sv_sandbox_landlock_abi();
	const char *p;

	if (abi > 0)
		return 1;
	for (p = allow_missing; (p = strstr(p, "landlock")) != NULL; p++)
		if ((p == allow_missing || p[-1] == ',') && (p[8] == ',' || p[8] == '\0')) {
			sv_warn("running without Landlock (%s): asked by --allow-missing",
				strerror(-abi));
			return 0;
		}
	sv_die("Landlock is not available (%s); run svrun doctor, or pass "
	       "--allow-missing=landlock to run without it",
	       strerror(-abi));
}

/*
 * In "ns-user" mode nothing switches ids later, so make sure inside root is not the
 * host's root: the broker must have mapped it to the unprivileged user who started it.
 */
static void
refuse_host_root(void)
{
	unsigned int inside, outside, count;
	FILE *f = fopen("/proc/self/uid_map", "re");

	if (f == NULL)
		sv_pdie("open /proc/self/uid_map");
	while (fscanf(f, "%u %u %u", &inside, &outside, &count) == 3)
		if (outside == 0)
			sv_die("uid 0 of the host is mapped into the sandbox; refusing to run");
	fclose(f);
}

/*
 * Sets the parent-death signal again: a change of uid or gid clears it (prctl(2)). A
 * broker that died before this is seen on the channel, whose other end is then closed.
 */
static void
rearm_parent_death(void)
{
	struct pollfd p = {.fd = SV_CHANNEL_FD, .events = POLLIN};

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		sv_pdie("prctl(PR_SET_PDEATHSIG)");
	if (poll(&p, 1, 0) < 0)
		sv_pdie("poll on the broker channel");
	if (p.revents & (POLLHUP | POLLERR))
		sv_die("the broker is gone");
}

/*
 * Waits until the broker lets the plugin load (SV_RELEASE_BYTE): it opens the plugin's
 * session meanwhile. End of file means it will not (it kills this process) or is gone.
 */
static void
wait_for_release(void)
{
	ssize_t n;
	char byte;

	while ((n = read(SV_CHANNEL_FD, &byte, 1)) < 0 && errno == EINTR)
		;
	if (n == 0)
		exit(SV_EXIT_FAILURE);
	if (n < 0)
		sv_pdie("read from the broker channel");
	if (byte != SV_RELEASE_BYTE)
		sv_die("the broker channel began with 0x%02x, not the release", (unsigned char)byte);
}

/*
 * How often the handshake is tried while the kernel refuses it with ETOOMANYREFS. The
 * descriptors in flight are counted per user against the sender's RLIMIT_NOFILE (16
 * here), so plugins of one uid set up together, faster than the broker takes their
 * handshakes, can fill it for a moment. Nothing may sleep now (the final filter is the
 * policy alone), so the retry spins: a failed try costs about 1.5 us here, so this
 * bound is some six seconds of CPU, long past any broker that is still reading.
 */
#define HELLO_TRIES 4000000

/* Sends the handshake, with the seccomp notification descriptor attached. */
static void
send_hello(int notify_fd)
{
	Sovereign__ChildMessage m = SOVEREIGN__CHILD_MESSAGE__INIT;
	Sovereign__Hello h = SOVEREIGN__HELLO__INIT;
	uint8_t frame[64];
	uint32_t be;
	ssize_t sent;
	size_t size, len;
	long tries;

	h.abi_version = SV_PLUGIN_ABI_VERSION;
	m.body_case = SOVEREIGN__CHILD_MESSAGE__BODY_HELLO;
	m.hello = &h;
	size = protobuf_c_message_get_packed_size(&m.base);
	SV_ASSERT(size <= sizeof(frame) - SV_FRAME_HEADER);
	be = htobe32((uint32_t)size);
	memcpy(frame, &be, SV_FRAME_HEADER);
	protobuf_c_message_pack(&m.base, frame + SV_FRAME_HEADER);

	/* The descriptor rides on the frame's bytes; the broker takes it from there. */
	len = SV_FRAME_HEADER + size;
	for (tries = 1;; tries++) {
		sent = sv_send_with_fd(SV_CHANNEL_FD, frame, len, notify_fd, MSG_NOSIGNAL);
		if (sent >= 0)
			break;
		if (errno == EINTR || (errno == ETOOMANYREFS && tries < HELLO_TRIES))
			continue;
		if (errno == ETOOMANYREFS)
			sv_die("cannot send the handshake to the broker: %d tries over, the "
			       "descriptors in flight of this uid stayed above RLIMIT_NOFILE",
			       HELLO_TRIES);
		sv_pdie("cannot send the handshake to the broker");
	}
	if (sent != (ssize_t)len)
		sv_die("the handshake went out cut short: %zd of %zu bytes", sent, len);
}

/* How far below its caller release_setup_stack() looks: deeper than the set-up goes. */
#define SETUP_STACK_BYTES (256 * 1024)

/*
 * Hands back the stack pages the set-up (the loader, the mounts) used below this frame,
 * which every idle plugin would keep: they come back zeroed when the plugin needs them.
 * A page of margin stays for this call. madvise() skips what is not mapped and says
 * ENOMEM; below the stack there is only the kernel's guard gap, so that is no failure.
 */
static __attribute__((noinline)) void
release_setup_stack(void)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t below = ((uintptr_t)__builtin_frame_address(0) & ~(page - 1)) - page;

	madvise((void *)(below - SETUP_STACK_BYTES), SETUP_STACK_BYTES, MADV_DONTNEED);
}

/* sv_sandbox_main_fn: confines this process, loads the plugin and runs it. */
static SV_NORETURN void
run_sandbox(int argc, char **argv)
{
	char procpath[64];
	struct sv_limits lim;
	plugin_main_fn plugin_main;
	void *filters, *handle;
	int so_fd, notify_fd, in_ns, use_landlock, spin;
	uid_t nobody_uid;
	gid_t nobody_gid;
	const char *plugin;

	if (argc != 7)
		sv_die("usage: svrun-sandbox CPU_SECONDS AS_BYTES NOFILE ALLOW_MISSING MODE "
		       "PLUGIN.so (started by svrun only)");
	in_ns = strcmp(argv[5], "nons") != 0;
	plugin = argv[6];
	check_channel();
	/* Asked now: the final filter does not allow sched_getaffinity. */
	spin = sv_spin_pays();
	sv_sandbox_keep_fds(SV_CHANNEL_FD);
	/* A plugin never outlives its broker; set before anything can block. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		sv_pdie("prctl(PR_SET_PDEATHSIG)");

	sv_sandbox_default_limits(&lim);
	lim.cpu_seconds = number_arg("CPU seconds", argv[1]);
	lim.address_space = number_arg("address space", argv[2]);
	lim.open_files = number_arg("descriptor limit", argv[3]);

	/*
	 * Open the plugin while we still have our original user, so a plugin readable by
	 * the operator only still loads after the switch to nobody; dlopen() then goes
	 * through /proc/self/fd.
	 */
	if ((so_fd = open(plugin, O_RDONLY | O_CLOEXEC)) < 0)
		sv_die_status(SV_EXIT_LOAD, "cannot open plugin %s: %s", plugin, strerror(errno));
	if (sv_snprintf(procpath, sizeof(procpath), "/proc/self/fd/%d", so_fd) < 0)
		sv_die("plugin descriptor path too long");
	if (strcmp(argv[5], "ns-user") == 0)
		refuse_host_root();
	/* In its own namespaces the plugin sees a root with the loader's files and itself. */
	if (in_ns) {
		sv_sandbox_enter_root(procpath);
		sv_strlcpy(procpath, SV_SANDBOX_PLUGIN_PATH, sizeof(procpath));
	}
	use_landlock = check_landlock(argv[4]);

	sv_sandbox_limit(&lim);
	sv_sandbox_no_new_privs();
	/* A user's sandbox is that user outside already: inside ids are all it may use. */
	if (strcmp(argv[5], "ns-user") != 0) {
		/* In our namespace nobody is the id the broker mapped, no name to look up. */
		nobody_uid = nobody_gid = SV_NOBODY_ID;
		if (!in_ns)
			sv_sandbox_lookup_nobody(&nobody_uid, &nobody_gid);
		sv_sandbox_drop_user(nobody_uid, nobody_gid);
	}
	sv_sandbox_drop_caps();
	rearm_parent_death();
	/* Nobody may ptrace us or read our memory, whatever uid shares ours. */
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		sv_pdie("prctl(PR_SET_DUMPABLE)");
	if (use_landlock)
		sv_sandbox_landlock(1);
	/* Read last: the broker compiles them while the set-up above runs. */
	filters = sv_sandbox_read_filters(SV_CHANNEL_FD);
	sv_sandbox_load_phase(filters);
	wait_for_release();

	/* From here on, the plugin's constructors run: everything above is in place. */
	if ((handle = dlopen(procpath, RTLD_NOW | RTLD_LOCAL)) == NULL)
		sv_die_status(SV_EXIT_LOAD, "cannot load plugin %s: %s", plugin, dlerror());
	plugin_main = (plugin_main_fn)dlsym(handle, "sv_plugin_main");
	if (plugin_main == NULL)
		sv_die_status(SV_EXIT_LOAD, "plugin %s does not define sv_plugin_main", plugin);
	close(so_fd);

	/* Loaded: from now on no file at all, whatever the seccomp policy says. */
	if (use_landlock)
		sv_sandbox_landlock(0);
	notify_fd = sv_sandbox_final(filters);
	send_hello(notify_fd);
	close(notify_fd);
	/*
	 * Every idle plugin would keep the pages the set-up's heap grew to: hand them back
	 * (brk and madvise(MADV_DONTNEED), both in groups/memory.policy) before the plugin
	 * runs, and the stack the set-up used.
	 */
	malloc_trim(0);
	release_setup_stack();

	exit(plugin_main(sv_sdk_context(SV_CHANNEL_FD, spin)));
}

int
main(int argc, char **argv)
{
	sv_set_progname("svrun-sandbox");
	if (argc == 2 && strcmp(argv[1], "--zygote") == 0)
		sv_zygote_serve(run_sandbox);
	run_sandbox(argc, argv);
}
