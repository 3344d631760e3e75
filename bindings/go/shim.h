/* shim.h - C side of the Go binding (package conntrack).
 *
 * A Go entry or filter crosses into C as one flat struct (no pointers, so Go may pass a
 * pointer to its own memory), and every operation builds its C objects, runs, copies the
 * error detail and frees them inside ONE C call: a goroutine may move to another OS thread
 * between two cgo calls, so the thread-local ct_last_error_message() is only ever read in
 * the call that failed. Operations that take nothing but a handle and plain values are
 * called directly from Go, which then reads the handle's own error (ct_handle_last_error),
 * the same from any thread. */
#ifndef CONNTRACK_GO_SHIM_H
#define CONNTRACK_GO_SHIM_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "conntrack.h"

/* Presence bits of gct_flat.has. */
enum {
    GCT_FAMILY = 1u << 0,
    GCT_PROTO = 1u << 1,
    GCT_ADDR0 = 1u << 2,   /* + which (CT_ORIG_SRC .. CT_REPLY_DST): 4 bits */
    GCT_PORT0 = 1u << 6,   /* + which: 4 bits */
    GCT_ICMP0 = 1u << 10,  /* + dir: 2 bits */
    GCT_ZONE = 1u << 12,
    GCT_MARK = 1u << 13,
    GCT_STATUS = 1u << 14,
    GCT_TIMEOUT = 1u << 15,
    GCT_TCP_STATE = 1u << 16,
    GCT_SCTP_STATE = 1u << 17,
    GCT_DCCP_STATE = 1u << 18,
    GCT_ID = 1u << 19,
    GCT_USE = 1u << 20,
    GCT_COUNTERS0 = 1u << 21, /* + dir: 2 bits */
    GCT_TS_START = 1u << 23,
    GCT_TS_STOP = 1u << 24,
    GCT_LABELS = 1u << 25,
    GCT_LABELS_MASK = 1u << 26,
    GCT_SECMARK = 1u << 27,
    GCT_HELPER = 1u << 28,
};

#define GCT_HELPER_MAX 32
#define GCT_MSG_MAX 1024
#define GCT_FILTER_ADDR_MAX 64
#define GCT_DUMP_CHUNK 128
#define GCT_EVENT_CHUNK 64

/* Every field of a ct_entry, with a presence bit each. */
typedef struct {
    uint32_t has;
    uint8_t family;
    uint8_t proto;
    uint8_t addr_len[4];
    uint8_t addr[4][16];
    uint16_t port[4];
    uint8_t icmp_type[2];
    uint8_t icmp_code[2];
    uint16_t icmp_id[2];
    uint16_t zone;
    uint32_t mark;
    uint32_t status;
    uint32_t timeout;
    uint8_t tcp_state;
    uint8_t sctp_state;
    uint8_t dccp_state;
    uint32_t id;
    uint32_t use;
    uint64_t packets[2];
    uint64_t bytes[2];
    uint64_t ts_start;
    uint64_t ts_stop;
    uint8_t labels[16];
    uint8_t labels_mask[16];
    uint32_t secmark;
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

/* One event as Go receives it: the CT_EVENT_* type and a copy of the entry. */
typedef struct {
    uint32_t kind;
    gct_flat entry;
} gct_event;

ct_status gct_open(const char *netns, ct_handle **h_out, gct_err *err);
void gct_read(const ct_entry *e, gct_flat *out);
void gct_read_list(const ct_entry_list *list, size_t start, gct_flat *out, size_t n);
ct_status gct_validate(const gct_flat *f, gct_err *err);
ct_status gct_build(const gct_flat *f, ct_entry **out, gct_err *err);
ct_status gct_roundtrip(const gct_flat *in, gct_flat *out, gct_err *err);
ct_status gct_format(const gct_flat *f, uint32_t flags, char *buf, size_t len, size_t *needed, gct_err *err);
ct_status gct_entry_op(ct_handle *h, int op, const gct_flat *f, gct_err *err);
ct_status gct_get(ct_handle *h, const gct_flat *key, gct_flat *out, gct_err *err);
ct_status gct_dump(ct_handle *h, const gct_fspec *fs, uintptr_t user, gct_err *err);
ct_status gct_list(ct_handle *h, const gct_fspec *fs, ct_entry_list **out, gct_err *err);
ct_status gct_delete_matching(ct_handle *h, const gct_fspec *fs, int flush, uint64_t *n, gct_err *err);
/* The same over a set of `count` filters (entries matching any of them). */
ct_status gct_dump_any(ct_handle *h, const gct_fspec *fs, size_t count, uintptr_t user, gct_err *err);
ct_status gct_delete_matching_any(ct_handle *h, const gct_fspec *fs, size_t count, uint64_t *n, gct_err *err);
ct_status gct_batch_new(ct_batch **out, gct_err *err);
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
    gct_flat tuple[3];
    uint32_t timeout;
    uint32_t zone;
    uint32_t cls;
    uint32_t flags;
    uint32_t id;
    char helper[GCT_HELPER_MAX];
} gct_xflat;

ct_status gct_expect_op(ct_handle *h, int op, const gct_xflat *x, gct_err *err); /* GCT_OP_CREATE or GCT_OP_DELETE */
ct_status gct_expect_dump(ct_handle *h, uintptr_t user, gct_err *err);

ct_status gct_events_open(const char *netns, uint32_t types, ct_events **out, gct_err *err);
ct_status gct_events_set_filter(ct_events *ev, const gct_fspec *fs, gct_err *err);
ct_status gct_events_set_receive_buffer(ct_events *ev, size_t bytes, gct_err *err);
ct_status gct_events_set_reliable(ct_events *ev, bool on, gct_err *err);
/* Waits up to timeout_ms (-1: no end) until events are queued, or, when wake_fd >= 0, until
 * wake_fd is readable (*woken = 1, nothing received); then receives what is queued, handing
 * the events to Go in chunks (gctEventsDeliver with `user`). Readable but nothing delivered
 * (the filter left everything out) waits again for the rest of the time. *delivered and
 * *overruns (ct_events_overruns) are always written. */
ct_status gct_events_receive(ct_events *ev, int32_t timeout_ms, int wake_fd, uintptr_t user,
                             size_t *delivered, uint64_t *overruns, int *woken, gct_err *err);

#endif
