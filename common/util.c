/*
 * util.c - the few helpers every module needs: messages that name the program, dying
 * in set-up code, reads and writes that survive signals and short transfers, and the
 * one way a descriptor is passed over a socket.
 */
#include "common/common.h"

#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *progname = "svrun";

void
sv_set_progname(const char *name)
{
	progname = name;
}

const char *
sv_progname(void)
{
	return progname;
}

void
sv_vwarn(const char *fmt, va_list ap)
{
	char line[1024];

	/* One write per message, so lines from several processes never interleave. */
	vsnprintf(line, sizeof(line), fmt, ap);
	dprintf(STDERR_FILENO, "%s: %s\n", progname, line);
}

void
sv_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sv_vwarn(fmt, ap);
	va_end(ap);
}

void
sv_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sv_vwarn(fmt, ap);
	va_end(ap);
	_exit(SV_EXIT_FAILURE);
}

void
sv_die_status(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sv_vwarn(fmt, ap);
	va_end(ap);
	_exit(status);
}

void
sv_pdie(const char *fmt, ...)
{
	char msg[768];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sv_die("%s: %s", msg, strerror(saved));
}

int
sv_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t
sv_send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds,
		 int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * SV_FDS_MAX)];
	} control;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	if (nfds == 0 || nfds > SV_FDS_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&control, 0, sizeof(control));
	msg.msg_control = control.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	return sendmsg(sock, &msg, flags);
}

size_t
sv_take_fds(struct msghdr *msg, int *fds, size_t max)
{
	struct cmsghdr *c;
	size_t i, n, kept = 0;
	int fd;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (kept < max)
				fds[kept++] = fd;
			else
				close(fd);
		}
	}
	return kept;
}

ssize_t
sv_send_with_fd(int sock, const void *buf, size_t len, int fd, int flags)
{
	return sv_send_with_fds(sock, buf, len, &fd, 1, flags);
}

void
sv_closep(int *fdp)
{
	int saved = errno;

	if (*fdp >= 0)
		close(*fdp);
	*fdp = -1;
	errno = saved;
}

int
sv_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return -ENAMETOOLONG;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int
sv_snprintf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int
sv_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	*out = 0;
	if (*s == '\0')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
sv_print_tagged(int fd, const char *id, const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;
	char *line, *p;
	size_t i, size;
	int r;

	/* "[" id "] " text "\n", each byte of text at most four bytes once escaped. */
	size = strlen(id) + 4 + 4 * len + 1;
	if ((line = malloc(size)) == NULL)
		return -ENOMEM;
	p = line;
	*p++ = '[';
	memcpy(p, id, strlen(id));
	p += strlen(id);
	*p++ = ']';
	*p++ = ' ';
	for (i = 0; i < len; i++) {
		c = (unsigned char)text[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*p++ = '\\';
			*p++ = 'x';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		} else {
			*p++ = (char)c;
		}
	}
	*p++ = '\n';
	r = sv_write_full(fd, line, (size_t)(p - line));
	free(line);
	return r;
}

uint64_t
sv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
sv_cpu_count(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	return CPU_COUNT(&set);
}

int
sv_spin_pays(void)
{
	return sv_cpu_count() > 1;
}

int
sv_spin_pays_for(pid_t peer)
{
	cpu_set_t ours, theirs, both;

	if (sched_getaffinity(0, sizeof(ours), &ours) < 0)
		return 0;
	if (CPU_COUNT(&ours) > 1)
		return 1;
	if (peer <= 0 || sched_getaffinity(peer, sizeof(theirs), &theirs) < 0)
		return sysconf(_SC_NPROCESSORS_ONLN) > 1;
	CPU_OR(&both, &ours, &theirs);
	return CPU_COUNT(&both) > 1;
}

uint64_t
sv_spin_budget(const struct sv_spin *s)
{
	uint64_t twice = 2 * s->avg_ns;

	if (!s->on || s->crowded || twice > SV_SPIN_MAX_NS)
		return 0;
	return twice < SV_SPIN_NS ? SV_SPIN_NS : twice;
}

void
sv_spin_record(struct sv_spin *s, uint64_t waited_ns)
{
	uint64_t sample = waited_ns < SV_SPIN_SAMPLE_MAX_NS ? waited_ns : SV_SPIN_SAMPLE_MAX_NS;

	s->avg_ns = s->avg_ns - s->avg_ns / SV_SPIN_WEIGHT + sample / SV_SPIN_WEIGHT;
}

size_t
sv_format_double(char buf[32], double v)
{
	int n = 0;

	for (int digits = 15; digits <= 17; digits++) {
		n = snprintf(buf, 32, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return n > 0 ? (size_t)n : 0;
}

int
sv_find_installed(const char *rel, const char *fallback, char *out, size_t len)
{
	char exe[4096], guess[4096], *slash;
	ssize_t n;

	/* svrun's own directory first: the build tree and the install share one layout. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			/* Resolved, so messages name the file as a person would find it. */
			if (sv_snprintf(guess, sizeof(guess), "%s/../%s", exe, rel) == 0 &&
			    realpath(guess, exe) != NULL && sv_strlcpy(out, exe, len) == 0 &&
			    access(out, R_OK) == 0)
				return 0;
		}
	}
	if (sv_strlcpy(out, fallback, len) < 0)
		return -ENAMETOOLONG;
	return access(out, R_OK) == 0 ? 0 : -ENOENT;
}
