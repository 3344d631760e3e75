/* Events and statistics against the real kernel, in private network namespaces, with the
 * `conntrack` tool making the events and reading the counters. */
#include "common.h"

#include <poll.h>

struct seen {
    int n;
    uint32_t types[16];
    ct_entry *entries[16];
};

static int keep_event(uint32_t type, const ct_entry *e, void *user) {
    struct seen *s = user;
    if (s->n < 16) {
        s->types[s->n] = type;
        if (ct_entry_clone(e, &s->entries[s->n]) != CT_OK) return 1;
        s->n++;
    }
    return 0;
}

static void seen_free(struct seen *s) {
    for (int i = 0; i < s->n; i++) ct_entry_free(s->entries[i]);
    s->n = 0;
}

/* Receives until `want` events arrived; each wait is bounded, so a missing event fails. */
static bool wait_for(ct_events *ev, struct seen *s, int want) {
    for (int idle = 0; s->n < want && idle < 3;) {
        size_t got = 0;
        CHECK_OK(ct_events_receive(ev, 5000, keep_event, s, &got));
        if (got == 0) idle++;
    }
    CHECK(s->n == want);
    return true;
}

static bool events_enabled(const struct netns *ns) {
    return ns_sh(ns, "sysctl -qw net.netfilter.nf_conntrack_events=1") == 0;
}

static bool test_new_update_destroy(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_events *ev = NULL;
    struct seen s = {0};
    bool ok = events_enabled(&ns) && ct_events_open_netns(ns.name, CT_EVENT_ALL, &ev) == CT_OK &&
              ns_sh(&ns, "conntrack -I -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 --state ESTABLISHED -t 1234 -m 5 && "
                         "conntrack -U -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -m 9 && "
                         "conntrack -D -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2") == 0 &&
              wait_for(ev, &s, 3);
    if (ok) {
        uint32_t mark = 0, timeout = 0;
        uint16_t port = 0;
        uint8_t state = 0;
        char addr[CT_ADDR_TEXT_MAX];
        ok = s.types[0] == CT_EVENT_NEW && s.types[1] == CT_EVENT_UPDATE && s.types[2] == CT_EVENT_DESTROY &&
             ct_entry_get_mark(s.entries[0], &mark) == CT_OK && mark == 5 &&
             ct_entry_get_timeout(s.entries[0], &timeout) == CT_OK && timeout > 1200 &&
             ct_entry_get_port(s.entries[0], CT_ORIG_DST, &port) == CT_OK && port == 2 &&
             ct_entry_get_tcp_state(s.entries[0], &state) == CT_OK && state == CT_TCP_STATE_ESTABLISHED &&
             ct_entry_get_addr(s.entries[0], CT_REPLY_SRC, addr, sizeof addr) == CT_OK && !strcmp(addr, "2.2.2.2") &&
             ct_entry_get_mark(s.entries[1], &mark) == CT_OK && mark == 9 && ct_events_overruns(ev) == 0;
        if (!ok) fprintf(stderr, "    events: types %u %u %u mark %u\n", s.types[0], s.types[1], s.types[2], mark);
    }
    seen_free(&s);
    ct_events_close(ev);
    netns_remove(&ns);
    return ok;
}

static bool test_filtered_listener(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_events *ev = NULL;
    ct_filter *f = NULL;
    struct seen s = {0};
    uint16_t zone = 0;
    size_t extra = 1;
    bool ok = events_enabled(&ns) && ct_events_open_netns(ns.name, CT_EVENT_NEW, &ev) == CT_OK &&
              ct_filter_new(&f) == CT_OK && ct_filter_set_zone(f, 5) == CT_OK && ct_events_set_filter(ev, f) == CT_OK &&
              ns_sh(&ns, "conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -t 100 -w 6 && "
                         "conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -t 100 -w 5") == 0 &&
              wait_for(ev, &s, 1) && ct_entry_get_zone(s.entries[0], &zone) == CT_OK && zone == 5 &&
              ct_events_receive(ev, 0, keep_event, &s, &extra) == CT_OK && extra == 0;
    seen_free(&s);
    ct_filter_free(f);
    ct_events_close(ev);
    netns_remove(&ns);
    return ok;
}

