/*
 * sdk.c - the plugin SDK, inside the sandbox: each call becomes one request frame to
 * the broker, and each answer is kept as the decoded message itself, so reading a
 * result copies nothing.
 *
 * The broker is trusted, but its answers are still checked (ids, cell counts) so that
 * a bug on either side ends in an error message, never in a read out of bounds.
 */
#include "sdk/sdk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "proto/frame.h"

/* Requests in flight, at most, in bytes: far below a socket buffer's default 208 KiB. */
#define SV_PIPELINE_BYTES (64u << 10)

struct sv_ctx {
	int fd;
	struct sv_spin spin;
	struct sv_framer in;	/* answers as they arrive, possibly several per read */
	struct sv_outbox out;	/* requests of sv_query_send() not yet written */
	uint64_t next_id;
	unsigned inflight;	/* sv_query_send() requests whose answers are not yet taken */
	int paging;		/* the broker holds more pages of a paged query */
	size_t inflight_bytes;
	size_t sizes[SV_PIPELINE_MAX];	/* of each request in flight, by id */
	char errmsg[1024];
};

struct sv_result {
	Sovereign__BrokerMessage *msg;
	size_t nrows;
	char **rendered;	/* the text of numeric cells, made when first asked for */
};

static struct sv_ctx the_ctx;

sv_ctx *
sv_sdk_context(int fd, int spin)
{
	the_ctx.fd = fd;
	the_ctx.spin = (struct sv_spin){.on = spin};
	sv_framer_init(&the_ctx.in);
	memset(&the_ctx.out, 0, sizeof(the_ctx.out));
	the_ctx.next_id = 1;
	the_ctx.inflight = 0;
	the_ctx.paging = 0;
	the_ctx.inflight_bytes = 0;
	the_ctx.errmsg[0] = '\0';
	return &the_ctx;
}

/* Records why the current call failed, for sv_errmsg(). */
static void SV_PRINTF(2, 3)
fail(sv_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
	va_end(ap);
}

/* Receives the broker's answer to request @id; NULL with ctx->errmsg set on failure. */
static Sovereign__BrokerMessage *
receive_answer(sv_ctx *ctx, uint64_t id)
{
	Sovereign__BrokerMessage *m = NULL;
	const uint8_t *payload;
	size_t len;
	int r;

	if ((r = sv_frame_read(ctx->fd, &ctx->in, &ctx->spin, &payload, &len)) < 0) {
		fail(ctx, "broker channel: %s", strerror(-r));
		return NULL;
	}
	if ((m = sovereign__broker_message__unpack(NULL, len, payload)) == NULL) {
		fail(ctx, "broker channel: malformed answer");
		return NULL;
	}
	ctx->spin.crowded = m->has_crowded && m->crowded;
	if (m->id != id) {
		fail(ctx, "broker channel: answer to request %llu, expected %llu",
		     (unsigned long long)m->id, (unsigned long long)id);
		sovereign__broker_message__free_unpacked(m, NULL);
		m = NULL;
	}
	return m;
}

/* Turns a rows answer into a result, checking its shape; NULL with errmsg otherwise. */
static sv_result *
make_result(sv_ctx *ctx, Sovereign__BrokerMessage *m)
{
	Sovereign__Rows *rows = m->rows;
	sv_result *res;

	if (rows->ncols == 0 ? rows->n_cells != 0 : rows->n_cells % rows->ncols != 0) {
		fail(ctx, "broker channel: %zu cells do not fill %u columns", rows->n_cells,
		     rows->ncols);
		return NULL;
	}
	if (rows->n_names != rows->ncols) {
		fail(ctx, "broker channel: %zu names for %u columns", rows->n_names, rows->ncols);
		return NULL;
	}
	for (size_t i = 0; i < rows->n_cells; i++) {
		const Sovereign__Value *v = rows->cells[i];

		if ((v->text != NULL) + v->has_integer + v->has_real + v->has_blob > 1) {
			fail(ctx, "broker channel: cell %zu holds more than one value", i);
			return NULL;
		}
	}
	if ((res = calloc(1, sizeof(*res))) == NULL) {
		fail(ctx, "out of memory");
		return NULL;
	}
	res->msg = m;
	res->nrows = rows->ncols ? rows->n_cells / rows->ncols : 0;
	return res;
}

