/*
 * ctrack's expectation table: -L, -G, -D, -I, -F and -C expect, with conntrack 1.4.7's
 * output, summaries and exit statuses (the library's ct_expect_* calls underneath).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "ctrack.h"

#define EXP_CMD(bit) (1u << (bit))

static int status_errno(ct_status rc) {
    int e = ct_last_errno();
    if (e) return e;
    switch (rc) {
    case CT_ERR_NOT_FOUND: return ENOENT;
    case CT_ERR_EXISTS: return EEXIST;
    case CT_ERR_PERMISSION: return EPERM;
    default: return EINVAL;
    }
}

/* conntrack's words for an expectation command's errno (its table has two of its own). */
static const char *exp_err_text(ct_status rc, unsigned cmd) {
    int err = status_errno(rc);
    if (cmd == EXP_CMD(EXP_CREATE_BIT) && err == ENOENT) return "master conntrack not found";
    return err_text(err, cmd);
}

static void summary(unsigned long n) {
    fflush(stdout);
    banner(stderr);
    fprintf(stderr, "%lu expectations have been shown.\n", n);
}

/* One tuple of the command line as an entry: the addresses and ports of `addr`/`port`. */
static ct_entry *tuple_entry(const struct cmdline *c, const struct addr addr[2], const uint16_t port[2],
                             bool ports_set) {
    ct_entry *e = NULL;
    if (ct_entry_new(&e) != CT_OK) die(EXIT_OTHER, "OOM");
    int family = c->family ? c->family : AF_INET;
    ct_entry_set_family(e, family == AF_INET6 ? CT_FAMILY_IPV6 : CT_FAMILY_IPV4);
    if (c->options & OPT_PROTO) ct_entry_set_proto(e, c->proto);
    for (int i = 0; i < 2; i++) {
        if (addr[i].set) {
            char text[CT_ADDR_TEXT_MAX];
            addr_text(&addr[i], text, sizeof text);
            if (ct_entry_set_addr(e, (uint32_t)i, text) != CT_OK)
                die(EXIT_PARAMETER, "address: %s", ct_last_error_message());
        }
        if (ports_set && proto_has_ports(c->proto)) ct_entry_set_port(e, (uint32_t)i, port[i]);
    }
    if (c->icmp_set) ct_entry_set_icmp(e, CT_DIR_ORIG, c->icmp_type, c->icmp_code, c->icmp_id);
    return e;
}

/* The master's original tuple (-s -d -p --sport --dport): also the tuple -G and -D look for. */
static ct_entry *master_entry(const struct cmdline *c) {
    bool ports = c->port_set[0] || c->port_set[1];
    return tuple_entry(c, c->addr, c->port, ports);
}

/* --- -L expect -------------------------------------------------------------------------- */

struct listing {
    const struct cmdline *c;
    struct text t;
    unsigned long n;
};

static bool family_matches(const struct cmdline *c, const ct_expect *x) {
    if (!c->family) return true;
    ct_entry *e = NULL;
    uint8_t fam = 0;
    if (ct_expect_get_tuple(x, CT_EXPECT_TUPLE, &e) == CT_OK) ct_entry_get_family(e, &fam);
    ct_entry_free(e);
    return fam == (c->family == AF_INET6 ? CT_FAMILY_IPV6 : CT_FAMILY_IPV4);
}

static void print_expect(const struct cmdline *c, const ct_expect *x, uint32_t event, struct text *t,
                         bool *header) {
    if (c->output & OUT_XML) {
        if (!*header) fputs(xml_header_expect, stdout);
        *header = true;
        puts(format_expect_xml(x, event, c->output, t));
        return;
    }
    if (c->output & OUT_TMS) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        printf("[%-8ld.%-6ld]\t", (long)tv.tv_sec, (long)tv.tv_usec);
    }
    puts(format_expect(x, event, t));
}

static bool xml_header_done;

static int32_t list_one(const ct_expect *x, void *user) {
    struct listing *l = user;
    if (!family_matches(l->c, x)) return 0;
    print_expect(l->c, x, 0, &l->t, &xml_header_done);
    l->n++;
    return 0;
}

static int do_list(const struct cmdline *c) {
    ct_handle *h = open_handle(c);
    struct listing l = {c, {NULL, 0, 0}, 0};
    ct_status rc = ct_expect_dump(h, list_one, &l);
    ct_close(h);
    free(l.t.buf);
    if (xml_header_done) fputs("</expect>\n", stdout);
    if (rc != CT_OK) die(EXIT_OTHER, "Operation failed: %s", exp_err_text(rc, c->command));
    summary(l.n);
    return EXIT_SUCCESS;
}

/* --- -G expect: the kernel's lookup (the expected tuple, its source under the mask) ------- */

struct finding {
    const ct_entry *key;
    ct_expect *found;
};