static bool test_poll_loop(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_events *ev = NULL;
    struct seen s = {0};
    bool ok = events_enabled(&ns) && ct_events_open_netns(ns.name, CT_EVENT_NEW, &ev) == CT_OK;
    if (ok) {
        struct pollfd p = {.fd = ct_events_fd(ev), .events = POLLIN};
        size_t got = 1;
        ok = p.fd >= 0 && poll(&p, 1, 50) == 0 &&                               /* nothing: times out */
             ct_events_receive(ev, 50, keep_event, &s, &got) == CT_OK && got == 0 &&
             ns_sh(&ns, "conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -t 100") == 0 &&
             poll(&p, 1, 5000) == 1 &&                                            /* the event wakes it */
             ct_events_receive(ev, 0, keep_event, &s, &got) == CT_OK && got == 1 && s.types[0] == CT_EVENT_NEW;
    }
    seen_free(&s);
    ct_events_close(ev);
    netns_remove(&ns);
    return ok;
}

static int count_only(uint32_t type, const ct_entry *e, void *user) {
    (void)type;
    (void)e;
    ++*(int *)user;
    return 0;
}

/* A tiny buffer under a burst: an overrun is reported, and the listener goes on. */
static bool test_overrun_then_continue(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_events *ev = NULL;
    int n = 0;
    bool ok = events_enabled(&ns) && ct_events_open_netns(ns.name, CT_EVENT_NEW, &ev) == CT_OK &&
              ct_events_set_receive_buffer(ev, 4096) == CT_OK &&
              ns_sh(&ns, "for i in $(seq 1 400); do echo \"-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport $i --dport 1 -t 100\"; done "
                         "| conntrack -R - ") == 0;
    ct_status rc = CT_OK;
    while (ok) {
        size_t got = 0;
        rc = ct_events_receive(ev, 0, count_only, &n, &got);
        if (rc != CT_OK || got == 0) break;
    }
    ok = ok && rc == CT_ERR_OVERRUN && ct_events_overruns(ev) == 1 && n < 400 &&
         strstr(ct_last_error_message(), "overflow") != NULL &&
         /* The listener keeps the same detail for a caller that changed threads (Go). */
         strcmp(ct_events_last_error(ev), ct_last_error_message()) == 0 &&
         ct_events_last_errno(ev) == ct_last_errno() && ct_events_last_errno(ev) != 0;
    if (!ok) fprintf(stderr, "    rc %d after %d events, %llu overruns\n", (int)rc, n, (unsigned long long)ct_events_overruns(ev));
    /* Drain, then a new event still arrives. */
    while (ok) {
        size_t got = 0;
        if (ct_events_receive(ev, 0, count_only, &n, &got) == CT_OK && got == 0) break;
    }
    struct seen s = {0};
    ok = ok && ns_sh(&ns, "conntrack -I -p udp -s 10.0.0.9 -d 10.0.0.2 --sport 1 --dport 1 -t 100") == 0 && wait_for(ev, &s, 1);
    seen_free(&s);
    ct_events_close(ev);
    netns_remove(&ns);
    return ok;
}

/* ct_count equals `conntrack -C`; the per-CPU statistics agree with `conntrack -S`. */
static bool test_count_and_stats(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_handle *h = NULL;
    bool ok = ns_sh(&ns, "for i in $(seq 1 25); do echo \"-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport $i --dport 1 -t 100\"; done "
                         "| conntrack -R - ") == 0 &&
              ct_open_netns(ns.name, &h) == CT_OK;
    uint32_t count = 0, max = 0;
    ok = ok && ct_count(h, &count, &max) == CT_OK && count == 25 && max > 0;
    char *c = ns_capture(&ns, "conntrack -C");
    ok = ok && c && (uint32_t)atoi(c) == count;
    free(c);
    size_t ncpu = 0;
    ct_stats per[64], total;
    ok = ok && ct_stats_per_cpu(h, NULL, 0, &ncpu) == CT_ERR_BUFFER_TOO_SMALL && ncpu >= 1 && ncpu <= 64 &&
         ct_stats_per_cpu(h, per, ncpu, &ncpu) == CT_OK && ct_stats_total(h, &total) == CT_OK;
    char *tool = ns_capture(&ns, "conntrack -S");
    ok = ok && tool && count_lines(tool, "cpu=") == (int)ncpu;
    uint32_t inserts = 0;
    for (size_t i = 0; ok && i < ncpu; i++) {
        char want[256];
        snprintf(want, sizeof want, "found=%u invalid=%u insert=%u insert_failed=%u drop=%u early_drop=%u error=%u",
                 per[i].found, per[i].invalid, per[i].insert, per[i].insert_failed, per[i].drop, per[i].early_drop,
                 per[i].error);
        ok = count_lines(tool, want) >= 1;
        if (!ok) fprintf(stderr, "    cpu %u: no line with '%s' in:\n%s", per[i].cpu, want, tool);
        inserts += per[i].insert;
    }
    ok = ok && total.insert == inserts && inserts >= 25;
    free(tool);
    ct_close(h);
    netns_remove(&ns);
    return ok;
}

