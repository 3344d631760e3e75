/* The project's benchmark program: the same workloads and output line as the comparison
 * programs in bench/anchors (nfct-bench.c on libnetfilter_conntrack), on libconntrack.
 *   create N ZONE   create N UDP entries 10.0.x.y:1024+(i%1024) -> 10.200.0.1:53 in ZONE
 *   dump [ZONE]     dump the table, count the entries (only those in ZONE if given)
 *   delete N ZONE   delete those same N entries by tuple and zone
 *   flush           flush the table
 *   list [ZONE]     ct_list the table (ZONE only if given) and report resident memory
 *                   per entry
 *                   (with CT_BENCH_MEMORY set in the environment, dump reports its resident
 *                   memory growth too: its buffers, whatever the size)
 *   delete-any K ZONE
 *                   one ct_delete_matching_any with K filters (UDP, ZONE, orig source
 *                   10.0.0.0 + 2j + 1 for j < K): about half the sources of `create` match,
 *                   the rest match nothing, as stale filters do
 *   delete-matching ZONE [userspace]
 *                   one ct_delete_matching of the whole zone (the library's path forced
 *                   with "userspace")
 *                   both print "op=... n=DELETED filters=K secs=S rate=R/s rss_kib=GROWTH",
 *                   GROWTH being the peak resident memory over what it was before the call
 *   events SECS     listen for NEW and DESTROY events for SECS seconds with the library's
 *                   default settings; prints "op=events events=E overruns=O"
 * Prints "op=... n=... fails=... secs=... rate=.../s". Creates and deletes go out in
 * batches of BATCH requests (one ct_batch reused), as a program with a large table would. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conntrack.h"

#define BATCH 16384

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long rss_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return resident * 4;
}

/* A line of /proc/self/status ("VmRSS", "VmHWM") in KiB. */
static long status_kib(const char *field) {
    char line[256];
    long v = 0;
    size_t n = strlen(field);
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

static int die(const char *what, ct_status rc) {
    fprintf(stderr, "ct-bench: %s: %s: %s\n", what, ct_strerror(rc), ct_last_error_message());
    return 1;
}

/* Fills `e` with entry number i of the workload (the same entries as bench/anchors). */
static ct_status fill(ct_entry *e, unsigned i, unsigned zone) {
    uint32_t s = (10u << 24) | ((i >> 10) + 1);
    uint8_t src[4] = {(uint8_t)(s >> 24), (uint8_t)(s >> 16), (uint8_t)(s >> 8), (uint8_t)s};
    static const uint8_t dst[4] = {10, 200, 0, 1};
    ct_status rc = ct_entry_set_addr_bytes(e, CT_ORIG_SRC, src, 4);
    if (rc == CT_OK) rc = ct_entry_set_addr_bytes(e, CT_ORIG_DST, dst, 4);
    if (rc == CT_OK) rc = ct_entry_set_port(e, CT_ORIG_SRC, (uint16_t)(1024 + (i & 1023)));
    if (rc == CT_OK) rc = ct_entry_set_port(e, CT_ORIG_DST, 53);
    if (rc == CT_OK) rc = ct_entry_set_zone(e, zone);
    return rc;
}

static int count_entry(const ct_entry *e, void *user) {
    (void)e;
    ++*(unsigned *)user;
    return 0;
}

static int count_event(uint32_t type, const ct_entry *e, void *user) {
    (void)type;
    (void)e;
    ++*(unsigned long *)user;
    return 0;
}

/* Listens with the library's defaults; an overrun is counted and the stream goes on. */
static int listen_events(double secs) {
    ct_events *ev = NULL;
    ct_status rc = ct_events_open(CT_EVENT_NEW | CT_EVENT_DESTROY, &ev);
    if (rc != CT_OK) return die("events", rc);
    unsigned long events = 0;
    double end = now() + secs;
    while (now() < end) {
        rc = ct_events_receive(ev, 200, count_event, &events, NULL);
        if (rc != CT_OK && rc != CT_ERR_OVERRUN) {
            ct_events_close(ev);
            return die("receive events", rc);
        }
    }
    printf("op=events events=%lu overruns=%llu\n", events, (unsigned long long)ct_events_overruns(ev));
    ct_events_close(ev);
    return 0;
}

static int bulk(ct_handle *h, int create, unsigned n, unsigned zone, unsigned *fails) {
    ct_entry *e = NULL;
    ct_batch *b = NULL;
    ct_status rc = ct_entry_new(&e);
    if (rc == CT_OK) rc = ct_batch_new(&b);
    if (rc == CT_OK) rc = ct_entry_set_proto(e, CT_PROTO_UDP);
    if (rc == CT_OK) rc = ct_entry_set_timeout(e, 3600);
    for (unsigned i = 0; rc == CT_OK && i < n;) {
        for (unsigned k = 0; rc == CT_OK && k < BATCH && i < n; k++, i++) {
            rc = fill(e, i, zone);
            if (rc == CT_OK) rc = create ? ct_batch_add_create(b, e) : ct_batch_add_delete(b, e);
        }
        size_t failed = 0;
        if (rc == CT_OK) rc = ct_batch_send(h, b, &failed);
        *fails += (unsigned)failed;
        if (rc == CT_OK) rc = ct_batch_clear(b);
    }
    ct_batch_free(b);
    ct_entry_free(e);
    return rc == CT_OK ? 0 : die(create ? "create" : "delete", rc);
}

/* delete-any K ZONE and delete-matching ZONE [userspace]: one call, timed, with the peak
 * resident growth it caused. */
static int delete_filtered(ct_handle *h, int any, unsigned k, unsigned zone, int userspace) {
    ct_filters *set = NULL;
    ct_filter *f = NULL;
    uint64_t deleted = 0;
    long before = status_kib("VmRSS");
    double t0 = now();
    ct_status rc = ct_filters_new(&set);
    for (unsigned j = 0; rc == CT_OK && j < (any ? k : 1); j++) {
        rc = ct_filter_new(&f);
        if (rc == CT_OK) rc = ct_filter_set_zone(f, zone);
        if (rc == CT_OK && userspace) rc = ct_filter_set_kernel_filtering(f, false);
        if (rc == CT_OK && any) rc = ct_filter_set_proto(f, CT_PROTO_UDP);
        if (rc == CT_OK && any) {
            uint32_t a = (10u << 24) + 2 * j + 1;
            uint8_t b[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
            char text[16];
            snprintf(text, sizeof text, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
            rc = ct_filter_set_addr(f, CT_ORIG_SRC, text);
        }
        if (rc == CT_OK && any) rc = ct_filters_add(set, f);
        if (rc == CT_OK && !any) rc = ct_delete_matching(h, f, &deleted);
        ct_filter_free(f);
        f = NULL;
    }
    if (rc == CT_OK && any) rc = ct_delete_matching_any(h, set, &deleted);
    double dt = now() - t0;
    long growth = status_kib("VmHWM") - before;
    ct_filters_free(set);
    if (rc != CT_OK) return die(any ? "delete-any" : "delete-matching", rc);
    printf("op=%s n=%llu filters=%u secs=%.3f rate=%.0f/s rss_kib=%ld\n", any ? "delete-any" : "delete-matching",
           (unsigned long long)deleted, any ? k : 1, dt, dt > 0 ? (double)deleted / dt : 0.0, growth);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s create N ZONE | dump [ZONE] | views [ZONE] | delete N ZONE | list [ZONE] | delete-any K ZONE | "
                "delete-matching ZONE [userspace] | flush | events SECS\n",
                argv[0]);
        return 2;
    }
    const char *op = argv[1];
    if (!strcmp(op, "events")) return listen_events(argc > 2 ? atof(argv[2]) : 10);
    ct_handle *h = NULL;
    ct_status rc = ct_open(&h);
    if (rc != CT_OK) return die("open", rc);
    if (!strcmp(op, "delete-any") && argc > 3) {
        int st = delete_filtered(h, 1, (unsigned)strtoul(argv[2], NULL, 10), (unsigned)strtoul(argv[3], NULL, 10), 0);
        ct_close(h);
        return st;
    }
    if (!strcmp(op, "delete-matching") && argc > 2) {
        int st = delete_filtered(h, 0, 1, (unsigned)strtoul(argv[2], NULL, 10), argc > 3 && !strcmp(argv[3], "userspace"));
        ct_close(h);
        return st;
    }
    unsigned n = 0, fails = 0;
    int status = 0;
    double t0 = now();
    if ((!strcmp(op, "create") || !strcmp(op, "delete")) && argc > 3) {
        n = (unsigned)strtoul(argv[2], NULL, 10);
        status = bulk(h, !strcmp(op, "create"), n, (unsigned)strtoul(argv[3], NULL, 10), &fails);
    } else if (!strcmp(op, "dump")) {
        ct_filter *f = NULL;
        if (argc > 2) {
            rc = ct_filter_new(&f);
            if (rc == CT_OK) rc = ct_filter_set_zone(f, (uint32_t)strtoul(argv[2], NULL, 10));
        }
        long before = rss_kib();
        if (rc == CT_OK) rc = ct_dump(h, f, count_entry, &n);
        ct_filter_free(f);
        if (rc != CT_OK) status = die("dump", rc);
        else if (getenv("CT_BENCH_MEMORY"))
            fprintf(stderr, "dump: %u entries, resident memory +%ld KiB\n", n, rss_kib() - before);
    } else if (!strcmp(op, "views")) {
        /* The bindings' read: a cursor read a block of views at a time. */
        static ct_view block[1024];
        ct_filter *f = NULL;
        ct_cursor *c = NULL;
        if (argc > 2) {
            rc = ct_filter_new(&f);
            if (rc == CT_OK) rc = ct_filter_set_zone(f, (uint32_t)strtoul(argv[2], NULL, 10));
        }
        if (rc == CT_OK) rc = ct_cursor_open(h, f, &c);
        for (size_t got = 1; rc == CT_OK && got > 0; n += (unsigned)got)
            rc = ct_cursor_next_views(c, block, sizeof block[0], sizeof block / sizeof block[0], &got);
        ct_cursor_free(c);
        ct_filter_free(f);
        if (rc != CT_OK) status = die("views", rc);
    } else if (!strcmp(op, "list")) {
        long before = rss_kib();
        ct_entry_list *l = NULL;
        ct_filter *f = NULL;
        if (argc > 2) {
            rc = ct_filter_new(&f);
            if (rc == CT_OK) rc = ct_filter_set_zone(f, (uint32_t)strtoul(argv[2], NULL, 10));
        }
        if (rc == CT_OK) rc = ct_list(h, f, &l);
        ct_filter_free(f);
        if (rc != CT_OK) {
            status = die("list", rc);
        } else {
            n = (unsigned)ct_entry_list_len(l);
            long after = rss_kib();
            fprintf(stderr, "list: %u entries, resident memory +%ld KiB, %.0f bytes per entry\n", n, after - before,
                    n ? (after - before) * 1024.0 / n : 0.0);
        }
        ct_entry_list_free(l);
    } else if (!strcmp(op, "flush")) {
        rc = ct_flush(h);
        if (rc != CT_OK) status = die("flush", rc);
    } else {
        fprintf(stderr, "ct-bench: unknown operation %s\n", op);
        status = 2;
    }
    double dt = now() - t0;
    printf("op=%s n=%u fails=%u secs=%.3f rate=%.0f/s\n", op, n, fails, dt, dt > 0 ? n / dt : 0.0);
    ct_close(h);
    return status ? status : (fails ? 1 : 0);
}
