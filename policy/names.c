/*
 * names.c - the names a policy may use and the words a violation report is written in.
 *
 * Constants come from the system headers ({"PROT_EXEC", PROT_EXEC}), never retyped, so a
 * policy means what the kernel means. The same tables decode the arguments of a denied
 * call back into names for the report. Syscall numbers come from libseccomp only.
 */
#include "policy/internal.h"

#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct name {
	const char *name;
	int64_t value;
};

#define C(x) { #x, (int64_t)(x) }
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct name prot[] = {
	C(PROT_NONE), C(PROT_READ), C(PROT_WRITE), C(PROT_EXEC), C(PROT_GROWSDOWN),
	C(PROT_GROWSUP),
};

static const struct name map[] = {
	C(MAP_SHARED_VALIDATE), C(MAP_SHARED), C(MAP_PRIVATE), C(MAP_FIXED_NOREPLACE),
	C(MAP_FIXED), C(MAP_ANONYMOUS), C(MAP_ANON), C(MAP_32BIT), C(MAP_GROWSDOWN),
	C(MAP_DENYWRITE), C(MAP_EXECUTABLE), C(MAP_LOCKED), C(MAP_NORESERVE), C(MAP_POPULATE),
	C(MAP_NONBLOCK), C(MAP_STACK), C(MAP_HUGETLB), C(MAP_SYNC),
};

/* Several-bit flags come before the single bits they contain, so decoding names them. */
static const struct name oflags[] = {
	C(O_TMPFILE), C(O_SYNC), C(O_RSYNC), C(O_ACCMODE), C(O_CREAT), C(O_EXCL), C(O_NOCTTY),
	C(O_TRUNC), C(O_APPEND), C(O_NONBLOCK), C(O_NDELAY), C(O_DSYNC), C(O_ASYNC), C(O_DIRECT),
	C(O_LARGEFILE), C(O_DIRECTORY), C(O_NOFOLLOW), C(O_NOATIME), C(O_CLOEXEC), C(O_PATH),
};

/* The access mode is a two-bit number, not a flag: decoded apart. */
static const struct name accmode[] = {
	C(O_RDONLY), C(O_WRONLY), C(O_RDWR),
};

static const struct name af[] = {
	C(AF_UNSPEC), C(AF_UNIX), C(AF_LOCAL), C(AF_INET), C(AF_AX25), C(AF_IPX),
	C(AF_APPLETALK), C(AF_NETROM), C(AF_BRIDGE), C(AF_ATMPVC), C(AF_X25), C(AF_INET6),
	C(AF_ROSE), C(AF_DECnet), C(AF_NETBEUI), C(AF_SECURITY), C(AF_KEY), C(AF_NETLINK),
	C(AF_ROUTE), C(AF_PACKET), C(AF_ASH), C(AF_ECONET), C(AF_ATMSVC), C(AF_RDS), C(AF_SNA),
	C(AF_IRDA), C(AF_PPPOX), C(AF_WANPIPE), C(AF_LLC), C(AF_IB), C(AF_MPLS), C(AF_CAN),
	C(AF_TIPC), C(AF_BLUETOOTH), C(AF_IUCV), C(AF_RXRPC), C(AF_ISDN), C(AF_PHONET),
	C(AF_IEEE802154), C(AF_CAIF), C(AF_ALG), C(AF_NFC), C(AF_VSOCK), C(AF_KCM), C(AF_QIPCRTR),
	C(AF_SMC), C(AF_XDP), C(AF_MCTP),
};

static const struct name sock[] = {
	C(SOCK_STREAM), C(SOCK_DGRAM), C(SOCK_RAW), C(SOCK_RDM), C(SOCK_SEQPACKET), C(SOCK_DCCP),
	C(SOCK_PACKET), C(SOCK_NONBLOCK), C(SOCK_CLOEXEC),
};

