/* ct_mirror: loads, follows the conntrack tool's changes, repairs itself after overruns
 * forced with a tiny buffer, answers lookups, can be closed from its own callback, and keeps
 * its own last error. */
#include <pthread.h>

#include "common.h"

struct tally {
    int news, updates, destroys, repairs;
    ct_mirror *close_me; /* closed from the callback when set */
};

static int on_change(uint32_t change, const ct_entry *e, void *user) {
    struct tally *t = user;
    (void)e;
    if (change & CT_MIRROR_REPAIR) t->repairs++;
    switch (change & ~CT_MIRROR_REPAIR) {
    case CT_MIRROR_NEW: t->news++; break;
    case CT_MIRROR_UPDATE: t->updates++; break;
    case CT_MIRROR_DESTROY: t->destroys++; break;
    default: t->news = -100000; break;
    }
    if (t->close_me) {
        ct_mirror_close(t->close_me);
        t->close_me = NULL;
    }
    return 0;
}

static bool make_ns(struct netns *ns) {
    if (!netns_make(ns)) return false;
    /* Events on, whatever the kernel's default for a new namespace is. */
    if (ns_sh(ns, "sysctl -qw net.netfilter.nf_conntrack_events=1") != 0) {
        netns_remove(ns);
        return false;
    }
    return true;
}

/* Steps until nothing is left to apply, no repair waits and the mirror is not stale. */
static bool settle(ct_mirror *m, struct tally *t) {
    for (int i = 0; i < 10000; i++) {
        size_t n = 0;
        int wait = ct_mirror_next_timeout(m);
        CHECK_OK(ct_mirror_step(m, wait > 0 ? wait : 0, on_change, t, &n));
        ct_mirror_counters s;
        CHECK_OK(ct_mirror_stats(m, &s));
        if (n == 0 && !s.stale && ct_mirror_next_timeout(m) < 0) return true;
    }
    CHECK(!"the mirror settled");
    return false;
}

static int tool_count(const struct netns *ns) {
    char *out = ns_capture(ns, "conntrack -C");
    int n = out ? atoi(out) : -1;
    free(out);
    return n;
}

static bool follow(const struct netns *ns) {
    for (int i = 1; i <= 20; i++)
        CHECK(ns_sh(ns, "conntrack -I -p udp -s 10.0.0.%d -d 10.0.1.1 --sport 1 --dport 53 -t 600", i) == 0);
    ct_mirror *m = NULL;
    CHECK_OK(ct_mirror_open(ns->name, NULL, &m));
    struct tally t = {0};
    bool ok = settle(m, &t);
    ok = ok && t.news == 20 && t.repairs == 20 && ct_mirror_count(m) == 20;
    /* The tool's changes arrive as events. */
    ok = ok && ns_sh(ns, "conntrack -U -p udp -s 10.0.0.3 -d 10.0.1.1 --sport 1 --dport 53 -m 5") == 0 &&
         ns_sh(ns, "conntrack -D -p udp -s 10.0.0.4 -d 10.0.1.1 --sport 1 --dport 53") == 0 &&
         ns_sh(ns, "conntrack -I -p tcp -s 10.0.0.9 -d 10.0.1.1 --sport 7 --dport 80 --state ESTABLISHED -t 600") == 0;
    ok = ok && settle(m, &t);
    ok = ok && t.updates == 1 && t.destroys == 1 && t.news == 21 && t.repairs == 20 && ct_mirror_count(m) == 20;
    /* Lookups by tuple and zone, and by id. */
    ct_entry *key = NULL;
    const ct_entry *got = NULL;
    uint32_t mark = 0, id = 0;
    ok = ok && ct_entry_new(&key) == CT_OK && ct_entry_set_proto(key, CT_PROTO_UDP) == CT_OK &&
         ct_entry_set_addr(key, CT_ORIG_SRC, "10.0.0.3") == CT_OK &&
         ct_entry_set_addr(key, CT_ORIG_DST, "10.0.1.1") == CT_OK && ct_entry_set_port(key, CT_ORIG_SRC, 1) == CT_OK &&
         ct_entry_set_port(key, CT_ORIG_DST, 53) == CT_OK;
    ok = ok && ct_mirror_get(m, key, &got) == CT_OK && ct_entry_get_mark(got, &mark) == CT_OK && mark == 5 &&
         ct_entry_get_id(got, &id) == CT_OK;
    const ct_entry *by_id = NULL;
    ok = ok && ct_mirror_get_by_id(m, id, &by_id) == CT_OK && by_id == got;
    ok = ok && ct_entry_set_addr(key, CT_ORIG_SRC, "10.0.0.4") == CT_OK &&
         ct_mirror_get(m, key, &got) == CT_ERR_NOT_FOUND;
    ct_entry_free(key);
    ct_mirror_close(m);
    CHECK(ok);
    return true;
}