/* Queues @msg for the next write to the broker; 0, or -1 with errmsg set. */
static int
send_later(sv_ctx *ctx, const ProtobufCMessage *msg)
{
	int r;

	if ((r = sv_outbox_add(&ctx->out, msg)) < 0) {
		fail(ctx, "broker channel: %s", strerror(-r));
		return -1;
	}
	return 0;
}

/* Writes what is queued and @msg to the broker, in order; 0, or -1 with errmsg set. */
static int
send_now(sv_ctx *ctx, const ProtobufCMessage *msg)
{
	int r;

	if (send_later(ctx, msg) < 0)
		return -1;
	if ((r = sv_outbox_flush(&ctx->out, ctx->fd)) < 0) {
		fail(ctx, "broker channel: %s", strerror(-r));
		return -1;
	}
	return 0;
}

/* Sets @pv from typed value @v; returns -1 for a type that is not one of enum sv_type. */
static int
set_param(Sovereign__Param *pv, const sv_value *v)
{
	switch (v->type) {
	case SV_NULL:
		return 0;
	case SV_INTEGER:
		pv->has_integer = 1;
		pv->integer = v->integer;
		return 0;
	case SV_REAL:
		pv->has_real = 1;
		pv->real = v->real;
		return 0;
	case SV_TEXT:
		pv->text = (char *)v->text;
		return 0;
	case SV_BLOB:
		if (v->blob == NULL && v->len > 0)
			return -1;
		pv->has_blob = 1;
		pv->blob.data = (uint8_t *)v->blob;
		pv->blob.len = v->len;
		return 0;
	default:
		return -1;
	}
}

/*
 * Sends one query request without waiting for its answer, written at once (@now) or
 * queued for the next write. Its parameters are @texts (text or NULL) or, when that is
 * NULL, @values; with @page_rows it opens a paged query. Returns its id, or 0 with errmsg set; *@size gets the request's size
 * on the wire.
 */
static uint64_t
send_query(sv_ctx *ctx, const char *caller, const char *sql, int nparams,
	   const char *const *texts, const sv_value *values, uint32_t page_rows, int now,
	   size_t *size)
{
	Sovereign__ChildMessage req = SOVEREIGN__CHILD_MESSAGE__INIT;
	Sovereign__Query q = SOVEREIGN__QUERY__INIT;
	Sovereign__Param *pv = NULL, **pp = NULL;
	uint64_t id = 0;
	int i, r;

	if (sql == NULL || nparams < 0 || (nparams > 0 && texts == NULL && values == NULL)) {
		fail(ctx, "%s: invalid arguments", caller);
		goto out;
	}
	pv = calloc((size_t)nparams + 1, sizeof(*pv));
	pp = calloc((size_t)nparams + 1, sizeof(*pp));
	if (pv == NULL || pp == NULL) {
		fail(ctx, "out of memory");
		goto out;
	}
	for (i = 0; i < nparams; i++) {
		sovereign__param__init(&pv[i]);
		if (texts) {
			pv[i].text = (char *)texts[i];
		} else if (set_param(&pv[i], &values[i]) < 0) {
			fail(ctx, "%s: parameter $%d has no valid type", caller, i + 1);
			goto out;
		}
		pp[i] = &pv[i];
	}
	q.sql = (char *)sql;
	q.n_params = (size_t)nparams;
	q.params = pp;
	q.has_page_rows = page_rows > 0;
	q.page_rows = page_rows;
	req.has_id = 1;
	req.id = ctx->next_id;
	req.body_case = SOVEREIGN__CHILD_MESSAGE__BODY_QUERY;
	req.query = &q;
	*size = SV_FRAME_HEADER + protobuf_c_message_get_packed_size(&req.base);
	if ((r = (now ? send_now : send_later)(ctx, &req.base)) < 0)
		goto out;
	id = ctx->next_id++;
out:
	free(pv);
	free(pp);
	return id;
}

/* Waits for the answer to query @id and makes it a result; NULL with errmsg set. */
static sv_result *
await_result(sv_ctx *ctx, uint64_t id)
{
	Sovereign__BrokerMessage *m;
	sv_result *res = NULL;

	if ((m = receive_answer(ctx, id)) == NULL)
		return NULL;
	switch (m->body_case) {
	case SOVEREIGN__BROKER_MESSAGE__BODY_ROWS:
		ctx->paging = m->rows->has_more && m->rows->more;
		if ((res = make_result(ctx, m)) != NULL)
			m = NULL;	/* transferred */
		break;
	case SOVEREIGN__BROKER_MESSAGE__BODY_ERROR:
		fail(ctx, "%s", m->error->message);
		break;
	case SOVEREIGN__BROKER_MESSAGE__BODY__NOT_SET:
	default:
		fail(ctx, "broker channel: answer without a body");
		break;
	}
	if (m != NULL)
		sovereign__broker_message__free_unpacked(m, NULL);
	return res;
}

