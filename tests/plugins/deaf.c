/*
 * deaf.c - writes requests on the channel around the SDK, as fast as it can, and never
 * reads an answer: the broker's answers pile up until it stops serving this plugin, and
 * this plugin's writes then block until its deadline (its manifest: 8 s). Beside it,
 * other plugins must still be served (tests/integ/test_many.c).
 */
#include <unistd.h>

#include <sovereign/plugin.h>

#define CHANNEL_FD 3

int
sv_plugin_main(sv_ctx *ctx)
{
	/* One frame: length 14, then ChildMessage{id: 1, query: {sql: "SELECT 1"}}. */
	static const unsigned char frame[] = {
		0, 0, 0, 14, 0x08, 0x01, 0x1a, 0x0a, 0x0a, 0x08,
		'S', 'E', 'L', 'E', 'C', 'T', ' ', '1',
	};

	sv_log(ctx, "deaf from now on");
	for (;;)
		if (write(CHANNEL_FD, frame, sizeof(frame)) != (ssize_t)sizeof(frame))
			return 1;
}
