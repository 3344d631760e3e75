/*
 * ctrack's command line: conntrack 1.4.7's options, abbreviations, defaults and refusals
 * (same messages, same exit status 2 with the "Try ... -h" line).
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctrack.h"

/* Which option each command takes: 0 illegal, 1 compulsory, 2 optional, 3 needs the original
 * or the reply tuple whole (columns in the order of the OPT_* bits). */
static const char legal[NUM_CMDS][NUM_OPTS + 1] = {
    "22222022000220202222202220022", /* LIST */
    "33331120000002200220000202022", /* CREATE */
    "22222220000220222222000022200", /* UPDATE */
    "22222220000220222222000220022", /* DELETE */
    "33331000000000020002000020000", /* GET */
    "00000000000000002000000000000", /* FLUSH */
    "22222000200220202222222220022", /* EVENT */
    "00000000000000000000000000000", /* VERSION */
    "00002000000000000000000000000", /* HELP */
    "00000000000000002002000000000", /* EXP_LIST */
    "11221120011110000000000000000", /* EXP_CREATE */
    "11221000000000000000000000000", /* EXP_DELETE */
    "11221000000000000000000000000", /* EXP_GET */
    "00000000000000000000000000000", /* EXP_FLUSH */
    "00000000000000000002000000000", /* EXP_EVENT */
    "00000000000000000000000000000", /* COUNT */
    "00000000000000000000000000000", /* EXP_COUNT */
    "00000000000000000000000000000", /* STATS */
    "00000000000000000000000000000", /* EXP_STATS */
    "33331120000002200220000202022", /* ADD */
};

static const char *const opt_names[NUM_OPTS] = {
    "src", "dst", "reply-src", "reply-dst", "protonum", "timeout", "status", "zero",
    "event-mask", "tuple-src", "tuple-dst", "mask-src", "mask-dst", "nat-range", "mark", "id",
    "family", "src-nat", "dst-nat", "output", "secmark", "buffer-size", "any-nat", "zone",
    "label", "label-add", "label-del", "orig-zone", "reply-zone",
};

#define NETNS_OPT 0x300
#define PROTO_OPT 0x400 /* + a PO_* code */

static const struct option base_opts[] = {
    {"dump", 2, 0, 'L'}, {"create", 2, 0, 'I'}, {"add", 2, 0, 'A'}, {"delete", 2, 0, 'D'},
    {"update", 2, 0, 'U'}, {"get", 2, 0, 'G'}, {"flush", 2, 0, 'F'}, {"event", 2, 0, 'E'},
    {"counter", 2, 0, 'C'}, {"stats", 0, 0, 'S'}, {"version", 0, 0, 'V'}, {"help", 0, 0, 'h'},
    {"orig-src", 1, 0, 's'}, {"src", 1, 0, 's'}, {"orig-dst", 1, 0, 'd'}, {"dst", 1, 0, 'd'},
    {"reply-src", 1, 0, 'r'}, {"reply-dst", 1, 0, 'q'}, {"protonum", 1, 0, 'p'},
    {"timeout", 1, 0, 't'}, {"status", 1, 0, 'u'}, {"zero", 0, 0, 'z'},
    {"event-mask", 1, 0, 'e'}, {"tuple-src", 1, 0, '['}, {"tuple-dst", 1, 0, ']'},
    {"mask-src", 1, 0, '{'}, {"mask-dst", 1, 0, '}'}, {"nat-range", 1, 0, 'a'},
    {"mark", 1, 0, 'm'}, {"secmark", 1, 0, 'c'}, {"id", 2, 0, 'i'}, {"family", 1, 0, 'f'},
    {"src-nat", 2, 0, 'n'}, {"dst-nat", 2, 0, 'g'}, {"output", 1, 0, 'o'},
    {"buffer-size", 1, 0, 'b'}, {"any-nat", 2, 0, 'j'}, {"zone", 1, 0, 'w'},
    {"label", 1, 0, 'l'}, {"label-add", 1, 0, '<'}, {"label-del", 2, 0, '>'},
    {"orig-zone", 1, 0, '('}, {"reply-zone", 1, 0, ')'},
    {"netns", 1, 0, NETNS_OPT}, /* ctrack's addition */
};
#define N_BASE (sizeof base_opts / sizeof base_opts[0])

static const char optstring[] = ":L::I::U::D::G::E::F::A::hVs:d:r:q:p:t:u:e:a:z[:]:{:}:m:i:f:o:n::"
                                "g::c:b:C::Sj::w:l:<:>::(:):";

/* Protocol options, in the order conntrack checks them. */
enum {
    PO_SPORT, PO_DPORT, PO_RSPORT, PO_RDPORT, PO_MSPORT, PO_MDPORT, PO_STATE, PO_TSPORT,
    PO_TDPORT, PO_OVTAG, PO_RVTAG, PO_ROLE, PO_ITYPE, PO_ICODE, PO_IID, NUM_PO
};

struct proto_opt {
    const char *name;
    int code;
};

struct proto {
    const char *name;
    uint8_t number;
    const struct proto_opt *opts;
    const char *const *flag_names; /* by PO_* code, for messages */
};