/* Fails @caller while pipelined answers wait: they would arrive in its place. */
static int
pipeline_busy(sv_ctx *ctx, const char *caller)
{
	if (ctx->inflight == 0)
		return 0;
	fail(ctx, "%s: %u answers of sv_query_send() not yet received with sv_query_recv()",
	     caller, ctx->inflight);
	return 1;
}

/* sv_query() and sv_query_values(): @texts, or when NULL @values, are the parameters. */
static sv_result *
query(sv_ctx *ctx, const char *caller, const char *sql, int nparams, const char *const *texts,
      const sv_value *values)
{
	uint64_t id;
	size_t size;

	ctx->errmsg[0] = '\0';
	if (pipeline_busy(ctx, caller))
		return NULL;
	if ((id = send_query(ctx, caller, sql, nparams, texts, values, 0, 1, &size)) == 0)
		return NULL;
	return await_result(ctx, id);
}

sv_result *
sv_query(sv_ctx *ctx, const char *sql, int nparams, const char *const *params)
{
	return query(ctx, "sv_query", sql, nparams, params, NULL);
}

sv_result *
sv_query_values(sv_ctx *ctx, const char *sql, int nparams, const sv_value *params)
{
	return query(ctx, "sv_query_values", sql, nparams, NULL, params);
}

/* sv_query_send() and sv_query_send_values(), as query() is for the waiting calls. */
static int
queue_query(sv_ctx *ctx, const char *caller, const char *sql, int nparams,
	    const char *const *texts, const sv_value *values)
{
	uint64_t id;
	size_t size;

	ctx->errmsg[0] = '\0';
	if (ctx->inflight == SV_PIPELINE_MAX) {
		fail(ctx, "%s: %d answers already awaited; receive one first", caller,
		     SV_PIPELINE_MAX);
		return -1;
	}
	/*
	 * The bytes in flight stay well under the socket's buffer, so this send never blocks
	 * while the broker is blocked sending answers this process has not read yet.
	 */
	if (ctx->inflight > 0 && ctx->inflight_bytes + SV_FRAME_HEADER + strlen(sql ? sql : "") >
				     SV_PIPELINE_BYTES) {
		fail(ctx, "%s: %zu bytes of requests already in flight; receive answers first",
		     caller, ctx->inflight_bytes);
		return -1;
	}
	/* Queued: sv_query_recv() writes the run of them at once. */
	if ((id = send_query(ctx, caller, sql, nparams, texts, values, 0, 0, &size)) == 0)
		return -1;
	ctx->sizes[id % SV_PIPELINE_MAX] = size;
	ctx->inflight_bytes += size;
	ctx->inflight++;
	return 0;
}

int
sv_query_send(sv_ctx *ctx, const char *sql, int nparams, const char *const *params)
{
	return queue_query(ctx, "sv_query_send", sql, nparams, params, NULL);
}

int
sv_query_send_values(sv_ctx *ctx, const char *sql, int nparams, const sv_value *params)
{
	return queue_query(ctx, "sv_query_send_values", sql, nparams, NULL, params);
}

sv_result *
sv_query_pages(sv_ctx *ctx, const char *sql, int nparams, const char *const *params,
	       int page_rows)
{
	uint64_t id;
	size_t size;

	ctx->errmsg[0] = '\0';
	if (page_rows < 1) {
		fail(ctx, "sv_query_pages: page_rows must be 1 or more");
		return NULL;
	}
	if (pipeline_busy(ctx, "sv_query_pages"))
		return NULL;
	if ((id = send_query(ctx, "sv_query_pages", sql, nparams, params, NULL,
			     (uint32_t)page_rows, 1, &size)) == 0)
		return NULL;
	return await_result(ctx, id);
}

