/*
 * dispatch.c - the broker's answer to each frame a plugin sends.
 *
 * The table below is the whole list of what a plugin may ask; each entry says when it
 * is allowed. Anything else (an unknown body, a query before the handshake, a second
 * handshake) is a protocol violation that ends that plugin's session, never the broker.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sovereign/plugin.h>

#include "broker/broker.h"
#include "common/common.h"
#include "proto/frame.h"

enum when { BEFORE_HELLO, AFTER_HELLO };

struct handler {
	Sovereign__ChildMessage__BodyCase body;
	enum when when;
	int (*fn)(struct sv_peer *p, const Sovereign__ChildMessage *m, char *why, size_t len);
};

/* Prints one trace line for the operator, escaped like any text that came from a plugin. */
static void SV_PRINTF(2, 3)
trace(const struct sv_peer *p, const char *fmt, ...)
{
	char line[1024], tag[SV_TAG_MAX];
	va_list ap;

	if (!p->trace)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(tag, sizeof(tag), "trace %s", p->plugin_id);
	sv_print_tagged(STDERR_FILENO, tag, line, strlen(line));
}

/* Checks the plugin was built against this SDK's protocol. */
static int
handle_hello(struct sv_peer *p, const Sovereign__ChildMessage *m, char *why, size_t len)
{
	if (m->hello->abi_version != SV_PLUGIN_ABI_VERSION) {
		snprintf(why, len, "plugin speaks protocol %u, svrun speaks %u",
			 m->hello->abi_version, SV_PLUGIN_ABI_VERSION);
		return -EPROTO;
	}
	p->hello_seen = 1;
	return 0;
}

/* Prints a plugin's log line, tagged and with control characters escaped. */
static int
handle_log(struct sv_peer *p, const Sovereign__ChildMessage *m, char *why, size_t len)
{
	size_t n = strlen(m->log->text);

	(void)why;
	(void)len;
	/* Log lines count against a limit like stderr does: a flood is counted, not printed. */
	if (p->log_max && p->log_bytes + n > p->log_max) {
		p->log_dropped += n;
		return 0;
	}
	p->log_bytes += n;
	sv_print_tagged(STDERR_FILENO, p->plugin_id, m->log->text, n);
	return 0;
}

/*
 * Queues @msg as the answer to request @id, writing the queue once it is large; it
 * carries whether the broker is crowded (BrokerMessage.crowded), traced when that changes.
 */
static int
answer(struct sv_peer *p, uint64_t id, Sovereign__BrokerMessage *msg)
{
	int r, crowded = p->crowded != NULL && *p->crowded;

	msg->has_id = 1;
	msg->id = id;
	msg->has_crowded = msg->crowded = crowded;
	if (crowded != p->told_crowded)
		trace(p, crowded ? "#%llu: more plugins ask than there are CPUs: answers ask "
				   "this one to wait asleep"
				 : "#%llu: fewer plugins ask: this one may spin for its answers again",
		      (unsigned long long)id);
	p->told_crowded = crowded;
	if ((r = sv_outbox_add(&p->out, &msg->base)) < 0)
		return r;
	if (p->out.len < SV_OUTBOX_FLUSH)
		return 0;
	/* A plugin that does not read is the session's to stop serving (sv_peer_backed_up). */
	return (r = sv_peer_flush(p)) == -EAGAIN ? 0 : r;
}

int
sv_peer_flush(struct sv_peer *p)
{
	return sv_outbox_send(&p->out, p->fd);
}

int
sv_peer_backed_up(const struct sv_peer *p)
{
	return p->out.len >= SV_OUTBOX_FLUSH;
}

void
sv_peer_release(struct sv_peer *p)
{
	sv_outbox_release(&p->out);
}

/* Sends a refusal or an error to the plugin. */
static int
answer_error(struct sv_peer *p, uint64_t id, const char *text)
{
	Sovereign__BrokerMessage msg = SOVEREIGN__BROKER_MESSAGE__INIT;
	Sovereign__Error e = SOVEREIGN__ERROR__INIT;

	e.message = (char *)text;
	msg.body_case = SOVEREIGN__BROKER_MESSAGE__BODY_ERROR;
	msg.error = &e;
	return answer(p, id, &msg);
}

