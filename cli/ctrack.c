/*
 * ctrack: the conntrack(8) command of conntrack-tools, on libconntrack.
 *
 * Same command line, output, summary lines and exit statuses as conntrack 1.4.7, so scripts
 * and agents that run `conntrack` can run this instead. Every kernel operation goes through
 * the library: dumps filtered in the kernel where it can, deletes and updates in batches.
 * The command line is read by parse.c; this file runs the commands.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "ctrack.h"

/* Requests per batch: large enough to amortise system calls, small enough that the lines
 * waiting for their outcome stay a few hundred KiB. */
#define CHUNK 4096

const char *progname = "ctrack";

void banner(FILE *out) {
    fprintf(out, "%s v%s (conntrack-tools compatible): ", progname, ct_version());
}

void die(int status, const char *fmt, ...) {
    va_list ap;
    banner(stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (status == EXIT_PARAMETER)
        fprintf(stderr, "Try `%s -h' or '%s --help' for more information.\n", progname, progname);
    exit(status);
}

/* conntrack's wording for the errno of a failed operation, else the system's. */
const char *err_text(int err, unsigned cmd) {
    if (err == EINVAL) return "invalid parameters";
    if (err == EEXIST && (cmd & CMD_CREATE)) return "Such conntrack exists, try -U to update";
    if (err == ENOENT && (cmd & (CMD_CREATE | CMD_GET | CMD_DELETE | CMD_ADD)))
        return "such conntrack doesn't exist";
    if (err == ENOMEM && (cmd & (CMD_CREATE | CMD_GET | CMD_ADD))) return "not enough memory";
    if (err == EAFNOSUPPORT && (cmd & CMD_GET)) return "protocol not supported";
    if (err == ETIME && (cmd & (CMD_CREATE | CMD_ADD))) return "conntrack has expired";
    if (err == EPERM) return "sorry, you must be root or get CAP_NET_ADMIN capability to do this";
    if (err == 524) return "function not implemented"; /* the kernel's ENOTSUPP */
    return strerror(err);
}

/* The errno a library status stands for, when the library did not keep one. */
static int status_errno(ct_status rc) {
    int e = ct_last_errno();
    if (e) return e;
    switch (rc) {
    case CT_ERR_NOT_FOUND: return ENOENT;
    case CT_ERR_EXISTS: return EEXIST;
    case CT_ERR_PERMISSION: return EPERM;
    case CT_ERR_TABLE_FULL: return ENOMEM;
    case CT_ERR_UNSUPPORTED: return EOPNOTSUPP;
    default: return EINVAL;
    }
}

__attribute__((noreturn)) static void op_failed(ct_status rc, unsigned cmd) {
    if (rc == CT_ERR_NETNS) die(EXIT_OTHER, "Can't open handler: %s", ct_last_error_message());
    die(EXIT_OTHER, "Operation failed: %s", err_text(status_errno(rc), cmd));
}

ct_handle *open_handle(const struct cmdline *c) {
    ct_handle *h = NULL;
    ct_status rc = c->netns ? ct_open_netns(c->netns, &h) : ct_open(&h);
    if (rc != CT_OK) {
        if (rc == CT_ERR_NETNS || rc == CT_ERR_PERMISSION)
            die(EXIT_OTHER, "Can't open handler: %s", ct_last_error_message());
        die(EXIT_OTHER, "Can't open handler");
    }
    if (c->options & OPT_BUFFERSIZE) ct_handle_set_receive_buffer(h, c->bufsize);
    return h;
}

/* --- Formatting ------------------------------------------------------------------------- */

static ct_labelmap *labelmap;

/* -o xml: the output words, the event type of the flow being printed (0 outside -E), and
 * whether the header line is still to come (-L, -G and -E print it before their first
 * flow; -D and -U print none). */
static unsigned xml_output;
static uint32_t xml_event;
static bool xml_header_pending, xml_header_printed;
static struct text xml_text;

/* One entry as conntrack prints it, into `buf` (grown when needed); returns the text. */
static const char *format_entry(const ct_entry *e, uint32_t flags, bool labels, char **buf,
                                size_t *cap) {
    if (xml_output) {
        /* Every caller prints the text at once, so the header goes out just before it. */
        if (xml_header_pending) {
            fputs(xml_header_conntrack, stdout);
            xml_header_pending = false;
            xml_header_printed = true;
        }
        return format_xml(e, xml_event, xml_output, &xml_text);
    }
    size_t need = 0;
    for (int pass = 0; pass < 2; pass++) {
        ct_status rc = labels && labelmap
                           ? ct_entry_format_labels(e, labelmap, flags, *buf, *cap, &need)
                           : ct_entry_format(e, flags, *buf, *cap, &need);
        if (rc == CT_OK) return *buf;
        if (rc != CT_ERR_BUFFER_TOO_SMALL) break;
        char *bigger = realloc(*buf, need + 1);
        if (!bigger) die(EXIT_OTHER, "out of memory");
        *buf = bigger;
        *cap = need + 1;
    }
    return "";
}

/* The `-o save` form: the command line (-A, -U or -D) that makes the entry again. */
static void save_add(char **buf, size_t *cap, size_t *len, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (*buf && *len + (size_t)n < *cap) {
            *len += (size_t)n;
            return;
        }
        size_t want = (*len + (size_t)n + 1) * 2;
        char *more = realloc(*buf, want);
        if (!more) die(EXIT_OTHER, "out of memory");
        *buf = more;
        *cap = want;
    }
}

static bool nat_done(const ct_entry *e, bool src);
static bool entry_addr(const ct_entry *e, int which, uint8_t out[16], size_t *len);

