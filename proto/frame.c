/*
 * frame.c - packing and reassembling length-framed messages on the plugin channel.
 *
 * The broker reads plugin bytes through a framer that grows only as bytes arrive, so a
 * header that claims 4 GiB costs nothing until 4 GiB are actually sent, and is refused
 * long before that by SV_FRAME_MAX.
 */
#include "proto/frame.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/common.h"

int
sv_outbox_add(struct sv_outbox *o, const ProtobufCMessage *msg)
{
	size_t size = protobuf_c_message_get_packed_size(msg), cap;
	uint8_t *nb;
	uint32_t be;

	if (size > SV_FRAME_MAX)
		return -EMSGSIZE;
	if (o->cap - o->len < SV_FRAME_HEADER + size) {
		cap = o->len + SV_FRAME_HEADER + size;
		if (cap < 2 * o->cap)
			cap = 2 * o->cap;
		if ((nb = realloc(o->buf, cap)) == NULL)
			return -ENOMEM;
		o->buf = nb;
		o->cap = cap;
	}
	be = htobe32((uint32_t)size);
	memcpy(o->buf + o->len, &be, SV_FRAME_HEADER);
	protobuf_c_message_pack(msg, o->buf + o->len + SV_FRAME_HEADER);
	o->len += SV_FRAME_HEADER + size;
	return 0;
}

int
sv_outbox_flush(struct sv_outbox *o, int fd)
{
	int r;

	if (o->len == 0)
		return 0;
	/* Whole frames in one write: a reader never sees a header alone by design. */
	r = sv_write_full(fd, o->buf, o->len);
	o->len = 0;
	/* One large answer should not pin its memory for the rest of the session. */
	if (o->cap > SV_OUTBOX_KEEP)
		sv_outbox_release(o);
	return r;
}

