/*
 * demo: libconntrack in a throwaway network namespace (run as root: `make demo`).
 *
 * It makes the three entries of OpenStack Neutron's conntrack tests in zone 10 (TCP, UDP,
 * ICMP from 1.1.1.1 to 2.2.2.2), lists them as `conntrack -L` would, then deletes them one
 * by one and shows the table after each step. The host's own table is never touched.
 */
#define _POSIX_C_SOURCE 200809L /* getpid */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conntrack.h"

#define ZONE 10
#define TIMEOUT 1234

/* Makes one entry from 1.1.1.1 to 2.2.2.2 of protocol `proto` in zone ZONE. The
 * protocol's own fields (ports, ICMP type/code/id, TCP state) are set by the caller. */
static ct_status new_entry(uint8_t proto, ct_entry **entry_out) {
    ct_entry *e = NULL;
    ct_status rc = ct_entry_new(&e);
    if (rc == CT_OK) rc = ct_entry_set_proto(e, proto);
    if (rc == CT_OK) rc = ct_entry_set_addr(e, CT_ORIG_SRC, "1.1.1.1");
    if (rc == CT_OK) rc = ct_entry_set_addr(e, CT_ORIG_DST, "2.2.2.2");
    if (rc == CT_OK) rc = ct_entry_set_timeout(e, TIMEOUT);
    if (rc == CT_OK) rc = ct_entry_set_zone(e, ZONE);
    if (rc != CT_OK) {
        ct_entry_free(e);
        return rc;
    }
    *entry_out = e;
    return CT_OK;
}

/* Sets the ports of both tuples (the reply tuple defaults to the inverse of these). */
static ct_status set_ports(ct_entry *e, uint16_t sport, uint16_t dport) {
    ct_status rc = ct_entry_set_port(e, CT_ORIG_SRC, sport);
    if (rc == CT_OK) rc = ct_entry_set_port(e, CT_ORIG_DST, dport);
    return rc;
}

/* Prints the whole table of the namespace, one `conntrack -L` line per entry. */
static ct_status show_table(ct_handle *h) {
    ct_entry_list *list = NULL;
    ct_status rc = ct_list(h, NULL, &list); /* NULL filter: every entry */
    if (rc != CT_OK) return rc;
    size_t n = ct_entry_list_len(list);
    for (size_t i = 0; i < n && rc == CT_OK; i++) {
        char line[512];
        rc = ct_entry_format(ct_entry_list_get(list, i), 0, line, sizeof line, NULL);
        if (rc == CT_OK) printf("%s\n", line);
    }
    if (n == 0) printf("(the table is empty)\n");
    ct_entry_list_free(list); /* frees the entries too */
    return rc;
}

/* The demo proper, in the namespace `netns`; returns 0 on success. */
static int run(const char *netns) {
    ct_handle *h = NULL;
    ct_entry *tcp = NULL, *udp = NULL, *icmp = NULL;
    const char *step = "open a ctnetlink socket in the namespace";
    int result = 1;

    ct_status rc = ct_open_netns(netns, &h);
    if (rc != CT_OK) goto fail;

    /* Build the three entries. Only the original tuple is given: the library sends the
     * reply tuple as its inverse. */
    step = "build the entries";
    rc = new_entry(CT_PROTO_TCP, &tcp);
    if (rc == CT_OK) rc = set_ports(tcp, 1, 2);
    if (rc == CT_OK) rc = ct_entry_set_tcp_state(tcp, CT_TCP_STATE_ESTABLISHED);
    if (rc == CT_OK) rc = new_entry(CT_PROTO_UDP, &udp);
    if (rc == CT_OK) rc = set_ports(udp, 4, 5);
    if (rc == CT_OK) rc = new_entry(CT_PROTO_ICMP, &icmp);
    if (rc == CT_OK) rc = ct_entry_set_icmp(icmp, CT_DIR_ORIG, 8, 0, 3333); /* echo request */
    if (rc != CT_OK) goto fail;

    printf("\n== 1. Create a TCP, a UDP and an ICMP entry in zone %d\n", ZONE);
    step = "create the TCP entry";
    rc = ct_create(h, tcp);
    if (rc != CT_OK) goto fail;
    step = "create the UDP entry";
    rc = ct_create(h, udp);
    if (rc != CT_OK) goto fail;
    step = "create the ICMP entry";
    rc = ct_create(h, icmp);
    if (rc != CT_OK) goto fail;
    step = "list the table";
    if ((rc = show_table(h)) != CT_OK) goto fail;

    /* An entry is deleted by its original tuple and zone: the entry it was created from
     * serves as the key. */
    printf("\n== 2. Delete the ICMP entry\n");
    step = "delete the ICMP entry";
    if ((rc = ct_delete(h, icmp)) != CT_OK) goto fail;
    step = "list the table";
    if ((rc = show_table(h)) != CT_OK) goto fail;

    printf("\n== 3. Delete the TCP entry\n");
    step = "delete the TCP entry";
    if ((rc = ct_delete(h, tcp)) != CT_OK) goto fail;
    step = "list the table";
    if ((rc = show_table(h)) != CT_OK) goto fail;

    printf("\n== 4. Delete the UDP entry: the table is empty again\n");
    step = "delete the UDP entry";
    if ((rc = ct_delete(h, udp)) != CT_OK) goto fail;
    step = "list the table";
    if ((rc = show_table(h)) != CT_OK) goto fail;

    result = 0;
    goto out;
fail:
    fprintf(stderr, "demo: cannot %s: %s (%s)\n", step, ct_strerror(rc), ct_last_error_message());
out:
    ct_entry_free(tcp);
    ct_entry_free(udp);
    ct_entry_free(icmp);
    ct_close(h);
    return result;
}

int main(void) {
    char netns[64], cmd[128];
    snprintf(netns, sizeof netns, "ct-demo-%ld", (long)getpid());

    printf("libconntrack %s demo, in the throwaway network namespace %s\n", ct_version(), netns);
    fflush(stdout); /* before the output of the commands below */
    snprintf(cmd, sizeof cmd, "ip netns add %s", netns);
    if (system(cmd) != 0) {
        fprintf(stderr, "demo: `%s` failed (the demo needs root and iproute2)\n", cmd);
        return 1;
    }

    int result = run(netns);

    fflush(stdout);
    snprintf(cmd, sizeof cmd, "ip netns del %s", netns);
    if (system(cmd) != 0) {
        fprintf(stderr, "demo: `%s` failed; remove the namespace by hand\n", cmd);
        result = 1;
    }
    if (result == 0) printf("\n== Done: the namespace %s is gone.\n", netns);
    return result;
}