static const char *format_save(const ct_entry *e, const char *verb, char **buf, size_t *cap) {
    static const char *const tcp_states[] = {"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
                                             "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"};
    static const char *const sctp_states[] = {"NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED",
                                              "ESTABLISHED", "SHUTDOWN_SENT", "SHUTDOWN_RECD",
                                              "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED"};
    static const char *const dccp_states[] = {"NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN",
                                              "CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE", "INVALID"};
    size_t len = 0;
    uint32_t v;
    uint16_t z;
    uint8_t p = 0, fam = 0, st;
    if (*buf) **buf = '\0';
    save_add(buf, cap, &len, "%s ", verb);
    if (ct_entry_get_timeout(e, &v) == CT_OK) save_add(buf, cap, &len, "-t %u ", v);
    if (ct_entry_get_status(e, &v) == CT_OK) {
        static const struct { uint32_t bit; const char *name; } bits[] = {
            {IPS_EXPECTED, "EXPECTED"}, {IPS_SEEN_REPLY, "SEEN_REPLY"}, {IPS_ASSURED, "ASSURED"},
            {IPS_FIXED_TIMEOUT, "FIXED_TIMEOUT"}};
        const char *sep = "-u ";
        for (size_t i = 0; i < 4; i++)
            if (v & bits[i].bit) {
                save_add(buf, cap, &len, "%s%s", sep, bits[i].name);
                sep = ",";
            }
        save_add(buf, cap, &len, *sep == ',' ? " " : "-u UNSET ");
    }
    if (ct_entry_get_secmark(e, &v) == CT_OK) save_add(buf, cap, &len, "-c %u ", v);
    if (ct_entry_get_zone(e, &z) == CT_OK) save_add(buf, cap, &len, "-w %u ", z);
    if (ct_entry_get_dir_zone(e, CT_DIR_ORIG, &z) == CT_OK) save_add(buf, cap, &len, "--orig-zone %u ", z);
    if (ct_entry_get_dir_zone(e, CT_DIR_REPLY, &z) == CT_OK) save_add(buf, cap, &len, "--reply-zone %u ", z);
    ct_entry_get_family(e, &fam);
    if (fam != CT_FAMILY_IPV4 && fam != CT_FAMILY_IPV6) {
        fprintf(stderr, "WARNING: unsupported l3proto %d, skipping.\n", fam);
        return "";
    }
    const char *names[4] = {"-s", "-d", nat_done(e, false) ? "-g" : "-r", nat_done(e, true) ? "-n" : "-q"};
    for (int i = 0; i < 4; i++) {
        char text[CT_ADDR_TEXT_MAX];
        if (ct_entry_get_addr(e, (uint32_t)i, text, sizeof text) == CT_OK)
            save_add(buf, cap, &len, "%s %s ", names[i], text);
    }
    ct_entry_get_proto(e, &p);
    const char *pname = p == CT_PROTO_TCP ? "tcp" : p == CT_PROTO_UDP ? "udp" : p == CT_PROTO_UDPLITE ? "udplite"
                        : p == CT_PROTO_SCTP ? "sctp" : p == CT_PROTO_DCCP ? "dccp" : p == CT_PROTO_GRE ? "gre"
                        : p == CT_PROTO_ICMP ? "icmp" : p == CT_PROTO_ICMPV6 ? "icmpv6" : NULL;
    if (!pname) {
        save_add(buf, cap, &len, "-p %d ", p);
    } else {
        save_add(buf, cap, &len, "-p %s ", pname);
        if (p == CT_PROTO_ICMP || p == CT_PROTO_ICMPV6) {
            uint8_t t, code;
            uint16_t id;
            const char *six = p == CT_PROTO_ICMPV6 ? "v6" : "";
            if (ct_entry_get_icmp(e, CT_DIR_ORIG, &t, &code, &id) == CT_OK)
                save_add(buf, cap, &len, "--icmp%s-type %u --icmp%s-code %u --icmp%s-id %u ", six, t, six, code, six, id);
        } else {
            static const char *const port_names[4] = {"--sport", "--dport", "--reply-port-src", "--reply-port-dst"};
            static const char *const key_names[4] = {"--srckey", "--dstkey", "--reply-key-src", "--reply-key-dst"};
            for (int i = 0; i < 4; i++) {
                uint16_t port;
                if (ct_entry_get_port(e, (uint32_t)i, &port) == CT_OK)
                    save_add(buf, cap, &len, "%s %u ", (p == CT_PROTO_GRE ? key_names : port_names)[i], port);
            }
            if (p == CT_PROTO_TCP && ct_entry_get_tcp_state(e, &st) == CT_OK && st < 10)
                save_add(buf, cap, &len, "--state %s ", tcp_states[st]);
            if (p == CT_PROTO_SCTP && ct_entry_get_sctp_state(e, &st) == CT_OK && st < 10)
                save_add(buf, cap, &len, "--state %s ", sctp_states[st]);
            uint32_t tag;
            /* conntrack 1.4.7 swaps the tag's bytes once more than the kernel does, both
             * ways: its numbers are the kernel's byte-swapped, and so are ctrack's. */
            if (p == CT_PROTO_SCTP && ct_entry_get_sctp_vtag(e, CT_DIR_ORIG, &tag) == CT_OK)
                save_add(buf, cap, &len, "--orig-vtag %u ", __builtin_bswap32(tag));
            if (p == CT_PROTO_SCTP && ct_entry_get_sctp_vtag(e, CT_DIR_REPLY, &tag) == CT_OK)
                save_add(buf, cap, &len, "--reply-vtag %u ", __builtin_bswap32(tag));
            if (p == CT_PROTO_DCCP && ct_entry_get_dccp_state(e, &st) == CT_OK && st < 10)
                save_add(buf, cap, &len, "--state %s ", dccp_states[st]);
        }
    }
    while (len && (*buf)[len - 1] == ' ') (*buf)[--len] = '\0';
    return *buf;
}

static uint32_t list_flags(const struct cmdline *c, bool ktimestamp) {
    uint32_t f = 0;
    if (c->output & OUT_EXT) f |= CT_FORMAT_EXTENDED;
    if (c->output & OUT_ID) f |= CT_FORMAT_ID;
    if (ktimestamp && (c->output & OUT_KTMS)) f |= CT_FORMAT_TIMESTAMP;
    return f;
}

/* --- Filters ---------------------------------------------------------------------------- */

/* The library filter: the part of the command line the kernel (or the library) can apply.
 * It never matches less than match_entry does; match_entry decides. */
static ct_filter *library_filter(const struct cmdline *c, bool comparison_filters) {
    ct_filter *f = NULL;
    if (ct_filter_new(&f) != CT_OK) die(EXIT_OTHER, "OOM");
    if (c->family) ct_filter_set_family(f, c->family == AF_INET6 ? CT_FAMILY_IPV6 : CT_FAMILY_IPV4);
    if ((c->options & OPT_MARK) && (c->kmark & ~c->mark_mask) == 0)
        ct_filter_set_mark(f, c->kmark, c->mark_mask);
    if (!comparison_filters || !(c->options & OPT_COMPARISON)) return f;
    if (c->options & OPT_PROTO) ct_filter_set_proto(f, c->proto);
    /* The kernel's zone filter takes an entry whose zone covers one direction only as in
     * that zone; conntrack's -w compares the zone of both directions (0 when there is none).
     * Zone Z > 0 still selects a superset; zone 0 would drop such entries, so it is left to
     * match_entry. */
    if ((c->options & OPT_ZONE) && c->zone != 0) ct_filter_set_zone(f, c->zone);
    for (int i = 0; i < 4; i++) {
        const struct addr *a = &c->addr[i];
        if (!a->set) continue;
        if (a->prefix >= 0) {
            char text[CT_ADDR_TEXT_MAX + 8], net[CT_ADDR_TEXT_MAX];
            addr_network_text(a, net, sizeof net);
            snprintf(text, sizeof text, "%s/%d", net, a->prefix);
            ct_filter_set_addr(f, (uint32_t)i, text);
        } else if (!a->masked) {
            char text[CT_ADDR_TEXT_MAX];
            addr_text(a, text, sizeof text);
            ct_filter_set_addr(f, (uint32_t)i, text);
        }
    }
    if ((c->options & OPT_PROTO) && proto_has_ports(c->proto))
        for (int i = 0; i < 4; i++)
            if (c->port_set[i]) ct_filter_set_port(f, (uint32_t)i, c->port[i]);
    return f;
}

