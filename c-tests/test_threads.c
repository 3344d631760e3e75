/* Threads: separate handles used from several threads at once work; one handle used by two
 * threads at the same moment answers CT_ERR_BUSY to the second, without corrupting it. */
#include "common.h"

#include <pthread.h>
#include <semaphore.h>

struct worker {
    const char *netns;
    int index;
    bool ok;
};

static void *work(void *arg) {
    struct worker *w = arg;
    ct_handle *h = NULL;
    ct_entry *e = NULL;
    ct_entry_list *l = NULL;
    char src[32];
    snprintf(src, sizeof src, "10.%d.0.1", w->index);
    w->ok = ct_open_netns(w->netns, &h) == CT_OK && ct_entry_new(&e) == CT_OK &&
            ct_entry_set_proto(e, CT_PROTO_UDP) == CT_OK && ct_entry_set_addr(e, CT_ORIG_SRC, src) == CT_OK &&
            ct_entry_set_addr(e, CT_ORIG_DST, "10.200.0.1") == CT_OK && ct_entry_set_port(e, CT_ORIG_DST, 53) == CT_OK &&
            ct_entry_set_timeout(e, 600) == CT_OK;
    for (int i = 0; w->ok && i < 200; i++)
        w->ok = ct_entry_set_port(e, CT_ORIG_SRC, (uint16_t)(1000 + i)) == CT_OK && ct_create(h, e) == CT_OK;
    w->ok = w->ok && ct_list(h, NULL, &l) == CT_OK && ct_entry_list_len(l) == 200 && ct_flush(h) == CT_OK;
    ct_entry_list_free(l);
    ct_entry_free(e);
    ct_close(h);
    return NULL;
}

static bool test_separate_handles_in_parallel(void) {
    struct netns ns[4];
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        if (!netns_make(&ns[i])) return false;
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){ns[i].name, i, false};
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    bool ok = true;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok = ok && w[i].ok;
        netns_remove(&ns[i]);
    }
    CHECK(ok);
    return true;
}

/* Thread A holds the handle inside a dump callback while thread B calls on it. */
struct shared {
    ct_handle *h;
    sem_t a_inside, b_done;
    ct_status b_status;
    char b_message[256];
};

static void *other_thread(void *arg) {
    struct shared *s = arg;
    sem_wait(&s->a_inside);
    uint32_t n = 0;
    s->b_status = ct_count(s->h, &n, NULL);
    snprintf(s->b_message, sizeof s->b_message, "%s", ct_last_error_message());
    sem_post(&s->b_done);
    return NULL;
}

static int hold(const ct_entry *e, void *user) {
    struct shared *s = user;
    (void)e;
    sem_post(&s->a_inside);
    sem_wait(&s->b_done);
    return 1; /* stop after the first entry */
}

static bool test_shared_handle_is_busy_not_corrupted(void) {
    struct netns ns;
    if (!netns_make(&ns)) return false;
    struct shared s = {0};
    pthread_t b;
    bool ok = ns_sh(&ns, "conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -t 600") == 0 &&
              ct_open_netns(ns.name, &s.h) == CT_OK && sem_init(&s.a_inside, 0, 0) == 0 &&
              sem_init(&s.b_done, 0, 0) == 0 && pthread_create(&b, NULL, other_thread, &s) == 0;
    if (ok) {
        ok = ct_dump(s.h, NULL, hold, &s) == CT_OK;
        pthread_join(b, NULL);
        uint32_t n = 0;
        ok = ok && s.b_status == CT_ERR_BUSY && strstr(s.b_message, "in use") != NULL &&
             strstr(ct_handle_last_error(s.h), "in use") != NULL &&
             /* The handle is whole afterwards. */
             ct_count(s.h, &n, NULL) == CT_OK && n == 1;
        if (!ok) fprintf(stderr, "    other thread got %d: %s\n", (int)s.b_status, s.b_message);
    }
    sem_destroy(&s.a_inside);
    sem_destroy(&s.b_done);
    ct_close(s.h);
    netns_remove(&ns);
    return ok;
}

int main(int argc, char **argv) {
    static const struct test tests[] = {
        {"separate_handles_in_parallel", test_separate_handles_in_parallel},
        {"shared_handle_is_busy_not_corrupted", test_shared_handle_is_busy_not_corrupted},
    };
    return run_tests("threads", tests, sizeof tests / sizeof tests[0], argc, argv);
}
