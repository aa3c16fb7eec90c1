/*
 * backend_pg.c - the PostgreSQL backend (RFC-0003): the core connection holds the
 * operator's credentials; each plugin gets a connection of its own as the role
 * svc_plugin_<id>, which can do only what `svrun install` granted. The database, not
 * this file, is what refuses a plugin's overreach; this file bounds what a statement may
 * cost the broker, keeps each one atomic, and keeps the session's identity fixed.
 *
 * The plugin role has no password between launches. At each launch the broker sets a
 * fresh random one (sent as a SCRAM verifier, so the server never sees it in the clear),
 * connects with it, and removes it again, under an advisory lock so two launches of one
 * plugin do not race. Nothing is stored; the child never sees it.
 */
#include "broker/internal.h"
#include "broker/pg.h"
#include "common/common.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <sovereign/plugin.h>

/* How often, at most, a plugin's lost connection is tried again. */
#define RECONNECT_EVERY_NS 500000000ull
/* How long the server may take to confirm a cancel before the session is given up. */
#define CANCEL_GRACE_MS 5000
/*
 * How long a statement waits for the server before the broker first asks for a cancel
 * and turns its loop from inside the wait. A turn started there that sends another
 * plugin's statement suspends this one until that one ends (the turns nest), so turning
 * at SV_CANCEL_POLL_NS, well inside one answer of the server, made every quick read
 * wait for the next: with 8 plugins, half the throughput of one and a p99 of 40 ms
 * (bench/README.md). Only a statement slower than this now lets the others run.
 */
#define FIRST_POLL_NS 1000000ull

/*
 * Settings a plugin could change to pass for someone else, or to let a read write (the
 * session default default_transaction_read_only); checked after each statement.
 */
static const char *const fixed_settings[] = {
    "application_name", "session_authorization",       "is_superuser",
    "client_encoding",	"standard_conforming_strings", "default_transaction_read_only",
};
#define NFIXED (sizeof(fixed_settings) / sizeof(fixed_settings[0]))

/*
 * Statements of a plugin kept prepared on its connection, the ones it sent last. When
 * all are taken, the least recently used is deallocated in the pipeline of the next
 * statement to prepare, outside a plugin transaction only (a failed one would refuse
 * it, and its own failure would fail the plugin's transaction); inside one, a new
 * statement runs unprepared.
 */
#define PREPARED_MAX 32

/* One prepared statement: its text and parameter types, named sv_<id> on the server. */
struct prepared {
	char *sql;
	size_t nparams;
	Oid *types;
	unsigned id;
	uint64_t used;	/* the session's use count at its last run */
};

struct pg_session {
	struct sv_session base;
	PGconn *conn;
	char id[65];
	char *fixed[NFIXED]; /* the values of fixed_settings at connection */
	uint64_t deadline_ns;
	int timed_out;	/* the broker cancelled the statement at the deadline */
	struct pg_db *db;	/* for the core connection a log-in goes through */
	int broken;	/* the connection is lost or given up; requests fail or reconnect */
	int tx_lost;	/* the plugin's transaction went with a lost connection */
	uint64_t next_reconnect_ns; /* no attempt to reconnect before this time */
	int after_null; /* the last result read was the end of a query (NULL) */
	struct sv_spin spin;	/* how long to poll the server before sleeping */
	struct prepared prepared[PREPARED_MAX];
	size_t nprepared;
	unsigned next_prepared_id;
	uint64_t prepared_uses;
	struct prepared *flight; /* the statement of a read sent ahead (sv_session_defer) */
	char *flight_params;	 /* and its parameter values, to know the request again */
	size_t flight_len;
};

/* Frees what @p holds; it is empty after. */
static void
clear_prepared(struct prepared *p)
{
	free(p->sql);
	free(p->types);
	p->sql = NULL;
	p->types = NULL;
}

/* Forgets the read sent ahead; what is left of its results is the caller's to read. */
static void
clear_flight(struct pg_session *s)
{
	free(s->flight_params);
	s->flight_params = NULL;
	s->flight_len = 0;
	s->flight = NULL;
	s->base.in_flight = 0;
}

/* Forgets every prepared statement: the connection that held them is gone. */
static void
forget_prepared(struct pg_session *s)
{
	clear_flight(s);
	for (size_t i = 0; i < s->nprepared; i++)
		clear_prepared(&s->prepared[i]);
	s->nprepared = 0;
}

/* The prepared statement for @sql with these parameter types, or NULL. */
static struct prepared *
find_prepared(struct pg_session *s, const char *sql, size_t nparams, const Oid *types)
{
	for (size_t i = 0; i < s->nprepared; i++) {
		struct prepared *p = &s->prepared[i];

		if (p->nparams == nparams && strcmp(p->sql, sql) == 0 &&
		    memcmp(p->types, types, nparams * sizeof(*types)) == 0)
			return p;
	}
	return NULL;
}

/* The entry to deallocate for a new one: the least recently used. */
static struct prepared *
least_used(struct pg_session *s)
{
	struct prepared *victim = &s->prepared[0];

	for (size_t i = 1; i < s->nprepared; i++)
		if (s->prepared[i].used < victim->used)
			victim = &s->prepared[i];
	return victim;
}

/* Fills @p for @sql under the session's next name; it counts once the server took it. */
static int
fill_prepared(struct pg_session *s, struct prepared *p, const char *sql, size_t nparams,
	      const Oid *types)
{
	p->sql = strdup(sql);
	p->types = malloc((nparams + 1) * sizeof(*types));
	if (!p->sql || !p->types) {
		clear_prepared(p);
		return -ENOMEM;
	}
	memcpy(p->types, types, nparams * sizeof(*types));
	p->nparams = nparams;
	p->id = s->next_prepared_id++;
	p->used = ++s->prepared_uses;
	return 0;
}

/* Statement kinds a plugin may send; the database decides on everything else. */
static const char *const plugin_kinds[] = {
    "SELECT", "VALUES", "WITH", "TABLE", "INSERT", "UPDATE", "DELETE",
};

void
sv_pg_message(PGconn *conn, const PGresult *res, char *out, size_t outlen)
{
	const char *m = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
	size_t n;

	if (!m || !*m)
		m = conn ? PQerrorMessage(conn) : "unknown error";
	snprintf(out, outlen, "%s", m);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
}

int
sv_pg_exec(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	char msg[512];
	int r = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		sv_pg_message(conn, res, msg, sizeof(msg));
		snprintf(err, errlen, "%s: %s", what, msg);
		r = -EIO;
	}
	PQclear(res);
	return r;
}

/*
 * Notices are dropped: on a plugin's connection their text can be the plugin's own
 * choosing, and nothing in them is needed (errors come back as results).
 */
static void
drop_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A password in the URI would be in svrun's argv for anyone to read; refuse it. */
static int
check_no_password(const char *uri, char *err, size_t errlen)
{
	PQconninfoOption *opts, *o;
	char *perr = NULL;
	int r = 0;

	if (!(opts = PQconninfoParse(uri, &perr))) {
		snprintf(err, errlen, "database URI: %s", perr ? perr : "out of memory");
		PQfreemem(perr);
		return -EINVAL;
	}
	for (o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0]) {
			snprintf(err, errlen,
				 "database URI carries a password, which would show in the process "
				 "list; put it in PGPASSFILE (mode 0600) or ~/.pgpass instead");
			r = -EINVAL;
		}
	PQconninfoFree(opts);
	return r;
}

