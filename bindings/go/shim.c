/* shim.c - C side of the Go binding; see shim.h.
 *
 * The error rule: a failure of an operation on an object (handle, listener, mirror; a
 * cursor's dump fails on its handle) is read from that object (ct_handle_last_error, ...),
 * which does not depend on the OS thread. The thread's error (ct_last_error_message) is read
 * only where no such object exists yet: building an entry, filter or expectation from Go's
 * records, opening, and reading a list (which keeps no error). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shim.h"
#include "_cgo_export.h" /* gctEventsDeliver, gctExpectDeliver: the Go callbacks */

/* Copies an error detail into err when rc is a failure; returns rc. */
static ct_status copy_err(ct_status rc, const char *msg, int32_t err_no, gct_err *err) {
    if (rc != CT_OK && err != NULL) {
        snprintf(err->msg, sizeof err->msg, "%s", msg ? msg : "");
        err->err_no = err_no;
    }
    return rc;
}

/* The calling thread's error: for failures before any object exists. */
static ct_status thread_err(ct_status rc, gct_err *err) {
    return rc == CT_OK ? rc : copy_err(rc, ct_last_error_message(), ct_last_errno(), err);
}

/* The error the handle, listener or mirror recorded for its own failed call. */
static ct_status handle_err(ct_status rc, const ct_handle *h, gct_err *err) {
    return rc == CT_OK ? rc : copy_err(rc, ct_handle_last_error(h), ct_handle_last_errno(h), err);
}

static ct_status events_err(ct_status rc, const ct_events *ev, gct_err *err) {
    return rc == CT_OK ? rc : copy_err(rc, ct_events_last_error(ev), ct_events_last_errno(ev), err);
}

static ct_status mirror_err(ct_status rc, const ct_mirror *m, gct_err *err) {
    return rc == CT_OK ? rc : copy_err(rc, ct_mirror_last_error(m), ct_mirror_last_errno(m), err);
}

uint32_t gct_view_size(size_t size) {
    ct_entry *e = NULL;
    uint32_t got = 0;
    ct_view *v = calloc(1, size < sizeof(ct_view) ? sizeof(ct_view) : size);
    if (v != NULL && ct_entry_new(&e) == CT_OK && ct_entry_view(e, v, size) == CT_OK) got = v->size;
    ct_entry_free(e);
    free(v);
    return got;
}

/* The helper of an entry whose view says CT_VIEW_MORE (the view carries everything else). */
static void read_helper(const ct_entry *e, gct_rview *out) {
    out->helper[0] = 0;
    if (e != NULL && (out->view.present & CT_VIEW_MORE) &&
        ct_entry_get_helper(e, out->helper, sizeof out->helper) != CT_OK)
        out->helper[0] = 0;
}

void gct_read(const ct_entry *e, gct_rview *out) {
    if (ct_entry_view(e, &out->view, sizeof *out) != CT_OK) memset(out, 0, sizeof *out);
    read_helper(e, out);
}

ct_status gct_list_views(const ct_entry_list *list, size_t first, gct_rview *out, size_t cap, size_t *n, gct_err *err) {
    ct_status rc = thread_err(ct_entry_list_views(list, first, &out->view, sizeof *out, cap, n), err);
    if (rc != CT_OK) return rc;
    for (size_t i = 0; i < *n; i++)
        if (out[i].view.present & CT_VIEW_MORE) read_helper(ct_entry_list_get(list, first + i), &out[i]);
    return rc;
}

/* The entry `f` describes: its view (held to the setters' rules by the library), then
 * what the view cannot carry. */
ct_status gct_build(const gct_flat *f, ct_entry **out, gct_err *err) {
    ct_entry *e = NULL;
    ct_status rc = ct_entry_from_view(&f->view, &e);
    if (rc == CT_OK && (f->has & GCT_LABELS_MASK)) {
        for (uint32_t bit = 0; bit < 128 && rc == CT_OK; bit++)
            if (f->labels_mask[bit / 8] & (1u << (bit % 8)))
                rc = ct_entry_set_label(e, bit, (f->labels[bit / 8] >> (bit % 8)) & 1);
    }
    if (rc == CT_OK && (f->has & GCT_HELPER)) rc = ct_entry_set_helper(e, f->helper);
    if (rc != CT_OK) {
        thread_err(rc, err);
        ct_entry_free(e);
        return rc;
    }
    *out = e;
    return CT_OK;
}