static bool tcp_tuple(ct_entry **out, const char *src, const char *dst, uint16_t sp, uint16_t dp) {
    CHECK_OK(ct_entry_new(out));
    CHECK_OK(ct_entry_set_proto(*out, CT_PROTO_TCP));
    CHECK_OK(ct_entry_set_addr(*out, CT_ORIG_SRC, src));
    CHECK_OK(ct_entry_set_addr(*out, CT_ORIG_DST, dst));
    CHECK_OK(ct_entry_set_port(*out, CT_ORIG_SRC, sp));
    CHECK_OK(ct_entry_set_port(*out, CT_ORIG_DST, dp));
    return true;
}

static int keep_expect(const ct_expect *x, void *user) {
    ct_expect **slot = user;
    if (*slot == NULL && ct_expect_clone(x, slot) != CT_OK) return 1;
    return 0;
}

struct exp_seen {
    int news, destroys;
    uint16_t dport;
};

static int count_exp_event(uint32_t type, const ct_expect *x, void *user) {
    struct exp_seen *s = user;
    ct_entry *t = NULL;
    if (type == CT_EVENT_NEW) s->news++;
    if (type == CT_EVENT_DESTROY) s->destroys++;
    if (ct_expect_get_tuple(x, CT_EXPECT_TUPLE, &t) == CT_OK) ct_entry_get_port(t, CT_ORIG_DST, &s->dport);
    ct_entry_free(t);
    return 0;
}

/* Expectation events: a create and a delete by the tool reach a listener of the namespace. */
static bool test_expectation_events(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_handle *h = NULL;
    ct_entry *master = NULL;
    ct_expect_events *ev = NULL;
    /* The listener first: where net.netfilter.nf_conntrack_events is 2, the kernel gives a
     * master made with no listener in the namespace no event cache, and its expectations
     * then report nothing. */
    bool ok = ct_expect_events_open(ns.name, CT_EVENT_ALL, &ev) == CT_OK && ct_expect_events_fd(ev) >= 0 &&
              ct_open_netns(ns.name, &h) == CT_OK && tcp_tuple(&master, "1.1.1.1", "2.2.2.2", 1025, 21) &&
              ct_entry_set_tcp_state(master, CT_TCP_STATE_ESTABLISHED) == CT_OK &&
              ct_entry_set_timeout(master, 600) == CT_OK && ct_entry_set_helper(master, "ftp") == CT_OK &&
              ct_create(h, master) == CT_OK;
    if (!ok) fprintf(stderr, "    expectation events: setup: %s\n", ct_last_error_message());
    ok = ok && ns_sh(&ns, "conntrack -I expect -s 1.1.1.1 -d 2.2.2.2 -p tcp --sport 1025 --dport 21 "
                         "--tuple-src 1.1.1.1 --tuple-dst 2.2.2.2 --mask-src 255.255.255.255 --mask-dst 255.255.255.255 "
                         "--tuple-port-src 0 --tuple-port-dst 1536 --mask-port-src 0 --mask-port-dst 65535 -t 100 && "
                         "conntrack -F expect") == 0;
    struct exp_seen seen = {0, 0, 0};
    /* Each wait returns as soon as events are queued; 40 waits of up to 0.25 s bound it. */
    if (!ok) fprintf(stderr, "    expectation events: the tool failed\n");
    for (int i = 0; ok && i < 40 && seen.destroys == 0; i++) {
        ct_status rc = ct_expect_events_receive(ev, 250, count_exp_event, &seen, NULL);
        if (rc != CT_OK) fprintf(stderr, "    expectation events: receive: %s\n", ct_strerror(rc));
        ok = rc == CT_OK;
    }
    ok = ok && seen.news == 1 && seen.destroys == 1 && seen.dport == 1536;
    if (!ok) fprintf(stderr, "    expectation events: %d new, %d destroy: %s\n", seen.news, seen.destroys, ct_last_error_message());
    ct_expect_events_close(ev);
    ct_entry_free(master);
    ct_close(h);
    netns_remove(&ns);
    return ok;
}