/* Sends a fetch of the next page (or, with @close, the end of the paged query). */
static sv_result *
fetch(sv_ctx *ctx, int close)
{
	Sovereign__ChildMessage req = SOVEREIGN__CHILD_MESSAGE__INIT;
	Sovereign__Fetch f = SOVEREIGN__FETCH__INIT;
	sv_result *r = NULL;

	f.has_close = close;
	f.close = close;
	req.has_id = 1;
	req.id = ctx->next_id++;
	req.body_case = SOVEREIGN__CHILD_MESSAGE__BODY_FETCH;
	req.fetch = &f;
	if (send_now(ctx, &req.base) == 0)
		r = await_result(ctx, req.id);
	/* A page that failed ended the paged query in the broker too. */
	if (r == NULL)
		ctx->paging = 0;
	return r;
}

sv_result *
sv_next_page(sv_ctx *ctx)
{
	sv_result *r;

	ctx->errmsg[0] = '\0';
	if (!ctx->paging || pipeline_busy(ctx, "sv_next_page"))
		return NULL;
	/* A full page may have been the last: the empty one after it is no page. */
	if ((r = fetch(ctx, 0)) != NULL && r->nrows == 0 && !ctx->paging) {
		sv_result_free(r);
		r = NULL;
	}
	return r;
}

int
sv_close_pages(sv_ctx *ctx)
{
	sv_result *r;

	ctx->errmsg[0] = '\0';
	if (!ctx->paging)
		return 0;
	if (pipeline_busy(ctx, "sv_close_pages"))
		return -1;
	ctx->paging = 0;
	r = fetch(ctx, 1);
	sv_result_free(r);
	return r ? 0 : -1;
}

sv_result *
sv_query_recv(sv_ctx *ctx)
{
	uint64_t id;
	int r;

	ctx->errmsg[0] = '\0';
	if (ctx->inflight == 0) {
		fail(ctx, "sv_query_recv: no query sent with sv_query_send() awaits its answer");
		return NULL;
	}
	if ((r = sv_outbox_flush(&ctx->out, ctx->fd)) < 0) {
		fail(ctx, "broker channel: %s", strerror(-r));
		return NULL;
	}
	id = ctx->next_id - ctx->inflight;
	ctx->inflight--;
	ctx->inflight_bytes -= ctx->sizes[id % SV_PIPELINE_MAX];
	return await_result(ctx, id);
}

int
sv_cancel(sv_ctx *ctx)
{
	Sovereign__ChildMessage req = SOVEREIGN__CHILD_MESSAGE__INIT;
	Sovereign__Cancel c = SOVEREIGN__CANCEL__INIT;

	ctx->errmsg[0] = '\0';
	if (ctx->inflight == 0)
		return 0;
	/* The ids in flight run up to the last one given; the queued ones leave first. */
	c.through = ctx->next_id - 1;
	req.body_case = SOVEREIGN__CHILD_MESSAGE__BODY_CANCEL;
	req.cancel = &c;
	return send_now(ctx, &req.base);
}

/* Sends a transaction request and waits for its answer; 0 or -1 with errmsg set. */
static int
txn(sv_ctx *ctx, uint32_t op)
{
	Sovereign__ChildMessage req = SOVEREIGN__CHILD_MESSAGE__INIT;
	Sovereign__Txn t = SOVEREIGN__TXN__INIT;
	Sovereign__BrokerMessage *m;
	int r = -1;

	ctx->errmsg[0] = '\0';
	if (pipeline_busy(ctx, op == 1 ? "sv_begin" : op == 2 ? "sv_commit" : "sv_rollback"))
		return -1;
	t.op = op;
	req.has_id = 1;
	req.id = ctx->next_id++;
	req.body_case = SOVEREIGN__CHILD_MESSAGE__BODY_TXN;
	req.txn = &t;
	if (send_now(ctx, &req.base) < 0)
		return -1;
	if ((m = receive_answer(ctx, req.id)) == NULL)
		return -1;
	if (m->body_case == SOVEREIGN__BROKER_MESSAGE__BODY_ROWS)
		r = 0;
	else if (m->body_case == SOVEREIGN__BROKER_MESSAGE__BODY_ERROR)
		fail(ctx, "%s", m->error->message);
	else
		fail(ctx, "broker channel: answer without a body");
	sovereign__broker_message__free_unpacked(m, NULL);
	return r;
}

int
sv_begin(sv_ctx *ctx)
{
	return txn(ctx, 1);
}

