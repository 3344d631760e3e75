"""Entry: one conntrack entry as a plain Python object, and its conversion to and from
the library's ct_entry.

Every field of the C entry is a field here; a field the entry does not hold is None.
Entries are read from the library as ct_view records (one flat, fixed layout per entry),
many in one C call; an Entry keeps its record's bytes (shared with the block it came in)
and decodes its fields on first use, so that Entry.format() gives exactly the
``conntrack -L`` text (ct_view_format), counters and ``use`` included, as long as the
public fields are unchanged. The few entries with fields beyond the view (a helper, a
security context: CT_VIEW_MORE) keep a private copy of the kernel's C entry as well.
"""

import ctypes
import ipaddress
import socket
import struct
from typing import Union

from . import _lib
from ._lib import (
    _VIEW,
    CT_VIEW_DCCP_STATE,
    CT_VIEW_DIR_ZONE,
    CT_VIEW_FAMILY,
    CT_VIEW_ID,
    CT_VIEW_LABELS,
    CT_VIEW_MARK,
    CT_VIEW_MORE,
    CT_VIEW_ORIG_COUNTERS,
    CT_VIEW_ORIG_DPORT,
    CT_VIEW_ORIG_DST,
    CT_VIEW_ORIG_ICMP,
    CT_VIEW_ORIG_SPORT,
    CT_VIEW_ORIG_SRC,
    CT_VIEW_PROTO,
    CT_VIEW_REPLY_COUNTERS,
    CT_VIEW_REPLY_DPORT,
    CT_VIEW_REPLY_DST,
    CT_VIEW_REPLY_ICMP,
    CT_VIEW_REPLY_SPORT,
    CT_VIEW_REPLY_SRC,
    CT_VIEW_SCTP_STATE,
    CT_VIEW_SECMARK,
    CT_VIEW_STATUS,
    CT_VIEW_TCP_STATE,
    CT_VIEW_TIMEOUT,
    CT_VIEW_TIMESTAMP_START,
    CT_VIEW_TIMESTAMP_STOP,
    CT_VIEW_USE,
    CT_VIEW_ZONE,
    VIEW_SIZE,
    lib,
)
from .errors import c_text, check, invalid, last_error

# Layer-3 families (AF_INET, AF_INET6), as the C API numbers them.
FAMILY_IPV4 = 2
FAMILY_IPV6 = 10

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_DCCP = 33
PROTO_GRE = 47
PROTO_ICMPV6 = 58
PROTO_SCTP = 132
PROTO_UDPLITE = 136

# Status bits (the kernel's IPS_* numbering).
STATUS_EXPECTED = 1 << 0
STATUS_SEEN_REPLY = 1 << 1
STATUS_ASSURED = 1 << 2
STATUS_CONFIRMED = 1 << 3
STATUS_SRC_NAT = 1 << 4
STATUS_DST_NAT = 1 << 5
STATUS_SEQ_ADJUST = 1 << 6
STATUS_SRC_NAT_DONE = 1 << 7
STATUS_DST_NAT_DONE = 1 << 8
STATUS_DYING = 1 << 9
STATUS_FIXED_TIMEOUT = 1 << 10
STATUS_TEMPLATE = 1 << 11
STATUS_UNTRACKED = 1 << 12
STATUS_HELPER = 1 << 13
STATUS_OFFLOAD = 1 << 14
STATUS_HW_OFFLOAD = 1 << 15

# TCP states (the kernel's TCP_CONNTRACK_* numbering).
TCP_STATES = (
    "NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
    "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
)
TCP_STATE_ESTABLISHED = 3

# Protocol names as conntrack prints them (and a few more IANA names accepted as input).
PROTO_NAMES = {
    PROTO_ICMP: "icmp",
    PROTO_TCP: "tcp",
    PROTO_UDP: "udp",
    PROTO_DCCP: "dccp",
    PROTO_GRE: "gre",
    PROTO_ICMPV6: "icmpv6",
    PROTO_SCTP: "sctp",
    PROTO_UDPLITE: "udplite",
}
_PROTO_NUMBERS = {name: num for num, name in PROTO_NAMES.items()}
_PROTO_NUMBERS.update({"ipv6-icmp": PROTO_ICMPV6, "icmp6": PROTO_ICMPV6})

# Protocols whose tuples carry ports (GRE: the key), and the ICMP ones.
PORT_PROTOS = frozenset((PROTO_TCP, PROTO_UDP, PROTO_DCCP, PROTO_GRE, PROTO_SCTP, PROTO_UDPLITE))
ICMP_PROTOS = frozenset((PROTO_ICMP, PROTO_ICMPV6))

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def proto_number(proto):
    """A protocol number from a number, a numeric string or a name ("tcp", "icmpv6")."""
    if isinstance(proto, bool):
        raise TypeError("protocol must be a number or a name, not bool")
    if isinstance(proto, int):
        num = proto
    elif isinstance(proto, str):
        text = proto.strip().lower()
        if text.isdigit():
            num = int(text)
        elif text in _PROTO_NUMBERS:
            num = _PROTO_NUMBERS[text]
        else:
            raise invalid("unknown protocol name %r" % (proto,))
    else:
        raise TypeError("protocol must be a number or a name, not %s" % type(proto).__name__)
    if not 0 <= num <= 255:
        raise invalid("protocol number %d is out of range 0..255" % num)
    return num


def proto_name(num):
    """The name conntrack prints for protocol `num`, or the number as text when it has none."""
    return PROTO_NAMES.get(num, str(num))


