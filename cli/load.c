/*
 * -R FILE, the quick way: the usual lines of a file (creates, adds and deletes with plain
 * tuples, as `-o save` and scripts write them) are read without getopt, creates go to the
 * kernel as views in batches, and a run of delete lines is answered by one pass over the
 * table. Any other line goes through parse_cmdline and runs as it would on its own.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrack.h"

/* Plain decimal (no sign, no leading zero but "0"), at most `max`. */
static bool decimal(const char *s, unsigned long max, unsigned long *out) {
    unsigned long v = 0;
    if (!*s || (s[0] == '0' && s[1])) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max) return false;
    }
    *out = v;
    return true;
}

/* A dotted quad of plain decimals, or an IPv6 address; as parse_address stores it. No
 * prefix: a line with one goes to parse_cmdline. */
static bool address(const char *s, struct addr *a) {
    memset(a, 0, sizeof *a);
    if (strchr(s, ':')) {
        if (inet_pton(AF_INET6, s, a->bytes) != 1) return false;
        a->family = AF_INET6;
        a->len = 16;
    } else {
        const char *p = s;
        for (int i = 0; i < 4; i++) {
            char part[4];
            size_t n = 0;
            while (*p >= '0' && *p <= '9' && n < 3) part[n++] = *p++;
            part[n] = '\0';
            unsigned long v;
            if (!decimal(part, 255, &v)) return false;
            a->bytes[i] = (uint8_t)v;
            if (i < 3 && *p++ != '.') return false;
        }
        if (*p) return false;
        a->family = AF_INET;
        a->len = 4;
    }
    a->set = true;
    a->prefix = -1;
    memset(a->mask, 0xff, a->len);
    return true;
}

static const struct {
    const char *name;
    uint8_t number;
} quick_protos[] = {{"tcp", CT_PROTO_TCP}, {"udp", CT_PROTO_UDP}, {"icmp", CT_PROTO_ICMP}};

static const char *const quick_tcp_states[] = {"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
                                               "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE"};

/* -u words as status_list reads them (exact upper-case names only here). */
static bool status_words(const char *arg, uint32_t *value) {
    static const struct {
        const char *name;
        uint32_t bit;
    } words[] = {{"ASSURED", IPS_ASSURED}, {"SEEN_REPLY", IPS_SEEN_REPLY}, {"UNSET", 0},
                 {"FIXED_TIMEOUT", IPS_FIXED_TIMEOUT}, {"EXPECTED", IPS_EXPECTED}};
    *value = 0;
    for (;;) {
        const char *comma = strchr(arg, ',');
        size_t len = comma ? (size_t)(comma - arg) : strlen(arg);
        size_t k = 0;
        while (k < sizeof words / sizeof words[0] &&
               !(strlen(words[k].name) == len && memcmp(words[k].name, arg, len) == 0))
            k++;
        if (k == sizeof words / sizeof words[0]) return false;
        *value |= words[k].bit;
        if (!comma) return true;
        arg = comma + 1;
    }
}

/* The option words the quick reader knows, with what they set. */
enum { Q_SRC, Q_DST, Q_RSRC, Q_RDST, Q_PROTO, Q_TIMEOUT, Q_STATUS, Q_MARK, Q_ZONE, Q_FAMILY,
       Q_SPORT, Q_DPORT, Q_RSPORT, Q_RDPORT, Q_STATE, Q_ITYPE, Q_ICODE, Q_IID, NUM_Q };

static int option_of(const char *w) {
    static const struct {
        const char *name;
        int q;
    } names[] = {
        {"-s", Q_SRC}, {"--src", Q_SRC}, {"--orig-src", Q_SRC}, {"-d", Q_DST}, {"--dst", Q_DST},
        {"--orig-dst", Q_DST}, {"-r", Q_RSRC}, {"--reply-src", Q_RSRC}, {"-q", Q_RDST},
        {"--reply-dst", Q_RDST}, {"-p", Q_PROTO}, {"--protonum", Q_PROTO}, {"-t", Q_TIMEOUT},
        {"--timeout", Q_TIMEOUT}, {"-u", Q_STATUS}, {"--status", Q_STATUS}, {"-m", Q_MARK},
        {"--mark", Q_MARK}, {"-w", Q_ZONE}, {"--zone", Q_ZONE}, {"-f", Q_FAMILY},
        {"--family", Q_FAMILY}, {"--sport", Q_SPORT}, {"--orig-port-src", Q_SPORT},
        {"--dport", Q_DPORT}, {"--orig-port-dst", Q_DPORT}, {"--reply-port-src", Q_RSPORT},
        {"--reply-port-dst", Q_RDPORT}, {"--state", Q_STATE}, {"--icmp-type", Q_ITYPE},
        {"--icmp-code", Q_ICODE}, {"--icmp-id", Q_IID},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(w, names[i].name) == 0) return names[i].q;
    return -1;
}

