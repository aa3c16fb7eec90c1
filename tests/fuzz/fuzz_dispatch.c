/*
 * fuzz_dispatch.c - frames from a hostile plugin through the broker's dispatcher, against
 * a real SQLite file with the demo schema: decoding, the handshake rules, and every
 * query the fuzzer can phrase, under the plugin's rights; and the same bytes as a stream
 * of frames the cancel look-ahead walks while a query runs.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sv_db *db;
static struct sv_session *session;
static int sink = -1;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/svrun-fuzz-db-XXXXXX", uri[128], err[512];

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(uri, sizeof(uri), "sqlite:%s/demo.db", dir);
	if (sv_db_init(uri, 1, err, sizeof(err)) < 0 || sv_db_open(uri, &db, err, sizeof(err)) < 0 ||
	    sv_session_open(db, "hello", NULL, &session, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_dispatch: %s\n", err);
		abort();
	}
	/* Answers go nowhere: the dispatcher's writes are exercised, not read. */
	if ((sink = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sv_peer peer = {0};
	struct sv_framer ahead;
	uint8_t *dst;
	size_t room;
	char why[256];

	if (size < 1)
		return 0;
	sv_framer_init(&ahead);
	if (sv_framer_reserve(&ahead, &dst, &room) == 0 && room >= size - 1) {
		memcpy(dst, data + 1, size - 1);
		sv_framer_commit(&ahead, size - 1);
		peer.serving = UINT64_MAX;
		sv_peer_cancelled(&peer, &ahead);
		peer.serving = 0;
		peer.cancel_through = 0;
	}
	sv_framer_release(&ahead);
	peer.plugin_id = "hello";
	peer.session = session;
	peer.fd = sink;
	peer.max_requests = 100;
	/* The first byte says whether the handshake already happened. */
	peer.hello_seen = data[0] & 1;
	if (sv_dispatch_frame(&peer, data + 1, size - 1, why, sizeof(why)) == 0)
		sv_peer_flush(&peer);
	sv_peer_release(&peer);
	return 0;
}
