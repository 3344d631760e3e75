"""Expectation: an entry of the expectation table, a connection that a helper (FTP, SIP,
...) expects because of its master connection's traffic (ct_expect).

A plain Python object turned into a ct_expect for each call (and freed after it); the
Conntrack methods expectations(), create_expectation(), delete_expectation() and
flush_expectations() use it.
"""

import ctypes
import dataclasses
from typing import Optional

from . import _lib
from ._lib import lib
from .entry import Entry, Reader, _ranged, c_entry
from .errors import c_text, check, last_error

_TUPLES = (
    ("master", _lib.CT_EXPECT_MASTER),
    ("expected", _lib.CT_EXPECT_TUPLE),
    ("mask", _lib.CT_EXPECT_MASK),
)


@dataclasses.dataclass
class Expectation:
    """An expectation. ``master``, ``expected`` and ``mask`` are Entry objects of which only
    the protocol and the original tuple count (``proto``, ``orig_src``, ``orig_dst``,
    ``orig_sport``, ``orig_dport`` or the ``orig_icmp_*`` fields; ``family`` optional):

    - ``master``: the original tuple of the master connection (it must exist, with a helper
      attached, for create_expectation);
    - ``expected``: the expected connection's tuple;
    - ``mask``: which bits of ``expected`` must match (addresses and ports as bit masks:
      255.255.255.255 / 0xffff exact, 0 any).

    ``timeout`` (seconds; the helper's policy may replace it), ``zone`` (None: zone 0),
    ``helper`` (None: the master's), ``class_`` (the helper's expectation class). Read-only,
    filled from the kernel and not sent: ``flags`` (NF_CT_EXPECT_*), ``id``; a delete finds
    the expectation by its expected tuple and zone.
    """

    master: Optional[Entry] = None
    expected: Optional[Entry] = None
    mask: Optional[Entry] = None
    timeout: Optional[int] = None
    zone: Optional[int] = None
    helper: Optional[str] = None
    class_: Optional[int] = None
    flags: Optional[int] = None  # read-only
    id: Optional[int] = None  # read-only

    def __post_init__(self):
        for name, _ in _TUPLES:
            value = getattr(self, name)
            if value is not None and not isinstance(value, Entry):
                raise TypeError("Expectation.%s must be a conntrack.Entry or None, not %s"
                                % (name, type(value).__name__))


def fill_c_expect(ptr, x):
    for name, which in _TUPLES:
        tup = getattr(x, name)
        if tup is not None:
            with c_entry(tup) as entry:
                check(lib.ct_expect_set_tuple(ptr, which, entry))
    if x.timeout is not None:
        check(lib.ct_expect_set_timeout(ptr, _ranged(x.timeout, 0xFFFFFFFF, "timeout")))
    if x.zone is not None:
        # The library refuses a zone over 65535 (CT_ERR_INVALID_ARGUMENT).
        check(lib.ct_expect_set_zone(ptr, _ranged(x.zone, 0xFFFFFFFF, "zone")))
    if x.helper is not None:
        check(lib.ct_expect_set_helper(ptr, c_text(x.helper, "helper name")))
    if x.class_ is not None:
        check(lib.ct_expect_set_class(ptr, _ranged(x.class_, 0xFFFFFFFF, "class")))


class c_expect:
    """Context manager: a new ct_expect holding `x`'s settable fields, freed on exit (also
    when a setter fails)."""

    def __init__(self, x):
        if not isinstance(x, Expectation):
            raise TypeError("expected a conntrack.Expectation, not %s" % type(x).__name__)
        self.x = x
        self.ptr = None

    def __enter__(self):
        out = ctypes.c_void_p()
        check(lib.ct_expect_new(ctypes.byref(out)))
        self.ptr = out.value
        try:
            fill_c_expect(self.ptr, self.x)
        except BaseException:
            lib.ct_expect_free(self.ptr)
            self.ptr = None
            raise
        return self.ptr

    def __exit__(self, *exc):
        ptr, self.ptr = self.ptr, None
        lib.ct_expect_free(ptr)
        return False


class ExpectReader:
    """Reads ct_expect objects into Expectation objects, reusing its buffers."""

    def __init__(self):
        self.entries = Reader()
        self.u32 = ctypes.c_uint32()
        self.helper_buf = ctypes.create_string_buffer(64)

    def _u32(self, fn, ptr):
        rc = fn(ptr, ctypes.byref(self.u32))
        if rc == _lib.CT_OK:
            return self.u32.value
        if rc == _lib.CT_ERR_NOT_SET:
            return None
        raise last_error(rc)

    def _tuple(self, ptr, which):
        out = ctypes.c_void_p()
        check(lib.ct_expect_get_tuple(ptr, which, ctypes.byref(out)))
        try:
            return self.entries.read(out.value)
        finally:
            lib.ct_entry_free(out.value)

    def _helper(self, ptr):
        rc = lib.ct_expect_get_helper(ptr, self.helper_buf, len(self.helper_buf))
        if rc == _lib.CT_OK:
            return self.helper_buf.value.decode("utf-8", "replace")
        if rc == _lib.CT_ERR_NOT_SET:
            return None
        raise last_error(rc)

    def read(self, ptr):
        """An Expectation with every field of the ct_expect at `ptr`."""
        tuples = {name: self._tuple(ptr, which) for name, which in _TUPLES}
        return Expectation(
            timeout=self._u32(lib.ct_expect_get_timeout, ptr),
            zone=self._u32(lib.ct_expect_get_zone, ptr),
            helper=self._helper(ptr),
            class_=self._u32(lib.ct_expect_get_class, ptr),
            flags=self._u32(lib.ct_expect_get_flags, ptr),
            id=self._u32(lib.ct_expect_get_id, ptr),
            **tuples,
        )
