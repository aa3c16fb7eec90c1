/*
 * test_defer.c - reads sent ahead (sv_session_defer), through the broker's session API
 * on the real server: on PostgreSQL a read sent ahead is collected when the same
 * request is asked again, one left behind is read to its end before the next request
 * runs, and a transaction after it starts clean; SQLite, which runs its statements in
 * the broker, answers at once. Runs as integ_defer_pg and integ_defer (SQLite). Built
 * in the build tree's tests/ folder, so the broker finds svrun-backend-pg.so beside it
 * in ../libexec/svrun as it does beside svrun.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/broker.h"
#include "sovereign/plugin.h"
#include "tests/integ/harness.h"

TestSuite(defer, .init = it_setup, .fini = it_teardown, .timeout = 60);

static struct sv_db *db;
static struct sv_session *s;
static char err[512];

/* The demo database with hello installed, and hello's session on it. */
static void
open_hello(void)
{
	int r;

	it_init_db();
	cr_assert_eq(sv_db_open(it_uri, &db, err, sizeof(err)), 0, "%s", err);
	r = sv_session_open(db, "hello", NULL, &s, err, sizeof(err));
	cr_assert_eq(r, 0, "session: %d %s", r, err);
}

static void
close_hello(void)
{
	sv_session_close(s);
	sv_db_close(db);
}

/*
 * Asks @sql, which reads its one text parameter back, with @value under @mode; returns its
 * result, the cell in @got (empty unless one row came).
 */
static int
ask_sql(const char *sql, const char *value, enum sv_defer mode, char *got, size_t len)
{
	struct sv_param p = {.type = SV_TEXT, .data = value, .len = strlen(value)};
	struct sv_rows rows;
	int r;

	sv_session_defer(s, mode);
	r = sv_session_query_values(s, sql, 1, &p, &rows, err, sizeof(err));
	sv_session_defer(s, 0);
	snprintf(got, len, "%s", r == 0 && rows.nrows == 1 ? rows.cells[0] : "");
	sv_rows_clear(&rows);
	return r;
}

/* Asks "SELECT CAST($1 AS text)" with @value, sent ahead if @ahead. */
static int
ask(const char *value, int ahead, char *got, size_t len)
{
	return ask_sql("SELECT CAST($1 AS text)", value, ahead ? SV_DEFER_SEND : SV_DEFER_OFF, got,
		       len);
}

/* Sends @value ahead: PostgreSQL leaves it running; SQLite answers it at once. */
static void
send_ahead(const char *value)
{
	char got[64];
	int r = ask(value, 1, got, sizeof(got));

	if (it_pg) {
		cr_assert_eq(r, -EAGAIN, "%d %s", r, err);
		cr_assert_str_eq(err, "sent ahead");
		cr_assert_str_eq(got, "");
	} else {
		cr_assert_eq(r, 0, "%s", err);
		cr_assert_str_eq(got, value);
	}
}

/* Asks @value without sending it ahead and expects its answer. */
static void
expect_answer(const char *value)
{
	char got[64];

	cr_assert_eq(ask(value, 0, got, sizeof(got)), 0, "%s", err);
	cr_assert_str_eq(got, value);
}

Test(defer, a_read_sent_ahead_is_collected_when_the_same_request_comes_again)
{
	open_hello();
	/* Control: its first run prepares the statement and answers at once, ahead or not. */
	expect_answer("first");
	send_ahead("second");
	expect_answer("second");
	close_hello();
}

Test(defer, a_read_sent_ahead_and_never_asked_again_gives_way_to_the_next_request)
{
	struct sv_rows rows;
	char *visits;
	int r;

	open_hello();
	expect_answer("prepare");
	send_ahead("left behind");
	/* Another request: the abandoned answer is read and dropped, this one answered. */
	expect_answer("next");
	expect_answer("after");
	/* The same before a transaction: it begins, writes and commits as if none had been. */
	send_ahead("before a transaction");
	cr_assert_eq(sv_session_txn(s, SV_TXN_BEGIN, err, sizeof(err)), 0, "%s", err);
	r = sv_session_query(s, "INSERT INTO plugin_hello_visits(note) VALUES ('in tx')", 0, NULL,
			     &rows, err, sizeof(err));
	cr_assert_eq(r, 0, "%s", err);
	sv_rows_clear(&rows);
	cr_assert_eq(sv_session_txn(s, SV_TXN_COMMIT, err, sizeof(err)), 0, "%s", err);
	close_hello();
	visits = it_sql_dump("SELECT note FROM plugin_hello_visits");
	cr_assert_str_eq(visits, "in tx\n");
	free(visits);
}

/* A read that takes 0.2 s at the server, then reads its parameter back; on SQLite, none. */
#define NAP_PG "SELECT CAST($1 AS text) FROM (SELECT pg_sleep(0.2)) AS nap"
#define NAP (it_pg ? NAP_PG : "SELECT CAST($1 AS text)")

/*
 * Inside another statement's wait the runner sends reads ahead too, and collects one only
 * once its answer has come: asked again before that, it is still running and the caller
 * goes on, where waiting would hold the statement it runs inside. Once answered, the same
 * request collects it.
 */
Test(defer, a_read_sent_ahead_inside_another_wait_is_collected_only_once_answered)
{
	struct timespec nap = {0, 300 * 1000 * 1000};
	char got[64];
	int r;

	open_hello();
	/* Control: its first run prepares it and waits for it, whatever the mode. */
	cr_assert_eq(ask_sql(NAP, "first", SV_DEFER_NESTED, got, sizeof(got)), 0, "%s", err);
	cr_assert_str_eq(got, "first");
	r = ask_sql(NAP, "second", SV_DEFER_NESTED, got, sizeof(got));
	if (!it_pg) {
		/* SQLite has no server to leave it with: it answers at once. */
		cr_assert_eq(r, 0, "%s", err);
		cr_assert_str_eq(got, "second");
		cr_assert_not(sv_session_in_flight(s));
		close_hello();
		return;
	}
	cr_assert_eq(r, -EAGAIN, "%d %s", r, err);
	cr_assert_str_eq(err, "sent ahead");
	cr_assert(sv_session_in_flight(s));
	/* Asked again at once: the server still naps, and this does not wait for it. */
	r = ask_sql(NAP, "second", SV_DEFER_NESTED, got, sizeof(got));
	cr_assert_eq(r, -EAGAIN, "%d %s", r, err);
	cr_assert_str_eq(err, "still running");
	cr_assert_str_eq(got, "");
	cr_assert(sv_session_in_flight(s));
	/* Answered by now: the same request collects it, still in the nested mode. */
	nanosleep(&nap, NULL);
	cr_assert_eq(ask_sql(NAP, "second", SV_DEFER_NESTED, got, sizeof(got)), 0, "%s", err);
	cr_assert_str_eq(got, "second");
	cr_assert_not(sv_session_in_flight(s));
	/* And the connection is clean for the next request. */
	expect_answer("after");
	close_hello();
}