static const struct proto_opt port_opts[] = {
    {"orig-port-src", PO_SPORT}, {"sport", PO_SPORT}, {"orig-port-dst", PO_DPORT},
    {"dport", PO_DPORT}, {"reply-port-src", PO_RSPORT}, {"reply-port-dst", PO_RDPORT},
    {"mask-port-src", PO_MSPORT}, {"mask-port-dst", PO_MDPORT}, {"tuple-port-src", PO_TSPORT},
    {"tuple-port-dst", PO_TDPORT}, {NULL, 0},
};
static const struct proto_opt tcp_opts[] = {
    {"orig-port-src", PO_SPORT}, {"sport", PO_SPORT}, {"orig-port-dst", PO_DPORT},
    {"dport", PO_DPORT}, {"reply-port-src", PO_RSPORT}, {"reply-port-dst", PO_RDPORT},
    {"mask-port-src", PO_MSPORT}, {"mask-port-dst", PO_MDPORT}, {"state", PO_STATE},
    {"tuple-port-src", PO_TSPORT}, {"tuple-port-dst", PO_TDPORT}, {NULL, 0},
};
static const struct proto_opt sctp_opts[] = {
    {"orig-port-src", PO_SPORT}, {"orig-port-dst", PO_DPORT}, {"reply-port-src", PO_RSPORT},
    {"reply-port-dst", PO_RDPORT}, {"mask-port-src", PO_MSPORT}, {"mask-port-dst", PO_MDPORT},
    {"state", PO_STATE}, {"tuple-port-src", PO_TSPORT}, {"tuple-port-dst", PO_TDPORT},
    {"orig-vtag", PO_OVTAG}, {"reply-vtag", PO_RVTAG}, {"sport", PO_SPORT}, {"dport", PO_DPORT},
    {NULL, 0},
};
static const struct proto_opt dccp_opts[] = {
    {"orig-port-src", PO_SPORT}, {"orig-port-dst", PO_DPORT}, {"reply-port-src", PO_RSPORT},
    {"reply-port-dst", PO_RDPORT}, {"mask-port-src", PO_MSPORT}, {"mask-port-dst", PO_MDPORT},
    {"state", PO_STATE}, {"tuple-port-src", PO_TSPORT}, {"tuple-port-dst", PO_TDPORT},
    {"sport", PO_SPORT}, {"dport", PO_DPORT}, {"role", PO_ROLE}, {NULL, 0},
};
static const struct proto_opt gre_opts[] = {
    {"orig-key-src", PO_SPORT}, {"srckey", PO_SPORT}, {"orig-key-dst", PO_DPORT},
    {"dstkey", PO_DPORT}, {"reply-key-src", PO_RSPORT}, {"reply-key-dst", PO_RDPORT},
    {"mask-key-src", PO_MSPORT}, {"mask-key-dst", PO_MDPORT}, {"tuple-key-src", PO_TSPORT},
    {"tuple-key-dst", PO_TDPORT}, {NULL, 0},
};
static const struct proto_opt icmp_opts[] = {
    {"icmp-type", PO_ITYPE}, {"icmp-code", PO_ICODE}, {"icmp-id", PO_IID}, {NULL, 0},
};
static const struct proto_opt icmpv6_opts[] = {
    {"icmpv6-type", PO_ITYPE}, {"icmpv6-code", PO_ICODE}, {"icmpv6-id", PO_IID}, {NULL, 0},
};
static const struct proto_opt no_opts[] = {{NULL, 0}};

static const char *const port_flags[NUM_PO] = {
    "sport", "dport", "reply-port-src", "reply-port-dst", "mask-port-src", "mask-port-dst",
    "state", "tuple-port-src", "tuple-port-dst", "orig-vtag", "reply-vtag", "role",
    "icmp-type", "icmp-code", "icmp-id",
};
static const char *const gre_flags[NUM_PO] = {
    "srckey", "dstkey", "reply-key-src", "reply-key-dst", "mask-key-src", "mask-key-dst",
    "state", "tuple-key-src", "tuple-key-dst", "", "", "", "", "", "",
};
static const char *const icmpv6_flags[NUM_PO] = {
    "", "", "", "", "", "", "", "", "", "", "", "", "icmpv6-type", "icmpv6-code", "icmpv6-id",
};

static const struct proto protos[] = {
    {"tcp", CT_PROTO_TCP, tcp_opts, port_flags},
    {"udp", CT_PROTO_UDP, port_opts, port_flags},
    {"udplite", CT_PROTO_UDPLITE, port_opts, port_flags},
    {"sctp", CT_PROTO_SCTP, sctp_opts, port_flags},
    {"dccp", CT_PROTO_DCCP, dccp_opts, port_flags},
    {"icmp", CT_PROTO_ICMP, icmp_opts, port_flags},
    {"icmpv6", CT_PROTO_ICMPV6, icmpv6_opts, icmpv6_flags},
    {"gre", CT_PROTO_GRE, gre_opts, gre_flags},
};
static const struct proto unknown_proto = {"unknown", 0, no_opts, port_flags};

/* The legality of protocol option `code` with command bit `cmd` (as the table above). */
static int proto_legal(int code, int cmd) {
    static const struct {
        int code;
        char row[NUM_CMDS + 1]; /* by command bit */
    } table[] = {
        {PO_SPORT, "23223020001110000003"}, {PO_DPORT, "23223020001110000003"},
        {PO_RSPORT, "23223020000110000003"}, {PO_RDPORT, "23223020000110000003"},
        {PO_MSPORT, "00000000001000000000"}, {PO_MDPORT, "00000000001000000000"},
        {PO_TSPORT, "00000000001000000000"}, {PO_TDPORT, "00000000001000000000"},
        {PO_STATE, "21222020000000000001"}, {PO_OVTAG, "01202000001000000001"},
        {PO_RVTAG, "01202000001000000001"}, {PO_ROLE, "02202000000000000002"},
        {PO_ITYPE, "21221020000000000001"}, {PO_ICODE, "21221020000000000001"},
        {PO_IID, "22222020000000000002"},
    };
    if (cmd >= NUM_CMDS) return 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == code) return table[i].row[cmd] - '0';
    return 0;
}

bool proto_has_ports(uint8_t p) {
    return p == CT_PROTO_TCP || p == CT_PROTO_UDP || p == CT_PROTO_UDPLITE || p == CT_PROTO_SCTP ||
           p == CT_PROTO_DCCP || p == CT_PROTO_GRE;
}

__attribute__((noreturn)) void unsupported(const char *what) {
    die(EXIT_OTHER, "%s is not supported by %s yet", what, progname);
}

/* --- Helpers ---------------------------------------------------------------------------- */

static struct option *opts; /* base options, then the protocol's after -p */
static const struct proto *proto;

static void set_opts(const struct proto *p) {
    size_t n = 0;
    while (p && p->opts[n].name) n++;
    free(opts);
    opts = calloc(N_BASE + n + 1, sizeof *opts);
    if (!opts) die(EXIT_OTHER, "out of memory");
    memcpy(opts, base_opts, sizeof base_opts);
    for (size_t i = 0; i < n; i++)
        opts[N_BASE + i] = (struct option){p->opts[i].name, 1, 0, PROTO_OPT + p->opts[i].code};
}