static bool entry_addr(const ct_entry *e, int which, uint8_t out[16], size_t *len) {
    return ct_entry_get_addr_bytes(e, (uint32_t)which, out, 16, len) == CT_OK;
}

static bool addr_equal(const ct_entry *e, int which, const struct addr *a) {
    uint8_t b[16];
    size_t len;
    return entry_addr(e, which, b, &len) && len == a->len && memcmp(b, a->bytes, len) == 0;
}

static bool addr_in(const ct_entry *e, int which, const struct addr *a) {
    uint8_t b[16];
    size_t len;
    if (!entry_addr(e, which, b, &len) || len != a->len) return false;
    for (size_t i = 0; i < len; i++)
        if ((b[i] & a->mask[i]) != (a->bytes[i] & a->mask[i])) return false;
    return true;
}

static uint32_t entry_u32(ct_status (*get)(const ct_entry *, uint32_t *), const ct_entry *e,
                          bool *set) {
    uint32_t v = 0;
    *set = get(e, &v) == CT_OK;
    return v;
}

static uint16_t entry_zone(const ct_entry *e) {
    uint16_t z = 0;
    if (ct_entry_get_zone(e, &z) != CT_OK) z = 0; /* the kernel omits zone 0 */
    return z;
}

/* A direction's own zone: --orig-zone/--reply-zone compare it alone (0 when the entry has
 * none, even in a zone of both directions), as conntrack does. */
static uint16_t entry_dir_zone(const ct_entry *e, uint32_t dir) {
    uint16_t z = 0;
    if (ct_entry_get_dir_zone(e, dir, &z) != CT_OK) z = 0;
    return z;
}

/* The NAT filters (--src-nat, --dst-nat, --any-nat): an entry is source-NATed when the
 * kernel did its source NAT and the reply goes back to another address (or port). */
static bool nat_side(const ct_entry *e, bool src, const struct natspec *n) {
    bool set;
    uint32_t st = entry_u32(ct_entry_get_status, e, &set);
    if (!set || !(st & (src ? IPS_SRC_NAT_DONE : IPS_DST_NAT_DONE))) return false;
    int o = src ? CT_ORIG_SRC : CT_ORIG_DST, r = src ? CT_REPLY_DST : CT_REPLY_SRC;
    uint8_t a[16], b[16];
    size_t la = 0, lb = 0;
    bool addr_nat = entry_addr(e, o, a, &la) && entry_addr(e, r, b, &lb) &&
                    (la != lb || memcmp(a, b, la) != 0);
    uint16_t po = 0, pr = 0;
    bool have_ports = ct_entry_get_port(e, (uint32_t)o, &po) == CT_OK &&
                      ct_entry_get_port(e, (uint32_t)r, &pr) == CT_OK;
    bool port_nat = have_ports && po != pr;
    if (!n->addr_set && !n->port_set) return addr_nat || port_nat;
    bool ok = true;
    if (n->addr_set) ok = addr_nat && addr_equal(e, r, &n->addr);
    if (n->port_set) {
        bool pok = port_nat && pr == n->port;
        ok = n->addr_set ? ok && pok : pok;
    }
    return ok;
}

/* libnetfilter_conntrack's "is SNAT/DNAT": NAT done and the address changed. */
static bool nat_done(const ct_entry *e, bool src) {
    uint32_t st = 0;
    if (ct_entry_get_status(e, &st) != CT_OK || !(st & (src ? IPS_SRC_NAT_DONE : IPS_DST_NAT_DONE))) return false;
    uint8_t a[16], b[16];
    size_t la = 0, lb = 0;
    return entry_addr(e, src ? CT_ORIG_SRC : CT_ORIG_DST, a, &la) &&
           entry_addr(e, src ? CT_REPLY_DST : CT_REPLY_SRC, b, &lb) && (la != lb || memcmp(a, b, la) != 0);
}

static bool nat_match(const struct cmdline *c, const ct_entry *e) {
    if (c->options & OPT_ANY_NAT) return nat_side(e, true, &c->snat) || nat_side(e, false, &c->dnat);
    if ((c->options & OPT_SRC_NAT) && !nat_side(e, true, &c->snat)) return false;
    if ((c->options & OPT_DST_NAT) && !nat_side(e, false, &c->dnat)) return false;
    return true;
}

static bool labels_match(const struct cmdline *c, const ct_entry *e) {
    if (!c->label_filter_set) return true;
    uint8_t have[16];
    if (ct_entry_get_labels(e, have, sizeof have) != CT_OK) return false;
    for (int i = 0; i < 16; i++)
        if ((c->label_filter[i] & have[i]) != c->label_filter[i]) return false;
    return true;
}

static bool network_match(const struct cmdline *c, const ct_entry *e) {
    for (int i = CT_ORIG_SRC; i <= CT_ORIG_DST; i++) {
        const struct addr *a = &c->addr[i];
        if (!a->masked) continue;
        uint8_t fam = 0;
        ct_entry_get_family(e, &fam);
        if ((fam == CT_FAMILY_IPV6 ? AF_INET6 : AF_INET) != c->family) return false;
        if (!addr_in(e, i, a)) return false;
    }
    return true;
}

/* The tuple fields of the command line against one tuple side of an entry. */
static bool tuple_match(const struct cmdline *c, const ct_entry *e, bool orig, bool reply) {
    for (int i = 0; i < 4; i++) {
        bool is_orig = i < 2;
        if ((is_orig && !orig) || (!is_orig && !reply)) continue;
        const struct addr *a = &c->addr[i];
        if (a->set && !a->masked && !addr_equal(e, i, a)) return false;
        if (a->set && a->masked) {
            uint8_t fam = 0;
            ct_entry_get_family(e, &fam);
            if ((fam == CT_FAMILY_IPV6 ? 16u : 4u) != a->len) return false;
        }
    }
    if (c->options & OPT_PROTO) {
        uint8_t p = 0;
        if (ct_entry_get_proto(e, &p) != CT_OK || p != c->proto) return false;
    }
    for (int i = 0; i < 4; i++) {
        bool is_orig = i < 2;
        if (!c->port_set[i] || (is_orig && !orig) || (!is_orig && !reply)) continue;
        uint16_t p;
        if (ct_entry_get_port(e, (uint32_t)i, &p) != CT_OK || p != c->port[i]) return false;
    }
    if (orig && (c->icmp_set & 7)) {
        uint8_t t, code;
        uint16_t id;
        if (ct_entry_get_icmp(e, CT_DIR_ORIG, &t, &code, &id) != CT_OK) return false;
        if ((c->icmp_set & 1) && t != c->icmp_type) return false;
        if ((c->icmp_set & 2) && code != c->icmp_code) return false;
        if ((c->icmp_set & 4) && id != c->icmp_id) return false;
    }
    return true;
}

