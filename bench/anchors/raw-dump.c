/* The floor for a dump: ctnetlink is asked for the whole table and the messages that come
 * back are counted; no attribute is decoded. With ZONE, the request carries CTA_ZONE and
 * the kernel filters (kernels 6.8 and later; older ones ignore it and send everything).
 *   raw-dump [ZONE] [RECV_BYTES]    (ZONE -1: none; RECV_BYTES per recv, default 65536)
 * Prints "op=rawdump zone=Z n=... secs=... rate=.../s"; exits 1 if the dump failed. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int count_message(const struct nlmsghdr *nlh, void *data) {
    (void)nlh;
    ++*(unsigned long *)data;
    return MNL_CB_OK;
}

int main(int argc, char **argv) {
    long zone = argc > 1 ? strtol(argv[1], NULL, 10) : -1;
    size_t len = argc > 2 ? strtoul(argv[2], NULL, 10) : 65536;
    if (len < 8192) len = 8192; /* the kernel sends dump datagrams of up to a page or more */
    char *buf = malloc(len);
    struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
    if (!buf || !nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        perror("netlink socket");
        return 1;
    }
    unsigned portid = mnl_socket_get_portid(nl), seq = (unsigned)time(NULL);

    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    if (zone >= 0) mnl_attr_put_u16(nlh, CTA_ZONE, htons((uint16_t)zone));

    unsigned long n = 0;
    int rc = 0;
    double t0 = now();
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        perror("send");
        return 1;
    }
    for (;;) {
        ssize_t got = mnl_socket_recvfrom(nl, buf, len);
        if (got < 0) {
            rc = -1;
            break;
        }
        /* mnl_cb_run checks port id and sequence and stops at NLMSG_DONE or an error. */
        rc = mnl_cb_run(buf, (size_t)got, seq, portid, count_message, &n);
        if (rc <= MNL_CB_STOP) break;
    }
    double dt = now() - t0;
    if (rc < 0) perror("dump");
    printf("op=rawdump zone=%ld n=%lu secs=%.3f rate=%.0f/s\n", zone, n, dt, dt > 0 ? n / dt : 0.0);
    mnl_socket_close(nl);
    free(buf);
    return rc < 0 ? 1 : 0;
}
