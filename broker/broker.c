/*
 * broker.c - the backend-independent half of the broker's data access: URI parsing and
 * backend choice, the session defaults, and the bounded result builder every backend
 * shares. The database work itself happens behind struct sv_backend_ops (backend.h).
 */
#include "broker/backend.h"
#include "common/common.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sovereign/plugin.h>

/* Per-cell overhead charged against result_bytes, so many empty cells still count. */
#define CELL_OVERHEAD 8

/*
 * PostgreSQL's backend is a module of its own, loaded by the first run that names a
 * postgresql:// database: libpq and the two dozen libraries it needs (TLS, Kerberos,
 * LDAP) would otherwise cost every other run about 3 ms of start-up and their
 * relocated pages (bench/README.md). It comes from svrun's own install, like the
 * sandbox helper, and is loaded in the broker only, never in a sandbox.
 */
#define PG_SCHEME "postgresql://"
#define PG_MODULE "svrun-backend-pg.so"

/* Loads the PostgreSQL backend module once; 0 with its table in *@ops, or -errno. */
static int
load_pg(const struct sv_backend_ops **ops, char *err, size_t errlen)
{
	static const struct sv_backend_ops *loaded;
	char path[4096];
	void *h;

	if (loaded == NULL) {
		if (sv_find_installed("libexec/svrun/" PG_MODULE, SV_INSTALL_PG_MODULE, path,
				      sizeof(path)) < 0) {
			snprintf(err, errlen, "PostgreSQL support is not installed: %s is neither "
				 "beside svrun nor at %s", PG_MODULE, SV_INSTALL_PG_MODULE);
			return -ENOENT;
		}
		/* Never unloaded: sessions and databases point into it until svrun ends. */
		if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL ||
		    (loaded = dlsym(h, "sv_backend_pg")) == NULL) {
			snprintf(err, errlen, "cannot load the PostgreSQL backend %s: %s", path,
				 dlerror());
			return -EIO;
		}
	}
	*ops = loaded;
	return 0;
}

/* Finds the backend for @uri and the target after its scheme, or explains why not. */
static int
pick_backend(const char *uri, const struct sv_backend_ops **ops, const char **target, char *err,
	     size_t errlen)
{
	size_t n = strlen(sv_backend_sqlite.scheme);
	int r;

	*ops = NULL;
	*target = NULL;
	if (strncmp(uri, sv_backend_sqlite.scheme, n) == 0) {
		if (uri[n] == '\0') {
			snprintf(err, errlen, "database URI %s names no database", uri);
			return -EINVAL;
		}
		*ops = &sv_backend_sqlite;
		*target = uri + n;
		return 0;
	}
	if (strncmp(uri, PG_SCHEME, strlen(PG_SCHEME)) == 0) {
		/* libpq parses the whole URI itself. */
		if ((r = load_pg(ops, err, errlen)) == 0)
			*target = uri;
		return r;
	}
	if (strncmp(uri, "postgres://", 11) == 0)
		snprintf(err, errlen, "database URI %s: write postgresql://", uri);
	else
		snprintf(err, errlen, "database URI %s: expected sqlite:PATH or postgresql://...",
			 uri);
	return -EINVAL;
}

void
sv_session_default_limits(struct sv_session_limits *lim)
{
	lim->result_bytes = 2u << 20;
	lim->result_rows = 100000;
	lim->sql_bytes = 64u << 10;
	lim->params = 100;
	lim->statement_ms = 10000;
	lim->idle_tx_ms = 60000;
}

int
sv_db_open(const char *uri, struct sv_db **out, char *err, size_t errlen)
{
	const struct sv_backend_ops *ops;
	const char *target;
	int r;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((r = pick_backend(uri, &ops, &target, err, errlen)) < 0)
		return r;
	return ops->open(target, out, err, errlen);
}

int
sv_db_init(const char *uri, int demo, char *err, size_t errlen)
{
	const struct sv_backend_ops *ops;
	const char *target;
	int r;

	if (errlen > 0)
		err[0] = '\0';
	if ((r = pick_backend(uri, &ops, &target, err, errlen)) < 0)
		return r;
	return ops->init(target, demo, err, errlen);
}

void
sv_db_close(struct sv_db *db)
{
	if (db)
		db->ops->close(db);
}

int
sv_is_plain_name(const char *s, size_t max, int underscores)
{
	size_t i;

	if (s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 1; s[i]; i++)
		if ((s[i] < 'a' || s[i] > 'z') && (s[i] < '0' || s[i] > '9') &&
		    (s[i] != '_' || !underscores))
			return 0;
	return i <= max;
}

int
sv_session_open(struct sv_db *db, const char *plugin_id, const struct sv_session_limits *lim,
		struct sv_session **out, char *err, size_t errlen)
{
	struct sv_session_limits def;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	/* The id names tables (plugin_<id>_*), so a second check here costs nothing. */
	if (!sv_is_plain_name(plugin_id, 64, 0)) {
		snprintf(err, errlen, "invalid plugin id \"%s\": expected [a-z][a-z0-9]*",
			 plugin_id);
		return -EINVAL;
	}
	if (!lim) {
		sv_session_default_limits(&def);
		lim = &def;
	}
	return db->ops->session_open(db, plugin_id, lim, out, err, errlen);
}