/* Fills @v with cell @i of @rows, by its type; a NULL cell leaves every field unset. */
static void
set_value(Sovereign__Value *v, const struct sv_rows *rows, size_t i)
{
	const char *cell = rows->cells[i];

	switch (cell ? rows->types[i] : SV_NULL) {
	case SV_INTEGER:
		v->has_integer = 1;
		v->integer = strtoll(cell, NULL, 10);
		break;
	case SV_REAL:
		v->has_real = 1;
		v->real = strtod(cell, NULL);
		break;
	case SV_BLOB:
		v->has_blob = 1;
		v->blob.len = rows->lens[i];
		v->blob.data = (uint8_t *)cell;
		break;
	case SV_TEXT:
		v->text = (char *)cell;
		break;
	default:
		break;
	}
}

/*
 * Sends a result to the plugin, saying with @more whether another page follows; the
 * message borrows the strings in @rows.
 */
static int
answer_rows(struct sv_peer *p, uint64_t id, const struct sv_rows *rows, int more)
{
	Sovereign__BrokerMessage msg = SOVEREIGN__BROKER_MESSAGE__INIT;
	Sovereign__Rows out = SOVEREIGN__ROWS__INIT;
	size_t i, ncells = rows->ncols * rows->nrows;
	Sovereign__Value *vals = NULL, **vp = NULL;
	int r;

	vals = calloc(ncells + 1, sizeof(*vals));
	vp = calloc(ncells + 1, sizeof(*vp));
	if (vals == NULL || vp == NULL) {
		r = answer_error(p, id, "broker out of memory");
		goto out;
	}
	for (i = 0; i < ncells; i++) {
		sovereign__value__init(&vals[i]);
		set_value(&vals[i], rows, i);
		vp[i] = &vals[i];
	}
	out.ncols = (uint32_t)rows->ncols;
	out.n_names = rows->ncols;
	out.names = rows->names;
	out.n_cells = ncells;
	out.cells = vp;
	out.has_changes = 1;
	out.changes = rows->changes;
	out.has_more = more;
	out.more = more;
	msg.body_case = SOVEREIGN__BROKER_MESSAGE__BODY_ROWS;
	msg.rows = &out;
	r = answer(p, id, &msg);
out:
	free(vals);
	free(vp);
	return r;
}

/* Says why nothing more is answered once a request could not be recorded. */
static int
audit_failed(struct sv_peer *p, int e, char *why, size_t len)
{
	snprintf(why, len, "the audit trail %s cannot be written (%s): no request is answered "
		 "unrecorded", sv_audit_path(p->audit), strerror(-e));
	return -EIO;
}

/* Bytes of the cells of @rows, as the audit trail counts them. */
static size_t
cell_bytes(const struct sv_rows *rows)
{
	size_t n = 0;

	for (size_t i = 0; i < rows->nrows * rows->ncols; i++)
		n += rows->lens[i];
	return n;
}

/* The audit trail's word for how a request ended with status @r. */
static const char *
decision(int r)
{
	if (r == -ECANCELED)
		return "cancelled";
	return r == 0 ? "allowed" : r == -EACCES ? "refused" : "failed";
}

/* Reads parameter @v, which holds one value at most, into @out (borrowing its bytes). */
static void
typed_param(const Sovereign__Param *v, struct sv_param *out)
{
	memset(out, 0, sizeof(*out));
	if (v->text) {
		out->type = SV_TEXT;
		out->data = v->text;
		out->len = strlen(v->text);
	} else if (v->has_integer) {
		out->type = SV_INTEGER;
		out->integer = (long long)v->integer;
	} else if (v->has_real) {
		out->type = SV_REAL;
		out->real = v->real;
	} else if (v->has_blob) {
		out->type = SV_BLOB;
		out->data = (const char *)v->blob.data;
		out->len = v->blob.len;
	} else {
		out->type = SV_NULL;
	}
}

/* How the audit trail shows parameter @v: its text, a number, or the size of a blob. */
static const char *
shown_param(const struct sv_param *v, char num[32])
{
	switch (v->type) {
	case SV_INTEGER:
		snprintf(num, 32, "%lld", v->integer);
		return num;
	case SV_REAL:
		sv_format_double(num, v->real);
		return num;
	case SV_BLOB:
		snprintf(num, 32, "(blob, %zu bytes)", v->len);
		return num;
	case SV_TEXT:
		return v->data;
	default:
		return NULL;
	}
}

