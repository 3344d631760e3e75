/* ct_view: the flat entry view read and written in blocks. Entries the conntrack tool made
 * are read as views (from a cursor, from a list, one at a time) and compared with the
 * getters; views made by the caller are created in a batch and read back by the tool. */
#include <arpa/inet.h>
#include <stddef.h>

#include "common.h"

/* The layout the header fixes: bindings read these offsets. */
static bool test_layout(void) {
    CHECK(sizeof(ct_view) == 192);
    CHECK(offsetof(ct_view, labels) == 168);
    CHECK(offsetof(ct_view, secmark) == 184);
    CHECK(offsetof(ct_view, tcp_wscale_orig) == 52);
    CHECK(offsetof(ct_view, tcp_flags_reply_mask) == 191);
    CHECK(offsetof(ct_view, zone) == 10);
    CHECK(offsetof(ct_view, orig_sport) == 36);
    CHECK(offsetof(ct_view, orig_src) == 56);
    CHECK(offsetof(ct_view, orig_packets) == 120);
    CHECK(offsetof(ct_view, timestamp_stop) == 160);
    return true;
}

/* The view agrees with every getter of the entry. `later`: the view was read after the entry,
 * in another dump, so its timeout may have run down since (never up). */
static bool same_as_getters(const ct_entry *e, const ct_view *v, bool later) {
    uint8_t u8v;
    uint16_t port;
    uint32_t u32v;
    CHECK(v->size == sizeof(ct_view));
    CHECK_OK(ct_entry_get_family(e, &u8v));
    CHECK((v->present & CT_VIEW_FAMILY) && v->family == u8v);
    CHECK_OK(ct_entry_get_proto(e, &u8v));
    CHECK((v->present & CT_VIEW_PROTO) && v->proto == u8v);
    static const uint32_t sel[4] = {CT_ORIG_SRC, CT_ORIG_DST, CT_REPLY_SRC, CT_REPLY_DST};
    const uint8_t *addrs[4] = {v->orig_src, v->orig_dst, v->reply_src, v->reply_dst};
    const uint16_t ports[4] = {v->orig_sport, v->orig_dport, v->reply_sport, v->reply_dport};
    for (int i = 0; i < 4; i++) {
        uint8_t bytes[16] = {0};
        size_t len = 0;
        CHECK_OK(ct_entry_get_addr_bytes(e, sel[i], bytes, sizeof bytes, &len));
        CHECK(memcmp(bytes, addrs[i], len) == 0);
        ct_status rc = ct_entry_get_port(e, sel[i], &port);
        CHECK(rc == CT_OK || rc == CT_ERR_NOT_SET || rc == CT_ERR_INVALID_ARGUMENT);
        if (rc == CT_OK) CHECK(ports[i] == port);
        else CHECK(ports[i] == 0);
    }
    CHECK_OK(ct_entry_get_timeout(e, &u32v));
    CHECK((v->present & CT_VIEW_TIMEOUT) && (later ? v->timeout <= u32v : v->timeout == u32v));
    CHECK_OK(ct_entry_get_id(e, &u32v));
    CHECK((v->present & CT_VIEW_ID) && v->id == u32v);
    CHECK_OK(ct_entry_get_status(e, &u32v));
    CHECK((v->present & CT_VIEW_STATUS) && v->status == u32v);
    CHECK_OK(ct_entry_get_mark(e, &u32v));
    CHECK((v->present & CT_VIEW_MARK) && v->mark == u32v);
    uint16_t zone = 0;
    if (ct_entry_get_zone(e, &zone) == CT_OK) CHECK((v->present & CT_VIEW_ZONE) && v->zone == zone);
    else CHECK(!(v->present & CT_VIEW_ZONE) && v->zone == 0);
    if (ct_entry_get_tcp_state(e, &u8v) == CT_OK) CHECK((v->present & CT_VIEW_TCP_STATE) && v->tcp_state == u8v);
    else CHECK(!(v->present & CT_VIEW_TCP_STATE));
    uint64_t pk = 0, by = 0;
    if (ct_entry_get_counters(e, CT_DIR_ORIG, &pk, &by) == CT_OK)
        CHECK((v->present & CT_VIEW_ORIG_COUNTERS) && v->orig_packets == pk && v->orig_bytes == by);
    else CHECK(!(v->present & CT_VIEW_ORIG_COUNTERS));
    if (v->proto == CT_PROTO_ICMP) {
        uint8_t type, code;
        uint16_t id;
        CHECK_OK(ct_entry_get_icmp(e, CT_DIR_ORIG, &type, &code, &id));
        CHECK((v->present & CT_VIEW_ORIG_ICMP) && v->orig_icmp_type == type && v->orig_icmp_code == code &&
              v->orig_icmp_id == id);
    }
    return true;
}