static const char *long_name(int val) {
    for (size_t i = 0; i < N_BASE; i++)
        if (base_opts[i].val == val) return base_opts[i].name;
    return "unknown";
}

/* An argument that may follow an option as the next word (conntrack's rule: only when it
 * was not attached and does not start with '-' or '!'). */
static char *optional_arg(int argc, char **argv) {
    if (optarg) return NULL;
    if (optind < argc && argv[optind][0] != '-' && argv[optind][0] != '!') return argv[optind++];
    return NULL;
}

static void add_command(struct cmdline *c, unsigned cmd) {
    if (c->command) die(EXIT_PARAMETER, "Invalid commands combination");
    c->command = cmd;
}

static int table_of(int argc, char **argv) {
    const char *t = optional_arg(argc, argv);
    if (!t) return 0;
    size_t n = strlen(t);
    if (strncmp("expect", t, n) == 0) return 1;
    if (strncmp("conntrack", t, n) == 0) return 0;
    if (strncmp("dying", t, n) == 0) return 2;
    if (strncmp("unconfirmed", t, n) == 0) return 3;
    die(EXIT_PARAMETER, "unknown type `%s'", t);
}

static void set_family(struct cmdline *c, int family) {
    if (c->family == 0)
        c->family = family;
    else if (c->family != family)
        die(EXIT_PARAMETER, "mismatched address family");
}

static void mask_bits(uint8_t *mask, size_t len, int bits) {
    for (size_t i = 0; i < len; i++) {
        int b = bits > 8 ? 8 : bits < 0 ? 0 : bits;
        mask[i] = (uint8_t)(0xff00u >> b);
        bits -= 8;
    }
}

static int prefix_of(const uint8_t *mask, size_t len) {
    int bits = 0;
    size_t i = 0;
    for (; i < len && mask[i] == 0xff; i++) bits += 8;
    if (i < len) {
        uint8_t m = mask[i];
        while (m & 0x80) {
            bits++;
            m = (uint8_t)(m << 1);
        }
        if (m) return -1;
        for (i++; i < len; i++)
            if (mask[i]) return -1;
    }
    return bits;
}

/* Parses "ADDR" or "ADDR/BITS" as conntrack does (inet_aton forms for IPv4). `bits` gets
 * -1 without a slash, -2 for a bad length. Returns the family or 0. */
static int parse_address(const char *text, struct addr *a, int *bits) {
    char buf[INET6_ADDRSTRLEN];
    snprintf(buf, sizeof buf, "%s", text);
    *bits = -1;
    char *slash = strchr(buf, '/');
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        *bits = b < 0 || *end ? -2 : (int)(b > 1000 ? 1000 : b);
        *slash = '\0';
    }
    struct in_addr v4;
    memset(a, 0, sizeof *a);
    if (inet_aton(buf, &v4)) {
        a->family = AF_INET;
        a->len = 4;
        memcpy(a->bytes, &v4, 4);
    } else if (inet_pton(AF_INET6, buf, a->bytes) > 0) {
        a->family = AF_INET6;
        a->len = 16;
    } else {
        return 0;
    }
    if (*bits > (int)a->len * 8) *bits = -2;
    a->set = true;
    a->prefix = -1;
    memset(a->mask, 0xff, a->len);
    return a->family;
}

void addr_text(const struct addr *a, char *buf, size_t len) {
    inet_ntop(a->family, a->bytes, buf, (socklen_t)len);
}

void addr_network_text(const struct addr *a, char *buf, size_t len) {
    uint8_t net[16];
    for (size_t i = 0; i < a->len; i++) net[i] = a->bytes[i] & a->mask[i];
    inet_ntop(a->family, net, buf, (socklen_t)len);
}

/* An address option: -s, -d, -r, -q (and the address of a NAT option). */
static void address_option(struct cmdline *c, int opt, const char *arg, struct addr *out,
                           bool cidr_ok, unsigned mask_opt) {
    int bits;
    struct addr a;
    int family = parse_address(arg, &a, &bits);
    if (!family) die(EXIT_PARAMETER, "Invalid IP address `%s'", arg);
    set_family(c, family);
    if (bits != -1 && !cidr_ok) die(EXIT_PARAMETER, "CIDR notation unavailable for `--%s'", long_name(opt));
    if (bits == -2) die(EXIT_PARAMETER, "Invalid netmask");
    if (bits >= 0 && bits < (int)a.len * 8) {
        mask_bits(a.mask, a.len, bits);
        a.prefix = bits;
        a.masked = true;
        c->options |= mask_opt;
    }
    *out = a;
}

/* A prefix on -s, -d, --tuple-src or --tuple-dst is also the expectation's mask (as the
 * last of them, or --mask-src/--mask-dst, gives it). */
static void exp_mask_from(struct cmdline *c, int i, const struct addr *a) {
    struct addr m = *a;
    memcpy(m.bytes, a->mask, sizeof m.bytes);
    c->exp_mask[i] = m;
}

/* "ADDR", "ADDR:PORT" or "[V6ADDR]:PORT" of --src-nat, --dst-nat and --any-nat. */
static void nat_option(struct cmdline *c, int opt, const char *arg, struct natspec *n) {
    char addr[256] = "";
    const char *port = NULL;
    const char *br = strchr(arg, '[');
    if (br) {
        const char *start = br + 1, *end = strchr(start, ']');
        if (end == start) die(EXIT_PARAMETER, "No IPv6 address specified");
        if (!end) die(EXIT_PARAMETER, "No closing ']' around IPv6 address");
        const char *colon = strchr(end, ':');
        if (colon) {
            snprintf(addr, sizeof addr, "%.*s", (int)(end - start), start);
            port = colon + 1;
        } else {
            snprintf(addr, sizeof addr, "%s", arg);
        }
    } else {
        const char *colon = strchr(arg, ':');
        if (colon && !strchr(colon + 1, ':')) {
            snprintf(addr, sizeof addr, "%.*s", (int)(colon - arg), arg);
            port = colon + 1;
        } else {
            snprintf(addr, sizeof addr, "%s", arg);
        }
    }
    if (port) {
        if (!*port) die(EXIT_PARAMETER, "No port specified after `:'");
        const char *p = port;
        while (*p && isdigit((unsigned char)*p)) p++;
        if (*p || strlen(port) > 5 || atol(port) > 65535) die(EXIT_PARAMETER, "Invalid port `%s'", port);
    }
    address_option(c, opt, addr, &n->addr, false, 0);
    n->addr_set = true;
    if (port) {
        n->port_set = true;
        n->port = (uint16_t)atoi(port);
    }
}