/*
 * Puts back a request that met the lock of the statement this turn runs inside: not
 * counted, recorded nor answered, it is asked again once that statement has ended.
 */
static int
ask_again(struct sv_peer *p, uint64_t id, const char *err)
{
	p->requests--;
	trace(p, "#%llu waits: %s", (unsigned long long)id, err);
	return -EAGAIN;
}

/*
 * Runs query @m with @params into @rows (a paged one opens its cursor and reads the first
 * page, saying in *@more whether another follows), unless it was cancelled before its
 * turn. Returns 0 or -errno with @err for the plugin; *@objects and *@reason get what it
 * named and why it failed, for the operator.
 */
static int
run_query(struct sv_peer *p, const Sovereign__ChildMessage *m, const struct sv_param *params,
	  struct sv_rows *rows, int *more, char *err, size_t errlen, const char **objects,
	  const char **reason)
{
	const Sovereign__Query *q = m->query;
	int r;

	if (m->id <= p->cancel_through) {
		snprintf(err, errlen, "cancelled before it ran");
		*reason = "cancelled by the plugin before it ran";
		return -ECANCELED;
	}
	p->serving = m->id;
	if (q->has_page_rows && q->page_rows > 0) {
		p->page_rows = q->page_rows;
		r = sv_session_open_pages(p->session, q->sql, q->n_params, params, err, errlen);
		if (r == 0)
			r = sv_session_next_page(p->session, p->page_rows, rows, more, err, errlen);
		/* Asked again, the query opens its cursor again. */
		if (r == -EAGAIN)
			sv_session_close_pages(p->session);
	} else {
		r = sv_session_query_values(p->session, q->sql, q->n_params, params, rows, err,
					    errlen);
	}
	p->serving = 0;
	*objects = sv_session_objects(p->session);
	*reason = sv_session_reason(p->session);
	return r;
}

/* Runs a query under the plugin's rights and answers with rows or the reason it failed. */
static int
handle_query(struct sv_peer *p, const Sovereign__ChildMessage *m, char *why, size_t len)
{
	const Sovereign__Query *q = m->query;
	struct sv_audit_request rec = {0};
	uint64_t start = p->audit ? sv_now_ns() : 0;
	struct sv_rows rows = {0};
	struct sv_param *params = NULL;
	const char **shown = NULL, *objects = NULL, *reason = "";
	char (*nums)[32] = NULL;
	char err[512];
	size_t i;
	int r, e, more = 0;

	if (p->max_requests && p->requests >= p->max_requests) {
		snprintf(why, len, "request limit of %lu reached", p->max_requests);
		return -EPROTO;
	}
	p->requests++;
	for (i = 0; i < q->n_params; i++) {
		const Sovereign__Param *v = q->params[i];

		if ((v->text != NULL) + v->has_integer + v->has_real + v->has_blob > 1) {
			snprintf(why, len, "parameter $%zu holds more than one value", i + 1);
			return -EPROTO;
		}
	}
	if ((params = calloc(q->n_params + 1, sizeof(*params))) == NULL ||
	    (p->audit && (!(shown = calloc(q->n_params + 1, sizeof(*shown))) ||
			  !(nums = calloc(q->n_params + 1, sizeof(*nums)))))) {
		r = answer_error(p, m->id, "broker out of memory");
		goto out;
	}
	for (i = 0; i < q->n_params; i++) {
		typed_param(q->params[i], &params[i]);
		if (shown)
			shown[i] = shown_param(&params[i], nums[i]);
	}
	trace(p, "#%llu query (%zu parameters): %s", (unsigned long long)m->id, q->n_params,
	      q->sql);
	r = run_query(p, m, params, &rows, &more, err, sizeof(err), &objects, &reason);
	if (r == -EAGAIN) {
		r = ask_again(p, m->id, err);
		goto out;
	}
	if (r < 0)
		sv_warn("plugin '%s': query refused or failed: %s", p->plugin_id, reason);
	if (p->audit) {
		rec = (struct sv_audit_request){
			.plugin = p->plugin_id, .id = m->id, .op = "query", .sql = q->sql,
			.nparams = q->n_params, .params = shown,
			.objects = objects, .decision = decision(r),
			.reason = r < 0 ? reason : NULL, .rows = rows.nrows,
			.bytes = cell_bytes(&rows), .latency_ns = sv_now_ns() - start};
		/* Not recorded, not answered: the rows stay in the broker. */
		if ((e = sv_audit_request(p->audit, &rec)) < 0) {
			r = audit_failed(p, e, why, len);
			goto out;
		}
	}
	if (r < 0) {
		/* --debug is for a plugin author's own machine: the reason names schema. */
		if (p->debug)
			snprintf(err + strlen(err), sizeof(err) - strlen(err), " [debug: %s]",
				 reason);
		trace(p, "#%llu -> error: %s", (unsigned long long)m->id, err);
		r = answer_error(p, m->id, err);
		goto out;
	}
	trace(p, "#%llu -> %zu rows, %zu columns, %lld changed", (unsigned long long)m->id,
	      rows.nrows, rows.ncols, rows.changes);
	r = answer_rows(p, m->id, &rows, more);
out:
	sv_rows_clear(&rows);
	free(params);
	free(shown);
	free(nums);
	return r;
}

