/* Misuse of the C API: every exported function with NULL for each pointer, out-of-range
 * numbers, buffers of size 0 and 1, entries lacking what an operation needs, and the
 * *_free(NULL) patterns the header documents as safe. Each gets its documented status and
 * no crash, leak or undefined behaviour (this program runs under ASan+UBSan and valgrind).
 * One private network namespace serves the calls that need a handle. */
#include "common.h"

#include <fcntl.h>
#include <sys/stat.h>

#define NP CT_ERR_NULL_POINTER
#define INV CT_ERR_INVALID_ARGUMENT

static int dummy_cb(const ct_entry *e, void *u) { (void)e; (void)u; return 0; }
static int dummy_ev(uint32_t t, const ct_entry *e, void *u) { (void)t; (void)e; (void)u; return 0; }
static int dummy_x(const ct_expect *x, void *u) { (void)x; (void)u; return 0; }
static int dummy_xev(uint32_t t, const ct_expect *x, void *u) { (void)t; (void)x; (void)u; return 0; }

static bool test_null_everywhere_without_a_handle(void) {
    ct_entry *e = NULL, *out = NULL;
    ct_filter *f = NULL;
    ct_batch *b = NULL;
    ct_expect *x = NULL;
    ct_labelmap *m = NULL;
    char buf[64];
    uint8_t u8 = 0, bytes[16];
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    size_t n = 0;
    bool on = false;
    CHECK_OK(ct_entry_new(&e));
    CHECK_OK(ct_filter_new(&f));
    CHECK_OK(ct_batch_new(&b));
    CHECK_OK(ct_expect_new(&x));
    /* Constructors with NULL out-parameters allocate nothing. */
    CHECK_RC(ct_entry_new(NULL), NP);
    CHECK_RC(ct_filter_new(NULL), NP);
    CHECK_RC(ct_batch_new(NULL), NP);
    CHECK_RC(ct_expect_new(NULL), NP);
    CHECK_RC(ct_entry_clone(NULL, &out), NP);
    CHECK_RC(ct_entry_clone(e, NULL), NP);
    CHECK_RC(ct_expect_clone(NULL, &x), NP);
    CHECK_RC(ct_labelmap_open(NULL, NULL), NP);
    CHECK_RC(ct_open(NULL), NP);
    CHECK_RC(ct_open_netns(NULL, NULL), NP);
    CHECK_RC(ct_open_netns("x", NULL), NP);
    CHECK_RC(ct_events_open(CT_EVENT_NEW, NULL), NP);
    CHECK_RC(ct_events_open_netns(NULL, CT_EVENT_NEW, NULL), NP);
    /* Entry setters and getters. */
    CHECK_RC(ct_entry_set_family(NULL, CT_FAMILY_IPV4), NP);
    CHECK_RC(ct_entry_set_family(e, 3), INV);
    CHECK_RC(ct_entry_get_family(NULL, &u8), NP);
    CHECK_RC(ct_entry_get_family(e, NULL), NP);
    CHECK_RC(ct_entry_set_proto(NULL, 6), NP);
    CHECK_RC(ct_entry_get_proto(e, NULL), NP);
    CHECK_RC(ct_entry_set_addr(NULL, CT_ORIG_SRC, "1.1.1.1"), NP);
    CHECK_RC(ct_entry_set_addr(e, CT_ORIG_SRC, NULL), NP);
    CHECK_RC(ct_entry_set_addr(e, 4, "1.1.1.1"), INV);
    CHECK_RC(ct_entry_set_addr(e, CT_ORIG_SRC, ""), INV);
    CHECK_RC(ct_entry_set_addr_bytes(NULL, CT_ORIG_SRC, bytes, 4), NP);
    CHECK_RC(ct_entry_set_addr_bytes(e, CT_ORIG_SRC, NULL, 4), NP);
    CHECK_RC(ct_entry_set_addr_bytes(e, CT_ORIG_SRC, bytes, 0), INV);
    CHECK_RC(ct_entry_set_addr_bytes(e, CT_ORIG_SRC, bytes, 5), INV);
    CHECK_RC(ct_entry_set_addr_bytes(e, 99, bytes, 4), INV);
    CHECK_RC(ct_entry_get_addr(NULL, CT_ORIG_SRC, buf, sizeof buf), NP);
    CHECK_RC(ct_entry_get_addr(e, CT_ORIG_SRC, NULL, 8), NP);
    CHECK_RC(ct_entry_get_addr(e, CT_ORIG_SRC, buf, sizeof buf), CT_ERR_NOT_SET);
    CHECK_OK(ct_entry_set_addr(e, CT_ORIG_SRC, "10.0.0.1"));
    CHECK_RC(ct_entry_get_addr(e, CT_ORIG_SRC, buf, 0), CT_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(ct_entry_get_addr(e, CT_ORIG_SRC, NULL, 0), CT_ERR_BUFFER_TOO_SMALL);
    buf[0] = 'x';
    CHECK_RC(ct_entry_get_addr(e, CT_ORIG_SRC, buf, 1), CT_ERR_BUFFER_TOO_SMALL);
    CHECK(buf[0] == 0);
    CHECK_RC(ct_entry_get_addr_bytes(e, CT_ORIG_SRC, NULL, 16, &n), NP);
    CHECK_RC(ct_entry_get_addr_bytes(e, CT_ORIG_SRC, bytes, 16, NULL), NP);
    CHECK_RC(ct_entry_get_addr_bytes(e, CT_ORIG_SRC, bytes, 1, &n), CT_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(ct_entry_set_port(NULL, CT_ORIG_SRC, 1), NP);
    CHECK_RC(ct_entry_set_port(e, 7, 1), INV);
    CHECK_RC(ct_entry_get_port(e, CT_ORIG_SRC, NULL), NP);
    CHECK_RC(ct_entry_get_port(e, 7, &u16), INV);
    CHECK_RC(ct_entry_set_icmp(NULL, CT_DIR_ORIG, 8, 0, 1), NP);
    CHECK_RC(ct_entry_set_icmp(e, 2, 8, 0, 1), INV);
    CHECK_RC(ct_entry_get_icmp(e, CT_DIR_ORIG, NULL, &u8, &u16), NP);
    CHECK_RC(ct_entry_get_icmp(e, CT_DIR_ORIG, &u8, NULL, &u16), NP);
    CHECK_RC(ct_entry_get_icmp(e, CT_DIR_ORIG, &u8, &u8, NULL), NP);
    CHECK_RC(ct_entry_get_icmp(e, 5, &u8, &u8, &u16), INV);
    CHECK_RC(ct_entry_set_zone(NULL, 1), NP);
    CHECK_RC(ct_entry_set_zone(e, 65536), INV);
    CHECK_RC(ct_entry_set_zone(e, UINT32_MAX), INV);
    CHECK_RC(ct_entry_get_zone(e, NULL), NP);
    CHECK_RC(ct_entry_set_mark(NULL, 1), NP);
    CHECK_RC(ct_entry_get_mark(NULL, &u32), NP);
    CHECK_RC(ct_entry_set_status(NULL, 1), NP);
    CHECK_RC(ct_entry_get_status(e, NULL), NP);
    CHECK_RC(ct_entry_set_timeout(NULL, 1), NP);
    CHECK_RC(ct_entry_get_timeout(e, NULL), NP);
    CHECK_RC(ct_entry_set_tcp_state(NULL, 1), NP);
    CHECK_RC(ct_entry_set_tcp_state(e, 10), INV);
    CHECK_RC(ct_entry_set_tcp_state(e, 255), INV);
    CHECK_RC(ct_entry_get_tcp_state(e, NULL), NP);
    CHECK_RC(ct_entry_set_sctp_state(NULL, 1), NP);
    CHECK_RC(ct_entry_set_sctp_state(e, 10), INV);
    CHECK_RC(ct_entry_get_sctp_state(e, NULL), NP);
    CHECK_RC(ct_entry_get_dccp_state(e, NULL), NP);
    CHECK_RC(ct_entry_set_id(NULL, 1), NP);
    CHECK_RC(ct_entry_get_id(e, NULL), NP);
    CHECK_RC(ct_entry_get_use(e, NULL), NP);
    CHECK_RC(ct_entry_get_counters(NULL, CT_DIR_ORIG, &u64, &u64), NP);
    CHECK_RC(ct_entry_get_counters(e, CT_DIR_ORIG, NULL, &u64), NP);
    CHECK_RC(ct_entry_get_counters(e, CT_DIR_ORIG, &u64, NULL), NP);
    CHECK_RC(ct_entry_get_counters(e, 3, &u64, &u64), INV);
    CHECK_RC(ct_entry_get_counters(e, CT_DIR_REPLY, &u64, &u64), CT_ERR_NOT_SET);
    CHECK_RC(ct_entry_get_timestamp_start(e, NULL), NP);
    CHECK_RC(ct_entry_get_timestamp_stop(NULL, &u64), NP);
    CHECK_RC(ct_entry_set_label(NULL, 1, true), NP);
    CHECK_RC(ct_entry_set_label(e, 128, true), INV);
    CHECK_RC(ct_entry_get_label(e, 128, &on), INV);
    CHECK_RC(ct_entry_get_label(e, 1, NULL), NP);
    CHECK_RC(ct_entry_set_labels(NULL, bytes, 16), NP);
    CHECK_RC(ct_entry_set_labels(e, NULL, 16), NP);
    CHECK_RC(ct_entry_set_labels(e, bytes, 17), INV);
    CHECK_OK(ct_entry_set_labels(e, NULL, 0));
    CHECK_RC(ct_entry_get_labels(e, NULL, 16), NP);
    CHECK_RC(ct_entry_get_labels(e, bytes, 15), CT_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(ct_entry_get_secmark(e, NULL), NP);
    CHECK_RC(ct_entry_set_helper(NULL, "ftp"), NP);
    CHECK_RC(ct_entry_set_helper(e, NULL), NP);
    CHECK_RC(ct_entry_set_helper(e, ""), INV);
    CHECK_RC(ct_entry_set_helper(e, "0123456789abcdef"), INV);
    CHECK_RC(ct_entry_get_helper(e, NULL, 4), NP);
    CHECK_RC(ct_entry_get_helper(e, buf, sizeof buf), CT_ERR_NOT_SET);
    CHECK_RC(ct_entry_unset(NULL, CT_FIELD_ID), NP);
    CHECK_RC(ct_entry_unset(e, 0), INV);
    CHECK_RC(ct_entry_format(NULL, 0, buf, sizeof buf, &n), NP);
    CHECK_RC(ct_entry_format(e, 0, NULL, 4, &n), NP);
    CHECK_RC(ct_entry_format(e, 1u << 31, buf, sizeof buf, &n), INV);
    /* An entry without a protocol prints nothing: an empty line, needing 0 bytes. */
    CHECK_OK(ct_entry_format(e, 0, buf, 1, &n));
    CHECK(n == 0 && buf[0] == 0);
    /* Filters. */
    CHECK_RC(ct_filter_set_family(NULL, CT_FAMILY_IPV4), NP);
    CHECK_RC(ct_filter_set_family(f, 0), INV);
    CHECK_RC(ct_filter_set_proto(NULL, 6), NP);
    CHECK_RC(ct_filter_set_zone(NULL, 1), NP);
    CHECK_RC(ct_filter_set_zone(f, 70000), INV);
    CHECK_RC(ct_filter_set_mark(NULL, 1, 1), NP);
    CHECK_RC(ct_filter_set_status(NULL, 1, 1), NP);
    CHECK_RC(ct_filter_set_addr(NULL, CT_ORIG_SRC, "1.1.1.1"), NP);
    CHECK_RC(ct_filter_set_addr(f, CT_ORIG_SRC, NULL), NP);
    CHECK_RC(ct_filter_set_addr(f, 9, "1.1.1.1"), INV);
    CHECK_RC(ct_filter_set_addr(f, CT_ORIG_SRC, "1.1.1.0/33"), INV);
    CHECK_RC(ct_filter_set_addr(f, CT_ORIG_SRC, "::/129"), INV);
    CHECK_RC(ct_filter_set_addr(f, CT_ORIG_SRC, "1.1.1.1/"), INV);
    CHECK_RC(ct_filter_set_port(NULL, CT_ORIG_SRC, 1), NP);
    CHECK_RC(ct_filter_set_port(f, 9, 1), INV);
    CHECK_RC(ct_filter_set_kernel_filtering(NULL, false), NP);
    CHECK_RC(ct_filter_set_source(NULL, CT_SOURCE_DYING), NP);
    CHECK_RC(ct_filter_set_source(f, 4), INV);
    CHECK_RC(ct_filter_set_source(f, CT_SOURCE_UNCONFIRMED), CT_OK);
    CHECK_RC(ct_filter_set_source(f, CT_SOURCE_TABLE), CT_OK);
    /* Batches. */
    CHECK_RC(ct_batch_add_create(NULL, e), NP);
    CHECK_RC(ct_batch_add_create(b, NULL), NP);
    CHECK_RC(ct_batch_add_update(NULL, e), NP);
    CHECK_RC(ct_batch_add_delete(b, NULL), NP);
    CHECK(ct_batch_len(NULL) == 0);
    CHECK_RC(ct_batch_clear(NULL), NP);
    CHECK_RC(ct_batch_send(NULL, b, &n), NP);
    ct_status st = CT_OK;
    int32_t eno = 0;
    CHECK_RC(ct_batch_result(NULL, 0, &st, &eno), NP);
    CHECK_RC(ct_batch_result(b, 0, NULL, &eno), NP);
    CHECK_RC(ct_batch_result(b, 0, &st, &eno), INV); /* not sent */
    CHECK(ct_batch_result_message(NULL, 0) == NULL && ct_batch_result_message(b, 99) == NULL);
    /* Expectations. */
    CHECK_RC(ct_expect_set_tuple(NULL, CT_EXPECT_TUPLE, e), NP);
    CHECK_RC(ct_expect_set_tuple(x, CT_EXPECT_TUPLE, NULL), NP);
    CHECK_RC(ct_expect_set_tuple(x, 3, e), INV);
    CHECK_RC(ct_expect_get_tuple(NULL, CT_EXPECT_TUPLE, &out), NP);
    CHECK_RC(ct_expect_get_tuple(x, CT_EXPECT_TUPLE, NULL), NP);
    CHECK_RC(ct_expect_get_tuple(x, 7, &out), INV);
    CHECK_RC(ct_expect_set_timeout(NULL, 1), NP);
    CHECK_RC(ct_expect_set_zone(NULL, 1), NP);
    CHECK_RC(ct_expect_set_zone(x, 65536), INV);
    CHECK_RC(ct_expect_set_helper(x, NULL), NP);
    CHECK_RC(ct_expect_set_class(NULL, 1), NP);
    CHECK_RC(ct_expect_get_timeout(x, NULL), NP);
    CHECK_RC(ct_expect_get_zone(NULL, &u32), NP);
    CHECK_RC(ct_expect_get_class(x, &u32), CT_ERR_NOT_SET);
    CHECK_RC(ct_expect_get_flags(x, NULL), NP);
    CHECK_RC(ct_expect_get_id(NULL, &u32), NP);
    CHECK_RC(ct_expect_get_helper(x, NULL, 8), NP);
    /* NAT set up at creation, SCTP verification tags, an event's sender. */
    CHECK_RC(ct_entry_set_nat(NULL, CT_NAT_SRC, "1.2.3.4"), NP);
    CHECK_RC(ct_entry_set_nat(e, CT_NAT_SRC, NULL), NP);
    CHECK_RC(ct_entry_set_nat(e, CT_NAT_ANY, "1.2.3.4"), INV);
    CHECK_RC(ct_entry_set_nat(e, CT_NAT_DST, "not an address"), INV);
    CHECK_RC(ct_entry_set_nat(e, CT_NAT_DST, ":80"), INV);
    CHECK_RC(ct_entry_set_sctp_vtag(NULL, CT_DIR_ORIG, 1), NP);
    CHECK_RC(ct_entry_set_sctp_vtag(e, 2, 1), INV);
    CHECK_RC(ct_entry_get_sctp_vtag(e, CT_DIR_ORIG, NULL), NP);
    CHECK_RC(ct_entry_get_sctp_vtag(e, 5, &u32), INV);
    CHECK_RC(ct_entry_set_dir_zone(NULL, CT_DIR_ORIG, 1), NP);
    CHECK_RC(ct_entry_set_dir_zone(e, 2, 1), INV);
    CHECK_RC(ct_entry_set_dir_zone(e, CT_DIR_ORIG, 65536), INV);
    CHECK_RC(ct_entry_get_dir_zone(e, CT_DIR_REPLY, NULL), NP);
    {
        uint16_t z = 0;
        CHECK_RC(ct_entry_get_dir_zone(e, 7, &z), INV);
        CHECK_RC(ct_entry_get_dir_zone(e, CT_DIR_REPLY, &z), CT_ERR_NOT_SET);
        CHECK_RC(ct_entry_set_dir_zone(e, CT_DIR_REPLY, 9), CT_OK);
        CHECK_RC(ct_entry_get_dir_zone(e, CT_DIR_REPLY, &z), CT_OK);
        CHECK(z == 9);
    }
    CHECK(ct_events_sender() == 0);
    CHECK_RC(ct_expect_events_open(NULL, CT_EVENT_NEW, NULL), NP);
    ct_expect_events *xe = NULL;
    CHECK_RC(ct_expect_events_open(NULL, 0, &xe), INV);
    CHECK(xe == NULL);
    CHECK_RC(ct_expect_events_receive(NULL, 0, NULL, NULL, &n), NP);
    CHECK(ct_expect_events_fd(NULL) == -1);
    ct_expect_events_close(NULL);
    /* Label maps. */
    CHECK_RC(ct_labelmap_open("/nonexistent", &m), CT_ERR_NOT_FOUND);
    CHECK(m == NULL);
    CHECK_RC(ct_labelmap_bit(NULL, "a", &u32), NP);
    CHECK(ct_labelmap_name(NULL, 0) == NULL);
    CHECK_RC(ct_entry_set_label_name(e, NULL, "a", true), NP);
    CHECK_RC(ct_entry_format_labels(e, NULL, 0, buf, sizeof buf, &n), NP);
    /* Lists, handles and listeners that are NULL. */
    CHECK(ct_entry_list_len(NULL) == 0 && ct_entry_list_get(NULL, 0) == NULL);
    CHECK(ct_events_fd(NULL) == -1 && ct_events_overruns(NULL) == 0);
    CHECK_RC(ct_events_receive(NULL, 0, dummy_ev, NULL, &n), NP);
    CHECK_RC(ct_events_set_filter(NULL, f), NP);
    CHECK_RC(ct_events_set_receive_buffer(NULL, 1), NP);
    CHECK_RC(ct_events_set_reliable(NULL, true), NP);
    CHECK(ct_handle_last_error(NULL) == NULL && ct_handle_last_errno(NULL) == 0);
    CHECK(ct_events_last_error(NULL) == NULL && ct_events_last_errno(NULL) == 0);
    CHECK(ct_cursor_last_error(NULL) == NULL && ct_cursor_last_errno(NULL) == 0);
    CHECK(ct_expect_events_last_error(NULL) == NULL && ct_expect_events_last_errno(NULL) == 0);
    CHECK_RC(ct_handle_set_receive_buffer(NULL, 1), NP);
    CHECK_RC(ct_dump(NULL, NULL, dummy_cb, NULL), NP);
    CHECK_RC(ct_list(NULL, NULL, NULL), NP);
    CHECK_RC(ct_get(NULL, e, &out), NP);
    CHECK_RC(ct_create(NULL, e), NP);
    CHECK_RC(ct_update(NULL, e), NP);
    CHECK_RC(ct_delete(NULL, e), NP);
    CHECK_RC(ct_delete_by_id(NULL, 1), NP);
    CHECK_RC(ct_delete_matching(NULL, f, &u64), NP);
    CHECK_RC(ct_flush(NULL), NP);
    CHECK_RC(ct_flush_matching(NULL, f, &u64), NP);
    CHECK_RC(ct_count(NULL, &u32, NULL), NP);
    CHECK_RC(ct_stats_per_cpu(NULL, NULL, 0, &n), NP);
    CHECK_RC(ct_stats_total(NULL, NULL), NP);
    CHECK_RC(ct_expect_stats_per_cpu(NULL, NULL, 0, &n), NP);
    CHECK_RC(ct_kernel_features(NULL, NULL), NP);
    CHECK_RC(ct_kernel_features_text(NULL, buf, sizeof buf, &n), NP);
    CHECK_RC(ct_expect_dump(NULL, dummy_x, NULL), NP);
    CHECK_RC(ct_expect_create(NULL, x), NP);
    CHECK_RC(ct_expect_delete(NULL, x), NP);
    CHECK_RC(ct_expect_flush(NULL), NP);
    /* Static strings, never NULL, whatever the number. */
    CHECK(ct_strerror(-5) != NULL && ct_strerror(INT32_MAX) != NULL && ct_version() != NULL);
    CHECK(ct_last_error_message() != NULL);
    /* Every free accepts NULL. */
    ct_entry_free(NULL);
    ct_filter_free(NULL);
    ct_batch_free(NULL);
    ct_expect_free(NULL);
    ct_labelmap_free(NULL);
    ct_entry_list_free(NULL);
    ct_cursor_free(NULL);
    {
        ct_cursor *c = NULL;
        const ct_entry *ce = NULL;
        CHECK_RC(ct_cursor_open(NULL, NULL, &c), NP);
        CHECK(c == NULL);
        CHECK_RC(ct_cursor_next(NULL, &ce), NP);
    }
    ct_events_close(NULL);
    ct_close(NULL);
    ct_entry_free(out);
    ct_entry_free(e);
    ct_filter_free(f);
    ct_batch_free(b);
    ct_expect_free(x);
    return true;
}

static bool test_null_with_a_handle(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_handle *h = NULL;
    ct_entry *e = NULL, *out = NULL;
    ct_filter *f = NULL;
    ct_batch *b = NULL;
    ct_events *ev = NULL;
    ct_cursor *c = NULL;
    bool ok = ct_open_netns(ns.name, &h) == CT_OK && ct_entry_new(&e) == CT_OK && ct_filter_new(&f) == CT_OK &&
              ct_batch_new(&b) == CT_OK;
    if (ok) {
        char buf[8];
        size_t n = 7;
        uint64_t u64 = 0;
        uint32_t u32 = 0;
        ct_stats s[1];
        ct_expect_stats xs[1];
        ok = ct_dump(h, NULL, NULL, NULL) == NP && ct_list(h, NULL, NULL) == NP && ct_get(h, NULL, &out) == NP &&
             ct_get(h, e, NULL) == NP && ct_create(h, NULL) == NP && ct_update(h, NULL) == NP &&
             ct_delete(h, NULL) == NP && ct_delete_matching(h, NULL, &u64) == NP &&
             ct_flush_matching(h, NULL, &u64) == NP && ct_count(h, NULL, &u32) == NP &&
             ct_stats_per_cpu(h, NULL, 1, &n) == NP && ct_stats_per_cpu(h, s, 1, NULL) == NP &&
             ct_stats_total(h, NULL) == NP && ct_expect_stats_per_cpu(h, NULL, 1, &n) == NP &&
             ct_expect_stats_per_cpu(h, xs, 1, NULL) == NP && ct_kernel_features(h, NULL) == NP &&
             ct_batch_send(h, NULL, &n) == NP && ct_expect_dump(h, NULL, NULL) == NP &&
             ct_expect_create(h, NULL) == NP && ct_expect_delete(h, NULL) == NP &&
             ct_cursor_open(h, NULL, NULL) == NP &&
             ct_dump_any(h, NULL, dummy_cb, NULL) == NP && ct_delete_matching_any(h, NULL, &u64) == NP &&
             /* An entry lacking what an operation needs: refused before any request. */
             ct_create(h, e) == INV && ct_get(h, e, &out) == INV && ct_delete(h, e) == INV &&
             ct_update(h, e) == INV && out == NULL &&
             /* Buffers of size 0 and 1. */
             ct_kernel_features_text(h, NULL, 0, &n) == CT_ERR_BUFFER_TOO_SMALL && n > 10 &&
             ct_kernel_features_text(h, buf, 1, &n) == CT_ERR_BUFFER_TOO_SMALL && buf[0] == 0 &&
             /* A refused batch request keeps its index and reports why. */
             ct_batch_add_create(b, e) == CT_OK && ct_batch_send(h, b, &n) == CT_OK && n == 1 &&
             ct_batch_result(b, 0, &(ct_status){CT_OK}, NULL) == CT_OK &&
             /* A cursor asked to write nowhere keeps its handle; freeing it lets it go. */
             ct_cursor_open(h, NULL, &c) == CT_OK && ct_cursor_next(c, NULL) == NP &&
             ct_count(h, &u32, NULL) == CT_ERR_BUSY && (ct_cursor_free(c), true) &&
             /* The handle works after all of it. */
             ct_flush(h) == CT_OK && ct_count(h, &u32, NULL) == CT_OK && u32 == 0 &&
             /* Listeners. */
             ct_events_open_netns(ns.name, 0, &ev) == INV && ev == NULL &&
             ct_events_open_netns(ns.name, 8, &ev) == INV && ct_events_open_netns(ns.name, CT_EVENT_ALL, &ev) == CT_OK &&
             ct_events_receive(ev, 0, NULL, NULL, &n) == NP && ct_events_receive(ev, 0, dummy_ev, NULL, NULL) == CT_OK;
        if (!ok) fprintf(stderr, "    %s\n", ct_last_error_message());
    }
    ct_events_close(ev);
    ct_batch_free(b);
    ct_filter_free(f);
    ct_entry_free(e);
    ct_close(h);
    netns_remove(&ns);
    return ok;
}

/* The netlink socket `open` made: the highest descriptor that is a socket and was not open
 * before (`was[fd]`). */
static int new_socket(const bool *was, int max) {
    int found = -1;
    for (int fd = 3; fd < max; fd++) {
        struct stat st;
        if (!was[fd] && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) found = fd;
    }
    return found;
}

/* Each object that keeps an error records the failures of its own calls, as the header's
 * conventions say, and a NULL argument does not touch it. The failures are made by putting
 * /dev/null in place of the object's socket (reads then fail with ENOTSOCK). */
static bool object_errors(const struct netns *ns) {
    enum { MAX = 256 };
    bool was[MAX];
    for (int fd = 0; fd < MAX; fd++) was[fd] = fcntl(fd, F_GETFD) != -1;
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(null >= 0);
    ct_handle *h = NULL;
    CHECK_OK(ct_open_netns(ns->name, &h));
    int sock = new_socket(was, MAX);
    CHECK(sock > 2);
    CHECK(ns_sh(ns, "conntrack -I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 1 --dport 2 -t 100") == 0);
    /* A cursor: its dump's failure is its own and its handle's. */
    ct_cursor *c = NULL;
    const ct_entry *e = NULL;
    CHECK_OK(ct_cursor_open(h, NULL, &c));
    CHECK(strcmp(ct_cursor_last_error(c), "") == 0 && ct_cursor_last_errno(c) == 0);
    CHECK(dup2(null, sock) == sock);
    ct_status rc = ct_cursor_next(c, &e);
    CHECK(rc != CT_OK);
    char thread[256];
    snprintf(thread, sizeof thread, "%s", ct_last_error_message());
    CHECK(thread[0] != 0);
    CHECK(strcmp(ct_cursor_last_error(c), thread) == 0);
    CHECK(ct_cursor_last_errno(c) == ENOTSOCK && ct_last_errno() == ENOTSOCK);
    CHECK(strcmp(ct_handle_last_error(h), thread) == 0);
    /* A view size it refuses is the cursor's; a NULL argument is the thread's only. */
    ct_view v;
    size_t n = 0;
    CHECK_RC(ct_cursor_next_views(c, &v, 8, 1, &n), CT_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ct_cursor_last_error(c), "view_size 8") != NULL);
    CHECK_RC(ct_cursor_next(c, NULL), CT_ERR_NULL_POINTER);
    CHECK(strstr(ct_last_error_message(), "entry_out") != NULL);
    CHECK(strstr(ct_cursor_last_error(c), "view_size 8") != NULL);
    ct_cursor_free(c);
    ct_close(h);
    /* An expectation listener: its receive's failure is its own. */
    ct_expect_events *x = NULL;
    CHECK_OK(ct_expect_events_open(ns->name, CT_EVENT_ALL, &x));
    CHECK(strcmp(ct_expect_events_last_error(x), "") == 0);
    CHECK(dup2(null, ct_expect_events_fd(x)) >= 0);
    rc = ct_expect_events_receive(x, 0, dummy_xev, NULL, &n);
    bool ok = rc != CT_OK && ct_expect_events_last_errno(x) == ct_last_errno() &&
              strcmp(ct_expect_events_last_error(x), ct_last_error_message()) == 0 &&
              ct_expect_events_last_error(x)[0] != 0;
    snprintf(thread, sizeof thread, "%s", ct_expect_events_last_error(x));
    ok = ok && ct_expect_events_receive(x, 0, NULL, NULL, &n) == CT_ERR_NULL_POINTER &&
         strcmp(ct_expect_events_last_error(x), thread) == 0;
    ct_expect_events_close(x);
    close(null);
    CHECK(ok);
    return true;
}

static bool test_object_errors(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    bool ok = object_errors(&ns);
    netns_remove(&ns);
    return ok;
}

int main(int argc, char **argv) {
    static const struct test tests[] = {
        {"null_everywhere_without_a_handle", test_null_everywhere_without_a_handle},
        {"null_with_a_handle", test_null_with_a_handle},
        {"object_errors", test_object_errors},
    };
    return run_tests("misuse", tests, sizeof tests / sizeof tests[0], argc, argv);
}