ct_status gct_validate(const gct_flat *f, gct_err *err) {
    ct_entry *e = NULL;
    ct_status rc = gct_build(f, &e, err);
    ct_entry_free(e);
    return rc;
}

ct_status gct_roundtrip(const gct_flat *in, gct_rview *out, gct_err *err) {
    ct_entry *e = NULL, *c = NULL;
    ct_status rc = gct_build(in, &e, err);
    if (rc != CT_OK) return rc;
    rc = thread_err(ct_entry_clone(e, &c), err);
    if (rc == CT_OK) gct_read(c, out);
    ct_entry_free(c);
    ct_entry_free(e);
    return rc;
}

ct_status gct_format(const gct_flat *f, uint32_t flags, char *buf, size_t len, size_t *needed, gct_err *err) {
    ct_entry *e = NULL;
    ct_status rc = gct_build(f, &e, err);
    if (rc != CT_OK) return rc;
    rc = ct_entry_format(e, flags, buf, len, needed);
    if (rc != CT_ERR_BUFFER_TOO_SMALL) thread_err(rc, err);
    ct_entry_free(e);
    return rc;
}

ct_status gct_entry_op(ct_handle *h, int op, const gct_flat *f, gct_err *err) {
    ct_entry *e = NULL;
    ct_status rc = gct_build(f, &e, err);
    if (rc != CT_OK) return rc;
    switch (op) {
    case GCT_OP_CREATE: rc = handle_err(ct_create(h, e), h, err); break;
    case GCT_OP_UPDATE: rc = handle_err(ct_update(h, e), h, err); break;
    case GCT_OP_DELETE: rc = handle_err(ct_delete(h, e), h, err); break;
    default: rc = copy_err(CT_ERR_INVALID_ARGUMENT, "unknown operation", 0, err); break;
    }
    ct_entry_free(e);
    return rc;
}

ct_status gct_get(ct_handle *h, const gct_flat *key, gct_rview *out, gct_err *err) {
    ct_entry *k = NULL, *got = NULL;
    ct_status rc = gct_build(key, &k, err);
    if (rc != CT_OK) return rc;
    rc = handle_err(ct_get(h, k, &got), h, err);
    if (rc == CT_OK) gct_read(got, out);
    ct_entry_free(got);
    ct_entry_free(k);
    return rc;
}



/* Builds the filter `fs` describes; *out stays NULL when fs is NULL (every entry). */
static ct_status filter_build(const gct_fspec *fs, ct_filter **out) {
    *out = NULL;
    if (fs == NULL) return CT_OK;
    ct_filter *f = NULL;
    ct_status rc = ct_filter_new(&f);
#define TRY(x) do { if (rc == CT_OK) rc = (x); } while (0)
    if (fs->has & GCTF_FAMILY) TRY(ct_filter_set_family(f, fs->family));
    if (fs->has & GCTF_PROTO) TRY(ct_filter_set_proto(f, fs->proto));
    if (fs->has & GCTF_ZONE) TRY(ct_filter_set_zone(f, fs->zone));
    if (fs->has & GCTF_MARK) TRY(ct_filter_set_mark(f, fs->mark, fs->mark_mask));
    if (fs->has & GCTF_STATUS) TRY(ct_filter_set_status(f, fs->status, fs->status_mask));
    for (uint32_t w = 0; w < 4; w++) {
        if (fs->has & (GCTF_ADDR0 << w)) TRY(ct_filter_set_addr(f, w, fs->addr[w]));
        if (fs->has & (GCTF_PORT0 << w)) TRY(ct_filter_set_port(f, w, fs->port[w]));
    }
    if (fs->has & GCTF_NO_KERNEL) TRY(ct_filter_set_kernel_filtering(f, false));
    if (fs->has & GCTF_NAT) TRY(ct_filter_set_nat(f, fs->nat_kind, fs->nat));
#undef TRY
    if (rc != CT_OK) {
        ct_filter_free(f);
        return rc;
    }
    *out = f;
    return CT_OK;
}

ct_status gct_cursor_open(ct_handle *h, const gct_fspec *fs, ct_cursor **out, gct_err *err) {
    ct_filter *f = NULL;
    ct_status rc = thread_err(filter_build(fs, &f), err);
    if (rc == CT_OK) rc = handle_err(ct_cursor_open(h, f, out), h, err);
    ct_filter_free(f);
    return rc;
}

