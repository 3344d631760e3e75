"""A zone of one direction (orig_zone, reply_zone: conntrack's --orig-zone/--reply-zone)
against the kernel, with the conntrack tool as the oracle, and its packing into records."""

import copy
import pickle
import re

import pytest

import conntrack
from conntrack import Entry, Filter, InvalidArgumentError, _lib
from conntrack.columns import pack as pack_columns
from conntrack.entry import PUBLIC_FIELDS, Reader, _pack_checked, _pack_fast, c_entry, record_of

TUPLE = ["-p", "udp", "-s", "10.1.0.1", "-d", "10.2.0.1", "--sport", 1, "--dport", 53,
         "-t", 100]


def fields(e):
    return {name: getattr(e, name) for name in PUBLIC_FIELDS}


def line_with(netns, text):
    """The one line of `conntrack -L` holding `text`."""
    found = [line for line in netns.lines() if text in line]
    assert len(found) == 1, (text, netns.lines())
    return found[0]


def both(netns, ct):
    """The tuple in the original-only and in the reply-only zone 5 (two entries, made by
    the tool), read back: (orig-zone entry, reply-zone entry)."""
    netns.conntrack("-I", *TUPLE, "--orig-zone", 5)
    netns.conntrack("-I", *TUPLE, "--reply-zone", 5)
    read = ct.list()
    assert len(read) == 2
    (o,) = [e for e in read if e.orig_zone is not None]
    (r,) = [e for e in read if e.reply_zone is not None]
    return o, r


def test_entries_are_read_with_their_zone_of_one_direction(ct, netns):
    o, r = both(netns, ct)
    assert (o.zone, o.orig_zone, o.reply_zone) == (None, 5, None)
    assert (r.zone, r.orig_zone, r.reply_zone) == (None, None, 5)
    assert "zone-orig=5" in o.format() and "zone-reply=5" in r.format()
    # The zone filter finds both in zone 5 (the kernel's own filter does the same).
    assert len(ct.list(Filter(zone=5))) == 2
    # Part of the fields: equality, repr, copies.
    assert o != r and "orig_zone=5, reply_zone=None" in repr(o)
    assert o == Entry(**fields(o)) and Entry(**fields(o)) != Entry(**fields(r))
    for other in (copy.copy(o), pickle.loads(pickle.dumps(o))):
        assert other == o and other.orig_zone == 5


@pytest.mark.parametrize("which", ["orig", "reply"])
def test_a_changed_entry_is_updated_and_deleted_in_its_zone(ct, netns, which):
    o, r = both(netns, ct)
    e, other = (o, r) if which == "orig" else (r, o)
    e.mark = 7  # a changed entry is sent from its fields: the zone must be one of them
    ct.update(e)
    assert "mark=7" in line_with(netns, "zone-%s=5" % which)
    assert "mark=0" in line_with(netns, "zone-%s=5" % ("reply" if which == "orig" else "orig"))
    assert ct.get(e).mark == 7
    if which == "orig":
        # Without it, the original tuple is looked up in zone 0: the other entry, whose
        # id is not this one's (the id makes the delete conditional).
        e.orig_zone = None
        with pytest.raises(conntrack.NotFoundError):
            ct.delete(e)
        e.orig_zone = 5
    ct.delete(e)
    lines = netns.lines()
    assert len(lines) == 1 and "zone-%s=5" % ("reply" if which == "orig" else "orig") in lines[0]
    assert [(x.id, x.orig_zone, x.reply_zone) for x in ct.list()] == [
        (other.id, other.orig_zone, other.reply_zone)]


@pytest.mark.parametrize("which", ["orig", "reply"])
def test_an_entry_made_in_python_is_what_the_tool_makes(ct, netns, which):
    def shown():
        # The line without its timeout, which counts down.
        return re.sub(r"^(\S+\s+\d+\s+)\d+", r"\1T", line_with(netns, "zone-%s=5" % which))

    ct.create(Entry(proto="udp", orig_src="10.1.0.1", orig_dst="10.2.0.1", orig_sport=1,
                    orig_dport=53, timeout=100, **{which + "_zone": 5}))
    ours = shown()
    # The tool deletes it in that zone (and only there).
    netns.conntrack("-D", *TUPLE[:-2], "--%s-zone" % which, 5)
    assert netns.lines() == []
    netns.conntrack("-I", *TUPLE, "--%s-zone" % which, 5)
    assert shown() == ours


