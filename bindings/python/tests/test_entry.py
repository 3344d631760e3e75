"""Entry, Filter and error objects without the kernel: conversion to the C entry and
back, the library's text, argument checks, and the exception classes."""

import copy
import ctypes
import ipaddress
import pickle

import pytest

import conntrack
from conntrack import Entry, Filter
from conntrack import _lib
from conntrack.entry import Reader, c_entry
from conntrack.filter import c_filter


def round_trip(entry):
    """Entry -> ct_entry -> Entry, through the library's setters and getters."""
    with c_entry(entry) as ptr:
        return Reader().read(ptr)


def test_fields_normalised():
    e = Entry(family=4, proto="tcp", orig_src="1.1.1.1", orig_dst="2.2.2.2", labels=0b101)
    assert e.family == conntrack.FAMILY_IPV4 and e.proto == 6
    assert e.orig_src == ipaddress.IPv4Address("1.1.1.1")
    assert e.labels == frozenset({0, 2}) and e.labels_mask == 5
    assert e.ip_version == 4 and e.proto_name == "tcp"
    assert Entry(orig_src="fe80::1").ip_version == 6
    assert Entry(proto="icmpv6").proto == 58 and Entry(proto="132").proto_name == "sctp"
    assert Entry(proto=50).proto_name == "50"


def test_round_trip_every_settable_field():
    e = Entry(
        family=conntrack.FAMILY_IPV6,
        proto=conntrack.PROTO_TCP,
        orig_src="fd00::1",
        orig_dst="fd00::2",
        reply_src="fd00::2",
        reply_dst="fd00::1",
        orig_sport=1000,
        orig_dport=80,
        reply_sport=80,
        reply_dport=1000,
        zone=65535,
        mark=0xFFFFFFFF,
        status=conntrack.STATUS_ASSURED | conntrack.STATUS_SEEN_REPLY,
        timeout=3600,
        tcp_state=conntrack.TCP_STATE_ESTABLISHED,
        id=123456,
        labels={0, 63, 127},
        helper="ftp",
    )
    back = round_trip(e)
    for name in ("family", "proto", "orig_src", "orig_dst", "reply_src", "reply_dst",
                 "orig_sport", "orig_dport", "reply_sport", "reply_dport", "zone", "mark",
                 "status", "timeout", "tcp_state", "id", "labels", "helper"):
        assert getattr(back, name) == getattr(e, name), name
    # Fields the entry does not hold come back as None (CT_ERR_NOT_SET).
    for name in ("orig_icmp_type", "reply_icmp_id", "sctp_state", "dccp_state", "use",
                 "orig_packets", "reply_bytes", "timestamp_start", "timestamp_stop", "secmark"):
        assert getattr(back, name) is None, name


def test_round_trip_icmp_and_empty():
    e = Entry(proto="icmp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_icmp_type=8,
              orig_icmp_code=0, orig_icmp_id=3333, timeout=10)
    back = round_trip(e)
    assert (back.orig_icmp_type, back.orig_icmp_code, back.orig_icmp_id) == (8, 0, 3333)
    assert back.orig_sport is None and back.family == conntrack.FAMILY_IPV4
    assert round_trip(Entry()) == Entry()
    # A type alone: code and id default to 0.
    back = round_trip(Entry(proto="icmp", orig_icmp_type=3))
    assert (back.orig_icmp_type, back.orig_icmp_code, back.orig_icmp_id) == (3, 0, 0)


def test_format_uses_the_library():
    e = Entry(proto="icmp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_icmp_type=8,
              orig_icmp_code=0, orig_icmp_id=1, timeout=10)
    text = e.format()
    assert text.startswith("icmp     1 10 src=1.1.1.1 dst=2.2.2.2 type=8 code=0 id=1")
    assert str(e) == text
    assert e.format(extended=True).startswith("ipv4     2 icmp     1 10 ")
    e.id = 77
    assert e.format(id=True).endswith("id=77")
    # A long line (a long helper name does not matter; many fields do) still fits.
    assert len(Entry(proto="tcp", orig_src="1:2:3:4:5:6:7:8", orig_dst="1:2:3:4:5:6:7:9",
                     orig_sport=65535, orig_dport=65535, timeout=4294967295,
                     mark=4294967295, zone=65535).format(extended=True, id=True)) > 60


