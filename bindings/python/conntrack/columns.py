"""Entries given as columns: one template Entry and, for the fields that vary, one sequence
of N values each, packed into N ct_view records with no Python work per entry.

An Entry object costs about 2 us to build in CPython; a batch of a hundred thousand
entries spends more time making them than the library and the kernel spend on the
requests. Here the template's record is repeated N times (one bytes multiplication) and
each column is written into it with one strided memoryview assignment from an
array.array (C loops), so the per-entry cost is that of the caller's lists.

The fast columns are lists of ints (ports, zone, mark, ..., and IPv4 addresses as 32-bit
ints, IPv6 ones as 128-bit ints) or of packed address bytes (4 or 16 bytes each), and
array.array columns of the field's own type code. Addresses as text go through
inet_pton one element at a time, and ipaddress objects through .packed: correct, but
slower.
"""

import array
import functools
import socket
import sys

from . import _lib
from ._lib import VIEW_SIZE
from .entry import FAMILY_IPV4, FAMILY_IPV6, Entry, _address, record_of
from .errors import invalid

_U32 = "I" if array.array("I").itemsize == 4 else "L"
assert array.array(_U32).itemsize == 4
_SWAP = sys.byteorder == "little"  # addresses are stored in network order

# name: (offset in the view, array type code, largest value, present bit)
_NUMBERS = {
    "orig_sport": (36, "H", 0xFFFF, _lib.CT_VIEW_ORIG_SPORT),
    "orig_dport": (38, "H", 0xFFFF, _lib.CT_VIEW_ORIG_DPORT),
    "reply_sport": (40, "H", 0xFFFF, _lib.CT_VIEW_REPLY_SPORT),
    "reply_dport": (42, "H", 0xFFFF, _lib.CT_VIEW_REPLY_DPORT),
    "orig_icmp_type": (44, "B", 0xFF, _lib.CT_VIEW_ORIG_ICMP),
    "orig_icmp_code": (45, "B", 0xFF, _lib.CT_VIEW_ORIG_ICMP),
    "orig_icmp_id": (46, "H", 0xFFFF, _lib.CT_VIEW_ORIG_ICMP),
    "reply_icmp_type": (48, "B", 0xFF, _lib.CT_VIEW_REPLY_ICMP),
    "reply_icmp_code": (49, "B", 0xFF, _lib.CT_VIEW_REPLY_ICMP),
    "reply_icmp_id": (50, "H", 0xFFFF, _lib.CT_VIEW_REPLY_ICMP),
    "zone": (10, "H", 0xFFFF, _lib.CT_VIEW_ZONE),
    "mark": (12, _U32, 0xFFFFFFFF, _lib.CT_VIEW_MARK),
    "status": (16, _U32, 0xFFFFFFFF, _lib.CT_VIEW_STATUS),
    "timeout": (20, _U32, 0xFFFFFFFF, _lib.CT_VIEW_TIMEOUT),
    "id": (24, _U32, 0xFFFFFFFF, _lib.CT_VIEW_ID),
    "tcp_state": (32, "B", 0xFF, _lib.CT_VIEW_TCP_STATE),
    "sctp_state": (33, "B", 0xFF, _lib.CT_VIEW_SCTP_STATE),
}
_ADDRESSES = {
    "orig_src": (56, _lib.CT_VIEW_ORIG_SRC),
    "orig_dst": (72, _lib.CT_VIEW_ORIG_DST),
    "reply_src": (88, _lib.CT_VIEW_REPLY_SRC),
    "reply_dst": (104, _lib.CT_VIEW_REPLY_DST),
}
COLUMNS = tuple(_ADDRESSES) + tuple(_NUMBERS)
_ICMP_TYPE = {_lib.CT_VIEW_ORIG_ICMP: "orig_icmp_type", _lib.CT_VIEW_REPLY_ICMP: "reply_icmp_type"}
_PTON = {FAMILY_IPV4: (socket.AF_INET, 4), FAMILY_IPV6: (socket.AF_INET6, 16)}


def _sequence(name, col):
    if isinstance(col, (str, bytes, bytearray)):
        raise TypeError("column %s must be a sequence of values, not %s"
                        % (name, type(col).__name__))
    try:
        len(col)
        return col
    except TypeError:
        pass
    try:
        return list(col)
    except TypeError:
        raise TypeError("column %s must be a sequence of values, not %s"
                        % (name, type(col).__name__)) from None


def _numbers(name, col, code, top):
    """Column `col` as an array of type `code`, or raises as Entry's setters would."""
    if col.__class__ is array.array and col.typecode == code:
        return col
    types = set(map(type, col))
    if types and types != {int}:
        for i, v in enumerate(col):
            if v.__class__ is not int and (isinstance(v, bool) or not isinstance(v, int)):
                raise TypeError("%s must be an int, not %s (entry %d)"
                                % (name, type(v).__name__, i))
    try:
        out = array.array(code, col)
    except OverflowError:
        out = None
    if out is None:
        for i, v in enumerate(col):
            if not 0 <= v <= top:
                raise invalid("%s %d is out of range 0..%d (entry %d)" % (name, v, top, i))
    return out