/* Everything else conntrack compares (its CT_COMPARISON options). */
static bool meta_match(const struct cmdline *c, const ct_entry *e) {
    bool set;
    if (c->state >= 0) {
        uint8_t s;
        ct_status rc = c->proto == CT_PROTO_SCTP   ? ct_entry_get_sctp_state(e, &s)
                       : c->proto == CT_PROTO_DCCP ? ct_entry_get_dccp_state(e, &s)
                                                   : ct_entry_get_tcp_state(e, &s);
        if (rc != CT_OK || s != c->state) return false;
    }
    if (c->options & OPT_STATUS) {
        uint32_t st = entry_u32(ct_entry_get_status, e, &set);
        if (!set || (st & c->status) != c->status) return false;
    }
    if (c->options & (OPT_ZONE | OPT_ORIG_ZONE | OPT_REPL_ZONE)) {
        if ((c->options & OPT_ZONE) && entry_zone(e) != c->zone) return false;
        if ((c->options & OPT_ORIG_ZONE) && entry_dir_zone(e, CT_DIR_ORIG) != c->orig_zone) return false;
        if ((c->options & OPT_REPL_ZONE) && entry_dir_zone(e, CT_DIR_REPLY) != c->reply_zone) return false;
    }
    if (c->options & OPT_SECMARK) {
        uint32_t v = entry_u32(ct_entry_get_secmark, e, &set);
        if (!set || v != c->secmark) return false;
    }
    if (c->options & OPT_ID) {
        uint32_t v = entry_u32(ct_entry_get_id, e, &set);
        if (!set || v != c->id) return false;
    }
    if (c->options & OPT_TIMEOUT) {
        uint32_t v = entry_u32(ct_entry_get_timeout, e, &set);
        if (!set || v != c->timeout) return false;
    }
    return true;
}

static bool mark_match(const struct cmdline *c, const ct_entry *e) {
    if (!(c->options & OPT_MARK)) return true;
    bool set;
    uint32_t m = entry_u32(ct_entry_get_mark, e, &set);
    /* The kernel's filter has the -m value, conntrack's own check the value -u left. */
    return set && (m & c->mark_mask) == c->mark && (m & c->mark_mask) == c->kmark;
}

/* conntrack -L also sends the status filter to the kernel: (status & mask) == value, the
 * mask being the negated and UNREPLIED bits when there are any, else the value. */
static bool kernel_status_match(const struct cmdline *c, const ct_entry *e) {
    if (!(c->options & OPT_STATUS)) return true;
    bool set;
    uint32_t st = entry_u32(ct_entry_get_status, e, &set);
    return set && (st & c->status_kmask) == c->status;
}

/* Does `e` pass the filters of -L, -D and -E? */
static bool match_entry(const struct cmdline *c, const ct_entry *e) {
    if (!nat_match(c, e) || !mark_match(c, e) || !labels_match(c, e) || !network_match(c, e))
        return false;
    if (c->options & OPT_COMPARISON)
        if (!tuple_match(c, e, true, true) || !meta_match(c, e)) return false;
    return true;
}

/* --- -L --------------------------------------------------------------------------------- */

struct listing {
    const struct cmdline *c;
    uint32_t flags;
    bool labels;
    char *buf;
    size_t cap;
    unsigned long count;
};

static int32_t list_one(const ct_entry *e, void *user) {
    struct listing *l = user;
    if (!match_entry(l->c, e) || !kernel_status_match(l->c, e)) return 0;
    fputs(l->c->output & OUT_SAVE ? format_save(e, "-A", &l->buf, &l->cap)
                                  : format_entry(e, l->flags, l->labels, &l->buf, &l->cap),
          stdout);
    fputc('\n', stdout);
    l->count++;
    return 0;
}

static unsigned long do_list(const struct cmdline *c) {
    bool lists = c->table == 2 || c->table == 3; /* dying, unconfirmed */
    if (!lists && (c->options & OPT_COMPARISON) && (c->options & OPT_ZERO))
        die(EXIT_PARAMETER, "Can't use -z with filtering parameters");
    if (!lists) check_masks(c);
    ct_handle *h = open_handle(c);
    ct_filter *f = library_filter(c, true);
    if (lists) ct_filter_set_source(f, c->table == 2 ? CT_SOURCE_DYING : CT_SOURCE_UNCONFIRMED);
    else if (c->options & OPT_ZERO) ct_filter_set_source(f, CT_SOURCE_TABLE_ZERO_COUNTERS);
    struct listing l = {c, list_flags(c, true), (c->output & OUT_LABELS) != 0, NULL, 0, 0};
    ct_status rc = ct_dump(h, f, list_one, &l);
    ct_filter_free(f);
    ct_close(h);
    free(l.buf);
    if (rc != CT_OK) op_failed(rc, c->command);
    return l.count;
}

/* --- -D --------------------------------------------------------------------------------- */

/* Entries to delete are queued while the dump runs and sent, CHUNK at a time, on a second
 * handle; each line is printed once its delete succeeded. */
struct deleting {
    const struct cmdline *c;
    ct_handle *mod;
    ct_batch *batch;
    uint32_t flags;
    char *buf;
    size_t cap;
    char *lines; /* the queued entries' lines, NUL-separated */
    size_t used, size;
    size_t n;
    unsigned long count;
    ct_status failure;
    bool exact; /* the library's filters say it all: no match_entry */
    /* With `exact`: the command lines of the filters, for the entries they may not say all
     * about (see delete_one). */
    const struct cmdline *all;
    size_t n_all;
};

/* Whether `e` has a zone of one direction (--orig-zone, --reply-zone). */
static bool has_dir_zone(const ct_entry *e) {
    uint16_t z;
    return ct_entry_get_dir_zone(e, CT_DIR_ORIG, &z) == CT_OK || ct_entry_get_dir_zone(e, CT_DIR_REPLY, &z) == CT_OK;
}

/* Whether `e` is one of the entries the lines of `d` select, as deleting them one by one
 * would. The library's zone filter takes a zone of one direction as that zone, conntrack's
 * -w does not: such entries are checked against every line. */
static bool selected(const struct deleting *d, const ct_entry *e) {
    if (!d->exact) return match_entry(d->c, e);
    if (!has_dir_zone(e)) return true;
    for (size_t i = 0; i < d->n_all; i++)
        if (match_entry(&d->all[i], e)) return true;
    return false;
}

static void flush_deletes(struct deleting *d) {
    if (d->n == 0) return;
    ct_status rc = ct_batch_send(d->mod, d->batch, NULL);
    if (rc != CT_OK) op_failed(rc, CMD_DELETE);
    const char *line = d->lines;
    for (size_t i = 0; i < d->n; i++) {
        ct_status st = CT_OK;
        ct_batch_result(d->batch, i, &st, NULL);
        if (st == CT_OK) {
            puts(line);
            d->count++;
        } else if (st != CT_ERR_NOT_FOUND && d->failure == CT_OK) {
            d->failure = st; /* gone already (another process or timeout): not an error */
        }
        line += strlen(line) + 1;
    }
    ct_batch_clear(d->batch);
    d->n = 0;
    d->used = 0;
}

