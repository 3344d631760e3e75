/*
 * ct-list: prints the conntrack table the way `conntrack -L` does, through libconntrack.
 *
 *   ct-list [-n NETNS] [-z ZONE] [-f ipv4|ipv6] [-p PROTO] [-o extended,id,ktimestamp]
 *
 * Each entry is one line on stdout, the same line `conntrack -L` prints for it with the
 * same options; the count of entries follows on stderr, as the tool prints it. The table
 * is streamed with ct_dump, so memory use does not grow with the size of the table.
 */
#define _POSIX_C_SOURCE 200809L /* getopt */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conntrack.h"

static void usage(FILE *out) {
    fputs("usage: ct-list [-n NETNS] [-z ZONE] [-f ipv4|ipv6] [-p PROTO] [-o FORMAT]\n"
          "  -n NETNS   list the table of a network namespace: a name under /run/netns\n"
          "             or a path such as /proc/PID/ns/net\n"
          "  -z ZONE    only entries of zone ZONE (0..65535)\n"
          "  -f FAMILY  only ipv4 or ipv6 entries\n"
          "  -p PROTO   only entries of PROTO: tcp, udp, udplite, sctp, dccp, gre, icmp,\n"
          "             icmpv6, or a protocol number\n"
          "  -o FORMAT  comma-separated: extended, id, ktimestamp (as conntrack -o)\n"
          "  -h         show this help\n",
          out);
}

/* Parses a whole decimal number no larger than `max`. */
static bool parse_number(const char *text, unsigned long max, unsigned long *out) {
    char *end;
    if (text[0] < '0' || text[0] > '9') return false; /* no sign, no spaces */
    unsigned long v = strtoul(text, &end, 10);
    if (*end != '\0' || v > max) return false;
    *out = v;
    return true;
}

static bool parse_proto(const char *text, uint8_t *out) {
    static const struct {
        const char *name;
        uint8_t number;
    } names[] = {
        {"tcp", CT_PROTO_TCP},   {"udp", CT_PROTO_UDP},   {"udplite", CT_PROTO_UDPLITE},
        {"sctp", CT_PROTO_SCTP}, {"dccp", CT_PROTO_DCCP}, {"gre", CT_PROTO_GRE},
        {"icmp", CT_PROTO_ICMP}, {"icmpv6", CT_PROTO_ICMPV6},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].number;
            return true;
        }
    }
    unsigned long n;
    if (!parse_number(text, 255, &n)) return false;
    *out = (uint8_t)n;
    return true;
}

/* Parses the words of -o, e.g. "extended,id", into CT_FORMAT_* flags. `conntrack -L`
 * shows the start time with "ktimestamp"; its "timestamp" is for events only. */
static bool parse_format(const char *text, uint32_t *flags) {
    static const struct {
        const char *word;
        uint32_t flag;
    } words[] = {
        {"extended", CT_FORMAT_EXTENDED}, {"id", CT_FORMAT_ID}, {"ktimestamp", CT_FORMAT_TIMESTAMP},
    };
    do {
        size_t len = strcspn(text, ","), i = 0;
        while (i < sizeof words / sizeof words[0] &&
               !(strlen(words[i].word) == len && strncmp(text, words[i].word, len) == 0))
            i++;
        if (i == sizeof words / sizeof words[0]) return false; /* unknown or empty word */
        *flags |= words[i].flag;
        text += len;
    } while (*text++ == ',');
    return true;
}

/* What the dump callback needs; `failed` tells main why a dump stopped early. */
struct listing {
    uint32_t flags;
    unsigned long count;
    bool failed;
};

