/* Soak test: N mixed operations (creates and deletes in batches, single gets, updates and
 * deletes, dumps, lists, counts) through one handle, and the events they make through one
 * listener, in the caller's network namespace (run it in a private one). Prints resident
 * memory after the first tenth of the operations and at the end, and fails when it grew by
 * more than a small fixed allowance: memory must stay flat however long the process runs.
 *   soak [OPS [--no-rss-check]]   (OPS: default 1000000; under valgrind, whose own memory
 *                                  grows, only its error and leak checks count)           */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conntrack.h"

static long rss_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int die(const char *what, ct_status rc) {
    fprintf(stderr, "soak: %s: %s: %s\n", what, ct_strerror(rc), ct_last_error_message());
    return 1;
}

static ct_status fill(ct_entry *e, unsigned i) {
    uint8_t src[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
    static const uint8_t dst[4] = {10, 200, 0, 1};
    ct_status rc = ct_entry_set_addr_bytes(e, CT_ORIG_SRC, src, 4);
    if (rc == CT_OK) rc = ct_entry_set_addr_bytes(e, CT_ORIG_DST, dst, 4);
    if (rc == CT_OK) rc = ct_entry_set_port(e, CT_ORIG_SRC, (uint16_t)(1024 + (i & 1023)));
    if (rc == CT_OK) rc = ct_entry_set_port(e, CT_ORIG_DST, 53);
    if (rc == CT_OK) rc = ct_entry_set_zone(e, i % 4);
    return rc;
}

static int count_entry(const ct_entry *e, void *user) {
    char line[512];
    (void)ct_entry_format(e, CT_FORMAT_EXTENDED, line, sizeof line, NULL);
    ++*(unsigned long *)user;
    return 0;
}

static int count_event(uint32_t t, const ct_entry *e, void *user) {
    (void)t;
    (void)e;
    ++*(unsigned long *)user;
    return 0;
}

int main(int argc, char **argv) {
    unsigned long ops_wanted = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    ct_handle *h = NULL;
    ct_events *ev = NULL;
    ct_entry *e = NULL, *got = NULL;
    ct_batch *b = NULL;
    ct_filter *f = NULL;
    ct_status rc = ct_open(&h);
    if (rc == CT_OK) rc = ct_events_open(CT_EVENT_ALL, &ev);
    if (rc == CT_OK) rc = ct_entry_new(&e);
    if (rc == CT_OK) rc = ct_batch_new(&b);
    if (rc == CT_OK) rc = ct_filter_new(&f);
    if (rc == CT_OK) rc = ct_entry_set_proto(e, CT_PROTO_UDP);
    if (rc == CT_OK) rc = ct_entry_set_timeout(e, 600);
    if (rc != CT_OK) return die("setup", rc);
    unsigned long ops = 0, events = 0, dumped = 0, overruns = 0;
    long rss_early = -1;
    /* Resident memory after each tenth of the run, to show where it levels off. */
    long rss_tenth[10];
    unsigned tenths = 0;
    for (unsigned round = 0; ops < ops_wanted; round++) {
        /* 2,000 creates and 2,000 deletes in batches. */
        for (int del = 0; del < 2; del++) {
            for (unsigned i = 0; i < 2000 && rc == CT_OK; i++) {
                rc = fill(e, round * 2000 + i);
                if (rc == CT_OK) rc = del ? ct_batch_add_delete(b, e) : ct_batch_add_create(b, e);
            }
            size_t failed = 0;
            if (rc == CT_OK) rc = ct_batch_send(h, b, &failed);
            if (rc == CT_OK && failed) rc = CT_ERR_KERNEL;
            if (rc == CT_OK) rc = ct_batch_clear(b);
            ops += 2000;
            if (!del) {
                /* Single requests on the live entries: get, update, then a dump, a list, a count. */
                for (unsigned i = 0; i < 100 && rc == CT_OK; i++) {
                    rc = fill(e, round * 2000 + i);
                    if (rc == CT_OK) rc = ct_get(h, e, &got);
                    ct_entry_free(got);
                    got = NULL;
                    if (rc == CT_OK) rc = ct_entry_set_mark(e, i);
                    if (rc == CT_OK) rc = ct_update(h, e);
                    if (rc == CT_OK) rc = ct_entry_unset(e, CT_FIELD_MARK);
                    ops += 2;
                }
                if (rc == CT_OK) rc = ct_filter_set_zone(f, round % 4);
                if (rc == CT_OK) rc = ct_dump(h, f, count_entry, &dumped);
                ct_entry_list *l = NULL;
                if (rc == CT_OK) rc = ct_list(h, NULL, &l);
                ct_entry_list_free(l);
                uint32_t n = 0;
                if (rc == CT_OK) rc = ct_count(h, &n, NULL);
                ops += 3;
            }
            /* Drain the events those made. */
            for (;;) {
                size_t got_ev = 0;
                ct_status er = ct_events_receive(ev, 0, count_event, &events, &got_ev);
                if (er == CT_ERR_OVERRUN) {
                    overruns++;
                    continue;
                }
                if (er != CT_OK) {
                    rc = er;
                    break;
                }
                if (got_ev == 0) break;
            }
        }
        if (rc != CT_OK) return die("operations", rc);
        while (tenths < 10 && ops >= ops_wanted / 10 * (tenths + 1)) rss_tenth[tenths++] = rss_kib();
        if (rss_early < 0 && tenths > 0) rss_early = rss_tenth[0];
    }
    long rss_end = rss_kib();
    printf("op=soak ops=%lu events=%lu overruns=%lu dumped=%lu rss_kib_at_10pct=%ld rss_kib_end=%ld\n", ops, events,
           overruns, dumped, rss_early, rss_end);
    printf("rss_kib_after_each_tenth=");
    for (unsigned i = 0; i < tenths; i++) printf("%s%ld", i ? "," : "", rss_tenth[i]);
    printf("\n");
    ct_filter_free(f);
    ct_batch_free(b);
    ct_entry_free(e);
    ct_events_close(ev);
    ct_close(h);
    /* Flat: at most 2 MiB of growth (allocator noise) from a tenth of the run to its end. */
    bool check_rss = !(argc > 2 && strcmp(argv[2], "--no-rss-check") == 0);
    if (check_rss && rss_end - rss_early > 2048) {
        fprintf(stderr, "soak: resident memory grew from %ld KiB to %ld KiB\n", rss_early, rss_end);
        return 1;
    }
    return 0;
}