static const struct proto *find_proto(const char *name, uint8_t *number) {
    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++)
        if (strcasecmp(protos[i].name, name) == 0) {
            *number = protos[i].number;
            return &protos[i];
        }
    struct protoent *pe = getprotobyname(name);
    if (pe) {
        *number = (uint8_t)pe->p_proto;
        return &unknown_proto;
    }
    char *end;
    unsigned long v = strtoul(name, &end, 0);
    if (end == name || *end || v > 255) return NULL;
    *number = (uint8_t)v;
    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++)
        if (protos[i].number == v) return &protos[i];
    return &unknown_proto;
}

/* Comma-separated words, each matched case-insensitively as a prefix of a known word. */
struct word {
    const char *name;
    uint32_t value;
};

static bool one_word(const char *w, size_t len, const struct word *words, uint32_t *value) {
    if (strncasecmp(w, "SRC_NAT", len) == 0) {
        fprintf(stderr, "WARNING: ignoring SRC_NAT, use --src-nat instead\n");
        return true;
    }
    if (strncasecmp(w, "DST_NAT", len) == 0) {
        fprintf(stderr, "WARNING: ignoring DST_NAT, use --dst-nat instead\n");
        return true;
    }
    for (; words->name; words++)
        if (strncasecmp(w, words->name, len) == 0) {
            *value |= words->value;
            return true;
        }
    return false;
}

static void word_list(const char *arg, const struct word *words, uint32_t *value) {
    const char *comma;
    while ((comma = strchr(arg, ',')) != NULL) {
        if (comma == arg || !one_word(arg, (size_t)(comma - arg), words, value))
            die(EXIT_PARAMETER, "Bad parameter `%s'", arg);
        arg = comma + 1;
    }
    if (!*arg || !one_word(arg, strlen(arg), words, value)) die(EXIT_PARAMETER, "Bad parameter `%s'", arg);
}

static const struct word status_words[] = {
    {"ASSURED", IPS_ASSURED}, {"SEEN_REPLY", IPS_SEEN_REPLY}, {"UNSET", 0},
    {"FIXED_TIMEOUT", IPS_FIXED_TIMEOUT}, {"EXPECTED", IPS_EXPECTED}, {"OFFLOAD", IPS_OFFLOAD},
    {"HW_OFFLOAD", IPS_HW_OFFLOAD}, {NULL, 0},
};
static const struct word event_words[] = {
    {"ALL", CT_EVENT_ALL}, {"NEW", CT_EVENT_NEW}, {"UPDATES", CT_EVENT_UPDATE},
    {"DESTROY", CT_EVENT_DESTROY}, {NULL, 0},
};
static const struct word output_words[] = {
    {"xml", OUT_XML}, {"extended", OUT_EXT}, {"timestamp", OUT_TMS}, {"id", OUT_ID},
    {"ktimestamp", OUT_KTMS}, {"labels", OUT_LABELS}, {"userspace", 0}, {"save", OUT_SAVE},
    {NULL, 0},
};

/* -u: words, "!WORD" for a bit that must be clear, and UNREPLIED (SEEN_REPLY clear). */
static void status_list(const char *arg, uint32_t *value, uint32_t *mask) {
    for (;;) {
        const char *comma = strchr(arg, ',');
        size_t len = comma ? (size_t)(comma - arg) : strlen(arg);
        if (comma && comma == arg) die(EXIT_PARAMETER, "Bad parameter `%s'", arg);
        bool negated = *arg == '!';
        if (negated) {
            arg++;
            len--;
            if (comma && comma == arg) die(EXIT_PARAMETER, "Bad parameter `%s'", arg);
        }
        if (!negated && strncmp(arg, "UNREPLIED", 9) == 0) {
            *mask |= IPS_SEEN_REPLY;
        } else if (len == 0 || !one_word(arg, len, status_words, negated ? mask : value)) {
            die(EXIT_PARAMETER, "Bad parameter `%s'", arg);
        }
        if (!comma) return;
        arg = comma + 1;
    }
}

static void labels_option(struct cmdline *c, const char *arg, uint8_t bits[16]) {
    if (!c->labelmap && ct_labelmap_open(NULL, &c->labelmap) != CT_OK)
        fprintf(stderr, "nfct_labelmap_new: %s\n", ct_last_error_message());
    char *copy = strdup(arg), *save = NULL;
    if (!copy) die(EXIT_OTHER, "out of memory");
    for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        uint32_t bit;
        if (!c->labelmap || ct_labelmap_bit(c->labelmap, name, &bit) != CT_OK)
            die(EXIT_PARAMETER, "unknown label '%s'", name);
        bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
    }
    free(copy);
}

