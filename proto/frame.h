/*
 * frame.h - length-framed protobuf messages on the plugin channel.
 *
 * A frame is a 4-byte big-endian payload length followed by the payload, a packed
 * protobuf-c message. This is the only code that turns bytes from a plugin into
 * messages. The broker side reads with struct sv_framer, which never allocates more
 * than the bytes that have actually arrived (plus one read's worth), whatever length a
 * header claims; the child side, whose peer is the broker, uses sv_frame_recv().
 */
#ifndef SV_FRAME_H
#define SV_FRAME_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sovereign.pb-c.h"

/* Largest payload in either direction; a header claiming more ends the session. */
#define SV_FRAME_MAX (4u << 20)
#define SV_FRAME_HEADER 4u

/*
 * Packs @msg into a frame and writes it whole to @fd. Returns 0, -EMSGSIZE when the
 * packed message exceeds SV_FRAME_MAX, -ENOMEM, or -errno from write.
 */
int sv_frame_send(int fd, const ProtobufCMessage *msg);

/*
 * Reads one whole frame from @fd (blocking). Returns 0 with a malloc'd payload in *@out
 * and its length in *@len, -EPIPE at end of file, -EMSGSIZE for a header over
 * SV_FRAME_MAX, or -errno.
 */
int sv_frame_recv(int fd, uint8_t **out, size_t *len);

/* Incremental frame reassembly for bytes from a hostile peer. */
struct sv_framer {
	uint8_t *buf;
	size_t len;	/* bytes held */
	size_t cap;	/* bytes allocated */
	size_t done;	/* size of the frame last returned, dropped on the next call */
	size_t max;	/* largest payload accepted, at most SV_FRAME_MAX */
};

/* How much a framer grows at once; it never grows further ahead of the data. */
#define SV_FRAMER_CHUNK (64u << 10)
/* The least a framer asks to read at once, so small frames come in few reads. */
#define SV_FRAMER_MIN_READ 4096u

/* Starts an empty framer that accepts payloads of up to SV_FRAME_MAX bytes. */
void sv_framer_init(struct sv_framer *f);
void sv_framer_release(struct sv_framer *f);

/*
 * Makes room for the next read and returns where to put it in *@dst and how much fits
 * in *@room. The buffer grows by what the front frame still needs, at most
 * SV_FRAMER_CHUNK and at least SV_FRAMER_MIN_READ, never by what a header claims.
 * Returns 0, -ENOMEM, or -EMSGSIZE when the buffered header already exceeds f->max.
 */
int sv_framer_reserve(struct sv_framer *f, uint8_t **dst, size_t *room);

/* Records that @n bytes were read into the space sv_framer_reserve() gave. */
void sv_framer_commit(struct sv_framer *f, size_t n);

/*
 * Returns 1 with the next whole frame's payload in *@payload / *@len (valid until the
 * next call on @f), 0 when more bytes are needed, -EMSGSIZE for a header over f->max. Each frame returned is dropped from @f by the following call.
 */
int sv_framer_next(struct sv_framer *f, const uint8_t **payload, size_t *len);

/* Bytes held that do not yet form a whole frame (a truncated frame at end of file). */
size_t sv_framer_pending(const struct sv_framer *f);

#endif