def family_number(family):
    """The family as the C API numbers it: accepts 2/10 (AF_INET/AF_INET6), 4/6 (IP
    versions) and "ipv4"/"ipv6"."""
    if isinstance(family, str):
        key = family.strip().lower()
        if key in ("ipv4", "inet", "4"):
            return FAMILY_IPV4
        if key in ("ipv6", "inet6", "6"):
            return FAMILY_IPV6
        raise invalid("unknown family %r" % (family,))
    if family in (FAMILY_IPV4, 4):
        return FAMILY_IPV4
    if family in (FAMILY_IPV6, 6):
        return FAMILY_IPV6
    raise invalid("family %r is neither IPv4 (2 or 4) nor IPv6 (10 or 6)" % (family,))


def labels_from(value):
    """A frozenset of label bit numbers from a set/iterable of bits or an int bitmask."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("labels must be a set of bit numbers or an int bitmask")
    if isinstance(value, int):
        if value < 0 or value >> 128:
            raise invalid("label bitmask must fit in 128 bits")
        return frozenset(i for i in range(128) if value >> i & 1)
    bits = frozenset(int(b) for b in value)
    for b in bits:
        if not 0 <= b <= 127:
            raise invalid("label bit %d is out of range 0..127" % b)
    return bits


def _address(value):
    if value is None or isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    if value.__class__ is str:
        # Text through inet_pton (C): it takes exactly the text ipaddress takes, but for
        # an IPv6 scope ("%eth0"), left with every refusal to ipaddress below.
        try:
            return _IPV4(_inet_pton(_AF_INET, value))
        except (OSError, ValueError):
            try:
                return _IPV6(_inet_pton(_AF_INET6, value))
            except (OSError, ValueError):
                pass
    try:
        return ipaddress.ip_address(value)
    except ValueError as e:
        raise invalid(str(e)) from None


_IPV4, _IPV6 = ipaddress.IPv4Address, ipaddress.IPv6Address
_inet_pton, _AF_INET, _AF_INET6 = socket.inet_pton, socket.AF_INET, socket.AF_INET6


# The order of Entry's public fields (its constructor's positional order, repr's order).
PUBLIC_FIELDS = (
    "family",  # FAMILY_IPV4 (2) or FAMILY_IPV6 (10); 4/6 accepted
    "proto",  # layer-4 protocol number; names ("tcp") accepted
    "orig_src",  # strings are turned into ipaddress objects
    "orig_dst",
    "reply_src",
    "reply_dst",
    "orig_sport",  # ports in host order (GRE: the keys)
    "orig_dport",
    "reply_sport",
    "reply_dport",
    "orig_icmp_type",
    "orig_icmp_code",
    "orig_icmp_id",
    "reply_icmp_type",
    "reply_icmp_code",
    "reply_icmp_id",
    "zone",  # None from the kernel means zone 0
    "mark",
    "status",  # STATUS_* bits
    "timeout",  # seconds
    "tcp_state",  # TCP_STATES index
    "sctp_state",
    "dccp_state",  # read-only
    "id",  # kernel id; set, it makes a delete conditional on it
    "use",  # read-only
    "orig_packets",  # read-only counters (nf_conntrack_acct=1)
    "orig_bytes",
    "reply_packets",
    "reply_bytes",
    "timestamp_start",  # read-only, ns since the epoch
    "timestamp_stop",
    "labels",  # label bit numbers (a frozenset); an int bitmask accepted
    "secmark",  # read-only
    "helper",
    "orig_zone",  # a zone of one direction alone (--orig-zone); see Entry
    "reply_zone",  # (--reply-zone)
)
_INDEX = {name: i for i, name in enumerate(PUBLIC_FIELDS)}
_FAMILY, _PROTO, _ORIG_SRC, _REPLY_DST, _LABELS, _HELPER, _ORIG_ZONE, _REPLY_ZONE = (
    _INDEX["family"], _INDEX["proto"], _INDEX["orig_src"], _INDEX["reply_dst"],
    _INDEX["labels"], _INDEX["helper"], _INDEX["orig_zone"], _INDEX["reply_zone"],
)


def _normalise(v):
    """Normalises the constructor's values in place (list `v`, PUBLIC_FIELDS order)."""
    family = v[_FAMILY]
    if family is not None and not (
        family.__class__ is int and family in (FAMILY_IPV4, FAMILY_IPV6)
    ):
        v[_FAMILY] = family_number(family)
    proto = v[_PROTO]
    if proto is not None and not (proto.__class__ is int and 0 <= proto <= 255):
        v[_PROTO] = proto_number(proto)
    for i in range(_ORIG_SRC, _REPLY_DST + 1):
        a = v[i]
        if a is not None and a.__class__ not in _ADDRESS_CLASSES:
            v[i] = _address(a)
    if v[_LABELS] is not None:
        v[_LABELS] = labels_from(v[_LABELS])