static bool make_table(const struct netns *ns) {
    CHECK(ns_sh(ns, "conntrack -I -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 --state ESTABLISHED "
                    "-t 1234 -w 7 -m 9") == 0);
    CHECK(ns_sh(ns, "conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 4 --dport 5 -t 1234 -w 7") == 0);
    CHECK(ns_sh(ns, "conntrack -I -p udp -s ::1 -d ::2 --sport 4 --dport 5 -t 1234") == 0);
    CHECK(ns_sh(ns, "conntrack -I -p icmp -s 1.1.1.1 -d 2.2.2.2 --icmp-type 8 --icmp-code 0 "
                    "--icmp-id 3333 -t 1234") == 0);
    return true;
}

/* An entry with a helper: a field the view does not carry. */
static bool make_helper_entry(ct_handle *h) {
    ct_entry *e = NULL;
    CHECK_OK(ct_entry_new(&e));
    bool ok = ct_entry_set_proto(e, CT_PROTO_TCP) == CT_OK && ct_entry_set_addr(e, CT_ORIG_SRC, "3.3.3.3") == CT_OK &&
              ct_entry_set_addr(e, CT_ORIG_DST, "4.4.4.4") == CT_OK && ct_entry_set_port(e, CT_ORIG_SRC, 1025) == CT_OK &&
              ct_entry_set_port(e, CT_ORIG_DST, 21) == CT_OK && ct_entry_set_tcp_state(e, CT_TCP_STATE_ESTABLISHED) == CT_OK &&
              ct_entry_set_timeout(e, 600) == CT_OK && ct_entry_set_helper(e, "ftp") == CT_OK && ct_create(h, e) == CT_OK;
    ct_entry_free(e);
    CHECK(ok);
    return true;
}

/* Views from a cursor, in blocks of 3 (the table holds 4), against ct_list and the getters. */
static bool cursor_blocks(const struct netns *ns, ct_handle *h) {
    ct_entry_list *list = NULL;
    CHECK_OK(ct_list(h, NULL, &list));
    size_t total = ct_entry_list_len(list);
    CHECK(total == 5);
    ct_cursor *c = NULL;
    CHECK_OK(ct_cursor_open(h, NULL, &c));
    ct_view views[3];
    size_t n = 0, seen = 0, more = 0;
    do {
        CHECK_OK(ct_cursor_next_views(c, views, sizeof views[0], 3, &n));
        CHECK(n <= 3);
        for (size_t i = 0; i < n; i++) {
            /* A view with fields beyond it ends its block; the cursor still holds its entry. */
            if (views[i].present & CT_VIEW_MORE) {
                CHECK(i == n - 1);
                const ct_entry *last = NULL;
                CHECK_OK(ct_cursor_last(c, &last));
                CHECK(last != NULL);
                char helper[32];
                CHECK_OK(ct_entry_get_helper(last, helper, sizeof helper));
                CHECK(strcmp(helper, "ftp") == 0);
                more++;
            }
            /* Find the same entry in the list by id, then compare with its getters. */
            bool found = false;
            for (size_t j = 0; j < total; j++) {
                uint32_t id = 0;
                ct_entry_get_id(ct_entry_list_get(list, j), &id);
                if (id == views[i].id) {
                    found = true;
                    if (!same_as_getters(ct_entry_list_get(list, j), &views[i], true)) {
                        ct_cursor_free(c);
                        ct_entry_list_free(list);
                        return false;
                    }
                }
            }
            CHECK(found);
        }
        seen += n;
    } while (n > 0);
    CHECK(seen == total);
    CHECK(more == 1);
    const ct_entry *last = (const ct_entry *)1;
    CHECK_OK(ct_cursor_last(c, &last));
    CHECK(last == NULL);
    ct_cursor_free(c);
    /* A view's text is its entry's, but for the helper the view lacks. */
    for (size_t j = 0; j < total; j++) {
        const ct_entry *e = ct_entry_list_get(list, j);
        ct_view v;
        char a[512], b[512];
        CHECK_OK(ct_entry_view(e, &v, sizeof v));
        CHECK_OK(ct_entry_format(e, CT_FORMAT_EXTENDED | CT_FORMAT_ID, a, sizeof a, NULL));
        CHECK_OK(ct_view_format(&v, CT_FORMAT_EXTENDED | CT_FORMAT_ID, b, sizeof b, NULL));
        if (v.present & CT_VIEW_MORE) CHECK(strstr(a, "helper=ftp") && !strstr(b, "helper="));
        else CHECK(strcmp(a, b) == 0);
    }
    /* The handle serves other calls again after the end. */
    uint32_t count = 0;
    CHECK_OK(ct_count(h, &count, NULL));
    CHECK(count == 5);
    /* The list's views, from an offset, with a larger (newer) stride: the tail is zeroed. */
    unsigned char wide[2][200];
    memset(wide, 0xab, sizeof wide);
    CHECK_OK(ct_entry_list_views(list, 2, (ct_view *)(void *)wide, sizeof wide[0], 2, &n));
    CHECK(n == 2);
    for (size_t i = 0; i < 2; i++) {
        ct_view v;
        memcpy(&v, wide[i], sizeof v);
        CHECK(same_as_getters(ct_entry_list_get(list, 2 + i), &v, false));
        for (size_t k = sizeof(ct_view); k < sizeof wide[0]; k++) CHECK(wide[i][k] == 0);
    }
    CHECK_OK(ct_entry_list_views(list, 5, views, sizeof views[0], 3, &n));
    CHECK(n == 0);
    CHECK_RC(ct_entry_list_views(list, 0, views, sizeof views[0] - 8, 3, &n), CT_ERR_INVALID_ARGUMENT);
    ct_entry_list_free(list);
    (void)ns;
    return true;
}