/* Connects with the operator's credentials (from libpq's environment and files). */
static int
connect_core(const char *uri, PGconn **out, char *err, size_t errlen)
{
	static const char *const keys[] = {"dbname", "application_name", "connect_timeout",
					   "client_encoding", NULL};
	const char *vals[] = {uri, "svrun", "10", "UTF8", NULL};
	char msg[512];
	int r;

	*out = NULL;
	if ((r = check_no_password(uri, err, errlen)) < 0)
		return r;
	*out = PQconnectdbParams(keys, vals, 1);
	if (!*out || PQstatus(*out) != CONNECTION_OK) {
		sv_pg_message(*out, NULL, msg, sizeof(msg));
		snprintf(err, errlen, "cannot connect to PostgreSQL (%s): %s", uri, msg);
		PQfinish(*out);
		*out = NULL;
		return -EIO;
	}
	PQsetNoticeProcessor(*out, drop_notice, NULL);
	return 0;
}

/* Counts the core objects; -EIO if the catalog cannot be read. */
static int
count_core(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sv_pg_count_sql);
	char msg[512];
	int r;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		sv_pg_message(conn, res, msg, sizeof(msg));
		snprintf(err, errlen, "cannot read the schema: %s", msg);
		r = -EIO;
	} else {
		r = atoi(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return r;
}

/* Opens the core connection, only to a database that holds the core schema. */
static int
pg_open(const char *uri, struct sv_db **out, char *err, size_t errlen)
{
	struct pg_db *d;
	int r;

	*out = NULL;
	if (!(d = calloc(1, sizeof(*d))))
		return -ENOMEM;
	d->base.ops = &sv_backend_pg;
	if ((r = connect_core(uri, &d->core, err, errlen)) < 0)
		goto out;
	if ((r = count_core(d->core, err, errlen)) < 0)
		goto out;
	if (r != SV_PG_SCHEMA_OBJECTS) {
		snprintf(err, errlen,
			 "database %s lacks the Sovereign core schema; create it with: svrun init "
			 "--db %s",
			 PQdb(d->core), uri);
		r = -EIO;
		goto out;
	}
	*out = &d->base;
	d = NULL; /* transferred */
	r = 0;
out:
	if (d) {
		PQfinish(d->core);
		free(d);
	}
	return r;
}

/* Applies the hardening migration on @conn. */
static int
harden(PGconn *conn, char *err, size_t errlen)
{
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && sv_pg_hardening[i]; i++)
		r = sv_pg_exec(conn, sv_pg_hardening[i], "cannot harden the schema", err, errlen);
	return r;
}

/* Creates the core schema and applies the hardening, in one transaction. */
static int
pg_init(const char *uri, int demo, char *err, size_t errlen)
{
	PGconn *conn = NULL;
	int r, in_tx = 0;

	if ((r = connect_core(uri, &conn, err, errlen)) < 0)
		return r;
	if ((r = sv_pg_exec(conn, "BEGIN", "cannot create the schema", err, errlen)) < 0)
		goto out;
	in_tx = 1;
	/* Two concurrent inits must not both see an empty schema. */
	if ((r = sv_pg_exec(conn, "SELECT pg_advisory_xact_lock(hashtext('svrun:init'))",
			    "cannot create the schema", err, errlen)) < 0 ||
	    (r = count_core(conn, err, errlen)) < 0)
		goto out;
	if (r > 0) {
		snprintf(err, errlen, "the database already holds the Sovereign schema");
		r = -EEXIST;
		goto out;
	}
	if ((r = sv_pg_exec(conn, sv_pg_core_sql, "cannot create the schema", err, errlen)) < 0 ||
	    (demo && (r = sv_pg_exec(conn, sv_schema_demo_rows, "cannot add the demo rows", err,
				     errlen)) < 0) ||
	    (demo && (r = sv_pg_exec(conn, sv_pg_demo_visits, "cannot add the demo rows", err,
				     errlen)) < 0) ||
	    (r = harden(conn, err, errlen)) < 0 ||
	    (r = sv_pg_exec(conn, "COMMIT", "cannot create the schema", err, errlen)) < 0)
		goto out;
	in_tx = 0;
	r = 0;
out:
	if (in_tx)
		PQclear(PQexec(conn, "ROLLBACK"));
	PQfinish(conn);
	return r;
}

/* Closes the core connection. */
static void
pg_close(struct sv_db *base)
{
	struct pg_db *d = (struct pg_db *)base;

	PQfinish(d->core);
	free(d);
}

/* Runs one of the core connection's queries with text parameters; 0 or -EIO. */
static int
core_query(PGconn *core, const char *sql, int n, const char *const *params, PGresult **out,
	   const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(core, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	char msg[512];

	*out = NULL;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		sv_pg_message(core, res, msg, sizeof(msg));
		snprintf(err, errlen, "%s: %s", what, msg);
		PQclear(res);
		return -EIO;
	}
	*out = res;
	return 0;
}