void
sv_session_close(struct sv_session *s)
{
	if (s)
		s->ops->session_close(s);
}

void
sv_session_set_deadline(struct sv_session *s, uint64_t deadline_ns)
{
	s->ops->set_deadline(s, deadline_ns);
}

void
sv_session_set_cancel(struct sv_session *s, int (*cancelled)(void *arg), void *arg)
{
	s->cancel = cancelled;
	s->cancel_arg = arg;
}

/* Cancel callbacks running now, inside which other sessions' statements may run. */
static int callbacks_running;

int
sv_session_poll_cancel(struct sv_session *s)
{
	uint64_t now;

	if (s->cancel == NULL || s->cancelled)
		return s->cancelled;
	if ((now = sv_now_ns()) < s->cancel_next)
		return 0;
	s->cancel_next = now + SV_CANCEL_POLL_NS;
	callbacks_running++;
	s->cancelled = s->cancel(s->cancel_arg) != 0;
	callbacks_running--;
	return s->cancelled;
}

int
sv_session_nested(void)
{
	return callbacks_running > 0;
}

/*
 * Starts a request, or the next page of one, on @s: nothing cancelled yet, and the next
 * poll for a cancel the backend's first-poll delay away at the soonest, so quick
 * requests never poll.
 */
static void
begin_cancel_window(struct sv_session *s)
{
	uint64_t now;

	s->cancelled = 0;
	if (s->cancel != NULL && (now = sv_now_ns()) >= s->cancel_next)
		s->cancel_next = now + (s->first_poll_ns ? s->first_poll_ns : SV_CANCEL_POLL_NS);
}

/* Starts a request on @s: no reason, no objects yet; -EBUSY while a cursor is open. */
static int
begin_request(struct sv_session *s, char *err, size_t errlen)
{
	if (errlen > 0)
		err[0] = '\0';
	s->reason[0] = '\0';
	s->objects = NULL;
	begin_cancel_window(s);
	if (!s->paging)
		return 0;
	snprintf(err, errlen, "a paged query is open: read it to its end or close it first");
	sv_session_set_reason(s, "request while paging: %s", err);
	return -EBUSY;
}

int
sv_session_query_values(struct sv_session *s, const char *sql, size_t nparams,
			const struct sv_param *params, struct sv_rows *out, char *err,
			size_t errlen)
{
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = begin_request(s, err, errlen)) < 0)
		return r;
	return s->ops->query(s, sql, nparams, params, out, err, errlen);
}

int
sv_session_open_pages(struct sv_session *s, const char *sql, size_t nparams,
		      const struct sv_param *params, char *err, size_t errlen)
{
	int r;

	if ((r = begin_request(s, err, errlen)) < 0)
		return r;
	if ((r = s->ops->pages_open(s, sql, nparams, params, err, errlen)) == 0)
		s->paging = 1;
	return r;
}

int
sv_session_next_page(struct sv_session *s, size_t rows, struct sv_rows *out, int *more,
		     char *err, size_t errlen)
{
	int r;

	memset(out, 0, sizeof(*out));
	*more = 0;
	if (errlen > 0)
		err[0] = '\0';
	s->reason[0] = '\0';
	begin_cancel_window(s);
	if (!s->paging) {
		snprintf(err, errlen, "no paged query is open");
		return -EINVAL;
	}
	r = s->ops->pages_next(s, rows, out, more, err, errlen);
	/* A page that is to be asked again keeps its cursor where it was. */
	if (r == -EAGAIN) {
		sv_rows_clear(out);
		return r;
	}
	if (r < 0 || !*more) {
		s->ops->pages_close(s);
		s->paging = 0;
		*more = 0;
	}
	if (r < 0)
		sv_rows_clear(out);
	return r;
}

void
sv_session_close_pages(struct sv_session *s)
{
	if (!s->paging)
		return;
	s->ops->pages_close(s);
	s->paging = 0;
}

int
sv_session_paging(const struct sv_session *s)
{
	return s->paging;
}

int
sv_session_query(struct sv_session *s, const char *sql, size_t nparams,
		 const char *const *params, struct sv_rows *out, char *err, size_t errlen)
{
	struct sv_param *typed = calloc(nparams + 1, sizeof(*typed));
	int r;

	if (typed == NULL) {
		memset(out, 0, sizeof(*out));
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < nparams; i++) {
		typed[i].type = params[i] ? SV_TEXT : SV_NULL;
		typed[i].data = params[i];
		typed[i].len = params[i] ? strlen(params[i]) : 0;
	}
	r = sv_session_query_values(s, sql, nparams, typed, out, err, errlen);
	free(typed);
	return r;
}