def test_the_kernel_takes_one_zone_an_entry(ct, netns):
    base = dict(proto="udp", orig_src="10.1.0.1", orig_dst="10.2.0.1", orig_sport=1,
                orig_dport=53, timeout=100)
    # A zone for each direction (sent through the setters: no record holds it), or one
    # with a zone of both: refused by the kernel, as the tool's are.
    for extra in (dict(orig_zone=5, reply_zone=6), dict(zone=3, orig_zone=5)):
        with pytest.raises(InvalidArgumentError):
            ct.create(Entry(**base, **extra))
    with ct.batch() as b:
        # In a batch the first goes through the setters, the second as a record.
        b.add_creates([Entry(**base, orig_zone=5, reply_zone=6), Entry(**base, orig_zone=5)])
        refused, made = b.send()
    assert isinstance(refused, InvalidArgumentError) and made is None
    assert "zone-orig=5" in line_with(netns, "sport=1 ")
    # A zone of both that is 0 goes with it.
    ct.create(Entry(**dict(base, orig_sport=2), zone=0, reply_zone=5))
    assert "zone-reply=5" in line_with(netns, "sport=2 ")


def test_records_carry_the_zone_of_one_direction():
    for kw, dir_, zone in ((dict(orig_zone=5), _lib.CT_DIR_ORIG, 5),
                           (dict(reply_zone=65535), _lib.CT_DIR_REPLY, 65535),
                           (dict(orig_zone=0), _lib.CT_DIR_ORIG, 0)):
        values = list(Entry(proto="udp", orig_src="10.0.0.1", **kw)._values())
        fast = _pack_fast(values)
        assert fast is not None and fast == _pack_checked(values)
        view = _lib._VIEW.unpack(fast)
        assert view[1] & _lib.CT_VIEW_DIR_ZONE and (view[13], view[26]) == (dir_, zone)
        # Through the library: what its getter reads, and back.
        with c_entry(Entry(proto="udp", orig_src="10.0.0.1", **kw)) as ptr:
            back = Reader().read(ptr)
        assert (back.orig_zone, back.reply_zone) == (kw.get("orig_zone"), kw.get("reply_zone"))
    # Values the fast packing leaves to the checked one (text addresses) give the same.
    assert record_of(Entry(proto="udp", orig_src="10.0.0.1", orig_zone=5)) == record_of(
        Entry(proto="udp", orig_src=conntrack.entry._address("10.0.0.1"), orig_zone=5))
    # A changed field keeps the zone in the record; no zone: no bit.
    e = Entry(proto="udp", reply_zone=9)
    e.mark = 1
    assert _lib._VIEW.unpack(record_of(e))[26] == 9
    assert not _lib._VIEW.unpack(record_of(Entry(proto="udp")))[1] & _lib.CT_VIEW_DIR_ZONE


def test_bad_zones_of_one_direction_are_refused():
    for kw in (dict(orig_zone=65536), dict(reply_zone=-1), dict(orig_zone=2**32)):
        with pytest.raises(InvalidArgumentError):
            record_of(Entry(proto="udp", **kw))
    with pytest.raises(TypeError):
        record_of(Entry(proto="udp", orig_zone="5"))
    # Out of range through the setters (with a helper, no record): the library refuses it.
    with pytest.raises(InvalidArgumentError):
        with c_entry(Entry(proto="tcp", helper="ftp", orig_zone=65536)):
            pass
    # Both directions: no record (the setters take it, the kernel refuses it) ...
    both_zones = Entry(proto="udp", orig_zone=5, reply_zone=6)
    assert record_of(both_zones) is None
    with c_entry(both_zones) as ptr:
        back = Reader().read(ptr)
    assert (back.orig_zone, back.reply_zone) == (5, 6)
    # ... and no columns template.
    with pytest.raises(InvalidArgumentError):
        pack_columns(both_zones, {"orig_sport": [1]})
    buf, n = pack_columns(Entry(proto="udp", orig_zone=5), {"orig_sport": [1, 2]})
    assert n == 2 and all(
        _lib._VIEW.unpack_from(buf, i * _lib.VIEW_SIZE)[26] == 5 for i in range(2))


def test_the_mirror_finds_each_in_its_zone(netns):
    netns.conntrack("-I", *TUPLE, "--orig-zone", 5)
    netns.conntrack("-I", *TUPLE, "--reply-zone", 5)
    key = dict(proto="udp", orig_src="10.1.0.1", orig_dst="10.2.0.1", orig_sport=1,
               orig_dport=53)
    with conntrack.Mirror(netns=netns.name) as m:
        assert len(m.step(0)) == 2
        o = m.get(Entry(**key, orig_zone=5))
        r = m.get(Entry(**key, reply_zone=5))
        assert (o.orig_zone, o.reply_zone, r.orig_zone, r.reply_zone) == (5, None, None, 5)
        assert m.get(Entry(**key)) is None and m.get(Entry(**key, zone=5)) is None
