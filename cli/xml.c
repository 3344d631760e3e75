/*
 * ctrack's `-o xml`: entries and expectations in the XML of conntrack 1.4.7 (which
 * libnetfilter_conntrack writes): one <flow> element a line, between a header and a footer
 * line where conntrack prints them.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctrack.h"

const char xml_header_conntrack[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<conntrack>\n";
const char xml_header_expect[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<expect>\n";

/* A growing string: appends as snprintf would, reallocating when needed. */
void text_add(struct text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->buf ? t->cap - t->len : 0;
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (t->buf && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t want = (t->len + (size_t)n + 1) * 2;
        char *more = realloc(t->buf, want);
        if (!more) die(EXIT_OTHER, "out of memory");
        t->buf = more;
        t->cap = want;
    }
}

void text_reset(struct text *t) {
    t->len = 0;
    if (t->buf) t->buf[0] = '\0';
}

const char *l3_name(uint8_t family) {
    return family == CT_FAMILY_IPV4 ? "ipv4" : family == CT_FAMILY_IPV6 ? "ipv6" : "unknown";
}

const char *l4_name(uint8_t proto) {
    switch (proto) {
    case CT_PROTO_TCP: return "tcp";
    case CT_PROTO_UDP: return "udp";
    case CT_PROTO_UDPLITE: return "udplite";
    case CT_PROTO_ICMP: return "icmp";
    case CT_PROTO_ICMPV6: return "icmpv6";
    case CT_PROTO_SCTP: return "sctp";
    case CT_PROTO_GRE: return "gre";
    case CT_PROTO_DCCP: return "dccp";
    default: return "unknown";
    }
}

static bool has_ports(uint8_t proto) {
    return proto == CT_PROTO_TCP || proto == CT_PROTO_UDP || proto == CT_PROTO_UDPLITE ||
           proto == CT_PROTO_SCTP || proto == CT_PROTO_DCCP;
}

/* <sport>/<dport> (or the GRE keys) of the original (side 0, 1) or reply (2, 3) tuple. */
static void xml_ports(struct text *t, const ct_entry *e, uint8_t proto, int first) {
    uint16_t p;
    if (has_ports(proto)) {
        if (ct_entry_get_port(e, (uint32_t)first, &p) == CT_OK) text_add(t, "<sport>%u</sport>", p);
        if (ct_entry_get_port(e, (uint32_t)first + 1, &p) == CT_OK) text_add(t, "<dport>%u</dport>", p);
    } else if (proto == CT_PROTO_GRE) {
        if (ct_entry_get_port(e, (uint32_t)first, &p) == CT_OK) text_add(t, "<srckey>0x%x</srckey>", p);
        if (ct_entry_get_port(e, (uint32_t)first + 1, &p) == CT_OK) text_add(t, "<dstkey>0x%x</dstkey>", p);
    }
}

static void xml_addr(struct text *t, const ct_entry *e, int which, const char *tag) {
    char a[CT_ADDR_TEXT_MAX] = "";
    ct_entry_get_addr(e, (uint32_t)which, a, sizeof a);
    text_add(t, "<%s>%s</%s>", tag, a, tag);
}

static void xml_when(struct text *t) {
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm)) return;
    text_add(t, "<when><hour>%d</hour><min>%02d</min><sec>%02d</sec><wday>%d</wday><day>%d</day>"
                "<month>%d</month><year>%d</year></when>",
             tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_wday + 1, tm.tm_mday, tm.tm_mon + 1, 1900 + tm.tm_year);
}

