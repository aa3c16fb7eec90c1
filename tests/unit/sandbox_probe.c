/*
 * sandbox_probe.c - a minimal plugin-like library that test_sandbox loads under the
 * load-phase filter. Its constructor opens a file read-only, as loaders and C++ runtimes
 * do, so the test sees constructors run, and run confined, inside dlopen().
 */
#include <fcntl.h>
#include <unistd.h>

int sandbox_probe_value(void);

static int value;

/* Runs inside dlopen(): proves a read-only open from a constructor is allowed. */
__attribute__((constructor)) static void
probe_init(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		value = 42;
		close(fd);
	}
}

/* What the test reads back: 42 once the constructor has run and its open succeeded. */
int
sandbox_probe_value(void)
{
	return value;
}
