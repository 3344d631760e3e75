/* ctrack: what the parser (parse.c) and the commands (ctrack.c) share. */
#ifndef CTRACK_H
#define CTRACK_H

#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "conntrack.h"

/* Exit statuses of conntrack. */
#define EXIT_OTHER 1
#define EXIT_PARAMETER 2

/* Commands, in conntrack's order (its option table is indexed by these bits). */
enum {
    CMD_LIST_BIT, CMD_CREATE_BIT, CMD_UPDATE_BIT, CMD_DELETE_BIT, CMD_GET_BIT, CMD_FLUSH_BIT,
    CMD_EVENT_BIT, CMD_VERSION_BIT, CMD_HELP_BIT, EXP_LIST_BIT, EXP_CREATE_BIT, EXP_DELETE_BIT,
    EXP_GET_BIT, EXP_FLUSH_BIT, EXP_EVENT_BIT, CMD_COUNT_BIT, EXP_COUNT_BIT, CMD_STATS_BIT,
    EXP_STATS_BIT, CMD_ADD_BIT, NUM_CMDS
};
#define CMD_LIST (1u << CMD_LIST_BIT)
#define CMD_CREATE (1u << CMD_CREATE_BIT)
#define CMD_UPDATE (1u << CMD_UPDATE_BIT)
#define CMD_DELETE (1u << CMD_DELETE_BIT)
#define CMD_GET (1u << CMD_GET_BIT)
#define CMD_FLUSH (1u << CMD_FLUSH_BIT)
#define CMD_EVENT (1u << CMD_EVENT_BIT)
#define CMD_VERSION (1u << CMD_VERSION_BIT)
#define CMD_HELP (1u << CMD_HELP_BIT)
#define CMD_COUNT (1u << CMD_COUNT_BIT)
#define CMD_STATS (1u << CMD_STATS_BIT)
#define CMD_ADD (1u << CMD_ADD_BIT)
#define CMD_EXPECT_ANY ((1u << EXP_LIST_BIT) | (1u << EXP_CREATE_BIT) | (1u << EXP_DELETE_BIT) | \
                        (1u << EXP_GET_BIT) | (1u << EXP_FLUSH_BIT) | (1u << EXP_EVENT_BIT) | \
                        (1u << EXP_COUNT_BIT) | (1u << EXP_STATS_BIT))

/* Options, in conntrack's order (the order its messages name them in). */
enum {
    OPT_ORIG_SRC_BIT, OPT_ORIG_DST_BIT, OPT_REPL_SRC_BIT, OPT_REPL_DST_BIT, OPT_PROTO_BIT,
    OPT_TIMEOUT_BIT, OPT_STATUS_BIT, OPT_ZERO_BIT, OPT_EVENT_MASK_BIT, OPT_EXP_SRC_BIT,
    OPT_EXP_DST_BIT, OPT_MASK_SRC_BIT, OPT_MASK_DST_BIT, OPT_NATRANGE_BIT, OPT_MARK_BIT,
    OPT_ID_BIT, OPT_FAMILY_BIT, OPT_SRC_NAT_BIT, OPT_DST_NAT_BIT, OPT_OUTPUT_BIT,
    OPT_SECMARK_BIT, OPT_BUFFERSIZE_BIT, OPT_ANY_NAT_BIT, OPT_ZONE_BIT, OPT_LABEL_BIT,
    OPT_ADD_LABEL_BIT, OPT_DEL_LABEL_BIT, OPT_ORIG_ZONE_BIT, OPT_REPL_ZONE_BIT, NUM_OPTS
};
#define OPT(x) (1u << OPT_##x##_BIT)
#define OPT_ORIG_SRC OPT(ORIG_SRC)
#define OPT_ORIG_DST OPT(ORIG_DST)
#define OPT_REPL_SRC OPT(REPL_SRC)
#define OPT_REPL_DST OPT(REPL_DST)
#define OPT_ORIG (OPT_ORIG_SRC | OPT_ORIG_DST)
#define OPT_REPL (OPT_REPL_SRC | OPT_REPL_DST)
#define OPT_PROTO OPT(PROTO)
#define OPT_TUPLE_ORIG (OPT_ORIG | OPT_PROTO)
#define OPT_TUPLE_REPL (OPT_REPL | OPT_PROTO)
#define OPT_TIMEOUT OPT(TIMEOUT)
#define OPT_STATUS OPT(STATUS)
#define OPT_ZERO OPT(ZERO)
#define OPT_EVENT_MASK OPT(EVENT_MASK)
#define OPT_MASK_SRC OPT(MASK_SRC)
#define OPT_MASK_DST OPT(MASK_DST)
#define OPT_MARK OPT(MARK)
#define OPT_ID OPT(ID)
#define OPT_FAMILY OPT(FAMILY)
#define OPT_SRC_NAT OPT(SRC_NAT)
#define OPT_DST_NAT OPT(DST_NAT)
#define OPT_OUTPUT OPT(OUTPUT)
#define OPT_SECMARK OPT(SECMARK)
#define OPT_BUFFERSIZE OPT(BUFFERSIZE)
#define OPT_ANY_NAT OPT(ANY_NAT)
#define OPT_ZONE OPT(ZONE)
#define OPT_LABEL OPT(LABEL)
#define OPT_ADD_LABEL OPT(ADD_LABEL)
#define OPT_DEL_LABEL OPT(DEL_LABEL)
#define OPT_ORIG_ZONE OPT(ORIG_ZONE)
#define OPT_REPL_ZONE OPT(REPL_ZONE)
/* The options conntrack compares entries against. */
#define OPT_COMPARISON (OPT_PROTO | OPT_ORIG | OPT_REPL | OPT_MARK | OPT_SECMARK | OPT_STATUS | \
                        OPT_ID | OPT_ZONE | OPT_LABEL | OPT_ORIG_ZONE | OPT_REPL_ZONE)

