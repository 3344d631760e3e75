/* Filter sets and NAT filters through the C API: a set lists and deletes exactly the union
 * of what its filters match (the conntrack tool says what is left), on the kernel path and
 * on the forced library path; NAT filters list what `conntrack -L --src-nat/--dst-nat/
 * --any-nat` lists; bad input is refused with its status. */
#include "common.h"

static int count_cb(const ct_entry *e, void *user) {
    (void)e;
    ++*(int *)user;
    return 0;
}

static int stop_cb(const ct_entry *e, void *user) {
    (void)e;
    ++*(int *)user;
    return 1;
}

/* Six entries in zones 1 and 2, IPv4 and IPv6, UDP and TCP. */
static int fill(const struct netns *ns) {
    return ns_sh(ns, "conntrack -F; "
                     "conntrack -I -p udp -s 10.1.0.1 -d 10.2.0.1 --sport 1 --dport 53 -t 100 -w 1 && "
                     "conntrack -I -p udp -s 10.1.0.2 -d 10.2.0.1 --sport 2 --dport 53 -t 100 -w 1 && "
                     "conntrack -I -p tcp -s 10.1.0.3 -d 10.2.0.1 --sport 3 --dport 80 --state ESTABLISHED -t 100 -w 2 && "
                     "conntrack -I -p udp -s 10.1.0.1 -d 10.2.0.1 --sport 1 --dport 53 -t 100 -w 2 && "
                     "conntrack -I -p udp -s fd00::1 -d fd00::2 --sport 4 --dport 53 -t 100 -w 1 && "
                     "conntrack -I -p tcp -s fd00::3 -d fd00::2 --sport 5 --dport 80 --state ESTABLISHED -t 100 -w 2");
}

static int tool_count(const struct netns *ns, const char *args) {
    char *out = ns_capture(ns, "conntrack -L %s", args);
    int n = count_lines(out, "");
    free(out);
    return n;
}

static bool test_set_union(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_handle *h = NULL;
    ct_filters *set = NULL;
    ct_filter *f = NULL;
    bool ok = ct_open_netns(ns.name, &h) == CT_OK;
    for (int kernel = 1; ok && kernel >= 0; kernel--) {
        /* {zone 1, source 10.1.0.1} + {zone 2, TCP, IPv6} + {zone 2, port 80 to 10.2.0.1}:
         * 10.1.0.1 in zone 1, fd00::3 and 10.1.0.3 in zone 2. */
        ok = fill(&ns) == 0 && tool_count(&ns, "") == 6 && ct_filters_new(&set) == CT_OK;
        ok = ok && ct_filter_new(&f) == CT_OK && ct_filter_set_kernel_filtering(f, kernel) == CT_OK &&
             ct_filter_set_zone(f, 1) == CT_OK && ct_filter_set_addr(f, CT_ORIG_SRC, "10.1.0.1") == CT_OK &&
             ct_filters_add(set, f) == CT_OK;
        ct_filter_free(f);
        f = NULL;
        ok = ok && ct_filter_new(&f) == CT_OK && ct_filter_set_kernel_filtering(f, kernel) == CT_OK &&
             ct_filter_set_zone(f, 2) == CT_OK && ct_filter_set_proto(f, CT_PROTO_TCP) == CT_OK &&
             ct_filter_set_family(f, CT_FAMILY_IPV6) == CT_OK && ct_filters_add(set, f) == CT_OK;
        ct_filter_free(f);
        f = NULL;
        ok = ok && ct_filter_new(&f) == CT_OK && ct_filter_set_kernel_filtering(f, kernel) == CT_OK &&
             ct_filter_set_zone(f, 2) == CT_OK && ct_filter_set_port(f, CT_ORIG_DST, 80) == CT_OK &&
             ct_filter_set_addr(f, CT_ORIG_DST, "10.2.0.1") == CT_OK && ct_filters_add(set, f) == CT_OK;
        ct_filter_free(f);
        f = NULL;
        int listed = 0, stopped = 0;
        uint64_t deleted = 0;
        ok = ok && ct_filters_len(set) == 3 && ct_dump_any(h, set, count_cb, &listed) == CT_OK && listed == 3 &&
             ct_dump_any(h, set, stop_cb, &stopped) == CT_OK && stopped == 1 &&
             ct_delete_matching_any(h, set, &deleted) == CT_OK && deleted == 3;
        ok = ok && tool_count(&ns, "-w 1 -s 10.1.0.1") == 0 && tool_count(&ns, "-w 2 -p tcp") == 0 &&
             tool_count(&ns, "") == 3 && tool_count(&ns, "-w 2 -s 10.1.0.1") == 1;
        if (!ok) fprintf(stderr, "    kernel filtering %d: listed %d, deleted %llu\n", kernel, listed,
                         (unsigned long long)deleted);
        /* A cleared set is empty: it matches nothing. */
        listed = 0;
        ok = ok && ct_filters_clear(set) == CT_OK && ct_filters_len(set) == 0 &&
             ct_dump_any(h, set, count_cb, &listed) == CT_OK && listed == 0 &&
             ct_delete_matching_any(h, set, NULL) == CT_OK && tool_count(&ns, "") == 3;
        ct_filters_free(set);
        set = NULL;
    }
    ct_filter_free(f);
    ct_filters_free(set);
    ct_close(h);
    netns_remove(&ns);
    return ok;
}