/* A line's shape: what parse_cmdline's checks of options against the command depend on. A
 * shape seen valid once is valid for every line of it (values are checked here). */
struct shape {
    unsigned command, options, l4flags;
    uint8_t proto;
    int family;
};
static struct shape valid_shapes[16];
static size_t n_valid_shapes;

/* Reads the words of one line as parse_cmdline would when the line is a plain -I, -A or -D
 * with the options above, each once, and values in their plain forms; false for anything
 * else (parse_cmdline then reads it, with its own messages for what is wrong). */
bool quick_parse(struct cmdline *c, int argc, char **argv) {
    memset(c, 0, sizeof *c);
    c->state = -1;
    c->mark_mask = 0xffffffffu;
    if (argc < 2) return false;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-I") || !strcmp(cmd, "--create")) c->command = CMD_CREATE;
    else if (!strcmp(cmd, "-A") || !strcmp(cmd, "--add")) c->command = CMD_ADD;
    else if (!strcmp(cmd, "-D") || !strcmp(cmd, "--delete")) c->command = CMD_DELETE;
    else return false;
    bool proto_known = false;
    unsigned seen = 0;
    for (int i = 2; i < argc; i += 2) {
        int q = option_of(argv[i]);
        if (q < 0 || i + 1 >= argc || (seen & (1u << q))) return false;
        /* Protocol options only after -p, as getopt would know them. */
        if (q >= Q_SPORT && !proto_known) return false;
        seen |= 1u << q;
        const char *v = argv[i + 1];
        unsigned long n;
        switch (q) {
        case Q_SRC:
        case Q_DST:
        case Q_RSRC:
        case Q_RDST: {
            int k = q - Q_SRC;
            if (!address(v, &c->addr[k])) return false;
            if (c->family && c->family != c->addr[k].family) return false;
            c->family = c->addr[k].family;
            c->options |= 1u << k;
            break;
        }
        case Q_PROTO: {
            size_t k = 0;
            while (k < sizeof quick_protos / sizeof quick_protos[0] && strcmp(v, quick_protos[k].name)) k++;
            if (k == sizeof quick_protos / sizeof quick_protos[0]) return false;
            c->proto = quick_protos[k].number;
            c->proto_name = quick_protos[k].name;
            c->options |= OPT_PROTO;
            proto_known = true;
            break;
        }
        case Q_TIMEOUT:
            if (!decimal(v, 0xffffffffu, &n)) return false;
            c->timeout = (uint32_t)n;
            c->options |= OPT_TIMEOUT;
            break;
        case Q_STATUS:
            if (!status_words(v, &c->status)) return false;
            c->status_kmask = c->status;
            c->mark = c->status; /* as parse_cmdline: -u overwrites the value -m checks */
            c->options |= OPT_STATUS;
            break;
        case Q_MARK:
            if (!decimal(v, 0xffffffffu, &n)) return false;
            c->mark = c->kmark = (uint32_t)n;
            c->options |= OPT_MARK;
            break;
        case Q_ZONE:
            if (!decimal(v, 0xffff, &n)) return false;
            c->zone = (uint16_t)n;
            c->options |= OPT_ZONE;
            break;
        case Q_FAMILY: {
            int f = !strcmp(v, "ipv4") ? AF_INET : !strcmp(v, "ipv6") ? AF_INET6 : 0;
            if (!f || (c->family && c->family != f)) return false;
            c->family = f;
            c->options |= OPT_FAMILY;
            break;
        }
        case Q_SPORT:
        case Q_DPORT:
        case Q_RSPORT:
        case Q_RDPORT: {
            if (!proto_has_ports(c->proto) || !decimal(v, 65535, &n)) return false;
            int k = q - Q_SPORT;
            c->port[k] = (uint16_t)n;
            c->port_set[k] = true;
            c->l4flags |= 1u << k; /* PO_SPORT .. PO_RDPORT are 0..3 */
            break;
        }
        case Q_STATE: {
            if (c->proto != CT_PROTO_TCP) return false;
            for (size_t k = 0; k < sizeof quick_tcp_states / sizeof quick_tcp_states[0]; k++)
                if (!strcmp(v, quick_tcp_states[k])) c->state = (int)k;
            if (c->state < 0) return false;
            c->l4flags |= 1u << 6; /* PO_STATE */
            break;
        }
        case Q_ITYPE:
        case Q_ICODE:
        case Q_IID:
            if (c->proto != CT_PROTO_ICMP || !decimal(v, q == Q_IID ? 65535 : 255, &n)) return false;
            if (q == Q_ITYPE) c->icmp_type = (uint8_t)n, c->icmp_set |= 1, c->l4flags |= 1u << 12;
            if (q == Q_ICODE) c->icmp_code = (uint8_t)n, c->icmp_set |= 2, c->l4flags |= 1u << 13;
            if (q == Q_IID) c->icmp_id = (uint16_t)n, c->icmp_set |= 4, c->l4flags |= 1u << 14;
            break;
        }
    }
    if (c->command != CMD_DELETE && !c->family) c->family = AF_INET;
    struct shape s;
    memset(&s, 0, sizeof s); /* padding too: shapes are compared whole */
    s.command = c->command, s.options = c->options, s.l4flags = c->l4flags;
    s.proto = c->proto, s.family = c->family;
    for (size_t i = 0; i < n_valid_shapes; i++)
        if (!memcmp(&valid_shapes[i], &s, sizeof s)) return true;
    /* First line of this shape: parse_cmdline checks it (and refuses it as it would). */
    struct cmdline full;
    parse_cmdline(&full, argc, argv);
    if (n_valid_shapes < sizeof valid_shapes / sizeof valid_shapes[0]) valid_shapes[n_valid_shapes++] = s;
    return true;
}