/* -o words. */
enum { OUT_XML = 1, OUT_EXT = 2, OUT_TMS = 4, OUT_ID = 8, OUT_KTMS = 16, OUT_LABELS = 32, OUT_SAVE = 64 };

/* Status bits (the kernel's IPS_*). */
#define IPS_EXPECTED 1u
#define IPS_SEEN_REPLY 2u
#define IPS_ASSURED 4u
#define IPS_SRC_NAT_DONE (1u << 7)
#define IPS_DST_NAT_DONE (1u << 8)
#define IPS_FIXED_TIMEOUT (1u << 10)
#define IPS_OFFLOAD (1u << 14)
#define IPS_HW_OFFLOAD (1u << 15)

/* One address of the command line; `mask` selects the bits compared (all, or a prefix or
 * the --mask-src/--mask-dst mask). */
struct addr {
    bool set, masked;
    int family;
    size_t len;
    int prefix; /* a contiguous mask's length, or -1 */
    uint8_t bytes[16], mask[16];
};

struct natspec {
    bool addr_set, port_set;
    struct addr addr;
    uint16_t port;
};

struct cmdline {
    unsigned command;
    unsigned options;
    unsigned l4flags;
    int table; /* 0 conntrack, 1 expect, 2 dying, 3 unconfirmed */
    int family; /* 0, AF_INET or AF_INET6 */
    uint8_t proto;
    const char *proto_name;
    struct addr addr[4]; /* CT_ORIG_SRC .. CT_REPLY_DST */
    uint16_t port[4];
    bool port_set[4];
    int icmp_set; /* bits: 1 type, 2 code, 4 id */
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_id;
    int state; /* -1 when not given */
    int vtag_set; /* bits: 1 --orig-vtag, 2 --reply-vtag */
    uint32_t vtag[2];
    uint32_t timeout, status, status_kmask, mark, kmark, mark_mask, secmark, id;
    uint16_t zone, orig_zone, reply_zone;
    struct natspec snat, dnat;
    uint32_t event_mask;
    unsigned output;
    bool label_filter_set, label_del_all;
    uint8_t label_filter[16], label_modify[16];
    ct_labelmap *labelmap;
    size_t bufsize;
    const char *netns;
    /* The expectation table: the expected tuple (--tuple-src/--tuple-dst, --tuple-port-*)
     * and its mask (--mask-src/--mask-dst, --mask-port-*); the master is -s -d -p --sport
     * --dport. */
    struct addr exp_addr[2], exp_mask[2];
    uint16_t exp_port[2], exp_mask_port[2];
};

/* A growing string (xml.c). */
struct text {
    char *buf;
    size_t len, cap;
};

extern const char *progname;
void banner(FILE *out);
__attribute__((noreturn, format(printf, 2, 3))) void die(int status, const char *fmt, ...);
__attribute__((noreturn)) void unsupported(const char *what);
void parse_cmdline(struct cmdline *c, int argc, char **argv);
void usage(const struct cmdline *c);
void check_masks(const struct cmdline *c);
bool proto_has_ports(uint8_t proto);
void addr_text(const struct addr *a, char *buf, size_t len);
void addr_network_text(const struct addr *a, char *buf, size_t len);
unsigned long run_command(struct cmdline *c);
void run_creates(const struct cmdline *cmds, size_t n);
int load_file(const char *argv0, const char *path, const char *netns);
bool delete_exact(const struct cmdline *c);
unsigned long run_deletes(const struct cmdline *cmds, size_t n);
bool quick_parse(struct cmdline *c, int argc, char **argv);
void run_lines(struct cmdline *cmds, size_t n);
bool add_create(ct_batch *b, const struct cmdline *c);

/* xml.c: -o xml, and the expectation table's text. */
extern const char xml_header_conntrack[], xml_header_expect[];
__attribute__((format(printf, 2, 3))) void text_add(struct text *t, const char *fmt, ...);
void text_reset(struct text *t);
const char *l3_name(uint8_t family);
const char *l4_name(uint8_t proto);
const char *format_xml(const ct_entry *e, uint32_t event, unsigned output, struct text *t);
const char *format_expect(const ct_expect *x, uint32_t event, struct text *t);
const char *format_expect_xml(const ct_expect *x, uint32_t event, unsigned output, struct text *t);

/* userspace.c: the name of the process owning netlink port `portid` of the events'
 * namespace (`netns`, NULL: ours), or NULL. */
const char *sender_name(uint32_t portid, const char *netns);

/* expect.c: the expectation table's commands; returns the exit status. */
int run_expect(const struct cmdline *c);

/* Set once SIGINT or SIGTERM arrives after stop_on_signals(): the -E loops end on it. The
 * handlers leave out SA_RESTART, so a wait for events returns when one arrives. */
extern volatile sig_atomic_t stop_events;
void stop_on_signals(void);
ct_handle *open_handle(const struct cmdline *c);
const char *err_text(int err, unsigned cmd);

#endif