/* A fresh password: 32 random bytes as hex. */
static int
random_password(char *out, size_t len)
{
	unsigned char raw[32];
	size_t i;

	if (len < 2 * sizeof(raw) + 1 || getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* Sets the role's password to the SCRAM verifier of @password, or none when NULL. */
static int
set_role_password(PGconn *core, const char *role, const char *password, char *err, size_t errlen)
{
	char *verifier = NULL, *lit = NULL, *ident = NULL, *sql = NULL;
	int r = -ENOMEM;

	if (!(ident = PQescapeIdentifier(core, role, strlen(role))))
		goto out;
	if (password) {
		verifier = PQencryptPasswordConn(core, password, role, "scram-sha-256");
		if (!verifier || !(lit = PQescapeLiteral(core, verifier, strlen(verifier))))
			goto out;
	}
	if (asprintf(&sql, "ALTER ROLE %s PASSWORD %s", ident, lit ? lit : "NULL") < 0) {
		sql = NULL;
		goto out;
	}
	r = sv_pg_exec(core, sql, "cannot set the plugin role's password", err, errlen);
out:
	if (r == -ENOMEM)
		snprintf(err, errlen, "cannot set the plugin role's password: out of memory");
	PQfreemem(verifier);
	PQfreemem(lit);
	PQfreemem(ident);
	free(sql);
	return r;
}

/*
 * The process at the other end of @conn: its backend, when the server is on this
 * machine behind a Unix socket; 0 over TCP, or from another PID namespace.
 */
static pid_t
server_pid(PGconn *conn)
{
	struct ucred peer;
	socklen_t len = sizeof(peer);

	if (getsockopt(PQsocket(conn), SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
		return 0;
	return peer.pid;
}

/*
 * Connects as @role with @password to the server and database of the core connection,
 * with the plugin's identity and time limits fixed as connection options.
 */
static int
connect_plugin(struct pg_session *s, PGconn *core, const char *role, const char *password,
	       char *err, size_t errlen)
{
	static const char *const replaced[] = {
	    "user",    "password",	  "passfile", "application_name",
	    "options", "client_encoding", "service",  NULL};
	PQconninfoOption *opts = PQconninfo(core), *o;
	const char **keys = NULL, **vals = NULL;
	char app[96], options[256], msg[512];
	size_t n = 0, i;
	int r = -ENOMEM, skip;

	if (!opts)
		goto out;
	for (o = opts; o->keyword; o++)
		n++;
	if (!(keys = calloc(n + 6, sizeof(*keys))) || !(vals = calloc(n + 6, sizeof(*vals))))
		goto out;
	n = 0;
	for (o = opts; o->keyword; o++) {
		for (skip = 0, i = 0; replaced[i]; i++)
			skip |= strcmp(o->keyword, replaced[i]) == 0;
		if (!skip && o->val && o->val[0]) {
			keys[n] = o->keyword;
			vals[n++] = o->val;
		}
	}
	snprintf(app, sizeof(app), "plugin:%s", s->id);
	snprintf(options, sizeof(options),
		 "-c search_path=public -c default_transaction_read_only=on "
		 "-c statement_timeout=%lu -c lock_timeout=%lu "
		 "-c idle_in_transaction_session_timeout=%lu",
		 s->base.lim.statement_ms, s->base.lim.statement_ms, s->base.lim.idle_tx_ms);
	keys[n] = "user";
	vals[n++] = role;
	keys[n] = "password";
	vals[n++] = password;
	keys[n] = "application_name";
	vals[n++] = app;
	keys[n] = "options";
	vals[n++] = options;
	keys[n] = "client_encoding";
	vals[n++] = "UTF8";
	s->conn = PQconnectdbParams(keys, vals, 0);
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
		sv_pg_message(s->conn, NULL, msg, sizeof(msg));
		snprintf(err, errlen, "cannot connect as %s: %s", role, msg);
		r = -EIO;
		goto out;
	}
	PQsetNoticeProcessor(s->conn, drop_notice, NULL);
	s->spin.on = sv_spin_pays_for(server_pid(s->conn));
	r = 0;
out:
	if (r == -ENOMEM)
		snprintf(err, errlen, "cannot connect as %s: out of memory", role);
	free(keys);
	free(vals);
	PQconninfoFree(opts);
	return r;
}

/* Remembers the identity settings the session starts with, to hold them fixed. */
static int
remember_fixed(struct pg_session *s)
{
	const char *v;
	size_t i;

	for (i = 0; i < NFIXED; i++) {
		v = PQparameterStatus(s->conn, fixed_settings[i]);
		free(s->fixed[i]);
		if (!(s->fixed[i] = strdup(v ? v : "")))
			return -ENOMEM;
	}
	return 0;
}

/* Names the first fixed setting that no longer has its value, or NULL. */
static const char *
changed_setting(const struct pg_session *s)
{
	const char *v;
	size_t i;

	for (i = 0; i < NFIXED; i++) {
		v = PQparameterStatus(s->conn, fixed_settings[i]);
		if (strcmp(v ? v : "", s->fixed[i]) != 0)
			return fixed_settings[i];
	}
	return NULL;
}

/* Closes a plugin's connection: the server rolls back whatever it left open. */
static void
pg_session_close(struct sv_session *base)
{
	struct pg_session *s = (struct pg_session *)base;
	size_t i;

	if (!s)
		return;
	/* The server rolls back whatever the plugin left open when the connection ends. */
	PQfinish(s->conn);
	for (i = 0; i < NFIXED; i++)
		free(s->fixed[i]);
	forget_prepared(s);
	free(s);
}

/*
 * Connects @s as its plugin's role over the core connection @core: under an advisory
 * lock, gives the role a one-time password, connects, and takes the password away
 * again, whatever happened. Returns 0 with s->conn and s->fixed set, or -errno with @err.
 */
static int
log_in(struct pg_session *s, PGconn *core, char *err, size_t errlen)
{
	const char *params[1] = {s->id};
	char role[96], password[80] = "", err2[512];
	PGresult *res = NULL;
	int r, locked = 0, has_password = 0;

	snprintf(role, sizeof(role), SV_PG_ROLE_PREFIX "%s", s->id);
	if ((r = core_query(core, "SELECT pg_advisory_lock(hashtext('svrun:role:' || $1))", 1,
			    params, &res, "cannot lock the plugin role", err, errlen)) < 0)
		goto out;
	locked = 1;
	if (random_password(password, sizeof(password)) < 0) {
		snprintf(err, errlen, "cannot draw a random password");
		r = -EIO;
		goto out;
	}
	if ((r = set_role_password(core, role, password, err, errlen)) < 0)
		goto out;
	has_password = 1;
	if ((r = connect_plugin(s, core, role, password, err, errlen)) < 0)
		goto out;
	if ((r = remember_fixed(s)) < 0)
		snprintf(err, errlen, "out of memory");
out:
	explicit_bzero(password, sizeof(password));
	/* Whatever happened, the role cannot log in again until the next log-in. */
	if (has_password && set_role_password(core, role, NULL, err2, sizeof(err2)) < 0 &&
	    r == 0) {
		snprintf(err, errlen, "%s", err2);
		r = -EIO;
	}
	PQclear(res);
	if (locked)
		PQclear(PQexecParams(core, "SELECT pg_advisory_unlock(hashtext('svrun:role:' || $1))",
				     1, NULL, params, NULL, NULL, 0));
	return r;
}

/* Opens the plugin's connection once it is checked to be installed. */
static int
pg_session_open(struct sv_db *dbase, const char *plugin_id, const struct sv_session_limits *lim,
		struct sv_session **out, char *err, size_t errlen)
{
	struct pg_db *d = (struct pg_db *)dbase;
	struct pg_session *s;
	const char *params[1] = {plugin_id};
	PGresult *res = NULL;
	int r;

	*out = NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->base.ops = &sv_backend_pg;
	s->base.lim = *lim;
	s->base.first_poll_ns = FIRST_POLL_NS;
	s->db = d;
	snprintf(s->id, sizeof(s->id), "%s", plugin_id);
	if ((r = core_query(d->core,
			    "SELECT 1 FROM sv_installed i JOIN pg_roles r ON r.rolname = "
			    "'" SV_PG_ROLE_PREFIX "' || i.id WHERE i.id = $1",
			    1, params, &res, "cannot look up the plugin", err, errlen)) < 0)
		goto out;
	if (PQntuples(res) != 1) {
		snprintf(err, errlen,
			 "plugin %s is not installed in database %s; install it first: svrun "
			 "install --db URI PLUGIN.so",
			 plugin_id, PQdb(d->core));
		r = -ENOENT;
		goto out;
	}
	if ((r = log_in(s, d->core, err, errlen)) < 0)
		goto out;
	*out = &s->base;
	s = NULL; /* transferred */
	r = 0;
out:
	PQclear(res);
	pg_session_close(s ? &s->base : NULL);
	return r;
}

/*
 * Connects the plugin again after the server ended its connection (a restart, or
 * pg_terminate_backend): with its own role and the same settings, as at the start, and
 * the core connection reset first if it went too. Only a connection libpq reports lost
 * is replaced; one given up for a setting the plugin changed stays given up. What the
 * plugin's transaction held went with the old connection: s->tx_lost says so until
 * it ends it. Returns 0, or -EIO with @err (the next request tries again).
 */
static int
reconnect(struct pg_session *s, char *err, size_t errlen)
{
	PGconn *old = s->conn;
	char why[512];

	if (PQstatus(old) != CONNECTION_BAD || sv_now_ns() < s->next_reconnect_ns)
		return -EIO;
	/* The broker waits while it connects: a server that is down is not asked often. */
	s->next_reconnect_ns = sv_now_ns() + RECONNECT_EVERY_NS;
	if (PQstatus(s->db->core) != CONNECTION_OK)
		PQreset(s->db->core);
	s->conn = NULL;
	if (PQstatus(s->db->core) != CONNECTION_OK || log_in(s, s->db->core, why, sizeof(why)) < 0) {
		if (PQstatus(s->db->core) != CONNECTION_OK)
			sv_pg_message(s->db->core, NULL, why, sizeof(why));
		sv_session_set_reason(&s->base, "postgresql: the connection was lost and cannot "
				      "be made again yet: %s", why);
		snprintf(err, errlen, "the database connection was lost");
		PQfinish(s->conn);
		s->conn = old;
		return -EIO;
	}
	PQfinish(old);
	forget_prepared(s);
	s->broken = 0;
	s->after_null = 0;
	s->tx_lost = s->base.plugin_tx;
	return 0;
}

/*
 * What every request checks first: a lost connection is made again, and a plugin
 * whose transaction was lost with it hears so until it ends the transaction.
 */
static int
check_usable(struct pg_session *s, char *err, size_t errlen)
{
	if (s->broken && reconnect(s, err, errlen) < 0) {
		if (!s->base.reason[0])
			sv_session_set_reason(&s->base,
					      "postgresql: the plugin's connection was lost earlier");
		snprintf(err, errlen, "the database connection was lost");
		return -EIO;
	}
	if (s->tx_lost) {
		snprintf(err, errlen, "the connection was lost inside the transaction, and all "
			 "of it with it: roll it back to go on");
		sv_session_set_reason(&s->base, "postgresql: request inside a transaction lost "
				      "with its connection");
		return -EIO;
	}
	return 0;
}

/* Read by the request path, which cancels a statement still running at the deadline. */
static void
pg_set_deadline(struct sv_session *base, uint64_t deadline_ns)
{
	((struct pg_session *)base)->deadline_ns = deadline_ns;
}

/* Asks the server to stop the running statement. */
static void
cancel(struct pg_session *s)
{
	PGcancel *c = PQgetCancel(s->conn);
	char buf[256];

	if (c) {
		PQcancel(c, buf, sizeof(buf));
		PQfreeCancel(c);
	}
}

/*
 * How long to wait for the server before looking again: until the deadline, and no
 * longer than the next cancel poll when the plugin may cancel (the server's socket says
 * nothing of the plugin's channel).
 */
static struct timespec
wait_for(const struct pg_session *s, uint64_t now)
{
	uint64_t ns = CANCEL_GRACE_MS * 1000000ull;

	if (s->deadline_ns && s->deadline_ns - now < ns)
		ns = s->deadline_ns - now;
	if (s->base.cancel && s->base.cancel_next > now && s->base.cancel_next - now < ns)
		ns = s->base.cancel_next - now;
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
				 .tv_nsec = (long)(ns % 1000000000u)};
}

/*
 * Polls the server's socket without sleeping for as long as the session's spin says, so
 * an answer that comes in tens of microseconds does not cost the broker a wake-up.
 */
static void
spin_for_server(struct pg_session *s, struct pollfd *pfd, uint64_t now)
{
	uint64_t budget = sv_spin_budget(&s->spin), until = now + budget;

	while (budget > 0 && poll(pfd, 1, 0) == 0 && sv_now_ns() < until)
		;
}

/*
 * Waits for the next result of @s, cancelling the statement once the deadline passes or
 * the plugin cancels it, and giving the connection up if the server does not answer
 * within the grace after. Returns 0 with *@res (NULL at the end of a query's results),
 * or -EIO. Two ends in a row mean the pipeline is gone (a lost connection), never a loop.
 */
static int
next_result(struct pg_session *s, PGresult **res)
{
	struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN};
	struct timespec wait;
	uint64_t now;
	int stopping;

	*res = NULL;
	while (PQisBusy(s->conn)) {
		now = sv_now_ns();
		stopping = s->timed_out || s->base.cancelled;
		if (!stopping) {
			s->timed_out = s->deadline_ns && now >= s->deadline_ns;
			if (s->timed_out || sv_session_poll_cancel(&s->base)) {
				cancel(s);
				continue;
			}
		}
		wait = stopping ? (struct timespec){.tv_sec = CANCEL_GRACE_MS / 1000}
				: wait_for(s, now);
		if (!stopping)
			spin_for_server(s, &pfd, now);
		if (ppoll(&pfd, 1, &wait, NULL) == 0 && stopping) {
			s->broken = 1;
			return -EIO;
		}
		if (!stopping)
			sv_spin_record(&s->spin, sv_now_ns() - now);
		if (!PQconsumeInput(s->conn)) {
			s->broken = 1;
			return -EIO;
		}
	}
	*res = PQgetResult(s->conn);
	if (!*res && s->after_null) {
		s->broken = 1;
		return -EIO;
	}
	s->after_null = *res == NULL;
	return 0;
}

/* Maps a failed result to the plugin's errno and message; the operator gets it all. */
static int
map_error(struct pg_session *s, const PGresult *res, char *err, size_t errlen)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char msg[512];

	sv_pg_message(s->conn, res, msg, sizeof(msg));
	sv_session_set_reason(&s->base, "postgresql: %s%s%s", state ? state : "", state ? ": " : "",
			      msg);
	if (!primary)
		primary = msg;
	if (s->broken || PQstatus(s->conn) != CONNECTION_OK ||
	    (state && strncmp(state, "57P0", 4) == 0)) {
		s->broken = 1;
		snprintf(err, errlen, "the database connection was lost");
		return -EIO;
	}
	if (s->timed_out) {
		snprintf(err, errlen, "the deadline passed; statement interrupted");
		return -ETIMEDOUT;
	}
	if (s->base.cancelled) {
		snprintf(err, errlen, "cancelled while it ran; nothing of it was kept");
		sv_session_set_reason(&s->base, "cancelled by the plugin while it ran (%s)", msg);
		return -ECANCELED;
	}
	if (state && strcmp(state, "57014") == 0) {
		snprintf(err, errlen, "the statement ran past its time limit (%lu ms)",
			 s->base.lim.statement_ms);
		return -ETIMEDOUT;
	}
	if (!state)
		state = "";
	/* Refused, or naming what the role cannot see: the same word either way. */
	if (strcmp(state, "42501") == 0 || strcmp(state, "42P01") == 0 ||
	    strcmp(state, "25006") == 0 || strcmp(state, "42883") == 0 ||
	    strcmp(state, "3F000") == 0 || strcmp(state, "42704") == 0) {
		snprintf(err, errlen, "not permitted: %s", primary);
		return -EACCES;
	}
	if (strncmp(state, "54", 2) == 0) {
		snprintf(err, errlen, "the statement exceeds the database's limits");
		return -E2BIG;
	}
	if (strcmp(state, "55P03") == 0 || strncmp(state, "40", 2) == 0 ||
	    strncmp(state, "53", 2) == 0) {
		snprintf(err, errlen, "the database is busy");
		return -EIO;
	}
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
	    strncmp(state, "58", 2) == 0 || strncmp(state, "XX", 2) == 0) {
		snprintf(err, errlen, "the database failed");
		return -EIO;
	}
	snprintf(err, errlen, "%s", primary);
	return -EINVAL;
}