int
sv_outbox_send(struct sv_outbox *o, int fd)
{
	ssize_t n;

	while (o->len > 0) {
		n = send(fd, o->buf, o->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -errno;
		memmove(o->buf, o->buf + n, o->len - (size_t)n);
		o->len -= (size_t)n;
	}
	if (o->cap > SV_OUTBOX_KEEP)
		sv_outbox_release(o);
	return 0;
}

void
sv_outbox_release(struct sv_outbox *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

int
sv_frame_send(int fd, const ProtobufCMessage *msg)
{
	struct sv_outbox o = {0};
	int r;

	if ((r = sv_outbox_add(&o, msg)) == 0)
		r = sv_outbox_flush(&o, fd);
	sv_outbox_release(&o);
	return r;
}

void
sv_framer_init(struct sv_framer *f)
{
	memset(f, 0, sizeof(*f));
	f->max = SV_FRAME_MAX;
}

void
sv_framer_release(struct sv_framer *f)
{
	size_t max = f->max;

	free(f->buf);
	sv_framer_init(f);
	f->max = max;
}

/*
 * The length the next frame in @f (the one after any frame returned) claims, or 0 while
 * its header is incomplete.
 */
static size_t
claimed(const struct sv_framer *f)
{
	uint32_t be;

	if (f->len - f->done < SV_FRAME_HEADER)
		return 0;
	memcpy(&be, f->buf + f->done, sizeof(be));
	return be32toh(be);
}

/* Bytes the next frame still needs before it is whole (its header, at least). */
static size_t
missing(const struct sv_framer *f)
{
	size_t want, have = f->len - f->done;

	if (have < SV_FRAME_HEADER)
		return SV_FRAME_HEADER - have;
	want = SV_FRAME_HEADER + claimed(f);
	return want > have ? want - have : 0;
}

/* Drops the frame sv_framer_next() returned last, now that its caller is done with it. */
static void
drop_returned(struct sv_framer *f)
{
	if (f->done == 0 || f->held)
		return;
	memmove(f->buf, f->buf + f->done, f->len - f->done);
	f->len -= f->done;
	f->done = 0;
}

int
sv_framer_reserve(struct sv_framer *f, uint8_t **dst, size_t *room)
{
	size_t need, cap;
	uint8_t *nb;

	*dst = NULL;
	*room = 0;
	drop_returned(f);
	if (claimed(f) > f->max)
		return -EMSGSIZE;
	/*
	 * Grow by what the next frame still needs, but never by more than a chunk past
	 * the bytes held: the buffer follows what the peer sends, not what it claims.
	 */
	need = missing(f);
	if (need > SV_FRAMER_CHUNK)
		need = SV_FRAMER_CHUNK;
	if (need < SV_FRAMER_MIN_READ)
		need = SV_FRAMER_MIN_READ;
	if (f->cap - f->len < need) {
		cap = f->len + need;
		if ((nb = realloc(f->buf, cap)) == NULL)
			return -ENOMEM;
		f->buf = nb;
		f->cap = cap;
	}
	*dst = f->buf + f->len;
	*room = f->cap - f->len;
	return 0;
}

void
sv_framer_commit(struct sv_framer *f, size_t n)
{
	SV_ASSERT(n <= f->cap - f->len);
	f->len += n;
}

int
sv_framer_next(struct sv_framer *f, const uint8_t **payload, size_t *len)
{
	size_t n;

	*payload = NULL;
	*len = 0;
	f->held = 0;
	drop_returned(f);
	if (f->len < SV_FRAME_HEADER)
		return 0;
	if ((n = claimed(f)) > f->max)
		return -EMSGSIZE;
	if (f->len < SV_FRAME_HEADER + n)
		return 0;
	*payload = f->buf + SV_FRAME_HEADER;
	*len = n;
	f->done = SV_FRAME_HEADER + n;
	return 1;
}

void
sv_framer_hold(struct sv_framer *f)
{
	f->held = f->done != 0;
}

void
sv_framer_unget(struct sv_framer *f)
{
	SV_ASSERT(f->held);
	f->held = 0;
	f->done = 0;
}

int
sv_framer_more(const struct sv_framer *f)
{
	size_t rest = f->len - f->done;
	uint32_t be;

	if (rest < SV_FRAME_HEADER)
		return 0;
	memcpy(&be, f->buf + f->done, sizeof(be));
	return be32toh(be) <= rest - SV_FRAME_HEADER;
}

int
sv_framer_ahead(const struct sv_framer *f, size_t *pos, const uint8_t **payload, size_t *len)
{
	size_t at = f->done + *pos, n;
	uint32_t be;

	*payload = NULL;
	*len = 0;
	if (f->len - at < SV_FRAME_HEADER)
		return 0;
	memcpy(&be, f->buf + at, sizeof(be));
	n = be32toh(be);
	if (n > f->max || n > f->len - at - SV_FRAME_HEADER)
		return 0;
	*payload = f->buf + at + SV_FRAME_HEADER;
	*len = n;
	*pos += SV_FRAME_HEADER + n;
	return 1;
}

size_t
sv_framer_pending(const struct sv_framer *f)
{
	return f->len - f->done;
}

/*
 * Polls @fd for up to @budget_ns before a blocking read, so a quick answer does not cost
 * the peer a wake-up of this process (policies/README.md: recvfrom).
 */
static void
spin_for_bytes(int fd, uint64_t budget_ns)
{
	uint64_t until = sv_now_ns() + budget_ns;
	char byte;

	do {
		if (recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 || errno != EAGAIN)
			return;
	} while (sv_now_ns() < until);
}

int
sv_frame_read(int fd, struct sv_framer *f, struct sv_spin *spin, const uint8_t **payload,
	      size_t *len)
{
	uint64_t start = 0, budget;
	uint8_t *dst;
	size_t room;
	ssize_t n;
	int k;

	while ((k = sv_framer_next(f, payload, len)) == 0) {
		if ((k = sv_framer_reserve(f, &dst, &room)) < 0)
			return k;
		if (spin) {
			start = sv_now_ns();
			if ((budget = sv_spin_budget(spin)) > 0)
				spin_for_bytes(fd, budget);
		}
		n = read(fd, dst, room);
		if (spin && n > 0)
			sv_spin_record(spin, sv_now_ns() - start);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -EPIPE : -errno;
		sv_framer_commit(f, (size_t)n);
	}
	return k < 0 ? k : 0;
}