int
sv_commit(sv_ctx *ctx)
{
	return txn(ctx, 2);
}

int
sv_rollback(sv_ctx *ctx)
{
	return txn(ctx, 3);
}

int
sv_result_rows(const sv_result *r)
{
	return r ? (int)r->nrows : 0;
}

int
sv_result_cols(const sv_result *r)
{
	return r ? (int)r->msg->rows->ncols : 0;
}

const char *
sv_result_name(const sv_result *r, int col)
{
	if (r == NULL || col < 0 || (size_t)col >= r->msg->rows->n_names)
		return NULL;
	return r->msg->rows->names[col];
}

/* The cell at @row, @col, or NULL out of range. */
static const Sovereign__Value *
cell(const sv_result *r, int row, int col)
{
	const Sovereign__Rows *rows;

	if (r == NULL || row < 0 || col < 0)
		return NULL;
	rows = r->msg->rows;
	if ((size_t)row >= r->nrows || (unsigned)col >= rows->ncols)
		return NULL;
	return rows->cells[(size_t)row * rows->ncols + (size_t)col];
}

int
sv_result_type(const sv_result *r, int row, int col)
{
	const Sovereign__Value *v = cell(r, row, col);

	if (v == NULL)
		return SV_NULL;
	if (v->text)
		return SV_TEXT;
	if (v->has_integer)
		return SV_INTEGER;
	if (v->has_real)
		return SV_REAL;
	return v->has_blob ? SV_BLOB : SV_NULL;
}

long long
sv_result_int64(const sv_result *r, int row, int col)
{
	const Sovereign__Value *v = cell(r, row, col);

	if (v && v->has_integer)
		return (long long)v->integer;
	/* Only a double that fits converts; the rest would be undefined in C. */
	if (v && v->has_real && v->real > -9.2e18 && v->real < 9.2e18)
		return (long long)v->real;
	return 0;
}

double
sv_result_double(const sv_result *r, int row, int col)
{
	const Sovereign__Value *v = cell(r, row, col);

	if (v && v->has_real)
		return v->real;
	return v && v->has_integer ? (double)v->integer : 0.0;
}

const void *
sv_result_blob(const sv_result *r, int row, int col, size_t *len)
{
	const Sovereign__Value *v = cell(r, row, col);

	*len = 0;
	if (v == NULL || !v->has_blob)
		return NULL;
	*len = v->blob.len;
	/* An empty blob is a value, not NULL: point at something. */
	return v->blob.data ? (const void *)v->blob.data : (const void *)"";
}

const char *
sv_result_text(const sv_result *r, int row, int col)
{
	const Sovereign__Value *v = cell(r, row, col);
	size_t i, ncells;
	char num[32];
	sv_result *w = (sv_result *)r;	/* the rendering cache only; the cells stay */

	if (v == NULL || v->text || (!v->has_integer && !v->has_real))
		return v ? v->text : NULL;
	ncells = r->msg->rows->n_cells;
	i = (size_t)row * r->msg->rows->ncols + (size_t)col;
	if (w->rendered == NULL && (w->rendered = calloc(ncells, sizeof(char *))) == NULL)
		return NULL;
	if (w->rendered[i] == NULL) {
		if (v->has_integer)
			snprintf(num, sizeof(num), "%lld", (long long)v->integer);
		else
			sv_format_double(num, v->real);
		w->rendered[i] = strdup(num);
	}
	return w->rendered[i];
}

long long
sv_result_changes(const sv_result *r)
{
	return r && r->msg->rows->has_changes ? (long long)r->msg->rows->changes : 0;
}

void
sv_result_free(sv_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; r->rendered && i < r->msg->rows->n_cells; i++)
		free(r->rendered[i]);
	free(r->rendered);
	sovereign__broker_message__free_unpacked(r->msg, NULL);
	free(r);
}

const char *
sv_errmsg(const sv_ctx *ctx)
{
	return ctx ? ctx->errmsg : "";
}

void
sv_log(sv_ctx *ctx, const char *fmt, ...)
{
	Sovereign__ChildMessage req = SOVEREIGN__CHILD_MESSAGE__INIT;
	Sovereign__Log lg = SOVEREIGN__LOG__INIT;
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lg.text = line;
	req.body_case = SOVEREIGN__CHILD_MESSAGE__BODY_LOG;
	req.log = &lg;
	send_now(ctx, &req.base);
}