static bool test_read_views(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_handle *h = NULL;
    bool ok = make_table(&ns) && ct_open_netns(ns.name, &h) == CT_OK && make_helper_entry(h) && cursor_blocks(&ns, h);
    ct_close(h);
    netns_remove(&ns);
    return ok;
}

static void udp_view(ct_view *v, uint32_t i, uint16_t zone) {
    memset(v, 0, sizeof *v);
    v->size = sizeof *v;
    v->present = CT_VIEW_FAMILY | CT_VIEW_PROTO | CT_VIEW_ORIG_SRC | CT_VIEW_ORIG_DST | CT_VIEW_ORIG_SPORT |
                 CT_VIEW_ORIG_DPORT | CT_VIEW_ZONE | CT_VIEW_TIMEOUT | CT_VIEW_MARK;
    v->family = CT_FAMILY_IPV4;
    v->proto = CT_PROTO_UDP;
    uint32_t src = htonl(0x0a000001u + i), dst = htonl(0x0ac80001u);
    memcpy(v->orig_src, &src, 4);
    memcpy(v->orig_dst, &dst, 4);
    v->orig_sport = (uint16_t)(1024 + i);
    v->orig_dport = 53;
    v->zone = zone;
    v->timeout = 600;
    v->mark = 42;
}

/* A batch of views: creates the tool then lists, one refused view keeping its index, and
 * deletes by view. */
