/*
 * test_frame.c - the framing of the plugin channel: what a hostile peer can make the
 * broker's framer hold, and that honest frames round-trip.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/frame.h"

/* Feeds @len bytes into @f the way the broker does, through reserve and commit. */
static int
feed(struct sv_framer *f, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t *dst;
	size_t room, n;
	int r;

	while (len > 0) {
		if ((r = sv_framer_reserve(f, &dst, &room)) < 0)
			return r;
		n = len < room ? len : room;
		memcpy(dst, p, n);
		sv_framer_commit(f, n);
		p += n;
		len -= n;
	}
	return 0;
}

static void
put_header(uint8_t *buf, uint32_t n)
{
	uint32_t be = htobe32(n);

	memcpy(buf, &be, 4);
}

/* Sends a query frame with id @id and text @sql on @fd. */
static void
send_query(int fd, uint64_t id, const char *sql)
{
	Sovereign__ChildMessage m = SOVEREIGN__CHILD_MESSAGE__INIT;
	Sovereign__Query q = SOVEREIGN__QUERY__INIT;

	q.sql = (char *)sql;
	m.body_case = SOVEREIGN__CHILD_MESSAGE__BODY_QUERY;
	m.query = &q;
	m.has_id = 1;
	m.id = id;
	cr_assert_eq(sv_frame_send(fd, &m.base), 0);
}

/* Reads the next frame with sv_frame_read() and checks it is query @id with text @sql. */
static void
expect_query(int fd, struct sv_framer *f, int spin, uint64_t id, const char *sql)
{
	struct sv_spin sp = {.on = spin};
	Sovereign__ChildMessage *back;
	const uint8_t *payload;
	size_t len;

	cr_assert_eq(sv_frame_read(fd, f, &sp, &payload, &len), 0);
	back = sovereign__child_message__unpack(NULL, len, payload);
	cr_assert_not_null(back);
	cr_assert_eq(back->id, id);
	cr_assert_eq(back->body_case, SOVEREIGN__CHILD_MESSAGE__BODY_QUERY);
	cr_assert_str_eq(back->query->sql, sql);
	sovereign__child_message__free_unpacked(back, NULL);
}

Test(frame, send_and_read_round_trip_a_query)
{
	struct sv_framer f;
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sv_framer_init(&f);
	send_query(sv[0], 42, "SELECT 1");
	expect_query(sv[1], &f, 0, 42, "SELECT 1");
	sv_framer_release(&f);
	close(sv[0]);
	close(sv[1]);
}

Test(frame, read_returns_pipelined_frames_in_order_spinning_or_not)
{
	struct sv_framer f;
	char sql[32];
	int sv[2], i;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sv_framer_init(&f);
	for (i = 0; i < 64; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", i);
		send_query(sv[0], (uint64_t)i + 1, sql);
	}
	for (i = 0; i < 64; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", i);
		expect_query(sv[1], &f, i % 2, (uint64_t)i + 1, sql);
	}
	cr_assert_eq(sv_framer_pending(&f), 0);
	sv_framer_release(&f);
	close(sv[0]);
	close(sv[1]);
}

Test(frame, read_refuses_header_over_max)
{
	struct sv_framer f;
	const uint8_t *payload = NULL;
	uint8_t hdr[4];
	size_t len = 0;
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sv_framer_init(&f);
	put_header(hdr, SV_FRAME_MAX + 1);
	cr_assert_eq(write(sv[0], hdr, 4), 4);
	cr_assert_eq(sv_frame_read(sv[1], &f, &(struct sv_spin){.on = 1}, &payload, &len),
		     -EMSGSIZE);
	cr_assert_null(payload);
	/* Nothing of the claimed size was allocated: only one read's worth. */
	cr_assert_leq(f.cap, SV_FRAMER_CHUNK);
	sv_framer_release(&f);
	close(sv[0]);
	close(sv[1]);
}

Test(frame, read_reports_truncated_frame_as_epipe)
{
	struct sv_framer f;
	const uint8_t *payload = NULL;
	uint8_t bytes[6];
	size_t len = 0;
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sv_framer_init(&f);
	put_header(bytes, 100);
	bytes[4] = bytes[5] = 0x08;
	cr_assert_eq(write(sv[0], bytes, sizeof(bytes)), (ssize_t)sizeof(bytes));
	close(sv[0]);
	cr_assert_eq(sv_frame_read(sv[1], &f, NULL, &payload, &len), -EPIPE);
	cr_assert_null(payload);
	cr_assert_eq(sv_framer_pending(&f), sizeof(bytes));
	sv_framer_release(&f);
	close(sv[1]);
}