class Entry:
    """A conntrack entry. Every field is optional; None means "not held".

    Fields (PUBLIC_FIELDS, also the positional order): family, proto, orig_src, orig_dst,
    reply_src, reply_dst, orig_sport, orig_dport, reply_sport, reply_dport,
    orig_icmp_type/code/id, reply_icmp_type/code/id, zone, mark, status, timeout,
    tcp_state, sctp_state, dccp_state, id, use, orig/reply packets and bytes,
    timestamp_start, timestamp_stop, labels, secmark, helper, orig_zone, reply_zone.

    `zone` is the zone of both directions (conntrack's ``-w``/``--zone``); `orig_zone` and
    `reply_zone` are a zone of one direction alone (``--orig-zone``/``--reply-zone``,
    sent inside that direction's tuple). The kernel holds one zone per entry: it creates
    an entry with a zone of one direction only when `zone` is None or 0 and only one of
    `orig_zone`/`reply_zone` is set, and refuses the others (InvalidArgumentError). Such
    an entry is listed in that zone (a zone filter finds it) and its `zone` is None. An
    update or delete looks it up by its original tuple in that tuple's zone (`orig_zone`;
    with `reply_zone` alone, zone 0), so an entry read from the kernel keeps the field it
    was read with when its other fields change.

    An entry read from the kernel is a slice of a block of ct_view records shared with
    the entries read with it: its fields are decoded on first use, so reading a large
    table costs one small object an entry. Entries compare by their fields.
    """

    # _b, _o: the block of views and this entry's offset in it (None: made in Python);
    # _v: the field values once decoded or set (a list in PUBLIC_FIELDS order);
    # _source: an _OwnedEntry, the kernel's C entry, for entries with fields the view
    # lacks (CT_VIEW_MORE) and those Reader.read_kept made; _r: for an entry made in
    # Python, its record (ct_view bytes) packed as it was built, dropped when a field is
    # set, so that a batch of them is one join of bytes (None: not packed).
    __slots__ = ("_b", "_o", "_v", "_source", "_r", "__weakref__")

    def __init__(
        self, family=None, proto=None, orig_src=None, orig_dst=None, reply_src=None,
        reply_dst=None, orig_sport=None, orig_dport=None, reply_sport=None, reply_dport=None,
        orig_icmp_type=None, orig_icmp_code=None, orig_icmp_id=None, reply_icmp_type=None,
        reply_icmp_code=None, reply_icmp_id=None, zone=None, mark=None, status=None,
        timeout=None, tcp_state=None, sctp_state=None, dccp_state=None, id=None, use=None,
        orig_packets=None, orig_bytes=None, reply_packets=None, reply_bytes=None,
        timestamp_start=None, timestamp_stop=None, labels=None, secmark=None, helper=None,
        orig_zone=None, reply_zone=None,
    ):
        # The arguments in PUBLIC_FIELDS order (Python binds them: no loop here).
        v = [
            family, proto, orig_src, orig_dst, reply_src, reply_dst, orig_sport, orig_dport,
            reply_sport, reply_dport, orig_icmp_type, orig_icmp_code, orig_icmp_id,
            reply_icmp_type, reply_icmp_code, reply_icmp_id, zone, mark, status, timeout,
            tcp_state, sctp_state, dccp_state, id, use, orig_packets, orig_bytes,
            reply_packets, reply_bytes, timestamp_start, timestamp_stop, labels, secmark,
            helper, orig_zone, reply_zone,
        ]
        # Values already as _normalise leaves them (ints, address objects) are packed at
        # once; others are normalised first.
        r = _pack_fast(v)
        if r is None:
            _normalise(v)
            r = _record(v)
        self._b = None
        self._o = 0
        self._v = v
        self._source = None
        self._r = r

    def _decode(self):
        v = self._v = _decode_view(self._b, self._o, self._source)
        return v

    def _values(self):
        v = self._v
        return v if v is not None else self._decode()

    def _pristine(self):
        """Whether the entry still holds what its view (and C entry) say."""
        b = self._b
        if b is None:
            return False
        v = self._v
        return v is None or v == _decode_view(b, self._o, self._source)

    def _view_bytes(self):
        """This entry's view as bytes (only for view-backed entries)."""
        return self._b[self._o:self._o + VIEW_SIZE]

    def _more(self):
        return self._b is not None and _present(self._b, self._o) & CT_VIEW_MORE != 0

    # -- derived views ------------------------------------------------------------------

    @property
    def ip_version(self):
        """4 or 6 (from the family, or else from an address), or None."""
        fam = self.family
        if fam is None:
            for a in (self.orig_src, self.orig_dst, self.reply_src, self.reply_dst):
                if a is not None:
                    return _address(a).version
            return None
        return 4 if fam == FAMILY_IPV4 else 6

    @property
    def proto_name(self):
        """"tcp", "udp", "icmpv6", ... or the number as text; None without a protocol."""
        return None if self.proto is None else proto_name(self.proto)

    @property
    def labels_mask(self):
        """The labels as an int bitmask (bit n set when label n is), or None."""
        if self.labels is None:
            return None
        mask = 0
        for b in self.labels:
            mask |= 1 << b
        return mask

    # -- comparison, text, copies -------------------------------------------------------

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        if (
            self._v is None
            and other._v is None
            and not self._more()
            and not other._more()
        ):
            # Two unread views: equal fields exactly when their bytes after `size` are.
            a, b = self._o, other._o
            return self._b[a + 4:a + VIEW_SIZE] == other._b[b + 4:b + VIEW_SIZE]
        return self._values() == other._values()

    __hash__ = None  # mutable, compared by value (as a dataclass)

    def __repr__(self):
        v = self._values()
        return "Entry(%s)" % ", ".join(
            "%s=%r" % (name, v[i]) for i, name in enumerate(PUBLIC_FIELDS)
        )

    def __reduce__(self):
        # Copies and pickles carry the public fields (and the view's bytes while they
        # still hold them all), never the C entry.
        view = None
        if self._pristine() and not self._more():
            view = bytes(self._view_bytes())
        return (_restore, (tuple(self._values()), view))

    def format(self, extended=False, id=False, timestamp=False):
        """The entry as one line of ``conntrack -L`` text (``-o extended``, ``-o id``,
        ``-o ktimestamp`` with the flags). An entry read from the kernel and not changed
        since is formatted from the kernel's copy (counters, use and all: ct_view_format
        of its view, or ct_entry_format of its C entry when it has fields beyond the
        view); otherwise from the public fields (read-only fields cannot be set)."""
        flags = 0
        if extended:
            flags |= _lib.CT_FORMAT_EXTENDED
        if id:
            flags |= _lib.CT_FORMAT_ID
        if timestamp:
            flags |= _lib.CT_FORMAT_TIMESTAMP
        if self._pristine():
            if self._source is not None:
                return _format_c(lib.ct_entry_format, self._source.ptr, flags)
            if not self._more():
                return _format_c(lib.ct_view_format, self._view_bytes(), flags)
        with c_entry(self) as ptr:
            return _format_c(lib.ct_entry_format, ptr, flags)

    def __str__(self):
        return self.format()