def test_setter_errors_are_invalid_argument_with_message():
    with pytest.raises(conntrack.InvalidArgumentError) as info:
        round_trip(Entry(zone=65536))
    err = info.value
    assert err.status == _lib.CT_ERR_INVALID_ARGUMENT == conntrack.InvalidArgumentError.status
    assert "65535" in err.message and "65535" in str(err)
    assert isinstance(err, ValueError) and isinstance(err, conntrack.ConntrackError)
    with pytest.raises(conntrack.InvalidArgumentError):
        round_trip(Entry(proto="icmp", orig_sport=80))  # a port on ICMP
    with pytest.raises(conntrack.InvalidArgumentError):
        round_trip(Entry(family=4, orig_src="fe80::1"))  # IPv6 address, IPv4 family
    with pytest.raises(conntrack.InvalidArgumentError):
        round_trip(Entry(proto="udp", tcp_state=3))  # TCP state on UDP
    with pytest.raises(conntrack.InvalidArgumentError):
        round_trip(Entry(proto="icmp", family=6))  # ICMP on IPv6
    with pytest.raises(conntrack.InvalidArgumentError):
        round_trip(Entry(proto="tcp", orig_sport=65536))  # checked by the binding
    with pytest.raises(conntrack.InvalidArgumentError):
        Entry(orig_src="not-an-address")
    with pytest.raises(conntrack.InvalidArgumentError):
        Entry(proto="nosuchproto")
    with pytest.raises(conntrack.InvalidArgumentError):
        Entry(family=3)
    with pytest.raises(conntrack.InvalidArgumentError):
        Entry(labels={128})
    with pytest.raises(TypeError):
        round_trip(Entry(mark="1"))
    with pytest.raises(conntrack.InvalidArgumentError):
        round_trip(Entry(helper="ftp\0x"))  # C would cut it at the NUL
    with pytest.raises(conntrack.InvalidArgumentError):
        round_trip(Entry(proto="icmp", orig_icmp_code=1))  # code without a type


def test_filter_conversion_and_errors():
    good = Filter(zone=1, family=6, proto="udp", mark=1, mark_mask=0xF, status=8,
                  status_mask=8, orig_src="fd00::/64",
                  orig_dst=ipaddress.ip_network("fd00::/8"), reply_src="fd00::1",
                  reply_dst=ipaddress.ip_address("fd00::2"), orig_sport=1, orig_dport=2,
                  reply_sport=3, reply_dport=4, kernel_filtering=False)
    with c_filter(good) as ptr:
        assert ptr
    with c_filter(None) as ptr:
        assert ptr is None
    for bad in (Filter(zone=65536), Filter(orig_src="10.0.0.0/33"),
                Filter(family=4, orig_src="fd00::1"), Filter(orig_dport=65536),
                Filter(mark=-1)):
        with pytest.raises(conntrack.InvalidArgumentError):
            with c_filter(bad):
                pass
    with pytest.raises(conntrack.InvalidArgumentError):
        with c_filter(Filter(orig_src="10.0.0.1\0junk")):
            pass
    with pytest.raises(TypeError):
        with c_filter(None, required=True):
            pass
    with pytest.raises(TypeError):
        with c_filter({"zone": 1}):
            pass


def test_error_classes():
    cases = {
        1: (conntrack.InvalidArgumentError, ValueError),
        3: (conntrack.NotFoundError, LookupError),
        4: (conntrack.EntryExistsError, conntrack.ConntrackError),
        5: (conntrack.ConntrackPermissionError, conntrack.ConntrackError),
        7: (conntrack.DumpInterruptedError, conntrack.ConntrackError),
        8: (conntrack.UnsupportedError, NotImplementedError),
        9: (conntrack.NetnsError, conntrack.ConntrackError),
        10: (conntrack.KernelError, conntrack.ConntrackError),
        14: (conntrack.OverrunError, conntrack.ConntrackError),
        15: (conntrack.BusyError, conntrack.ConntrackError),
        16: (conntrack.TableFullError, conntrack.ConntrackError),
    }
    for status, (cls, base) in cases.items():
        err = conntrack.errors.error_for(status, "detail", 2)
        assert type(err) is cls and isinstance(err, base)
        assert (err.status, err.errno, err.message) == (status, 2, "detail")
        assert err.strerror == conntrack.strerror(status)
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is cls and again.message == "detail"
    unknown = conntrack.errors.error_for(9999, "x")
    assert type(unknown) is conntrack.ConntrackError and unknown.strerror == "unknown status"
    assert conntrack.strerror(3) == "no such conntrack entry or object"