Test(frame, framer_returns_frames_split_across_reads)
{
	struct sv_framer f;
	const uint8_t *payload;
	uint8_t wire[4 + 3 + 4 + 2];
	size_t len, i;

	sv_framer_init(&f);
	put_header(wire, 3);
	memcpy(wire + 4, "abc", 3);
	put_header(wire + 7, 2);
	memcpy(wire + 11, "de", 2);
	/* One byte at a time: the worst fragmentation a peer can choose. */
	for (i = 0; i < 6; i++) {
		cr_assert_eq(feed(&f, wire + i, 1), 0);
		cr_assert_eq(sv_framer_next(&f, &payload, &len), 0);
	}
	cr_assert_eq(feed(&f, wire + 6, sizeof(wire) - 6), 0);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 1);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(payload, "abc", 3), 0);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 1);
	cr_assert_eq(len, 2);
	cr_assert_eq(memcmp(payload, "de", 2), 0);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 0);
	cr_assert_eq(sv_framer_pending(&f), 0);
	sv_framer_release(&f);
}

/*
 * A frame held while more is read (a request that must be asked again later) comes back
 * whole, and the frame read meanwhile after it; one not held is dropped by that read.
 */
Test(frame, a_held_frame_survives_reads_and_is_returned_again)
{
	struct sv_framer f;
	const uint8_t *payload;
	uint8_t first[4 + 3], second[4 + 5000];
	size_t len;

	sv_framer_init(&f);
	put_header(first, 3);
	memcpy(first + 4, "abc", 3);
	put_header(second, 5000);
	memset(second + 4, 'x', 5000);
	cr_assert_eq(feed(&f, first, sizeof(first)), 0);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 1);
	sv_framer_hold(&f);
	/* The next frame claims its length from behind the held one, not from the front. */
	cr_assert_eq(feed(&f, second, sizeof(second)), 0);
	cr_assert_eq(sv_framer_pending(&f), sizeof(second));
	sv_framer_unget(&f);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 1);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(payload, "abc", 3), 0);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 1);
	cr_assert_eq(len, 5000);
	cr_assert_eq(payload[0], 'x');
	cr_assert_eq(payload[4999], 'x');
	/* Control: without the hold, the read after a frame drops it. */
	cr_assert_eq(feed(&f, first, sizeof(first)), 0);
	cr_assert_eq(sv_framer_pending(&f), sizeof(first));
	cr_assert_eq(f.len, sizeof(first));
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 1);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 0);
	sv_framer_release(&f);
}

Test(frame, framer_refuses_a_4_gib_claim_without_allocating_it)
{
	struct sv_framer f;
	const uint8_t *payload;
	uint8_t hdr[4];
	uint8_t *dst;
	size_t len, room;

	sv_framer_init(&f);
	put_header(hdr, 0xffffffffu);
	cr_assert_eq(feed(&f, hdr, 4), 0);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), -EMSGSIZE);
	cr_assert_eq(sv_framer_reserve(&f, &dst, &room), -EMSGSIZE);
	cr_assert_leq(f.cap, SV_FRAMER_MIN_READ, "framer grew to %zu bytes on a claim", f.cap);
	sv_framer_release(&f);
}

Test(frame, framer_grows_with_bytes_received_not_bytes_claimed)
{
	struct sv_framer f;
	const uint8_t *payload;
	uint8_t hdr[4], chunk[1000] = {0};
	size_t len;

	sv_framer_init(&f);
	/* A legal claim just under the limit, followed by only 1000 bytes. */
	put_header(hdr, SV_FRAME_MAX);
	cr_assert_eq(feed(&f, hdr, 4), 0);
	cr_assert_eq(feed(&f, chunk, sizeof(chunk)), 0);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 0);
	cr_assert_leq(f.cap, SV_FRAMER_CHUNK + SV_FRAMER_MIN_READ + 1004,
		      "framer holds %zu bytes for 1004 received", f.cap);
	sv_framer_release(&f);
}

Test(frame, framer_accepts_a_frame_of_exactly_the_maximum)
{
	struct sv_framer f;
	const uint8_t *payload;
	uint8_t hdr[4];
	uint8_t *big = calloc(1, SV_FRAME_MAX);
	size_t len;

	cr_assert_not_null(big);
	sv_framer_init(&f);
	put_header(hdr, SV_FRAME_MAX);
	cr_assert_eq(feed(&f, hdr, 4), 0);
	cr_assert_eq(feed(&f, big, SV_FRAME_MAX), 0);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 1);
	cr_assert_eq(len, SV_FRAME_MAX);
	sv_framer_release(&f);
	free(big);
}

