"""The binding reads entries as blocks of ct_view records: the records against the
library's getters and against `conntrack -L` for entries the tool made, the bulk batch
path, and the layout check that refuses a library with another view layout."""

import copy
import ipaddress
import pickle
import re
import subprocess

import pytest
from conftest import PYTHON, child_env

import conntrack
from conntrack import Entry, Filter, _lib
from conntrack.entry import PUBLIC_FIELDS, Reader, c_entry, entries_of_block, pack_view

# Entries of every layout the tool makes (ports, ICMP, GRE keys, another protocol), with
# zones, marks, states.
TOOL_ENTRIES = (
    ["-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1, "--dport", 2,
     "--state", "ESTABLISHED", "-t", 1234, "-w", 10, "-m", 3],
    ["-p", "udp", "-s", "fd00::1", "-d", "fd00::2", "--sport", 4, "--dport", 5, "-t", 1234,
     "-m", 7],
    ["-p", "icmp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--icmp-type", 8, "--icmp-code", 0,
     "--icmp-id", 3333, "-t", 1234, "-w", 65535],
    ["-p", "icmpv6", "-s", "::1", "-d", "::2", "--icmpv6-type", 128, "--icmpv6-code", 0,
     "--icmpv6-id", 1, "-t", 1234],
    ["-p", "gre", "-s", "1.1.1.1", "-d", "2.2.2.2", "--srckey", 11, "--dstkey", 12,
     "-t", 1234],
    # SCTP verification tags are beyond the view (CT_VIEW_MORE): read from the C entry.
    ["-p", "sctp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 6, "--dport", 7,
     "--state", "ESTABLISHED", "--orig-vtag", 9, "--reply-vtag", 10, "-t", 1234],
    ["-p", "50", "-s", "1.1.1.1", "-d", "2.2.2.2", "-t", 1234],
)


def fields(e):
    return {name: getattr(e, name) for name in PUBLIC_FIELDS}


def steady(e):
    """The fields that cannot change between two reads (the timeout ticks)."""
    return {name: getattr(e, name) for name in PUBLIC_FIELDS if name != "timeout"}


def test_views_equal_the_getters_and_the_tool(ct, netns):
    for args in TOOL_ENTRIES:
        netns.conntrack("-I", *args)
    by_view = ct.list()
    by_stream = list(ct.stream())
    assert len(by_view) == len(by_stream) == len(TOOL_ENTRIES)
    # The same entries read one by one through the getters' path (ct_get's C entry).
    for e in by_view:
        assert e._b is not None  # view-backed
        got = ct.get(e)
        for name in PUBLIC_FIELDS:
            if name not in ("timeout", "use"):  # may tick or change between the reads
                assert getattr(got, name) == getattr(e, name), (name, e)
    assert sorted(map(steady, by_view), key=repr) == sorted(map(steady, by_stream), key=repr)
    # The text of the views is the tool's, but for what ticks between two reads on a busy
    # machine: the timeout and delta-time.
    for opts, kw, at in (([], {}, 2), (["-o", "extended,id"], {"extended": True, "id": True}, 4)):
        ours = sorted(untimed(e.format(**kw), at) for e in ct.list())
        assert ours == sorted(untimed(t, at) for t in netns.lines(*opts))


def untimed(line, at):
    words = line.split()
    words[at] = "*"
    return re.sub(r"delta-time=\d+", "delta-time=*", " ".join(words))


def test_view_backed_entries_behave_as_values(ct, netns):
    netns.conntrack("-I", *TOOL_ENTRIES[0])
    (e,) = ct.list(Filter(zone=10))
    twins = []
    entries_of_block(e._b, 1, twins)  # a second, unread entry of the same record
    again = twins[0]
    assert e == again and not e != again
    assert e == Entry(**fields(e))  # a view and a Python-made entry: by their fields
    text = e.format()
    for other in (copy.copy(e), copy.deepcopy(e), pickle.loads(pickle.dumps(e))):
        assert other == e and other._source is None and other.format() == text
    assert repr(e).startswith("Entry(family=2, proto=6, ")
    e.mark = 99  # a change is seen by equality and format(), not by the twin
    assert e != again and "mark=99" in e.format() and "mark=3" in again.format()
    e.mark = 3
    assert e == again and e.format() == text  # back to the kernel's values: its text
    with pytest.raises(TypeError):
        hash(e)