/* Begins, commits or rolls back the plugin's transaction, answering like a query. */
static int
handle_txn(struct sv_peer *p, const Sovereign__ChildMessage *m, char *why, size_t len)
{
	static const char *const names[] = {"", "begin", "commit", "rollback"};
	struct sv_rows none = {0};
	uint64_t start = p->audit ? sv_now_ns() : 0;
	char err[512];
	uint32_t op = m->txn->op;
	int r, e;

	if (op < SV_TXN_BEGIN || op > SV_TXN_ROLLBACK) {
		snprintf(why, len, "unknown transaction operation %u", op);
		return -EPROTO;
	}
	if (p->max_requests && p->requests >= p->max_requests) {
		snprintf(why, len, "request limit of %lu reached", p->max_requests);
		return -EPROTO;
	}
	p->requests++;
	trace(p, "#%llu %s", (unsigned long long)m->id, names[op]);
	if ((r = sv_session_txn(p->session, (enum sv_txn)op, err, sizeof(err))) == -EAGAIN)
		return ask_again(p, m->id, err);
	if (p->audit &&
	    (e = sv_audit_request(p->audit, &(struct sv_audit_request){
						 .plugin = p->plugin_id, .id = m->id,
						 .op = names[op], .decision = decision(r),
						 .reason = r < 0 ? err : NULL,
						 .latency_ns = sv_now_ns() - start})) < 0)
		return audit_failed(p, e, why, len);
	if (r < 0) {
		trace(p, "#%llu -> error: %s", (unsigned long long)m->id, err);
		return answer_error(p, m->id, err);
	}
	return answer_rows(p, m->id, &none, 0);
}

/* Answers with the next page of the plugin's paged query, or closes it. */
static int
handle_fetch(struct sv_peer *p, const Sovereign__ChildMessage *m, char *why, size_t len)
{
	struct sv_rows rows = {0};
	uint64_t start = p->audit ? sv_now_ns() : 0;
	char err[512];
	int r, e, more = 0;

	if (p->max_requests && p->requests >= p->max_requests) {
		snprintf(why, len, "request limit of %lu reached", p->max_requests);
		return -EPROTO;
	}
	p->requests++;
	if (m->fetch->has_close && m->fetch->close) {
		trace(p, "#%llu close pages", (unsigned long long)m->id);
		sv_session_close_pages(p->session);
		r = 0;
	} else {
		trace(p, "#%llu next page", (unsigned long long)m->id);
		r = sv_session_next_page(p->session, p->page_rows, &rows, &more, err, sizeof(err));
	}
	if (r == -EAGAIN)
		return ask_again(p, m->id, err);
	if (r < 0)
		sv_warn("plugin '%s': page refused or failed: %s", p->plugin_id,
			sv_session_reason(p->session));
	if (p->audit &&
	    (e = sv_audit_request(p->audit, &(struct sv_audit_request){
						 .plugin = p->plugin_id, .id = m->id,
						 .op = m->fetch->close ? "close" : "fetch",
						 .decision = decision(r),
						 .reason = r < 0 ? sv_session_reason(p->session) : NULL,
						 .rows = rows.nrows, .bytes = cell_bytes(&rows),
						 .latency_ns = sv_now_ns() - start})) < 0) {
		sv_rows_clear(&rows);
		return audit_failed(p, e, why, len);
	}
	r = r < 0 ? answer_error(p, m->id, err) : answer_rows(p, m->id, &rows, more);
	sv_rows_clear(&rows);
	return r;
}

