/*
 * conntrack.h - libconntrack, Linux connection tracking through ctnetlink.
 *
 * Generated from the Rust sources by cbindgen (build.rs); do not edit.
 * Regenerate with `make header`.
 *
 * Conventions, once for the whole API:
 * - Every fallible function returns a ct_status; CT_OK is 0.
 * - Results come back through parameters ending in _out, written only on CT_OK.
 * - Objects are made and freed only by the library; every *_free(NULL) is a no-op.
 * - Pointers passed in are borrowed for the call only unless the function says otherwise.
 * - Threads: a ct_handle is used by one thread at a time; separate handles are independent
 *   and may be used from different threads at once. ct_entry, ct_filter and ct_entry_list
 *   objects are plain data: read-only use may be shared, mutation needs one owner.
 * - On an error, ct_last_error_message() (per thread) and the last error of the object the
 *   call ran on describe it: errno, and the kernel's extended-ack text when it sent one. The
 *   objects that keep one: ct_handle (ct_handle_last_error: the failures of the requests it
 *   runs, and its CT_ERR_BUSY), ct_cursor (ct_cursor_last_error: its dump's failures, which
 *   are its handle's too, its CT_ERR_BUSY and a view size it refused), ct_events
 *   (ct_events_last_error), ct_expect_events (ct_expect_events_last_error) and ct_mirror
 *   (ct_mirror_last_error). The plain-data objects (ct_entry, ct_filter, ct_filters,
 *   ct_entry_list, ct_batch, ct_expect, ct_labelmap) keep none: a call on one of them alone
 *   records its error for the thread only. The thread's only, too: a constructor's error (no
 *   object yet), a NULL argument (found before the object is looked at), CT_ERR_BUFFER_TOO_SMALL
 *   of a text written into the caller's buffer, and the CT_ERR_BUSY of a call during which
 *   another thread freed its cursor (no cursor is left).
 * - Callbacks say whether to go on, in each language's own form, mapped the same way:
 *     language  callbacks                                          go on          stop
 *     C         ct_dump_cb, ct_expect_cb, ct_event_cb,               return 0       non-zero
 *               ct_expect_event_cb, ct_mirror_cb
 *     Rust      dump_entries, dump_expectations, Listener::receive,  Continue(())   Break(())
 *               ExpectListener::receive, Mirror::step and run
 *     Go        Conn.Dump, Conn.DumpAny                              true           false
 *     Python    dump_each, dump_each_any, Mirror.step               None or True   False
 */

#ifndef CONNTRACK_H
#define CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Version of the library this header belongs to. */
#define CT_VERSION_MAJOR 0
#define CT_VERSION_MINOR 1
#define CT_VERSION_PATCH 0

/* Status codes and errors ===================================================
 * Every fallible function returns a ct_status. The detail of a failure (errno, and the
 * kernel's extended-ack text) is kept per thread and per handle. */
/**
 * The result of every fallible function. CT_OK is 0; the other numbers never change
 * meaning and are never reused.
 */
enum ct_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : int32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /**
   * Success.
   */
  CT_OK = 0,
  /**
   * An argument cannot be right (out of range, wrong family, not an address, ...).
   */
  CT_ERR_INVALID_ARGUMENT = 1,
  /**
   * A required pointer argument was NULL.
   */
  CT_ERR_NULL_POINTER = 2,
  /**
   * No such entry (kernel ENOENT), or no such object.
   */
  CT_ERR_NOT_FOUND = 3,
  /**
   * The entry already exists (kernel EEXIST).
   */
  CT_ERR_EXISTS = 4,
  /**
   * Permission denied: the caller lacks CAP_NET_ADMIN in the network namespace.
   */
  CT_ERR_PERMISSION = 5,
  /**
   * The caller's buffer is too small; the function says how much it needs.
   */
  CT_ERR_BUFFER_TOO_SMALL = 6,
  /**
   * The kernel flagged a dump as interrupted; run it again.
   */
  CT_ERR_DUMP_INTERRUPTED = 7,
  /**
   * The running kernel does not support the request.
   */
  CT_ERR_UNSUPPORTED = 8,
  /**
   * A network namespace could not be opened or entered.
   */
  CT_ERR_NETNS = 9,
  /**
   * Any other error from the kernel; ct_last_errno() has its errno.
   */
  CT_ERR_KERNEL = 10,
  /**
   * The kernel's answer could not be decoded.
   */
  CT_ERR_MALFORMED = 11,
  /**
   * A bug in libconntrack (a caught panic); the handle may be unusable.
   */
  CT_ERR_INTERNAL = 12,
  /**
   * The entry does not hold the field asked for. An answer rather than a failure: getters
   * returning it leave ct_last_error_message() as it was.
   */
  CT_ERR_NOT_SET = 13,
  /**
   * The socket's receive buffer overflowed: answers or events were lost.
   */
  CT_ERR_OVERRUN = 14,
  /**
   * The handle is in use by another thread at this moment.
   */
  CT_ERR_BUSY = 15,
  /**
   * The kernel had no room for a new entry (ENOMEM): the table is full
   * (net.netfilter.nf_conntrack_max reached) or kernel memory ran out. Delete entries or
   * raise the limit, then retry; the handle stays usable.
   */
  CT_ERR_TABLE_FULL = 16,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum ct_status ct_status;
#else
typedef int32_t ct_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * A sentence describing `status`. Returns a static string, never NULL ("unknown status"
 * for a number the library does not know); do not free it.
 */
const char *ct_strerror(int32_t status);

/**
 * The detail of the calling thread's most recent failed ct_ call: what was done, the
 * system's text for the errno, and the kernel's extended-ack message when it sent one.
 * Success does not clear it. Returns "" before any failure, never NULL. The string
 * belongs to the library and stays valid until the next failure on this thread.
 */
const char *ct_last_error_message(void);

/**
 * The errno of the calling thread's most recent failed ct_ call (positive, e.g. ENOENT),
 * or 0 when that failure had none.
 */
int32_t ct_last_errno(void);

/**
 * The library's version as text ("0.1.0"); the header's CT_VERSION_* give the version it
 * was compiled against. Returns a static string; do not free it.
 */
