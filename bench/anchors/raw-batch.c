/* The floor for bulk creates and deletes: ctnetlink requests for the bench entries packed
 * end to end, BATCH_BYTES of them to each sendmsg, without NLM_F_ACK, so the kernel answers
 * only the requests that fail; every error report is read and counted.
 *   raw-batch create|delete N ZONE [BATCH_BYTES]    (default 65536)
 * The entries are those of bench/ct-bench.c: UDP 10.0.x.y:1024+(i%1024) -> 10.200.0.1:53.
 * Prints "op=rawcreate|rawdelete n=... errors=... secs=... rate=.../s"; exits 1 on errors. */
#define _GNU_SOURCE /* SO_RCVBUFFORCE */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* Large enough for any one request of this workload (about 120 bytes). */
#define MAX_REQUEST 512

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void put_tuple(struct nlmsghdr *nlh, uint16_t type, uint32_t src, uint32_t dst, uint16_t sport,
                      uint16_t dport) {
    struct nlattr *tuple = mnl_attr_nest_start(nlh, type);
    struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
    mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, src);
    mnl_attr_put_u32(nlh, CTA_IP_V4_DST, dst);
    mnl_attr_nest_end(nlh, ip);
    struct nlattr *proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_UDP);
    mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, sport);
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, dport);
    mnl_attr_nest_end(nlh, proto);
    mnl_attr_nest_end(nlh, tuple);
}

/* Appends the request for entry i at buf; returns its length. */
static size_t put_request(char *buf, int create, unsigned i, uint16_t zone, uint32_t seq) {
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | (create ? IPCTNL_MSG_CT_NEW : IPCTNL_MSG_CT_DELETE);
    nlh->nlmsg_flags = NLM_F_REQUEST | (create ? NLM_F_CREATE | NLM_F_EXCL : 0);
    nlh->nlmsg_seq = seq;
    struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
    nfg->nfgen_family = AF_INET;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    uint32_t client = htonl((10u << 24) | ((i >> 10) + 1));
    uint32_t server = htonl((10u << 24) | (200u << 16) | 1);
    uint16_t cport = htons((uint16_t)(1024 + (i & 1023))), sport = htons(53);
    put_tuple(nlh, CTA_TUPLE_ORIG, client, server, cport, sport);
    if (create) {
        put_tuple(nlh, CTA_TUPLE_REPLY, server, client, sport, cport);
        mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(3600));
    }
    mnl_attr_put_u16(nlh, CTA_ZONE, htons(zone));
    return nlh->nlmsg_len;
}

/* Reads every error report already queued; the kernel handles a batch inside sendmsg, so
 * its reports are there when sendmsg returns. */
static void drain_errors(int fd, char *buf, size_t len, unsigned long *errors) {
    ssize_t got;
    while ((got = recv(fd, buf, len, MSG_DONTWAIT)) > 0) {
        int left = (int)got;
        for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(h, left);
             h = mnl_nlmsg_next(h, &left)) {
            if (h->nlmsg_type != NLMSG_ERROR) continue;
            const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
            if (e->error) {
                if (!*errors) fprintf(stderr, "request %u: %s\n", e->msg.nlmsg_seq, strerror(-e->error));
                ++*errors;
            }
        }
    }
    if (got < 0 && errno == ENOBUFS) {
        /* reports were lost: count the loss rather than hide it */
        fprintf(stderr, "error reports lost (ENOBUFS)\n");
        ++*errors;
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[1], "create") && strcmp(argv[1], "delete"))) {
        fprintf(stderr, "usage: %s create|delete N ZONE [BATCH_BYTES]\n", argv[0]);
        return 2;
    }
    int create = !strcmp(argv[1], "create");
    unsigned long n = strtoul(argv[2], NULL, 10);
    uint16_t zone = (uint16_t)strtoul(argv[3], NULL, 10);
    size_t batch = argc > 4 ? strtoul(argv[4], NULL, 10) : 65536;
    if (batch < MAX_REQUEST) batch = MAX_REQUEST;
    char *out = malloc(batch), *in = malloc(65536);
    struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
    if (!out || !in || !nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        perror("netlink socket");
        return 1;
    }
    int fd = mnl_socket_get_fd(nl), one = 1, rcvbuf = 64 << 20;
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    /* Room for every error report of a batch, should they all fail. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

    unsigned long errors = 0;
    uint32_t seq = 0;
    double t0 = now();
    for (unsigned long i = 0; i < n;) {
        size_t used = 0;
        while (i < n && used + MAX_REQUEST <= batch) used += put_request(out + used, create, (unsigned)i++, zone, ++seq);
        if (mnl_socket_sendto(nl, out, used) < 0) {
            perror("send");
            return 1;
        }
        drain_errors(fd, in, 65536, &errors);
    }
    double dt = now() - t0;
    printf("op=raw%s n=%lu errors=%lu secs=%.3f rate=%.0f/s\n", argv[1], n, errors, dt, dt > 0 ? n / dt : 0.0);
    mnl_socket_close(nl);
    free(out);
    free(in);
    return errors ? 1 : 0;
}