static const struct name clone_flags[] = {
	C(CSIGNAL), C(CLONE_VM), C(CLONE_FS), C(CLONE_FILES), C(CLONE_SIGHAND), C(CLONE_PIDFD),
	C(CLONE_PTRACE), C(CLONE_VFORK), C(CLONE_PARENT), C(CLONE_THREAD), C(CLONE_NEWNS),
	C(CLONE_SYSVSEM), C(CLONE_SETTLS), C(CLONE_PARENT_SETTID), C(CLONE_CHILD_CLEARTID),
	C(CLONE_DETACHED), C(CLONE_UNTRACED), C(CLONE_CHILD_SETTID), C(CLONE_NEWCGROUP),
	C(CLONE_NEWUTS), C(CLONE_NEWIPC), C(CLONE_NEWUSER), C(CLONE_NEWPID), C(CLONE_NEWNET),
	C(CLONE_IO), C(CLONE_NEWTIME),
};

static const struct name futex[] = {
	C(FUTEX_WAIT), C(FUTEX_WAKE), C(FUTEX_FD), C(FUTEX_REQUEUE), C(FUTEX_CMP_REQUEUE),
	C(FUTEX_WAKE_OP), C(FUTEX_LOCK_PI), C(FUTEX_UNLOCK_PI), C(FUTEX_TRYLOCK_PI),
	C(FUTEX_WAIT_BITSET), C(FUTEX_WAKE_BITSET), C(FUTEX_WAIT_REQUEUE_PI),
	C(FUTEX_CMP_REQUEUE_PI), C(FUTEX_LOCK_PI2), C(FUTEX_PRIVATE_FLAG),
	C(FUTEX_CLOCK_REALTIME), C(FUTEX_CMD_MASK), C(FUTEX_WAIT_PRIVATE), C(FUTEX_WAKE_PRIVATE),
	C(FUTEX_REQUEUE_PRIVATE), C(FUTEX_CMP_REQUEUE_PRIVATE), C(FUTEX_WAKE_OP_PRIVATE),
	C(FUTEX_LOCK_PI_PRIVATE), C(FUTEX_LOCK_PI2_PRIVATE), C(FUTEX_UNLOCK_PI_PRIVATE),
	C(FUTEX_TRYLOCK_PI_PRIVATE), C(FUTEX_WAIT_BITSET_PRIVATE), C(FUTEX_WAKE_BITSET_PRIVATE),
	C(FUTEX_WAIT_REQUEUE_PI_PRIVATE), C(FUTEX_CMP_REQUEUE_PI_PRIVATE),
};

static const struct name sig[] = {
	C(SIGHUP), C(SIGINT), C(SIGQUIT), C(SIGILL), C(SIGTRAP), C(SIGABRT), C(SIGIOT),
	C(SIGBUS), C(SIGFPE), C(SIGKILL), C(SIGUSR1), C(SIGSEGV), C(SIGUSR2), C(SIGPIPE),
	C(SIGALRM), C(SIGTERM), C(SIGSTKFLT), C(SIGCHLD), C(SIGCONT), C(SIGSTOP), C(SIGTSTP),
	C(SIGTTIN), C(SIGTTOU), C(SIGURG), C(SIGXCPU), C(SIGXFSZ), C(SIGVTALRM), C(SIGPROF),
	C(SIGWINCH), C(SIGIO), C(SIGPOLL), C(SIGPWR), C(SIGSYS),
};

static const struct name sighow[] = {
	C(SIG_BLOCK), C(SIG_UNBLOCK), C(SIG_SETMASK),
};

static const struct name msg_flags[] = {
	C(MSG_OOB), C(MSG_PEEK), C(MSG_DONTROUTE), C(MSG_CTRUNC), C(MSG_TRUNC), C(MSG_DONTWAIT),
	C(MSG_EOR), C(MSG_WAITALL), C(MSG_NOSIGNAL), C(MSG_MORE), C(MSG_ERRQUEUE),
	C(MSG_CMSG_CLOEXEC), C(MSG_ZEROCOPY),
};

static const struct name fcntl_cmd[] = {
	C(F_DUPFD), C(F_GETFD), C(F_SETFD), C(F_GETFL), C(F_SETFL), C(F_GETLK), C(F_SETLK),
	C(F_SETLKW), C(F_SETOWN), C(F_GETOWN), C(F_SETSIG), C(F_GETSIG), C(F_SETOWN_EX),
	C(F_GETOWN_EX), C(F_OFD_GETLK), C(F_OFD_SETLK), C(F_OFD_SETLKW), C(F_SETLEASE),
	C(F_GETLEASE), C(F_NOTIFY), C(F_DUPFD_CLOEXEC), C(F_SETPIPE_SZ), C(F_GETPIPE_SZ),
	C(F_ADD_SEALS), C(F_GET_SEALS), C(F_SEAL_SEAL), C(F_SEAL_SHRINK), C(F_SEAL_GROW),
	C(F_SEAL_WRITE), C(F_SEAL_FUTURE_WRITE), C(FD_CLOEXEC),
};