static bool test_follow(void) {
    struct netns ns;
    if (!make_ns(&ns)) return false;
    bool ok = follow(&ns);
    netns_remove(&ns);
    return ok;
}

/* A burst far larger than a tiny buffer holds: the kernel drops events, the mirror repairs
 * itself and ends equal to the table. */
static bool overrun(const struct netns *ns) {
    ct_mirror *m = NULL;
    ct_handle *h = NULL;
    ct_batch *b = NULL;
    CHECK_OK(ct_mirror_open(ns->name, NULL, &m));
    CHECK_OK(ct_mirror_set_receive_buffer(m, 4096));
    CHECK_OK(ct_mirror_set_backoff(m, 1, 20));
    struct tally t = {0};
    bool ok = settle(m, &t) && ct_open_netns(ns->name, &h) == CT_OK && ct_batch_new(&b) == CT_OK;
    for (int round = 0; ok && round < 3; round++) {
        for (int i = 0; ok && i < 5000; i++) {
            ct_entry *e = NULL;
            char src[32];
            snprintf(src, sizeof src, "10.%d.%d.%d", 1 + round, i / 250, i % 250 + 1);
            ok = ct_entry_new(&e) == CT_OK && ct_entry_set_proto(e, CT_PROTO_UDP) == CT_OK &&
                 ct_entry_set_addr(e, CT_ORIG_SRC, src) == CT_OK &&
                 ct_entry_set_addr(e, CT_ORIG_DST, "10.0.1.1") == CT_OK &&
                 ct_entry_set_port(e, CT_ORIG_SRC, 1) == CT_OK && ct_entry_set_port(e, CT_ORIG_DST, 53) == CT_OK &&
                 ct_entry_set_timeout(e, 600) == CT_OK && ct_batch_add_create(b, e) == CT_OK;
            ct_entry_free(e);
        }
        size_t failed = 1;
        ok = ok && ct_batch_send(h, b, &failed) == CT_OK && failed == 0;
        /* One step between bursts: events then pile up beyond the buffer. */
        ok = ok && ct_mirror_step(m, 0, on_change, &t, NULL) == CT_OK;
    }
    ok = ok && settle(m, &t);
    ct_mirror_counters s = {0};
    ok = ok && ct_mirror_stats(m, &s) == CT_OK;
    if (ok && !(s.overruns > 0 && s.repairs >= 2 && !s.stale)) {
        fprintf(stderr, "    overruns=%llu repairs=%llu stale=%u\n", (unsigned long long)s.overruns,
                (unsigned long long)s.repairs, s.stale);
        ok = false;
    }
    ok = ok && ct_mirror_count(m) == 15000 && tool_count(ns) == 15000;
    ct_batch_free(b);
    ct_close(h);
    ct_mirror_close(m);
    CHECK(ok);
    return true;
}

static bool test_overrun(void) {
    struct netns ns;
    if (!make_ns(&ns)) return false;
    bool ok = overrun(&ns);
    netns_remove(&ns);
    return ok;
}

/* Closed from its own callback: the step returns, nothing more reaches the callback, and
 * nothing leaks (valgrind and ASan runs). */
static bool test_close_from_callback(void) {
    struct netns ns;
    if (!make_ns(&ns)) return false;
    bool ok = true;
    for (int i = 1; ok && i <= 5; i++)
        ok = ns_sh(&ns, "conntrack -I -p udp -s 10.0.0.%d -d 10.0.1.1 --sport 1 --dport 53 -t 600", i) == 0;
    ct_mirror *m = NULL;
    ok = ok && ct_mirror_open(ns.name, NULL, &m) == CT_OK;
    struct tally t = {0};
    t.close_me = m;
    ok = ok && ct_mirror_step(m, 0, on_change, &t, NULL) == CT_OK && t.news == 1;
    netns_remove(&ns);
    CHECK(ok);
    return true;
}

