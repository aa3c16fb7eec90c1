/*
 * fuzz_frame.c - the bytes a plugin writes on its channel, fed to the broker's framer in
 * pieces of fuzzer-chosen sizes, each whole frame decoded as a ChildMessage.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sv_framer f;
	const uint8_t *payload;
	Sovereign__ChildMessage *m;
	size_t step, room, n, len;
	uint8_t *dst;
	int k;

	if (size < 1)
		return 0;
	/* The first byte picks how the stream is cut, as reads would cut it. */
	step = (size_t)data[0] + 1;
	data++;
	size--;
	sv_framer_init(&f);
	while (size > 0) {
		if (sv_framer_reserve(&f, &dst, &room) < 0)
			break;
		n = size < step ? size : step;
		n = n < room ? n : room;
		memcpy(dst, data, n);
		sv_framer_commit(&f, n);
		data += n;
		size -= n;
		while ((k = sv_framer_next(&f, &payload, &len)) == 1) {
			m = sovereign__child_message__unpack(NULL, len, payload);
			if (m != NULL)
				sovereign__child_message__free_unpacked(m, NULL);
		}
		if (k < 0)
			break;
	}
	sv_framer_release(&f);
	return 0;
}
