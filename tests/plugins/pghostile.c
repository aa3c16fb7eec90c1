/*
 * pghostile.c - what a hostile plugin tries on PostgreSQL (tests/integ/test_pg.c). Mode
 * "statements" (the default) runs each attack and logs "refused[label]: why" or
 * "ALLOWED[label]: rows", and each positive control as "ok[label]: first cell" or
 * "failed[label]: why"; it returns the number of attacks allowed. Some attacks are
 * written behind a nested comment (HIDDEN): the broker's first-word check reads INSERT,
 * which it lets through as a write, in a read-write transaction; PostgreSQL reads what
 * follows, so only the database's own privileges can refuse them. Mode "sleep" turns the statement
 * timeout off and sleeps; mode "hold" keeps a transaction open over a core table's view and then
 * spins: both must end at svrun's deadline. Mode "cut" sleeps in short statements until its
 * connection is cut from outside, then asks again until the broker has reconnected; mode
 * "cuttx" does so inside a transaction holding a row, which must be lost, and said to be.
 * Mode "naps" sleeps 60 times for 50 ms in one prepared statement, each one a read the
 * broker sends ahead, and logs "ok[naps]: 60" at the end.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sovereign/plugin.h>

#define HIDDEN "/* /* */ INSERT */ "

static const struct {
	const char *label;
	const char *sql;
} attacks[] = {
    {"set-role", "SELECT set_config('role', 'svc_core', false)"},
    {"set-role-hidden", HIDDEN "SET ROLE svc_core"},
    {"set-role-stmt", "SET ROLE svc_core"},
    {"reset-role", "RESET ROLE"},
    {"session-authorization", "SELECT set_config('session_authorization', 'svc_core', false)"},
    {"session-authorization-hidden", HIDDEN "SET SESSION AUTHORIZATION svc_core"},
    {"read-users", "SELECT email, password_hash FROM users"},
    {"read-config", "SELECT key, value FROM config"},
    {"update-users", "UPDATE users SET display_name = 'pwned'"},
    {"copy-program", HIDDEN "COPY (SELECT 1) TO PROGRAM 'touch /tmp/svrun-pghostile-pwned'"},
    {"copy-file", HIDDEN "COPY users TO '/tmp/svrun-pghostile-users'"},
    {"pg-read-file", "SELECT pg_read_file('/etc/passwd')"},
    {"lo-import", "SELECT lo_import('/etc/passwd')"},
    {"dblink", "SELECT dblink_connect('dbname=postgres')"},
    {"create-extension", HIDDEN "CREATE EXTENSION dblink"},
    {"create-function-public", HIDDEN "CREATE FUNCTION public.lower(text) RETURNS text "
				      "LANGUAGE sql AS 'SELECT ''pwned'''"},
    {"create-table-public", HIDDEN "CREATE TABLE public.evil(x int)"},
    {"create-temp-table", HIDDEN "CREATE TEMP TABLE v_plugin_users(id int)"},
    {"app-name", "SELECT set_config('application_name', 'core', false)"},
    {"read-only-off", "SELECT set_config('default_transaction_read_only', 'off', false)"},
    {"multi-statement", "SELECT 1; DELETE FROM plugin_pghostile_items"},
    {"other-plugin-read", "SELECT v FROM plugin_other_secrets"},
    {"other-plugin-write", "INSERT INTO plugin_other_secrets(v) VALUES ('pwned')"},
    {"lock-core", HIDDEN "LOCK TABLE users"},
    {"view-for-update", "SELECT id FROM v_plugin_users FOR UPDATE"},
    {"grant-self", HIDDEN "GRANT SELECT ON users TO svc_plugin_pghostile"},
    {"sleep", "SELECT pg_sleep(30)"},
    {"huge-result", "SELECT repeat('x', 100000) FROM generate_series(1, 100)"},
    {"huge-write", "INSERT INTO plugin_pghostile_items(note) SELECT repeat('x', 100000)"
		   " FROM generate_series(1, 100) RETURNING note"},
};

static const struct {
	const char *label;
	const char *sql;
} controls[] = {
    {"view", "SELECT count(*) FROM v_plugin_users"},
    {"own-insert", "INSERT INTO plugin_pghostile_items(note) VALUES ('mine') RETURNING note"},
    {"own-read", "SELECT note FROM plugin_pghostile_items"},
    {"harmless-setting", "SELECT set_config('work_mem', '8MB', false)"},
    {"identity", "SELECT current_setting('application_name') || '|' || session_user || '|' ||"
		 " current_user"},
    {"read-only", "SELECT current_setting('transaction_read_only')"},
};