const char *format_xml(const ct_entry *e, uint32_t event, unsigned output, struct text *t) {
    static const char *const tcp_states[] = {"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
                                             "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"};
    uint8_t fam = 0, proto = 0, st;
    uint32_t v;
    uint16_t z;
    uint64_t a, b;
    text_reset(t);
    ct_entry_get_family(e, &fam);
    ct_entry_get_proto(e, &proto);
    text_add(t, "%s", event == CT_EVENT_NEW       ? "<flow type=\"new\">"
                      : event == CT_EVENT_UPDATE  ? "<flow type=\"update\">"
                      : event == CT_EVENT_DESTROY ? "<flow type=\"destroy\">"
                                                  : "<flow>");
    for (int dir = 0; dir < 2; dir++) {
        text_add(t, "<meta direction=\"%s\">", dir ? "reply" : "original");
        text_add(t, "<layer3 protonum=\"%u\" protoname=\"%s\">", fam, l3_name(fam));
        xml_addr(t, e, dir * 2, "src");
        xml_addr(t, e, dir * 2 + 1, "dst");
        text_add(t, "</layer3><layer4 protonum=\"%u\" protoname=\"%s\">", proto, l4_name(proto));
        xml_ports(t, e, proto, dir * 2);
        text_add(t, "</layer4>");
        if (ct_entry_get_dir_zone(e, (uint32_t)dir, &z) == CT_OK) text_add(t, "<zone>%u</zone>", z);
        if (ct_entry_get_counters(e, (uint32_t)dir, &a, &b) == CT_OK)
            text_add(t, "<counters><packets>%llu</packets><bytes>%llu</bytes></counters>",
                     (unsigned long long)a, (unsigned long long)b);
        text_add(t, "</meta>");
    }
    /* The independent part: present when the entry holds any of its fields (a dump's entries
     * always hold the id). */
    size_t open_at = t->len;
    text_add(t, "<meta direction=\"independent\">");
    size_t body = t->len;
    if ((proto == CT_PROTO_TCP && ct_entry_get_tcp_state(e, &st) == CT_OK) ||
        (proto == CT_PROTO_SCTP && ct_entry_get_sctp_state(e, &st) == CT_OK) ||
        (proto == CT_PROTO_DCCP && ct_entry_get_dccp_state(e, &st) == CT_OK))
        text_add(t, "<state>%s</state>", st < 10 ? tcp_states[st] : tcp_states[0]);
    if (ct_entry_get_timeout(e, &v) == CT_OK) text_add(t, "<timeout>%u</timeout>", v);
    if (ct_entry_get_mark(e, &v) == CT_OK) text_add(t, "<mark>%u</mark>", v);
    if (ct_entry_get_secmark(e, &v) == CT_OK) text_add(t, "<secmark>%u</secmark>", v);
    if (ct_entry_get_zone(e, &z) == CT_OK) text_add(t, "<zone>%u</zone>", z);
    if (ct_entry_get_use(e, &v) == CT_OK) text_add(t, "<use>%u</use>", v);
    if (ct_entry_get_id(e, &v) == CT_OK) text_add(t, "<id>%u</id>", v);
    bool status = ct_entry_get_status(e, &v) == CT_OK;
    if (status && (v & IPS_ASSURED)) text_add(t, "<assured/>");
    if (status && !(v & IPS_SEEN_REPLY)) text_add(t, "<unreplied/>");
    uint64_t start = 0, stop = 0;
    bool has_start = ct_entry_get_timestamp_start(e, &start) == CT_OK;
    bool has_stop = ct_entry_get_timestamp_stop(e, &stop) == CT_OK;
    if ((output & OUT_KTMS) && (has_start || has_stop)) {
        text_add(t, "<timestamp>");
        if (has_start) text_add(t, "<start>%llu</start>", (unsigned long long)start);
        if (has_stop) text_add(t, "<stop>%llu</stop>", (unsigned long long)stop);
        text_add(t, "</timestamp>");
    }
    if (has_start && has_stop)
        text_add(t, "<deltatime>%llu</deltatime>", (unsigned long long)((stop - start) / 1000000000ull));
    else if (has_start)
        text_add(t, "<deltatime>%llu</deltatime>",
                 (unsigned long long)(time(NULL) - (time_t)(start / 1000000000ull)));
    if (t->len == body && !status) {
        t->len = open_at;
        t->buf[t->len] = '\0';
    } else {
        text_add(t, "</meta>");
    }
    if (output & OUT_TMS) xml_when(t);
    char helper[32];
    if (ct_entry_get_helper(e, helper, sizeof helper) == CT_OK) text_add(t, "<helper>%s</helper>", helper);
    text_add(t, "</flow>");
    return t->buf;
}