def _field(i, name):
    def get(self):
        v = self._v
        if v is None:
            v = self._decode()
        return v[i]

    def set_(self, value):
        v = self._v
        if v is None:
            v = self._decode()
        v[i] = value
        self._r = None

    return property(get, set_, doc="The entry's %s (None: not held)." % name)


for _i, _name in enumerate(PUBLIC_FIELDS):
    setattr(Entry, _name, _field(_i, _name))
del _i, _name

_new_entry = Entry.__new__


def _restore(values, view):
    e = _new_entry(Entry)
    e._b = view
    e._o = 0
    e._v = list(values)
    e._source = None
    e._r = None
    return e


def entries_of_block(block, count, out):
    """Appends to list `out` one Entry per view of `block` (bytes, `count` views)."""
    new = _new_entry
    append = out.append
    for o in range(0, count * VIEW_SIZE, VIEW_SIZE):
        e = new(Entry)
        e._b = block
        e._o = o
        e._v = None
        e._source = None
        e._r = None
        append(e)


def _present(b, o):
    return b[o + 4] | b[o + 5] << 8 | b[o + 6] << 16 | b[o + 7] << 24


def _v4(raw):
    return ipaddress.IPv4Address(raw[:4])


def _decode_view(b, o, source):
    """The field values of the view at offset `o` of `b` (a list, PUBLIC_FIELDS order);
    `source` (an _OwnedEntry or None) gives the fields beyond the view."""
    (_size, p, fam, proto, zone, mark, status, timeout, id_, use, tcp, sctp, dccp, dzd,
     osp, odp, rsp, rdp, oit, oic, oii, rit, ric, rii, _wso, _wsr, dz,
     osrc, odst, rsrc, rdst, opk, oby, rpk, rby, tss, tst, labels, secmark,
     _f0, _f1, _f2, _f3) = _VIEW.unpack_from(b, o)
    addr = _v4 if fam == FAMILY_IPV4 else ipaddress.IPv6Address
    oicmp = p & CT_VIEW_ORIG_ICMP
    ricmp = p & CT_VIEW_REPLY_ICMP
    ocnt = p & CT_VIEW_ORIG_COUNTERS
    rcnt = p & CT_VIEW_REPLY_COUNTERS
    helper = None
    ozone = rzone = None
    if p & CT_VIEW_DIR_ZONE:
        if dzd == _lib.CT_DIR_ORIG:
            ozone = dz
        else:
            rzone = dz
    if p & CT_VIEW_MORE and source is not None:
        helper = Reader()._helper(source.ptr)
        if ozone is not None:
            rzone = _dir_zone(source.ptr, _lib.CT_DIR_REPLY)
    return [
        fam if p & CT_VIEW_FAMILY else None,
        proto if p & CT_VIEW_PROTO else None,
        addr(osrc) if p & CT_VIEW_ORIG_SRC else None,
        addr(odst) if p & CT_VIEW_ORIG_DST else None,
        addr(rsrc) if p & CT_VIEW_REPLY_SRC else None,
        addr(rdst) if p & CT_VIEW_REPLY_DST else None,
        osp if p & CT_VIEW_ORIG_SPORT else None,
        odp if p & CT_VIEW_ORIG_DPORT else None,
        rsp if p & CT_VIEW_REPLY_SPORT else None,
        rdp if p & CT_VIEW_REPLY_DPORT else None,
        oit if oicmp else None,
        oic if oicmp else None,
        oii if oicmp else None,
        rit if ricmp else None,
        ric if ricmp else None,
        rii if ricmp else None,
        zone if p & CT_VIEW_ZONE else None,
        mark if p & CT_VIEW_MARK else None,
        status if p & CT_VIEW_STATUS else None,
        timeout if p & CT_VIEW_TIMEOUT else None,
        tcp if p & CT_VIEW_TCP_STATE else None,
        sctp if p & CT_VIEW_SCTP_STATE else None,
        dccp if p & CT_VIEW_DCCP_STATE else None,
        id_ if p & CT_VIEW_ID else None,
        use if p & CT_VIEW_USE else None,
        opk if ocnt else None,
        oby if ocnt else None,
        rpk if rcnt else None,
        rby if rcnt else None,
        tss if p & CT_VIEW_TIMESTAMP_START else None,
        tst if p & CT_VIEW_TIMESTAMP_STOP else None,
        labels_from(int.from_bytes(labels, "little")) if p & CT_VIEW_LABELS else None,
        secmark if p & CT_VIEW_SECMARK else None,
        helper,
        ozone,
        rzone,
    ]


def _dir_zone(ptr, direction):
    """The zone of `direction` alone of the ct_entry at `ptr`, or None. The view carries
    one (the original direction's when there are two, with CT_VIEW_MORE): the other one
    comes from here."""
    out = ctypes.c_uint16()
    rc = lib.ct_entry_get_dir_zone(ptr, direction, ctypes.byref(out))
    if rc == _lib.CT_OK:
        return out.value
    if rc == _lib.CT_ERR_NOT_SET:
        return None
    raise last_error(rc)