static void proto_option(struct cmdline *c, int code, const char *arg) {
    static const char *const tcp_states[] = {"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
                                             "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"};
    static const char *const sctp_states[] = {"NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED",
                                              "ESTABLISHED", "SHUTDOWN_SENT", "SHUTDOWN_RECD",
                                              "SHUTDOWN_ACK_SENT"};
    static const char *const dccp_states[] = {"NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN",
                                              "CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE", "INVALID"};
    c->l4flags |= 1u << code;
    bool gre = c->proto == CT_PROTO_GRE;
    uint16_t port = gre ? (uint16_t)strtoul(arg, NULL, 0) : (uint16_t)atoi(arg);
    switch (code) {
    case PO_SPORT:
    case PO_DPORT:
    case PO_RSPORT:
    case PO_RDPORT:
        c->port[code - PO_SPORT] = port;
        c->port_set[code - PO_SPORT] = true;
        break;
    case PO_STATE: {
        const char *const *names = tcp_states;
        size_t n = 10;
        if (c->proto == CT_PROTO_SCTP) names = sctp_states, n = 8;
        if (c->proto == CT_PROTO_DCCP) names = dccp_states, n = 10;
        c->state = -1;
        for (size_t i = 0; i < n; i++)
            if (strcmp(arg, names[i]) == 0) c->state = (int)i;
        if (c->proto == CT_PROTO_TCP && strcmp(arg, "LISTEN") == 0) c->state = 9;
        if (c->state < 0) {
            if (c->proto == CT_PROTO_SCTP) die(EXIT_PARAMETER, "unknown SCTP state `%s'", arg);
            if (c->proto == CT_PROTO_DCCP) die(EXIT_PARAMETER, "Unknown DCCP state `%s'", arg);
            die(EXIT_PARAMETER, "unknown TCP state `%s'", arg);
        }
        break;
    }
    case PO_ITYPE:
        c->icmp_type = (uint8_t)atoi(arg);
        c->icmp_set |= 1;
        break;
    case PO_ICODE:
        c->icmp_code = (uint8_t)atoi(arg);
        c->icmp_set |= 2;
        break;
    case PO_IID:
        c->icmp_id = (uint16_t)atoi(arg);
        c->icmp_set |= 4;
        break;
    case PO_OVTAG:
    case PO_RVTAG:
        c->vtag_set |= 1 << (code - PO_OVTAG);
        c->vtag[code - PO_OVTAG] = (uint32_t)atoi(arg);
        break;
    case PO_ROLE:
        if (strncasecmp(arg, "client", strlen(arg)) && strncasecmp(arg, "server", strlen(arg)))
            die(EXIT_PARAMETER, "Unknown DCCP role `%s'", arg);
        break;
    case PO_TSPORT:
    case PO_TDPORT:
        c->exp_port[code - PO_TSPORT] = port;
        break;
    case PO_MSPORT:
    case PO_MDPORT:
        c->exp_mask_port[code - PO_MSPORT] = port;
        break;
    default:
        break;
    }
}

/* conntrack's check of options against the command: the first illegal or missing option in
 * table order, then the tuples a '3' asks for. */
static void check_options(unsigned given, const char *row, int n, const char *const *names,
                          const unsigned coupled[2], const char *const messages[2]) {
    bool special = false;
    for (int i = 0; i < n; i++) {
        int rule = row ? row[i] - '0' : 0;
        if (!(given & (1u << i))) {
            if (rule == 1) die(EXIT_PARAMETER, "You need to supply the `--%s' option for this command", names[i]);
        } else if (rule == 0) {
            die(EXIT_PARAMETER, "Illegal option `--%s' with this command", names[i]);
        }
        if (rule == 3) special = true;
    }
    if (!special || !coupled) return;
    int partial = -1;
    for (int i = 0; i < 2; i++) {
        if ((given & coupled[i]) == coupled[i]) return;
        if ((given & coupled[i]) && partial < 0) partial = i;
    }
    die(EXIT_PARAMETER, "%s", messages[partial == 1 ? 1 : 0]);
}

static int cmd_bit(unsigned command) {
    for (int i = 0; i < NUM_CMDS; i++)
        if (command & (1u << i)) return i;
    return NUM_CMDS;
}

void check_masks(const struct cmdline *c) {
    if ((c->options & OPT_MASK_SRC) && !(c->options & OPT_ORIG_SRC))
        die(EXIT_PARAMETER, "Can't use --mask-src without --src");
    if ((c->options & OPT_MASK_DST) && !(c->options & OPT_ORIG_DST))
        die(EXIT_PARAMETER, "Can't use --mask-dst without --dst");
}

/* --- The parser ------------------------------------------------------------------------- */