ct_status gct_cursor_views(ct_handle *h, ct_cursor *cur, gct_rview *out, size_t cap, size_t *n, gct_err *err) {
    /* The dump's failures are recorded on the handle the cursor holds. */
    ct_status rc = handle_err(ct_cursor_next_views(cur, &out->view, sizeof *out, cap, n), h, err);
    /* A block ends right after a view with CT_VIEW_MORE: only its last one can need it. */
    if (*n > 0 && (out[*n - 1].view.present & CT_VIEW_MORE)) {
        const ct_entry *last = NULL;
        if (ct_cursor_last(cur, &last) == CT_OK) read_helper(last, &out[*n - 1]);
    }
    return rc;
}

ct_status gct_list(ct_handle *h, const gct_fspec *fs, ct_entry_list **out, gct_err *err) {
    ct_filter *f = NULL;
    ct_status rc = thread_err(filter_build(fs, &f), err);
    if (rc == CT_OK) rc = handle_err(ct_list(h, f, out), h, err);
    ct_filter_free(f);
    return rc;
}

ct_status gct_delete_matching(ct_handle *h, const gct_fspec *fs, int flush, uint64_t *n, gct_err *err) {
    ct_filter *f = NULL;
    ct_status rc = thread_err(filter_build(fs, &f), err);
    if (rc == CT_OK) rc = handle_err(flush ? ct_flush_matching(h, f, n) : ct_delete_matching(h, f, n), h, err);
    ct_filter_free(f);
    return rc;
}

/* Builds the set of the `count` filters `fs` describes. */
static ct_status set_build(const gct_fspec *fs, size_t count, ct_filters **out) {
    ct_filters *set = NULL;
    ct_status rc = ct_filters_new(&set);
    for (size_t i = 0; rc == CT_OK && i < count; i++) {
        ct_filter *f = NULL;
        rc = filter_build(&fs[i], &f);
        if (rc == CT_OK) rc = ct_filters_add(set, f);
        ct_filter_free(f);
    }
    if (rc != CT_OK) {
        ct_filters_free(set);
        return rc;
    }
    *out = set;
    return CT_OK;
}

/* The matches of a dump over a set, gathered as records for Go to read after the call. */
typedef struct {
    gct_rview *v;
    size_t n, cap;
    int oom;
} gather;

static int gather_one(const ct_entry *e, void *user) {
    gather *g = user;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        gct_rview *bigger = realloc(g->v, cap * sizeof *bigger);
        if (bigger == NULL) {
            g->oom = 1;
            return 1;
        }
        g->v = bigger;
        g->cap = cap;
    }
    gct_read(e, &g->v[g->n++]);
    return 0;
}

ct_status gct_dump_any(ct_handle *h, const gct_fspec *fs, size_t count, gct_rview **out, size_t *n, gct_err *err) {
    ct_filters *set = NULL;
    gather g = {NULL, 0, 0, 0};
    ct_status rc = thread_err(set_build(fs, count, &set), err);
    if (rc == CT_OK) rc = handle_err(ct_dump_any(h, set, gather_one, &g), h, err);
    ct_filters_free(set);
    if (rc == CT_OK && g.oom) {
        snprintf(err->msg, sizeof err->msg, "dump any: out of memory");
        err->err_no = ENOMEM;
        free(g.v);
        return CT_ERR_INTERNAL;
    }
    if (rc != CT_OK) {
        free(g.v);
        return rc;
    }
    *out = g.v;
    *n = g.n;
    return CT_OK;
}

ct_status gct_delete_matching_any(ct_handle *h, const gct_fspec *fs, size_t count, uint64_t *n, gct_err *err) {
    ct_filters *set = NULL;
    ct_status rc = thread_err(set_build(fs, count, &set), err);
    if (rc == CT_OK) rc = handle_err(ct_delete_matching_any(h, set, n), h, err);
    ct_filters_free(set);
    return rc;
}




/* A request the view carries whole (no helper, no label mask) can go in a block of views. */
static int view_only(const gct_flat *f) { return (f->has & (GCT_LABELS_MASK | GCT_HELPER)) == 0; }

static uint32_t batch_op(int32_t op) {
    return op == GCT_OP_CREATE ? CT_BATCH_CREATE : op == GCT_OP_UPDATE ? CT_BATCH_UPDATE : CT_BATCH_DELETE;
}