def _addr_bytes(value, family, what):
    a = value if value.__class__ in _ADDRESS_CLASSES else _address(value)
    raw = a.packed
    if family is not None and len(raw) != (4 if family == FAMILY_IPV4 else 16):
        raise invalid("%s %s is not an IPv%d address" % (what, a, 4 if family == FAMILY_IPV4 else 6))
    return raw


_ADDRESS_CLASSES = (ipaddress.IPv4Address, ipaddress.IPv6Address)
_ZERO16 = bytes(16)


def _u(value, top, what):
    """`value` when it is an int in 0..top; raises as the setters' checks would."""
    if value.__class__ is int and 0 <= value <= top:
        return value
    return _ranged(value, top, what)


def pack_view(e, buf, offset):
    """Writes Entry `e`'s settable fields as a ct_view at `offset` of the writable buffer
    `buf`. Returns False (nothing written that matters) when `e` holds a field the view
    cannot carry (a helper): pass that one through c_entry. Raises as the setters would
    for values out of range; the library checks the rest (e.g. a port on ICMP)."""
    r = record_of(e)
    if r is None:
        return False
    buf[offset:offset + VIEW_SIZE] = r
    return True


def record_of(e):
    """Entry `e`'s settable fields as one ct_view record (bytes), or None when `e` holds a
    field the view cannot carry (a helper, or a zone for each direction). Raises as
    pack_view does."""
    r = e._r
    if r is not None:
        return r
    if e._b is not None and not e._more() and e._v is None:
        # Unchanged since read: its own bytes (the library ignores the read-only fields).
        return e._view_bytes()
    return _pack_values(e._values())


def _record(v):
    """The record of the values `v` for a new Entry, or None: a value out of range is
    raised later, where the entry is used, as before the record was kept."""
    try:
        return _pack_values(v)
    except Exception:  # noqa: BLE001 - only a cache: record_of raises it again
        return None


class _Checked(Exception):
    """A value the fast packing does not take as it is: _pack_checked decides."""


def _pack_values(v):
    """The record (bytes) of the field values `v` (PUBLIC_FIELDS order), or None with a
    helper or both zones of one direction; raises as the setters would for a value they refuse."""
    r = _pack_fast(v)
    return r if r is not None else _pack_checked(v)


def _pack_fast(v):
    """The record of `v` when every value is already of its type and in range (what
    _normalise would leave as it is), packed with no call a field; None otherwise
    (_pack_checked converts, or raises)."""
    (family, proto, osrc, odst, rsrc, rdst, osp, odp, rsp, rdp, oit, oic, oii, rit, ric, rii,
     zone, mark, status, timeout, tcp, sctp, _dccp, id_, _use, _opk, _oby, _rpk, _rby, _tss,
     _tst, labels, _secmark, helper, ozone, rzone) = v
    if helper is not None or labels is not None or oit is not None or rit is not None \
            or oic is not None or ric is not None or oii is not None or rii is not None:
        return None
    try:
        p = 0
        if family is not None:
            if family.__class__ is not int or (family != FAMILY_IPV4 and family != FAMILY_IPV6):
                raise _Checked
            p = CT_VIEW_FAMILY
        if proto is None:
            proto = 0
        elif proto.__class__ is int:
            p |= CT_VIEW_PROTO
        else:
            raise _Checked
        a0 = a1 = a2 = a3 = _ZERO16
        size = 0  # the addresses' length: all must agree, and with the family
        if osrc is not None:
            a0 = osrc.packed  # AttributeError for a text address: _pack_checked parses it
            size = len(a0)
            p |= CT_VIEW_ORIG_SRC
        if odst is not None:
            a1 = odst.packed
            if size and len(a1) != size:
                raise _Checked
            size = len(a1)
            p |= CT_VIEW_ORIG_DST
        if rsrc is not None:
            a2 = rsrc.packed
            if size and len(a2) != size:
                raise _Checked
            size = len(a2)
            p |= CT_VIEW_REPLY_SRC
        if rdst is not None:
            a3 = rdst.packed
            if size and len(a3) != size:
                raise _Checked
            size = len(a3)
            p |= CT_VIEW_REPLY_DST
        if size:
            if family is None:
                family = FAMILY_IPV4 if size == 4 else FAMILY_IPV6
                p |= CT_VIEW_FAMILY
            elif size != (4 if family == FAMILY_IPV4 else 16):
                raise _Checked
        if osp is None:
            osp = 0
        elif osp.__class__ is int:
            p |= CT_VIEW_ORIG_SPORT
        else:
            raise _Checked
        if odp is None:
            odp = 0
        elif odp.__class__ is int:
            p |= CT_VIEW_ORIG_DPORT
        else:
            raise _Checked
        if rsp is None:
            rsp = 0
        elif rsp.__class__ is int:
            p |= CT_VIEW_REPLY_SPORT
        else:
            raise _Checked
        if rdp is None:
            rdp = 0
        elif rdp.__class__ is int:
            p |= CT_VIEW_REPLY_DPORT
        else:
            raise _Checked
        if zone is None:
            zone = 0
        elif zone.__class__ is int:
            p |= CT_VIEW_ZONE
        else:
            raise _Checked
        if mark is None:
            mark = 0
        elif mark.__class__ is int:
            p |= CT_VIEW_MARK
        else:
            raise _Checked
        if status is None:
            status = 0
        elif status.__class__ is int:
            p |= CT_VIEW_STATUS
        else:
            raise _Checked
        if timeout is None:
            timeout = 0
        elif timeout.__class__ is int:
            p |= CT_VIEW_TIMEOUT
        else:
            raise _Checked
        if tcp is None:
            tcp = 0
        elif tcp.__class__ is int:
            p |= CT_VIEW_TCP_STATE
        else:
            raise _Checked
        if sctp is None:
            sctp = 0
        elif sctp.__class__ is int:
            p |= CT_VIEW_SCTP_STATE
        else:
            raise _Checked
        if id_ is None:
            id_ = 0
        elif id_.__class__ is int:
            p |= CT_VIEW_ID
        else:
            raise _Checked
        # A zone of one direction: the record holds one (both: _pack_checked decides).
        dzd = dz = 0
        if ozone is not None:
            if ozone.__class__ is not int or rzone is not None:
                raise _Checked
            dz = ozone
            p |= CT_VIEW_DIR_ZONE
        elif rzone is not None:
            if rzone.__class__ is not int:
                raise _Checked
            dzd, dz = _lib.CT_DIR_REPLY, rzone
            p |= CT_VIEW_DIR_ZONE
    except (_Checked, AttributeError):
        return None
    try:
        # struct checks the ranges (each field's width is its range).
        return _SETTABLE.pack(VIEW_SIZE, p, family or 0, proto, zone, mark, status, timeout,
                              id_, tcp, sctp, dzd, osp, odp, rsp, rdp, dz, a0, a1, a2, a3)
    except struct.error:
        return None