void parse_cmdline(struct cmdline *c, int argc, char **argv) {
    memset(c, 0, sizeof *c);
    c->state = -1;
    c->mark_mask = 0xffffffffu;
    proto = NULL;
    set_opts(NULL);
    struct addr explicit_mask[2] = {{0}, {0}};
    bool explicit_mask_set[2] = {false, false};
    opterr = 0;
    optind = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
        switch (ch) {
        case 'L':
        case 'I':
        case 'D':
        case 'G':
        case 'F':
        case 'E':
        case 'V':
        case 'h':
        case 'C':
        case 'S':
        case 'U':
        case 'A': {
            bool takes_table = strchr("LIDGFECSUA", ch) != NULL;
            int t = takes_table ? table_of(argc, argv) : 0;
            if (ch != 'L' && t >= 2)
                die(EXIT_PARAMETER, "Can't do that command with tables `dying' and `unconfirmed'");
            static const char letters[] = "LIUDGFEVhCSA";
            static const unsigned ct_cmds[] = {CMD_LIST, CMD_CREATE, CMD_UPDATE, CMD_DELETE, CMD_GET,
                                               CMD_FLUSH, CMD_EVENT, CMD_VERSION, CMD_HELP, CMD_COUNT,
                                               CMD_STATS, CMD_ADD};
            static const unsigned exp_cmds[] = {1u << EXP_LIST_BIT, 1u << EXP_CREATE_BIT, 0,
                                                1u << EXP_DELETE_BIT, 1u << EXP_GET_BIT,
                                                1u << EXP_FLUSH_BIT, 1u << EXP_EVENT_BIT,
                                                CMD_VERSION, CMD_HELP, 1u << EXP_COUNT_BIT,
                                                1u << EXP_STATS_BIT, 0};
            size_t k = (size_t)(strchr(letters, ch) - letters);
            unsigned cmd = t == 1 ? exp_cmds[k] : ct_cmds[k];
            if (!cmd) die(EXIT_PARAMETER, "Can't do --%s on expectations", long_name(ch));
            add_command(c, cmd);
            c->table = t;
            break;
        }
        case 's':
        case 'd':
        case 'r':
        case 'q': {
            int i = ch == 's' ? CT_ORIG_SRC : ch == 'd' ? CT_ORIG_DST : ch == 'r' ? CT_REPLY_SRC : CT_REPLY_DST;
            c->options |= 1u << i;
            address_option(c, ch, optarg, &c->addr[i], i < 2, i == 0 ? OPT_MASK_SRC : OPT_MASK_DST);
            if (i < 2 && c->addr[i].masked) exp_mask_from(c, i, &c->addr[i]);
            break;
        }
        case '{':
        case '}': {
            int i = ch == '{' ? 0 : 1;
            c->options |= i == 0 ? OPT_MASK_SRC : OPT_MASK_DST;
            address_option(c, ch, optarg, &explicit_mask[i], false, 0);
            explicit_mask_set[i] = true;
            c->exp_mask[i] = explicit_mask[i];
            break;
        }
        case '[':
        case ']': {
            int i = ch == '[' ? 0 : 1;
            c->options |= ch == '[' ? OPT(EXP_SRC) : OPT(EXP_DST);
            address_option(c, ch, optarg, &c->exp_addr[i], true, i == 0 ? OPT_MASK_SRC : OPT_MASK_DST);
            if (c->exp_addr[i].masked) exp_mask_from(c, i, &c->exp_addr[i]);
            break;
        }
        case 'p':
            c->options |= OPT_PROTO;
            proto = find_proto(optarg, &c->proto);
            if (!proto) die(EXIT_PARAMETER, "`%s' unsupported protocol", optarg);
            c->proto_name = optarg;
            set_opts(proto);
            break;
        case 't':
            c->options |= OPT_TIMEOUT;
            c->timeout = (uint32_t)atol(optarg);
            break;
        case 'u': {
            c->options |= OPT_STATUS;
            uint32_t mask = 0;
            status_list(optarg, &c->status, &mask);
            c->status_kmask = mask ? mask : c->status;
            c->mark = c->status; /* as conntrack: -u overwrites the value -m checks and sets */
            break;
        }
        case 'e':
            c->options |= OPT_EVENT_MASK;
            word_list(optarg, event_words, &c->event_mask);
            break;
        case 'o': {
            c->options |= OPT_OUTPUT;
            uint32_t out = c->output;
            word_list(optarg, output_words, &out);
            c->output = out;
            if ((c->output & OUT_LABELS) && !c->labelmap) ct_labelmap_open(NULL, &c->labelmap);
            if ((c->output & OUT_SAVE) && (c->output & ~(unsigned)OUT_SAVE))
                die(EXIT_OTHER, "cannot combine save output with any other output type, use -o save only");
            break;
        }
        case 'z':
            c->options |= OPT_ZERO;
            break;
        case 'n':
        case 'g':
        case 'j': {
            c->options |= ch == 'n' ? OPT_SRC_NAT : ch == 'g' ? OPT_DST_NAT : OPT_ANY_NAT;
            char *arg = optional_arg(argc, argv);
            if (arg) {
                nat_option(c, ch, arg, ch == 'g' ? &c->dnat : &c->snat);
                if (ch == 'j') c->dnat = c->snat;
            }
            break;
        }
        case 'w':
            c->options |= OPT_ZONE;
            c->zone = (uint16_t)strtoul(optarg, NULL, 0);
            break;
        case '(':
            c->options |= OPT_ORIG_ZONE;
            c->orig_zone = (uint16_t)strtoul(optarg, NULL, 0);
            break;
        case ')':
            c->options |= OPT_REPL_ZONE;
            c->reply_zone = (uint16_t)strtoul(optarg, NULL, 0);
            break;
        case 'i':
            c->options |= OPT_ID;
            c->id = optarg ? (uint32_t)strtoul(optarg, NULL, 0) : 0;
            break;
        case 'c':
            c->options |= OPT_SECMARK;
            c->secmark = (uint32_t)strtoul(optarg, NULL, 0);
            break;
        case 'm': {
            c->options |= OPT_MARK;
            char *end;
            c->mark = (uint32_t)strtoul(optarg, &end, 0);
            c->mark_mask = *end == '/' ? (uint32_t)strtoul(end + 1, NULL, 0) : 0xffffffffu;
            c->kmark = c->mark;
            break;
        }
        case 'l':
        case '<':
        case '>': {
            c->options |= ch == 'l' ? OPT_LABEL : ch == '<' ? OPT_ADD_LABEL : OPT_DEL_LABEL;
            if ((c->options & (OPT_ADD_LABEL | OPT_DEL_LABEL)) == (OPT_ADD_LABEL | OPT_DEL_LABEL))
                die(EXIT_OTHER, "cannot use --label-add and --label-del at the same time");
            const char *arg = optarg;
            if (ch == '>') {
                char *next = optional_arg(argc, argv);
                if (!next && !arg) {
                    c->label_del_all = true;
                    if (!c->labelmap) ct_labelmap_open(NULL, &c->labelmap);
                    break;
                }
                if (next) arg = next;
            }
            if (ch == 'l') {
                labels_option(c, arg, c->label_filter);
                c->label_filter_set = true;
            } else {
                labels_option(c, arg, c->label_modify);
            }
            break;
        }
        case 'a':
            fprintf(stderr, "WARNING: ignoring -%c, deprecated option.\n", ch);
            break;
        case 'f':
            c->options |= OPT_FAMILY;
            if (strncmp(optarg, "ipv4", 4) == 0)
                set_family(c, AF_INET);
            else if (strncmp(optarg, "ipv6", 4) == 0)
                set_family(c, AF_INET6);
            else
                die(EXIT_PARAMETER, "`%s' unsupported protocol", optarg);
            break;
        case 'b':
            c->options |= OPT_BUFFERSIZE;
            c->bufsize = (size_t)atol(optarg);
            break;
        case NETNS_OPT:
            c->netns = optarg;
            break;
        case ':':
            die(EXIT_PARAMETER, "option `%s' requires an argument", argv[optind - 1]);
        case '?':
            die(EXIT_PARAMETER, "unknown option `%s'", argv[optind - 1]);
        default:
            if (ch >= PROTO_OPT && ch < PROTO_OPT + NUM_PO) proto_option(c, ch - PROTO_OPT, optarg);
            break;
        }
    }

    for (int i = 0; i < 2; i++)
        if (explicit_mask_set[i]) {
            struct addr *a = &c->addr[i];
            memcpy(a->mask, explicit_mask[i].bytes, sizeof a->mask);
            a->prefix = prefix_of(a->mask, a->len ? a->len : explicit_mask[i].len);
            a->masked = true;
        }

    switch (c->command) {
    case CMD_LIST:
    case CMD_UPDATE:
    case CMD_DELETE:
    case CMD_GET:
    case CMD_FLUSH:
    case CMD_EVENT:
        break;
    default:
        if (!c->family) c->family = AF_INET;
    }

    if ((c->options & OPT_ANY_NAT) && (c->options & (OPT_SRC_NAT | OPT_DST_NAT)))
        die(EXIT_PARAMETER, "cannot specify `--src-nat' or `--dst-nat' with `--any-nat'");
    int cmd = cmd_bit(c->command);
    static const unsigned addr_pairs[2] = {OPT_ORIG, OPT_REPL};
    static const char *const addr_msgs[2] = {"you have to specify `--src' and `--dst'",
                                             "you have to specify `--reply-src' and `--reply-dst'"};
    check_options(c->options, cmd < NUM_CMDS ? legal[cmd] : NULL, NUM_OPTS, opt_names, addr_pairs, addr_msgs);
    if (c->command != CMD_HELP && proto) {
        char row[NUM_PO + 1];
        for (int i = 0; i < NUM_PO; i++) row[i] = (char)('0' + proto_legal(i, cmd));
        row[NUM_PO] = '\0';
        /* Only the options this protocol has take part. */
        unsigned present = 0;
        for (const struct proto_opt *o = proto->opts; o->name; o++) present |= 1u << o->code;
        for (int i = 0; i < NUM_PO; i++)
            if (!(present & (1u << i))) row[i] = '2';
        static const unsigned port_pairs[2] = {(1u << PO_SPORT) | (1u << PO_DPORT),
                                               (1u << PO_RSPORT) | (1u << PO_RDPORT)};
        static const char *const port_msgs[2] = {"you have to specify `--sport' and `--dport'",
                                                 "you have to specify `--reply-src-port' and `--reply-dst-port'"};
        bool icmp = c->proto == CT_PROTO_ICMP || c->proto == CT_PROTO_ICMPV6;
        if (proto != &unknown_proto)
            check_options(c->l4flags, row, NUM_PO, proto->flag_names, icmp ? NULL : port_pairs, port_msgs);
    }
    free(opts);
    opts = NULL;
}

