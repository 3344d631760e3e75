/* shim.h - C side of the Go binding (package conntrack).
 *
 * A Go entry crosses into C as the library's flat record (ct_view) plus the two fields the
 * record lacks, and a filter as one flat struct (no pointers, so Go may pass a pointer to
 * its own memory); entries are read back as records too, a block per call. An operation
 * that needs C objects built from Go's records builds them, runs, copies the error detail
 * and frees them inside ONE C call. The detail of an operation's failure is the error its
 * object (handle, listener, mirror) keeps (ct_handle_last_error, ...), the same on every OS
 * thread; a goroutine may move to another OS thread between two cgo calls, so the
 * thread-local ct_last_error_message() is read only for failures before any object exists
 * (building an entry, filter or expectation; opening), in the call that failed.
 * Operations that take nothing but such an object and plain values are called directly from
 * Go, which then reads that object's error; constructors called from Go lock the goroutine
 * to its OS thread until it has read the thread's error. */
#ifndef CONNTRACK_GO_SHIM_H
#define CONNTRACK_GO_SHIM_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "conntrack.h"

/* Bits of gct_flat.has: what an entry to write holds beyond its view. */
enum {
    GCT_LABELS_MASK = 1u << 0, /* change only the label bits of labels_mask, to labels */
    GCT_HELPER = 1u << 1,
};

#define GCT_HELPER_MAX 32
#define GCT_MSG_MAX 1024
#define GCT_FILTER_ADDR_MAX 64
#define GCT_EVENT_CHUNK 64

/* An entry as Go writes it: its view (every settable field the view carries, size set)
 * and what the view cannot carry. */
typedef struct {
    ct_view view;
    uint32_t has;
    uint8_t labels[16];      /* with GCT_LABELS_MASK */
    uint8_t labels_mask[16]; /* with GCT_LABELS_MASK */
    char helper[GCT_HELPER_MAX];
} gct_flat;

/* Presence bits of gct_fspec.has. */
enum {
    GCTF_FAMILY = 1u << 0,
    GCTF_PROTO = 1u << 1,
    GCTF_ZONE = 1u << 2,
    GCTF_MARK = 1u << 3,
    GCTF_STATUS = 1u << 4,
    GCTF_ADDR0 = 1u << 5, /* + which: 4 bits */
    GCTF_PORT0 = 1u << 9, /* + which: 4 bits */
    GCTF_NO_KERNEL = 1u << 13,
    GCTF_NAT = 1u << 14, /* nat_kind (CT_NAT_*) and nat ("ADDR[:PORT]", ":PORT" or "") */
};

/* Every field of a ct_filter. */
typedef struct {
    uint32_t has;
    uint8_t family;
    uint8_t proto;
    uint16_t zone;
    uint32_t mark, mark_mask;
    uint32_t status, status_mask;
    char addr[4][GCT_FILTER_ADDR_MAX];
    uint16_t port[4];
    uint32_t nat_kind;
    char nat[GCT_FILTER_ADDR_MAX];
} gct_fspec;

/* The detail of a failure, copied in the call that failed. */
typedef struct {
    int32_t err_no;
    char msg[GCT_MSG_MAX];
} gct_err;

enum { GCT_OP_CREATE = 0, GCT_OP_UPDATE = 1, GCT_OP_DELETE = 2 };

/* An entry as Go reads it: the library's flat view (ct_view) and, when the view says
 * CT_VIEW_MORE, the helper name (the one field Go's Entry has beyond the view). Arrays of
 * these are filled by the library's block calls with sizeof(gct_rview) as their stride. */
typedef struct {
    ct_view view;
    char helper[GCT_HELPER_MAX];
} gct_rview;

/* One event as Go receives it: the CT_EVENT_* type and a copy of the entry. */
typedef struct {
    uint32_t kind;
    gct_rview entry;
} gct_event;

/* The layout check: ct_entry_view of a fresh entry into `size` bytes; the size the library
 * says it wrote (0 when it refused). */
uint32_t gct_view_size(size_t size);
void gct_read(const ct_entry *e, gct_rview *out);
/* Up to `cap` entries of `list` from `first` into `out` (one call a block); *n says how many. */
ct_status gct_list_views(const ct_entry_list *list, size_t first, gct_rview *out, size_t cap, size_t *n, gct_err *err);
ct_status gct_cursor_open(ct_handle *h, const gct_fspec *fs, ct_cursor **out, gct_err *err);
/* The next block of a dump (ct_cursor_next_views); *n is 0 at the end, and is written on
 * errors too (the views before the error are whole). Its failures are read from `h`, the
 * handle the cursor holds. */