/* Rows written by an INSERT, UPDATE, DELETE or MERGE; 0 for anything else. */
static long long
changes_of(const PGresult *res)
{
	static const char *const writes[] = {"INSERT ", "UPDATE ", "DELETE ", "MERGE "};
	const char *status = PQcmdStatus((PGresult *)res);
	size_t i;

	for (i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
		if (strncmp(status, writes[i], strlen(writes[i])) == 0)
			return atoll(PQcmdTuples((PGresult *)res));
	return 0;
}

/* Type OIDs of pg_type, fixed since PostgreSQL's first catalogs (pg_type.dat). */
#define BOOLOID 16
#define BYTEAOID 17
#define INT8OID 20
#define INT2OID 21
#define INT4OID 23
#define FLOAT4OID 700
#define FLOAT8OID 701

/* The enum sv_type a column of PostgreSQL type @oid is sent as. */
static unsigned char
type_of(Oid oid)
{
	switch (oid) {
	case BOOLOID:
	case INT2OID:
	case INT4OID:
	case INT8OID:
		return SV_INTEGER;
	case FLOAT4OID:
	case FLOAT8OID:
		return SV_REAL;
	case BYTEAOID:
		return SV_BLOB;
	default:
		return SV_TEXT;
	}
}

/* Room for one row of results, reused for every row of a statement. */
struct row_room {
	const char **texts;
	size_t *lens;
	unsigned char *types;
	unsigned char **blobs;	/* bytea decoded, held until the row is copied */
};

/* Sizes @rr for the columns of @res and gives @b their names. Returns 0 or -errno. */
static int
begin_rows(struct row_room *rr, struct sv_rows_builder *b, const PGresult *res)
{
	int i, n = PQnfields(res), r;

	if (n > 0 && (!(rr->texts = calloc((size_t)n, sizeof(*rr->texts))) ||
		      !(rr->lens = calloc((size_t)n, sizeof(*rr->lens))) ||
		      !(rr->types = calloc((size_t)n, sizeof(*rr->types))) ||
		      !(rr->blobs = calloc((size_t)n, sizeof(*rr->blobs)))))
		return -ENOMEM;
	for (i = 0; i < n; i++)
		if ((r = sv_rows_add_name(b, PQfname(res, i))) < 0)
			return r;
	return 0;
}

/* Frees what @rr holds. */
static void
free_rows(struct row_room *rr)
{
	free(rr->texts);
	free(rr->lens);
	free(rr->types);
	free(rr->blobs);
	memset(rr, 0, sizeof(*rr));
}

/*
 * Adds the single row of @res. Text results are sent as their type says: a boolean as
 * 1 or 0, a bytea decoded from its hex text form into bytes.
 */
static int
add_row(struct sv_rows_builder *b, const PGresult *res, struct row_room *rr)
{
	int i, n = PQnfields(res), r = 0;

	for (i = 0; i < n; i++)
		rr->blobs[i] = NULL;
	for (i = 0; i < n && r == 0; i++) {
		rr->types[i] = type_of(PQftype(res, i));
		rr->texts[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
		rr->lens[i] = (size_t)PQgetlength(res, 0, i);
		if (rr->texts[i] && PQftype(res, i) == BOOLOID) {
			rr->texts[i] = rr->texts[i][0] == 't' ? "1" : "0";
			rr->lens[i] = 1;
		} else if (rr->texts[i] && rr->types[i] == SV_BLOB) {
			rr->blobs[i] = PQunescapeBytea((const unsigned char *)rr->texts[i],
						       &rr->lens[i]);
			if ((rr->texts[i] = (const char *)rr->blobs[i]) == NULL)
				r = -ENOMEM;
		}
	}
	if (r == 0)
		r = sv_rows_add_row(b, rr->texts, rr->lens, rr->types);
	for (i = 0; i < n; i++)
		PQfreemem(rr->blobs[i]);
	return r;
}

/*
 * Reads the plugin statement's results row by row into @out within the limits, then
 * the pipeline's end. On a limit the statement is cancelled and the rest drained.
 */
static int
collect(struct pg_session *s, struct sv_rows *out, char *err, size_t errlen)
{
	struct sv_rows_builder b;
	struct row_room rr = {0};
	PGresult *res = NULL;
	ExecStatusType st;
	int r = 0, named = 0;

	sv_rows_begin(&b, out, &s->base.lim);
	PQsetSingleRowMode(s->conn);
	for (;;) {
		if (next_result(s, &res) < 0) {
			r = r ? r : map_error(s, NULL, err, errlen);
			goto out;
		}
		if (!res)
			continue;
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC)
			break;
		if (r == 0 && (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) && !named) {
			named = 1;
			if ((r = begin_rows(&rr, &b, res)) < 0)
				cancel(s);
		}
		if (r == 0 && st == PGRES_SINGLE_TUPLE && (r = add_row(&b, res, &rr)) < 0)
			cancel(s);
		else if (r == 0 && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK))
			out->changes = changes_of(res);
		else if (r == 0 && st != PGRES_SINGLE_TUPLE)
			r = map_error(s, res, err, errlen);
		PQclear(res);
		res = NULL;
	}
out:
	if (r == -E2BIG || r == -ENOMEM) {
		snprintf(err, errlen,
			 r == -E2BIG ? "the result exceeds the session's limits" : "out of memory");
		sv_session_set_reason(&s->base, "result: %s (limits: %zu bytes, %zu rows)",
				      strerror(-r), s->base.lim.result_bytes,
				      s->base.lim.result_rows);
	}
	PQclear(res);
	free_rows(&rr);
	return r;
}