static bool same_bytes_masked(const ct_entry *key, const ct_entry *tuple, const ct_entry *mask, uint32_t which) {
    uint8_t k[16], t[16], m[16];
    size_t kl = 0, tl = 0, ml = 0;
    if (ct_entry_get_addr_bytes(key, which, k, sizeof k, &kl) != CT_OK ||
        ct_entry_get_addr_bytes(tuple, which, t, sizeof t, &tl) != CT_OK || kl != tl)
        return false;
    if (!mask || ct_entry_get_addr_bytes(mask, which, m, sizeof m, &ml) != CT_OK || ml != kl) memset(m, 0xff, sizeof m);
    for (size_t i = 0; i < kl; i++)
        if ((k[i] ^ t[i]) & m[i]) return false;
    return true;
}

static bool port_masked(const ct_entry *key, const ct_entry *tuple, const ct_entry *mask, uint32_t which) {
    uint16_t k = 0, t = 0, m = 0xffff;
    bool hk = ct_entry_get_port(key, which, &k) == CT_OK, ht = ct_entry_get_port(tuple, which, &t) == CT_OK;
    if (!hk || !ht) return hk == ht;
    if (mask) ct_entry_get_port(mask, which, &m);
    return ((k ^ t) & m) == 0;
}

static int32_t find_one(const ct_expect *x, void *user) {
    struct finding *f = user;
    ct_entry *tuple = NULL, *mask = NULL;
    uint8_t kf = 0, tf = 0, kp = 0, tp = 0;
    uint32_t zone = 0;
    bool match = (ct_expect_get_zone(x, &zone) != CT_OK || zone == 0) && ct_expect_get_tuple(x, CT_EXPECT_TUPLE, &tuple) == CT_OK;
    ct_expect_get_tuple(x, CT_EXPECT_MASK, &mask);
    if (match) {
        ct_entry_get_family(f->key, &kf);
        ct_entry_get_family(tuple, &tf);
        ct_entry_get_proto(f->key, &kp);
        ct_entry_get_proto(tuple, &tp);
        /* The destination is compared whole, the source under the mask. */
        match = kf == tf && kp == tp && same_bytes_masked(f->key, tuple, NULL, CT_ORIG_DST) &&
                port_masked(f->key, tuple, NULL, CT_ORIG_DST) &&
                same_bytes_masked(f->key, tuple, mask, CT_ORIG_SRC) && port_masked(f->key, tuple, mask, CT_ORIG_SRC);
    }
    ct_entry_free(tuple);
    ct_entry_free(mask);
    if (match && ct_expect_clone(x, &f->found) != CT_OK) die(EXIT_OTHER, "OOM");
    return match ? 1 : 0;
}

static int do_get(const struct cmdline *c) {
    ct_handle *h = open_handle(c);
    ct_entry *key = master_entry(c);
    struct finding f = {key, NULL};
    ct_status rc = ct_expect_dump(h, find_one, &f);
    ct_close(h);
    ct_entry_free(key);
    if (rc == CT_OK && !f.found) rc = CT_ERR_NOT_FOUND;
    if (rc != CT_OK) die(EXIT_OTHER, "Operation failed: %s", exp_err_text(rc, c->command));
    struct text t = {NULL, 0, 0};
    bool header = false;
    print_expect(c, f.found, 0, &t, &header);
    free(t.buf);
    ct_expect_free(f.found);
    return EXIT_SUCCESS;
}

/* --- -D expect -------------------------------------------------------------------------- */

static int do_delete(const struct cmdline *c) {
    ct_handle *h = open_handle(c);
    ct_entry *key = master_entry(c);
    ct_expect *x = NULL;
    if (ct_expect_new(&x) != CT_OK) die(EXIT_OTHER, "OOM");
    ct_status rc = ct_expect_set_tuple(x, CT_EXPECT_TUPLE, key);
    if (rc == CT_OK) rc = ct_expect_delete(h, x);
    ct_expect_free(x);
    ct_entry_free(key);
    ct_close(h);
    if (rc != CT_OK) die(EXIT_OTHER, "Operation failed: %s", exp_err_text(rc, c->command));
    /* conntrack counts no deleted expectation, so it reports 0 and exits 1 even then. */
    summary(0);
    return EXIT_FAILURE;
}

/* --- -I expect -------------------------------------------------------------------------- */

static int do_create(const struct cmdline *c) {
    ct_entry *master = master_entry(c);
    ct_entry *tuple = tuple_entry(c, c->exp_addr, c->exp_port, true);
    ct_entry *mask = tuple_entry(c, c->exp_mask, c->exp_mask_port, true);
    ct_expect *x = NULL;
    if (ct_expect_new(&x) != CT_OK) die(EXIT_OTHER, "OOM");
    ct_status rc = ct_expect_set_tuple(x, CT_EXPECT_MASTER, master);
    if (rc == CT_OK) rc = ct_expect_set_tuple(x, CT_EXPECT_TUPLE, tuple);
    if (rc == CT_OK) rc = ct_expect_set_tuple(x, CT_EXPECT_MASK, mask);
    if (rc == CT_OK && (c->options & OPT_TIMEOUT)) rc = ct_expect_set_timeout(x, c->timeout);
    ct_entry_free(master);
    ct_entry_free(tuple);
    ct_entry_free(mask);
    if (rc != CT_OK) {
        ct_expect_free(x);
        die(EXIT_OTHER, "Operation failed: %s", exp_err_text(rc, c->command));
    }
    ct_handle *h = open_handle(c);
    rc = ct_expect_create(h, x);
    ct_close(h);
    ct_expect_free(x);
    if (rc != CT_OK) die(EXIT_OTHER, "Operation failed: %s", exp_err_text(rc, c->command));
    return EXIT_SUCCESS;
}