ct_status gct_batch_fill(ct_batch *b, const int32_t *ops, const gct_flat *flats, size_t n, int32_t *build_rc) {
    size_t i = 0;
    while (i < n) {
        int32_t op = ops[i];
        if (op < GCT_OP_CREATE || op > GCT_OP_DELETE) {
            build_rc[i++] = CT_ERR_INVALID_ARGUMENT; /* not converted on the Go side: skipped */
            continue;
        }
        if (view_only(&flats[i])) {
            /* A run of one operation's plain views: one call, the flats' stride apart. A view
             * the library refuses still takes its index, with the reason as its outcome. */
            size_t j = i + 1;
            while (j < n && ops[j] == op && view_only(&flats[j])) j++;
            ct_status rc = ct_batch_add_views(b, batch_op(op), &flats[i].view, sizeof(gct_flat), j - i);
            for (; i < j; i++) build_rc[i] = rc;
            continue;
        }
        ct_entry *e = NULL;
        ct_status rc = gct_build(&flats[i], &e, NULL);
        if (rc == CT_OK) {
            switch (op) {
            case GCT_OP_CREATE: rc = ct_batch_add_create(b, e); break;
            case GCT_OP_UPDATE: rc = ct_batch_add_update(b, e); break;
            default: rc = ct_batch_add_delete(b, e); break;
            }
            ct_entry_free(e);
        }
        build_rc[i++] = rc;
    }
    return CT_OK;
}

void gct_batch_results(const ct_batch *b, size_t n, int32_t *status, int32_t *err_no) {
    for (size_t i = 0; i < n; i++) {
        ct_status st = CT_OK;
        int32_t en = 0;
        ct_status rc = ct_batch_result(b, i, &st, &en);
        status[i] = rc == CT_OK ? st : -1; /* -1: outcome unknown */
        err_no[i] = rc == CT_OK ? en : 0;
    }
}

ct_status gct_events_set_filter(ct_events *ev, const gct_fspec *fs, gct_err *err) {
    ct_filter *f = NULL;
    ct_status rc = thread_err(filter_build(fs, &f), err);
    if (rc == CT_OK) rc = events_err(ct_events_set_filter(ev, f), ev, err); /* copied: NULL delivers every event */
    ct_filter_free(f);
    return rc;
}

/* Events reach Go in chunks, as a dump's entries do. */
typedef struct {
    gct_event *buf;
    size_t n;
    uintptr_t user;
} events_ctx;

static void events_flush(events_ctx *ctx) {
    if (ctx->n > 0) gctEventsDeliver(ctx->buf, ctx->n, ctx->user);
    ctx->n = 0;
}