const char *ct_version(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Handle ====================================================================
 * A ctnetlink socket in one network namespace, and what its kernel supports. */
/**
 * An open ctnetlink socket in one network namespace. A ct_handle is used by one thread at
 * a time; separate handles are independent and may be used from different threads at
 * once. A call on a handle that another thread is using at that moment fails with
 * CT_ERR_BUSY instead of corrupting it.
 */
typedef struct ct_handle ct_handle;

/**
 * What the library found the handle's kernel to accept. Version numbers are a floor, not
 * proof; where a dump shows a feature missing (a zone filter the kernel ignored), the
 * finding replaces the version's promise. Every filter is applied by the library as well, so
 * results never depend on these; they tell what runs in the kernel and what falls back.
 */
typedef struct {
  /**
   * Kernel major version (0 when unknown).
   */
  uint32_t version_major;
  /**
   * Kernel minor version.
   */
  uint32_t version_minor;
  /**
   * Dumps are filtered by zone in the kernel (6.8).
   */
  bool zone_dump_filter;
  /**
   * Dumps are filtered by original tuple through CTA_FILTER (5.8).
   */
  bool tuple_dump_filter;
  /**
   * Dumps are filtered by reply tuple (5.16).
   */
  bool reply_tuple_dump_filter;
  /**
   * Dumps are filtered by status bits (5.15).
   */
  bool status_dump_filter;
  /**
   * A flush removes exactly what a filter matches (6.12); otherwise filtered flushes run
   * as a dump and batched deletes.
   */
  bool filtered_flush;
} ct_features;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Opens a ctnetlink socket in the caller's network namespace. On CT_OK, `*h_out` is a new
 * handle owned by the caller; close it with ct_close. On error `*h_out` is unchanged.
 */
ct_status ct_open(ct_handle **h_out);

/**
 * Opens a ctnetlink socket inside the network namespace `netns`: a name under /run/netns
 * (as `ip netns add` makes) or a path such as /proc/PID/ns/net. The calling thread never
 * changes namespace (a helper thread makes the socket). CT_ERR_NETNS when the namespace
 * cannot be opened or entered. On CT_OK, `*h_out` is a new handle owned by the caller;
 * close it with ct_close. `netns` is borrowed for the call only.
 */
ct_status ct_open_netns(const char *netns, ct_handle **h_out);

/**
 * Closes `h` and frees it. Passing NULL does nothing. Closing a handle from the callback of
 * a call on it, or while a cursor on it is open, takes effect when that call returns (a dump
 * stops at its next entry) or the cursor ends. Using or closing a handle after it was
 * closed is undefined, and so is closing it while another thread may still call it.
 */
void ct_close(ct_handle *h);

/**
 * Sets the socket's receive buffer to about `bytes` (the kernel doubles the value and
 * applies its own minimum; without CAP_NET_ADMIN, net.core.rmem_max caps it). The default is
 * 8 MiB. Batches size each sendmsg to what this buffer can answer, so a small buffer costs
 * more system calls, never lost outcomes.
 */
ct_status ct_handle_set_receive_buffer(ct_handle *h, size_t bytes);

/**
 * The detail of the last error of an operation on `h` (same text as
 * ct_last_error_message gave on the thread that made the call), or "" when none failed.
 * Use it when the caller may have changed threads (Go). Returns NULL only for a NULL
 * handle. The string belongs to `h` and stays valid until the next failed call on `h`.
 */
const char *ct_handle_last_error(const ct_handle *h);

/**
 * The errno of the last failed operation on `h` (0 when none, or for a NULL handle).
 */
int32_t ct_handle_last_errno(const ct_handle *h);

/**
 * What the handle's kernel accepts, into `*features_out`.
 */
ct_status ct_kernel_features(ct_handle *h, ct_features *features_out);

/**
 * The same as text, one "feature: yes|no" line each ("zone filter: no" on a 6.1 kernel),
 * for logs and bug reports; snprintf-style sizing as ct_entry_format.
 */
ct_status ct_kernel_features_text(ct_handle *h, char *buf, size_t len, size_t *needed_out);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Entry =====================================================================
 * A conntrack entry: make it, set and read its fields, write it as text. */
/**
 * Address family IPv4 (AF_INET).
 */
#define CT_FAMILY_IPV4 2

/**
 * Address family IPv6 (AF_INET6).
 */
#define CT_FAMILY_IPV6 10

/**
 * Protocol number of ICMP.
 */
#define CT_PROTO_ICMP 1

/**
 * Protocol number of TCP.
 */
#define CT_PROTO_TCP 6

/**
 * Protocol number of UDP.
 */
#define CT_PROTO_UDP 17

/**
 * Protocol number of DCCP.
 */
#define CT_PROTO_DCCP 33

/**
 * Protocol number of GRE.
 */
#define CT_PROTO_GRE 47

/**
 * Protocol number of ICMPv6.
 */
#define CT_PROTO_ICMPV6 58

/**
 * Protocol number of SCTP.
 */
#define CT_PROTO_SCTP 132

/**
 * Protocol number of UDP-Lite.
 */
#define CT_PROTO_UDPLITE 136

/**
 * Direction selector: the original tuple.
 */
#define CT_DIR_ORIG 0

/**
 * Direction selector: the reply tuple.
 */
#define CT_DIR_REPLY 1

/**
 * Address/port selector: source of the original tuple.
 */
#define CT_ORIG_SRC 0

/**
 * Address/port selector: destination of the original tuple.
 */
#define CT_ORIG_DST 1

/**
 * Address/port selector: source of the reply tuple.
 */
#define CT_REPLY_SRC 2

/**
 * Address/port selector: destination of the reply tuple.
 */
#define CT_REPLY_DST 3

/**
 * Status bit: an expected connection (a helper's expectation matched).
 */
#define CT_STATUS_EXPECTED (1 << 0)

/**
 * Status bit: packets were seen in both directions.
 */
#define CT_STATUS_SEEN_REPLY (1 << 1)

/**
 * Status bit: assured (never early-dropped).
 */
#define CT_STATUS_ASSURED (1 << 2)

/**
 * Status bit: confirmed (in the table).
 */
#define CT_STATUS_CONFIRMED (1 << 3)

/**
 * Status bit: source NAT applies.
 */
#define CT_STATUS_SRC_NAT (1 << 4)

/**
 * Status bit: destination NAT applies.
 */
#define CT_STATUS_DST_NAT (1 << 5)

/**
 * Status bit: TCP sequence numbers are adjusted (a helper changed the payload).
 */
#define CT_STATUS_SEQ_ADJUST (1 << 6)

/**
 * Status bit: source NAT set up.
 */
#define CT_STATUS_SRC_NAT_DONE (1 << 7)

/**
 * Status bit: destination NAT set up.
 */
#define CT_STATUS_DST_NAT_DONE (1 << 8)

/**
 * Status bit: being destroyed.
 */
#define CT_STATUS_DYING (1 << 9)

/**
 * Status bit: the timeout is fixed (not refreshed by traffic).
 */
#define CT_STATUS_FIXED_TIMEOUT (1 << 10)

/**
 * Status bit: a template, not a connection.
 */
#define CT_STATUS_TEMPLATE (1 << 11)

/**
 * Status bit: untracked (notrack).
 */
#define CT_STATUS_UNTRACKED (1 << 12)

/**
 * Status bit: a helper was attached explicitly.
 */
#define CT_STATUS_HELPER (1 << 13)

/**
 * Status bit: offloaded to a flowtable.
 */
#define CT_STATUS_OFFLOAD (1 << 14)

/**
 * Status bit: offloaded to hardware.
 */
#define CT_STATUS_HW_OFFLOAD (1 << 15)

/**
 * TCP state NONE (the kernel's TCP_CONNTRACK_NONE).
 */
#define CT_TCP_STATE_NONE 0

/**
 * TCP state SYN_SENT (the kernel's TCP_CONNTRACK_SYN_SENT).
 */
#define CT_TCP_STATE_SYN_SENT 1

/**
 * TCP state SYN_RECV (the kernel's TCP_CONNTRACK_SYN_RECV).
 */
#define CT_TCP_STATE_SYN_RECV 2

/**
 * TCP state ESTABLISHED (the kernel's TCP_CONNTRACK_ESTABLISHED).
 */
#define CT_TCP_STATE_ESTABLISHED 3

/**
 * TCP state FIN_WAIT (the kernel's TCP_CONNTRACK_FIN_WAIT).
 */
#define CT_TCP_STATE_FIN_WAIT 4

/**
 * TCP state CLOSE_WAIT (the kernel's TCP_CONNTRACK_CLOSE_WAIT).
 */
#define CT_TCP_STATE_CLOSE_WAIT 5

/**
 * TCP state LAST_ACK (the kernel's TCP_CONNTRACK_LAST_ACK).
 */
#define CT_TCP_STATE_LAST_ACK 6

/**
 * TCP state TIME_WAIT (the kernel's TCP_CONNTRACK_TIME_WAIT).
 */
#define CT_TCP_STATE_TIME_WAIT 7

/**
 * TCP state CLOSE (the kernel's TCP_CONNTRACK_CLOSE).
 */
#define CT_TCP_STATE_CLOSE 8

/**
 * TCP state SYN_SENT2 (the kernel's TCP_CONNTRACK_SYN_SENT2).
 */
#define CT_TCP_STATE_SYN_SENT2 9

/**
 * SCTP state NONE (the kernel's SCTP_CONNTRACK_NONE).
 */
#define CT_SCTP_STATE_NONE 0

/**
 * SCTP state CLOSED (the kernel's SCTP_CONNTRACK_CLOSED).
 */
#define CT_SCTP_STATE_CLOSED 1

/**
 * SCTP state COOKIE_WAIT (the kernel's SCTP_CONNTRACK_COOKIE_WAIT).
 */
#define CT_SCTP_STATE_COOKIE_WAIT 2

/**
 * SCTP state COOKIE_ECHOED (the kernel's SCTP_CONNTRACK_COOKIE_ECHOED).
 */
#define CT_SCTP_STATE_COOKIE_ECHOED 3

/**
 * SCTP state ESTABLISHED (the kernel's SCTP_CONNTRACK_ESTABLISHED).
 */
#define CT_SCTP_STATE_ESTABLISHED 4

/**
 * SCTP state SHUTDOWN_SENT (the kernel's SCTP_CONNTRACK_SHUTDOWN_SENT).
 */
#define CT_SCTP_STATE_SHUTDOWN_SENT 5

/**
 * SCTP state SHUTDOWN_RECD (the kernel's SCTP_CONNTRACK_SHUTDOWN_RECD).
 */
#define CT_SCTP_STATE_SHUTDOWN_RECD 6

/**
 * SCTP state SHUTDOWN_ACK_SENT (the kernel's SCTP_CONNTRACK_SHUTDOWN_ACK_SENT).
 */
#define CT_SCTP_STATE_SHUTDOWN_ACK_SENT 7

/**
 * SCTP state HEARTBEAT_SENT (the kernel's SCTP_CONNTRACK_HEARTBEAT_SENT).
 */
#define CT_SCTP_STATE_HEARTBEAT_SENT 8

/**
 * SCTP state HEARTBEAT_ACKED (the kernel's SCTP_CONNTRACK_HEARTBEAT_ACKED).
 */
#define CT_SCTP_STATE_HEARTBEAT_ACKED 9

/**
 * DCCP state NONE (the kernel's CT_DCCP_NONE).
 */
#define CT_DCCP_STATE_NONE 0

/**
 * DCCP state REQUEST (the kernel's CT_DCCP_REQUEST).
 */
#define CT_DCCP_STATE_REQUEST 1

/**
 * DCCP state RESPOND (the kernel's CT_DCCP_RESPOND).
 */
#define CT_DCCP_STATE_RESPOND 2

/**
 * DCCP state PARTOPEN (the kernel's CT_DCCP_PARTOPEN).
 */
#define CT_DCCP_STATE_PARTOPEN 3

/**
 * DCCP state OPEN (the kernel's CT_DCCP_OPEN).
 */
#define CT_DCCP_STATE_OPEN 4

/**
 * DCCP state CLOSEREQ (the kernel's CT_DCCP_CLOSEREQ).
 */
#define CT_DCCP_STATE_CLOSEREQ 5

/**
 * DCCP state CLOSING (the kernel's CT_DCCP_CLOSING).
 */
#define CT_DCCP_STATE_CLOSING 6

/**
 * DCCP state TIMEWAIT (the kernel's CT_DCCP_TIMEWAIT).
 */
#define CT_DCCP_STATE_TIMEWAIT 7

/**
 * DCCP state IGNORE (the kernel's CT_DCCP_IGNORE).
 */
#define CT_DCCP_STATE_IGNORE 8

/**
 * DCCP state INVALID (the kernel's CT_DCCP_INVALID).
 */
#define CT_DCCP_STATE_INVALID 9

/**
 * Text option of ct_entry_format: the `-o extended` form (layer-3 columns first).
 */
#define CT_FORMAT_EXTENDED 1

/**
 * Text option of ct_entry_format: append the kernel id as `-o id` does.
 */
#define CT_FORMAT_ID 2

/**
 * Text option of ct_entry_format: the start/stop timestamps as `-o ktimestamp` does
 * (conntrack's `-o timestamp` only stamps event lines).
 */
#define CT_FORMAT_TIMESTAMP 4

/**
 * Size that holds any address as text, NUL included (INET6_ADDRSTRLEN).
 */
#define CT_ADDR_TEXT_MAX 46

/**
 * Fields ct_entry_unset can clear.
 */
#define CT_FIELD_ID 1

/**
 * The mark.
 */
#define CT_FIELD_MARK 2

/**
 * The status bits.
 */
#define CT_FIELD_STATUS 3

/**
 * The timeout.
 */
#define CT_FIELD_TIMEOUT 4

/**
 * The zone (an entry without one is in zone 0).
 */
#define CT_FIELD_ZONE 5

/**
 * The labels (and which of them an update changes).
 */
#define CT_FIELD_LABELS 6

/**
 * The TCP, SCTP and DCCP protocol states.
 */
#define CT_FIELD_PROTO_STATE 7

/**
 * The reply tuple (a create then uses the inverse of the original).
 */
#define CT_FIELD_REPLY 8

/**
 * The helper name.
 */
#define CT_FIELD_HELPER 9

/**
 * A conntrack entry: plain data owned by whoever made it (ct_entry_new, ct_entry_clone,
 * ct_get) or by the list or callback that hands it out.
 */
typedef struct ct_entry ct_entry;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Makes an empty entry. On CT_OK, `*entry_out` is a new entry owned by the caller; free it
 * with ct_entry_free. On error `*entry_out` is unchanged.
 */
ct_status ct_entry_new(ct_entry **entry_out);

/**
 * Removes field `field` (CT_FIELD_*) from `entry`, so requests no longer carry it: for
 * example an entry read from the kernel, without its id, deletes whatever entry holds the
 * tuple now. CT_ERR_INVALID_ARGUMENT for an unknown field.
 */
ct_status ct_entry_unset(ct_entry *entry, uint32_t field);

/**
 * Copies `entry` (for example one handed to a dump callback). On CT_OK, `*entry_out` is a
 * new entry owned by the caller; free it with ct_entry_free.
 */
ct_status ct_entry_clone(const ct_entry *entry, ct_entry **entry_out);

/**
 * Frees an entry made by ct_entry_new, ct_entry_clone or ct_get. Passing NULL does
 * nothing; freeing the same entry twice, or one that belongs to a list, is undefined.
 */
void ct_entry_free(ct_entry *entry);

/**
 * Sets the layer-3 family: CT_FAMILY_IPV4 or CT_FAMILY_IPV6. Setting an address also sets
 * it. CT_ERR_INVALID_ARGUMENT for another number or one that contradicts an address.
 */
ct_status ct_entry_set_family(ct_entry *entry, uint8_t family);

/**
 * Gets the layer-3 family (as set, or implied by an address).
 */
ct_status ct_entry_get_family(const ct_entry *entry, uint8_t *family_out);

/**
 * Sets the layer-4 protocol number (CT_PROTO_TCP, ... or any other number) of both
 * tuples. CT_ERR_INVALID_ARGUMENT when it contradicts ports or ICMP fields already set, or
 * ICMP on IPv6 (use ICMPv6) and the reverse.
 */
ct_status ct_entry_set_proto(ct_entry *entry, uint8_t proto);

/**
 * Gets the layer-4 protocol number.
 */
ct_status ct_entry_get_proto(const ct_entry *entry, uint8_t *proto_out);

/**
 * Sets an address from text ("1.1.1.1", "fe80::1"). `which` is CT_ORIG_SRC, CT_ORIG_DST,
 * CT_REPLY_SRC or CT_REPLY_DST. CT_ERR_INVALID_ARGUMENT for text that is no address or an
 * address of the other family. `addr` is borrowed for the call only.
 */
ct_status ct_entry_set_addr(ct_entry *entry, uint32_t which, const char *addr);

/**
 * Sets an address from raw bytes in network order: 4 bytes for IPv4, 16 for IPv6.
 * CT_ERR_INVALID_ARGUMENT for another length or the other family.
 */
ct_status ct_entry_set_addr_bytes(ct_entry *entry,
                                  uint32_t which,
                                  const uint8_t *bytes,
                                  size_t len);

/**
 * Writes an address as text into `buf` (`len` bytes, NUL included; CT_ADDR_TEXT_MAX
 * always suffices). CT_ERR_BUFFER_TOO_SMALL when it does not fit; CT_ERR_NOT_SET when the
 * entry has no such address.
 */
ct_status ct_entry_get_addr(const ct_entry *entry, uint32_t which, char *buf, size_t len);

/**
 * Writes an address as raw bytes in network order into `buf` (`len` >= 16 always
 * suffices); on CT_OK `*len_out` is 4 or 16.
 */
ct_status ct_entry_get_addr_bytes(const ct_entry *entry,
                                  uint32_t which,
                                  uint8_t *buf,
                                  size_t len,
                                  size_t *len_out);

/**
 * Sets a port (host order; GRE: the key) selected by `which` (CT_ORIG_SRC...).
 * CT_ERR_INVALID_ARGUMENT on a protocol without ports (ICMP, ICMPv6, ...).
 */
ct_status ct_entry_set_port(ct_entry *entry, uint32_t which, uint16_t port);

/**
 * Gets a port (host order) selected by `which`.
 */
ct_status ct_entry_get_port(const ct_entry *entry, uint32_t which, uint16_t *port_out);

/**
 * Sets the ICMP or ICMPv6 type, code and id (host order) of the tuple of `dir`
 * (CT_DIR_ORIG or CT_DIR_REPLY). CT_ERR_INVALID_ARGUMENT on a protocol other than ICMP or
 * ICMPv6.
 */
ct_status ct_entry_set_icmp(ct_entry *entry,
                            uint32_t dir,
                            uint8_t icmp_type,
                            uint8_t code,
                            uint16_t id);

/**
 * Gets the ICMP or ICMPv6 type, code and id of the tuple of `dir`; every out-parameter is
 * required.
 */
ct_status ct_entry_get_icmp(const ct_entry *entry,
                            uint32_t dir,
                            uint8_t *type_out,
                            uint8_t *code_out,
                            uint16_t *id_out);

/**
 * Sets the zone (0..65535; CT_ERR_INVALID_ARGUMENT above). Operations on an entry without
 * a zone use zone 0.
 */
ct_status ct_entry_set_zone(ct_entry *entry, uint32_t zone);

/**
 * Gets the zone. The kernel omits zone 0, so an entry read from the kernel without a zone
 * answers CT_ERR_NOT_SET and is in zone 0.
 */
ct_status ct_entry_get_zone(const ct_entry *entry, uint16_t *zone_out);

/**
 * Sets the connection mark.
 */
ct_status ct_entry_set_mark(ct_entry *entry, uint32_t mark);

/**
 * Gets the connection mark.
 */
ct_status ct_entry_get_mark(const ct_entry *entry, uint32_t *mark_out);

/**
 * Sets the status bits (CT_STATUS_*; the kernel's IPS_* numbering). Create and update
 * always send CT_STATUS_CONFIRMED with them, as the kernel requires; the kernel changes
 * only the bits it lets user space change (ASSURED, SEEN_REPLY, NAT bits).
 */
ct_status ct_entry_set_status(ct_entry *entry, uint32_t status);

/**
 * Gets the status bits.
 */
ct_status ct_entry_get_status(const ct_entry *entry, uint32_t *status_out);

/**
 * Sets the timeout in seconds.
 */
ct_status ct_entry_set_timeout(ct_entry *entry, uint32_t seconds);

/**
 * Gets the seconds left before the entry expires.
 */
ct_status ct_entry_get_timeout(const ct_entry *entry, uint32_t *seconds_out);

/**
 * Sets the TCP state (0 NONE .. 9 SYN_SENT2, the kernel's TCP_CONNTRACK_* numbering).
 * CT_ERR_INVALID_ARGUMENT for another number or a protocol other than TCP.
 */
ct_status ct_entry_set_tcp_state(ct_entry *entry, uint8_t state);

/**
 * Gets the TCP state.
 */
ct_status ct_entry_get_tcp_state(const ct_entry *entry, uint8_t *state_out);

/**
 * Sets the SCTP state (the kernel's SCTP_CONNTRACK_* numbering, 0..9).
 */
ct_status ct_entry_set_sctp_state(ct_entry *entry, uint8_t state);

/**
 * Gets the SCTP state.
 */
ct_status ct_entry_get_sctp_state(const ct_entry *entry, uint8_t *state_out);

/**
 * Gets the DCCP state (the kernel's CT_DCCP_* numbering).
 */
ct_status ct_entry_get_dccp_state(const ct_entry *entry, uint8_t *state_out);

/**
 * Sets the kernel id: a delete then removes the entry only if its id still matches.
 */
ct_status ct_entry_set_id(ct_entry *entry, uint32_t id);

/**
 * Gets the kernel id of the entry.
 */
ct_status ct_entry_get_id(const ct_entry *entry, uint32_t *id_out);

/**
 * Gets the reference count the kernel reported.
 */
ct_status ct_entry_get_use(const ct_entry *entry, uint32_t *use_out);

/**
 * Gets the packet and byte counters of direction `dir` (present when the namespace has
 * net.netfilter.nf_conntrack_acct=1); both out-parameters are required.
 */
ct_status ct_entry_get_counters(const ct_entry *entry,
                                uint32_t dir,
                                uint64_t *packets_out,
                                uint64_t *bytes_out);

/**
 * Gets the start timestamp, nanoseconds since the epoch (present when the namespace has
 * net.netfilter.nf_conntrack_timestamp=1).
 */
ct_status ct_entry_get_timestamp_start(const ct_entry *entry, uint64_t *ns_out);

/**
 * Gets the stop timestamp, nanoseconds since the epoch (destroy events only).
 */
ct_status ct_entry_get_timestamp_stop(const ct_entry *entry, uint64_t *ns_out);

/**
 * Sets (`on` true) or clears label bit `bit` (0..127). For ct_update, only the bits
 * touched this way change on the kernel's entry; the others keep their value.
 */
ct_status ct_entry_set_label(ct_entry *entry, uint32_t bit, bool on);

/**
 * Gets label bit `bit` (0..127) into `*on_out`. CT_ERR_NOT_SET when the entry carries no
 * labels at all.
 */
ct_status ct_entry_get_label(const ct_entry *entry, uint32_t bit, bool *on_out);

/**
 * Sets all 128 label bits from `len` bytes (at most 16; missing bytes are 0): bit n is
 * bit n%8 of byte n/8. For ct_update this replaces every label bit.
 */
ct_status ct_entry_set_labels(ct_entry *entry, const uint8_t *bytes, size_t len);

/**
 * Copies the 16 label bytes into `buf` (`len` >= 16). CT_ERR_NOT_SET without labels.
 */
ct_status ct_entry_get_labels(const ct_entry *entry, uint8_t *buf, size_t len);

/**
 * Gets the SELinux secmark.
 */
ct_status ct_entry_get_secmark(const ct_entry *entry, uint32_t *secmark_out);

/**
 * Sets the name of the helper to attach at creation ("ftp", "sip", ...). `name` is copied.
 */
ct_status ct_entry_set_helper(ct_entry *entry, const char *name);

/**
 * Writes the helper name into `buf` (`len` bytes, NUL included; 16 always suffices).
 */
ct_status ct_entry_get_helper(const ct_entry *entry, char *buf, size_t len);

/**
 * Asks the kernel to set up NAT when it creates `entry` (ct_create, ct_batch_add_create), as
 * conntrack(8)'s `-I --src-nat ADDR[:PORT]` and `--dst-nat` do: `kind` is CT_NAT_SRC or
 * CT_NAT_DST, `addr_port` is "ADDR", "ADDR:PORT" or `"[ADDR6]:PORT"` (copied). The kernel then
 * makes the reply tuple and sets the NAT status bits itself; updates and lookups ignore it,
 * and entries read back never hold it. CT_ERR_INVALID_ARGUMENT for another kind, text that
 * is no address, or an address of the other family than the entry's.
 */
ct_status ct_entry_set_nat(ct_entry *entry, uint32_t kind, const char *addr_port);

/**
 * Sets the zone of direction `dir` alone (CT_DIR_ORIG or CT_DIR_REPLY), as conntrack(8)'s
 * `--orig-zone`/`--reply-zone`: sent inside that direction's tuple. The kernel takes it on a
 * create only when the entry's zone (ct_entry_set_zone) is unset or 0 and for one direction
 * at most; otherwise the create fails with CT_ERR_INVALID_ARGUMENT from the kernel.
 */
ct_status ct_entry_set_dir_zone(ct_entry *entry, uint32_t dir, uint32_t zone);

/**
 * Gets the zone of direction `dir` alone (CT_DIR_ORIG or CT_DIR_REPLY); CT_ERR_NOT_SET when
 * the entry has none (a zone of both directions is ct_entry_get_zone's).
 */
ct_status ct_entry_get_dir_zone(const ct_entry *entry, uint32_t dir, uint16_t *zone_out);

/**
 * Sets the SCTP verification tag of direction `dir` (CT_DIR_ORIG or CT_DIR_REPLY), as
 * conntrack(8)'s `--orig-vtag`/`--reply-vtag`. A create or update that carries one carries
 * the SCTP state and both tags (0 for one not set), as the kernel wants them together.
 */
ct_status ct_entry_set_sctp_vtag(ct_entry *entry, uint32_t dir, uint32_t vtag);

/**
 * Gets the SCTP verification tag of direction `dir` (CT_DIR_ORIG or CT_DIR_REPLY).
 */
ct_status ct_entry_get_sctp_vtag(const ct_entry *entry, uint32_t dir, uint32_t *vtag_out);

/**
 * Writes `entry` as one line of `conntrack -L` text (no newline) into `buf`, `len` bytes
 * with the NUL. `flags` is 0 or an OR of CT_FORMAT_EXTENDED, CT_FORMAT_ID and
 * CT_FORMAT_TIMESTAMP. Like snprintf, it writes as much as fits (NUL-terminated unless
 * `len` is 0) and stores in `*needed_out` (may be NULL) the length of the whole text without the
 * NUL; CT_ERR_BUFFER_TOO_SMALL when that did not fit. `buf` may be NULL when `len` is 0, to
 * ask for the size. CT_ERR_INVALID_ARGUMENT for a flag bit the library does not know.
 */
ct_status ct_entry_format(const ct_entry *entry,
                          uint32_t flags,
                          char *buf,
                          size_t len,
                          size_t *needed_out);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Filter ====================================================================
 * Which entries a dump, delete, flush or event listener concerns. */
/**
 * Source of ct_filter_set_source: the table (the default).
 */
#define CT_SOURCE_TABLE 0

/**
 * Source: the table, zeroing each entry's counters as the dump reads it (`conntrack -L -z`).
 */
#define CT_SOURCE_TABLE_ZERO_COUNTERS 1

/**
 * Source: the entries being destroyed (`conntrack -L dying`).
 */
#define CT_SOURCE_DYING 2

/**
 * Source: the entries not yet confirmed (`conntrack -L unconfirmed`).
 */
#define CT_SOURCE_UNCONFIRMED 3

/**
 * Source NAT, for ct_filter_set_nat (`conntrack --src-nat`).
 */
#define CT_NAT_SRC 1

/**
 * Destination NAT, for ct_filter_set_nat (`conntrack --dst-nat`).
 */
#define CT_NAT_DST 2

/**
 * Source or destination NAT, for ct_filter_set_nat (`conntrack --any-nat`).
 */
#define CT_NAT_ANY 3

/**
 * A filter: every field left unset matches everything. Plain data owned by the caller.
 */
typedef struct ct_filter ct_filter;

/**
 * A set of filters: the entries that match any of them. Plain data owned by the caller; an
 * empty set matches nothing. Adding copies the filter, so the filter may be changed or
 * freed afterwards.
 */
typedef struct ct_filters ct_filters;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Makes an empty filter (matches every entry). On CT_OK, `*filter_out` is a new filter
 * owned by the caller; free it with ct_filter_free.
 */
ct_status ct_filter_new(ct_filter **filter_out);

/**
 * Frees `filter`. Passing NULL does nothing; freeing twice is undefined.
 */
void ct_filter_free(ct_filter *filter);

/**
 * Matches only entries of `family` (CT_FAMILY_IPV4 or CT_FAMILY_IPV6); the kernel filters it.
 */
ct_status ct_filter_set_family(ct_filter *filter, uint8_t family);

/**
 * Matches only entries of layer-4 protocol `proto`.
 */
ct_status ct_filter_set_proto(ct_filter *filter, uint8_t proto);

/**
 * Matches only entries of zone `zone` (0..65535; entries without a zone are in zone 0).
 * The kernel filters it from 6.8 on; the library checks it on every kernel.
 */
ct_status ct_filter_set_zone(ct_filter *filter, uint32_t zone);

/**
 * Matches entries whose mark ANDed with `mask` equals `mark` ANDed with `mask` (mask
 * 0xffffffff: the exact mark). The kernel filters it.
 */
ct_status ct_filter_set_mark(ct_filter *filter, uint32_t mark, uint32_t mask);

/**
 * Matches entries whose status bits ANDed with `mask` equal `status` ANDed with `mask`.
 */
ct_status ct_filter_set_status(ct_filter *filter, uint32_t status, uint32_t mask);

/**
 * Matches entries whose address selected by `which` (CT_ORIG_SRC, ...) is `addr`, an
 * address ("10.0.0.1") or a prefix ("10.0.0.0/8", "fe80::/64"). `addr` is copied.
 * CT_ERR_INVALID_ARGUMENT for text that is neither, or a family other than the filter's.
 */
ct_status ct_filter_set_addr(ct_filter *filter, uint32_t which, const char *addr);

/**
 * Matches entries whose port selected by `which` is `port` (host order).
 */
ct_status ct_filter_set_port(ct_filter *filter, uint32_t which, uint16_t port);

/**
 * With `enabled` false, nothing is asked of the kernel and every field is matched in the
 * library: the fallback path of older kernels, for tests and benchmarks. Default true.
 */
ct_status ct_filter_set_kernel_filtering(ct_filter *filter, bool enabled);

/**
 * What dumps with this filter read (ct_dump, ct_list, ct_cursor_open): CT_SOURCE_TABLE,
 * CT_SOURCE_TABLE_ZERO_COUNTERS, CT_SOURCE_DYING or CT_SOURCE_UNCONFIRMED (the kernel
 * filters nothing of the last two; the library matches every field). Deletes and flushes
 * always work on the table. CT_ERR_INVALID_ARGUMENT for another number.
 */
ct_status ct_filter_set_source(ct_filter *filter, uint32_t source);

/**
 * Matches only NATed entries, as conntrack(8)'s --src-nat, --dst-nat and --any-nat do:
 * `kind` CT_NAT_SRC matches entries the kernel source-NATed (the reply destination differs
 * from the original source, in address or port), CT_NAT_DST destination-NATed ones (the
 * reply source differs from the original destination), CT_NAT_ANY either. `addr_port`
 * (copied; NULL or "" for any) is "ADDR", "ADDR:PORT", `"[ADDR6]:PORT"` or ":PORT": the
 * address and port translated to (the reply destination for source NAT, the reply source for
 * destination NAT). Matched by the library on every kernel. CT_ERR_INVALID_ARGUMENT for
 * another kind, text of another form, or an address whose family differs from the filter's.
 */
ct_status ct_filter_set_nat(ct_filter *filter, uint32_t kind, const char *addr_port);

/**
 * Makes an empty set (matches nothing). On CT_OK, `*set_out` is a new set owned by the
 * caller; free it with ct_filters_free.
 */
ct_status ct_filters_new(ct_filters **set_out);

/**
 * Frees `set`. Passing NULL does nothing; freeing twice is undefined.
 */
void ct_filters_free(ct_filters *set);

/**
 * Adds a copy of `filter` to `set`. Matching costs about the same for 10 or 10,000
 * filters when each pins an exact address, port, zone or protocol (the set is indexed by
 * them); filters pinning none of these are tried one by one. CT_ERR_INVALID_ARGUMENT for
 * a filter that cannot match any entry (a family that contradicts one of its addresses);
 * CT_ERR_INTERNAL when memory runs out. On error the set is unchanged.
 */
ct_status ct_filters_add(ct_filters *set, const ct_filter *filter);

/**
 * Removes every filter from `set` (which then matches nothing).
 */
ct_status ct_filters_clear(ct_filters *set);

/**
 * The number of filters in `set` (0 for NULL).
 */
size_t ct_filters_len(const ct_filters *set);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Operations ================================================================
 * Dump, list, read one entry at a time, get, create, update, delete and flush. */
/**
 * The count ct_flush_matching reports when the kernel removed the entries itself and did
 * not say how many.
 */
#define CT_COUNT_UNKNOWN UINT64_MAX

/**
 * A dump in progress, read one entry at a time with ct_cursor_next. It holds its handle:
 * until the dump ends (ct_cursor_next gives NULL or an error) or the cursor is freed, other
 * calls on the handle answer CT_ERR_BUSY. A cursor is used by one thread at a time (a
 * second thread's ct_cursor_next gets CT_ERR_BUSY).
 */
typedef struct ct_cursor ct_cursor;

/**
 * A list of entries made by ct_list and owned by the caller. Its entries belong to it.
 */
typedef struct ct_entry_list ct_entry_list;

/**
 * Called for each entry of a dump. `entry` is valid until the callback returns (keep a
 * copy with ct_entry_clone); `user_data` is what the caller passed to ct_dump. Return 0
 * to go on, anything else to stop the dump.
 */
typedef int32_t (*ct_dump_cb)(const ct_entry *entry, void *user_data);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Streams every entry matching `filter` (NULL: every entry) to `cb`, without keeping the
 * table in memory. Filters the kernel cannot apply are applied by the library, with the
 * same result on every kernel. Returns CT_OK when the dump ended or the callback stopped
 * it; CT_ERR_DUMP_INTERRUPTED if the kernel flagged the dump as inconsistent (entries
 * already delivered stand; run it again for a complete view).
 */
ct_status ct_dump(ct_handle *h, const ct_filter *filter, ct_dump_cb cb, void *user_data);

/**
 * Collects every entry matching `filter` (NULL: every entry). On CT_OK, `*list_out` is a
 * new list owned by the caller; free it with ct_entry_list_free. On error it is unchanged.
 * A dump is not a snapshot: when entries die or the table resizes while it runs, the kernel
 * can send an entry twice, and ct_list drops such repeats (same id, tuple and zone); an
 * entry created or moved during the dump can still be missed, by any dump (ct_dump passes
 * repeats on as they come).
 */
ct_status ct_list(ct_handle *h, const ct_filter *filter, ct_entry_list **list_out);

/**
 * Reads the entry whose original tuple (or, when `key` has only a reply tuple, reply
 * tuple) and zone (0 when unset) are those of `key`. CT_ERR_NOT_FOUND when there is none.
 * On CT_OK, `*entry_out` is a new entry owned by the caller; free it with ct_entry_free.
 */
ct_status ct_get(ct_handle *h, const ct_entry *key, ct_entry **entry_out);

/**
 * Creates `entry`. It needs the original tuple (addresses, protocol, ports or ICMP type,
 * code and id) and a timeout; the reply tuple defaults to the inverse of the original.
 * CT_ERR_EXISTS when the tuple is taken in that zone; CT_ERR_TABLE_FULL when the kernel
 * has no room for it (nf_conntrack_max reached).
 */
ct_status ct_create(ct_handle *h, const ct_entry *entry);

/**
 * Updates the entry with `entry`'s tuple and zone: the timeout, mark, status, labels and
 * protocol state that `entry` holds. CT_ERR_NOT_FOUND when there is no such entry.
 */
ct_status ct_update(ct_handle *h, const ct_entry *entry);

/**
 * Deletes the entry with `entry`'s tuple and zone (0 when unset); when `entry` holds an
 * id, only an entry with that id. CT_ERR_NOT_FOUND when there is none.
 */
ct_status ct_delete(ct_handle *h, const ct_entry *entry);

/**
 * Deletes the entry whose kernel id is `id` (it is looked up by a dump first).
 * CT_ERR_NOT_FOUND when there is none.
 */
ct_status ct_delete_by_id(ct_handle *h, uint32_t id);

/**
 * Deletes every entry matching `filter` (which must not be NULL: use ct_flush for all).
 * On CT_OK, `*deleted_out` (may be NULL) holds how many entries this call deleted.
 */
ct_status ct_delete_matching(ct_handle *h, const ct_filter *filter, uint64_t *deleted_out);

/**
 * Empties the whole table of the handle's namespace (IPv4 and IPv6, every zone).
 */
ct_status ct_flush(ct_handle *h);

/**
 * Flushes every entry matching `filter` (not NULL), by the fastest means that removes
 * exactly the matching entries on the running kernel: one filtered flush request where the
 * kernel supports it for every field of the filter (6.12 and later; not for address prefixes
 * or ports without a protocol), otherwise a dump of what matches and batched deletes. It never
 * sends a request whose meaning differs on an older kernel. On CT_OK, `*flushed_out` (may be
 * NULL) holds how many entries went, or CT_COUNT_UNKNOWN when the kernel flushed them itself
 * (use ct_delete_matching when the count matters).
 */
ct_status ct_flush_matching(ct_handle *h, const ct_filter *filter, uint64_t *flushed_out);

/**
 * Streams every entry that matches any filter of `set` to `cb`, in one dump of the table
 * whatever the number of filters, without keeping the table in memory. What all the
 * filters share (a zone, a mark, a family...) is filtered by the kernel where it can. An
 * empty set matches nothing: CT_OK without a dump. Otherwise as ct_dump.
 */
ct_status ct_dump_any(ct_handle *h, const ct_filters *set, ct_dump_cb cb, void *user_data);

/**
 * Deletes every entry that matches any filter of `set`, in one dump of the table: the
 * deletes go out while the dump is read (through a second socket of the handle, in the
 * same namespace, made when first needed), so memory stays constant whatever the number of
 * matches. On CT_OK, `*deleted_out` (may be NULL) holds how many entries this call deleted:
 * entries gone meanwhile, or sent twice by the dump, are neither errors nor counted twice.
 * Every entry that matched when the dump saw it is gone on CT_OK; otherwise the error says
 * what failed (its message gives the count deleted). An empty set deletes nothing.
 */
ct_status ct_delete_matching_any(ct_handle *h, const ct_filters *set, uint64_t *deleted_out);

/**
 * The number of entries in `list` (0 for NULL).
 */
size_t ct_entry_list_len(const ct_entry_list *list);

/**
 * Entry `index` of `list`, or NULL when `index` is out of range or `list` is NULL. The
 * entry belongs to `list` and lives until ct_entry_list_free(list); do not free it (copy
 * it with ct_entry_clone to keep it longer).
 */
const ct_entry *ct_entry_list_get(const ct_entry_list *list, size_t index);

/**
 * Frees `list` and its entries. Passing NULL does nothing; freeing twice is undefined.
 */
void ct_entry_list_free(ct_entry_list *list);

/**
 * Starts a dump of every entry matching `filter` (NULL: every entry), to be read with
 * ct_cursor_next: memory stays that of one datagram's entries whatever the table's size,
 * and the caller reads at its own pace. Like ct_dump (and unlike ct_list), an entry the
 * kernel sends twice is passed on twice. On CT_OK, `*cursor_out` is a new cursor owned by
 * the caller; free it with ct_cursor_free. CT_ERR_BUSY when the handle is in use.
 * `filter` is borrowed for the call only.
 */
ct_status ct_cursor_open(ct_handle *h, const ct_filter *filter, ct_cursor **cursor_out);

/**
 * Reads the next entry of the dump into `*entry_out`, or NULL at its end. The entry
 * belongs to the cursor and lives until the next ct_cursor_next or ct_cursor_free (copy it
 * with ct_entry_clone to keep it). At the end, or on an error, the cursor lets its handle
 * go (the handle serves other calls again) and every later call gives NULL with CT_OK.
 * CT_ERR_DUMP_INTERRUPTED when the kernel flagged the dump as inconsistent: run it again.
 */
ct_status ct_cursor_next(ct_cursor *cursor, const ct_entry **entry_out);

/**
 * The detail of the cursor's last failed call (its dump's errors, which its handle also
 * records, and CT_ERR_BUSY when another thread was using it), or "" when none failed, as
 * ct_handle_last_error for a handle. A call during which another thread freed the cursor
 * has no cursor left to record on: its detail is the thread's only. Returns NULL only for
 * NULL. The string belongs to the cursor and lives until its next failure or
 * ct_cursor_free.
 */
const char *ct_cursor_last_error(const ct_cursor *cursor);

/**
 * The errno of the cursor's last failed call (0 when none had one, or for NULL).
 */
int32_t ct_cursor_last_errno(const ct_cursor *cursor);

/**
 * The entry the last read of the cursor ended on (the last of ct_cursor_next_views'
 * block, or ct_cursor_next's entry), into `*entry_out`; NULL once the dump has ended. The
 * entry belongs to the cursor and lives until its next read or ct_cursor_free.
 */
ct_status ct_cursor_last(ct_cursor *cursor, const ct_entry **entry_out);

/**
 * Frees `cursor`, ending its dump if it is still running (what is left is read and
 * dropped) and letting its handle go. Passing NULL does nothing; freeing twice is undefined.
 * Freed while another thread is in ct_cursor_next on it, it goes when that call returns
 * (which then gives NULL and CT_ERR_BUSY).
 */
void ct_cursor_free(ct_cursor *cursor);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Batches ===================================================================
 * Many creates, updates and deletes sent together, with an outcome per request. */
/**
 * A batch of requests. Plain data owned by the caller; it may be sent on any handle and
 * reused (ct_batch_clear, or adding after a send starts a new batch).
 */
typedef struct ct_batch ct_batch;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Makes an empty batch. On CT_OK, `*batch_out` is a new batch owned by the caller; free it
 * with ct_batch_free.
 */
ct_status ct_batch_new(ct_batch **batch_out);

/**
 * Frees `batch`. Passing NULL does nothing; freeing twice is undefined.
 */
void ct_batch_free(ct_batch *batch);

/**
 * Queues the creation of `entry` (copied; the caller keeps it). The request takes the next
 * index (0, 1, ...). An entry lacking what a create needs still takes its index, and its
 * outcome after ct_batch_send is the reason (CT_ERR_INVALID_ARGUMENT); it is never sent.
 * Adding to a batch that was sent starts a new batch.
 */
ct_status ct_batch_add_create(ct_batch *batch, const ct_entry *entry);

/**
 * Queues an update of the entry with `entry`'s tuple and zone (see ct_update); indexes and
 * refused entries as for ct_batch_add_create.
 */
ct_status ct_batch_add_update(ct_batch *batch, const ct_entry *entry);

/**
 * Queues the deletion of the entry with `entry`'s tuple and zone, and id when set (see
 * ct_delete); indexes and refused entries as for ct_batch_add_create.
 */
ct_status ct_batch_add_delete(ct_batch *batch, const ct_entry *entry);

/**
 * The number of requests in `batch` (0 for NULL).
 */
size_t ct_batch_len(const ct_batch *batch);

/**
 * Removes every request and outcome from `batch`, keeping its memory for reuse.
 */
ct_status ct_batch_clear(ct_batch *batch);

/**
 * Sends every request of `batch` on `h`, packed into as few sendmsg calls as the socket's
 * receive buffer can answer, and records each request's outcome (read them with
 * ct_batch_result). Requests are independent: one failing does not stop the others, and
 * they are applied in order. Returns CT_OK when every request was sent and answered, even
 * if some failed; `*failed_out` (may be NULL) then holds how many failed. Another status
 * means the batch could not be sent as a whole (the outcomes of requests already answered
 * stand; the rest read CT_ERR_OVERRUN or are unknown).
 */
ct_status ct_batch_send(ct_handle *h, ct_batch *batch, size_t *failed_out);

/**
 * The outcome of request `index` of a sent batch: `*status_out` is CT_OK or the request's
 * error (CT_ERR_EXISTS, CT_ERR_NOT_FOUND, CT_ERR_TABLE_FULL for a create the kernel had no
 * room for, CT_ERR_OVERRUN when its answer was lost, ...)
 * and `*errno_out` (may be NULL) its errno or 0. Returns CT_ERR_INVALID_ARGUMENT when
 * `index` is out of range or the batch has not been sent; after a ct_batch_send that failed
 * as a whole, the batch counts as not sent (the requests answered before the failure took
 * effect in the kernel; dump to learn the state).
 */
ct_status ct_batch_result(const ct_batch *batch,
                          size_t index,
                          ct_status *status_out,
                          int32_t *errno_out);

/**
 * The error message of request `index` of a sent batch, or NULL when it succeeded, is out
 * of range or the batch was not sent. The string belongs to `batch` and stays valid until
 * the next call of this function on it, or until it is cleared, changed or freed.
 */
const char *ct_batch_result_message(const ct_batch *batch, size_t index);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Flat entry views ==========================================================
 * An entry as one fixed-layout struct, read and written in blocks: what bindings use. */
/**
 * View field bit: `family`.
 */
#define CT_VIEW_FAMILY (1 << 0)

/**
 * View field bit: `proto`.
 */
#define CT_VIEW_PROTO (1 << 1)

/**
 * View field bit: `orig_src`.
 */
#define CT_VIEW_ORIG_SRC (1 << 2)

/**
 * View field bit: `orig_dst`.
 */
#define CT_VIEW_ORIG_DST (1 << 3)

/**
 * View field bit: `reply_src`.
 */
#define CT_VIEW_REPLY_SRC (1 << 4)

/**
 * View field bit: `reply_dst`.
 */
#define CT_VIEW_REPLY_DST (1 << 5)

/**
 * View field bit: `orig_sport`.
 */
#define CT_VIEW_ORIG_SPORT (1 << 6)

/**
 * View field bit: `orig_dport`.
 */
#define CT_VIEW_ORIG_DPORT (1 << 7)

/**
 * View field bit: `reply_sport`.
 */
#define CT_VIEW_REPLY_SPORT (1 << 8)

/**
 * View field bit: `reply_dport`.
 */
#define CT_VIEW_REPLY_DPORT (1 << 9)

/**
 * View field bit: `orig_icmp_type`, `orig_icmp_code` and `orig_icmp_id`.
 */
#define CT_VIEW_ORIG_ICMP (1 << 10)

/**
 * View field bit: `reply_icmp_type`, `reply_icmp_code` and `reply_icmp_id`.
 */
#define CT_VIEW_REPLY_ICMP (1 << 11)

/**
 * View field bit: `zone`.
 */
#define CT_VIEW_ZONE (1 << 12)

/**
 * View field bit: `mark`.
 */
#define CT_VIEW_MARK (1 << 13)

/**
 * View field bit: `status`.
 */
#define CT_VIEW_STATUS (1 << 14)

/**
 * View field bit: `timeout`.
 */
#define CT_VIEW_TIMEOUT (1 << 15)

/**
 * View field bit: `id`.
 */
#define CT_VIEW_ID (1 << 16)

/**
 * View field bit: `use_count`.
 */
#define CT_VIEW_USE (1 << 17)

/**
 * View field bit: `tcp_state`.
 */
#define CT_VIEW_TCP_STATE (1 << 18)

/**
 * View field bit: `sctp_state`.
 */
#define CT_VIEW_SCTP_STATE (1 << 19)

/**
 * View field bit: `dccp_state`.
 */
#define CT_VIEW_DCCP_STATE (1 << 20)

/**
 * View field bit: `orig_packets` and `orig_bytes`.
 */
#define CT_VIEW_ORIG_COUNTERS (1 << 21)

/**
 * View field bit: `reply_packets` and `reply_bytes`.
 */
#define CT_VIEW_REPLY_COUNTERS (1 << 22)

/**
 * View field bit: `timestamp_start`.
 */
#define CT_VIEW_TIMESTAMP_START (1 << 23)

/**
 * View field bit: `timestamp_stop`.
 */
#define CT_VIEW_TIMESTAMP_STOP (1 << 24)

/**
 * View field bit: `labels`.
 */
#define CT_VIEW_LABELS (1 << 25)

/**
 * View field bit: `secmark`.
 */
#define CT_VIEW_SECMARK (1 << 26)

/**
 * View field bit: `tcp_wscale_orig` and `tcp_wscale_reply`.
 */
#define CT_VIEW_TCP_WSCALE (1 << 27)

/**
 * View field bit: `tcp_flags_orig` and `tcp_flags_orig_mask`.
 */
#define CT_VIEW_TCP_FLAGS_ORIG (1 << 28)

/**
 * View field bit: `tcp_flags_reply` and `tcp_flags_reply_mask`.
 */
#define CT_VIEW_TCP_FLAGS_REPLY (1 << 29)

/**
 * View bit: the entry holds fields the view does not carry (helper, security context,
 * sequence adjustment, SCTP tags, a label update mask, a zone for each direction).
 * Ignored on views passed in.
 */
#define CT_VIEW_MORE (1 << 30)

/**
 * View field bit: `dir_zone` and `dir_zone_dir`, a zone of one direction. The kernel
 * looks such an entry up in that zone, so a view without it names another entry. An entry
 * with a zone for each direction (which the kernel refuses to create) carries its
 * original direction's here, with CT_VIEW_MORE.
 */
#define CT_VIEW_DIR_ZONE 2147483648

/**
 * Batch operation of ct_batch_add_views: create.
 */
#define CT_BATCH_CREATE 0

/**
 * Batch operation of ct_batch_add_views: update.
 */
#define CT_BATCH_UPDATE 1

/**
 * Batch operation of ct_batch_add_views: delete.
 */
#define CT_BATCH_DELETE 2

/**
 * One conntrack entry as plain data: every field bindings read, in one fixed layout.
 * Addresses are in network order, IPv4 in the first 4 bytes (the rest zero); ports, keys
 * and every other number are in host order. A field holds a value only when its
 * `CT_VIEW_*` bit is set in `present`; otherwise it reads 0. Fields an entry rarely has
 * (helper, security context, sequence adjustment, SCTP tags) are not in the view: `CT_VIEW_MORE` says the entry has some, read through ct_entry.
 */
typedef struct {
  /**
   * The size in bytes of the layout this view holds: sizeof(ct_view) of the header the
   * writer was built with. Set it when passing views in; the library sets it on views it
   * writes (to its own size).
   */
  uint32_t size;
  /**
   * Which fields hold a value: CT_VIEW_* bits.
   */
  uint32_t present;
  /**
   * CT_FAMILY_IPV4 or CT_FAMILY_IPV6.
   */
  uint8_t family;
  /**
   * Layer-4 protocol number.
   */
  uint8_t proto;
  /**
   * Zone.
   */
  uint16_t zone;
  /**
   * Connection mark.
   */
  uint32_t mark;
  /**
   * Status bits (CT_STATUS_*).
   */
  uint32_t status;
  /**
   * Seconds until the entry expires.
   */
  uint32_t timeout;
  /**
   * The kernel's id.
   */
  uint32_t id;
  /**
   * Reference count (read-only).
   */
  uint32_t use_count;
  /**
   * TCP state (CT_TCP_STATE_*).
   */
  uint8_t tcp_state;
  /**
   * SCTP state (the kernel's SCTP_CONNTRACK_* numbering).
   */
  uint8_t sctp_state;
  /**
   * DCCP state (read-only).
   */
  uint8_t dccp_state;
  /**
   * The direction `dir_zone` is the zone of: CT_DIR_ORIG or CT_DIR_REPLY (with
   * CT_VIEW_DIR_ZONE; zero otherwise).
   */
  uint8_t dir_zone_dir;
  /**
   * Source port (GRE: key) of the original tuple.
   */
  uint16_t orig_sport;
  /**
   * Destination port (GRE: key) of the original tuple.
   */
  uint16_t orig_dport;
  /**
   * Source port of the reply tuple.
   */
  uint16_t reply_sport;
  /**
   * Destination port of the reply tuple.
   */
  uint16_t reply_dport;
  /**
   * ICMP type of the original tuple.
   */
  uint8_t orig_icmp_type;
  /**
   * ICMP code of the original tuple.
   */
  uint8_t orig_icmp_code;
  /**
   * ICMP id of the original tuple.
   */
  uint16_t orig_icmp_id;
  /**
   * ICMP type of the reply tuple.
   */
  uint8_t reply_icmp_type;
  /**
   * ICMP code of the reply tuple.
   */
  uint8_t reply_icmp_code;
  /**
   * ICMP id of the reply tuple.
   */
  uint16_t reply_icmp_id;
  /**
   * TCP window scale of the original direction.
   */
  uint8_t tcp_wscale_orig;
  /**
   * TCP window scale of the reply direction.
   */
  uint8_t tcp_wscale_reply;
  /**
   * The zone of direction `dir_zone_dir` alone (CTA_TUPLE_ZONE, conntrack's
   * `--orig-zone`/`--reply-zone`), as ct_entry_get_dir_zone reads it.
   */
  uint16_t dir_zone;
  /**
   * Source address of the original tuple.
   */
  uint8_t orig_src[16];
  /**
   * Destination address of the original tuple.
   */
  uint8_t orig_dst[16];
  /**
   * Source address of the reply tuple.
   */
  uint8_t reply_src[16];
  /**
   * Destination address of the reply tuple.
   */
  uint8_t reply_dst[16];
  /**
   * Packets of the original direction (read-only; nf_conntrack_acct).
   */
  uint64_t orig_packets;
  /**
   * Bytes of the original direction (read-only).
   */
  uint64_t orig_bytes;
  /**
   * Packets of the reply direction (read-only).
   */
  uint64_t reply_packets;
  /**
   * Bytes of the reply direction (read-only).
   */
  uint64_t reply_bytes;
  /**
   * Start timestamp, nanoseconds since the epoch (read-only; nf_conntrack_timestamp).
   */
  uint64_t timestamp_start;
  /**
   * Stop timestamp, nanoseconds since the epoch (read-only).
   */
  uint64_t timestamp_stop;
  /**
   * The 128 connection-label bits: bit n is bit n%8 of byte n/8. Passed in, they replace
   * every label bit (as ct_entry_set_labels).
   */
  uint8_t labels[16];
  /**
   * SELinux secmark (read-only).
   */
  uint32_t secmark;
  /**
   * TCP flags seen in the original direction (read-only).
   */
  uint8_t tcp_flags_orig;
  /**
   * Which of `tcp_flags_orig` the kernel reports (read-only).
   */
  uint8_t tcp_flags_orig_mask;
  /**
   * TCP flags seen in the reply direction (read-only).
   */
  uint8_t tcp_flags_reply;
  /**
   * Which of `tcp_flags_reply` the kernel reports (read-only).
   */
  uint8_t tcp_flags_reply_mask;
} ct_view;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Fills `*view_out` with `entry`'s fields; `view_size` is sizeof(ct_view) as the caller
 * knows it (CT_ERR_INVALID_ARGUMENT when smaller than this library's; a larger one gets
 * its unknown tail zeroed). `view_out->size` then says which layout was written.
 */
ct_status ct_entry_view(const ct_entry *entry, ct_view *view_out, size_t view_size);

/**
 * Makes an entry from `view` (its `size` set by the caller; a view of a newer, larger
 * layout is read up to this library's fields). The view is held to the setters' rules and
 * CT_ERR_INVALID_ARGUMENT names the first field that breaks one; a size smaller than this
 * library's ct_view is refused the same way. A zone of one direction (CT_VIEW_DIR_ZONE)
 * is kept: the entry made is the one the kernel holds in that zone. Read-only fields are
 * ignored. On CT_OK, `*entry_out` is a new entry owned by the caller; free it with
 * ct_entry_free.
 */
ct_status ct_entry_from_view(const ct_view *view, ct_entry **entry_out);

/**
 * Fills up to `capacity` views, `view_size` bytes apart, with entries `first`,
 * `first + 1`, ... of `list`; `*count_out` says how many (0 once `first` reaches the end).
 * `views` may be NULL only with `capacity` 0.
 */
ct_status ct_entry_list_views(const ct_entry_list *list,
                              size_t first,
                              ct_view *views,
                              size_t view_size,
                              size_t capacity,
                              size_t *count_out);

/**
 * Writes `view` as one line of `conntrack -L` text, as ct_entry_format does for the entry
 * it came from (same `flags`, buffer and `*needed_out` rules), read-only fields included.
 * An entry with CT_VIEW_MORE has fields the view lacks (a helper, say): format the entry
 * itself for those.
 */
ct_status ct_view_format(const ct_view *view,
                         uint32_t flags,
                         char *buf,
                         size_t len,
                         size_t *needed_out);

/**
 * Reads the next entries of `cursor`'s dump into up to `capacity` views, `view_size` bytes
 * apart: one call per block instead of one per entry. A block ends early after a view
 * with CT_VIEW_MORE (its entry has fields beyond the view), whose entry ct_cursor_last then
 * gives. `*count_out` says how many were written; 0 with CT_OK means the dump ended (as
 * ct_cursor_next's NULL). Unlike other outputs, `*count_out` is written on errors too: the
 * views before the error are whole.
 */
ct_status ct_cursor_next_views(ct_cursor *cursor,
                               ct_view *views,
                               size_t view_size,
                               size_t capacity,
                               size_t *count_out);

/**
 * Queues one request of `op` (CT_BATCH_CREATE, _UPDATE or _DELETE) per view of `views`
 * (`count` views, `view_size` bytes apart, each with its `size` set), in order, as the
 * ct_batch_add_* functions do for entries: a view the library refuses still takes its
 * index, with the reason as its outcome. CT_ERR_INVALID_ARGUMENT for an unknown `op` or a
 * `view_size` smaller than this library's ct_view (nothing is queued then).
 */
ct_status ct_batch_add_views(ct_batch *batch,
                             uint32_t op,
                             const ct_view *views,
                             size_t view_size,
                             size_t count);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Events ====================================================================
 * A subscription to the table's changes. */
/**
 * Event type: a new entry.
 */
#define CT_EVENT_NEW 1

/**
 * Event type: an entry changed (state, mark, timeout refresh by the tool, ...).
 */
#define CT_EVENT_UPDATE 2

/**
 * Event type: an entry was destroyed.
 */
#define CT_EVENT_DESTROY 4

/**
 * Every event type.
 */
#define CT_EVENT_ALL 7

/**
 * A subscription to conntrack events in one network namespace. Used by one thread at a
 * time; separate listeners are independent.
 *
 * Loss: the kernel queues events in the socket's receive buffer (64 MiB by default, set with
 * ct_events_set_receive_buffer) and drops them when it is full. The next ct_events_receive
 * then returns CT_ERR_OVERRUN and ct_events_overruns counts it; the listener keeps working.
 * The report comes ahead of the events still queued from before the loss: drain them, then
 * dump the table to resynchronise. With ct_events_set_reliable the kernel instead keeps destroy
 * events it could not deliver and retries them (new and update events are still dropped,
 * silently), and no overrun is reported.
 *
 * net.netfilter.nf_conntrack_events = 2 (the default of a new namespace on some kernels
 * between 5.19 and 6.10) means the kernel records events only while a listener exists:
 * entries created before the first listener subscribed never report events, not even their
 * destroy. Dump after subscribing to learn about them. Kernels without that mode (5.10, for
 * example) refuse 2 (EINVAL) and keep 1: every entry reports its events there, so a listener
 * also hears the destroy of an entry created before it subscribed.
 */
typedef struct ct_events ct_events;

/**
 * Called for each event: `type` is one CT_EVENT_* value; `entry` is valid until the
 * callback returns (keep a copy with ct_entry_clone); `user_data` is what the caller passed.
 * Return 0 to go on, anything else to stop this receive call.
 */
typedef int32_t (*ct_event_cb)(uint32_t event_type, const ct_entry *entry, void *user_data);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Subscribes, in the caller's network namespace, to the event types in `types` (an OR of
 * CT_EVENT_*). On CT_OK, `*events_out` is a new listener owned by the caller; close it with
 * ct_events_close.
 */