static bool batch_views(const struct netns *ns, ct_handle *h) {
    enum { N = 50 };
    ct_view v[N];
    for (uint32_t i = 0; i < N; i++) udp_view(&v[i], i, 3);
    v[7].present |= CT_VIEW_ORIG_ICMP; /* ICMP fields on UDP: refused, takes index 7 */
    ct_batch *b = NULL;
    CHECK_OK(ct_batch_new(&b));
    CHECK_OK(ct_batch_add_views(b, CT_BATCH_CREATE, v, sizeof v[0], N));
    CHECK(ct_batch_len(b) == N);
    size_t failed = 0;
    CHECK_OK(ct_batch_send(h, b, &failed));
    CHECK(failed == 1);
    ct_status st = CT_OK;
    int err = 0;
    CHECK_OK(ct_batch_result(b, 7, &st, &err));
    CHECK(st == CT_ERR_INVALID_ARGUMENT);
    CHECK_OK(ct_batch_result(b, 8, &st, &err));
    CHECK(st == CT_OK);
    char *out = ns_capture(ns, "conntrack -L -w 3 -m 42 -p udp --dport 53");
    CHECK(out);
    int lines = count_lines(out, "dport=53");
    int one = count_lines(out, "src=10.0.0.9 dst=10.200.0.1 sport=1032 dport=53");
    free(out);
    CHECK(lines == N - 1);
    CHECK(one == 1);
    /* An unknown op and a too-small stride queue nothing. */
    CHECK_RC(ct_batch_add_views(b, 9, v, sizeof v[0], N), CT_ERR_INVALID_ARGUMENT);
    CHECK_RC(ct_batch_add_views(b, CT_BATCH_DELETE, v, 100, N), CT_ERR_INVALID_ARGUMENT);
    CHECK(ct_batch_len(b) == N);
    v[7].present &= ~CT_VIEW_ORIG_ICMP;
    CHECK_OK(ct_batch_add_views(b, CT_BATCH_DELETE, v, sizeof v[0], N));
    CHECK_OK(ct_batch_send(h, b, &failed));
    CHECK(failed == 1); /* index 7 was never created */
    CHECK_OK(ct_batch_result(b, 7, &st, &err));
    CHECK(st == CT_ERR_NOT_FOUND);
    ct_batch_free(b);
    out = ns_capture(ns, "conntrack -C");
    CHECK(out);
    CHECK(atoi(out) == 0);
    free(out);
    return true;
}

static bool test_batch_views(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_handle *h = NULL;
    bool ok = ct_open_netns(ns.name, &h) == CT_OK && batch_views(&ns, h);
    ct_close(h);
    netns_remove(&ns);
    return ok;
}

/* One view at a time, both ways; sizes and field bits a view may not have. */
static bool test_single_view(void) {
    ct_view v;
    udp_view(&v, 1, 5);
    ct_entry *e = NULL;
    CHECK_OK(ct_entry_from_view(&v, &e));
    char line[512];
    CHECK_OK(ct_entry_format(e, 0, line, sizeof line, NULL));
    CHECK(strstr(line, "src=10.0.0.2 dst=10.200.0.1 sport=1025 dport=53") != NULL);
    CHECK(strstr(line, "mark=42 zone=5") != NULL);
    ct_view back;
    CHECK_OK(ct_entry_view(e, &back, sizeof back));
    CHECK(back.present == v.present);
    CHECK(memcmp(back.orig_src, v.orig_src, 16) == 0 && back.orig_sport == 1025 && back.zone == 5);
    CHECK_RC(ct_entry_view(e, &back, sizeof back - 1), CT_ERR_INVALID_ARGUMENT);
    ct_entry_free(e);
    e = NULL;
    /* A newer (larger) layout is read; a smaller or unknown one is refused. */
    v.size = sizeof v + 32;
    CHECK_OK(ct_entry_from_view(&v, &e));
    ct_entry_free(e);
    e = NULL;
    v.size = sizeof v - 8;
    CHECK_RC(ct_entry_from_view(&v, &e), CT_ERR_INVALID_ARGUMENT);
    v.size = sizeof v;
    v.present |= CT_VIEW_DIR_ZONE;
    v.dir_zone_dir = 2;
    CHECK_RC(ct_entry_from_view(&v, &e), CT_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ct_last_error_message(), "dir_zone_dir") != NULL);
    CHECK(e == NULL);
    CHECK_RC(ct_entry_from_view(NULL, &e), CT_ERR_NULL_POINTER);
    CHECK(strstr(ct_last_error_message(), "'view'") != NULL);
    return true;
}

/* One tuple in the original-only and in the reply-only zone 5: two entries to the kernel.
 * Their views say so (CT_VIEW_DIR_ZONE), and a batch of deletes made from the views finds
 * both (without the zone, the first would be looked up in zone 0 and not be found). */