ct_status gct_cursor_views(ct_handle *h, ct_cursor *cur, gct_rview *out, size_t cap, size_t *n, gct_err *err);
ct_status gct_validate(const gct_flat *f, gct_err *err);
ct_status gct_build(const gct_flat *f, ct_entry **out, gct_err *err);
ct_status gct_roundtrip(const gct_flat *in, gct_rview *out, gct_err *err);
ct_status gct_format(const gct_flat *f, uint32_t flags, char *buf, size_t len, size_t *needed, gct_err *err);
ct_status gct_entry_op(ct_handle *h, int op, const gct_flat *f, gct_err *err);
ct_status gct_get(ct_handle *h, const gct_flat *key, gct_rview *out, gct_err *err);
ct_status gct_list(ct_handle *h, const gct_fspec *fs, ct_entry_list **out, gct_err *err);
ct_status gct_delete_matching(ct_handle *h, const gct_fspec *fs, int flush, uint64_t *n, gct_err *err);
/* The same over a set of `count` filters (entries matching any of them). */
/* gct_dump_any gathers the matches as records into *out (free it with free()), *n of them. */
ct_status gct_dump_any(ct_handle *h, const gct_fspec *fs, size_t count, gct_rview **out, size_t *n, gct_err *err);
ct_status gct_delete_matching_any(ct_handle *h, const gct_fspec *fs, size_t count, uint64_t *n, gct_err *err);
/* Queues the `n` requests in order: runs of plain views of one operation through
 * ct_batch_add_views (one call a run), the others built one by one; build_rc[i] is CT_OK
 * when request i was queued. */
ct_status gct_batch_fill(ct_batch *b, const int32_t *ops, const gct_flat *flats, size_t n, int32_t *build_rc);
void gct_batch_results(const ct_batch *b, size_t n, int32_t *status, int32_t *err_no);

/* Presence bits of gct_xflat.has. */
enum {
    GCTX_TUPLE0 = 1u << 0, /* + which (CT_EXPECT_MASTER .. CT_EXPECT_MASK): 3 bits */
    GCTX_TIMEOUT = 1u << 3,
    GCTX_ZONE = 1u << 4,
    GCTX_HELPER = 1u << 5,
    GCTX_CLASS = 1u << 6,
    GCTX_FLAGS = 1u << 7,
    GCTX_ID = 1u << 8,
};

#define GCT_EXPECT_CHUNK 32

/* Every field of a ct_expect: each tuple as the original tuple of an entry. */
typedef struct {
    uint32_t has;
    gct_flat tuple[3];     /* written by Go: the expectation to create or delete */
    gct_rview rtuple[3];   /* read from the library */
    uint32_t timeout;
    uint32_t zone;
    uint32_t cls;
    uint32_t flags;
    uint32_t id;
    char helper[GCT_HELPER_MAX];
} gct_xflat;

ct_status gct_expect_op(ct_handle *h, int op, const gct_xflat *x, gct_err *err); /* GCT_OP_CREATE or GCT_OP_DELETE */
ct_status gct_expect_dump(ct_handle *h, uintptr_t user, gct_err *err);

ct_status gct_events_set_filter(ct_events *ev, const gct_fspec *fs, gct_err *err);
/* Waits up to timeout_ms (-1: no end) until events are queued, or, when wake_fd >= 0, until
 * wake_fd is readable (*woken = 1, nothing received); then receives what is queued, handing
 * the events to Go in chunks (gctEventsDeliver with `user`). Readable but nothing delivered
 * (the filter left everything out) waits again for the rest of the time. *delivered and
 * *overruns (ct_events_overruns) are always written. */
ct_status gct_events_receive(ct_events *ev, int32_t timeout_ms, int wake_fd, uintptr_t user,
                             size_t *delivered, uint64_t *overruns, int *woken, gct_err *err);

/* One change of a mirror as Go receives it: CT_MIRROR_NEW/_UPDATE/_DESTROY, with
 * CT_MIRROR_REPAIR, and a copy of the entry. */
typedef struct {
    uint32_t kind;
    gct_rview entry;
} gct_mchange;

ct_status gct_mirror_open(const char *netns, const gct_fspec *fs, ct_mirror **out, gct_err *err);
/* Runs ct_mirror_step without waiting (the wait is gct_mirror_wait's, outside the lock Go
 * holds around every call on the mirror). The changes are collected, as views, into one
 * malloc'd array (*out, *n; free it with free(), also on errors: what was delivered before
 * an error stands): one cgo call for a whole step, however many changes. */
ct_status gct_mirror_step(ct_mirror *m, gct_mchange **out, size_t *n, gct_err *err);
/* Waits up to timeout_ms (-1: no end) until fd, closed_fd or cancel_fd (either may be -1)
 * is readable or hung up: 1 for fd, 2 for the others, 0 on timeout, -1 with *err_no. A
 * signal (EINTR) does not start the timeout over. */
int gct_mirror_wait(int fd, int closed_fd, int cancel_fd, int32_t timeout_ms, int *err_no);
ct_status gct_mirror_get(ct_mirror *m, const gct_flat *key, gct_rview *out, gct_err *err);
ct_status gct_mirror_get_by_id(ct_mirror *m, uint32_t id, gct_rview *out, gct_err *err);
/* Every entry of the mirror into a malloc'd array (*out, *n; free() it). */
ct_status gct_mirror_snapshot(ct_mirror *m, gct_rview **out, size_t *n, gct_err *err);

#endif