ct_status ct_events_open(uint32_t types, ct_events **events_out);

/**
 * Subscribes inside the network namespace `netns` (a name under /run/netns or a path such as
 * /proc/PID/ns/net); the calling thread never changes namespace. Otherwise as ct_events_open.
 */
ct_status ct_events_open_netns(const char *netns, uint32_t types, ct_events **events_out);

/**
 * Closes `events` and frees it. Passing NULL does nothing; closing twice is undefined.
 */
void ct_events_close(ct_events *events);

/**
 * The listener's file descriptor, for the caller's poll/epoll loop (readable means events
 * are queued; call ct_events_receive with timeout 0). -1 for NULL. The descriptor belongs to
 * the listener: do not close it or read from it.
 */
int32_t ct_events_fd(const ct_events *events);

/**
 * Delivers only events whose entry matches `filter` (copied; NULL delivers all). The
 * kernel drops, through a socket filter, the events whose family, zone, mark or protocol
 * cannot match, so they take no buffer space; the library checks every field of every event
 * that gets through (ct_filter_set_kernel_filtering(f, false) leaves it all to the library).
 */
ct_status ct_events_set_filter(ct_events *events, const ct_filter *filter);

/**
 * Sets the receive buffer to about `bytes` (the kernel doubles it; without CAP_NET_ADMIN,
 * net.core.rmem_max caps it). The default, 64 MiB, holds a burst of about 100,000 events.
 */
