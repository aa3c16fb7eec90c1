/*
 * garbage.c - breaks the channel protocol after the handshake, as "mode" in its table
 * plugin_garbage_cfg says: bytes (a frame of non-protobuf bytes), huge (a header
 * claiming 0xffffffff bytes), hello (a second handshake), trunc (half a frame, then
 * exit). svrun must report it (exit 130, or the truncation) and never crash.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sovereign/plugin.h>

#define CHANNEL_FD 3

/* Reads @key of the plugin's cfg table into @buf; returns 0, or -1 if absent. */
static int
cfg(sv_ctx *ctx, const char *key, char *buf, size_t len)
{
	const char *params[] = {key};
	sv_result *r;
	int ret = -1;

	buf[0] = '\0';
	r = sv_query(ctx, "SELECT value FROM plugin_garbage_cfg WHERE key = $1", 1, params);
	if (r != NULL && sv_result_rows(r) == 1 && sv_result_text(r, 0, 0) != NULL) {
		snprintf(buf, len, "%s", sv_result_text(r, 0, 0));
		ret = 0;
	}
	sv_result_free(r);
	return ret;
}

/* Writes raw bytes on the channel, around the SDK. */
static void
raw(const void *bytes, size_t len)
{
	if (write(CHANNEL_FD, bytes, len) != (ssize_t)len)
		_exit(4);
}

/* Sends the garbage, then waits for the broker's reaction (a kill) on the channel. */
int
sv_plugin_main(sv_ctx *ctx)
{
	static const unsigned char junk[] = {0, 0, 0, 16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0xff};
	static const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 'x', 'y', 'z'};
	/* ChildMessage{hello: Hello{abi_version: 1}}, framed. */
	static const unsigned char hello[] = {0, 0, 0, 4, 0x12, 0x02, 0x08, 0x01};
	static const unsigned char trunc[] = {0, 0, 1, 0, 0x22, 0x10, 0x0a, 0x0e, 'h', 'a'};
	char mode[32], c;

	if (cfg(ctx, "mode", mode, sizeof(mode)) < 0) {
		sv_log(ctx, "no mode in plugin_garbage_cfg: %s", sv_errmsg(ctx));
		return 2;
	}
	sv_log(ctx, "sending %s", mode);
	if (strcmp(mode, "bytes") == 0)
		raw(junk, sizeof(junk));
	else if (strcmp(mode, "huge") == 0)
		raw(huge, sizeof(huge));
	else if (strcmp(mode, "hello") == 0)
		raw(hello, sizeof(hello));
	else if (strcmp(mode, "trunc") == 0)
		raw(trunc, sizeof(trunc));
	else
		return 2;
	if (strcmp(mode, "trunc") == 0)
		return 0;
	/* The broker answers no garbage: this read only ends when it kills us. */
	if (read(CHANNEL_FD, &c, 1) == 1)
		return 5;
	return 6;
}