static int32_t delete_one(const ct_entry *e, void *user) {
    struct deleting *d = user;
    if (!selected(d, e)) return 0;
    const char *text = d->c->output & OUT_SAVE ? format_save(e, "-D", &d->buf, &d->cap)
                                               : format_entry(e, d->flags, false, &d->buf, &d->cap);
    size_t len = strlen(text) + 1;
    if (d->used + len > d->size) {
        size_t size = (d->used + len) * 2;
        char *more = realloc(d->lines, size);
        if (!more) die(EXIT_OTHER, "out of memory");
        d->lines = more;
        d->size = size;
    }
    memcpy(d->lines + d->used, text, len);
    d->used += len;
    if (ct_batch_add_delete(d->batch, e) != CT_OK) die(EXIT_OTHER, "out of memory");
    if (++d->n == CHUNK) flush_deletes(d);
    return d->failure == CT_OK ? 0 : 1;
}

/* Deletes what `c` selects, or with `set`, every entry matching one of its filters (each
 * of them exact: see delete_exact), made from the `n` lines from `c` on. */
static unsigned long delete_where(const struct cmdline *c, const ct_filters *set, size_t n) {
    check_masks(c);
    struct deleting d = {.c = c, .flags = list_flags(c, false), .exact = set != NULL, .all = c, .n_all = n};
    ct_handle *h = open_handle(c);
    d.mod = open_handle(c);
    if (ct_batch_new(&d.batch) != CT_OK) die(EXIT_OTHER, "OOM");
    ct_filter *f = set ? NULL : library_filter(c, true);
    ct_status rc = set ? ct_dump_any(h, set, delete_one, &d) : ct_dump(h, f, delete_one, &d);
    if (rc == CT_OK && d.failure == CT_OK) flush_deletes(&d);
    ct_filter_free(f);
    ct_batch_free(d.batch);
    ct_close(d.mod);
    ct_close(h);
    free(d.buf);
    free(d.lines);
    if (rc == CT_OK) rc = d.failure;
    if (rc != CT_OK) op_failed(rc, CMD_DELETE);
    return d.count;
}

static unsigned long do_delete(const struct cmdline *c) {
    return delete_where(c, NULL, 1);
}

/* Whether the library's filter of a -D command line selects exactly what match_entry
 * would: tuple parts, zone and family only, no mask but a prefix, one output form. (Zone 0
 * is no library filter, and entries with a zone of one direction are checked again: see
 * library_filter and delete_one.) */
bool delete_exact(const struct cmdline *c) {
    const unsigned simple = OPT_ORIG | OPT_REPL | OPT_PROTO | OPT_ZONE | OPT_FAMILY | OPT_MASK_SRC | OPT_MASK_DST;
    if (c->command != CMD_DELETE || (c->options & ~simple) || c->icmp_set || c->state >= 0 || c->vtag_set)
        return false;
    if ((c->options & OPT_ZONE) && c->zone == 0) return false;
    if (c->l4flags & ~((1u << 0) | (1u << 1) | (1u << 2) | (1u << 3))) return false; /* ports only */
    if ((c->options & OPT_PROTO) == 0 && (c->l4flags || c->port_set[0] || c->port_set[1])) return false;
    for (int i = 0; i < 4; i++) {
        const struct addr *a = &c->addr[i];
        if (a->set && a->masked && (a->prefix < 0 || i >= 2)) return false;
        if (c->port_set[i] && !proto_has_ports(c->proto)) return false;
    }
    return true;
}

/* Consecutive -D lines of -R, all exact (delete_exact) and with one output form: answered
 * by one pass over the table, each entry printed once, as deleting line after line does. */
unsigned long run_deletes(const struct cmdline *cmds, size_t n) {
    ct_filters *set = NULL;
    if (ct_filters_new(&set) != CT_OK) die(EXIT_OTHER, "OOM");
    for (size_t i = 0; i < n; i++) {
        check_masks(&cmds[i]);
        ct_filter *f = library_filter(&cmds[i], true);
        /* A filter no entry can match (family against address) matches nothing. */
        ct_status rc = ct_filters_add(set, f);
        ct_filter_free(f);
        if (rc != CT_OK && rc != CT_ERR_INVALID_ARGUMENT) die(EXIT_OTHER, "OOM");
    }
    unsigned long count = ct_filters_len(set) ? delete_where(&cmds[0], set, n) : 0;
    ct_filters_free(set);
    return count;
}

/* --- -I, -A, -G: one entry from the command line ---------------------------------------- */

static void must(ct_status rc, const char *what) {
    if (rc != CT_OK) die(EXIT_PARAMETER, "%s: %s", what, ct_last_error_message());
}

/* The ICMP or ICMPv6 type answering `type` (echo, timestamp, information and address mask
 * requests and their replies; 255 for the others), as the kernel and conntrack pair them. */
static uint8_t icmp_reply_type(uint8_t proto, uint8_t type) {
    static const uint8_t v4[][2] = {{8, 0}, {0, 8}, {13, 14}, {14, 13}, {15, 16}, {16, 15}, {17, 18}, {18, 17}};
    static const uint8_t v6[][2] = {{128, 129}, {129, 128}, {139, 140}, {140, 139}};
    bool six = proto == CT_PROTO_ICMPV6;
    size_t n = six ? sizeof v6 / sizeof v6[0] : sizeof v4 / sizeof v4[0];
    for (size_t i = 0; i < n; i++)
        if ((six ? v6 : v4)[i][0] == type) return (six ? v6 : v4)[i][1];
    return 255;
}