ct_status ct_events_set_receive_buffer(ct_events *events, size_t bytes);

/**
 * Reliable mode on (`on` true) or off (the default): see ct_events for what it changes.
 * CT_ERR_UNSUPPORTED when the kernel lacks the socket options.
 */
ct_status ct_events_set_reliable(ct_events *events, bool on);

/**
 * Waits up to `timeout_ms` milliseconds (0: do not wait; -1: wait forever) for events, then
 * passes every event already queued to `cb`, until none is left, a bounded number was read
 * (so a busy stream still returns), or `cb` returns non-zero (the events after it stay queued
 * for the next call). `*delivered_out` (may be NULL) receives how many events were passed to
 * `cb`: 0 on timeout, when a signal interrupted the wait, or when every event that arrived was
 * filtered out. CT_ERR_OVERRUN when the kernel dropped events: the kernel reports the loss
 * ahead of the events still queued from before it, so the next calls can deliver events older
 * than the gap before newer ones; after draining them, dump the table to resynchronise.
 */
ct_status ct_events_receive(ct_events *events,
                            int32_t timeout_ms,
                            ct_event_cb cb,
                            void *user_data,
                            size_t *delivered_out);

/**
 * Inside a ct_events_receive callback, on the thread running it: the netlink port id of the
 * socket whose request caused the event being delivered (a process's create, update or
 * delete; `conntrack -E` prints it as `"[USERSPACE] portid=N"`), 0 when the kernel itself
 * caused it (a packet, a timeout). 0 outside a callback.
 */