int
sv_session_batch(struct sv_session *s, int on)
{
	if (!s->ops->batch)
		return 0;
	s->ops->batch(s, on);
	return 1;
}

void
sv_session_defer(struct sv_session *s, enum sv_defer mode)
{
	s->defer = mode;
}

int
sv_session_in_flight(const struct sv_session *s)
{
	return s->in_flight;
}

int
sv_session_txn(struct sv_session *s, enum sv_txn op, char *err, size_t errlen)
{
	int r;

	if ((r = begin_request(s, err, errlen)) < 0)
		return r;
	if (op != SV_TXN_BEGIN && op != SV_TXN_COMMIT && op != SV_TXN_ROLLBACK) {
		snprintf(err, errlen, "unknown transaction operation");
		return -EINVAL;
	}
	if ((op == SV_TXN_BEGIN) == (s->plugin_tx != 0)) {
		snprintf(err, errlen, s->plugin_tx ? "a transaction is already open"
						   : "no transaction is open");
		sv_session_set_reason(s, "transaction: %s", err);
		return -EINVAL;
	}
	return s->ops->txn(s, op, err, errlen);
}

const char *
sv_session_objects(const struct sv_session *s)
{
	return s->objects;
}

const char *
sv_session_reason(const struct sv_session *s)
{
	return s->reason;
}

void
sv_session_set_reason(struct sv_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

void
sv_rows_clear(struct sv_rows *r)
{
	size_t i;

	if (r->names)
		for (i = 0; i < r->ncols; i++)
			free(r->names[i]);
	if (r->cells)
		for (i = 0; i < r->ncols * r->nrows; i++)
			free(r->cells[i]);
	free(r->names);
	free(r->cells);
	free(r->lens);
	free(r->types);
	memset(r, 0, sizeof(*r));
}

void
sv_rows_begin(struct sv_rows_builder *b, struct sv_rows *rows,
	      const struct sv_session_limits *lim)
{
	b->rows = rows;
	b->lim = lim;
	b->cap = 0;
	b->bytes = 0;
}

/* Charges @len bytes against the result limit before anything is allocated for them. */
static int
charge(struct sv_rows_builder *b, size_t len)
{
	if (len > b->lim->result_bytes - b->bytes ||
	    CELL_OVERHEAD > b->lim->result_bytes - b->bytes - len)
		return -E2BIG;
	b->bytes += len + CELL_OVERHEAD;
	return 0;
}

/* Copies @len bytes into a fresh terminated string. */
static char *
dup_bytes(const char *text, size_t len)
{
	char *p = malloc(len + 1);

	if (p) {
		memcpy(p, text, len);
		p[len] = '\0';
	}
	return p;
}

int
sv_rows_add_name(struct sv_rows_builder *b, const char *name)
{
	struct sv_rows *r = b->rows;
	char **names;
	int ret;

	if ((ret = charge(b, strlen(name))) < 0)
		return ret;
	names = realloc(r->names, (r->ncols + 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	r->names = names;
	if (!(names[r->ncols] = dup_bytes(name, strlen(name))))
		return -ENOMEM;
	r->ncols++;
	return 0;
}

/* Grows the cell arrays of @b's rows to hold @need cells. */
static int
reserve_cells(struct sv_rows_builder *b, size_t need)
{
	struct sv_rows *r = b->rows;
	size_t cap;
	char **cells;
	size_t *lens;
	unsigned char *types;

	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap * 2 : 64 * r->ncols;
	if (cap < need)
		cap = need;
	if (!(cells = realloc(r->cells, cap * sizeof(*cells))))
		return -ENOMEM;
	r->cells = cells;
	if (!(lens = realloc(r->lens, cap * sizeof(*lens))))
		return -ENOMEM;
	r->lens = lens;
	if (!(types = realloc(r->types, cap)))
		return -ENOMEM;
	r->types = types;
	b->cap = cap;
	return 0;
}

/* A row is added whole, so sv_rows_clear() never meets a half-filled one. */
int
sv_rows_add_row(struct sv_rows_builder *b, const char *const *texts, const size_t *lens,
		const unsigned char *types)
{
	struct sv_rows *r = b->rows;
	size_t base = r->nrows * r->ncols, i;
	int ret;

	if (r->nrows >= b->lim->result_rows)
		return -E2BIG;
	for (i = 0; i < r->ncols; i++)
		if ((ret = charge(b, texts[i] ? lens[i] : 0)) < 0)
			return ret;
	if ((ret = reserve_cells(b, base + r->ncols)) < 0)
		return ret;
	for (i = 0; i < r->ncols; i++) {
		r->cells[base + i] = NULL;
		r->lens[base + i] = texts[i] ? lens[i] : 0;
		r->types[base + i] = texts[i] ? types[i] : SV_NULL;
		if (texts[i] && !(r->cells[base + i] = dup_bytes(texts[i], lens[i]))) {
			while (i-- > 0)
				free(r->cells[base + i]);
			return -ENOMEM;
		}
	}
	r->nrows++;
	return 0;
}
