"""The binding against the real kernel, each test in a network namespace of its own, with
the conntrack tool as the independent oracle: entries the binding creates read back by
the tool, the tool's entries read (and formatted) by the binding, get/update/delete/
flush, filters, the dump iterator and callback, batches, and the error paths."""

import errno
import math
import shutil
import threading
import time

import pytest
from conftest import PYTHON, child_env

import conntrack
from conntrack import Entry, Filter


def tool_fields(line):
    """The key=value fields of a `conntrack -L` line (first occurrence of each key), and
    the leading words."""
    words = line.split()
    fields = {}
    for w in words:
        if "=" in w:
            k, v = w.split("=", 1)
            fields.setdefault(k, v)
    return words, fields


def line_with(lines, *needles):
    found = [line for line in lines if all(n in line for n in needles)]
    assert len(found) == 1, (needles, lines)
    return found[0]


def fill_table(ns, n, zone=None):
    """`n` UDP entries made by the tool (source ports 1..n)."""
    zone_arg = " -w %d" % zone if zone is not None else ""
    ns.run("sh", "-c", "for i in $(seq 1 %d); do conntrack -I -p udp -s 10.0.0.1 -d 10.0.0.2 "
           "--sport $i --dport 1 -t 1000%s 2>/dev/null || exit 1; done" % (n, zone_arg))


# -- the library creates, the tool reads -----------------------------------------------

def test_binding_creates_tool_reads(ct, netns):
    entries = [
        Entry(proto="tcp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_sport=1, orig_dport=2,
              tcp_state=conntrack.TCP_STATE_ESTABLISHED, timeout=1234, zone=10, mark=0x10,
              status=conntrack.STATUS_ASSURED | conntrack.STATUS_SEEN_REPLY),
        Entry(proto="udp", orig_src="fd00::1", orig_dst="fd00::2", orig_sport=4, orig_dport=5,
              timeout=600, zone=65535),
        Entry(proto="icmp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_icmp_type=8,
              orig_icmp_code=0, orig_icmp_id=3333, timeout=30),
        Entry(proto="icmpv6", orig_src="::1", orig_dst="::2", orig_icmp_type=128,
              orig_icmp_code=0, orig_icmp_id=7, timeout=30),
        Entry(proto="sctp", orig_src="3.3.3.3", orig_dst="4.4.4.4", orig_sport=7,
              orig_dport=8, sctp_state=4, timeout=1234),
        Entry(proto="gre", orig_src="5.5.5.5", orig_dst="6.6.6.6", orig_sport=11,
              orig_dport=12, timeout=100),
        Entry(proto="udp", orig_src="7.7.7.7", orig_dst="8.8.8.8", orig_sport=1,
              orig_dport=2, reply_src="9.9.9.9", reply_dst="7.7.7.7", reply_sport=20,
              reply_dport=1, timeout=100),
    ]
    for e in entries:
        ct.create(e)
    lines = netns.lines()
    assert len(lines) == len(entries)

    words, f = tool_fields(line_with(lines, "src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2"))
    assert words[0] == "tcp" and words[3] == "ESTABLISHED"
    assert 1200 < int(words[2]) <= 1234
    assert f["mark"] == "16" and f["zone"] == "10" and "[ASSURED]" in words

    words, f = tool_fields(line_with(lines, "src=fd00::1 dst=fd00::2 sport=4 dport=5"))
    assert words[0] == "udp" and f["zone"] == "65535" and 560 < int(words[2]) <= 600
    assert "src=fd00::2 dst=fd00::1 sport=5 dport=4" in " ".join(words)  # default reply

    words, f = tool_fields(line_with(lines, "src=1.1.1.1 dst=2.2.2.2 type=8"))
    assert words[0] == "icmp" and f["code"] == "0" and f["id"] == "3333"
    assert "zone" not in f

    words, f = tool_fields(line_with(lines, "src=::1 dst=::2 type=128"))
    assert words[0] == "icmpv6" and f["id"] == "7"

    words, f = tool_fields(line_with(lines, "src=3.3.3.3"))
    assert words[0] == "sctp" and words[3] == "ESTABLISHED" and f["sport"] == "7"

    words, f = tool_fields(line_with(lines, "src=5.5.5.5"))
    assert words[0] == "gre" and f["srckey"] == "0xb" and f["dstkey"] == "0xc"

    line = line_with(lines, "src=7.7.7.7")
    assert "src=9.9.9.9 dst=7.7.7.7 sport=20 dport=1" in line  # explicit reply tuple