# A ct_view (_VIEW) with only the fields _pack_fast fills; the others are pad bytes, zero.
# Packing 21 values instead of 45 is several times faster.
_SETTABLE = struct.Struct("<IIBBHIIII4xBBxBHHHH10xH16s16s16s16s72x")
assert _SETTABLE.size == VIEW_SIZE
assert _SETTABLE.pack(VIEW_SIZE, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, b"a",
                      b"b", b"c", b"d") == _VIEW.pack(
    VIEW_SIZE, 1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 10, 0, 11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0,
    0, 16, b"a", b"b", b"c", b"d", 0, 0, 0, 0, 0, 0, _ZERO16, 0, 0, 0, 0, 0)


def _pack_checked(v):
    """_pack_values for any values: converts them as the setters would, or raises."""
    (family, proto, osrc, odst, rsrc, rdst, osp, odp, rsp, rdp, oit, oic, oii, rit, ric, rii,
     zone, mark, status, timeout, tcp, sctp, _dccp, id_, _use, _opk, _oby, _rpk, _rby, _tss,
     _tst, labels, _secmark, helper, ozone, rzone) = v
    if helper is not None or ozone is not None and rzone is not None:
        # Not in a record: the setters take them, the library and kernel decide.
        return None
    p = 0
    if family is not None:
        family = family_number(family)
        p = CT_VIEW_FAMILY
    if proto is not None:
        proto = proto_number(proto)
        p |= CT_VIEW_PROTO
    else:
        proto = 0
    a0 = a1 = a2 = a3 = _ZERO16
    if osrc is not None:
        a0 = _addr_bytes(osrc, family, "original source")
        p |= CT_VIEW_ORIG_SRC
        if family is None:
            # The first address decides the family, as the setters do.
            family = FAMILY_IPV4 if len(a0) == 4 else FAMILY_IPV6
            p |= CT_VIEW_FAMILY
    if odst is not None:
        a1 = _addr_bytes(odst, family, "original destination")
        p |= CT_VIEW_ORIG_DST
        if family is None:
            family = FAMILY_IPV4 if len(a1) == 4 else FAMILY_IPV6
            p |= CT_VIEW_FAMILY
    if rsrc is not None:
        a2 = _addr_bytes(rsrc, family, "reply source")
        p |= CT_VIEW_REPLY_SRC
        if family is None:
            family = FAMILY_IPV4 if len(a2) == 4 else FAMILY_IPV6
            p |= CT_VIEW_FAMILY
    if rdst is not None:
        a3 = _addr_bytes(rdst, family, "reply destination")
        p |= CT_VIEW_REPLY_DST
        if family is None:
            family = FAMILY_IPV4 if len(a3) == 4 else FAMILY_IPV6
            p |= CT_VIEW_FAMILY
    if osp is None:
        osp = 0
    else:
        osp = _u(osp, 0xFFFF, "port")
        p |= CT_VIEW_ORIG_SPORT
    if odp is None:
        odp = 0
    else:
        odp = _u(odp, 0xFFFF, "port")
        p |= CT_VIEW_ORIG_DPORT
    if rsp is None:
        rsp = 0
    else:
        rsp = _u(rsp, 0xFFFF, "port")
        p |= CT_VIEW_REPLY_SPORT
    if rdp is None:
        rdp = 0
    else:
        rdp = _u(rdp, 0xFFFF, "port")
        p |= CT_VIEW_REPLY_DPORT
    icmp = _icmp_args("original", oit, oic, oii)
    if icmp is None:
        oit = oic = oii = 0
    else:
        oit, oic, oii = (_u(icmp[0], 0xFF, "ICMP type"), _u(icmp[1], 0xFF, "ICMP code"),
                         _u(icmp[2], 0xFFFF, "ICMP id"))
        p |= CT_VIEW_ORIG_ICMP
    icmp = _icmp_args("reply", rit, ric, rii)
    if icmp is None:
        rit = ric = rii = 0
    else:
        rit, ric, rii = (_u(icmp[0], 0xFF, "ICMP type"), _u(icmp[1], 0xFF, "ICMP code"),
                         _u(icmp[2], 0xFFFF, "ICMP id"))
        p |= CT_VIEW_REPLY_ICMP
    if zone is None:
        zone = 0
    else:
        zone = _u(zone, 0xFFFFFFFF, "zone")
        if zone > 0xFFFF:
            raise invalid("zone %d is out of range 0..65535" % zone)
        p |= CT_VIEW_ZONE
    dzd = dz = 0
    if ozone is not None or rzone is not None:
        if ozone is not None:
            dz = _u(ozone, 0xFFFFFFFF, "zone")
        else:
            dzd, dz = _lib.CT_DIR_REPLY, _u(rzone, 0xFFFFFFFF, "zone")
        if dz > 0xFFFF:
            raise invalid("zone %d is out of range 0..65535" % dz)
        p |= CT_VIEW_DIR_ZONE
    if mark is None:
        mark = 0
    else:
        mark = _u(mark, 0xFFFFFFFF, "mark")
        p |= CT_VIEW_MARK
    if status is None:
        status = 0
    else:
        status = _u(status, 0xFFFFFFFF, "status")
        p |= CT_VIEW_STATUS
    if timeout is None:
        timeout = 0
    else:
        timeout = _u(timeout, 0xFFFFFFFF, "timeout")
        p |= CT_VIEW_TIMEOUT
    if tcp is None:
        tcp = 0
    else:
        tcp = _u(tcp, 0xFF, "TCP state")
        p |= CT_VIEW_TCP_STATE
    if sctp is None:
        sctp = 0
    else:
        sctp = _u(sctp, 0xFF, "SCTP state")
        p |= CT_VIEW_SCTP_STATE
    if id_ is None:
        id_ = 0
    else:
        id_ = _u(id_, 0xFFFFFFFF, "id")
        p |= CT_VIEW_ID
    raw_labels = _ZERO16
    if labels is not None:
        mask = 0
        for bit in labels_from(labels):
            mask |= 1 << bit
        raw_labels = mask.to_bytes(16, "little")
        p |= CT_VIEW_LABELS
    return _VIEW.pack(
        VIEW_SIZE, p, family or 0, proto, zone, mark, status, timeout, id_, 0,
        tcp, sctp, 0, dzd, osp, odp, rsp, rdp, oit, oic, oii, rit, ric, rii, 0, 0, dz,
        a0, a1, a2, a3, 0, 0, 0, 0, 0, 0, raw_labels, 0, 0, 0, 0, 0,
    )