/* --- -F expect, -C expect --------------------------------------------------------------- */

struct counting {
    const struct cmdline *c;
    unsigned long n;
};

/* conntrack counts the expectations of its default family, IPv4, unless -f says otherwise. */
static int32_t count_one(const ct_expect *x, void *user) {
    struct counting *k = user;
    if (family_matches(k->c, x)) k->n++;
    return 0;
}

static int do_flush(const struct cmdline *c) {
    ct_handle *h = open_handle(c);
    ct_status rc = ct_expect_flush(h);
    ct_close(h);
    banner(stderr);
    fputs("expectation table has been emptied.\n", stderr);
    if (rc != CT_OK) die(EXIT_OTHER, "Operation failed: %s", exp_err_text(rc, c->command));
    return EXIT_SUCCESS;
}

static int do_count(const struct cmdline *c) {
    ct_handle *h = open_handle(c);
    struct counting k = {c, 0};
    ct_status rc = ct_expect_dump(h, count_one, &k);
    ct_close(h);
    if (rc != CT_OK) die(EXIT_OTHER, "Operation failed: %s", exp_err_text(rc, c->command));
    printf("%lu\n", k.n);
    return EXIT_SUCCESS;
}

static int do_stats(const struct cmdline *c) {
    ct_handle *h = open_handle(c);
    size_t n = 0;
    ct_status rc = ct_expect_stats_per_cpu(h, NULL, 0, &n);
    ct_expect_stats *s = NULL;
    if (rc == CT_OK || rc == CT_ERR_BUFFER_TOO_SMALL) {
        s = calloc(n ? n : 1, sizeof *s);
        if (!s) die(EXIT_OTHER, "OOM");
        rc = ct_expect_stats_per_cpu(h, s, n, &n);
    }
    ct_close(h);
    if (rc != CT_OK) die(EXIT_OTHER, "Operation failed: %s", exp_err_text(rc, c->command));
    for (size_t i = 0; i < n; i++)
        printf("cpu=%-4u\texpect_new=%u expect_create=%u expect_delete=%u \n", s[i].cpu,
               s[i].expect_new, s[i].expect_create, s[i].expect_delete);
    free(s);
    return EXIT_SUCCESS;
}

/* --- -E expect ------------------------------------------------------------------------- */

struct eventing {
    const struct cmdline *c;
    struct text t;
    unsigned long n;
};

static int32_t event_one(uint32_t type, const ct_expect *x, void *user) {
    struct eventing *ev = user;
    print_expect(ev->c, x, type, &ev->t, &xml_header_done);
    fflush(stdout);
    ev->n++;
    return 0;
}

static int do_events(const struct cmdline *c) {
    ct_expect_events *evs = NULL;
    if (ct_expect_events_open(c->netns, CT_EVENT_ALL, &evs) != CT_OK) die(EXIT_OTHER, "Can't open handler");
    stop_on_signals();
    struct eventing ev = {c, {NULL, 0, 0}, 0};
    while (!stop_events) {
        ct_status rc = ct_expect_events_receive(evs, -1, event_one, &ev, NULL);
        if (rc == CT_ERR_OVERRUN)
            fputs("WARNING: We have hit ENOBUFS! We are losing events.\n", stderr);
        else if (rc != CT_OK)
            die(EXIT_OTHER, "Operation failed: %s", exp_err_text(rc, c->command));
    }
    ct_expect_events_close(evs);
    free(ev.t.buf);
    if (xml_header_done) fputs("</expect>\n", stdout);
    fflush(stdout);
    banner(stderr);
    fprintf(stderr, "%lu expectation events have been shown.\n", ev.n);
    return EXIT_SUCCESS;
}

int run_expect(const struct cmdline *c) {
    switch (c->command) {
    case EXP_CMD(EXP_LIST_BIT): return do_list(c);
    case EXP_CMD(EXP_GET_BIT): return do_get(c);
    case EXP_CMD(EXP_DELETE_BIT): return do_delete(c);
    case EXP_CMD(EXP_CREATE_BIT): return do_create(c);
    case EXP_CMD(EXP_FLUSH_BIT): return do_flush(c);
    case EXP_CMD(EXP_COUNT_BIT): return do_count(c);
    case EXP_CMD(EXP_STATS_BIT): return do_stats(c);
    case EXP_CMD(EXP_EVENT_BIT): return do_events(c);
    default: unsupported("this command on the expectation table");
    }
}