def test_entries_in_a_zone_of_one_direction_are_deleted_as_read(ct, netns):
    # One tuple in the original-only and in the reply-only zone 5: two entries. An entry
    # read (and looked at) but not changed is deleted in its zone, as the kernel holds it
    # (test_dir_zone.py: its orig_zone/reply_zone fields, changed entries).
    tup = ["-p", "udp", "-s", "10.1.0.1", "-d", "10.2.0.1", "--sport", 1, "--dport", 53,
           "-t", 100]
    netns.conntrack("-I", *tup, "--orig-zone", 5)
    netns.conntrack("-I", *tup, "--reply-zone", 5)
    read = ct.list(Filter(zone=5))
    assert len(read) == 2
    texts = sorted(e.format() for e in read)
    assert "zone-orig=5" in texts[1] and "zone-reply=5" in texts[0]
    assert all(e.zone is None and e.orig_sport == 1 for e in read)
    for e in read:
        ct.delete(e)
    assert netns.lines() == []


def test_pack_view_round_trips_every_settable_field():
    e = Entry(family=6, proto="tcp", orig_src="fd00::1", orig_dst="fd00::2",
              reply_src="fd00::2", reply_dst="fd00::1", orig_sport=1000, orig_dport=80,
              reply_sport=80, reply_dport=1000, zone=65535, mark=0xFFFFFFFF,
              status=conntrack.STATUS_ASSURED, timeout=3600,
              tcp_state=conntrack.TCP_STATE_ESTABLISHED, id=123456, labels={0, 63, 127})
    buf = bytearray(_lib.VIEW_SIZE)
    assert pack_view(e, buf, 0)
    with c_entry(e) as ptr:
        by_setters = Reader().read(ptr)
    out = __import__("ctypes").c_void_p()
    assert _lib.lib.ct_entry_from_view(bytes(buf), __import__("ctypes").byref(out)) == 0
    try:
        by_view = Reader().read(out.value)
    finally:
        _lib.lib.ct_entry_free(out.value)
    assert fields(by_view) == fields(by_setters)
    # Out of range for the view's field: refused by the binding, as the setter would.
    with pytest.raises(conntrack.InvalidArgumentError):
        pack_view(Entry(zone=65536), buf, 0)
    with pytest.raises(conntrack.InvalidArgumentError):
        pack_view(Entry(family=4, orig_src="fd00::1"), buf, 0)
    # A helper is not in the view: the caller passes that entry through the setters.
    assert not pack_view(Entry(proto="tcp", helper="ftp"), buf, 0)


def udp(port, **kw):
    return Entry(proto="udp", orig_src="10.0.0.1", orig_dst="10.0.0.2", orig_sport=port,
                 orig_dport=53, **kw)


def test_bulk_batches_pass_views(ct, netns):
    with ct.batch() as b:
        assert b.add_creates([udp(p, timeout=100) for p in range(1, 3001)]) == range(3000)
        # A view the library refuses takes its index, with the reason as its outcome;
        # a helper entry goes through the setters in its place.
        assert b.add_creates([udp(1, timeout=100), Entry(proto="icmp", orig_src="1.1.1.1",
                                                         orig_dst="1.1.1.2", orig_sport=5),
                              udp(9000, timeout=100, zone=3)]) == range(3000, 3003)
        results = b.send()
    assert results[:3000] == [None] * 3000
    assert isinstance(results[3000], conntrack.EntryExistsError)
    assert isinstance(results[3001], conntrack.InvalidArgumentError)
    assert results[3002] is None
    assert len(netns.lines()) == 3001
    dumped = ct.list(Filter(zone=0))
    with ct.batch() as b:
        b.add_deletes(dumped)  # the very records read
        assert b.send() == [None] * 3000
    (left,) = netns.lines()
    assert "sport=9000" in left and "zone=3" in left


# Entries of several shapes made in Python: values already of their type (packed when the
# Entry is built) and values the constructor converts (names, text addresses, 4/6).
MADE = (
    dict(proto=17, orig_src=ipaddress.ip_address("10.1.0.1"),
         orig_dst=ipaddress.ip_address("10.1.0.2"), orig_sport=1, orig_dport=53, zone=4,
         timeout=600),
    dict(family=6, proto="tcp", orig_src="fd00::1", orig_dst="fd00::2", orig_sport=1000,
         orig_dport=80, tcp_state=conntrack.TCP_STATE_ESTABLISHED, timeout=600, mark=9,
         status=conntrack.STATUS_ASSURED),
    dict(proto="icmp", orig_src="10.1.0.1", orig_dst="10.1.0.3", orig_icmp_type=8,
         orig_icmp_code=0, orig_icmp_id=77, timeout=600, zone=4),
    dict(family=4, proto=6, orig_src="10.1.0.9", orig_dst="10.1.0.8", orig_sport=5,
         orig_dport=6, reply_src="10.1.0.8", reply_dst="10.1.0.9", reply_sport=6,
         reply_dport=5, tcp_state=3, timeout=600, labels={1}),
)