/* The entry the command line describes (tuples, and for a create its other fields). */
static ct_entry *entry_from_cmdline(const struct cmdline *c, bool create) {
    ct_entry *e = NULL;
    if (ct_entry_new(&e) != CT_OK) die(EXIT_OTHER, "OOM");
    int family = c->family ? c->family : AF_INET;
    must(ct_entry_set_family(e, family == AF_INET6 ? CT_FAMILY_IPV6 : CT_FAMILY_IPV4), "family");
    if (c->options & OPT_PROTO) must(ct_entry_set_proto(e, c->proto), "protocol");
    bool orig = (c->options & OPT_ORIG) != 0, reply = (c->options & OPT_REPL) != 0;
    for (int i = 0; i < 4; i++) {
        int from = i;
        /* Only a reply tuple: the original is its inverse, as conntrack makes it. */
        if (create && !orig && reply && i < 2) from = i == CT_ORIG_SRC ? CT_REPLY_DST : CT_REPLY_SRC;
        if (c->addr[from].set) {
            char text[CT_ADDR_TEXT_MAX];
            addr_text(&c->addr[from], text, sizeof text);
            must(ct_entry_set_addr(e, (uint32_t)i, text), "address");
        }
        if (c->port_set[from] && proto_has_ports(c->proto))
            must(ct_entry_set_port(e, (uint32_t)i, c->port[from]), "port");
    }
    if (c->icmp_set) must(ct_entry_set_icmp(e, CT_DIR_ORIG, c->icmp_type, c->icmp_code, c->icmp_id), "icmp");
    if (create && reply) {
        /* conntrack sends the reply tuple whole: what the command line lacks is zero (NAT
         * set up by the kernel replaces it), the ICMP type is the reply's to the original's. */
        for (uint32_t i = CT_REPLY_SRC; i <= CT_REPLY_DST; i++) {
            if (!c->addr[i].set) must(ct_entry_set_addr(e, i, family == AF_INET6 ? "::" : "0.0.0.0"), "address");
            if (!c->port_set[i] && proto_has_ports(c->proto)) must(ct_entry_set_port(e, i, 0), "port");
        }
        if (c->icmp_set)
            must(ct_entry_set_icmp(e, CT_DIR_REPLY, icmp_reply_type(c->proto, c->icmp_type), c->icmp_code, c->icmp_id),
                 "icmp");
    }
    if (create && !reply) ct_entry_unset(e, CT_FIELD_REPLY);
    if (!create) return e;
    if (c->options & OPT_TIMEOUT) must(ct_entry_set_timeout(e, c->timeout), "timeout");
    if (c->options & OPT_STATUS) must(ct_entry_set_status(e, c->status), "status");
    if (c->options & OPT_MARK) must(ct_entry_set_mark(e, c->mark), "mark");
    if (c->options & OPT_ZONE) must(ct_entry_set_zone(e, c->zone), "zone");
    /* A direction's own zone goes in its tuple; the kernel decides which mixes it takes. */
    if (create && (c->options & OPT_ORIG_ZONE)) must(ct_entry_set_dir_zone(e, CT_DIR_ORIG, c->orig_zone), "orig zone");
    if (create && (c->options & OPT_REPL_ZONE)) must(ct_entry_set_dir_zone(e, CT_DIR_REPLY, c->reply_zone), "reply zone");
    if (c->state >= 0) {
        if (c->proto == CT_PROTO_TCP) must(ct_entry_set_tcp_state(e, (uint8_t)c->state), "state");
        if (c->proto == CT_PROTO_SCTP) must(ct_entry_set_sctp_state(e, (uint8_t)c->state), "state");
    }
    if (c->options & OPT_ADD_LABEL)
        for (uint32_t b = 0; b < 128; b++)
            if (c->label_modify[b / 8] & (1u << (b % 8))) ct_entry_set_label(e, b, true);
    for (int d = 0; d < 2; d++)
        if (c->vtag_set & (1 << d))
            must(ct_entry_set_sctp_vtag(e, (uint32_t)d, __builtin_bswap32(c->vtag[d])), "vtag"); /* as conntrack */
    /* --src-nat/--dst-nat ADDR[:PORT]: the kernel sets the NAT up (and the reply tuple). */
    for (int k = 0; k < 2; k++) {
        const struct natspec *n = k == 0 ? &c->snat : &c->dnat;
        if (!(c->options & (k == 0 ? OPT_SRC_NAT : OPT_DST_NAT)) || !n->addr_set) continue;
        char a[CT_ADDR_TEXT_MAX], text[CT_ADDR_TEXT_MAX + 10];
        addr_text(&n->addr, a, sizeof a);
        if (!n->port_set) snprintf(text, sizeof text, "%s", a);
        else if (n->addr.family == AF_INET6) snprintf(text, sizeof text, "[%s]:%u", a, n->port);
        else snprintf(text, sizeof text, "%s:%u", a, n->port);
        must(ct_entry_set_nat(e, k == 0 ? CT_NAT_SRC : CT_NAT_DST, text), "NAT");
    }
    return e;
}

/* The create and add lines of -R, in batches on one handle. A failed create ends the run
 * as conntrack's does (the requests already sent in its batch stand). */
void run_creates(const struct cmdline *cmds, size_t n) {
    if (n == 0) return;
    ct_handle *h = open_handle(&cmds[0]);
    ct_batch *b = NULL;
    if (ct_batch_new(&b) != CT_OK) die(EXIT_OTHER, "OOM");
    for (size_t start = 0; start < n; start += CHUNK) {
        size_t end = start + CHUNK < n ? start + CHUNK : n;
        for (size_t i = start; i < end; i++) {
            if (add_create(b, &cmds[i])) continue;
            ct_entry *e = entry_from_cmdline(&cmds[i], true);
            if (ct_batch_add_create(b, e) != CT_OK) die(EXIT_OTHER, "OOM");
            ct_entry_free(e);
        }
        ct_status rc = ct_batch_send(h, b, NULL);
        if (rc != CT_OK) op_failed(rc, CMD_CREATE);
        for (size_t i = start; i < end; i++) {
            ct_status st = CT_OK;
            int32_t err = 0;
            ct_batch_result(b, i - start, &st, &err);
            if (st == CT_OK || (st == CT_ERR_EXISTS && cmds[i].command == CMD_ADD)) continue;
            die(EXIT_OTHER, "Operation failed: %s", err_text(err ? err : status_errno(st), cmds[i].command));
        }
        ct_batch_clear(b);
    }
    ct_batch_free(b);
    ct_close(h);
}

static unsigned long do_create(const struct cmdline *c) {
    ct_handle *h = open_handle(c);
    ct_entry *e = entry_from_cmdline(c, true);
    ct_status rc = ct_create(h, e);
    ct_entry_free(e);
    ct_close(h);
    if (rc == CT_OK) return 1;
    if (rc == CT_ERR_EXISTS && c->command == CMD_ADD) return 0;
    op_failed(rc, c->command);
    return 0;
}

static unsigned long do_get(const struct cmdline *c) {
    /* conntrack sends a reply tuple alone in a form the kernel refuses. */
    if (!(c->options & OPT_ORIG)) die(EXIT_OTHER, "Operation failed: %s", err_text(EINVAL, CMD_GET));
    ct_handle *h = open_handle(c);
    ct_entry *key = entry_from_cmdline(c, false);
    ct_entry *e = NULL;
    ct_status rc = ct_get(h, key, &e);
    ct_entry_free(key);
    ct_close(h);
    if (rc != CT_OK) op_failed(rc, CMD_GET);
    char *buf = NULL;
    size_t cap = 0;
    unsigned long n = 0;
    if (match_entry(c, e)) {
        puts(c->output & OUT_SAVE ? format_save(e, "-A", &buf, &cap)
                                  : format_entry(e, list_flags(c, true), (c->output & OUT_LABELS) != 0, &buf, &cap));
        n = 1;
    }
    free(buf);
    ct_entry_free(e);
    return n;
}

/* --- -U --------------------------------------------------------------------------------- */

struct updating {
    const struct cmdline *c;
    ct_handle *mod;
    ct_batch *batch;
    ct_entry *pending[CHUNK];
    size_t n;
    char *buf;
    size_t cap;
    unsigned long count;
    ct_status failure;
};