/* -h -p PROTO: the protocol's options, as conntrack lists them. */
static void proto_help(const struct cmdline *c) {
    static const char ports[] =
        "  --orig-port-src\t\toriginal source port\n"
        "  --orig-port-dst\t\toriginal destination port\n"
        "  --reply-port-src\t\treply source port\n"
        "  --reply-port-dst\t\treply destination port\n"
        "  --mask-port-src\t\tmask source port\n"
        "  --mask-port-dst\t\tmask destination port\n"
        "  --tuple-port-src\t\texpectation tuple src port\n"
        "  --tuple-port-src\t\texpectation tuple dst port\n";
    const char *name = proto->name;
    if (proto == &unknown_proto) {
        struct protoent *pe = getprotobynumber(c->proto);
        if (pe) name = pe->p_name;
    }
    printf("Proto `%s' help:\n", name);
    switch (proto == &unknown_proto ? 0 : c->proto) {
    case CT_PROTO_TCP:
        printf("%s  --state\t\t\tTCP state, fe. ESTABLISHED\n", ports);
        break;
    case CT_PROTO_UDP:
    case CT_PROTO_UDPLITE:
        fputs(ports, stdout);
        break;
    case CT_PROTO_SCTP:
        printf("%s  --state\t\t\tSCTP state, fe. ESTABLISHED\n"
               "  --orig-vtag\t\toriginal verification tag\n"
               "  --reply-vtag\t\treply verification tag\n",
               ports);
        break;
    case CT_PROTO_DCCP:
        printf("%s  --state\t\t\tDCCP state, fe. RESPOND\n", ports);
        break;
    case CT_PROTO_ICMP:
    case CT_PROTO_ICMPV6: {
        const char *v = c->proto == CT_PROTO_ICMPV6 ? "v6" : "";
        printf("  --icmp%s-type\t\t\ticmp%s type\n  --icmp%s-code\t\t\ticmp%s code\n"
               "  --icmp%s-id\t\t\ticmp%s id\n",
               v, v, v, v, v, v);
        break;
    }
    case CT_PROTO_GRE:
        fputs("  --orig-key-src\t\toriginal source key\n"
              "  --orig-key-dst\t\toriginal destination key\n"
              "  --reply-key-src\t\treply source key\n"
              "  --reply-key-dst\t\treply destination key\n"
              "  --mask-key-src\t\tmask source key\n"
              "  --mask-key-dst\t\tmask destination key\n"
              "  --tuple-key-src\t\texpectation tuple src key\n"
              "  --tuple-key-src\t\texpectation tuple dst key\n",
              stdout);
        break;
    default:
        fputs("  no options (unsupported)\n", stdout);
        break;
    }
}