uint32_t ct_events_sender(void);

/**
 * How many overruns (each: one or more events dropped by the kernel) the listener has
 * reported since it was opened. 0 for NULL.
 */
uint64_t ct_events_overruns(const ct_events *events);

/**
 * The detail of the last error of a call on `events` (the same text as
 * ct_last_error_message gave on the thread that made the call), or "" when none failed,
 * as ct_handle_last_error for a handle. Returns NULL only for NULL. The string belongs to
 * `events` and stays valid until its next failed call.
 */
const char *ct_events_last_error(const ct_events *events);

/**
 * The errno of the last failed call on `events` (0 when none, or for NULL).
 */
int32_t ct_events_last_errno(const ct_events *events);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Mirror ====================================================================
 * A live copy of the table, loaded by a dump, kept by events, repaired after loss. */
/**
 * Change kind: an entry appeared in the mirror.
 */
#define CT_MIRROR_NEW 1

/**
 * Change kind: an entry of the mirror changed.
 */
#define CT_MIRROR_UPDATE 2

/**
 * Change kind: an entry left the mirror.
 */
#define CT_MIRROR_DESTROY 4

/**
 * Flag OR-ed into a change found by a repair (the first load included) rather than
 * reported by an event.
 */
#define CT_MIRROR_REPAIR 256