static bool test_nat(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    ct_handle *h = NULL;
    bool ok = ns_sh(&ns, "conntrack -I -p udp -s 10.1.0.1 -d 10.2.0.1 --sport 1000 --dport 53 -t 100 --src-nat 192.168.9.9 && "
                         "conntrack -I -p tcp -s 10.1.0.2 -d 10.2.0.1 --sport 1001 --dport 80 --state ESTABLISHED -t 100 --dst-nat 172.16.0.5:8080 && "
                         "conntrack -I -p udp -s 10.1.0.3 -d 10.2.0.1 --sport 1002 --dport 53 -t 100 && "
                         "conntrack -I -p udp -s 10.1.0.4 -d 10.2.0.1 --sport 1003 --dport 53 -t 100 --src-nat 192.168.9.9:4000") == 0 &&
              ct_open_netns(ns.name, &h) == CT_OK;
    struct { uint32_t kind; const char *arg, *tool; } cases[] = {
        {CT_NAT_SRC, NULL, "--src-nat"}, {CT_NAT_SRC, "192.168.9.9", "--src-nat 192.168.9.9"},
        {CT_NAT_SRC, "192.168.9.9:4000", "--src-nat 192.168.9.9:4000"}, {CT_NAT_DST, "", "--dst-nat"},
        {CT_NAT_DST, "172.16.0.5:8080", "--dst-nat 172.16.0.5:8080"}, {CT_NAT_ANY, NULL, "--any-nat"},
    };
    for (size_t i = 0; ok && i < sizeof cases / sizeof cases[0]; i++) {
        ct_filter *f = NULL;
        int got = 0, want = tool_count(&ns, cases[i].tool);
        ok = ct_filter_new(&f) == CT_OK && ct_filter_set_nat(f, cases[i].kind, cases[i].arg) == CT_OK &&
             ct_dump(h, f, count_cb, &got) == CT_OK && want > 0 && got == want;
        if (!ok) fprintf(stderr, "    %s: %d, the tool %d\n", cases[i].tool, got, want);
        ct_filter_free(f);
    }
    ct_close(h);
    netns_remove(&ns);
    return ok;
}

static bool test_bad_input(void) {
    ct_filters *set = NULL;
    ct_filter *f = NULL;
    uint64_t n = 0;
    int c = 0;
    CHECK_OK(ct_filters_new(&set));
    CHECK_OK(ct_filter_new(&f));
    CHECK_RC(ct_filters_new(NULL), CT_ERR_NULL_POINTER);
    CHECK_RC(ct_filters_add(NULL, f), CT_ERR_NULL_POINTER);
    CHECK_RC(ct_filters_add(set, NULL), CT_ERR_NULL_POINTER);
    CHECK_RC(ct_filters_clear(NULL), CT_ERR_NULL_POINTER);
    CHECK(ct_filters_len(NULL) == 0);
    CHECK_RC(ct_dump_any(NULL, set, count_cb, &c), CT_ERR_NULL_POINTER);
    CHECK_RC(ct_delete_matching_any(NULL, set, &n), CT_ERR_NULL_POINTER);
    CHECK_RC(ct_filter_set_nat(NULL, CT_NAT_SRC, NULL), CT_ERR_NULL_POINTER);
    CHECK_RC(ct_filter_set_nat(f, 0, NULL), CT_ERR_INVALID_ARGUMENT);
    CHECK_RC(ct_filter_set_nat(f, 4, NULL), CT_ERR_INVALID_ARGUMENT);
    CHECK_RC(ct_filter_set_nat(f, CT_NAT_SRC, "not an address"), CT_ERR_INVALID_ARGUMENT);
    CHECK_RC(ct_filter_set_nat(f, CT_NAT_SRC, "1.2.3.4:70000"), CT_ERR_INVALID_ARGUMENT);
    CHECK_OK(ct_filter_set_nat(f, CT_NAT_ANY, ":53"));
    CHECK_OK(ct_filter_set_nat(f, CT_NAT_DST, "[fd00::1]:53"));
    /* The filter is IPv6 through its NAT address; an IPv4 address contradicts it. */
    CHECK_RC(ct_filter_set_addr(f, CT_ORIG_SRC, "10.0.0.1"), CT_OK);
    CHECK_RC(ct_filters_add(set, f), CT_ERR_INVALID_ARGUMENT);
    CHECK(ct_filters_len(set) == 0);
    ct_filter_free(f);
    f = NULL;
    CHECK_OK(ct_filter_new(&f));
    CHECK_OK(ct_filter_set_family(f, CT_FAMILY_IPV4));
    CHECK_RC(ct_filter_set_nat(f, CT_NAT_SRC, "fd00::1"), CT_ERR_INVALID_ARGUMENT);
    CHECK_OK(ct_filters_add(set, f));
    CHECK(ct_filters_len(set) == 1);
    ct_filter_free(f);
    ct_filters_free(set);
    ct_filters_free(NULL);
    return true;
}

int main(int argc, char **argv) {
    static const struct test tests[] = {
        {"set_union", test_set_union},
        {"nat", test_nat},
        {"bad_input", test_bad_input},
    };
    return run_tests("filtersets", tests, sizeof tests / sizeof tests[0], argc, argv);
}