def test_records_kept_by_entries_made_in_python():
    ctypes = __import__("ctypes")
    for kw in MADE:
        e = Entry(**kw)
        record = e._r
        assert record is not None and len(record) == _lib.VIEW_SIZE
        out = ctypes.c_void_p()
        assert _lib.lib.ct_entry_from_view(record, ctypes.byref(out)) == 0
        try:
            by_record = Reader().read(out.value)
        finally:
            _lib.lib.ct_entry_free(out.value)
        with c_entry(Entry(**kw)) as ptr:
            by_fields = Reader().read(ptr)
        assert fields(by_record) == fields(by_fields)
        # The public fields are those given (normalised), not the record's.
        assert e.family == (None if "family" not in kw else conntrack.entry.family_number(kw["family"]))
    # A field set after construction drops the record; the batch packs the new value.
    e = Entry(**MADE[0])
    e.orig_dport = 54
    assert e._r is None
    # A value out of range keeps no record and raises where the entry is used.
    bad = Entry(proto=17, orig_src="10.0.0.1", orig_dst="10.0.0.2", orig_sport=70000)
    assert bad._r is None
    with pytest.raises(conntrack.InvalidArgumentError):
        pack_view(bad, bytearray(_lib.VIEW_SIZE), 0)


def test_batch_from_kept_records_against_the_tool(ct, netns):
    made = [Entry(**kw) for kw in MADE]
    changed = Entry(**MADE[0])
    changed.orig_dport = 54  # no record any more: packed from its fields
    helper = Entry(proto="tcp", orig_src="10.1.0.5", orig_dst="10.1.0.6", orig_sport=7,
                   orig_dport=21, timeout=600, helper="ftp")  # through the setters
    with ct.batch() as b:
        assert b.add_creates(made + [changed, helper]) == range(6)
        results = b.send()
    assert results[:5] == [None] * 5
    # The helper needs its module: created, or refused by the kernel, in its own place.
    assert results[5] is None or isinstance(results[5], conntrack.ConntrackError)
    lines = netns.lines()
    text = "\n".join(lines)
    assert re.search(r"^udp .*src=10\.1\.0\.1 dst=10\.1\.0\.2 sport=1 dport=53 .*zone=4", text, re.M)
    assert re.search(r"^udp .*sport=1 dport=54 ", text, re.M)
    assert re.search(r"^tcp .*ESTABLISHED src=fd00::1 dst=fd00::2 sport=1000 dport=80 .*mark=9", text, re.M)
    assert re.search(r"^icmp .*type=8 code=0 id=77 .*zone=4", text, re.M)
    assert re.search(r"^tcp .*src=10\.1\.0\.9 dst=10\.1\.0\.8 sport=5 dport=6 ", text, re.M)
    # Deletes from new entries holding only the tuple and zone, made in Python.
    keys = [Entry(proto=17, orig_src=ipaddress.ip_address("10.1.0.1"),
                  orig_dst=ipaddress.ip_address("10.1.0.2"), orig_sport=1, orig_dport=d, zone=z)
            for d, z in ((53, 4), (54, 4), (55, 4))]
    with ct.batch() as b:
        b.add_deletes(keys)
        results = b.send()
    assert results[:2] == [None, None]
    assert isinstance(results[2], conntrack.NotFoundError)
    assert not any(line.startswith("udp ") for line in netns.lines())
    assert len(netns.lines()) == len(lines) - 2


def test_stream_reads_more_than_a_block(ct, netns):
    netns.run("sh", "-c", "for i in $(seq 1 2500); do echo \"-I -p udp -s 10.0.0.1 "
              "-d 10.0.0.2 --sport $i --dport 1 -t 1000\"; done | conntrack -R -")
    assert sorted(e.orig_sport for e in ct.stream()) == list(range(1, 2501))
    it = ct.dump()
    assert it.__length_hint__() == 2500
    assert sorted(e.orig_sport for e in it) == list(range(1, 2501))


def test_wrong_view_layout_is_refused():
    _lib.check_view_layout()  # this library's: accepted
    for size in (_lib.VIEW_SIZE - 8, _lib.VIEW_SIZE + 8):
        with pytest.raises(ImportError, match="another ct_view layout"):
            _lib.check_view_layout(size)
    # At import: a binding reading another layout refuses to load.
    code = ("import conntrack._lib as l, struct\n"
            "l._VIEW = struct.Struct('<' + 'I' * 50)\n"
            "l.check_view_layout(l._VIEW.size)\n")
    p = subprocess.run([PYTHON, "-c", code], env=child_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    assert p.returncode != 0 and "another ct_view layout" in p.stderr