static int32_t events_trampoline(uint32_t type, const ct_entry *e, void *user) {
    events_ctx *ctx = user;
    ctx->buf[ctx->n].kind = type;
    gct_read(e, &ctx->buf[ctx->n].entry);
    if (++ctx->n == GCT_EVENT_CHUNK) events_flush(ctx);
    return 0; /* never stop: an event not taken now would be lost */
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until `fd` or `wake_fd` (when >= 0) is readable or `deadline` (now_ms() time; -1:
 * none) passes. The wait is ours, not ct_events_receive's: a signal (EINTR) must not start
 * the timeout over. Returns 1 for fd, 2 for wake_fd, 0 on timeout, -1 with errno. */
static int events_wait(int fd, int wake_fd, int64_t deadline) {
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            wait = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
        }
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
        int rc = poll(p, wake_fd >= 0 ? 2 : 1, wait);
        if (rc > 0) return wake_fd >= 0 && p[1].revents != 0 ? 2 : 1;
        if (rc == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

ct_status gct_events_receive(ct_events *ev, int32_t timeout_ms, int wake_fd, uintptr_t user,
                             size_t *delivered, uint64_t *overruns, int *woken, gct_err *err) {
    *delivered = 0;
    *woken = 0;
    events_ctx ctx = {NULL, 0, user};
    ctx.buf = malloc(GCT_EVENT_CHUNK * sizeof *ctx.buf);
    if (ctx.buf == NULL) {
        *overruns = ct_events_overruns(ev);
        snprintf(err->msg, sizeof err->msg, "receive events: out of memory");
        err->err_no = ENOMEM;
        return CT_ERR_INTERNAL;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    ct_status rc = CT_OK;
    for (;;) {
        int w = events_wait(ct_events_fd(ev), wake_fd, deadline);
        if (w < 0) {
            err->err_no = errno;
            snprintf(err->msg, sizeof err->msg, "wait for events: poll: %s", strerror(errno));
            rc = CT_ERR_KERNEL;
            break;
        }
        if (w == 2) {
            *woken = 1;
            break;
        }
        if (w == 0) break;
        size_t n = 0;
        rc = events_err(ct_events_receive(ev, 0, events_trampoline, &ctx, &n), ev, err);
        *delivered += n;
        if (rc != CT_OK || *delivered > 0 || timeout_ms == 0) break;
    }
    *overruns = ct_events_overruns(ev);
    /* What the library delivered before it returned, even with an error, stands. */
    events_flush(&ctx);
    free(ctx.buf);
    return rc;
}

/* Builds the expectation `x` describes. */
static ct_status expect_build(const gct_xflat *x, ct_expect **out) {
    ct_expect *e = NULL;
    ct_status rc = ct_expect_new(&e);
    for (uint32_t w = 0; w < 3 && rc == CT_OK; w++) {
        if (!(x->has & (GCTX_TUPLE0 << w))) continue;
        ct_entry *t = NULL;
        rc = gct_build(&x->tuple[w], &t, NULL);
        if (rc == CT_OK) rc = ct_expect_set_tuple(e, w, t);
        ct_entry_free(t);
    }
#define TRY(c) do { if (rc == CT_OK) rc = (c); } while (0)
    if (x->has & GCTX_TIMEOUT) TRY(ct_expect_set_timeout(e, x->timeout));
    if (x->has & GCTX_ZONE) TRY(ct_expect_set_zone(e, x->zone));
    if (x->has & GCTX_HELPER) TRY(ct_expect_set_helper(e, x->helper));
    if (x->has & GCTX_CLASS) TRY(ct_expect_set_class(e, x->cls));
#undef TRY
    if (rc != CT_OK) {
        ct_expect_free(e);
        return rc;
    }
    *out = e;
    return CT_OK;
}

ct_status gct_expect_op(ct_handle *h, int op, const gct_xflat *x, gct_err *err) {
    ct_expect *e = NULL;
    ct_status rc = thread_err(expect_build(x, &e), err);
    if (rc == CT_OK) {
        switch (op) {
        case GCT_OP_CREATE: rc = handle_err(ct_expect_create(h, e), h, err); break;
        case GCT_OP_DELETE: rc = handle_err(ct_expect_delete(h, e), h, err); break;
        default: rc = copy_err(CT_ERR_INVALID_ARGUMENT, "unknown operation", 0, err); break;
        }
    }
    ct_expect_free(e);
    return rc;
}

/* Every field of `e` into `out`. */
static void expect_read(const ct_expect *e, gct_xflat *out) {
    memset(out, 0, sizeof *out);
    for (uint32_t w = 0; w < 3; w++) {
        ct_entry *t = NULL;
        if (ct_expect_get_tuple(e, w, &t) == CT_OK) {
            gct_read(t, &out->rtuple[w]);
            out->has |= GCTX_TUPLE0 << w;
        }
        ct_entry_free(t);
    }
    if (ct_expect_get_timeout(e, &out->timeout) == CT_OK) out->has |= GCTX_TIMEOUT;
    if (ct_expect_get_zone(e, &out->zone) == CT_OK) out->has |= GCTX_ZONE;
    if (ct_expect_get_class(e, &out->cls) == CT_OK) out->has |= GCTX_CLASS;
    if (ct_expect_get_flags(e, &out->flags) == CT_OK) out->has |= GCTX_FLAGS;
    if (ct_expect_get_id(e, &out->id) == CT_OK) out->has |= GCTX_ID;
    if (ct_expect_get_helper(e, out->helper, sizeof out->helper) == CT_OK) out->has |= GCTX_HELPER;
}

typedef struct {
    gct_xflat *buf;
    size_t n;
    uintptr_t user;
} expect_ctx;

static void expect_flush_chunk(expect_ctx *ctx) {
    if (ctx->n > 0) gctExpectDeliver(ctx->buf, ctx->n, ctx->user);
    ctx->n = 0;
}

static int32_t expect_trampoline(const ct_expect *e, void *user) {
    expect_ctx *ctx = user;
    expect_read(e, &ctx->buf[ctx->n]);
    if (++ctx->n == GCT_EXPECT_CHUNK) expect_flush_chunk(ctx);
    return 0;
}

ct_status gct_expect_dump(ct_handle *h, uintptr_t user, gct_err *err) {
    expect_ctx ctx = {NULL, 0, user};
    ctx.buf = malloc(GCT_EXPECT_CHUNK * sizeof *ctx.buf);
    if (ctx.buf == NULL) {
        snprintf(err->msg, sizeof err->msg, "expectations: out of memory");
        err->err_no = ENOMEM;
        return CT_ERR_INTERNAL;
    }
    ct_status rc = handle_err(ct_expect_dump(h, expect_trampoline, &ctx), h, err);
    expect_flush_chunk(&ctx);
    free(ctx.buf);
    return rc;
}


ct_status gct_mirror_open(const char *netns, const gct_fspec *fs, ct_mirror **out, gct_err *err) {
    ct_filter *f = NULL;
    ct_status rc = filter_build(fs, &f);
    if (rc == CT_OK) rc = ct_mirror_open(netns, f, out); /* the filter is copied */
    thread_err(rc, err); /* no mirror yet */
    ct_filter_free(f);
    return rc;
}

/* A growing array of the changes of one step. */
typedef struct {
    gct_mchange *buf;
    size_t n, cap;
    int oom;
} mirror_ctx;

static int32_t mirror_trampoline(uint32_t change, const ct_entry *e, void *user) {
    mirror_ctx *ctx = user;
    if (ctx->oom) return 1;
    if (ctx->n == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 64;
        gct_mchange *b = realloc(ctx->buf, cap * sizeof *b);
        if (b == NULL) {
            ctx->oom = 1;
            return 1;
        }
        ctx->buf = b;
        ctx->cap = cap;
    }
    ctx->buf[ctx->n].kind = change;
    gct_read(e, &ctx->buf[ctx->n].entry);
    ctx->n++;
    return 0;
}

ct_status gct_mirror_step(ct_mirror *m, gct_mchange **out, size_t *n, gct_err *err) {
    mirror_ctx ctx = {NULL, 0, 0, 0};
    ct_status rc = mirror_err(ct_mirror_step(m, 0, mirror_trampoline, &ctx, NULL), m, err);
    if (ctx.oom && rc == CT_OK) {
        snprintf(err->msg, sizeof err->msg, "mirror step: out of memory for the changes");
        err->err_no = ENOMEM;
        rc = CT_ERR_INTERNAL;
    }
    *out = ctx.buf;
    *n = ctx.n;
    return rc;
}

int gct_mirror_wait(int fd, int closed_fd, int cancel_fd, int32_t timeout_ms, int *err_no) {
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    *err_no = 0;
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            wait = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
        }
        struct pollfd p[3] = {{.fd = fd, .events = POLLIN},
                              {.fd = closed_fd, .events = POLLIN},
                              {.fd = cancel_fd, .events = POLLIN}};
        int rc = poll(p, 3, wait); /* a negative descriptor is skipped */
        if (rc > 0) return p[1].revents || p[2].revents ? 2 : 1;
        if (rc == 0) return 0;
        if (errno != EINTR) {
            *err_no = errno;
            return -1;
        }
    }
}

ct_status gct_mirror_get(ct_mirror *m, const gct_flat *key, gct_rview *out, gct_err *err) {
    ct_entry *k = NULL;
    const ct_entry *got = NULL;
    ct_status rc = gct_build(key, &k, err);
    if (rc != CT_OK) return rc;
    rc = mirror_err(ct_mirror_get(m, k, &got), m, err);
    if (rc == CT_OK) gct_read(got, out); /* valid until the next step: copied now */
    ct_entry_free(k);
    return rc;
}

ct_status gct_mirror_get_by_id(ct_mirror *m, uint32_t id, gct_rview *out, gct_err *err) {
    const ct_entry *got = NULL;
    ct_status rc = mirror_err(ct_mirror_get_by_id(m, id, &got), m, err);
    if (rc == CT_OK) gct_read(got, out);
    return rc;
}

typedef struct {
    gct_rview *buf;
    size_t n, cap;
} snapshot_ctx;

static int32_t snapshot_trampoline(const ct_entry *e, void *user) {
    snapshot_ctx *ctx = user;
    if (ctx->n == ctx->cap) return 1; /* the count said fewer: cannot happen */
    gct_read(e, &ctx->buf[ctx->n++]);
    return 0;
}

ct_status gct_mirror_snapshot(ct_mirror *m, gct_rview **out, size_t *n, gct_err *err) {
    snapshot_ctx ctx = {NULL, 0, ct_mirror_count(m)};
    *out = NULL;
    *n = 0;
    if (ctx.cap > 0 && (ctx.buf = malloc(ctx.cap * sizeof *ctx.buf)) == NULL) {
        snprintf(err->msg, sizeof err->msg, "mirror snapshot: out of memory");
        err->err_no = ENOMEM;
        return CT_ERR_INTERNAL;
    }
    ct_status rc = mirror_err(ct_mirror_each(m, snapshot_trampoline, &ctx), m, err);
    *out = ctx.buf;
    *n = ctx.n;
    return rc;
}