static const struct name madv[] = {
	C(MADV_NORMAL), C(MADV_RANDOM), C(MADV_SEQUENTIAL), C(MADV_WILLNEED), C(MADV_DONTNEED),
	C(MADV_FREE), C(MADV_REMOVE), C(MADV_DONTFORK), C(MADV_DOFORK), C(MADV_MERGEABLE),
	C(MADV_UNMERGEABLE), C(MADV_HUGEPAGE), C(MADV_NOHUGEPAGE), C(MADV_DONTDUMP),
	C(MADV_DODUMP), C(MADV_WIPEONFORK), C(MADV_KEEPONFORK), C(MADV_COLD), C(MADV_PAGEOUT),
	C(MADV_POPULATE_READ), C(MADV_POPULATE_WRITE), C(MADV_HWPOISON),
};

static const struct name prctl_opt[] = {
	C(PR_SET_PDEATHSIG), C(PR_GET_PDEATHSIG), C(PR_GET_DUMPABLE), C(PR_SET_DUMPABLE),
	C(PR_GET_KEEPCAPS), C(PR_SET_KEEPCAPS), C(PR_SET_NAME), C(PR_GET_NAME),
	C(PR_GET_SECCOMP), C(PR_SET_SECCOMP), C(PR_CAPBSET_READ), C(PR_CAPBSET_DROP),
	C(PR_GET_SECUREBITS), C(PR_SET_SECUREBITS), C(PR_GET_TIMERSLACK), C(PR_SET_TIMERSLACK),
	C(PR_SET_MM), C(PR_SET_PTRACER), C(PR_SET_CHILD_SUBREAPER), C(PR_GET_CHILD_SUBREAPER),
	C(PR_SET_NO_NEW_PRIVS), C(PR_GET_NO_NEW_PRIVS), C(PR_GET_TID_ADDRESS),
	C(PR_SET_THP_DISABLE), C(PR_GET_THP_DISABLE), C(PR_CAP_AMBIENT),
	C(PR_CAP_AMBIENT_IS_SET), C(PR_CAP_AMBIENT_RAISE), C(PR_CAP_AMBIENT_LOWER),
	C(PR_CAP_AMBIENT_CLEAR_ALL), C(PR_SET_VMA),
};

static const struct name clock_id[] = {
	C(CLOCK_REALTIME), C(CLOCK_MONOTONIC), C(CLOCK_PROCESS_CPUTIME_ID),
	C(CLOCK_THREAD_CPUTIME_ID), C(CLOCK_MONOTONIC_RAW), C(CLOCK_REALTIME_COARSE),
	C(CLOCK_MONOTONIC_COARSE), C(CLOCK_BOOTTIME), C(CLOCK_REALTIME_ALARM),
	C(CLOCK_BOOTTIME_ALARM), C(CLOCK_TAI),
};

static const struct name at[] = {
	C(AT_FDCWD), C(AT_SYMLINK_NOFOLLOW), C(AT_REMOVEDIR), C(AT_SYMLINK_FOLLOW),
	C(AT_NO_AUTOMOUNT), C(AT_EMPTY_PATH), C(AT_EACCESS), C(AT_RECURSIVE),
	C(AT_STATX_SYNC_AS_STAT), C(AT_STATX_FORCE_SYNC), C(AT_STATX_DONT_SYNC),
};

static const struct name misc[] = {
	C(SEEK_SET), C(SEEK_CUR), C(SEEK_END), C(GRND_NONBLOCK), C(GRND_RANDOM),
	C(MREMAP_MAYMOVE), C(MREMAP_FIXED), C(MREMAP_DONTUNMAP), C(STDIN_FILENO),
	C(STDOUT_FILENO), C(STDERR_FILENO),
};