/* Records that the plugin cancelled its requests up to an id; nothing is answered. */
static int
handle_cancel(struct sv_peer *p, const Sovereign__ChildMessage *m, char *why, size_t len)
{
	(void)why;
	(void)len;
	if (m->cancel->through > p->cancel_through)
		p->cancel_through = m->cancel->through;
	trace(p, "cancel through #%llu", (unsigned long long)m->cancel->through);
	return 0;
}

/*
 * The largest frame that may hold a Cancel: its tag and length, the through field's tag
 * and a 10-byte varint. Anything larger is not one, and is not decoded ahead of its turn.
 */
#define CANCEL_FRAME_MAX 16u

int
sv_peer_cancelled(struct sv_peer *p, const struct sv_framer *f)
{
	Sovereign__ChildMessage *m;
	const uint8_t *payload;
	size_t len, pos = 0;

	if (p->serving == 0)
		return 0;
	while (p->cancel_through < p->serving && sv_framer_ahead(f, &pos, &payload, &len)) {
		if (len > CANCEL_FRAME_MAX ||
		    (m = sovereign__child_message__unpack(NULL, len, payload)) == NULL)
			continue;
		if (m->body_case == SOVEREIGN__CHILD_MESSAGE__BODY_CANCEL &&
		    m->cancel->through > p->cancel_through)
			p->cancel_through = m->cancel->through;
		sovereign__child_message__free_unpacked(m, NULL);
	}
	return p->cancel_through >= p->serving;
}

static const struct handler handlers[] = {
	{SOVEREIGN__CHILD_MESSAGE__BODY_HELLO, BEFORE_HELLO, handle_hello},
	{SOVEREIGN__CHILD_MESSAGE__BODY_QUERY, AFTER_HELLO, handle_query},
	{SOVEREIGN__CHILD_MESSAGE__BODY_LOG, AFTER_HELLO, handle_log},
	{SOVEREIGN__CHILD_MESSAGE__BODY_TXN, AFTER_HELLO, handle_txn},
	{SOVEREIGN__CHILD_MESSAGE__BODY_FETCH, AFTER_HELLO, handle_fetch},
	{SOVEREIGN__CHILD_MESSAGE__BODY_CANCEL, AFTER_HELLO, handle_cancel},
};

/*
 * What decoding one frame may allocate: twice its size, plus room for the structures of
 * a statement's fields. A frame of a million empty parameters is 2 MB on the wire but
 * would be some 40 MB of structures; past the budget protobuf-c gets NULL, frees what it
 * built and fails, and the frame is refused as malformed.
 */
#define DECODE_SLACK (64u << 10)

struct budget {
	size_t left;
};

/* protobuf-c's allocation, refused once the frame's budget is spent. */
static void *
budget_alloc(void *data, size_t size)
{
	struct budget *b = data;

	if (size > b->left)
		return NULL;
	b->left -= size;
	return malloc(size);
}

/* protobuf-c's free; what was freed is not given back to the budget. */
static void
budget_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

int
sv_dispatch_frame(struct sv_peer *p, const uint8_t *payload, size_t len, char *why,
		  size_t whylen)
{
	struct budget b = {.left = 2 * len + DECODE_SLACK};
	ProtobufCAllocator alloc = {.alloc = budget_alloc, .free = budget_free, .allocator_data = &b};
	Sovereign__ChildMessage *m;
	const struct handler *h = NULL;
	size_t i;
	int r;

	why[0] = '\0';
	if ((m = sovereign__child_message__unpack(&alloc, len, payload)) == NULL) {
		snprintf(why, whylen, "malformed frame of %zu bytes (or one that decodes into more "
			 "than %zu bytes)", len, 2 * len + DECODE_SLACK);
		return -EPROTO;
	}
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].body == m->body_case)
			h = &handlers[i];
	if (h == NULL) {
		snprintf(why, whylen, "frame with no known request");
		r = -EPROTO;
	} else if ((h->when == AFTER_HELLO) != (p->hello_seen != 0)) {
		snprintf(why, whylen, "%s handshake", p->hello_seen ? "second" : "request before");
		r = -EPROTO;
	} else {
		r = h->fn(p, m, why, whylen);
	}
	sovereign__child_message__free_unpacked(m, &alloc);
	return r;
}
