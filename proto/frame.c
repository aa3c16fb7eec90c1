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

#include "common/common.h"

int
sv_frame_send(int fd, const ProtobufCMessage *msg)
{
	size_t size = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = NULL;
	uint32_t be;
	int r;

	if (size > SV_FRAME_MAX) {
		r = -EMSGSIZE;
		goto out;
	}
	if ((buf = malloc(SV_FRAME_HEADER + size)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	be = htobe32((uint32_t)size);
	memcpy(buf, &be, SV_FRAME_HEADER);
	protobuf_c_message_pack(msg, buf + SV_FRAME_HEADER);
	/* One write for header and payload: a reader never sees a header alone by design. */
	r = sv_write_full(fd, buf, SV_FRAME_HEADER + size);
out:
	free(buf);
	return r;
}

int
sv_frame_recv(int fd, uint8_t **out, size_t *len)
{
	uint8_t *buf = NULL;
	uint32_t be;
	size_t n;
	int r;

	*out = NULL;
	*len = 0;
	if ((r = sv_read_full(fd, &be, sizeof(be))) < 0)
		goto out;
	if ((n = be32toh(be)) > SV_FRAME_MAX) {
		r = -EMSGSIZE;
		goto out;
	}
	/* malloc(0) may return NULL; an empty message is a valid frame. */
	if ((buf = malloc(n ? n : 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = sv_read_full(fd, buf, n)) < 0)
		goto out;
	*out = buf;
	*len = n;
	buf = NULL;	/* transferred */
	r = 0;
out:
	free(buf);
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

/* The length the frame at the front of @f claims, or 0 while its header is incomplete. */
static size_t
claimed(const struct sv_framer *f)
{
	uint32_t be;

	if (f->len < SV_FRAME_HEADER)
		return 0;
	memcpy(&be, f->buf, sizeof(be));
	return be32toh(be);
}

/* Bytes the front frame still needs before it is whole (its header, at least). */
static size_t
missing(const struct sv_framer *f)
{
	size_t want;

	if (f->len < SV_FRAME_HEADER)
		return SV_FRAME_HEADER - f->len;
	want = SV_FRAME_HEADER + claimed(f);
	return want > f->len ? want - f->len : 0;
}

/* Drops the frame sv_framer_next() returned last, now that its caller is done with it. */
static void
drop_returned(struct sv_framer *f)
{
	if (f->done == 0)
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
	 * Grow by what the front frame still needs, but never by more than a chunk past
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

size_t
sv_framer_pending(const struct sv_framer *f)
{
	return f->len - f->done;
}