static bool dir_zone_views(const struct netns *ns, ct_handle *h) {
    CHECK(ns_sh(ns, "conntrack -I -p udp -s 10.1.0.1 -d 10.2.0.1 --sport 1 --dport 53 -t 100 --orig-zone 5") == 0);
    CHECK(ns_sh(ns, "conntrack -I -p udp -s 10.1.0.1 -d 10.2.0.1 --sport 1 --dport 53 -t 100 --reply-zone 5") == 0);
    ct_entry_list *list = NULL;
    CHECK_OK(ct_list(h, NULL, &list));
    CHECK(ct_entry_list_len(list) == 2);
    ct_view v[2];
    size_t n = 0;
    CHECK_OK(ct_entry_list_views(list, 0, v, sizeof v[0], 2, &n));
    CHECK(n == 2);
    unsigned dirs = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t z = 0;
        CHECK(v[i].present & CT_VIEW_DIR_ZONE);
        CHECK(!(v[i].present & (CT_VIEW_MORE | CT_VIEW_ZONE)));
        CHECK(v[i].dir_zone == 5);
        CHECK_OK(ct_entry_get_dir_zone(ct_entry_list_get(list, i), v[i].dir_zone_dir, &z));
        CHECK(z == 5);
        dirs |= 1u << v[i].dir_zone_dir;
        /* The entry made from the view is the same entry: same text, same zone. */
        ct_entry *e = NULL;
        char a[512], b[512];
        CHECK_OK(ct_entry_from_view(&v[i], &e));
        CHECK_OK(ct_entry_get_dir_zone(e, v[i].dir_zone_dir, &z));
        CHECK(z == 5);
        CHECK_OK(ct_entry_format(e, 0, a, sizeof a, NULL));
        CHECK_OK(ct_view_format(&v[i], 0, b, sizeof b, NULL));
        CHECK(strstr(b, v[i].dir_zone_dir == CT_DIR_ORIG ? "zone-orig=5" : "zone-reply=5") != NULL);
        ct_entry_free(e);
    }
    CHECK(dirs == 3);
    ct_entry_list_free(list);
    ct_batch *b = NULL;
    size_t failed = 9;
    CHECK_OK(ct_batch_new(&b));
    CHECK_OK(ct_batch_add_views(b, CT_BATCH_DELETE, v, sizeof v[0], 2));
    CHECK_OK(ct_batch_send(h, b, &failed));
    ct_batch_free(b);
    CHECK(failed == 0);
    char *out = ns_capture(ns, "conntrack -C");
    CHECK(out);
    int left = atoi(out);
    free(out);
    CHECK(left == 0);
    return true;
}

static bool test_dir_zone_views(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_handle *h = NULL;
    bool ok = ct_open_netns(ns.name, &h) == CT_OK && dir_zone_views(&ns, h);
    ct_close(h);
    netns_remove(&ns);
    return ok;
}

/* ct_entry_format and ct_view_format size their text alike, as snprintf: `*needed_out` is
 * the length without the NUL, and a buffer one byte short gets all but the last character. */
static bool test_format_sizes(void) {
    ct_view v;
    udp_view(&v, 1, 5);
    ct_entry *e = NULL;
    CHECK_OK(ct_entry_from_view(&v, &e));
    char whole[512], small[512];
    size_t len = 0, n1 = 0, n2 = 0;
    CHECK_OK(ct_entry_format(e, 0, whole, sizeof whole, &len));
    CHECK(len == strlen(whole));
    CHECK_RC(ct_entry_format(e, 0, NULL, 0, &n1), CT_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(ct_view_format(&v, 0, NULL, 0, &n2), CT_ERR_BUFFER_TOO_SMALL);
    CHECK(n1 == len && n2 == len);
    for (int view = 0; view < 2; view++) {
        size_t need = 0;
        memset(small, 'x', sizeof small);
        ct_status rc = view ? ct_view_format(&v, 0, small, len, &need) : ct_entry_format(e, 0, small, len, &need);
        CHECK_RC(rc, CT_ERR_BUFFER_TOO_SMALL);
        CHECK(need == len);
        CHECK(small[len - 1] == 0 && strncmp(small, whole, len - 1) == 0);
        rc = view ? ct_view_format(&v, 0, small, len + 1, &need) : ct_entry_format(e, 0, small, len + 1, &need);
        CHECK_OK(rc);
        CHECK(need == len && strcmp(small, whole) == 0);
    }
    ct_entry_free(e);
    return true;
}

int main(int argc, char **argv) {
    static const struct test tests[] = {
        {"layout", test_layout},
        {"single_view", test_single_view},
        {"read_views", test_read_views},
        {"batch_views", test_batch_views},
        {"dir_zone_views", test_dir_zone_views},
        {"format_sizes", test_format_sizes},
    };
    return run_tests("views", tests, sizeof tests / sizeof tests[0], argc, argv);
}