static bool test_misuse(void) {
    ct_mirror *m = NULL;
    CHECK_RC(ct_mirror_open(NULL, NULL, NULL), CT_ERR_NULL_POINTER);
    CHECK(strstr(ct_last_error_message(), "mirror_out") != NULL);
    CHECK_RC(ct_mirror_open("no-such-netns-here", NULL, &m), CT_ERR_NETNS);
    CHECK(m == NULL);
    CHECK_RC(ct_mirror_step(NULL, 0, on_change, NULL, NULL), CT_ERR_NULL_POINTER);
    CHECK(ct_mirror_count(NULL) == 0);
    CHECK(ct_mirror_fd(NULL) == -1);
    ct_mirror_close(NULL);
    return true;
}

/* A call made from inside the mirror's callback fails busy, recorded on the mirror. */
struct busy {
    ct_mirror *m;
    ct_status rc;
    char thread_msg[256];
};

static int call_inside(uint32_t change, const ct_entry *e, void *user) {
    struct busy *b = user;
    (void)change;
    (void)e;
    b->rc = ct_mirror_request_repair(b->m);
    snprintf(b->thread_msg, sizeof b->thread_msg, "%s", ct_last_error_message());
    return 1;
}

static void *read_other_thread(void *m) {
    static char msg[256];
    snprintf(msg, sizeof msg, "%s", ct_mirror_last_error(m));
    return msg;
}

/* The mirror records its own failures: the text equals the thread's, and another thread
 * reads the same from the mirror. */
static bool last_error(const struct netns *ns) {
    ct_mirror *m = NULL;
    CHECK_OK(ct_mirror_open(ns->name, NULL, &m));
    bool ok = ct_mirror_last_error(m) != NULL && strcmp(ct_mirror_last_error(m), "") == 0 &&
              ct_mirror_last_errno(m) == 0;
    const ct_entry *got = NULL;
    ok = ok && ct_mirror_get_by_id(m, 12345, &got) == CT_ERR_NOT_FOUND && got == NULL;
    ok = ok && strstr(ct_mirror_last_error(m), "no such entry") != NULL &&
         strcmp(ct_mirror_last_error(m), ct_last_error_message()) == 0 &&
         ct_mirror_last_errno(m) == ct_last_errno();
    pthread_t th;
    void *other = NULL;
    ok = ok && pthread_create(&th, NULL, read_other_thread, m) == 0 && pthread_join(th, &other) == 0 &&
         strcmp(other, ct_mirror_last_error(m)) == 0;
    /* A failure on another object leaves the mirror's error as it was. */
    ok = ok && ct_mirror_open("no-such-netns-here", NULL, &(ct_mirror *){NULL}) == CT_ERR_NETNS &&
         strstr(ct_mirror_last_error(m), "no such entry") != NULL;
    ok = ok && ns_sh(ns, "conntrack -I -p udp -s 10.0.0.1 -d 10.0.1.1 --sport 1 --dport 53 -t 600") == 0;
    struct busy b = {.m = m, .rc = CT_OK};
    ok = ok && ct_mirror_step(m, 0, call_inside, &b, NULL) == CT_OK && b.rc == CT_ERR_BUSY &&
         strstr(ct_mirror_last_error(m), "in use") != NULL && strcmp(ct_mirror_last_error(m), b.thread_msg) == 0;
    ct_mirror_close(m);
    CHECK(ok);
    CHECK(ct_mirror_last_error(NULL) == NULL && ct_mirror_last_errno(NULL) == 0);
    return true;
}

static bool test_last_error(void) {
    struct netns ns;
    if (!make_ns(&ns)) return false;
    bool ok = last_error(&ns);
    netns_remove(&ns);
    return ok;
}

int main(int argc, char **argv) {
    static const struct test tests[] = {
        {"misuse", test_misuse},
        {"follow", test_follow},
        {"overrun", test_overrun},
        {"close_from_callback", test_close_from_callback},
        {"last_error", test_last_error},
    };
    return run_tests("mirror", tests, sizeof tests / sizeof tests[0], argc, argv);
}
