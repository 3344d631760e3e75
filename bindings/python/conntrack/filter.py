"""Filter: which entries a dump, list, delete_matching or flush_matching applies to.

A plain Python object turned into a ct_filter for each call (and freed after it). Every
field left None matches everything. The kernel applies what it can; the library applies
the rest, with the same result on every kernel.
"""

import ctypes
import dataclasses
import ipaddress
from typing import Optional, Union

from . import _lib
from ._lib import lib
from .entry import _ranged, family_number, proto_number
from .errors import c_text, check

AddressOrNetwork = Union[
    str, ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network
]


@dataclasses.dataclass
class Filter:
    """Fields: ``zone`` (0..65535; entries without a zone are in zone 0), ``family``
    (2/10, 4/6 or "ipv4"/"ipv6"), ``proto`` (number or name), ``mark`` with ``mark_mask``
    (matches when entry.mark & mask == mark & mask; default mask 0xffffffff, the exact
    mark), ``status`` with ``status_mask`` (the same rule; default mask 0xffffffff),
    addresses per tuple side (``orig_src``, ``orig_dst``, ``reply_src``, ``reply_dst``: an
    address or a prefix, as text or ipaddress objects), ports per side (``orig_sport``,
    ``orig_dport``, ``reply_sport``, ``reply_dport``), and ``kernel_filtering`` (False:
    the library matches every field itself, as on kernels that cannot). ``nat`` ("src",
    "dst" or "any") matches NATed entries as conntrack(8)'s --src-nat, --dst-nat and
    --any-nat do; ``nat_to`` ("ADDR", "ADDR:PORT", "[ADDR6]:PORT" or ":PORT") is then
    what the entry was translated to (reply destination for "src", reply source for
    "dst")."""

    zone: Optional[int] = None
    family: Optional[Union[int, str]] = None
    proto: Optional[Union[int, str]] = None
    mark: Optional[int] = None
    mark_mask: int = 0xFFFFFFFF
    status: Optional[int] = None
    status_mask: int = 0xFFFFFFFF
    orig_src: Optional[AddressOrNetwork] = None
    orig_dst: Optional[AddressOrNetwork] = None
    reply_src: Optional[AddressOrNetwork] = None
    reply_dst: Optional[AddressOrNetwork] = None
    orig_sport: Optional[int] = None
    orig_dport: Optional[int] = None
    reply_sport: Optional[int] = None
    reply_dport: Optional[int] = None
    kernel_filtering: bool = True
    nat: Optional[str] = None
    nat_to: Optional[str] = None

_NAT_KINDS = {"src": _lib.CT_NAT_SRC, "dst": _lib.CT_NAT_DST, "any": _lib.CT_NAT_ANY}


def _addr_text(value):
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value.with_prefixlen
    return str(value)


def fill_c_filter(ptr, f):
    if f.family is not None:
        check(lib.ct_filter_set_family(ptr, family_number(f.family)))
    if f.proto is not None:
        check(lib.ct_filter_set_proto(ptr, proto_number(f.proto)))
    if f.zone is not None:
        # The library refuses a zone over 65535 (CT_ERR_INVALID_ARGUMENT).
        check(lib.ct_filter_set_zone(ptr, _ranged(f.zone, 0xFFFFFFFF, "zone")))
    if f.mark is not None:
        mark = _ranged(f.mark, 0xFFFFFFFF, "mark")
        mask = _ranged(f.mark_mask, 0xFFFFFFFF, "mark mask")
        check(lib.ct_filter_set_mark(ptr, mark, mask))
    if f.status is not None:
        status = _ranged(f.status, 0xFFFFFFFF, "status")
        mask = _ranged(f.status_mask, 0xFFFFFFFF, "status mask")
        check(lib.ct_filter_set_status(ptr, status, mask))
    for which, addr in (
        (_lib.CT_ORIG_SRC, f.orig_src),
        (_lib.CT_ORIG_DST, f.orig_dst),
        (_lib.CT_REPLY_SRC, f.reply_src),
        (_lib.CT_REPLY_DST, f.reply_dst),
    ):
        if addr is not None:
            check(lib.ct_filter_set_addr(ptr, which, c_text(_addr_text(addr), "address")))
    for which, port in (
        (_lib.CT_ORIG_SRC, f.orig_sport),
        (_lib.CT_ORIG_DST, f.orig_dport),
        (_lib.CT_REPLY_SRC, f.reply_sport),
        (_lib.CT_REPLY_DST, f.reply_dport),
    ):
        if port is not None:
            check(lib.ct_filter_set_port(ptr, which, _ranged(port, 0xFFFF, "port")))
    check(lib.ct_filter_set_kernel_filtering(ptr, bool(f.kernel_filtering)))
    if f.nat is not None or f.nat_to is not None:
        kind = _NAT_KINDS.get(f.nat)
        if kind is None:
            raise ValueError("nat must be 'src', 'dst' or 'any', not %r" % (f.nat,))
        to = None if f.nat_to is None else c_text(str(f.nat_to), "nat_to")
        check(lib.ct_filter_set_nat(ptr, kind, to))


class c_filters:
    """Context manager: a ct_filters set of the Filters given (at least one), freed on
    exit."""

    def __init__(self, filters):
        for f in filters:
            if not isinstance(f, Filter):
                raise TypeError("expected conntrack.Filter objects, not %s" % type(f).__name__)
        self.filters = filters
        self.ptr = None

    def __enter__(self):
        out = ctypes.c_void_p()
        check(lib.ct_filters_new(ctypes.byref(out)))
        self.ptr = out.value
        try:
            for f in self.filters:
                with c_filter(f) as fp:
                    check(lib.ct_filters_add(self.ptr, fp))
        except BaseException:
            lib.ct_filters_free(self.ptr)
            self.ptr = None
            raise
        return self.ptr

    def __exit__(self, *exc):
        ptr, self.ptr = self.ptr, None
        lib.ct_filters_free(ptr)
        return False


class c_filter:
    """Context manager: a ct_filter for Filter `f` (NULL for None), freed on exit (also
    when a setter fails)."""

    def __init__(self, f, required=False):
        if f is not None and not isinstance(f, Filter):
            raise TypeError("expected a conntrack.Filter or None, not %s" % type(f).__name__)
        if f is None and required:
            raise TypeError("a Filter is required here (use flush() for the whole table)")
        self.filter = f
        self.ptr = None

    def __enter__(self):
        if self.filter is None:
            return None
        out = ctypes.c_void_p()
        check(lib.ct_filter_new(ctypes.byref(out)))
        self.ptr = out.value
        try:
            fill_c_filter(self.ptr, self.filter)
        except BaseException:
            lib.ct_filter_free(self.ptr)
            self.ptr = None
            raise
        return self.ptr

    def __exit__(self, *exc):
        ptr, self.ptr = self.ptr, None
        lib.ct_filter_free(ptr)
        return False