def _format_c(fn, obj, flags):
    """Text of `fn` (ct_entry_format of an entry pointer, ct_view_format of view bytes)."""
    needed = ctypes.c_size_t(0)
    buf = ctypes.create_string_buffer(512)
    rc = fn(obj, flags, buf, len(buf), ctypes.byref(needed))
    if rc == _lib.CT_ERR_BUFFER_TOO_SMALL:
        buf = ctypes.create_string_buffer(needed.value + 1)
        rc = fn(obj, flags, buf, len(buf), ctypes.byref(needed))
    check(rc)
    return buf.value.decode("utf-8", "replace")


class _OwnedEntry:
    """A ct_entry this Python object owns (from ct_entry_new, ct_entry_clone or ct_get);
    freed when it is collected or closed."""

    __slots__ = ("ptr", "__weakref__")
    _free = lib.ct_entry_free

    def __init__(self, ptr):
        self.ptr = ptr

    def close(self):
        ptr, self.ptr = self.ptr, None
        if ptr:
            self._free(ptr)

    def __del__(self):
        self.close()

    def __reduce__(self):
        raise TypeError("a C conntrack entry cannot be pickled")


def new_c_entry():
    """A fresh empty ct_entry owned by the caller (free it with ct_entry_free)."""
    out = ctypes.c_void_p()
    check(lib.ct_entry_new(ctypes.byref(out)))
    return out.value


def clone_c_entry(ptr):
    """A copy of the ct_entry at `ptr` owned by the caller."""
    out = ctypes.c_void_p()
    check(lib.ct_entry_clone(ptr, ctypes.byref(out)))
    return out.value


class c_entry:
    """Context manager: a new ct_entry holding `entry`'s settable fields, freed on exit
    (also when building it fails). The fields go in as one ct_view record
    (ct_entry_from_view, held to the setters' rules); an entry with a helper, which the
    record cannot carry, goes through the setters."""

    def __init__(self, entry):
        if not isinstance(entry, Entry):
            raise TypeError("expected a conntrack.Entry, not %s" % type(entry).__name__)
        self.entry = entry
        self.ptr = None

    def __enter__(self):
        view = record_of(self.entry)
        if view is not None:
            out = ctypes.c_void_p()
            check(lib.ct_entry_from_view(view, ctypes.byref(out)))
            self.ptr = out.value
            return self.ptr
        self.ptr = new_c_entry()
        try:
            fill_c_entry(self.ptr, self.entry)
        except BaseException:
            lib.ct_entry_free(self.ptr)
            self.ptr = None
            raise
        return self.ptr

    def __exit__(self, *exc):
        ptr, self.ptr = self.ptr, None
        lib.ct_entry_free(ptr)
        return False


def _set(fn, ptr, *args):
    check(fn(ptr, *args))


def _icmp_args(kind, itype, code, iid):
    if itype is None and code is None and iid is None:
        return None
    if itype is None:
        raise invalid("%s ICMP code/id set without a type" % kind)
    return (itype, 0 if code is None else code, 0 if iid is None else iid)


