/*
 * frame.h - length-framed protobuf messages on the plugin channel.
 *
 * A frame is a 4-byte big-endian payload length followed by the payload, a packed
 * protobuf-c message. This is the only code that turns bytes from a plugin into
 * messages. The broker side reads with struct sv_framer, which never allocates more
 * than the bytes that have actually arrived (plus one read's worth), whatever length a
 * header claims; the child side, whose peer is the broker, reads through one too, with
 * sv_frame_read().
 */
#ifndef SV_FRAME_H
#define SV_FRAME_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
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
 * Frames packed back to back and written together, so a run of pipelined requests or
 * answers costs one write, not one each. Start from {0}.
 */
struct sv_outbox {
	uint8_t *buf;
	size_t len;
	size_t cap;
};

/* Bytes an outbox holds before its owner should flush it; a bound on batching. */
#define SV_OUTBOX_FLUSH (64u << 10)
/* Buffer kept across flushes; a larger one (after a large frame) is given back. */
#define SV_OUTBOX_KEEP (256u << 10)

/* Packs @msg as a frame at the end of @o. Returns 0, -EMSGSIZE, or -ENOMEM. */
int sv_outbox_add(struct sv_outbox *o, const ProtobufCMessage *msg);

/* Writes every frame @o holds to @fd and empties it. Returns 0 or -errno from write. */
int sv_outbox_flush(struct sv_outbox *o, int fd);

/*
 * Writes what @o holds to socket @fd without blocking, keeping what does not fit.
 * Returns 0 once empty, -EAGAIN while some remains (the peer is not reading), or -errno.
 */
int sv_outbox_send(struct sv_outbox *o, int fd);

void sv_outbox_release(struct sv_outbox *o);

/* Incremental frame reassembly for bytes from a hostile peer. */
struct sv_framer {
	uint8_t *buf;
	size_t len;	/* bytes held */
	size_t cap;	/* bytes allocated */
	size_t done;	/* size of the frame last returned, dropped on the next call */
	int held;	/* that frame stays through reads too (sv_framer_hold) */
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

/*
 * Keeps the frame sv_framer_next() returned last in @f while more is read into it
 * (sv_framer_reserve() would drop it), so sv_framer_unget() can still give it back; the
 * next sv_framer_next() drops it as usual.
 */
void sv_framer_hold(struct sv_framer *f);

/* Puts the held frame back in front: the next sv_framer_next() returns it again. */
void sv_framer_unget(struct sv_framer *f);

/* Whether another whole frame follows the one sv_framer_next() returned last. */
int sv_framer_more(const struct sv_framer *f);

/*
 * Walks the whole frames held behind the one sv_framer_next() returned last, without
 * taking them: start with *@pos 0; each call returns 1 with the next one's payload in
 * *@payload / *@len and moves *@pos past it, or 0 when no whole frame follows.
 */
int sv_framer_ahead(const struct sv_framer *f, size_t *pos, const uint8_t **payload,
		    size_t *len);

/* Bytes held that do not yet form a whole frame (a truncated frame at end of file). */
size_t sv_framer_pending(const struct sv_framer *f);

/*
 * Reads from @fd (blocking) into @f until it holds a whole frame, and returns it like
 * sv_framer_next(): 0 with *@payload / *@len valid until the next call on @f, -EPIPE at
 * end of file, -EMSGSIZE for a header over f->max, or -errno. With @spin (NULL: never)
 * it first polls for as long as sv_spin_budget() says before each read, and records how
 * long the wait took. One read takes all the peer has sent, so a pipelined run of answers
 * costs one read, not two per frame.
 */
int sv_frame_read(int fd, struct sv_framer *f, struct sv_spin *spin, const uint8_t **payload,
		  size_t *len);

#endif