Test(frame, send_refuses_a_message_over_max)
{
	Sovereign__ChildMessage m = SOVEREIGN__CHILD_MESSAGE__INIT;
	Sovereign__Log lg = SOVEREIGN__LOG__INIT;
	char *text = malloc(SV_FRAME_MAX + 1);
	int sv[2];

	cr_assert_not_null(text);
	memset(text, 'x', SV_FRAME_MAX);
	text[SV_FRAME_MAX] = '\0';
	lg.text = text;
	m.body_case = SOVEREIGN__CHILD_MESSAGE__BODY_LOG;
	m.log = &lg;
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(sv_frame_send(sv[0], &m.base), -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
	free(text);
}

/* Records @n waits of @ns each. */
static void
record_waits(struct sv_spin *s, int n, uint64_t ns)
{
	while (n-- > 0)
		sv_spin_record(s, ns);
}

Test(frame, spinning_is_at_least_the_floor_while_answers_are_quick)
{
	struct sv_spin s = {.on = 1}, off = {.on = 0};

	cr_assert_eq(sv_spin_budget(&off), 0, "spinning where it cannot pay");
	record_waits(&off, 50, 5000);
	cr_assert_eq(sv_spin_budget(&off), 0, "quick answers turned on a spin that cannot pay");
	cr_assert_eq(sv_spin_budget(&s), SV_SPIN_NS, "a new side does not spin the floor");
	record_waits(&s, 100, 5000);
	cr_assert_eq(sv_spin_budget(&s), SV_SPIN_NS, "answers in 5 us: %llu ns",
		     (unsigned long long)sv_spin_budget(&s));
}

Test(frame, a_crowded_broker_stops_the_spin_and_the_spin_comes_back_after)
{
	struct sv_spin s = {.on = 1};

	record_waits(&s, 100, 5000);
	cr_assert_eq(sv_spin_budget(&s), SV_SPIN_NS, "control: quick answers spin the floor");
	s.crowded = 1;
	cr_assert_eq(sv_spin_budget(&s), 0, "spinning while the broker asked for the CPUs");
	/* The waits still count meanwhile, so the spin comes back sized to them. */
	record_waits(&s, 100, 70000);
	s.crowded = 0;
	cr_assert(sv_spin_budget(&s) > 70000, "after the crowd the spin is %llu ns",
		  (unsigned long long)sv_spin_budget(&s));
}

Test(frame, spinning_grows_to_twice_the_answers_until_that_passes_the_cap)
{
	struct sv_spin s = {.on = 1};
	uint64_t b;

	/* Answers in 70 us (a database server's): spin about 140 us, longer than they take. */
	record_waits(&s, 100, 70000);
	b = sv_spin_budget(&s);
	cr_assert(b > 70000 && b <= 140000, "answers in 70 us, spin %llu ns", (unsigned long long)b);
	/* Answers in 150 us: twice that is past the cap, so the wait sleeps at once. */
	record_waits(&s, 100, 150000);
	cr_assert_eq(sv_spin_budget(&s), 0, "answers in 150 us, spin %llu ns",
		     (unsigned long long)sv_spin_budget(&s));
}

Test(frame, spinning_stops_when_answers_are_slow_and_comes_back)
{
	struct sv_spin s = {.on = 1};
	int i;

	/* A broker busy with many plugins: every answer takes a millisecond; no spin. */
	record_waits(&s, 100, 1000000);
	cr_assert_eq(sv_spin_budget(&s), 0, "spinning for answers above the cap: %llu ns",
		     (unsigned long long)sv_spin_budget(&s));
	/* Quick again: the waits that sleep still count, and the spin comes back. */
	for (i = 0; i < 40 && sv_spin_budget(&s) == 0; i++)
		sv_spin_record(&s, 30000);
	cr_assert_lt(i, 40, "the spin never came back after answers were quick again");
	record_waits(&s, 100, 5000);
	cr_assert_eq(sv_spin_budget(&s), SV_SPIN_NS);
}

Test(frame, one_slow_answer_does_not_stop_the_spin)
{
	struct sv_spin s = {.on = 1};

	record_waits(&s, 100, 5000);
	sv_spin_record(&s, 10000000000ull);
	cr_assert_gt(sv_spin_budget(&s), 0, "a single 10 s wait stopped the spin");
	/* A control: a run of slow answers does stop it. */
	record_waits(&s, 10, 10000000000ull);
	cr_assert_eq(sv_spin_budget(&s), 0);
}

/* Confines process @pid (0: this one) to CPU @cpu, or to @cpu and @other when >= 0. */
static void
confine(pid_t pid, int cpu, int other)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (other >= 0)
		CPU_SET(other, &set);
	cr_assert_eq(sched_setaffinity(pid, sizeof(set), &set), 0, "%s", strerror(errno));
}