/**
 * The content of one network namespace's conntrack table (or of the entries a filter
 * matches), held in memory: loaded by a dump, kept current from events, and repaired by a
 * new dump after the kernel dropped events. Events must exist for every entry: where
 * net.netfilter.nf_conntrack_events is 2, entries made before the first listener report
 * none (set it to 1, or call ct_mirror_request_repair on a schedule). The caller drives it: ct_mirror_step from its
 * own loop (ct_mirror_fd for poll/epoll), each change reaching its callback. Used by one
 * thread at a time; from inside its callback, only ct_mirror_close may be called on it.
 */
typedef struct ct_mirror ct_mirror;

/**
 * Called for each change of the mirror: `change` is one CT_MIRROR_NEW, _UPDATE or _DESTROY,
 * with CT_MIRROR_REPAIR when a repair found it; `entry` is the entry as the mirror now holds
 * it (for a destroy: as it held it last), valid until the callback returns. An update is
 * reported when a field the mirror compares changed (id, mark, status, reply tuple, protocol
 * state, labels, helper); the others (timeout, counters, reference count) are refreshed
 * silently. Return 0 to go on, anything else to end the step early (a repair still
 * completes first, its changes delivered).
 */
typedef int32_t (*ct_mirror_cb)(uint32_t change, const ct_entry *entry, void *user_data);