/* Expectations: the library creates one under an FTP master and the tool lists it; the tool
 * creates one and the library reads it back; delete and flush. */
static bool test_expectations(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_handle *h = NULL;
    ct_entry *master = NULL, *tuple = NULL, *mask = NULL, *got = NULL;
    ct_expect *x = NULL, *read = NULL;
    uint16_t port = 0;
    char helper[16] = "";
    bool ok = ct_open_netns(ns.name, &h) == CT_OK && tcp_tuple(&master, "1.1.1.1", "2.2.2.2", 1025, 21) &&
              ct_entry_set_tcp_state(master, CT_TCP_STATE_ESTABLISHED) == CT_OK &&
              ct_entry_set_timeout(master, 600) == CT_OK && ct_entry_set_helper(master, "ftp") == CT_OK &&
              ct_create(h, master) == CT_OK && tcp_tuple(&tuple, "1.1.1.1", "2.2.2.2", 0, 40000) &&
              tcp_tuple(&mask, "255.255.255.255", "255.255.255.255", 0, 0xffff) && ct_expect_new(&x) == CT_OK &&
              ct_expect_set_tuple(x, CT_EXPECT_MASTER, master) == CT_OK &&
              ct_expect_set_tuple(x, CT_EXPECT_TUPLE, tuple) == CT_OK &&
              ct_expect_set_tuple(x, CT_EXPECT_MASK, mask) == CT_OK && ct_expect_set_timeout(x, 100) == CT_OK &&
              ct_expect_set_tuple(x, 9, mask) == CT_ERR_INVALID_ARGUMENT && ct_expect_create(h, x) == CT_OK &&
              ct_expect_create(h, x) == CT_ERR_EXISTS;
    char *t = ok ? ns_capture(&ns, "conntrack -L expect") : NULL;
    ok = ok && t && count_lines(t, "dport=40000") == 1 && count_lines(t, "helper=ftp") == 1;
    free(t);
    ok = ok && ct_expect_dump(h, keep_expect, &read) == CT_OK && read != NULL &&
         ct_expect_get_tuple(read, CT_EXPECT_TUPLE, &got) == CT_OK &&
         ct_entry_get_port(got, CT_ORIG_DST, &port) == CT_OK && port == 40000 &&
         ct_expect_get_helper(read, helper, sizeof helper) == CT_OK && !strcmp(helper, "ftp") &&
         ct_expect_delete(h, read) == CT_OK && ct_expect_delete(h, read) == CT_ERR_NOT_FOUND;
    ct_expect_free(read);
    read = NULL;
    ct_entry_free(got);
    got = NULL;
    ok = ok && ns_sh(&ns, "conntrack -I expect -s 1.1.1.1 -d 2.2.2.2 -p tcp --sport 1025 --dport 21 "
                          "--tuple-src 1.1.1.1 --tuple-dst 2.2.2.2 --mask-src 255.255.255.255 --mask-dst 255.255.255.255 "
                          "--tuple-port-src 0 --tuple-port-dst 40001 --mask-port-src 0 --mask-port-dst 65535 -t 100") == 0 &&
         ct_expect_dump(h, keep_expect, &read) == CT_OK && read != NULL &&
         ct_expect_get_tuple(read, CT_EXPECT_MASTER, &got) == CT_OK && ct_entry_get_port(got, CT_ORIG_DST, &port) == CT_OK &&
         port == 21 && ct_expect_flush(h) == CT_OK;
    t = ok ? ns_capture(&ns, "conntrack -L expect") : NULL;
    ok = ok && t && count_lines(t, "src=") == 0;
    if (!ok) fprintf(stderr, "    expectations: %s\n", ct_last_error_message());
    free(t);
    ct_expect_free(read);
    ct_expect_free(x);
    ct_entry_free(got);
    ct_entry_free(master);
    ct_entry_free(tuple);
    ct_entry_free(mask);
    ct_close(h);
    netns_remove(&ns);
    return ok;
}