static const struct family {
	const struct name *tab;
	size_t n;
} families[] = {
	{ prot, N(prot) }, { map, N(map) }, { oflags, N(oflags) }, { accmode, N(accmode) },
	{ af, N(af) }, { sock, N(sock) }, { clone_flags, N(clone_flags) }, { futex, N(futex) },
	{ sig, N(sig) }, { sighow, N(sighow) }, { msg_flags, N(msg_flags) },
	{ fcntl_cmd, N(fcntl_cmd) }, { madv, N(madv) },
	{ prctl_opt, N(prctl_opt) }, { clock_id, N(clock_id) }, { at, N(at) },
	{ misc, N(misc) },
};

/* The errno names strerrorname_np() does not return, because another name shares the value. */
static const struct name errno_alias[] = {
	C(EWOULDBLOCK), C(EDEADLOCK), C(ENOTSUP),
};

/*
 * Allowing any of these hands the plugin a way out of the sandbox or into the kernel's
 * less travelled code, so a policy must say why on the line that allows one.
 */
static const char *const dangerous[] = {
	"add_key", "bind", "bpf", "chroot", "clone", "clone3", "connect", "creat", "execve",
	"execveat", "fanotify_init", "finit_module", "fork", "fsconfig", "fsmount", "fsopen",
	"fspick", "init_module", "io_uring_enter", "io_uring_register", "io_uring_setup", "ioctl",
	"ioperm", "iopl", "kexec_file_load", "kexec_load", "keyctl", "kill", "memfd_create",
	"memfd_secret", "migrate_pages", "mmap", "modify_ldt", "mount", "mount_setattr",
	"move_mount", "move_pages", "mprotect", "name_to_handle_at", "open", "open_by_handle_at",
	"open_tree", "openat", "openat2", "perf_event_open", "personality", "pidfd_getfd",
	"pidfd_open", "pidfd_send_signal", "pivot_root", "pkey_mprotect", "prctl",
	"process_madvise", "process_vm_readv", "process_vm_writev", "ptrace", "reboot",
	"request_key", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "seccomp", "sendmmsg", "sendmsg",
	"sendto", "setns", "socket", "socketpair", "swapoff", "swapon", "tgkill", "tkill",
	"umount2", "unshare", "userfaultfd", "vfork",
};

/* Policies name constants by the same words as the C headers; this finds them. */
int
sv_policy_constant(const char *name, size_t len, uint64_t *out)
{
	size_t f, i;

	*out = 0;
	for (f = 0; f < N(families); f++) {
		for (i = 0; i < families[f].n; i++) {
			const char *s = families[f].tab[i].name;

			if (strlen(s) == len && memcmp(s, name, len) == 0) {
				*out = (uint64_t)families[f].tab[i].value;
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* "return EPERM" names its errno; glibc knows every name, so no table is retyped here. */
int
sv_policy_errno(const char *name, size_t len)
{
	size_t i;
	int e;

	for (e = 1; e < 4096; e++) {
		const char *s = strerrorname_np(e);

		if (s && strlen(s) == len && memcmp(s, name, len) == 0)
			return e;
	}
	for (i = 0; i < N(errno_alias); i++) {
		const char *s = errno_alias[i].name;

		if (strlen(s) == len && memcmp(s, name, len) == 0)
			return (int)errno_alias[i].value;
	}
	return -ENOENT;
}

/* The lint: an allowed dangerous syscall must carry its reason. */
int
sv_policy_dangerous(const char *name)
{
	size_t i;

	for (i = 0; i < N(dangerous); i++) {
		if (strcmp(dangerous[i], name) == 0)
			return 1;
	}
	return 0;
}

/* A bounded writer, so a report never overflows whatever buffer the caller gave. */
struct out {
	char *buf;
	size_t len;
	size_t pos;
};

static void put(struct out *o, const char *fmt, ...) SV_PRINTF(2, 3);

/* Appends to the report, cutting it at the buffer's end. */
static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->pos + 1 >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->pos += (size_t)n;
	if (o->pos >= o->len)
		o->pos = o->len - 1;
}

/* The first name with exactly value @v, for arguments that are one value, not flags. */
static const char *
lookup(const struct name *tab, size_t n, int64_t v)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (tab[i].value == v)
			return tab[i].name;
	}
	return NULL;
}

/* Names an enumerated argument, or prints it in decimal when it has no name. */
static void
put_enum(struct out *o, const struct name *tab, size_t n, int v)
{
	const char *s = lookup(tab, n, v);

	if (s)
		put(o, "%s", s);
	else
		put(o, "%d", v);
}

/*
 * Names each flag of @v that the table knows, "|"-joined, then any unknown rest in hex.
 * @any says whether something of the same argument was already printed.
 */
static void
put_flags(struct out *o, uint64_t v, const struct name *tab, size_t n, int any)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t f = (uint64_t)tab[i].value;

		if (f == 0 || (v & f) != f)
			continue;
		put(o, "%s%s", any ? "|" : "", tab[i].name);
		v &= ~f;
		any = 1;
	}
	if (v)
		put(o, "%s0x%llx", any ? "|" : "", (unsigned long long)v);
	else if (!any)
		put(o, "0");
}

