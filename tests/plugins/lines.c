/*
 * lines.c - writes to stdout each way a line can reach the broker's relay: in two pieces
 * with a pause between them, two in one write, one longer than the relay holds, and a
 * last one without its newline. tests/integ/test_channel.c knows the exact text.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sovereign/plugin.h>

#define LONG_LINE 10000

/* Writes @text whole to stdout; says whether it all went. */
static int
put(const char *text, size_t len)
{
	return write(STDOUT_FILENO, text, len) == (ssize_t)len;
}

int
sv_plugin_main(sv_ctx *ctx)
{
	static char long_line[LONG_LINE + 1];

	(void)ctx;
	memset(long_line, 'x', LONG_LINE);
	long_line[LONG_LINE] = '\n';
	if (!put("first ", 6))
		return 1;
	/* Long enough for the broker to have read the first piece on its own. */
	nanosleep(&(struct timespec){0, 100 * 1000 * 1000L}, NULL);
	if (!put("half\nsecond line\n", 17) || !put(long_line, sizeof(long_line)) ||
	    !put("no newline at the end", 21))
		return 1;
	return 0;
}
