"""conntrack: Linux connection tracking (ctnetlink) from Python, on libconntrack.

A ctypes binding with no compiled part. The library is loaded from $CONNTRACK_LIBRARY,
else ``libconntrack.so.0`` through the system loader, else the in-tree build
(``build/lib``); see ``conntrack._lib``.

    import conntrack

    with conntrack.Conntrack(netns="blue") as ct:
        for entry in ct.dump(conntrack.Filter(zone=10)):
            print(entry.format())

``conntrack.Events`` subscribes to new, update and destroy events.
``conntrack.netlink_lib`` is a drop-in for Neutron's netlink_lib module.
"""

from . import _lib
from .entry import (
    FAMILY_IPV4,
    FAMILY_IPV6,
    PROTO_DCCP,
    PROTO_GRE,
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_NAMES,
    PROTO_SCTP,
    PROTO_TCP,
    PROTO_UDP,
    PROTO_UDPLITE,
    STATUS_ASSURED,
    STATUS_CONFIRMED,
    STATUS_DST_NAT,
    STATUS_DST_NAT_DONE,
    STATUS_DYING,
    STATUS_EXPECTED,
    STATUS_FIXED_TIMEOUT,
    STATUS_HELPER,
    STATUS_HW_OFFLOAD,
    STATUS_OFFLOAD,
    STATUS_SEEN_REPLY,
    STATUS_SEQ_ADJUST,
    STATUS_SRC_NAT,
    STATUS_SRC_NAT_DONE,
    STATUS_TEMPLATE,
    STATUS_UNTRACKED,
    TCP_STATE_ESTABLISHED,
    TCP_STATES,
    Entry,
    proto_name,
    proto_number,
)
from .errors import (
    BufferTooSmallError,
    BusyError,
    ConntrackError,
    ConntrackPermissionError,
    DumpInterruptedError,
    EntryExistsError,
    InternalError,
    InvalidArgumentError,
    KernelError,
    MalformedError,
    NetnsError,
    NotFoundError,
    NotSetError,
    NullPointerError,
    OverrunError,
    TableFullError,
    UnsupportedError,
)
from .events import (
    EVENT_ALL,
    EVENT_DESTROY,
    EVENT_NAMES,
    EVENT_NEW,
    EVENT_UPDATE,
    Event,
    Events,
)
from .expect import Expectation
from .filter import Filter
from .handle import Batch, Conntrack, EntryIterator, Stats
from .mirror import CHANGE_NAMES, Change, Mirror, MirrorStats

__version__ = "0.1.0"

#: What the library was loaded from: $CONNTRACK_LIBRARY, "libconntrack.so.0" (the
#: system loader) or the in-tree path.
LIBRARY = _lib.LOADED_FROM


def library_version():
    """The loaded libconntrack's version text (ct_version())."""
    return _lib.version()


def strerror(status):
    """The library's sentence for a ct_status number (ct_strerror())."""
    return _lib.strerror(status)


__all__ = [
    "Batch",
    "CHANGE_NAMES",
    "Change",
    "BufferTooSmallError",
    "BusyError",
    "Conntrack",
    "ConntrackError",
    "ConntrackPermissionError",
    "DumpInterruptedError",
    "EVENT_ALL",
    "EVENT_DESTROY",
    "EVENT_NAMES",
    "EVENT_NEW",
    "EVENT_UPDATE",
    "Entry",
    "EntryExistsError",
    "EntryIterator",
    "Event",
    "Events",
    "Expectation",
    "FAMILY_IPV4",
    "FAMILY_IPV6",
    "Filter",
    "InternalError",
    "InvalidArgumentError",
    "KernelError",
    "LIBRARY",
    "MalformedError",
    "Mirror",
    "MirrorStats",
    "NetnsError",
    "NotFoundError",
    "NotSetError",
    "NullPointerError",
    "OverrunError",
    "PROTO_DCCP",
    "PROTO_GRE",
    "PROTO_ICMP",
    "PROTO_ICMPV6",
    "PROTO_NAMES",
    "PROTO_SCTP",
    "PROTO_TCP",
    "PROTO_UDP",
    "PROTO_UDPLITE",
    "STATUS_ASSURED",
    "STATUS_CONFIRMED",
    "STATUS_DST_NAT",
    "STATUS_DST_NAT_DONE",
    "STATUS_DYING",
    "STATUS_EXPECTED",
    "STATUS_FIXED_TIMEOUT",
    "STATUS_HELPER",
    "STATUS_HW_OFFLOAD",
    "STATUS_OFFLOAD",
    "STATUS_SEEN_REPLY",
    "STATUS_SEQ_ADJUST",
    "STATUS_SRC_NAT",
    "STATUS_SRC_NAT_DONE",
    "STATUS_TEMPLATE",
    "STATUS_UNTRACKED",
    "Stats",
    "TCP_STATES",
    "TCP_STATE_ESTABLISHED",
    "TableFullError",
    "UnsupportedError",
    "library_version",
    "proto_name",
    "proto_number",
    "strerror",
]