/* Called by ct_dump for each entry: prints its line. A return other than 0 stops the dump. */
static int32_t print_entry(const ct_entry *entry, void *user_data) {
    struct listing *l = user_data;
    char line[1024]; /* holds any ordinary line */
    char *text = line;
    size_t needed;

    ct_status rc = ct_entry_format(entry, l->flags, line, sizeof line, &needed);
    if (rc == CT_ERR_BUFFER_TOO_SMALL) {
        /* A longer line: format it again into a buffer of the size the library asked for. */
        text = malloc(needed + 1);
        if (!text) {
            fputs("ct-list: out of memory\n", stderr);
            l->failed = true;
            return 1;
        }
        rc = ct_entry_format(entry, l->flags, text, needed + 1, NULL);
    }
    bool ok = rc == CT_OK;
    if (!ok) {
        fprintf(stderr, "ct-list: %s\n", ct_last_error_message());
    } else if (puts(text) == EOF) {
        perror("ct-list: stdout");
        ok = false;
    }
    if (text != line) free(text);

    if (!ok) {
        l->failed = true;
        return 1;
    }
    l->count++;
    return 0;
}

int main(int argc, char **argv) {
    const char *netns = NULL;
    unsigned long zone = 0;
    uint8_t family = 0, proto = 0;
    bool by_zone = false, by_proto = false;
    struct listing listing = {0, 0, false};
    int opt;

    while ((opt = getopt(argc, argv, "n:z:f:p:o:h")) != -1) {
        switch (opt) {
        case 'n':
            netns = optarg;
            break;
        case 'z':
            if (!parse_number(optarg, 65535, &zone)) {
                fprintf(stderr, "ct-list: bad zone '%s' (0..65535)\n", optarg);
                return 2;
            }
            by_zone = true;
            break;
        case 'f':
            if (strcmp(optarg, "ipv4") == 0) family = CT_FAMILY_IPV4;
            else if (strcmp(optarg, "ipv6") == 0) family = CT_FAMILY_IPV6;
            else {
                fprintf(stderr, "ct-list: bad family '%s' (ipv4 or ipv6)\n", optarg);
                return 2;
            }
            break;
        case 'p':
            if (!parse_proto(optarg, &proto)) {
                fprintf(stderr, "ct-list: bad protocol '%s'\n", optarg);
                return 2;
            }
            by_proto = true;
            break;
        case 'o':
            if (!parse_format(optarg, &listing.flags)) {
                fprintf(stderr, "ct-list: bad output format '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    ct_handle *h = NULL;
    ct_filter *filter = NULL;
    int exit_code = 1;

    /* Every call below returns CT_OK or an error status; on an error the library keeps a
     * description for ct_last_error_message(). Fields left unset in the filter match all. */
    ct_status rc = netns ? ct_open_netns(netns, &h) : ct_open(&h);
    if (rc == CT_OK) rc = ct_filter_new(&filter);
    if (rc == CT_OK && by_zone) rc = ct_filter_set_zone(filter, (uint32_t)zone);
    if (rc == CT_OK && family) rc = ct_filter_set_family(filter, family);
    if (rc == CT_OK && by_proto) rc = ct_filter_set_proto(filter, proto);
    if (rc != CT_OK) {
        fprintf(stderr, "ct-list: %s\n", ct_last_error_message());
        goto out;
    }

    rc = ct_dump(h, filter, print_entry, &listing);
    if (listing.failed) goto out; /* the callback stopped the dump and said why */
    if (rc == CT_ERR_DUMP_INTERRUPTED) {
        /* The lines already printed stand; a second dump would print them twice. */
        fprintf(stderr, "ct-list: the table changed during the dump; the listing may be "
                        "incomplete, run it again\n");
        goto out;
    }
    if (rc != CT_OK) {
        fprintf(stderr, "ct-list: %s\n", ct_last_error_message());
        goto out;
    }
    if (fflush(stdout) == EOF) {
        perror("ct-list: stdout");
        goto out;
    }

    /* `conntrack -L` ends with "conntrack v1.4.7 (conntrack-tools): N flow entries have
     * been shown." on stderr. The sentence is the same here, but the name and version
     * before it are this program's: claiming to be conntrack v1.4.7 would mislead whoever
     * reads a log or a bug report. Compare the text after ": " with the tool's. */
    fprintf(stderr, "ct-list v%s (libconntrack): %lu flow entries have been shown.\n",
            ct_version(), listing.count);
    exit_code = 0;
out:
    ct_filter_free(filter);
    ct_close(h);
    return exit_code;
}
