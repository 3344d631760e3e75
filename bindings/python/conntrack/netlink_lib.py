"""The interface of OpenStack Neutron's ``neutron.privileged.agent.linux.netlink_lib``
on libconntrack, so that::

    from conntrack import netlink_lib as nl_lib

replaces Neutron's import. ``list_entries(zone)`` and ``delete_entries(entries)`` take
and give the same tuples, in the same order:

    (4, 'tcp', 1, 2, '1.1.1.1', '2.2.2.2', zone)        # ip version, protocol,
    (4, 'udp', 4, 5, '1.1.1.1', '2.2.2.2', zone)        # sport, dport, src, dst, zone
    (4, 'icmp', 8, 0, '1.1.1.1', '2.2.2.2', 3333, zone) # type, code, src, dst, id, zone
    (6, 'icmpv6', 128, 0, '::1', '::2', 3333, zone)

Differences from Neutron's module:

- These are plain functions, not privsep entrypoints: the caller needs CAP_NET_ADMIN in
  the network namespace itself (run them inside the privileged daemon, or as root).
- Like Neutron's they work in the caller's network namespace; the optional ``netns``
  keyword (a name under /run/netns or a /proc/PID/ns/net path) opens the handle there
  instead, without moving the calling thread.
- The zone is filtered by the kernel (a ct_filter with the zone; the library checks it
  again on kernels before 6.8), and no text is parsed. Zone 0 lists the entries without a
  zone (Neutron's text match finds none there).
- Every protocol is listed: port protocols (tcp, udp, udplite, sctp, dccp; gre with its
  keys) in the tcp/udp layout, icmp and icmpv6 in the icmp layout, and any other protocol
  in the tcp/udp layout with sport and dport 0 and its name (or its number as text).
- list_entries reads the zone's entries a block of flat records (ct_view) per C call and
  makes the tuples from them directly.
- delete_entries sends the deletions in one batch, passed as one block of records. An entry already gone
  (CT_ERR_NOT_FOUND) is not an error; any other failure raises the ConntrackError of the
  first failed tuple after all were tried, with ``.failures``: a list of (tuple,
  exception) pairs. A malformed tuple raises InvalidArgumentError before anything is
  deleted. Neutron logs a failed deletion and goes on instead.
"""

import ctypes
import ipaddress
import socket
import struct

from . import _lib
from .entry import (
    FAMILY_IPV4,
    FAMILY_IPV6,
    ICMP_PROTOS,
    PORT_PROTOS,
    Entry,
    proto_name,
    proto_number,
)
from .errors import ConntrackError, NotFoundError, check, invalid
from .filter import Filter
from .handle import BLOCK as _BLOCK
from .handle import Conntrack

__all__ = ["IP_VERSIONS", "list_entries", "delete_entries"]

IP_VERSIONS = [4, 6]


# The fields a Neutron tuple needs, read straight from each ct_view record of a block:
# present, family, proto, original ports, original ICMP type/code/id, original addresses.
_TUPLE = struct.Struct("<4xIBB26xHH4xBBH8x16s16s104x")
assert _TUPLE.size == _lib.VIEW_SIZE
_NEEDED = _lib.CT_VIEW_FAMILY | _lib.CT_VIEW_PROTO | _lib.CT_VIEW_ORIG_SRC | _lib.CT_VIEW_ORIG_DST
_PORTS = _lib.CT_VIEW_ORIG_SPORT | _lib.CT_VIEW_ORIG_DPORT
_NAMES = tuple(proto_name(n) for n in range(256))


# The common layout (a port protocol with both addresses and both ports) takes the short
# path; anything else the full one.
_COMMON = _NEEDED | _PORTS
_PORT_PROTO = tuple(n in PORT_PROTOS for n in range(256))


def _tuples_of_block(block, zone, by_version, names):
    """Appends the Neutron tuple of every view of `block` to by_version[4] or [6].
    `names` maps (family, address bytes) to its text: a table's addresses repeat (a
    port's own address in every entry of its zone), so each is turned into text once a
    call."""
    v4, v6 = by_version[4], by_version[6]
    add4, add6 = v4.append, v6.append
    ntop = socket.inet_ntop
    af4, af6 = socket.AF_INET, socket.AF_INET6
    get = names.get
    for p, fam, proto, sport, dport, itype, code, iid, src, dst in _TUPLE.iter_unpack(block):
        if p & _COMMON == _COMMON and _PORT_PROTO[proto]:
            # Keyed by all 16 bytes and the family: an IPv4 address's 12 zero bytes follow it.
            if fam == FAMILY_IPV6:
                src_t = get((6, src))
                if src_t is None:
                    src_t = names[6, src] = ntop(af6, src)
                dst_t = get((6, dst))
                if dst_t is None:
                    dst_t = names[6, dst] = ntop(af6, dst)
                add6((6, _NAMES[proto], sport, dport, src_t, dst_t, zone))
            else:
                src_t = get((4, src))
                if src_t is None:
                    src_t = names[4, src] = ntop(af4, src[:4])
                dst_t = get((4, dst))
                if dst_t is None:
                    dst_t = names[4, dst] = ntop(af4, dst[:4])
                add4((4, _NAMES[proto], sport, dport, src_t, dst_t, zone))
            continue
        if fam == FAMILY_IPV6:
            version, out, af, src_b, dst_b = 6, v6, af6, src, dst
        else:
            version, out, af, src_b, dst_b = 4, v4, af4, src[:4], dst[:4]
        src_t = ntop(af, src_b) if p & _lib.CT_VIEW_ORIG_SRC else ""
        dst_t = ntop(af, dst_b) if p & _lib.CT_VIEW_ORIG_DST else ""
        name = _NAMES[proto]
        if proto in ICMP_PROTOS:
            if not p & _lib.CT_VIEW_ORIG_ICMP:
                itype = code = iid = None
            out.append((version, name, itype, code, src_t, dst_t, iid, zone))
        elif proto in PORT_PROTOS:
            sport = sport if p & _lib.CT_VIEW_ORIG_SPORT else 0
            dport = dport if p & _lib.CT_VIEW_ORIG_DPORT else 0
            out.append((version, name, sport, dport, src_t, dst_t, zone))
        else:
            out.append((version, name, 0, 0, src_t, dst_t, zone))


