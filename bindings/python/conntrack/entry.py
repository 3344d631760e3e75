"""Entry: one conntrack entry as a plain Python object, and its conversion to and from
the library's ct_entry.

Every field of the C entry is a field here; a field the entry does not hold is None
(the C getter answered CT_ERR_NOT_SET). Entries read from the kernel carry a private copy
of the kernel's C entry (owned by the Python object, freed with it) so that
Entry.format() gives exactly the ``conntrack -L`` text, counters and ``use`` included,
as long as the public fields are unchanged.
"""

import ctypes
import dataclasses
import ipaddress
from typing import FrozenSet, Optional, Union

from . import _lib
from ._lib import lib
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
    try:
        return ipaddress.ip_address(value)
    except ValueError as e:
        raise invalid(str(e)) from None


@dataclasses.dataclass
class Entry:
    """A conntrack entry. Every field is optional; None means "not held"."""

    family: Optional[int] = None  # FAMILY_IPV4 (2) or FAMILY_IPV6 (10); 4/6 accepted
    proto: Optional[int] = None  # layer-4 protocol number; names ("tcp") accepted
    orig_src: Optional[Address] = None  # strings are turned into ipaddress objects
    orig_dst: Optional[Address] = None
    reply_src: Optional[Address] = None
    reply_dst: Optional[Address] = None
    orig_sport: Optional[int] = None  # ports in host order (GRE: the keys)
    orig_dport: Optional[int] = None
    reply_sport: Optional[int] = None
    reply_dport: Optional[int] = None
    orig_icmp_type: Optional[int] = None
    orig_icmp_code: Optional[int] = None
    orig_icmp_id: Optional[int] = None
    reply_icmp_type: Optional[int] = None
    reply_icmp_code: Optional[int] = None
    reply_icmp_id: Optional[int] = None
    zone: Optional[int] = None  # None from the kernel means zone 0
    mark: Optional[int] = None
    status: Optional[int] = None  # STATUS_* bits
    timeout: Optional[int] = None  # seconds
    tcp_state: Optional[int] = None  # TCP_STATES index
    sctp_state: Optional[int] = None
    dccp_state: Optional[int] = None  # read-only
    id: Optional[int] = None  # kernel id; set, it makes a delete conditional on it
    use: Optional[int] = None  # read-only
    orig_packets: Optional[int] = None  # read-only counters (nf_conntrack_acct=1)
    orig_bytes: Optional[int] = None
    reply_packets: Optional[int] = None
    reply_bytes: Optional[int] = None
    timestamp_start: Optional[int] = None  # read-only, ns since the epoch
    timestamp_stop: Optional[int] = None
    labels: Optional[FrozenSet[int]] = None  # label bit numbers; an int bitmask accepted
    secmark: Optional[int] = None  # read-only
    helper: Optional[str] = None

    # The kernel's C entry this one was read from (private, not compared or shown).
    _source: Optional["_OwnedEntry"] = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )
    _snapshot: Optional[tuple] = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self):
        if self.family is not None:
            self.family = family_number(self.family)
        if self.proto is not None:
            self.proto = proto_number(self.proto)
        self.orig_src = _address(self.orig_src)
        self.orig_dst = _address(self.orig_dst)
        self.reply_src = _address(self.reply_src)
        self.reply_dst = _address(self.reply_dst)
        self.labels = labels_from(self.labels)

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

    def __getstate__(self):
        # Copies and pickles carry the public fields only, never the C copy.
        state = dict(self.__dict__)
        state["_source"] = None
        state["_snapshot"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _public_values(self):
        return tuple(getattr(self, name) for name in PUBLIC_FIELDS)

    # -- text -----------------------------------------------------------------------------

    def format(self, extended=False, id=False, timestamp=False):
        """The entry as one line of ``conntrack -L`` text (``-o extended``, ``-o id``,
        ``-o ktimestamp`` with the flags), made by ct_entry_format. An entry read from the
        kernel and not changed since is formatted from the kernel's copy (counters, use
        and all); otherwise from the public fields (read-only fields cannot be set)."""
        flags = 0
        if extended:
            flags |= _lib.CT_FORMAT_EXTENDED
        if id:
            flags |= _lib.CT_FORMAT_ID
        if timestamp:
            flags |= _lib.CT_FORMAT_TIMESTAMP
        if self._source is not None and self._snapshot == self._public_values():
            return _format_c(self._source.ptr, flags)
        with c_entry(self) as ptr:
            return _format_c(ptr, flags)

    def __str__(self):
        return self.format()


PUBLIC_FIELDS = tuple(f.name for f in dataclasses.fields(Entry) if not f.name.startswith("_"))


def _format_c(ptr, flags):
    needed = ctypes.c_size_t(0)
    buf = ctypes.create_string_buffer(512)
    rc = lib.ct_entry_format(ptr, flags, buf, len(buf), ctypes.byref(needed))
    if rc == _lib.CT_ERR_BUFFER_TOO_SMALL:
        buf = ctypes.create_string_buffer(needed.value + 1)
        rc = lib.ct_entry_format(ptr, flags, buf, len(buf), ctypes.byref(needed))
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
    (also when a setter fails)."""

    def __init__(self, entry):
        if not isinstance(entry, Entry):
            raise TypeError("expected a conntrack.Entry, not %s" % type(entry).__name__)
        self.entry = entry
        self.ptr = None

    def __enter__(self):
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
    """Reads ct_entry objects into Entry objects, reusing its ctypes buffers. One per
    call (not shared between threads)."""

    def __init__(self):
        self.u8 = ctypes.c_uint8()
        self.u8b = ctypes.c_uint8()
        self.u16 = ctypes.c_uint16()
        self.u32 = ctypes.c_uint32()
        self.u64 = ctypes.c_uint64()
        self.u64b = ctypes.c_uint64()
        self.size = ctypes.c_size_t()
        self.bytes16 = (ctypes.c_uint8 * 16)()
        self.helper = ctypes.create_string_buffer(64)

    def _get(self, fn, ptr, out, *lead):
        rc = fn(ptr, *lead, ctypes.byref(out))
        if rc == _lib.CT_OK:
            return out.value
        if rc == _lib.CT_ERR_NOT_SET:
            return None
        raise last_error(rc)

    def _addr(self, ptr, which):
        rc = lib.ct_entry_get_addr_bytes(ptr, which, self.bytes16, 16, ctypes.byref(self.size))
        if rc == _lib.CT_OK:
            return ipaddress.ip_address(ctypes.string_at(self.bytes16, self.size.value))
        if rc == _lib.CT_ERR_NOT_SET:
            return None
        raise last_error(rc)

    def _icmp(self, ptr, direction):
        rc = lib.ct_entry_get_icmp(
            ptr, direction, ctypes.byref(self.u8), ctypes.byref(self.u8b), ctypes.byref(self.u16)
        )
        if rc == _lib.CT_OK:
            return self.u8.value, self.u8b.value, self.u16.value
        if rc == _lib.CT_ERR_NOT_SET:
            return None, None, None
        raise last_error(rc)

    def _counters(self, ptr, direction):
        rc = lib.ct_entry_get_counters(ptr, direction, ctypes.byref(self.u64), ctypes.byref(self.u64b))
        if rc == _lib.CT_OK:
            return self.u64.value, self.u64b.value
        if rc == _lib.CT_ERR_NOT_SET:
            return None, None
        raise last_error(rc)

    def _labels(self, ptr):
        rc = lib.ct_entry_get_labels(ptr, self.bytes16, 16)
        if rc == _lib.CT_OK:
            return labels_from(int.from_bytes(bytes(self.bytes16), "little"))
        if rc == _lib.CT_ERR_NOT_SET:
            return None
        raise last_error(rc)

    def _helper(self, ptr):
        rc = lib.ct_entry_get_helper(ptr, self.helper, len(self.helper))
        if rc == _lib.CT_OK:
            return self.helper.value.decode("utf-8", "replace")
        if rc == _lib.CT_ERR_NOT_SET:
            return None
        raise last_error(rc)

    def read(self, ptr):
        """An Entry with every field of the ct_entry at `ptr` (not kept)."""
        g = self._get
        orig_icmp = self._icmp(ptr, _lib.CT_DIR_ORIG)
        reply_icmp = self._icmp(ptr, _lib.CT_DIR_REPLY)
        orig_counters = self._counters(ptr, _lib.CT_DIR_ORIG)
        reply_counters = self._counters(ptr, _lib.CT_DIR_REPLY)
        e = Entry.__new__(Entry)
        # Set the fields directly: the values are already normalised.
        e.__dict__.update(
            family=g(lib.ct_entry_get_family, ptr, self.u8),
            proto=g(lib.ct_entry_get_proto, ptr, self.u8),
            orig_src=self._addr(ptr, _lib.CT_ORIG_SRC),
            orig_dst=self._addr(ptr, _lib.CT_ORIG_DST),
            reply_src=self._addr(ptr, _lib.CT_REPLY_SRC),
            reply_dst=self._addr(ptr, _lib.CT_REPLY_DST),
            orig_sport=g(lib.ct_entry_get_port, ptr, self.u16, _lib.CT_ORIG_SRC),
            orig_dport=g(lib.ct_entry_get_port, ptr, self.u16, _lib.CT_ORIG_DST),
            reply_sport=g(lib.ct_entry_get_port, ptr, self.u16, _lib.CT_REPLY_SRC),
            reply_dport=g(lib.ct_entry_get_port, ptr, self.u16, _lib.CT_REPLY_DST),
            orig_icmp_type=orig_icmp[0],
            orig_icmp_code=orig_icmp[1],
            orig_icmp_id=orig_icmp[2],
            reply_icmp_type=reply_icmp[0],
            reply_icmp_code=reply_icmp[1],
            reply_icmp_id=reply_icmp[2],
            zone=g(lib.ct_entry_get_zone, ptr, self.u16),
            mark=g(lib.ct_entry_get_mark, ptr, self.u32),
            status=g(lib.ct_entry_get_status, ptr, self.u32),
            timeout=g(lib.ct_entry_get_timeout, ptr, self.u32),
            tcp_state=g(lib.ct_entry_get_tcp_state, ptr, self.u8),
            sctp_state=g(lib.ct_entry_get_sctp_state, ptr, self.u8),
            dccp_state=g(lib.ct_entry_get_dccp_state, ptr, self.u8),
            id=g(lib.ct_entry_get_id, ptr, self.u32),
            use=g(lib.ct_entry_get_use, ptr, self.u32),
            orig_packets=orig_counters[0],
            orig_bytes=orig_counters[1],
            reply_packets=reply_counters[0],
            reply_bytes=reply_counters[1],
            timestamp_start=g(lib.ct_entry_get_timestamp_start, ptr, self.u64),
            timestamp_stop=g(lib.ct_entry_get_timestamp_stop, ptr, self.u64),
            labels=self._labels(ptr),
            secmark=g(lib.ct_entry_get_secmark, ptr, self.u32),
            helper=self._helper(ptr),
            _source=None,
            _snapshot=None,
        )
        return e

    def read_kept(self, ptr, owned=None):
        """Like read(), and the Entry keeps a C copy for format(): `owned` (an
        _OwnedEntry already made for it, e.g. by ct_get) or a clone of `ptr`."""
        e = self.read(ptr)
        if owned is None:
            owned = _OwnedEntry(clone_c_entry(ptr))
        e._source = owned
        e._snapshot = e._public_values()
        return e
