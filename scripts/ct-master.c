/*
 * Test fixture for scripts/test-cli.sh: creates a TCP or UDP entry with a helper attached in
 * a network namespace, so that expectations can be made under it. conntrack(8) 1.4.7 has no
 * option to attach a helper, and the kernel attaches one only to traffic it sees.
 * usage: ct-master NETNS tcp|udp SRC DST SPORT DPORT HELPER [ZONE]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"

int main(int argc, char **argv) {
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: %s NETNS tcp|udp SRC DST SPORT DPORT HELPER [ZONE]\n", argv[0]);
        return 2;
    }
    bool tcp = strcmp(argv[2], "tcp") == 0;
    ct_handle *h = NULL;
    ct_entry *e = NULL;
    ct_status rc = ct_open_netns(argv[1], &h);
    if (rc == CT_OK) rc = ct_entry_new(&e);
    if (rc == CT_OK) rc = ct_entry_set_proto(e, tcp ? CT_PROTO_TCP : CT_PROTO_UDP);
    if (rc == CT_OK) rc = ct_entry_set_addr(e, CT_ORIG_SRC, argv[3]);
    if (rc == CT_OK) rc = ct_entry_set_addr(e, CT_ORIG_DST, argv[4]);
    if (rc == CT_OK) rc = ct_entry_set_port(e, CT_ORIG_SRC, (uint16_t)atoi(argv[5]));
    if (rc == CT_OK) rc = ct_entry_set_port(e, CT_ORIG_DST, (uint16_t)atoi(argv[6]));
    if (rc == CT_OK) rc = ct_entry_set_helper(e, argv[7]);
    if (rc == CT_OK) rc = ct_entry_set_timeout(e, 1000);
    if (rc == CT_OK && tcp) rc = ct_entry_set_tcp_state(e, CT_TCP_STATE_ESTABLISHED);
    if (rc == CT_OK && argc == 9) rc = ct_entry_set_zone(e, (uint16_t)atoi(argv[8]));
    if (rc == CT_OK) rc = ct_create(h, e);
    if (rc != CT_OK) fprintf(stderr, "ct-master: %s: %s\n", ct_strerror(rc), ct_last_error_message());
    ct_entry_free(e);
    ct_close(h);
    return rc == CT_OK ? 0 : 1;
}