def list_entries(zone, netns=None):
    """List the conntrack entries of `zone` as Neutron's tuples.

    :param zone: the zone the entries belong to (0..65535); it is the last element of
        every tuple, as given
    :param netns: optional network namespace (default: the caller's, as Neutron)
    :return: a list of tuples, IPv4 before IPv6, then sorted (stably) by the fourth
        element (dport for port protocols, code for ICMP), as Neutron sorts them:
        [(4, 'icmp', 8, 0, '1.1.1.1', '2.2.2.2', 3333, zone),
         (4, 'tcp', 1, 2, '1.1.1.1', '2.2.2.2', zone)]
    """
    if isinstance(zone, bool):
        raise invalid("zone must be an int, not bool")
    try:
        zone_number = int(zone)
    except (TypeError, ValueError):
        raise invalid("zone %r is not a number" % (zone,)) from None
    by_version = {4: [], 6: []}
    with Conntrack(netns) as ct:
        it = ct.dump(Filter(zone=zone_number))
        try:
            # The tuples come straight from blocks of views: no Entry objects.
            lib = _lib.lib
            buf = ctypes.create_string_buffer(_BLOCK * _lib.VIEW_SIZE)
            count = ctypes.c_size_t(0)
            names = {}
            first = 0
            while first < it._len:
                check(lib.ct_entry_list_views(it._ptr, first, buf, _lib.VIEW_SIZE, _BLOCK,
                                              ctypes.byref(count)))
                n = count.value
                if n == 0:
                    break
                _tuples_of_block(memoryview(buf)[:n * _lib.VIEW_SIZE], zone, by_version, names)
                first += n
        finally:
            it.close()
    return sorted(by_version[4] + by_version[6], key=lambda x: x[3])


def _entry_of(t):
    """The Entry (tuple and zone) that deleting Neutron tuple `t` needs."""
    try:
        items = tuple(t)
    except TypeError:
        raise invalid("entry %r is not a tuple" % (t,)) from None
    if len(items) < 7:
        raise invalid("entry %r is too short for a conntrack tuple" % (items,))
    version = items[0]
    if version not in (4, 6):
        raise invalid("entry %r: IP version %r is neither 4 nor 6" % (items, version))
    proto = proto_number(items[1])
    icmp = proto in ICMP_PROTOS
    if len(items) != (8 if icmp else 7):
        raise invalid(
            "entry %r: %s tuples have %d elements" % (items, proto_name(proto), 8 if icmp else 7)
        )
    try:
        src = ipaddress.ip_address(items[4])
        dst = ipaddress.ip_address(items[5])
    except ValueError as e:
        raise invalid("entry %r: %s" % (items, e)) from None
    if src.version != version or dst.version != version:
        raise invalid("entry %r: addresses are not IPv%d" % (items, version))
    zone = items[-1]
    if isinstance(zone, bool):
        raise invalid("entry %r: zone must be an int" % (items,))
    try:
        zone = int(zone)
    except (TypeError, ValueError):
        raise invalid("entry %r: zone %r is not a number" % (items, zone)) from None
    e = Entry(
        family=FAMILY_IPV4 if version == 4 else FAMILY_IPV6,
        proto=proto,
        orig_src=src,
        orig_dst=dst,
        zone=zone,
    )
    if icmp:
        e.orig_icmp_type, e.orig_icmp_code, e.orig_icmp_id = items[2], items[3], items[6]
    elif proto in PORT_PROTOS:
        e.orig_sport, e.orig_dport = items[2], items[3]
    return e


def delete_entries(entries, netns=None):
    """Delete the given entries (tuples as list_entries returns them).

    :param entries: iterable of Neutron tuples
    :param netns: optional network namespace (default: the caller's, as Neutron)
    :return: None. Entries already gone are skipped silently; other failures raise (see
        the module's documentation).
    """
    tuples = list(entries)
    built = [_entry_of(t) for t in tuples]  # every tuple checked before any deletion
    if not built:
        return None
    with Conntrack(netns) as ct:
        with ct.batch() as batch:
            batch.add_deletes(built)  # one block of views
            results = batch.send()
    failures = [
        (t, r)
        for t, r in zip(tuples, results)
        if r is not None and not isinstance(r, NotFoundError)
    ]
    if failures:
        error = failures[0][1]
        if not isinstance(error, ConntrackError):  # pragma: no cover - defensive
            raise error
        error.failures = failures
        raise error
    return None