/* Sums of the expectation counters, and whether each CPU's line is in `conntrack -S expect`. */
static bool expect_stats_sum(struct netns *ns, ct_handle *h, ct_expect_stats *sum) {
    ct_expect_stats per[64];
    size_t ncpu = 0;
    memset(sum, 0, sizeof *sum);
    if (ct_expect_stats_per_cpu(h, NULL, 0, &ncpu) != CT_ERR_BUFFER_TOO_SMALL || ncpu < 1 || ncpu > 64 ||
        ct_expect_stats_per_cpu(h, per, 1, &ncpu) != (ncpu > 1 ? CT_ERR_BUFFER_TOO_SMALL : CT_OK) ||
        ct_expect_stats_per_cpu(h, per, ncpu, &ncpu) != CT_OK)
        return false;
    char *tool = ns_capture(ns, "conntrack -S expect");
    bool ok = tool && count_lines(tool, "cpu=") == (int)ncpu;
    for (size_t i = 0; ok && i < ncpu; i++) {
        char want[128];
        snprintf(want, sizeof want, "cpu=%-4u\texpect_new=%u expect_create=%u expect_delete=%u ", per[i].cpu,
                 per[i].expect_new, per[i].expect_create, per[i].expect_delete);
        ok = count_lines(tool, want) == 1;
        if (!ok) fprintf(stderr, "    no line '%s' in:\n%s", want, tool);
        sum->expect_new += per[i].expect_new;
        sum->expect_create += per[i].expect_create;
        sum->expect_delete += per[i].expect_delete;
    }
    free(tool);
    return ok;
}

/* ct_expect_stats_per_cpu agrees with `conntrack -S expect`; creating an expectation adds
 * one to expect_create, deleting it one to expect_delete. */
static bool test_expect_stats(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_handle *h = NULL;
    ct_entry *master = NULL, *tuple = NULL, *mask = NULL;
    ct_expect *x = NULL;
    ct_expect_stats before, created, deleted;
    bool ok = ct_open_netns(ns.name, &h) == CT_OK && expect_stats_sum(&ns, h, &before) &&
              tcp_tuple(&master, "1.1.1.1", "2.2.2.2", 1025, 21) &&
              ct_entry_set_tcp_state(master, CT_TCP_STATE_ESTABLISHED) == CT_OK &&
              ct_entry_set_timeout(master, 600) == CT_OK && ct_entry_set_helper(master, "ftp") == CT_OK &&
              ct_create(h, master) == CT_OK && tcp_tuple(&tuple, "1.1.1.1", "2.2.2.2", 0, 40000) &&
              tcp_tuple(&mask, "255.255.255.255", "255.255.255.255", 0, 0xffff) && ct_expect_new(&x) == CT_OK &&
              ct_expect_set_tuple(x, CT_EXPECT_MASTER, master) == CT_OK &&
              ct_expect_set_tuple(x, CT_EXPECT_TUPLE, tuple) == CT_OK &&
              ct_expect_set_tuple(x, CT_EXPECT_MASK, mask) == CT_OK && ct_expect_set_timeout(x, 100) == CT_OK &&
              ct_expect_create(h, x) == CT_OK && expect_stats_sum(&ns, h, &created) &&
              ct_expect_flush(h) == CT_OK && expect_stats_sum(&ns, h, &deleted);
    ok = ok && created.expect_create == before.expect_create + 1 && deleted.expect_delete == created.expect_delete + 1 &&
         deleted.expect_create == created.expect_create;
    if (!ok)
        fprintf(stderr, "    expect stats: create %u -> %u, delete %u -> %u: %s\n", before.expect_create,
                created.expect_create, created.expect_delete, deleted.expect_delete, ct_last_error_message());
    ct_expect_free(x);
    ct_entry_free(master);
    ct_entry_free(tuple);
    ct_entry_free(mask);
    ct_close(h);
    netns_remove(&ns);
    return ok;
}

int main(int argc, char **argv) {
    static const struct test tests[] = {
        {"new_update_destroy", test_new_update_destroy},
        {"filtered_listener", test_filtered_listener},
        {"poll_loop", test_poll_loop},
        {"overrun_then_continue", test_overrun_then_continue},
        {"count_and_stats", test_count_and_stats},
        {"expectations", test_expectations},
        {"expectation_events", test_expectation_events},
        {"expect_stats", test_expect_stats},
    };
    return run_tests("events", tests, sizeof tests / sizeof tests[0], argc, argv);
}