def _address_column(name, col, family):
    """(buffer of the packed addresses, family) for column `col`; `family` (None: not
    known yet, the first element decides) is the one every address must have."""
    types = set(map(type, col))
    if family is None and len(col):
        first = col[0]
        if first.__class__ is bytes and len(first) in (4, 16):
            family = FAMILY_IPV4 if len(first) == 4 else FAMILY_IPV6
        else:
            try:
                family = FAMILY_IPV4 if _address(first).version == 4 else FAMILY_IPV6
            except (TypeError, ValueError):
                pass  # the loop below names it
    width = 4 if family == FAMILY_IPV4 else 16
    if types == {int} and family is not None:
        try:
            if family == FAMILY_IPV4:
                out = array.array(_U32, col)
                if _SWAP:
                    out.byteswap()
                return out, family
            return b"".join([v.to_bytes(16, "big") for v in col]), family
        except OverflowError:
            pass  # the loop below names it
    elif types == {bytes}:
        if set(map(len, col)) == {width}:
            return b"".join(col), family
    elif types == {str} and family is not None:
        af = _PTON[family][0]
        try:
            return b"".join(map(_pton(af), col)), family
        except (OSError, ValueError):
            pass  # the loop below names it
    # Any other mix (ipaddress objects, bytes of other lengths, a bad value): one at a time.
    parts = []
    for i, v in enumerate(col):
        if v.__class__ is bytes and len(v) != width and len(v) in (4, 16):
            raw = v
        elif isinstance(v, bool):
            raise invalid("%s %r (entry %d) is not an address" % (name, v, i))
        else:
            try:
                raw = _address(v).packed
            except ValueError as e:
                raise invalid("%s (entry %d): %s" % (name, i, getattr(e, "message", e))) from None
        if family is None:
            family = FAMILY_IPV4 if len(raw) == 4 else FAMILY_IPV6
            width = len(raw)
        if len(raw) != width:
            raise invalid("%s %s (entry %d) is not an IPv%d address"
                          % (name, _address(raw), i, 4 if family == FAMILY_IPV4 else 6))
        parts.append(raw)
    return b"".join(parts), family


def _pton(af):
    return functools.partial(socket.inet_pton, af)


def pack(template, columns):
    """(bytearray of N ct_view records, N): `template`'s record (an Entry, or None for an
    empty one) repeated, each column of `columns` (field name -> sequence) written into
    its field with the field's present bit set. Raises, before anything is built, for an
    unknown column, columns of unequal lengths, a value of the wrong type, out of its
    field's range, or an address of the other family."""
    if template is None:
        template = Entry()
    elif not isinstance(template, Entry):
        raise TypeError("template must be a conntrack.Entry, not %s" % type(template).__name__)
    record = record_of(template)
    if record is None:
        raise invalid("a template with a helper or a zone for each direction cannot be "
                      "packed as a view")
    record = bytearray(record)
    present = int.from_bytes(record[4:8], "little")
    family = record[8] if present & _lib.CT_VIEW_FAMILY else None
    n = None
    for name, col in columns.items():
        if name not in _NUMBERS and name not in _ADDRESSES:
            raise TypeError("unknown column %r (columns: %s)" % (name, ", ".join(COLUMNS)))
        col = columns[name] = _sequence(name, col)
        if n is None:
            n = len(col)
            first = name
        elif len(col) != n:
            raise invalid("column %s has %d values, column %s %d" % (name, len(col), first, n))
    if not n:
        return bytearray(), 0
    # Every column converted (and checked) before anything is written.
    writes = []
    for name in _ADDRESSES:
        if name in columns:
            data, family = _address_column(name, columns[name], family)
            off, bit = _ADDRESSES[name]
            writes.append((off, data, family))
            present |= bit
    for name, (off, code, top, bit) in _NUMBERS.items():
        if name in columns:
            writes.append((off, _numbers(name, columns[name], code, top), None))
            present |= bit
    for bit, type_name in _ICMP_TYPE.items():
        if (present & bit and type_name not in columns
                and not int.from_bytes(record[4:8], "little") & bit):
            raise invalid("%s ICMP code/id set without a type"
                          % ("original" if type_name.startswith("orig") else "reply"))
    if family is not None:
        record[8] = family
        present |= _lib.CT_VIEW_FAMILY
    record[4:8] = present.to_bytes(4, "little")
    buf = record * n  # a bytearray made in one step (bytearray(bytes) is far slower)
    mv = memoryview(buf)
    for off, data, fam in writes:
        if fam is None:
            size = data.itemsize
            mv.cast(data.typecode)[off // size::VIEW_SIZE // size] = data
        elif fam == FAMILY_IPV4:
            mv.cast(_U32)[off // 4::VIEW_SIZE // 4] = memoryview(data).cast("B").cast(_U32)
        else:
            # 16-byte addresses: two 8-byte halves, each a strided copy.
            q = memoryview(data).cast("B").cast("Q")
            dst = mv.cast("Q")
            dst[off // 8::VIEW_SIZE // 8] = q[0::2]
            dst[off // 8 + 1::VIEW_SIZE // 8] = q[1::2]
    return buf, n