def fill_c_entry(ptr, e):
    """Sets every settable field of Entry `e` that is not None on the ct_entry `ptr`.
    The read-only fields (use, counters, timestamps, secmark, dccp_state) are ignored."""
    if e.family is not None:
        _set(lib.ct_entry_set_family, ptr, family_number(e.family))
    if e.proto is not None:
        _set(lib.ct_entry_set_proto, ptr, proto_number(e.proto))
    for which, addr in (
        (_lib.CT_ORIG_SRC, e.orig_src),
        (_lib.CT_ORIG_DST, e.orig_dst),
        (_lib.CT_REPLY_SRC, e.reply_src),
        (_lib.CT_REPLY_DST, e.reply_dst),
    ):
        if addr is not None:
            packed = _address(addr).packed
            buf = (ctypes.c_uint8 * len(packed)).from_buffer_copy(packed)
            _set(lib.ct_entry_set_addr_bytes, ptr, which, buf, len(packed))
    for which, port in (
        (_lib.CT_ORIG_SRC, e.orig_sport),
        (_lib.CT_ORIG_DST, e.orig_dport),
        (_lib.CT_REPLY_SRC, e.reply_sport),
        (_lib.CT_REPLY_DST, e.reply_dport),
    ):
        if port is not None:
            _set(lib.ct_entry_set_port, ptr, which, _ranged(port, 0xFFFF, "port"))
    for direction, kind, args in (
        (_lib.CT_DIR_ORIG, "original", (e.orig_icmp_type, e.orig_icmp_code, e.orig_icmp_id)),
        (_lib.CT_DIR_REPLY, "reply", (e.reply_icmp_type, e.reply_icmp_code, e.reply_icmp_id)),
    ):
        icmp = _icmp_args(kind, *args)
        if icmp is not None:
            itype, code, iid = icmp
            _set(
                lib.ct_entry_set_icmp,
                ptr,
                direction,
                _ranged(itype, 0xFF, "ICMP type"),
                _ranged(code, 0xFF, "ICMP code"),
                _ranged(iid, 0xFFFF, "ICMP id"),
            )
    if e.zone is not None:
        # The library checks the range (CT_ERR_INVALID_ARGUMENT above 65535).
        _set(lib.ct_entry_set_zone, ptr, _ranged(e.zone, 0xFFFFFFFF, "zone"))
    for direction, dz in ((_lib.CT_DIR_ORIG, e.orig_zone), (_lib.CT_DIR_REPLY, e.reply_zone)):
        if dz is not None:
            # The library checks the range, as for the zone.
            _set(lib.ct_entry_set_dir_zone, ptr, direction, _ranged(dz, 0xFFFFFFFF, "zone"))
    if e.mark is not None:
        _set(lib.ct_entry_set_mark, ptr, _ranged(e.mark, 0xFFFFFFFF, "mark"))
    if e.status is not None:
        _set(lib.ct_entry_set_status, ptr, _ranged(e.status, 0xFFFFFFFF, "status"))
    if e.timeout is not None:
        _set(lib.ct_entry_set_timeout, ptr, _ranged(e.timeout, 0xFFFFFFFF, "timeout"))
    if e.tcp_state is not None:
        _set(lib.ct_entry_set_tcp_state, ptr, _ranged(e.tcp_state, 0xFF, "TCP state"))
    if e.sctp_state is not None:
        _set(lib.ct_entry_set_sctp_state, ptr, _ranged(e.sctp_state, 0xFF, "SCTP state"))
    if e.id is not None:
        _set(lib.ct_entry_set_id, ptr, _ranged(e.id, 0xFFFFFFFF, "id"))
    if e.labels is not None:
        mask = 0
        for b in labels_from(e.labels):
            mask |= 1 << b
        raw = mask.to_bytes(16, "little")
        buf = (ctypes.c_uint8 * 16).from_buffer_copy(raw)
        _set(lib.ct_entry_set_labels, ptr, buf, 16)
    if e.helper is not None:
        _set(lib.ct_entry_set_helper, ptr, c_text(e.helper, "helper name"))


def _ranged(value, top, what):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (what, type(value).__name__))
    if not 0 <= value <= top:
        raise invalid("%s %d is out of range 0..%d" % (what, value, top))
    return value


class Reader:
    """Reads ct_entry objects into Entry objects through ct_entry_view, reusing its
    buffers. One per call (not shared between threads)."""

    def __init__(self):
        self.view = ctypes.create_string_buffer(VIEW_SIZE)
        self.helper_buf = None

    def _helper(self, ptr):
        if self.helper_buf is None:
            self.helper_buf = ctypes.create_string_buffer(64)
        buf = self.helper_buf
        rc = lib.ct_entry_get_helper(ptr, buf, len(buf))
        if rc == _lib.CT_OK:
            return buf.value.decode("utf-8", "replace")
        if rc == _lib.CT_ERR_NOT_SET:
            return None
        raise last_error(rc)

    def _view(self, ptr):
        rc = lib.ct_entry_view(ptr, self.view, VIEW_SIZE)
        if rc != _lib.CT_OK:
            raise last_error(rc)
        return self.view.raw

    def read(self, ptr):
        """An Entry with every field of the ct_entry at `ptr` (not kept)."""
        block = self._view(ptr)
        e = _new_entry(Entry)
        e._b = block
        e._o = 0
        e._source = None
        e._v = None
        e._r = None
        if _present(block, 0) & CT_VIEW_MORE:
            # The rare fields come from `ptr` now; the view alone cannot format it.
            v = _decode_view(block, 0, None)
            v[_HELPER] = self._helper(ptr)
            if v[_ORIG_ZONE] is not None:
                v[_REPLY_ZONE] = _dir_zone(ptr, _lib.CT_DIR_REPLY)
            e._b = None
            e._v = v
        return e

    def read_kept(self, ptr, owned=None):
        """Like read(), and the Entry keeps a C copy for format(): `owned` (an
        _OwnedEntry already made for it, e.g. by ct_get) or a clone of `ptr`."""
        block = self._view(ptr)
        if owned is None:
            owned = _OwnedEntry(clone_c_entry(ptr))
        e = _new_entry(Entry)
        e._b = block
        e._o = 0
        e._source = owned
        e._v = None
        e._r = None
        return e