/* The expectation's three tuples as entries (NULL where it lacks one). */
struct expect_tuples {
    ct_entry *tuple, *mask, *master;
};

static void tuples_get(const ct_expect *x, struct expect_tuples *tp) {
    tp->tuple = tp->mask = tp->master = NULL;
    ct_expect_get_tuple(x, CT_EXPECT_TUPLE, &tp->tuple);
    ct_expect_get_tuple(x, CT_EXPECT_MASK, &tp->mask);
    ct_expect_get_tuple(x, CT_EXPECT_MASTER, &tp->master);
}

static void tuples_free(struct expect_tuples *tp) {
    ct_entry_free(tp->tuple);
    ct_entry_free(tp->mask);
    ct_entry_free(tp->master);
}

static uint8_t entry_proto(const ct_entry *e) {
    uint8_t p = 0;
    if (e) ct_entry_get_proto(e, &p);
    return p;
}

/* "sport=N dport=N " and the like, as conntrack prints a tuple's layer 4 part. */
static void text_l4(struct text *t, const ct_entry *e, uint8_t proto) {
    uint16_t s, d;
    if (!e) return;
    if (has_ports(proto)) {
        if (ct_entry_get_port(e, CT_ORIG_SRC, &s) == CT_OK && ct_entry_get_port(e, CT_ORIG_DST, &d) == CT_OK)
            text_add(t, "sport=%u dport=%u ", s, d);
    } else if (proto == CT_PROTO_GRE) {
        if (ct_entry_get_port(e, CT_ORIG_SRC, &s) == CT_OK && ct_entry_get_port(e, CT_ORIG_DST, &d) == CT_OK)
            text_add(t, "srckey=0x%x dstkey=0x%x ", s, d);
    } else if (proto == CT_PROTO_ICMP || proto == CT_PROTO_ICMPV6) {
        uint8_t type, code;
        uint16_t id;
        if (ct_entry_get_icmp(e, CT_DIR_ORIG, &type, &code, &id) == CT_OK)
            text_add(t, "type=%u code=%u id=%u ", type, code, id);
    }
}

static void text_addrs(struct text *t, const ct_entry *e, const char *src, const char *dst) {
    char a[CT_ADDR_TEXT_MAX] = "", b[CT_ADDR_TEXT_MAX] = "";
    if (!e) return;
    ct_entry_get_addr(e, CT_ORIG_SRC, a, sizeof a);
    ct_entry_get_addr(e, CT_ORIG_DST, b, sizeof b);
    text_add(t, "%s=%s %s=%s ", src, a, dst, b);
}

#define EXP_PERMANENT 1u
#define EXP_INACTIVE 2u
#define EXP_USERSPACE 4u