/* The create of `c` as a view, when it has nothing a view cannot say (only an original
 * tuple, TCP state, timeout, status, mark, zone). As entry_from_cmdline makes it. */
static bool create_view(const struct cmdline *c, ct_view *v) {
    if ((c->options & (OPT_REPL | OPT_ADD_LABEL | OPT_SRC_NAT | OPT_DST_NAT | OPT_ORIG_ZONE | OPT_REPL_ZONE)) ||
        c->vtag_set || !(c->options & OPT_ORIG_SRC) || !(c->options & OPT_ORIG_DST) || !(c->options & OPT_PROTO) ||
        (c->state >= 0 && c->proto != CT_PROTO_TCP))
        return false;
    memset(v, 0, sizeof *v);
    v->size = sizeof *v;
    v->family = c->family == AF_INET6 ? CT_FAMILY_IPV6 : CT_FAMILY_IPV4;
    v->proto = c->proto;
    v->present = CT_VIEW_FAMILY | CT_VIEW_PROTO | CT_VIEW_ORIG_SRC | CT_VIEW_ORIG_DST;
    memcpy(v->orig_src, c->addr[0].bytes, c->addr[0].len);
    memcpy(v->orig_dst, c->addr[1].bytes, c->addr[1].len);
    if (proto_has_ports(c->proto)) {
        if (c->port_set[0]) v->orig_sport = c->port[0], v->present |= CT_VIEW_ORIG_SPORT;
        if (c->port_set[1]) v->orig_dport = c->port[1], v->present |= CT_VIEW_ORIG_DPORT;
    }
    if (c->icmp_set) {
        v->orig_icmp_type = c->icmp_type;
        v->orig_icmp_code = c->icmp_code;
        v->orig_icmp_id = c->icmp_id;
        v->present |= CT_VIEW_ORIG_ICMP;
    }
    if (c->options & OPT_TIMEOUT) v->timeout = c->timeout, v->present |= CT_VIEW_TIMEOUT;
    if (c->options & OPT_STATUS) v->status = c->status, v->present |= CT_VIEW_STATUS;
    if (c->options & OPT_MARK) v->mark = c->mark, v->present |= CT_VIEW_MARK;
    if (c->options & OPT_ZONE) v->zone = c->zone, v->present |= CT_VIEW_ZONE;
    if (c->state >= 0) v->tcp_state = (uint8_t)c->state, v->present |= CT_VIEW_TCP_STATE;
    return true;
}

bool add_create(ct_batch *b, const struct cmdline *c) {
    ct_view v;
    return create_view(c, &v) && ct_batch_add_views(b, CT_BATCH_CREATE, &v, sizeof v, 1) == CT_OK;
}

/* Runs the lines of a file in order: creates and adds in batches, runs of exact deletes
 * in one pass, the rest one by one. */
void run_lines(struct cmdline *cmds, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t j = i;
        if (cmds[i].command & (CMD_CREATE | CMD_ADD)) {
            while (j < n && (cmds[j].command & (CMD_CREATE | CMD_ADD))) j++;
            run_creates(&cmds[i], j - i);
        } else if (delete_exact(&cmds[i])) {
            while (j < n && delete_exact(&cmds[j]) && cmds[j].output == cmds[i].output) j++;
            if (j - i == 1)
                run_command(&cmds[i]);
            else
                run_deletes(&cmds[i], j - i);
        } else {
            run_command(&cmds[j++]);
        }
        i = j;
    }
}