static void flush_updates(struct updating *u) {
    if (u->n == 0) return;
    ct_status rc = ct_batch_send(u->mod, u->batch, NULL);
    if (rc != CT_OK) op_failed(rc, CMD_UPDATE);
    for (size_t i = 0; i < u->n; i++) {
        ct_status st = CT_OK;
        int32_t err = 0;
        ct_batch_result(u->batch, i, &st, &err);
        if (st == CT_OK) {
            puts(u->c->output & OUT_SAVE
                     ? format_save(u->pending[i], "-A", &u->buf, &u->cap)
                     : format_entry(u->pending[i], list_flags(u->c, false),
                                    (u->c->output & OUT_LABELS) != 0, &u->buf, &u->cap));
            u->count++;
        } else if (st != CT_ERR_NOT_FOUND) {
            fprintf(stderr, "Operation failed: %s\n",
                    err_text(err ? err : status_errno(st), CMD_UPDATE));
        }
        ct_entry_free(u->pending[i]);
    }
    ct_batch_clear(u->batch);
    u->n = 0;
}

/* The entry as the update leaves it, or NULL when the update would change nothing (conntrack
 * sends nothing then, and does not count the entry). */
static ct_entry *updated(const struct cmdline *c, const ct_entry *e) {
    bool changed = false, set;
    ct_entry *n = NULL;
    if (ct_entry_clone(e, &n) != CT_OK) die(EXIT_OTHER, "OOM");
    if (c->options & OPT_MARK) {
        uint32_t old = entry_u32(ct_entry_get_mark, e, &set);
        uint32_t m = (old & ~c->mark_mask) ^ c->mark;
        changed |= !set || m != old;
        ct_entry_set_mark(n, m);
    }
    if (c->options & OPT_STATUS) {
        uint32_t old = entry_u32(ct_entry_get_status, e, &set);
        changed |= (old | c->status) != old;
        ct_entry_set_status(n, old | c->status);
    }
    if (c->options & OPT_TIMEOUT) {
        uint32_t old = entry_u32(ct_entry_get_timeout, e, &set);
        changed |= !set || old != c->timeout;
        ct_entry_set_timeout(n, c->timeout);
    }
    if (c->state >= 0 && c->proto == CT_PROTO_TCP) {
        uint8_t old = 0;
        changed |= ct_entry_get_tcp_state(e, &old) != CT_OK || old != c->state;
        ct_entry_set_tcp_state(n, (uint8_t)c->state);
    }
    if (c->options & (OPT_ADD_LABEL | OPT_DEL_LABEL)) {
        uint8_t have[16] = {0}, want[16];
        bool had = ct_entry_get_labels(e, have, sizeof have) == CT_OK;
        for (int i = 0; i < 16; i++)
            want[i] = (c->options & OPT_ADD_LABEL) ? (uint8_t)(have[i] | c->label_modify[i])
                      : c->label_del_all              ? 0
                                                      : (uint8_t)(have[i] & ~c->label_modify[i]);
        if (memcmp(have, want, 16) != 0 || (!had && (c->options & OPT_ADD_LABEL))) {
            changed = true;
            ct_entry_set_labels(n, want, 16);
        }
    }
    if (!changed) {
        ct_entry_free(n);
        return NULL;
    }
    return n;
}

static int32_t update_one(const ct_entry *e, void *user) {
    struct updating *u = user;
    const struct cmdline *c = u->c;
    if (!nat_match(c, e) || !labels_match(c, e) || !network_match(c, e)) return 0;
    if (c->options & OPT_ID) {
        bool set;
        uint32_t id = entry_u32(ct_entry_get_id, e, &set);
        if (set && id != c->id) return 0;
    }
    if (!tuple_match(c, e, (c->options & OPT_TUPLE_ORIG) != 0, (c->options & OPT_TUPLE_REPL) != 0))
        return 0;
    ct_entry *n = updated(c, e);
    if (!n) return 0;
    if (ct_batch_add_update(u->batch, n) != CT_OK) die(EXIT_OTHER, "OOM");
    u->pending[u->n++] = n;
    if (u->n == CHUNK) flush_updates(u);
    return 0;
}

static unsigned long do_update(const struct cmdline *c) {
    check_masks(c);
    struct updating *u = calloc(1, sizeof *u);
    if (!u) die(EXIT_OTHER, "OOM");
    u->c = c;
    ct_handle *h = open_handle(c);
    u->mod = open_handle(c);
    if (ct_batch_new(&u->batch) != CT_OK) die(EXIT_OTHER, "OOM");
    /* The tuple fields only: -m, -u and -t are what the update sets, not filters. */
    struct cmdline fc = *c;
    fc.options &= ~(OPT_MARK | OPT_STATUS | OPT_TIMEOUT);
    ct_filter *f = library_filter(&fc, true);
    ct_status rc = ct_dump(h, f, update_one, u);
    if (rc == CT_OK) flush_updates(u);
    ct_filter_free(f);
    ct_batch_free(u->batch);
    ct_close(u->mod);
    ct_close(h);
    unsigned long n = u->count;
    free(u->buf);
    free(u);
    if (rc != CT_OK) op_failed(rc, CMD_UPDATE);
    return n;
}

/* --- -F, -C, -S ------------------------------------------------------------------------- */

static void do_flush(const struct cmdline *c) {
    ct_handle *h = open_handle(c);
    /* conntrack sends -f in the request header, which the kernel ignores for a flush:
     * every family goes. */
    ct_status rc = ct_flush(h);
    ct_close(h);
    banner(stderr);
    fputs("connection tracking table has been emptied.\n", stderr);
    if (rc != CT_OK) op_failed(rc, CMD_FLUSH);
}

static void do_count(const struct cmdline *c) {
    ct_handle *h = open_handle(c);
    uint32_t n = 0;
    ct_status rc = ct_count(h, &n, NULL);
    ct_close(h);
    if (rc != CT_OK) op_failed(rc, CMD_COUNT);
    printf("%u\n", n);
}

static void do_stats(const struct cmdline *c) {
    ct_handle *h = open_handle(c);
    size_t n = 0;
    ct_status rc = ct_stats_per_cpu(h, NULL, 0, &n);
    ct_stats *s = NULL;
    if (rc == CT_OK || rc == CT_ERR_BUFFER_TOO_SMALL) {
        s = calloc(n ? n : 1, sizeof *s);
        if (!s) die(EXIT_OTHER, "OOM");
        rc = ct_stats_per_cpu(h, s, n, &n);
    }
    ct_close(h);
    if (rc != CT_OK) die(EXIT_OTHER, "Can't open /proc interface");
    for (size_t i = 0; i < n; i++)
        printf("cpu=%-4u\tfound=%u invalid=%u insert=%u insert_failed=%u drop=%u "
               "early_drop=%u error=%u search_restart=%u clash_resolve=%u chaintoolong=%u \n",
               s[i].cpu, s[i].found, s[i].invalid, s[i].insert, s[i].insert_failed, s[i].drop,
               s[i].early_drop, s[i].error, s[i].search_restart, s[i].clash_resolve,
               s[i].chaintoolong);
    free(s);
}