const char *format_expect(const ct_expect *x, uint32_t event, struct text *t) {
    struct expect_tuples tp;
    uint32_t v;
    text_reset(t);
    tuples_get(x, &tp);
    if (event)
        text_add(t, "%9s ", event == CT_EVENT_NEW ? "[NEW]" : event == CT_EVENT_UPDATE ? "[UPDATE]" : "[DESTROY]");
    if (ct_expect_get_timeout(x, &v) == CT_OK) text_add(t, "%u ", v);
    uint8_t proto = entry_proto(tp.tuple);
    text_add(t, "proto=%u ", proto);
    text_addrs(t, tp.tuple, "src", "dst");
    text_l4(t, tp.tuple, proto);
    text_addrs(t, tp.mask, "mask-src", "mask-dst");
    text_l4(t, tp.mask, proto);
    text_addrs(t, tp.master, "master-src", "master-dst");
    text_l4(t, tp.master, entry_proto(tp.master));
    if (ct_expect_get_zone(x, &v) == CT_OK) text_add(t, "zone=%u ", v);
    uint32_t flags = 0;
    ct_expect_get_flags(x, &flags);
    const char *sep = "";
    if (flags & EXP_PERMANENT) text_add(t, "PERMANENT"), sep = ",";
    if (flags & EXP_INACTIVE) text_add(t, "%sINACTIVE", sep), sep = ",";
    if (flags & EXP_USERSPACE) text_add(t, "%sUSERSPACE", sep);
    if (flags) text_add(t, " ");
    if (ct_expect_get_class(x, &v) == CT_OK) text_add(t, "class=%u ", v);
    char helper[32];
    if (ct_expect_get_helper(x, helper, sizeof helper) == CT_OK && helper[0]) text_add(t, "helper=%s", helper);
    if (t->len && t->buf[t->len - 1] == ' ') t->buf[--t->len] = '\0';
    tuples_free(&tp);
    return t->buf ? t->buf : "";
}

static void xml_l4_part(struct text *t, const ct_entry *e, uint8_t proto, const char *tag) {
    text_add(t, "<%s>", tag);
    if (e) xml_ports(t, e, proto, 0);
    text_add(t, "</%s>", tag);
}

static void xml_l3_part(struct text *t, const ct_entry *e, const char *tag) {
    text_add(t, "<%s>", tag);
    if (e) {
        xml_addr(t, e, CT_ORIG_SRC, "src");
        xml_addr(t, e, CT_ORIG_DST, "dst");
    }
    text_add(t, "</%s>", tag);
}

const char *format_expect_xml(const ct_expect *x, uint32_t event, unsigned output, struct text *t) {
    struct expect_tuples tp;
    uint32_t v;
    uint8_t fam = 0;
    text_reset(t);
    tuples_get(x, &tp);
    if (tp.tuple) ct_entry_get_family(tp.tuple, &fam);
    uint8_t proto = entry_proto(tp.tuple);
    text_add(t, "%s", event == CT_EVENT_NEW       ? "<flow type=\"new\">"
                      : event == CT_EVENT_UPDATE  ? "<flow type=\"update\">"
                      : event == CT_EVENT_DESTROY ? "<flow type=\"destroy\">"
                                                  : "<flow>");
    text_add(t, "<layer3 protonum=\"%u\" protoname=\"%s\">", fam, l3_name(fam));
    xml_l3_part(t, tp.tuple, "expected");
    xml_l3_part(t, tp.mask, "mask");
    xml_l3_part(t, tp.master, "master");
    text_add(t, "</layer3><layer4 protonum=\"%u\" protoname=\"%s\">", proto, l4_name(proto));
    xml_l4_part(t, tp.tuple, proto, "expected");
    xml_l4_part(t, tp.mask, proto, "mask");
    xml_l4_part(t, tp.master, entry_proto(tp.master), "master");
    text_add(t, "</layer4><meta>");
    char helper[32];
    if (ct_expect_get_helper(x, helper, sizeof helper) == CT_OK && helper[0])
        text_add(t, "<helper-name>%s</helper-name>", helper);
    if (ct_expect_get_timeout(x, &v) == CT_OK) text_add(t, "<timeout>%u</timeout>", v);
    if (ct_expect_get_class(x, &v) == CT_OK) text_add(t, "<class>%u</class>", v);
    if (ct_expect_get_zone(x, &v) == CT_OK) text_add(t, "<zone>%u</zone>", v);
    if (output & OUT_TMS) xml_when(t);
    uint32_t flags = 0;
    ct_expect_get_flags(x, &flags);
    if (flags & EXP_PERMANENT) text_add(t, "<permanent/>");
    if (flags & EXP_INACTIVE) text_add(t, "<inactive/>");
    if (flags & EXP_USERSPACE) text_add(t, "<userspace/>");
    text_add(t, "</meta></flow>");
    tuples_free(&tp);
    return t->buf;
}