Test(frame, spinning_for_a_peer_pays_only_when_a_cpu_other_than_ours_can_run_it)
{
	cpu_set_t all;
	int a = -1, b = -1, i;
	pid_t peer;

	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	for (i = 0; i < CPU_SETSIZE && b < 0; i++)
		if (CPU_ISSET(i, &all))
			*(a < 0 ? &a : &b) = i;
	cr_assert(b >= 0, "this test needs two CPUs to put a peer beside or apart from it");
	peer = fork();
	cr_assert_geq(peer, 0);
	if (peer == 0) {
		pause();
		_exit(0);
	}
	/* Both on one CPU: spinning would only keep the peer from answering. */
	confine(0, a, -1);
	confine(peer, a, -1);
	cr_expect_eq(sv_spin_pays_for(peer), 0);
	/* The peer on another CPU: it answers while this one spins. */
	confine(peer, b, -1);
	cr_expect_eq(sv_spin_pays_for(peer), 1);
	/* A peer it cannot see (a server over TCP) may run anywhere. */
	cr_expect_eq(sv_spin_pays_for(0), 1);
	/* Two CPUs of its own, wherever the peer is. */
	confine(peer, a, -1);
	confine(0, a, b);
	cr_expect_eq(sv_spin_pays_for(peer), 1);
	kill(peer, SIGKILL);
	waitpid(peer, NULL, 0);
}

Test(frame, reading_a_frame_records_how_long_its_wait_took)
{
	struct sv_spin s = {.on = 1};
	struct sv_framer f;
	const uint8_t *payload;
	size_t len;
	uint8_t frame[4 + 2];
	int sv[2];
	pid_t pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	put_header(frame, 2);
	memcpy(frame + 4, "hi", 2);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		usleep(20000);
		_exit(write(sv[0], frame, sizeof(frame)) == (ssize_t)sizeof(frame) ? 0 : 1);
	}
	sv_framer_init(&f);
	cr_assert_eq(sv_frame_read(sv[1], &f, &s, &payload, &len), 0);
	cr_assert_eq(len, 2);
	/* One wait of at least 20 ms, counted as SV_SPIN_SAMPLE_MAX_NS, weighs 1/SV_SPIN_WEIGHT. */
	cr_assert_eq(s.avg_ns, SV_SPIN_SAMPLE_MAX_NS / SV_SPIN_WEIGHT, "average %llu ns",
		     (unsigned long long)s.avg_ns);
	waitpid(pid, NULL, 0);
	sv_framer_release(&f);
	close(sv[0]);
	close(sv[1]);
}

Test(frame, framer_looks_ahead_at_whole_frames_without_taking_them)
{
	uint8_t bytes[4 + 3 + 4 + 2 + 4 + 1], *p = bytes;
	const uint8_t *payload;
	size_t len, pos = 0;
	struct sv_framer f;

	/* Three frames, "abc", "de", and the header and one byte of a third of 5. */
	put_header(p, 3);
	memcpy(p + 4, "abc", 3);
	p += 7;
	put_header(p, 2);
	memcpy(p + 4, "de", 2);
	p += 6;
	put_header(p, 5);
	p[4] = 'f';
	sv_framer_init(&f);
	cr_assert_eq(feed(&f, bytes, sizeof(bytes)), 0);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 1);
	cr_assert_eq(len, 3);
	/* Behind the one returned: the second, then nothing (the third is not whole). */
	cr_assert_eq(sv_framer_ahead(&f, &pos, &payload, &len), 1);
	cr_assert_eq(len, 2);
	cr_assert_eq(memcmp(payload, "de", 2), 0);
	cr_assert_eq(sv_framer_ahead(&f, &pos, &payload, &len), 0);
	cr_assert_null(payload);
	/* Nothing was taken: the second frame is still the next one. */
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 1);
	cr_assert_eq(memcmp(payload, "de", 2), 0);
	cr_assert_eq(sv_framer_next(&f, &payload, &len), 0);
	sv_framer_release(&f);
}

Test(frame, framer_look_ahead_stops_at_a_header_over_max)
{
	uint8_t bytes[8 + 4];
	const uint8_t *payload;
	size_t len, pos = 0;
	struct sv_framer f;

	sv_framer_init(&f);
	f.max = 16;
	put_header(bytes, 4);
	memcpy(bytes + 4, "abcd", 4);
	put_header(bytes + 8, 17);
	cr_assert_eq(feed(&f, bytes, sizeof(bytes)), 0);
	/* Before anything was returned, the walk starts at the front. */
	cr_assert_eq(sv_framer_ahead(&f, &pos, &payload, &len), 1);
	cr_assert_eq(len, 4);
	cr_assert_eq(sv_framer_ahead(&f, &pos, &payload, &len), 0);
	sv_framer_release(&f);
}