void usage(const struct cmdline *c) {
    printf("Command line interface for the connection tracking system. Version %s\n"
           "Usage: %s [commands] [options]\n",
           ct_version(), progname);
    fputs("\nCommands:\n"
          "  -L [table] [options]\t\tList conntrack or expectation table\n"
          "  -G [table] parameters\t\tGet conntrack or expectation\n"
          "  -D [table] parameters\t\tDelete conntrack or expectation\n"
          "  -I [table] parameters\t\tCreate a conntrack or expectation\n"
          "  -U [table] parameters\t\tUpdate a conntrack\n"
          "  -E [table] [options]\t\tShow events\n"
          "  -F [table]\t\t\tFlush table\n"
          "  -C [table]\t\t\tShow counter\n"
          "  -S\t\t\t\tShow statistics\n"
          "  -R file\t\t\tRun the create, add, update, delete and flush lines of a file\n"
          "\nTables: conntrack, expect, dying, unconfirmed\n"
          "\nConntrack parameters and options:\n"
          "  -n, --src-nat ip\t\t\tsource NAT ip\n"
          "  -g, --dst-nat ip\t\t\tdestination NAT ip\n"
          "  -j, --any-nat ip\t\t\tsource or destination NAT ip\n"
          "  -m, --mark mark\t\t\tSet mark\n"
          "  -c, --secmark secmark\t\t\tSet selinux secmark\n"
          "  -e, --event-mask eventmask\t\tEvent mask, eg. NEW,DESTROY\n"
          "  -z, --zero \t\t\t\tZero counters while listing\n"
          "  -o, --output type[,...]\t\tOutput format, eg. xml\n"
          "  -l, --label label[,...]\t\tconntrack labels\n"
          "\nExpectation parameters and options:\n"
          "  --tuple-src ip\tSource address in expect tuple\n"
          "  --tuple-dst ip\tDestination address in expect tuple\n"
          "\nUpdating parameters and options:\n"
          "  --label-add label\tAdd label\n"
          "  --label-del label\tDelete label\n"
          "\nCommon parameters and options:\n"
          "  -s, --src, --orig-src ip\t\tSource address from original direction\n"
          "  -d, --dst, --orig-dst ip\t\tDestination address from original direction\n"
          "  -r, --reply-src ip\t\tSource address from reply direction\n"
          "  -q, --reply-dst ip\t\tDestination address from reply direction\n"
          "  -p, --protonum proto\t\tLayer 4 Protocol, eg. 'tcp'\n"
          "  -f, --family proto\t\tLayer 3 Protocol, eg. 'ipv6'\n"
          "  -t, --timeout timeout\t\tSet timeout\n"
          "  -u, --status status\t\tSet status, eg. ASSURED\n"
          "  -w, --zone value\t\tSet conntrack zone\n"
          "  --orig-zone value\t\tSet zone for original direction\n"
          "  --reply-zone value\t\tSet zone for reply direction\n"
          "  -b, --buffer-size\t\tNetlink socket buffer size\n"
          "  --mask-src ip\t\t\tSource mask address\n"
          "  --mask-dst ip\t\t\tDestination mask address\n"
          "  --netns name\t\t\tWork in a network namespace (a name under /run/netns or a path)\n\n",
          stdout);
    if (c && (c->options & OPT_PROTO) && proto) proto_help(c);
}

/* --- -R FILE ---------------------------------------------------------------------------- */

/* Splits a line into words as a shell would for simple quoting ("..." and '...'). */
static int split_words(char *line, char **words, int max) {
    int n = 0;
    char *out = line, *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        if (n == max) die(EXIT_PARAMETER, "too many arguments");
        words[n++] = out;
        char quote = 0;
        while (*p && (quote || (*p != ' ' && *p != '\t' && *p != '\n'))) {
            if (!quote && (*p == '"' || *p == '\'')) {
                quote = *p++;
            } else if (quote && *p == quote) {
                quote = 0;
                p++;
            } else {
                *out++ = *p++;
            }
        }
        if (*p) p++;
        *out++ = '\0';
    }
    return n;
}

int load_file(const char *argv0, const char *path, const char *netns) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) die(EXIT_PARAMETER, "Failed to open file %s for reading", path);
    size_t cap = 64, n = 0, n_kept = 0;
    struct cmdline *cmds = malloc(cap * sizeof *cmds);
    char ***kept_words = malloc(cap * sizeof *kept_words); /* freed once the lines ran */
    if (!kept_words) die(EXIT_OTHER, "OOM");
    char line[10240];
    while (cmds && fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\n' || *p == '#' || *p == '\0') continue;
        char *words[256];
        words[0] = (char *)argv0;
        int argc = 1 + split_words(p, words + 1, 254);
        words[argc] = NULL;
        if (n == cap) {
            cap *= 2;
            struct cmdline *more = realloc(cmds, cap * sizeof *cmds);
            if (!more) break;
            cmds = more;
            char ***more_kept = realloc(kept_words, cap * sizeof *kept_words);
            if (!more_kept) die(EXIT_OTHER, "OOM");
            kept_words = more_kept;
        }
        if (!quick_parse(&cmds[n], argc, words)) {
            /* The parsed command keeps pointers into its words: keep a copy of them. */
            char **kept = malloc(((size_t)argc + 1) * sizeof *kept);
            if (!kept) die(EXIT_OTHER, "OOM");
            for (int i = 0; i < argc; i++) kept[i] = strdup(words[i]);
            kept[argc] = NULL;
            kept_words[n_kept++] = kept;
            parse_cmdline(&cmds[n], argc, kept);
        }
        cmds[n].netns = netns;
        n++;
    }
    if (!cmds) die(EXIT_OTHER, "OOM");
    if (f != stdin) fclose(f);
    static const struct {
        unsigned cmd;
        const char *text;
    } refused[] = {
        {CMD_LIST, "-L"}, {CMD_GET, "-G"}, {CMD_EVENT, "-E"}, {CMD_VERSION, "-V"}, {CMD_HELP, "-h"},
        {1u << EXP_LIST_BIT, "-L expect"}, {1u << EXP_CREATE_BIT, "-C expect"},
        {1u << EXP_DELETE_BIT, "-D expect"}, {1u << EXP_GET_BIT, "-G expect"},
        {1u << EXP_FLUSH_BIT, "-F expect"}, {1u << EXP_EVENT_BIT, "-E expect"}, {CMD_COUNT, "-C"},
        {1u << EXP_COUNT_BIT, "-C expect"}, {CMD_STATS, "-S"}, {1u << EXP_STATS_BIT, "-S expect"},
    };
    for (size_t i = 0; i < n; i++) {
        if (cmds[i].command & (CMD_CREATE | CMD_ADD | CMD_UPDATE | CMD_DELETE | CMD_FLUSH)) continue;
        const char *text = "unknown";
        for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++)
            if (refused[k].cmd == cmds[i].command) text = refused[k].text;
        die(EXIT_PARAMETER, "Cannot use command `%s' with --load-file", text);
    }
    /* conntrack prints no summary for the lines of a file; their entries' lines, yes. */
    run_lines(cmds, n);
    for (size_t i = 0; i < n_kept; i++) {
        for (char **w = kept_words[i]; *w; w++) free(*w);
        free(kept_words[i]);
    }
    free(kept_words);
    free(cmds);
    fflush(stdout);
    return EXIT_SUCCESS;
}