def test_copies_never_share_the_c_entry():
    e = Entry(proto="udp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_sport=1,
              orig_dport=2, timeout=5)
    with c_entry(e) as ptr:
        kept = Reader().read_kept(ptr)  # owns a clone of ptr
    assert kept._source is not None and kept == e.__class__(**{
        k: getattr(kept, k) for k in conntrack.entry.PUBLIC_FIELDS})
    for other in (copy.copy(kept), copy.deepcopy(kept), pickle.loads(pickle.dumps(kept))):
        assert other == kept and other._source is None
        assert other.format() == kept.format()
    # Changing a field makes format() use the fields, not the stale C copy.
    kept.orig_sport = 7
    assert "sport=7" in kept.format()


def test_version_and_library():
    assert conntrack.library_version().split(".")[0] == "0"
    assert isinstance(conntrack.LIBRARY, str) and conntrack.LIBRARY
    # Every prototype is declared (a missing symbol would have failed the import).
    assert _lib.lib.ct_entry_get_addr.restype is ctypes.c_int32


def test_text_addresses_taken_and_refused_as_ipaddress_does():
    """Entry parses address text through inet_pton first (the fast way) and ipaddress
    otherwise: it must give what ipaddress.ip_address gives, and refuse what it refuses."""
    import random

    cases = [
        "1.2.3.4", "01.2.3.4", "1.2.3.04", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3",
        "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ", "1..2.3", "::", "::1", "1::", ":1::", "1:::2",
        "::ffff:1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
        "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8::", "00001::", "0001::", "fe80::1%eth0", "::ffff:01.2.3.4",
        "1.2.3.4::", "\u0661.\u0662.\u0663.\u0664", "1.2.3.4\x00", "", ":", ":::", "0x1.2.3.4",
        "+1.2.3.4", "FD00::ABCD",
    ]
    rng = random.Random(5)
    for _ in range(3000):
        if rng.random() < 0.5:
            cases.append(".".join(rng.choice(["0", "1", "9", "99", "255", "256", "01", "", "a"])
                                  for _ in range(rng.choice([3, 4, 4, 5]))))
        else:
            cases.append(":".join(rng.choice(["", "0", "1", "ffff", "0000", "00000", "Ab", "g",
                                              "1.2.3.4", "01.2.3.4", "1%x"])
                                  for _ in range(rng.randint(2, 10))))
    for text in cases:
        try:
            want = ipaddress.ip_address(text)
        except ValueError:
            with pytest.raises(conntrack.InvalidArgumentError):
                Entry(orig_src=text)
            continue
        got = Entry(orig_src=text).orig_src
        assert got == want and type(got) is type(want), text
        assert str(got) == str(want)


def test_records_of_text_and_objects_are_the_same():
    from conntrack.entry import _pack_checked, record_of

    for e, objects in (
        (Entry(proto="udp", orig_src="10.0.0.1", orig_dst="10.200.0.1", orig_sport=1024,
               orig_dport=53, zone=7, timeout=3600),
         Entry(proto=17, orig_src=ipaddress.IPv4Address("10.0.0.1"),
               orig_dst=ipaddress.IPv4Address("10.200.0.1"), orig_sport=1024, orig_dport=53,
               zone=7, timeout=3600)),
        (Entry(family=6, proto="tcp", orig_src="fd00::1", orig_dst="fd00::2", reply_src="fd00::2",
               reply_dst="fd00::1", orig_sport=1, orig_dport=2, reply_sport=2, reply_dport=1,
               mark=5, status=8, tcp_state=3, id=77),
         Entry(family=10, proto=6, orig_src=ipaddress.IPv6Address("fd00::1"),
               orig_dst=ipaddress.IPv6Address("fd00::2"),
               reply_src=ipaddress.IPv6Address("fd00::2"),
               reply_dst=ipaddress.IPv6Address("fd00::1"), orig_sport=1, orig_dport=2,
               reply_sport=2, reply_dport=1, mark=5, status=8, tcp_state=3, id=77)),
    ):
        assert e == objects
        # The record packed at construction is the one the checked (field by field) way makes.
        assert record_of(e) == record_of(objects) == _pack_checked(e._values())
