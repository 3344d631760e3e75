/* Shared helpers of the C tests: a private network namespace per test, running the
 * `conntrack` tool (the independent oracle) inside it, and check macros. */
#ifndef CT_TEST_COMMON_H
#define CT_TEST_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conntrack.h"

static int check_failures;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "    %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            fprintf(stderr, "    last error: %s\n", ct_last_error_message());         \
            check_failures++;                                                         \
            return false;                                                             \
        }                                                                             \
    } while (0)

#define CHECK_RC(expr, want)                                                          \
    do {                                                                              \
        ct_status rc_ = (expr);                                                       \
        if (rc_ != (want)) {                                                          \
            fprintf(stderr, "    %s:%d: %s returned %d (%s), wanted %d (%s)\n", __FILE__, \
                    __LINE__, #expr, (int)rc_, ct_strerror(rc_), (int)(want),         \
                    ct_strerror(want));                                               \
            fprintf(stderr, "    last error: %s\n", ct_last_error_message());         \
            check_failures++;                                                         \
            return false;                                                             \
        }                                                                             \
    } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, CT_OK)

/* A network namespace made for one test and removed after it. */
struct netns {
    char name[64];
};

static inline bool netns_make(struct netns *ns) {
    static int counter;
    char cmd[512];
    snprintf(ns->name, sizeof ns->name, "ctt-%d-%d", (int)getpid(), counter++);
    snprintf(cmd, sizeof cmd, "ip netns add %s", ns->name);
    if (system(cmd) != 0) {
        fprintf(stderr, "    cannot make network namespace %s\n", ns->name);
        return false;
    }
    /* Counters and timestamps on, events on even where a new namespace starts with 2. */
    snprintf(cmd, sizeof cmd,
             "ip netns exec %s sysctl -qw net.netfilter.nf_conntrack_acct=1 "
             "net.netfilter.nf_conntrack_timestamp=1 >/dev/null 2>&1",
             ns->name);
    if (system(cmd) != 0) {
        /* The sysctls exist only once conntrack is loaded; the first conntrack call loads it. */
        char load[512];
        snprintf(load, sizeof load, "ip netns exec %s conntrack -L >/dev/null 2>&1", ns->name);
        if (system(load) != 0 || system(cmd) != 0) {
            /* the tests that need the sysctls check what they need */
        }
    }
    return true;
}

static inline void netns_remove(struct netns *ns) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ip netns del %s", ns->name);
    if (system(cmd) != 0) fprintf(stderr, "    cannot remove network namespace %s\n", ns->name);
}

/* Runs a shell command inside the namespace; returns its exit status. */
static inline int ns_sh(const struct netns *ns, const char *fmt, ...) {
    char inner[1024], cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(inner, sizeof inner, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "ip netns exec %s sh -c '%s' >/dev/null 2>&1", ns->name, inner);
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Runs a shell command inside the namespace and returns its stdout (caller frees). */
static inline char *ns_capture(const struct netns *ns, const char *fmt, ...) {
    char inner[1024], cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(inner, sizeof inner, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "ip netns exec %s sh -c '%s' 2>/dev/null", ns->name, inner);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    size_t n;
    while (out && (n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = realloc(out, cap * 2);
            if (!bigger) { free(out); out = NULL; break; }
            out = bigger;
            cap *= 2;
        }
    }
    pclose(p);
    if (out) out[len] = 0;
    return out;
}

/* Number of lines of `text` containing `needle` (every line when needle is ""). */
static inline int count_lines(const char *text, const char *needle) {
    int n = 0;
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[2048];
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, line, len);
        buf[len] = 0;
        if (len > 0 && strstr(buf, needle)) n++;
        line = end ? end + 1 : NULL;
    }
    return n;
}

struct test {
    const char *name;
    bool (*fn)(void);
};

/* Runs the table; prints one line per test and the closing "N passed, N failed" line. */
static inline int run_tests(const char *suite, const struct test *tests, size_t n, int argc, char **argv) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0) continue;
        bool ok = tests[i].fn();
        printf("%s %s/%s\n", ok ? "ok  " : "FAIL", suite, tests[i].name);
        fflush(stdout);
        if (ok) passed++; else failed++;
    }
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed ? 1 : 0;
}

#endif
