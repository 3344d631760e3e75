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
- list_entries streams the zone's entries (a cursor: a block of flat records, ct_view,
  per C call) and makes the tuples from each block directly; a block whose records all
  have the common layout (IPv4 or IPv6, a port protocol, both ports) is turned into
  tuples column by column, with no Python code run per entry. As with Neutron's module
  (libnetfilter_conntrack's dump, every entry passed on), an entry the kernel sends twice
  is listed twice: a dump can do that while entries die or the table resizes under it.
  (Conntrack.list() drops such repeats.)
- delete_entries sends the deletions in one batch, passed as blocks of records built
  column by column (a block per run of tuples of one IP version and protocol; tuples of
  another shape, such as addresses given as ipaddress objects, as one Entry each). An entry already gone
  (CT_ERR_NOT_FOUND) is not an error; any other failure raises the ConntrackError of the
  first failed tuple after all were tried, with ``.failures``: a list of (tuple,
  exception) pairs. A malformed tuple raises InvalidArgumentError before anything is
  deleted. Neutron logs a failed deletion and goes on instead.
"""

import ctypes
import ipaddress
import queue
import socket
import struct
import sys
import threading
from itertools import compress, groupby, repeat
from operator import itemgetter

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
from .columns import pack as _pack_columns
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

# Where _TUPLE's fields sit in a view, for reading one field of every view of a block at
# once (a strided memoryview: a column).
_OFF_PRESENT, _OFF_FAMILY, _OFF_PROTO, _OFF_SPORT, _OFF_SRC, _OFF_DST = 4, 8, 9, 36, 56, 72
# The common layout's bits are all in present's low byte (little-endian: _lib checks it).
assert _COMMON < 0x100
# Byte values the columns may hold for the columnar path; bytes.translate(None, these)
# deletes them, so an empty result means every view qualifies.
_COMMON_PRESENT = bytes(b for b in range(256) if b & _COMMON == _COMMON)
_PORT_PROTO_BYTES = bytes(sorted(PORT_PROTOS))
_FAMILY_BYTES = bytes((FAMILY_IPV4, FAMILY_IPV6))
# Family byte -> 1 if it is that family, else 0: selectors for itertools.compress.
_IS_V4 = bytes(int(b == FAMILY_IPV4) for b in range(256))
_IS_V6 = bytes(int(b == FAMILY_IPV6) for b in range(256))
_VIEW_SIZE = _lib.VIEW_SIZE
_FOURTH = itemgetter(3)
_U16, _U32, _U64 = _VIEW_SIZE // 2, _VIEW_SIZE // 4, _VIEW_SIZE // 8


class _V4Text(dict):
    """IPv4 address (its four bytes read as a little-endian u32) -> text; Python runs only
    for an address not seen before (the addresses of a zone repeat)."""

    __slots__ = ()

    def __missing__(self, key):
        text = self[key] = socket.inet_ntop(socket.AF_INET, key.to_bytes(4, "little"))
        return text


class _V6Text(dict):
    """IPv6 address (its 16 bytes as two little-endian u64) -> text, as _V4Text."""

    __slots__ = ()

    def __missing__(self, key):
        raw = key[0].to_bytes(8, "little") + key[1].to_bytes(8, "little")
        text = self[key] = socket.inet_ntop(socket.AF_INET6, raw)
        return text


def _columns_of_block(block, n, zone, v4, v6, v4_text, v6_text):
    """Appends the Neutron tuples of the `n` views of `block` (a byte memoryview) to v4
    and v6 when every view has the common layout (IPv4 or IPv6, a port protocol, both
    addresses and ports); returns False, appending nothing, otherwise. The tuples are
    made by zip over columns of the block, with no Python code run per entry (but for an
    address seen the first time), in the order the per-entry path makes them."""
    if block[_OFF_PRESENT::_VIEW_SIZE].tobytes().translate(None, _COMMON_PRESENT):
        return False
    families = block[_OFF_FAMILY::_VIEW_SIZE].tobytes()
    protos = block[_OFF_PROTO::_VIEW_SIZE].tobytes()
    if families.translate(None, _FAMILY_BYTES) or protos.translate(None, _PORT_PROTO_BYTES):
        return False
    if protos.count(protos[0]) == n:
        names = [_NAMES[protos[0]]] * n
    else:
        names = list(map(_NAMES.__getitem__, protos))
    u16 = block.cast("H")
    sports = u16[_OFF_SPORT // 2::_U16].tolist()
    dports = u16[_OFF_SPORT // 2 + 1::_U16].tolist()
    v4_count = families.count(FAMILY_IPV4)
    if v4_count:
        u32 = block.cast("I")
        src = u32[_OFF_SRC // 4::_U32].tolist()
        dst = u32[_OFF_DST // 4::_U32].tolist()
        if v4_count == n:
            v4.extend(_tuples(4, names, sports, dports, src, dst, zone, v4_text))
            return True
        sel = families.translate(_IS_V4)
        v4.extend(_tuples(4, compress(names, sel), compress(sports, sel),
                          compress(dports, sel), compress(src, sel), compress(dst, sel),
                          zone, v4_text))
    u64 = block.cast("Q")
    src = zip(u64[_OFF_SRC // 8::_U64].tolist(), u64[_OFF_SRC // 8 + 1::_U64].tolist())
    dst = zip(u64[_OFF_DST // 8::_U64].tolist(), u64[_OFF_DST // 8 + 1::_U64].tolist())
    if v4_count:
        sel = families.translate(_IS_V6)
        names, sports, dports = compress(names, sel), compress(sports, sel), compress(dports, sel)
        src, dst = compress(src, sel), compress(dst, sel)
    v6.extend(_tuples(6, names, sports, dports, src, dst, zone, v6_text))
    return True


def _tuples(version, names, sports, dports, src, dst, zone, text):
    """The Neutron tuples of columns (iterables of the same length), addresses turned to
    text through the dict `text`."""
    get = text.__getitem__
    return zip(repeat(version), names, sports, dports, map(get, src), map(get, dst),
               repeat(zone))


def _check_columns():
    """The columns' offsets are _TUPLE's: one view packed by _TUPLE reads back the same."""
    src, dst = bytes(range(1, 17)), bytes(range(17, 33))
    view = memoryview(bytearray(_TUPLE.pack(_COMMON, FAMILY_IPV6, 6, 1111, 2222, 0, 0, 0,
                                            src, dst)))
    v4, v6 = [], []
    if not _columns_of_block(view, 1, 9, v4, v6, _V4Text(), _V6Text()) or v6 != [
        (6, "tcp", 1111, 2222, socket.inet_ntop(socket.AF_INET6, src),
         socket.inet_ntop(socket.AF_INET6, dst), 9)
    ]:
        raise ImportError("conntrack.netlink_lib: its ct_view columns are not the layout's")


_check_columns()


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


def _read_block(ptr, buf):
    """Reads the cursor's next block of views into `buf`; how many (0 at the end)."""
    count = ctypes.c_size_t(0)
    check(_lib.lib.ct_cursor_next_views(ptr, buf, _VIEW_SIZE, _BLOCK, ctypes.byref(count)))
    return count.value


def _green_threads():
    """Whether eventlet has made threads green (as in a Neutron agent): then a reader
    thread would block the hub instead of running beside the caller."""
    eventlet = sys.modules.get("eventlet.patcher")
    return eventlet is not None and eventlet.is_monkey_patched("thread")


def _blocks(ptr):
    """Yields (block, n): a byte memoryview of the cursor's next `n` views, valid until the
    next one is asked for.

    When the first block is full (more are coming), the rest are read on a thread of its
    own: ctypes lets go of the GIL during the C call, which is where the kernel does the
    dump's work, so on two cores the dump of the next block runs while the caller turns
    this one into tuples. A small zone is read on the calling thread alone."""
    first = ctypes.create_string_buffer(_BLOCK * _VIEW_SIZE)
    n = _read_block(ptr, first)
    if n == 0:
        return
    yield memoryview(first).cast("B")[:n * _VIEW_SIZE], n
    if n < _BLOCK or _green_threads():
        while True:
            n = _read_block(ptr, first)
            if n == 0:
                return
            yield memoryview(first).cast("B")[:n * _VIEW_SIZE], n
    # Three buffers: one being read, one waiting, one being turned into tuples.
    free, full = queue.SimpleQueue(), queue.SimpleQueue()
    free.put(first)
    free.put(ctypes.create_string_buffer(_BLOCK * _VIEW_SIZE))
    free.put(ctypes.create_string_buffer(_BLOCK * _VIEW_SIZE))

    def reader():
        try:
            while True:
                buf = free.get()
                if buf is None:
                    return
                got = _read_block(ptr, buf)
                full.put((buf, got, None))
                if got == 0:
                    return
        except BaseException as e:  # noqa: B902 - handed to the caller's thread
            full.put((None, 0, e))

    t = threading.Thread(target=reader, name="conntrack-list", daemon=True)
    t.start()
    try:
        while True:
            buf, n, error = full.get()
            if error is not None:
                raise error
            if n == 0:
                return
            yield memoryview(buf).cast("B")[:n * _VIEW_SIZE], n
            free.put(buf)
    finally:
        # Stops the reader after the block it may be reading; the cursor is freed after.
        free.put(None)
        t.join()


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
    v4, v6 = [], []
    by_version = {4: v4, 6: v6}
    with Conntrack(netns) as ct:
        # Streamed: each block of views is turned into tuples as it comes, so no C entry
        # of the zone is kept. Like Neutron's module, this passes on an entry the kernel
        # sends twice while the table changes under the dump (ct_list would drop it).
        it = ct.stream(Filter(zone=zone_number))
        blocks = _blocks(it._ptr)
        try:
            # The tuples come straight from blocks of views: no Entry objects.
            names, v4_text, v6_text = {}, _V4Text(), _V6Text()
            for block, n in blocks:
                if not _columns_of_block(block, n, zone, v4, v6, v4_text, v6_text):
                    _tuples_of_block(block, zone, by_version, names)
        finally:
            # The reader thread (if any) ends before the cursor is freed.
            blocks.close()
            it.close()
    v4 += v6
    v4.sort(key=_FOURTH)
    return v4


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


_VERSION_PROTO = itemgetter(0, 1)


def _delete_records(tuples):
    """The delete records of `tuples` as [(bytearray of records, count)], one per run of
    tuples of the same IP version and protocol, built column by column (no Entry an entry);
    None when a tuple is not of the plain shape (addresses as text, int ports and zone) or
    not valid: _entry_of then builds them one at a time and raises what it raises. The
    records are those _entry_of's entries have."""
    out = []
    try:
        for (version, proto), run in groupby(tuples, _VERSION_PROTO):
            if version.__class__ is not int or version not in (4, 6):
                return None
            proto = proto_number(proto)
            icmp = proto in ICMP_PROTOS
            run = list(run)
            if set(map(len, run)) != {8 if icmp else 7}:
                return None
            cols = list(zip(*run))
            if not set(map(type, cols[4])) | set(map(type, cols[5])) <= {str}:
                return None
            columns = {"orig_src": cols[4], "orig_dst": cols[5], "zone": cols[-1]}
            if icmp:
                columns.update(orig_icmp_type=cols[2], orig_icmp_code=cols[3],
                               orig_icmp_id=cols[6])
            elif proto in PORT_PROTOS:
                columns.update(orig_sport=cols[2], orig_dport=cols[3])
            template = Entry(family=FAMILY_IPV4 if version == 4 else FAMILY_IPV6, proto=proto)
            out.append(_pack_columns(template, columns))
    except Exception:  # noqa: BLE001 - _entry_of checks them again and says why
        return None
    return out


def delete_entries(entries, netns=None):
    """Delete the given entries (tuples as list_entries returns them).

    :param entries: iterable of Neutron tuples
    :param netns: optional network namespace (default: the caller's, as Neutron)
    :return: None. Entries already gone are skipped silently; other failures raise (see
        the module's documentation).
    """
    tuples = list(entries)
    # Every tuple checked before any deletion: as columns when they are of the plain
    # shape, else one Entry a tuple (which raises for a malformed one).
    records = _delete_records(tuples)
    built = [_entry_of(t) for t in tuples] if records is None else None
    if not tuples:
        return None
    with Conntrack(netns) as ct:
        with ct.batch() as batch:
            if records is None:
                batch.add_deletes(built)  # one block of views
            else:
                for block, count in records:
                    batch._add_records(_lib.CT_BATCH_DELETE, block, count)
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