/* --- -E --------------------------------------------------------------------------------- */

volatile sig_atomic_t stop_events;

static void on_signal(int sig) {
    (void)sig;
    stop_events = 1;
}

void stop_on_signals(void) {
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: the wait returns */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

struct eventing {
    const struct cmdline *c;
    uint32_t flags;
    char *buf;
    size_t cap;
    unsigned long count;
};

/* The end of an event's line: conntrack names the process that caused it. */
static void event_end(const struct cmdline *c) {
    uint32_t portid = ct_events_sender();
    if (portid == 0) {
        putchar('\n');
        return;
    }
    const char *name = sender_name(portid, c->netns);
    if (name) printf(" [USERSPACE] portid=%u progname=%s\n", portid, name);
    else printf(" [USERSPACE] portid=%u\n", portid);
}

static int32_t event_one(uint32_t type, const ct_entry *e, void *user) {
    struct eventing *ev = user;
    if (!match_entry(ev->c, e)) return 0;
    if (ev->c->output & OUT_SAVE) {
        fputs(format_save(e, type == CT_EVENT_NEW ? "-A" : type == CT_EVENT_UPDATE ? "-U" : "-D", &ev->buf, &ev->cap), stdout);
    } else if (xml_output) {
        xml_event = type;
        fputs(format_entry(e, ev->flags, false, &ev->buf, &ev->cap), stdout);
    } else {
        if (ev->c->output & OUT_TMS) {
            struct timeval tv;
            gettimeofday(&tv, NULL);
            printf("[%.8ld.%.6ld]\t", (long)tv.tv_sec, (long)tv.tv_usec);
        }
        const char *what = type == CT_EVENT_NEW ? "[NEW]" : type == CT_EVENT_UPDATE ? "[UPDATE]" : "[DESTROY]";
        printf("%9s %s", what, format_entry(e, ev->flags, (ev->c->output & OUT_LABELS) != 0, &ev->buf, &ev->cap));
    }
    event_end(ev->c);
    ev->count++;
    return 0;
}

static unsigned long do_events(const struct cmdline *c) {
    check_masks(c);
    uint32_t types = (c->options & OPT_EVENT_MASK) ? c->event_mask : CT_EVENT_ALL;
    ct_events *evs = NULL;
    ct_status rc = c->netns ? ct_events_open_netns(c->netns, types, &evs) : ct_events_open(types, &evs);
    if (rc != CT_OK) die(EXIT_OTHER, "Can't open netlink socket");
    if (c->options & OPT_BUFFERSIZE) {
        ct_events_set_receive_buffer(evs, c->bufsize);
        int size = 0;
        socklen_t len = sizeof size;
        getsockopt(ct_events_fd(evs), SOL_SOCKET, SO_RCVBUF, &size, &len);
        fprintf(stderr, "NOTICE: Netlink socket buffer size has been set to %d bytes.\n", size);
    }
    ct_filter *f = library_filter(c, true);
    ct_events_set_filter(evs, f);
    ct_filter_free(f);

    stop_on_signals();
    struct eventing ev = {c, list_flags(c, true), NULL, 0, 0};
    while (!stop_events) {
        rc = ct_events_receive(evs, -1, event_one, &ev, NULL);
        fflush(stdout);
        if (rc == CT_ERR_OVERRUN) {
            fputs("WARNING: We have hit ENOBUFS! We are losing events.\n"
                  "This message means that the current netlink socket buffer size is too small.\n"
                  "Please, check --buffer-size in conntrack(8) manpage.\n",
                  stderr);
        } else if (rc != CT_OK) {
            die(EXIT_OTHER, "failed to received netlink event: %s", strerror(status_errno(rc)));
        }
    }
    ct_events_close(evs);
    free(ev.buf);
    if (xml_header_printed) fputs("</conntrack>\n", stdout);
    fflush(stdout);
    banner(stderr);
    fprintf(stderr, "%lu flow events have been shown.\n", ev.count);
    exit(EXIT_SUCCESS);
}

/* --- main ------------------------------------------------------------------------------- */

static const char *summary(unsigned cmd) {
    switch (cmd) {
    case CMD_LIST:
    case CMD_GET: return "flow entries have been shown.";
    case CMD_CREATE: return "flow entries have been created.";
    case CMD_UPDATE: return "flow entries have been updated.";
    case CMD_DELETE: return "flow entries have been deleted.";
    case CMD_ADD: return "flow entries have been added.";
    default: return NULL;
    }
}

/* Runs one parsed command; returns the number of entries it showed or changed. */
unsigned long run_command(struct cmdline *c) {
    if (c->output & OUT_LABELS || c->options & (OPT_LABEL | OPT_ADD_LABEL | OPT_DEL_LABEL)) {
        /* Names were resolved by the parser; the map is kept for printing. */
        labelmap = c->labelmap;
    }
    if (c->output & OUT_XML) {
        xml_output = c->output;
        xml_header_pending = (c->command & (CMD_LIST | CMD_GET | CMD_EVENT)) && !(c->command & CMD_EXPECT_ANY);
    }
    switch (c->command) {
    case CMD_LIST: {
        unsigned long n = do_list(c);
        if (xml_header_printed) fputs("</conntrack>\n", stdout);
        return n;
    }
    case CMD_DELETE: return do_delete(c);
    case CMD_CREATE:
    case CMD_ADD: return do_create(c);
    case CMD_GET: return do_get(c);
    case CMD_UPDATE: return do_update(c);
    case CMD_FLUSH: do_flush(c); return 0;
    case CMD_COUNT: do_count(c); return 0;
    case CMD_STATS: do_stats(c); return 0;
    case CMD_EVENT: return do_events(c);
    case CMD_VERSION: printf("%s v%s (conntrack-tools compatible)\n", progname, ct_version()); return 0;
    case CMD_HELP: usage(c); return 0;
    case 0: usage(c); return 0;
    default:
        if (c->command & CMD_EXPECT_ANY) {
            fflush(stdout);
            exit(run_expect(c));
        }
        unsupported("this command");
    }
}

int main(int argc, char **argv) {
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    /* --netns NAME may come first, before -R. */
    const char *netns = NULL;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--netns") == 0) netns = argv[2], first = 3;
    if (argc > first + 1 && (strcmp(argv[first], "-R") == 0 || strcmp(argv[first], "--load-file") == 0))
        return load_file(argv[0], argv[first + 1], netns);
    struct cmdline c;
    parse_cmdline(&c, argc, argv);
    unsigned long n = run_command(&c);
    const char *what = summary(c.command);
    if (!what) return EXIT_SUCCESS;
    fflush(stdout);
    banner(stderr);
    fprintf(stderr, "%lu %s\n", n, what);
    return n == 0 && c.command != CMD_LIST && c.command != CMD_ADD ? EXIT_FAILURE : EXIT_SUCCESS;
}