/* Runs one statement; logs it under @label as a control (@control) or an attack. */
static int
run(sv_ctx *ctx, const char *label, const char *sql, int control)
{
	sv_result *r = sv_query(ctx, sql, 0, NULL);

	if (r == NULL) {
		sv_log(ctx, "%s[%s]: %s", control ? "failed" : "refused", label, sv_errmsg(ctx));
		return 0;
	}
	if (control)
		sv_log(ctx, "ok[%s]: %s", label,
		       sv_result_rows(r) > 0 ? sv_result_text(r, 0, 0) : "(no rows)");
	else
		sv_log(ctx, "ALLOWED[%s]: %d row(s)", label, sv_result_rows(r));
	sv_result_free(r);
	return 1;
}

/* Pauses a fifth of a second, while a restarting server comes back. */
static void
pause_briefly(void)
{
	struct timespec t = {0, 200 * 1000 * 1000};

	nanosleep(&t, NULL);
}

/*
 * After the connection was cut: asks again until the broker has connected anew (the
 * server may still be starting), then logs the first answer as "after-cut".
 */
static void
after_cut(sv_ctx *ctx)
{
	sv_result *r = NULL;

	for (int i = 0; i < 100 && (r = sv_query(ctx, "SELECT 1", 0, NULL)) == NULL; i++)
		pause_briefly();
	if (r == NULL)
		sv_log(ctx, "failed[after-cut]: %s", sv_errmsg(ctx));
	else
		sv_log(ctx, "ok[after-cut]: %s", sv_result_text(r, 0, 0));
	sv_result_free(r);
}

/*
 * After the connection was cut inside a transaction: once connected anew, a statement
 * must hear that the transaction is lost ("lost-tx") and a commit must fail
 * ("commit-lost"), each logged as ok[...] or WRONG[...].
 */
static void
after_lost_transaction(sv_ctx *ctx)
{
	sv_result *r = NULL;
	int i;

	for (i = 0; i < 100; i++) {
		if ((r = sv_query(ctx, "SELECT 1", 0, NULL)) != NULL ||
		    strstr(sv_errmsg(ctx), "inside the transaction"))
			break;
		pause_briefly();
	}
	if (r == NULL && i < 100)
		sv_log(ctx, "ok[lost-tx]: %s", sv_errmsg(ctx));
	else
		sv_log(ctx, "WRONG[lost-tx]: %s", r ? "the statement ran" : sv_errmsg(ctx));
	sv_result_free(r);
	if (sv_commit(ctx) < 0)
		sv_log(ctx, "ok[commit-lost]: %s", sv_errmsg(ctx));
	else
		sv_log(ctx, "WRONG[commit-lost]: the commit succeeded");
}

/* Burns time until svrun ends the run. */
static void
wait_for_the_end(void)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
}

int
sv_plugin_main(sv_ctx *ctx)
{
	sv_result *r =
	    sv_query(ctx, "SELECT value FROM plugin_pghostile_cfg WHERE key = 'mode'", 0, NULL);
	char mode[32] = "statements";
	int allowed = 0;
	size_t i;

	if (r != NULL && sv_result_rows(r) == 1)
		snprintf(mode, sizeof(mode), "%s", sv_result_text(r, 0, 0));
	sv_result_free(r);
	if (strcmp(mode, "sleep") == 0) {
		run(ctx, "timeout-off", "SELECT set_config('statement_timeout', '0', false)", 1);
		run(ctx, "long-sleep", "SELECT pg_sleep(600)", 0);
		return 0;
	}
	if (strcmp(mode, "naps") == 0) {
		for (i = 0; i < 60 && run(ctx, "nap", "SELECT pg_sleep(0.05)", 1); i++)
			;
		sv_log(ctx, "ok[naps]: %zu", i);
		return 0;
	}
	if (strcmp(mode, "cut") == 0 || strcmp(mode, "cuttx") == 0) {
		if (strcmp(mode, "cuttx") == 0 && (sv_begin(ctx) < 0 ||
		    !run(ctx, "in-tx", "INSERT INTO plugin_pghostile_items(note) VALUES "
				       "('lost') RETURNING note", 1)))
			return 1;
		for (i = 0; i < 100 && run(ctx, "nap", "SELECT pg_sleep(0.2)", 1); i++)
			;
		if (strcmp(mode, "cuttx") == 0)
			after_lost_transaction(ctx);
		after_cut(ctx);
		return 0;
	}
	if (strcmp(mode, "hold") == 0) {
		run(ctx, "idle-off",
		    "SELECT set_config('idle_in_transaction_session_timeout', '0', false)", 1);
		if (sv_begin(ctx) < 0)
			return 1;
		run(ctx, "hold-view", "SELECT count(*) FROM v_plugin_users", 1);
		wait_for_the_end();
	}
	for (i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
		run(ctx, controls[i].label, controls[i].sql, 1);
		if (i == 2)
			for (size_t j = 0; j < sizeof(attacks) / sizeof(attacks[0]); j++)
				allowed += run(ctx, attacks[j].label, attacks[j].sql, 0);
	}
	return allowed;
}