/* socket(domain, type, protocol): the three words that tell what kind of socket it was. */
static void
put_socket(struct out *o, const uint64_t a[6])
{
	int type = (int)a[1];
	const char *base = lookup(sock, N(sock), type & 0xf);

	put_enum(o, af, N(af), (int)a[0]);
	put(o, ", ");
	if (base)
		put(o, "%s", base);
	else
		put(o, "%d", type & 0xf);
	put_flags(o, (uint64_t)(unsigned int)type & ~0xfULL, sock, N(sock), 1);
	put(o, ", %d", (int)a[2]);
}

/* Open flags, the access mode first as strace writes them; the mode only where it counts. */
static void
put_oflags(struct out *o, uint64_t flags, uint64_t mode)
{
	unsigned int f = (unsigned int)flags;

	put_enum(o, accmode, N(accmode), (int)(f & O_ACCMODE));
	put_flags(o, f & ~(unsigned int)O_ACCMODE, oflags, N(oflags), 1);
	if (f & O_CREAT || (f & O_TMPFILE) == O_TMPFILE)
		put(o, ", 0%o", (unsigned int)mode);
}

/* clone(flags, ...): the low byte is the signal sent to the parent at exit. */
static void
put_clone(struct out *o, const uint64_t a[6])
{
	uint64_t flags = a[0] & ~(uint64_t)CSIGNAL;
	int exit_sig = (int)(a[0] & CSIGNAL);

	put_flags(o, flags, clone_flags, N(clone_flags), 0);
	if (exit_sig) {
		put(o, "|");
		put_enum(o, sig, N(sig), exit_sig);
	}
	put(o, ", ...");
}

/*
 * Arguments are only ever printed as numbers: they come from a hostile process, and a
 * pointer among them is never followed ("..." stands for a path).
 */
void
sv_policy_describe_call(int nr, const uint64_t args[6], char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	char *name;
	const char *s;

	if (len == 0)
		return;
	buf[0] = '\0';
	name = seccomp_syscall_resolve_num_arch(seccomp_arch_native(), nr);
	s = name ? name : "unknown";
	put(&o, "%s(", s);
	if (strcmp(s, "socket") == 0) {
		put_socket(&o, args);
	} else if (strcmp(s, "socketpair") == 0) {
		put_socket(&o, args);
		put(&o, ", ...");
	} else if (strcmp(s, "openat") == 0) {
		if ((int)args[0] == AT_FDCWD)
			put(&o, "AT_FDCWD");
		else
			put(&o, "%d", (int)args[0]);
		put(&o, ", \"...\", ");
		put_oflags(&o, args[2], args[3]);
	} else if (strcmp(s, "open") == 0) {
		put(&o, "\"...\", ");
		put_oflags(&o, args[1], args[2]);
	} else if (strcmp(s, "clone") == 0) {
		put_clone(&o, args);
	} else if (strcmp(s, "kill") == 0 || strcmp(s, "tkill") == 0) {
		put(&o, "%d, ", (int)args[0]);
		put_enum(&o, sig, N(sig), (int)args[1]);
	} else if (strcmp(s, "tgkill") == 0) {
		put(&o, "%d, %d, ", (int)args[0], (int)args[1]);
		put_enum(&o, sig, N(sig), (int)args[2]);
	} else if (strcmp(s, "fork") != 0 && strcmp(s, "vfork") != 0) {
		/* fork() and vfork() take no arguments; everything else shows three. */
		put(&o, "0x%llx, 0x%llx, 0x%llx, ...", (unsigned long long)args[0],
		    (unsigned long long)args[1], (unsigned long long)args[2]);
	}
	put(&o, ") [%d]", nr);
	free(name);
}