/**
 * A mirror's counters, as ct_mirror_stats reads them.
 */
typedef struct {
  /**
   * Events received and applied.
   */
  uint64_t events;
  /**
   * Times the kernel reported dropped events.
   */
  uint64_t overruns;
  /**
   * Repairs run (dumps compared with the mirror), the first load included.
   */
  uint64_t repairs;
  /**
   * Changes the repairs found.
   */
  uint64_t repaired_entries;
  /**
   * Milliseconds the mirror was known to be stale, summed (so far, when it still is).
   */
  uint64_t stale_ms;
  /**
   * Milliseconds the last repair took, from its dump's request to its end.
   */
  uint64_t last_repair_ms;
  /**
   * 1 while the mirror is known to be stale (events lost since the last clean repair).
   */
  uint32_t stale;
  /**
   * Zero.
   */
  uint32_t reserved;
} ct_mirror_counters;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Opens a mirror of the network namespace `netns` (a name under /run/netns or a path such
 * as /proc/PID/ns/net; NULL: the caller's), of the entries `filter` matches (NULL: all;
 * copied). It subscribes to events at once and is loaded by the first ct_mirror_step. On
 * CT_OK, `*mirror_out` is a new mirror owned by the caller; close it with ct_mirror_close.
 */
ct_status ct_mirror_open(const char *netns, const ct_filter *filter, ct_mirror **mirror_out);

/**
 * Closes `mirror` and frees it. Passing NULL does nothing; closing twice is undefined.
 * Called from the mirror's own callback, it takes effect when ct_mirror_step returns, and
 * no further change reaches the callback.
 */
void ct_mirror_close(ct_mirror *mirror);

/**
 * Runs what is due: the first load or a repair, then the events that arrive within
 * `timeout_ms` milliseconds (0: only those already queued; -1: wait until some arrive or a
 * repair is due). Each change goes to `cb` (see ct_mirror_cb); `*changes_out` (may be NULL)
 * receives how many were delivered. Call it when ct_mirror_fd is readable and at the latest
 * after ct_mirror_next_timeout milliseconds. An overrun is not an error: the mirror counts
 * it, knows itself stale, and repairs itself in a later step. A repair's dump runs on a
 * short-lived thread of the library's while this call applies its rows and the events; the
 * callback is always called on the calling thread.
 */
ct_status ct_mirror_step(ct_mirror *mirror,
                         int32_t timeout_ms,
                         ct_mirror_cb cb,
                         void *user_data,
                         size_t *changes_out);

/**
 * The descriptor to poll for the mirror's events (readable: call ct_mirror_step). -1 for
 * NULL. It belongs to the mirror: do not close it or read from it.
 */
int32_t ct_mirror_fd(const ct_mirror *mirror);

/**
 * Milliseconds until a repair is due (0: now), or -1 when none waits: the longest a caller
 * may wait on ct_mirror_fd before calling ct_mirror_step. -1 for NULL.
 */
int32_t ct_mirror_next_timeout(ct_mirror *mirror);

/**
 * Sets the event socket's receive buffer to about `bytes` (256 MiB by default, four times a listener's: a mirror does more per event). A smaller
 * buffer loses events under bursts, which the mirror then repairs.
 */
ct_status ct_mirror_set_receive_buffer(ct_mirror *mirror,
                                       size_t bytes);

/**
 * Sets the delay before a repair after an overrun: `min_ms` at first, doubling with each
 * overrun up to `max_ms`, and `min_ms` again after a repair that saw no loss (defaults: 10
 * and 2000).
 */
ct_status ct_mirror_set_backoff(ct_mirror *mirror, uint32_t min_ms, uint32_t max_ms);

/**
 * Asks for a repair (a dump compared with the mirror) at the next ct_mirror_step: for
 * callers that refresh on a schedule, for example where net.netfilter.nf_conntrack_events is
 * 2 and entries made before the first listener report no events at all.
 */
ct_status ct_mirror_request_repair(ct_mirror *mirror);

/**
 * How many entries the mirror holds (0 for NULL or while a call holds it).
 */
size_t ct_mirror_count(ct_mirror *mirror);

/**
 * Looks up the entry with `key`'s original tuple and zone (unset: zone 0). On CT_OK,
 * `*entry_out` is the mirror's entry, valid until the next ct_mirror_step or
 * ct_mirror_close (copy it with ct_entry_clone to keep it). CT_ERR_NOT_FOUND when the
 * mirror has none.
 */
ct_status ct_mirror_get(ct_mirror *mirror, const ct_entry *key, const ct_entry **entry_out);

/**
 * Looks up the entry with the kernel id `id` (the newest where two share it: the kernel's ids
 * are 32-bit hashes, so two live entries can);
 * otherwise as ct_mirror_get.
 */
ct_status ct_mirror_get_by_id(ct_mirror *mirror, uint32_t id, const ct_entry **entry_out);

/**
 * Passes every entry of the mirror to `cb` (as a dump callback: return 0 to go on), in no
 * particular order. Each entry is valid until the callback returns.
 */
ct_status ct_mirror_each(ct_mirror *mirror, ct_dump_cb cb, void *user_data);

/**
 * Copies the mirror's counters into `*stats_out`.
 */
ct_status ct_mirror_stats(ct_mirror *mirror, ct_mirror_counters *stats_out);

/**
 * The detail of the last error of a call on `mirror` (the same text as
 * ct_last_error_message gave on the thread that made the call), or "" when none failed,
 * as ct_handle_last_error for a handle. Returns NULL only for NULL. The string belongs to
 * `mirror` and stays valid until its next failed call.
 */
const char *ct_mirror_last_error(const ct_mirror *mirror);

/**
 * The errno of the last failed call on `mirror` (0 when none, or for NULL).
 */
int32_t ct_mirror_last_errno(const ct_mirror *mirror);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Statistics ================================================================
 * The table's size and per-CPU counters (conntrack -C, conntrack -S). */
/**
 * Per-CPU conntrack statistics, as `conntrack -S` prints them. A plain struct the caller
 * owns. Counters the running kernel does not send read 0.
 */
typedef struct {
  /**
   * The CPU these counters belong to (unused in the sum of ct_stats_total).
   */
  uint32_t cpu;
  /**
   * Lookups that found an entry.
   */
  uint32_t found;
  /**
   * Packets conntrack could not track.
   */
  uint32_t invalid;
  /**
   * Entries inserted.
   */
  uint32_t insert;
  /**
   * Inserts that failed.
   */
  uint32_t insert_failed;
  /**
   * Packets dropped.
   */
  uint32_t drop;
  /**
   * Entries dropped early to make room.
   */
  uint32_t early_drop;
  /**
   * Errors.
   */
  uint32_t error;
  /**
   * Lookups restarted.
   */
  uint32_t search_restart;
  /**
   * Clashes resolved.
   */
  uint32_t clash_resolve;
  /**
   * Hash chains found too long.
   */
  uint32_t chaintoolong;
} ct_stats;