def test_tool_creates_binding_reads_every_field(ct, netns):
    created = time.monotonic()
    netns.conntrack("-I", "-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                    "--dport", 2, "--state", "ESTABLISHED", "-t", 1234, "-w", 10, "-m", 0x20)
    # (conntrack-tools 1.4.7 stores the status bits as the mark when -m and -u are both
    # given: the status is checked on an entry of its own.)
    netns.conntrack("-I", "-p", "udp", "-s", "3.3.3.3", "-d", "4.4.4.4", "--sport", 1,
                    "--dport", 2, "-t", 1234, "-w", 11, "-u", "SEEN_REPLY,ASSURED")
    (assured,) = ct.list(Filter(zone=11))
    assert assured.status & conntrack.STATUS_ASSURED
    assert assured.status & conntrack.STATUS_SEEN_REPLY
    assert assured.mark == int(tool_fields(netns.lines("-w", 11)[0])[1]["mark"])
    (e,) = ct.list(Filter(zone=10))
    assert e.family == conntrack.FAMILY_IPV4 and e.proto == conntrack.PROTO_TCP
    assert (str(e.orig_src), str(e.orig_dst), str(e.reply_src), str(e.reply_dst)) == (
        "1.1.1.1", "2.2.2.2", "2.2.2.2", "1.1.1.1")
    assert (e.orig_sport, e.orig_dport, e.reply_sport, e.reply_dport) == (1, 2, 2, 1)
    assert e.zone == 10 and e.mark == 0x20 and e.tcp_state == conntrack.TCP_STATE_ESTABLISHED
    assert e.status & conntrack.STATUS_CONFIRMED and not e.status & conntrack.STATUS_ASSURED
    # The slack is the time measured since the create, not a fixed one (slow machines).
    assert 1234 - math.ceil(time.monotonic() - created) <= e.timeout <= 1234
    assert e.id is not None and e.use is not None
    assert e.orig_icmp_type is None and e.sctp_state is None and e.helper is None
    (line,) = netns.lines("-w", 10, "-o", "id")
    assert tool_fields(line)[1]["id"] == str(e.id)
    if "packets=" in line:  # nf_conntrack_acct=1 in the namespace
        assert (e.orig_packets, e.orig_bytes, e.reply_packets, e.reply_bytes) == (0, 0, 0, 0)
    else:
        assert e.orig_packets is None
    if "delta-time=" in line:  # nf_conntrack_timestamp=1
        assert e.timestamp_start and e.timestamp_stop is None


def test_format_is_the_tools_text(ct, netns):
    """The binding's text of the tool's table is the tool's text, for every layout. The
    timeout may tick between two reads, each entry at its own phase of the second, so the
    tool is read before and after, and each of our lines must be that entry's line in one of
    the two reads."""
    for args in (
        ["-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1, "--dport", 2,
         "--state", "ESTABLISHED", "-t", 1234, "-w", 10],
        ["-p", "udp", "-s", "::1", "-d", "::2", "--sport", 4, "--dport", 5, "-t", 1234,
         "-m", 7],
        ["-p", "icmp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--icmp-type", 8, "--icmp-code", 0,
         "--icmp-id", 3333, "-t", 1234, "-w", 65535],
        ["-p", "icmpv6", "-s", "::1", "-d", "::2", "--icmpv6-type", 128, "--icmpv6-code", 0,
         "--icmpv6-id", 1, "-t", 1234],
        ["-p", "gre", "-s", "1.1.1.1", "-d", "2.2.2.2", "--srckey", 11, "--dstkey", 12,
         "-t", 1234],
        ["-p", "50", "-s", "1.1.1.1", "-d", "2.2.2.2", "-t", 1234],
    ):
        netns.conntrack("-I", *args)
    for tool_opts, kw in (([], {}), (["-o", "extended"], {"extended": True}),
                          (["-o", "extended,id"], {"extended": True, "id": True})):
        for attempt in range(10):
            before = netns.lines(*tool_opts)
            ours = sorted(e.format(**kw) for e in ct.dump())
            after = netns.lines(*tool_opts)
            either = set(before) | set(after)
            if len(ours) == len(before) and all(line in either for line in ours):
                break
        else:
            assert ours == after


def test_get_update_delete(ct, netns):
    # Labels need the kernel's label extension, which it attaches to new entries only
    # while a rule in the namespace uses labels (without it an update gets ENOSPC).
    netns.run("nft", "add table inet t; add chain inet t c; add rule inet t c ct label set 127")
    netns.conntrack("-I", "-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                    "--dport", 2, "--state", "ESTABLISHED", "-t", 1234, "-w", 10)
    key = Entry(proto="tcp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_sport=1,
                orig_dport=2, zone=10)
    got = ct.get(key)
    assert got.tcp_state == conntrack.TCP_STATE_ESTABLISHED and got.zone == 10
    assert got.format().startswith("tcp      6 ")
    with pytest.raises(conntrack.NotFoundError):
        ct.get(Entry(proto="tcp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_sport=1,
                     orig_dport=2, zone=11))  # other zone

    ct.update(Entry(proto="tcp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_sport=1,
                    orig_dport=2, zone=10, mark=0x55, timeout=99, labels={1, 100}))
    (line,) = netns.lines("-w", 10)
    words, f = tool_fields(line)
    assert f["mark"] == "85" and int(words[2]) <= 99
    again = ct.get(key)
    assert again.mark == 0x55 and again.labels == frozenset({1, 100})
    assert again.id == got.id

    # A delete with a stale id removes nothing.
    stale = Entry(**{k: getattr(got, k) for k in ("proto", "orig_src", "orig_dst",
                                                  "orig_sport", "orig_dport", "zone")},
                  id=(got.id + 1) & 0xFFFFFFFF)
    with pytest.raises(conntrack.NotFoundError):
        ct.delete(stale)
    assert len(netns.lines("-w", 10)) == 1
    ct.delete(again)  # read from the kernel: tuple, zone and its id
    assert netns.lines("-w", 10) == []
    with pytest.raises(conntrack.NotFoundError):
        ct.update(key)


def test_delete_by_id_matching_flush(ct, netns):
    netns.conntrack("-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                    "--dport", 2, "-t", 100, "-w", 5)
    netns.conntrack("-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                    "--dport", 2, "-t", 100, "-w", 6)
    netns.conntrack("-I", "-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                    "--dport", 2, "--state", "SYN_SENT", "-t", 100, "-w", 6)
    netns.conntrack("-I", "-p", "udp", "-s", "::1", "-d", "::2", "--sport", 1, "--dport", 2,
                    "-t", 100)
    netns.conntrack("-I", "-p", "udp", "-s", "3.3.3.3", "-d", "4.4.4.4", "--sport", 1,
                    "--dport", 2, "-t", 100, "-w", 7)

    (victim,) = ct.list(Filter(zone=7))
    ct.delete_by_id(victim.id)
    assert netns.lines("-w", 7) == []
    with pytest.raises(conntrack.NotFoundError):
        ct.delete_by_id(victim.id)

    # The count, or None where the kernel flushed them itself without saying how many.
    assert ct.flush_matching(Filter(zone=6)) in (2, None)
    lines = netns.lines()
    assert len(lines) == 2 and len(netns.lines("-w", 5)) == 1

    assert ct.delete_matching(Filter(family=6)) == 1
    assert netns.lines("-f", "ipv6") == [] and len(netns.lines()) == 1
    assert ct.delete_matching(Filter(zone=4242)) == 0
    with pytest.raises(TypeError):
        ct.delete_matching(None)

    ct.flush()
    assert netns.lines() == []


# -- filters ----------------------------------------------------------------------------

FILTER_CASES = [
    (Filter(family=4), 3),
    (Filter(family="ipv6"), 1),
    (Filter(proto="tcp"), 1),
    (Filter(mark=0x10, mark_mask=0xF0), 2),
    (Filter(mark=0x11), 1),
    (Filter(orig_src="10.1.0.0/16"), 2),
    (Filter(orig_dst="10.2.0.1"), 3),
    (Filter(reply_src="10.2.0.1"), 3),
    (Filter(reply_dst="10.9.0.0/16"), 1),
    (Filter(orig_dport=53), 3),
    (Filter(orig_dport=53, family=4), 2),
    (Filter(reply_sport=80), 1),
    (Filter(zone=3), 1),
    (Filter(zone=0), 3),
    (Filter(status=conntrack.STATUS_ASSURED, status_mask=conntrack.STATUS_ASSURED), 1),
    (Filter(orig_src="fd00::/64", orig_sport=4), 1),
    (Filter(proto="udp", orig_src="10.9.0.1"), 0),
]


@pytest.mark.parametrize("kernel_filtering", [True, False], ids=["kernel", "library"])
def test_filters(ct, netns, kernel_filtering):
    netns.conntrack("-I", "-p", "udp", "-s", "10.1.0.1", "-d", "10.2.0.1", "--sport", 1,
                    "--dport", 53, "-t", 100, "-m", 0x10)
    netns.conntrack("-I", "-p", "udp", "-s", "10.1.0.2", "-d", "10.2.0.1", "--sport", 2,
                    "--dport", 53, "-t", 100, "-m", 0x11)
    netns.conntrack("-I", "-p", "tcp", "-s", "10.9.0.1", "-d", "10.2.0.1", "--sport", 3,
                    "--dport", 80, "--state", "ESTABLISHED", "-t", 100, "-u", "ASSURED")
    netns.conntrack("-I", "-p", "udp", "-s", "fd00::1", "-d", "fd00::2", "--sport", 4,
                    "--dport", 53, "-t", 100, "-w", 3)
    for f, want in FILTER_CASES:
        f.kernel_filtering = kernel_filtering
        got = ct.list(f)
        assert len(got) == want, f
        assert sum(1 for _ in ct.dump(f)) == want
        assert ct.dump_each(lambda e: None, f) == want


# -- dumps -------------------------------------------------------------------------------

def test_dump_iterator(ct, netns):
    fill_table(netns, 200)
    assert len(netns.lines()) == 200
    assert sorted(e.orig_sport for e in ct.dump()) == list(range(1, 201))

    # Stopping early: the handle is usable at once, and the C list can be freed early.
    it = ct.dump()
    first = next(it)
    assert first.proto == conntrack.PROTO_UDP
    assert len(ct.list()) == 200
    it.close()
    assert list(it) == []
    for e in ct.dump():
        break
    with ct.dump(Filter(orig_sport=7)) as it:
        assert [e.orig_sport for e in it] == [7]

    # The handle is free while iterating: delete every other entry as they come.
    for e in ct.dump():
        if e.orig_sport % 2:
            ct.delete(e)
    left = netns.lines()
    assert len(left) == 100
    assert all(int(tool_fields(line)[1]["sport"]) % 2 == 0 for line in left)


def test_dump_each_streams_and_stops(ct, netns):
    fill_table(netns, 50)
    seen = []
    assert ct.dump_each(seen.append) == 50 and len(seen) == 50
    # The entries kept from the callback are copies: still whole after the dump.
    assert all("src=10.0.0.1 dst=10.0.0.2" in e.format() and " use=" in e.format()
               for e in seen)
    assert all(isinstance(e, Entry) and e.proto == 17 for e in seen)

    # False stops the dump (as C's non-zero, Rust's Break, Go's false); the handle works
    # right after. True, like None, goes on.
    stopped = []
    assert ct.dump_each(lambda e: stopped.append(e) or False) == 1 and len(stopped) == 1
    assert len(ct.list()) == 50
    assert ct.dump_each(lambda e: True) == 50

    # An exception stops it and comes out of dump_each; the handle still works.
    class Boom(Exception):
        pass

    calls = []

    def explode(e):
        calls.append(e)
        if len(calls) == 3:
            raise Boom("stop here")

    with pytest.raises(Boom):
        ct.dump_each(explode)
    assert len(calls) == 3
    assert ct.dump_each(lambda e: None) == 50

    # Calling the same handle from the callback is refused (the handle is busy).
    with pytest.raises(conntrack.BusyError):
        ct.dump_each(lambda e: ct.list())
    assert len(ct.list()) == 50

    # Another handle may change the table from the callback.
    with conntrack.Conntrack(netns=netns.name) as other:
        assert ct.dump_each(other.delete, Filter(orig_sport=9)) == 1
    assert len(netns.lines()) == 49


def test_stream_reads_as_it_goes(ct, netns):
    # More entries than one datagram holds, so the stream reads the kernel several times.
    netns.run("sh", "-c", "for i in $(seq 1 600); do echo \"-I -p udp -s 10.0.0.1 -d 10.0.0.2 "
              "--sport $i --dport 1 -t 1000\"; done | conntrack -R -")
    assert sorted(e.orig_sport for e in ct.stream()) == list(range(1, 601))
    assert [e.orig_sport for e in ct.stream(Filter(orig_sport=7))] == [7]

    # While a stream is open the handle is busy; closing it (early) frees the handle.
    it = ct.stream()
    assert next(it).proto == conntrack.PROTO_UDP
    with pytest.raises(conntrack.BusyError):
        ct.count()
    it.close()
    assert list(it) == []
    assert ct.count()[0] == 600
    with ct.stream() as it:
        assert next(it) is not None
    assert len(ct.list()) == 600

    # Threads sharing one stream: every entry comes out once, nothing breaks.
    it = ct.stream()
    got = [[], [], []]

    def drain(out):
        for e in it:
            out.append(e.orig_sport)

    threads = [threading.Thread(target=drain, args=(out,)) for out in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got[0] + got[1] + got[2]) == list(range(1, 601))
    assert ct.count()[0] == 600

    # Another handle may change the table while the stream runs.
    with conntrack.Conntrack(netns=netns.name) as other:
        for e in ct.stream():
            if e.orig_sport % 3 == 0:
                other.delete(e)
    assert len(netns.lines()) == 400


# -- batches -----------------------------------------------------------------------------

def udp(sport, **kw):
    return Entry(proto="udp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_sport=sport,
                 orig_dport=53, **kw)


def test_batch_outcomes_in_order(ct, netns):
    netns.conntrack("-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                    "--dport", 53, "-t", 100)
    with ct.batch() as b:
        assert b.add_create(udp(2, timeout=100)) == 0  # new: ok
        assert b.add_create(udp(1, timeout=100)) == 1  # taken: exists
        assert b.add_delete(udp(3)) == 2  # absent: not found
        assert b.add_create(udp(4)) == 3  # no timeout: refused, never sent
        assert b.add_update(udp(2, mark=5)) == 4  # the entry request 0 made
        assert b.add_delete(udp(1)) == 5  # the tool's entry
        assert b.add_create(udp(6, timeout=100, zone=9)) == 6
        assert len(b) == 7
        results = b.send()
    assert len(results) == 7
    assert results[0] is None and results[4] is None and results[5] is None
    assert results[6] is None
    assert type(results[1]) is conntrack.EntryExistsError and results[1].errno == errno.EEXIST
    assert type(results[2]) is conntrack.NotFoundError and results[2].errno == errno.ENOENT
    assert type(results[3]) is conntrack.InvalidArgumentError
    for r in (results[1], results[2], results[3]):
        assert r.message and r.status == type(r).status

    lines = netns.lines()
    assert len(lines) == 2
    _, f = tool_fields(line_with(lines, "sport=2 "))
    assert f["mark"] == "5"
    _, f = tool_fields(line_with(lines, "sport=6 "))
    assert f["zone"] == "9"

    # A batch object of its own, reused: adding after a send starts a new batch.
    b = conntrack.Batch()
    try:
        assert b.add_delete(udp(2)) == 0
        assert b.send(ct) == [None]
        assert b.add_delete(udp(6, zone=9)) == 0 and b.add_delete(udp(6)) == 1
        assert len(b) == 2
        results = b.send(ct)
        assert results[0] is None and isinstance(results[1], conntrack.NotFoundError)
        again = b.results()  # read again
        assert again[0] is None and type(again[1]) is conntrack.NotFoundError
        assert again[1].message == results[1].message
        b.add_delete(udp(7))
        with pytest.raises(ValueError):
            b.results()  # changed since the send
        b.clear()
        assert len(b) == 0 and b.send(ct) == []
    finally:
        b.close()
    b.close()
    assert netns.lines() == []
    with pytest.raises(TypeError):
        conntrack.Batch().send()


def test_batch_many(ct, netns):
    with ct.batch() as b:
        for port in range(1, 1001):
            b.add_create(udp(port, timeout=100))
        assert b.send() == [None] * 1000
    assert len(netns.lines()) == 1000
    with ct.batch() as b:
        for e in ct.dump():
            b.add_delete(e)
        b.add_delete(udp(5000))
        results = b.send()
    assert results[:-1] == [None] * 1000 and isinstance(results[-1], conntrack.NotFoundError)
    assert netns.lines() == []


# -- errors ------------------------------------------------------------------------------

def test_errors(ct, netns):
    missing = udp(1)
    with pytest.raises(conntrack.NotFoundError) as info:
        ct.delete(missing)
    err = info.value
    assert err.status == 3 and err.errno == errno.ENOENT and err.message
    assert isinstance(err, LookupError) and isinstance(err, conntrack.ConntrackError)
    assert err.message in str(err)

    ct.create(udp(1, timeout=100))
    with pytest.raises(conntrack.EntryExistsError) as info:
        ct.create(udp(1, timeout=100))
    assert info.value.status == 4 and info.value.errno == errno.EEXIST and info.value.message

    with pytest.raises(conntrack.InvalidArgumentError) as info:
        ct.create(udp(2, timeout=100, zone=65536))
    assert "65535" in info.value.message
    with pytest.raises(conntrack.InvalidArgumentError):
        ct.list(Filter(zone=65536))
    with pytest.raises(conntrack.InvalidArgumentError):
        ct.create(udp(3))  # no timeout
    assert len(netns.lines()) == 1

    with pytest.raises(TypeError):
        ct.create({"proto": "udp"})


def test_bad_netns():
    with pytest.raises(conntrack.NetnsError) as info:
        conntrack.Conntrack(netns="no-such-netns-here")
    assert info.value.status == conntrack.NetnsError.status == 9
    assert "no-such-netns-here" in info.value.message
    with pytest.raises(conntrack.NetnsError):
        conntrack.Conntrack(netns="/etc/hostname")
    with pytest.raises(conntrack.InvalidArgumentError):
        conntrack.Conntrack(netns="bad\0name")


def test_open_by_path_and_close(netns):
    netns.conntrack("-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                    "--dport", 2, "-t", 100)
    h = conntrack.Conntrack(netns="/run/netns/" + netns.name)
    assert len(h.list()) == 1 and "open" in repr(h)
    h.close()
    h.close()
    assert h.closed
    with pytest.raises(ValueError):
        h.list()
    with conntrack.Conntrack(netns=netns.name.encode()) as h2:
        assert len(h2.list()) == 1
    assert h2.closed


def test_current_namespace_handle(netns):
    """Conntrack() opens in the caller's namespace: run inside the test's one."""
    netns.conntrack("-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                    "--dport", 2, "-t", 100, "-w", 3)
    code = ("import conntrack\n"
            "with conntrack.Conntrack() as ct:\n"
            "    print([e.format() for e in ct.list(conntrack.Filter(zone=3))])\n")
    out = netns.python(code).stdout
    assert "src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2" in out and "zone=3" in out


def test_unprivileged_is_permission_error(netns):
    if shutil.which("capsh") is None:
        pytest.skip("capsh (libcap2-bin) is not installed")
    code = ("import conntrack\n"
            "try:\n"
            "    conntrack.Conntrack().list()\n"
            "except conntrack.ConntrackPermissionError as e:\n"
            "    print(e.status, e.errno, 'CAP_NET_ADMIN' in e.message)\n")
    p = netns.run("capsh", "--drop=cap_net_admin", "--", "-c", '"$0" -c "$1"', PYTHON, code,
                  env=child_env())
    assert p.stdout.split() == ["5", str(errno.EPERM), "True"], p.stdout + p.stderr