/* Ends the statement's transaction or savepoint: kept when @keep, undone otherwise. */
static int
finish_statement(struct pg_session *s, int keep)
{
	const char *sql;
	PGresult *res;
	int ok;

	if (s->base.plugin_tx)
		sql = keep ? "RELEASE sv_statement"
			   : "ROLLBACK TO SAVEPOINT sv_statement; RELEASE sv_statement";
	else
		sql = keep ? "COMMIT" : "ROLLBACK";
	res = PQexec(s->conn, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		sv_session_set_reason(&s->base, "postgresql: %s: %s", sql,
				      PQresultErrorMessage(res));
	PQclear(res);
	if (PQstatus(s->conn) != CONNECTION_OK)
		s->broken = 1;
	return ok ? 0 : -EIO;
}

/* Checks the statement's kind from its first word; only reads and writes of rows pass. */
static int
check_kind(const char *sql, char *err, size_t errlen)
{
	return sv_check_kind(sql, plugin_kinds, sizeof(plugin_kinds) / sizeof(plugin_kinds[0]), err,
			     errlen);
}

/* Statement kinds that cannot write rows: they run as a read-only transaction. */
static int
is_read(const char *sql)
{
	static const char *const reads[] = {"SELECT", "VALUES", "TABLE"};
	char word[64];

	return sv_check_kind(sql, reads, sizeof(reads) / sizeof(reads[0]), word, sizeof(word)) == 0;
}

/*
 * What opens a writing statement's transaction (see pg_query()): READ WRITE said out
 * loud, since every other transaction of the session is read-only by default.
 */
static const char *
begin_of(const struct pg_session *s)
{
	return s->base.plugin_tx ? "SAVEPOINT sv_statement" : "BEGIN READ WRITE";
}

/* Parameters as libpq sends them: one array each of values, lengths, formats, types. */
struct wire {
	const char **values;
	int *lengths;
	int *formats;
	Oid *types;
	char (*nums)[32];
};

/* Frees the arrays of @w. */
static void
free_wire(struct wire *w)
{
	free(w->values);
	free(w->lengths);
	free(w->formats);
	free(w->types);
	free(w->nums);
	memset(w, 0, sizeof(*w));
}

/*
 * Lays out @n typed parameters for PQsendQueryParams: an integer as int8 text, a double
 * as float8 text (exact), a blob as binary bytea, text as text of a type the server
 * infers, as before types existed. Returns 0 or -ENOMEM.
 */
static int
to_wire(size_t n, const struct sv_param *p, struct wire *w)
{
	if (!(w->values = calloc(n + 1, sizeof(*w->values))) ||
	    !(w->lengths = calloc(n + 1, sizeof(*w->lengths))) ||
	    !(w->formats = calloc(n + 1, sizeof(*w->formats))) ||
	    !(w->types = calloc(n + 1, sizeof(*w->types))) ||
	    !(w->nums = calloc(n + 1, sizeof(*w->nums)))) {
		free_wire(w);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		switch (p[i].type) {
		case SV_INTEGER:
			snprintf(w->nums[i], sizeof(w->nums[i]), "%lld", p[i].integer);
			w->values[i] = w->nums[i];
			w->types[i] = INT8OID;
			break;
		case SV_REAL:
			sv_format_double(w->nums[i], p[i].real);
			w->values[i] = w->nums[i];
			w->types[i] = FLOAT8OID;
			break;
		case SV_BLOB:
			w->values[i] = p[i].data ? p[i].data : "";
			w->lengths[i] = (int)p[i].len;
			w->formats[i] = 1;
			w->types[i] = BYTEAOID;
			break;
		case SV_TEXT:
			w->values[i] = p[i].data;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* The length of parameter @i of @w as sent: a binary value's bytes, text without NUL. */
static size_t
value_len(const struct wire *w, size_t i)
{
	if (!w->values[i])
		return 0;
	return w->formats[i] ? (size_t)w->lengths[i] : strlen(w->values[i]);
}

/* The parameter values of @w end to end, each after its length (-1: NULL), or NULL. */
static char *
wire_bytes(size_t n, const struct wire *w, size_t *len)
{
	size_t total = 0, at = 0, vlen;
	int32_t mark;
	char *buf;

	for (size_t i = 0; i < n; i++)
		total += sizeof(mark) + value_len(w, i);
	if ((buf = malloc(total + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		vlen = value_len(w, i);
		mark = w->values[i] ? (int32_t)vlen : -1;
		memcpy(buf + at, &mark, sizeof(mark));
		at += sizeof(mark);
		memcpy(buf + at, w->values[i] ? w->values[i] : "", vlen);
		at += vlen;
	}
	*len = total;
	return buf;
}

/*
 * Reads the server's answer to a command sent ahead of the statement in its pipeline
 * (a DEALLOCATE, the preparing of the statement) and the end of it. Returns 0 when the
 * server did it, or -errno with @err.
 */
static int
take_command(struct pg_session *s, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int r = 0;

	if (next_result(s, &res) < 0 || PQresultStatus(res) != PGRES_COMMAND_OK)
		r = map_error(s, res, err, errlen);
	PQclear(res);
	res = NULL;
	if (r == 0 && (next_result(s, &res) < 0 || res != NULL))
		r = map_error(s, res, err, errlen);
	PQclear(res);
	return r;
}

/*
 * Ends a statement's pipeline: its results into @out while @r is 0, drained otherwise;
 * pipeline mode left; a fixed setting it changed refused and put back; and the
 * statement's transaction (@started, or a read's that failed half-way) ended. Returns
 * @r, or the first failure of these.
 */
static int
end_statement(struct pg_session *s, int r, int read_only, int started, struct sv_rows *out,
	      char *err, size_t errlen)
{
	PGresult *res = NULL;
	const char *setting;

	if (r == 0) {
		r = collect(s, out, err, errlen);
	} else {
		/* Whatever the pipeline still holds, up to its end. */
		while (!s->broken && next_result(s, &res) == 0 &&
		       (!res || PQresultStatus(res) != PGRES_PIPELINE_SYNC)) {
			PQclear(res);
			res = NULL;
		}
		PQclear(res);
	}
	if (!s->broken && PQexitPipelineMode(s->conn) != 1)
		s->broken = 1;
	if (r == 0 && (setting = changed_setting(s)) != NULL) {
		snprintf(err, errlen, "not permitted: changing %s", setting);
		sv_session_set_reason(&s->base,
				      "the statement changed %s, which is fixed for the "
				      "plugin's session; rolled back",
				      setting);
		r = -EACCES;
	}
	/* A read committed in its pipeline; one that failed half-way is still open. */
	if (read_only)
		started = !s->broken && PQtransactionStatus(s->conn) != PQTRANS_IDLE;
	if (started && !s->broken && finish_statement(s, r == 0) < 0 && r == 0)
		r = map_error(s, NULL, err, errlen);
	/* A read commits what set_config() did: put the connection's values back. */
	if (!s->broken && read_only && changed_setting(s) != NULL)
		PQclear(PQexec(s->conn, "RESET ALL"));
	/* A SET that could not be undone ends the session: nothing more runs on it. */
	if (changed_setting(s) != NULL)
		s->broken = 1;
	return r;
}

/*
 * Reads a read sent ahead that was not asked for again (its deadline passed first, or
 * the caller asks something else) to its end and drops its rows, so the connection is
 * free for the request at hand.
 */
static void
land_flight(struct pg_session *s)
{
	struct sv_rows none = {0};
	char why[256];

	if (s->flight == NULL)
		return;
	clear_flight(s);
	end_statement(s, -ECANCELED, 1, 0, &none, why, sizeof(why));
	sv_rows_clear(&none);
}

/*
 * Sends the read of prepared statement @p and leaves it running (sv_session_defer), to
 * be collected when the runner asks for this request again. Returns -EAGAIN once sent,
 * or -errno with @err.
 */
static int
send_ahead(struct pg_session *s, struct prepared *p, size_t nparams, const struct wire *w,
	   char *err, size_t errlen)
{
	char name[16];

	if ((s->flight_params = wire_bytes(nparams, w, &s->flight_len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "sv_%u", p->id);
	s->after_null = 0;
	if (PQenterPipelineMode(s->conn) != 1 ||
	    PQsendQueryPrepared(s->conn, name, (int)nparams, w->values, w->lengths, w->formats,
				0) != 1 ||
	    PQpipelineSync(s->conn) != 1) {
		clear_flight(s);
		if (PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF &&
		    PQexitPipelineMode(s->conn) != 1)
			s->broken = 1;
		return map_error(s, NULL, err, errlen);
	}
	s->flight = p;
	s->base.in_flight = 1;
	p->used = ++s->prepared_uses;
	snprintf(err, errlen, "sent ahead");
	return -EAGAIN;
}

/*
 * Whether the server has begun to answer what was sent, without waiting and without
 * reading it: libpq must not parse the rows before collect() puts it in single-row mode.
 * A socket that fails here says so when the answer is collected.
 */
static int
answered(const struct pg_session *s)
{
	struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN};

	return poll(&pfd, 1, 0) != 0;
}

/* Whether the read sent ahead is this one: the same prepared statement and values. */
static int
is_flight(const struct pg_session *s, const struct prepared *p, size_t nparams,
	  const struct wire *w)
{
	size_t len;
	char *bytes;
	int same;

	if (s->flight == NULL || s->flight != p || (bytes = wire_bytes(nparams, w, &len)) == NULL)
		return 0;
	same = len == s->flight_len && memcmp(bytes, s->flight_params, len) == 0;
	free(bytes);
	return same;
}

/*
 * One plugin statement. A read outside the plugin's transaction is one round trip and
 * one statement: it runs on its own, in a transaction that is read-only because every
 * transaction of the session is unless it says otherwise (default_transaction_read_only,
 * fixed for the session like the identity settings), so the server itself refuses any
 * write in it (nextval, a write hidden in a function). Anything else is two
 * round trips: BEGIN READ WRITE (or a savepoint inside the plugin's transaction) with the
 * statement, then the broker commits or rolls back, so a statement that fails, overruns
 * or changes a fixed setting leaves nothing behind.
 */
static int
pg_query(struct sv_session *base, const char *sql, size_t nparams, const struct sv_param *params,
	 struct sv_rows *out, char *err, size_t errlen)
{
	struct pg_session *s = (struct pg_session *)base;
	struct prepared fresh = {0}, *ready, *victim = NULL;
	struct wire w = {0};
	PGresult *res = NULL;
	char name[16], deallocate[32];
	int r, started = 0, sent = 0, read_only, preparing = 0;

	s->timed_out = 0;
	if ((r = check_usable(s, err, errlen)) < 0)
		return r;
	if (strlen(sql) > base->lim.sql_bytes || nparams > base->lim.params) {
		snprintf(err, errlen,
			 "the statement exceeds the session's limits (%zu bytes, %zu "
			 "parameters)",
			 base->lim.sql_bytes, base->lim.params);
		return -EINVAL;
	}
	if ((r = check_kind(sql, err, errlen)) < 0) {
		sv_session_set_reason(base, "statement kind refused: %s", err);
		return r;
	}
	if (s->deadline_ns && sv_now_ns() >= s->deadline_ns) {
		snprintf(err, errlen, "the deadline passed; statement interrupted");
		return -ETIMEDOUT;
	}
	if (to_wire(nparams, params, &w) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	read_only = !s->base.plugin_tx && is_read(sql);
	ready = find_prepared(s, sql, nparams, w.types);
	/* Sent ahead in an earlier pass of the runner's turn: its answer is all that is left. */
	if (read_only && ready && is_flight(s, ready, nparams, &w)) {
		free_wire(&w);
		if (base->defer == SV_DEFER_NESTED && !answered(s)) {
			snprintf(err, errlen, "still running");
			return -EAGAIN;
		}
		clear_flight(s);
		r = end_statement(s, 0, 1, 0, out, err, errlen);
		if (r < 0)
			sv_rows_clear(out);
		return r;
	}
	land_flight(s);
	if (read_only && ready && base->defer && !s->broken) {
		r = send_ahead(s, ready, nparams, &w, err, errlen);
		free_wire(&w);
		return r;
	}
	s->after_null = 0;
	if (PQenterPipelineMode(s->conn) != 1) {
		free_wire(&w);
		s->broken = 1;
		return map_error(s, NULL, err, errlen);
	}
	/* One statement only: the extended protocol refuses "a; b" in the server itself. */
	if (ready != NULL) {
		ready->used = ++s->prepared_uses;
	} else {
		if (s->nprepared == PREPARED_MAX && !s->base.plugin_tx)
			victim = least_used(s);
		preparing = (s->nprepared < PREPARED_MAX || victim) &&
			    fill_prepared(s, &fresh, sql, nparams, w.types) == 0;
		if (!preparing)
			victim = NULL;
	}
	snprintf(name, sizeof(name), "sv_%u", ready ? ready->id : fresh.id);
	if (victim)
		snprintf(deallocate, sizeof(deallocate), "DEALLOCATE sv_%u", victim->id);
	sent = (!victim ||
		PQsendQueryParams(s->conn, deallocate, 0, NULL, NULL, NULL, NULL, 0) == 1) &&
	       (read_only || PQsendQueryParams(s->conn, begin_of(s), 0, NULL, NULL, NULL, NULL,
					       0) == 1) &&
	       (!preparing || PQsendPrepare(s->conn, name, sql, (int)nparams, w.types) == 1) &&
	       (ready || preparing ? PQsendQueryPrepared(s->conn, name, (int)nparams, w.values,
							  w.lengths, w.formats, 0)
		      : PQsendQueryParams(s->conn, sql, (int)nparams, w.types, w.values,
					  w.lengths, w.formats, 0)) == 1 &&
	       PQpipelineSync(s->conn) == 1;
	free_wire(&w);
	if (!sent) {
		r = map_error(s, NULL, err, errlen);
		goto out;
	}
	/* Deallocated, the entry goes whatever becomes of the statement after it. */
	if (victim) {
		if ((r = take_command(s, err, errlen)) < 0)
			goto end;
		clear_prepared(victim);
		*victim = s->prepared[--s->nprepared];
		s->prepared[s->nprepared] = (struct prepared){0};
	}
	if (!read_only) {
		if ((r = next_result(s, &res)) < 0 ||
		    (r = (PQresultStatus(res) == PGRES_COMMAND_OK) ? 0
								   : map_error(s, res, err, errlen)) < 0) {
			PQclear(res);
			res = NULL;
			goto end;
		}
		started = 1;
		PQclear(res);
		res = NULL;
		if (next_result(s, &res) < 0 || res != NULL) {
			r = map_error(s, res, err, errlen);
			goto end;
		}
	}
	if (preparing) {
		if ((r = take_command(s, err, errlen)) < 0)
			goto end;
		s->prepared[s->nprepared++] = fresh;
		fresh = (struct prepared){0};
	}
end:
	r = end_statement(s, r, read_only, started, out, err, errlen);
out:
	clear_prepared(&fresh);
	if (!sent && !s->broken && PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF)
		PQexitPipelineMode(s->conn);
	if (r < 0)
		sv_rows_clear(out);
	return r;
}

/* The paged query's cursor. The plugin cannot name it: DECLARE, FETCH and CLOSE are not
 * among the statement kinds it may send. */
#define PAGES_CURSOR "sv_pages"

/*
 * Sends @sql (with the parameters in @w, or none) outside pipeline mode and reads its
 * results to the end: rows into @b when given, in single-row mode; the first failure
 * into @err. A limit or the deadline cancels the statement.
 */
static int
command(struct pg_session *s, const char *sql, size_t nparams, const struct wire *w,
	struct sv_rows_builder *b, char *err, size_t errlen)
{
	struct row_room rr = {0};
	PGresult *res = NULL;
	ExecStatusType st;
	int r = 0, named = 0, sent;

	s->after_null = 0;
	sent = w ? PQsendQueryParams(s->conn, sql, (int)nparams, w->types, w->values, w->lengths,
				     w->formats, 0)
		 : PQsendQuery(s->conn, sql);
	if (!sent)
		return map_error(s, NULL, err, errlen);
	if (b)
		PQsetSingleRowMode(s->conn);
	for (;;) {
		if (next_result(s, &res) < 0) {
			r = r ? r : map_error(s, NULL, err, errlen);
			break;
		}
		if (!res)
			break;
		st = PQresultStatus(res);
		if (r == 0 && st == PGRES_SINGLE_TUPLE && !named) {
			named = 1;
			r = begin_rows(&rr, b, res);
		}
		if (r == 0 && st == PGRES_SINGLE_TUPLE)
			r = add_row(b, res, &rr);
		else if (r == 0 && st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
			r = map_error(s, res, err, errlen);
		if (r == -E2BIG || r == -ENOMEM) {
			snprintf(err, errlen, r == -E2BIG ? "a page exceeds the session's limits: "
							    "ask for fewer rows per page"
							  : "out of memory");
			sv_session_set_reason(&s->base, "page: %s", strerror(-r));
			cancel(s);
		}
		PQclear(res);
		res = NULL;
	}
	free_rows(&rr);
	return r;
}

/*
 * Opens the session's paged query: a read, declared as a cursor in a read-only
 * transaction of its own (a savepoint inside the plugin's), so it keeps one snapshot.
 */
static int
pg_pages_open(struct sv_session *base, const char *sql, size_t nparams,
	      const struct sv_param *params, char *err, size_t errlen)
{
	struct pg_session *s = (struct pg_session *)base;
	struct wire w = {0};
	char *declare = NULL;
	int r;

	s->timed_out = 0;
	land_flight(s);
	if ((r = check_usable(s, err, errlen)) < 0)
		return r;
	if (strlen(sql) > base->lim.sql_bytes || nparams > base->lim.params) {
		snprintf(err, errlen, "the statement exceeds the session's limits (%zu bytes, %zu "
			 "parameters)", base->lim.sql_bytes, base->lim.params);
		return -EINVAL;
	}
	if ((r = check_kind(sql, err, errlen)) < 0)
		return r;
	if (!is_read(sql)) {
		snprintf(err, errlen, "a paged query must only read; write with sv_query");
		sv_session_set_reason(base, "paged: %s", err);
		return -EINVAL;
	}
	if (s->deadline_ns && sv_now_ns() >= s->deadline_ns) {
		snprintf(err, errlen, "the deadline passed; statement interrupted");
		return -ETIMEDOUT;
	}
	if (to_wire(nparams, params, &w) < 0 ||
	    asprintf(&declare, "DECLARE " PAGES_CURSOR " NO SCROLL CURSOR FOR %s", sql) < 0) {
		declare = NULL;
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	if ((r = command(s, s->base.plugin_tx ? "SAVEPOINT sv_statement" : "BEGIN READ ONLY", 0,
			 NULL, NULL, err, errlen)) < 0)
		goto out;
	if ((r = command(s, declare, nparams, &w, NULL, err, errlen)) < 0)
		finish_statement(s, 0);
out:
	free(declare);
	free_wire(&w);
	return r;
}

/* Fetches the next page; a full page may be the last, and then the next one is empty. */
static int
pg_pages_next(struct sv_session *base, size_t rows, struct sv_rows *out, int *more,
	      char *err, size_t errlen)
{
	struct pg_session *s = (struct pg_session *)base;
	struct sv_rows_builder b;
	const char *setting;
	char fetch[64];
	int r;

	s->timed_out = 0;
	if (s->broken) {
		snprintf(err, errlen, "the database connection was lost");
		return -EIO;
	}
	snprintf(fetch, sizeof(fetch), "FETCH FORWARD %zu FROM " PAGES_CURSOR, rows);
	sv_rows_begin(&b, out, &s->base.lim);
	if ((r = command(s, fetch, 0, NULL, &b, err, errlen)) < 0)
		return r;
	/* What the rows computed may have called set_config(): refused, as for a query. */
	if ((setting = changed_setting(s)) != NULL) {
		snprintf(err, errlen, "not permitted: changing %s", setting);
		sv_session_set_reason(base, "the paged query changed %s; rolled back", setting);
		return -EACCES;
	}
	*more = out->nrows == rows;
	return 0;
}

/* Ends the paged query: its transaction (or savepoint) goes, and with it the cursor. */
static void
pg_pages_close(struct sv_session *base)
{
	struct pg_session *s = (struct pg_session *)base;

	if (s->broken)
		return;
	/* A read has nothing to keep; rolling back also undoes any set_config() in it. */
	if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		finish_statement(s, 0);
	if (changed_setting(s) != NULL)
		s->broken = 1;
}

/* The plugin's own transaction: the broker issues the statements, the plugin cannot. */
static int
pg_txn(struct sv_session *base, enum sv_txn op, char *err, size_t errlen)
{
	static const char *const sql[] = {[SV_TXN_BEGIN] = "BEGIN READ WRITE",
					  [SV_TXN_COMMIT] = "COMMIT",
					  [SV_TXN_ROLLBACK] = "ROLLBACK"};
	struct pg_session *s = (struct pg_session *)base;
	PGresult *res;
	int r = 0;

	land_flight(s);
	/* A transaction whose connection was lost is over, whatever the server does now. */
	if (s->base.plugin_tx &&
	    (s->tx_lost || (s->broken && PQstatus(s->conn) == CONNECTION_BAD))) {
		s->tx_lost = 0;
		s->base.plugin_tx = 0;
		if (op == SV_TXN_ROLLBACK)
			return 0;
		snprintf(err, errlen, "the connection was lost inside the transaction: nothing "
			 "of it was committed");
		sv_session_set_reason(base, "postgresql: commit of a transaction lost with its "
				      "connection");
		return -EIO;
	}
	if ((r = check_usable(s, err, errlen)) < 0)
		return r;
	s->timed_out = 0;
	res = PQexec(s->conn, sql[op]);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = map_error(s, res, err, errlen);
	PQclear(res);
	/* A failed COMMIT has already ended the transaction in PostgreSQL. */
	if (r < 0 && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	s->base.plugin_tx = r == 0 && op == SV_TXN_BEGIN;
	return r;
}

const struct sv_backend_ops sv_backend_pg = {
    .name = "postgresql",
    .scheme = "postgresql://",
    .open = pg_open,
    .init = pg_init,
    .close = pg_close,
    .session_open = pg_session_open,
    .session_close = pg_session_close,
    .set_deadline = pg_set_deadline,
    .query = pg_query,
    .pages_open = pg_pages_open,
    .pages_next = pg_pages_next,
    .pages_close = pg_pages_close,
    .txn = pg_txn,
    .plan_install = sv_pg_plan_install,
    .plan_uninstall = sv_pg_plan_uninstall,
    .apply = sv_pg_apply,
    .audit = sv_pg_audit,
    .is_installed = sv_pg_is_installed,
};