/**
 * Per-CPU expectation statistics, as `conntrack -S expect` prints them. A plain struct the
 * caller owns.
 */
typedef struct {
  /**
   * The CPU these counters belong to.
   */
  uint32_t cpu;
  /**
   * Expectations set up by a helper from a packet.
   */
  uint32_t expect_new;
  /**
   * Expectations inserted in the table.
   */
  uint32_t expect_create;
  /**
   * Expectations removed.
   */
  uint32_t expect_delete;
} ct_expect_stats;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * The number of entries in the handle's table (`conntrack -C`) into `*count_out`, and the
 * table's limit (net.netfilter.nf_conntrack_max) into `*max_out` (may be NULL).
 */
ct_status ct_count(ct_handle *h, uint32_t *count_out, uint32_t *max_out);

/**
 * The statistics of each CPU into `stats[0..len]`, one per CPU in the kernel's order;
 * `*n_out` receives how many CPUs there are. CT_ERR_BUFFER_TOO_SMALL (with `*n_out` set and
 * the first `len` written) when `len` is smaller; `stats` may be NULL when `len` is 0, to
 * ask for the number.
 */
ct_status ct_stats_per_cpu(ct_handle *h, ct_stats *stats, size_t len, size_t *n_out);

/**
 * The statistics summed over every CPU into `*total_out` (its `cpu` field is 0).
 */
ct_status ct_stats_total(ct_handle *h, ct_stats *total_out);

/**
 * The expectation statistics of each CPU into `stats[0..len]`, one per CPU in the kernel's
 * order; `*n_out` receives how many CPUs there are. CT_ERR_BUFFER_TOO_SMALL (with `*n_out`
 * set and the first `len` written) when `len` is smaller; `stats` may be NULL when `len` is
 * 0, to ask for the number.
 */
ct_status ct_expect_stats_per_cpu(ct_handle *h, ct_expect_stats *stats, size_t len, size_t *n_out);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Expectations ==============================================================
 * The expectation table: connections a helper (FTP, SIP, ...) expects. */
/**
 * Tuple selector: the original tuple of the master connection.
 */
#define CT_EXPECT_MASTER 0

/**
 * Tuple selector: the expected connection's tuple.
 */
#define CT_EXPECT_TUPLE 1

/**
 * Tuple selector: the mask over the expected tuple (addresses and ports as bit masks).
 */
#define CT_EXPECT_MASK 2

/**
 * An expectation: plain data owned by whoever made it, or by the dump callback that hands it
 * out.
 */
typedef struct ct_expect ct_expect;

/**
 * A subscription to the expectation table's events (`conntrack -E expect`).
 */
typedef struct ct_expect_events ct_expect_events;

/**
 * Called for each expectation of a dump: `expect` is valid until the callback returns (copy
 * it with ct_expect_clone). Return 0 to go on, anything else to stop.
 */
typedef int32_t (*ct_expect_cb)(const ct_expect *expect, void *user_data);

/**
 * Called for each expectation event: `event_type` is one CT_EVENT_* value; `expect` is
 * valid until the callback returns (copy it with ct_expect_clone). Return 0 to go on.
 */
typedef int32_t (*ct_expect_event_cb)(uint32_t event_type, const ct_expect *expect, void *user_data);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Makes an empty expectation. On CT_OK, `*expect_out` is owned by the caller; free it with
 * ct_expect_free.
 */
ct_status ct_expect_new(ct_expect **expect_out);

/**
 * Copies `expect`. On CT_OK, `*expect_out` is owned by the caller; free it with
 * ct_expect_free.
 */
ct_status ct_expect_clone(const ct_expect *expect, ct_expect **expect_out);

/**
 * Frees `expect`. Passing NULL does nothing; freeing twice is undefined.
 */
void ct_expect_free(ct_expect *expect);

/**
 * Sets the tuple `which` (CT_EXPECT_MASTER, CT_EXPECT_TUPLE or CT_EXPECT_MASK) to the
 * original tuple of `entry` (addresses, protocol, ports or ICMP fields, made with the
 * ct_entry setters); `entry` is only read.
 */
ct_status ct_expect_set_tuple(ct_expect *expect, uint32_t which, const ct_entry *entry);

/**
 * The tuple `which` as the original tuple of a new entry (read it with the ct_entry
 * getters). On CT_OK, `*entry_out` is owned by the caller; free it with ct_entry_free.
 */
ct_status ct_expect_get_tuple(const ct_expect *expect, uint32_t which, ct_entry **entry_out);

/**
 * Sets the timeout in seconds (the helper's policy may replace it).
 */
ct_status ct_expect_set_timeout(ct_expect *expect, uint32_t seconds);

/**
 * Sets the zone (0..65535).
 */
ct_status ct_expect_set_zone(ct_expect *expect, uint32_t zone);

/**
 * Sets the helper name ("ftp"; 1 to 15 bytes, else CT_ERR_INVALID_ARGUMENT); `name` is
 * copied. Without one, the master's helper is used.
 */
ct_status ct_expect_set_helper(ct_expect *expect, const char *name);

/**
 * Sets the helper's expectation class.
 */
ct_status ct_expect_set_class(ct_expect *expect, uint32_t class_);

/**
 * Gets the seconds left.
 */
ct_status ct_expect_get_timeout(const ct_expect *expect, uint32_t *seconds_out);

/**
 * Gets the zone (CT_ERR_NOT_SET: zone 0).
 */
ct_status ct_expect_get_zone(const ct_expect *expect, uint32_t *zone_out);

/**
 * Gets the helper's expectation class.
 */
ct_status ct_expect_get_class(const ct_expect *expect, uint32_t *class_out);

/**
 * Gets the flags (the kernel's NF_CT_EXPECT_*).
 */
ct_status ct_expect_get_flags(const ct_expect *expect, uint32_t *flags_out);

/**
 * Gets the kernel's id of the expectation.
 */
ct_status ct_expect_get_id(const ct_expect *expect, uint32_t *id_out);

/**
 * Writes the helper name into `buf` (`len` bytes with the NUL; 16 always suffices).
 */
ct_status ct_expect_get_helper(const ct_expect *expect, char *buf, size_t len);

/**
 * Streams every expectation of the handle's namespace to `cb`.
 */
ct_status ct_expect_dump(ct_handle *h, ct_expect_cb cb, void *user_data);

/**
 * Creates `expect`: it needs the master, expected and mask tuples; the master connection
 * must exist with a helper attached (CT_ERR_NOT_FOUND otherwise). CT_ERR_EXISTS when it is
 * already expected.
 */
ct_status ct_expect_create(ct_handle *h, const ct_expect *expect);

/**
 * Deletes the expectation with `expect`'s expected tuple and zone (and id, when it holds
 * one, as an expectation from `ct_expect_dump` does). CT_ERR_NOT_FOUND when there is none.
 * The id is checked on every kernel, including those whose own id lookup fails (5.10
 * before its stable fix): there the library reads the expectation by tuple, compares the
 * id and deletes by tuple.
 */
ct_status ct_expect_delete(ct_handle *h, const ct_expect *expect);

/**
 * Empties the expectation table of the handle's namespace.
 */
ct_status ct_expect_flush(ct_handle *h);

/**
 * Subscribes to the expectation events `types` (an OR of CT_EVENT_NEW, CT_EVENT_UPDATE and
 * CT_EVENT_DESTROY) of the network namespace `netns` (a name under /run/netns or a path such
 * as /proc/PID/ns/net; NULL: the caller's; the calling thread never changes namespace). On
 * CT_OK, `*events_out` is owned by the caller; close it with ct_expect_events_close.
 * With net.netfilter.nf_conntrack_events=2 (the default of newer kernels) the kernel gives
 * an entry its event extension only when a listener exists as it is made, so expectations
 * of a master made before any listener report no events; set it to 1 to hear them all.
 */
ct_status ct_expect_events_open(const char *netns, uint32_t types, ct_expect_events **events_out);

/**
 * Waits up to `timeout_ms` milliseconds (0: do not wait; -1: wait forever) for expectation
 * events, then passes those queued to `cb`; a non-zero return stops the call after the
 * datagram being delivered. `*delivered_out` (may be NULL) receives how many were passed:
 * 0 on timeout or when a signal interrupted the wait. CT_ERR_OVERRUN when the kernel dropped
 * events; list the table to resynchronise.
 */
ct_status ct_expect_events_receive(ct_expect_events *events,
                                   int32_t timeout_ms,
                                   ct_expect_event_cb cb,
                                   void *user_data,
                                   size_t *delivered_out);

/**
 * The detail of the expectation listener's last failed call, or "" when none failed, as
 * ct_events_last_error for an entry listener. Returns NULL only for NULL. The string
 * belongs to the listener and lives until its next failure or ct_expect_events_close.
 */
const char *ct_expect_events_last_error(const ct_expect_events *events);

/**
 * The errno of the expectation listener's last failed call (0 when none had one, or for
 * NULL).
 */
int32_t ct_expect_events_last_errno(const ct_expect_events *events);

/**
 * The listener's file descriptor, for the caller's poll/epoll loop; -1 for NULL.
 */
int32_t ct_expect_events_fd(const ct_expect_events *events);

/**
 * Closes `events` and frees it. Passing NULL does nothing; closing twice is undefined.
 */
void ct_expect_events_close(ct_expect_events *events);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

/* Labels ====================================================================
 * Label names from connlabel.conf, to set and show labels by name. */
/**
 * The names of the 128 label bits, read from a connlabel.conf file. Plain data owned by the
 * caller; read-only use may be shared between threads.
 */
typedef struct ct_labelmap ct_labelmap;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Reads label names from `path` (NULL: /etc/xtables/connlabel.conf, where `conntrack -l`
 * looks). CT_ERR_NOT_FOUND when the file does not exist. On CT_OK, `*map_out` is a new map
 * owned by the caller; free it with ct_labelmap_free.
 */
ct_status ct_labelmap_open(const char *path, ct_labelmap **map_out);

/**
 * Frees `map`. Passing NULL does nothing; freeing twice is undefined.
 */
void ct_labelmap_free(ct_labelmap *map);

/**
 * The bit named `name` into `*bit_out`. CT_ERR_NOT_FOUND when no bit has that name.
 */
ct_status ct_labelmap_bit(const ct_labelmap *map, const char *name, uint32_t *bit_out);

/**
 * The name of label bit `bit`, or NULL when it has none (or `map` is NULL). The string
 * belongs to `map` and lives until ct_labelmap_free(map).
 */
const char *ct_labelmap_name(const ct_labelmap *map, uint32_t bit);

/**
 * Sets (`on` true) or clears the label named `name` on `entry`, as ct_entry_set_label does
 * for a bit. CT_ERR_NOT_FOUND when `map` has no such name; the entry is then unchanged.
 */
ct_status ct_entry_set_label_name(ct_entry *entry,
                                  const ct_labelmap *map,
                                  const char *name,
                                  bool on);

/**
 * Like ct_entry_format, then the labels as `conntrack -L -o labels` prints them with the
 * names of `map` (` labels=a,b`; bits without a name are left out, as the tool does).
 */
ct_status ct_entry_format_labels(const ct_entry *entry,
                                 const ct_labelmap *map,
                                 uint32_t flags,
                                 char *buf,
                                 size_t len,
                                 size_t *needed_out);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* CONNTRACK_H */
