"""Batches given as columns (Batch.add_create_columns and the others): the records they
pack against those of the same Entry objects, the tables they make against the tables the
same Entry objects make (twin namespaces, read with the conntrack tool), deletes and
updates by columns, and the columns refused before anything is queued."""

import array
import ipaddress
import re

import pytest
from conftest import _make_netns, run

import conntrack
from conntrack import Entry
from conntrack.columns import pack
from conntrack.entry import record_of

N = 700  # more than one kernel message buffer of requests, well under a second


@pytest.fixture
def twin():
    """A second namespace, the twin of `netns`."""
    ns = _make_netns()
    try:
        yield ns
    finally:
        run(["ip", "netns", "del", ns.name], check=False)


def table(ns):
    """`conntrack -L` of `ns` without the remaining timeouts and ages (the two tables are
    made a moment apart)."""
    return sorted(re.sub(r" delta-time=\d+", "", re.sub(r"^(\S+ +\d+) +\d+ ", r"\1 ", line))
                  for line in ns.lines())


def v4(i):
    return (10 << 24) | (i + 1)


def v6(i):
    return int(ipaddress.IPv6Address("fd00::")) + i + 1


SHAPES = {
    # The benchmark's shape: addresses and ports vary, the rest is the template's.
    "ipv4": (
        dict(proto=17, orig_dst="10.200.0.1", orig_dport=53, zone=7, timeout=3600),
        lambda i: dict(orig_src=v4(i), orig_sport=1024 + i % 1000, mark=i),
    ),
    "ipv6": (
        dict(proto=6, orig_dst="fd00::ffff", tcp_state=3, timeout=3600),
        lambda i: dict(orig_src=v6(i), orig_sport=2000 + i, orig_dport=80 + i % 3, zone=i % 5),
    ),
    "icmp": (
        dict(proto=1, orig_src="10.9.0.1", orig_icmp_type=8, timeout=3600),
        lambda i: dict(orig_dst=v4(i), orig_icmp_id=i),
    ),
    "reply": (
        # A NAT: the reply tuple given by columns too.
        dict(proto=17, orig_dst="10.200.0.1", orig_dport=53, reply_src="10.5.0.1",
             reply_sport=53, timeout=3600),
        lambda i: dict(orig_src=v4(i), orig_sport=3000 + i, reply_dst=v4(i),
                       reply_dport=3000 + i),
    ),
}


def columns_of(vary, n):
    rows = [vary(i) for i in range(n)]
    return {name: [r[name] for r in rows] for name in rows[0]}


def entry_of(template, varied):
    kw = dict(template)
    for name, value in varied.items():
        if name.endswith(("_src", "_dst")) and isinstance(value, int):
            value = ipaddress.ip_address(value)
        kw[name] = value
    return Entry(**kw)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_records_equal_the_entries_records(shape):
    template, vary = SHAPES[shape]
    cols = columns_of(vary, 50)
    buf, n = pack(Entry(**template), cols)
    assert n == 50
    expected = b"".join(record_of(entry_of(template, vary(i))) for i in range(50))
    assert bytes(buf) == expected


@pytest.mark.parametrize("form", ["int", "bytes", "text", "ipaddress", "array"])
@pytest.mark.parametrize("version", [4, 6])
def test_every_address_form_packs_the_same(form, version):
    addrs = [ipaddress.ip_address(v4(i) if version == 4 else v6(i)) for i in range(20)]
    col = {
        "int": [int(a) for a in addrs],
        "bytes": [a.packed for a in addrs],
        "text": [str(a) for a in addrs],
        "ipaddress": addrs,
        "array": [int(a) for a in addrs],
    }[form]
    ports = array.array("H", range(20)) if form == "array" else list(range(20))
    buf, _ = pack(Entry(proto=17, orig_dport=5), dict(orig_src=col, orig_sport=ports))
    expected = b"".join(record_of(Entry(proto=17, orig_src=a, orig_sport=i, orig_dport=5))
                        for i, a in enumerate(addrs))
    assert bytes(buf) == expected


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_create_columns_make_the_table_entries_make(shape, netns, twin):
    template, vary = SHAPES[shape]
    with conntrack.Conntrack(netns.name) as a, conntrack.Conntrack(twin.name) as b:
        with a.batch() as batch:
            assert batch.add_creates([entry_of(template, vary(i)) for i in range(N)]) == range(N)
            assert batch.send() == [None] * N
        with b.batch() as batch:
            assert batch.add_create_columns(Entry(**template), **columns_of(vary, N)) == range(N)
            assert batch.send() == [None] * N
    made = table(twin)
    assert len(made) == N
    assert made == table(netns)


def test_delete_columns_remove_exactly_those(ct, netns, twin):
    template = Entry(proto=17, orig_dst="10.200.0.1", orig_dport=53, zone=3, timeout=3600)
    srcs = [v4(i) for i in range(N)]
    sports = [1024 + i for i in range(N)]
    with ct.batch() as b:
        b.add_create_columns(template, orig_src=srcs, orig_sport=sports)
        assert b.send() == [None] * N
    # The twin holds what should remain: the odd ones.
    with conntrack.Conntrack(twin.name) as other, other.batch() as b:
        b.add_creates([Entry(proto=17, orig_src=ipaddress.ip_address(s), orig_dst="10.200.0.1",
                             orig_sport=p, orig_dport=53, zone=3, timeout=3600)
                       for s, p in zip(srcs[1::2], sports[1::2])])
        assert b.send() == [None] * (N // 2)
    # The deletes need only the tuple and zone: a template without the timeout.
    key = Entry(proto=17, orig_dst="10.200.0.1", orig_dport=53, zone=3)
    with ct.batch() as b:
        assert b.add_delete_columns(key, orig_src=srcs[0::2], orig_sport=sports[0::2]) == \
            range(N // 2)
        assert b.send() == [None] * (N // 2)
        # Deleting them again: each is gone, each its own outcome.
        b.add_delete_columns(key, orig_src=srcs[0:4:2], orig_sport=sports[0:4:2])
        results = b.send()
    assert [type(r) for r in results] == [conntrack.NotFoundError] * 2
    assert table(netns) == table(twin)
    assert len(netns.lines()) == N // 2


def test_update_columns_change_the_mark(ct, netns):
    template = Entry(proto=6, orig_src="fd00::1", orig_dport=443, tcp_state=3, timeout=3600)
    dsts = [ipaddress.IPv6Address(v6(i)).packed for i in range(N)]
    sports = array.array("H", range(5000, 5000 + N))
    with ct.batch() as b:
        b.add_create_columns(template, orig_dst=dsts, orig_sport=sports, mark=[1] * N)
        assert b.send() == [None] * N
        key = Entry(proto=6, orig_src="fd00::1", orig_dport=443)
        b.add_update_columns(key, orig_dst=dsts, orig_sport=sports,
                             mark=[100 + i for i in range(N)])
        assert b.send() == [None] * N
    marks = {}
    for line in netns.lines():
        sport = int(re.search(r"sport=(\d+)", line).group(1))
        marks[sport] = int(re.search(r"mark=(\d+)", line).group(1))
    assert marks == {5000 + i: 100 + i for i in range(N)}


def test_a_refused_view_takes_its_index(ct, netns):
    # Ports on ICMP: the library refuses the views; each has its outcome, none is raised.
    with ct.batch() as b:
        b.add_create(Entry(proto=17, orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_sport=1,
                           orig_dport=2, timeout=100))
        assert b.add_create_columns(Entry(proto=1, orig_dst="2.2.2.2", timeout=100),
                                    orig_src=["1.1.1.2", "1.1.1.3"],
                                    orig_sport=[1, 2]) == range(1, 3)
        results = b.send()
    assert results[0] is None
    assert all(isinstance(r, conntrack.InvalidArgumentError) for r in results[1:])
    assert len(netns.lines()) == 1


BAD = [
    (dict(orig_src=[v4(0), v4(1)], orig_sport=[1]), conntrack.InvalidArgumentError,
     "orig_sport has 1 values"),
    (dict(orig_src=[v4(0)], orig_sport=[70000]), conntrack.InvalidArgumentError,
     r"orig_sport 70000 is out of range 0\.\.65535 \(entry 0\)"),
    (dict(orig_sport=[1, -1]), conntrack.InvalidArgumentError, r"orig_sport -1 .*entry 1"),
    (dict(orig_sport=[1, "2"]), TypeError, r"orig_sport must be an int, not str \(entry 1\)"),
    (dict(orig_sport=[True]), TypeError, "not bool"),
    (dict(zone=[1, 65536]), conntrack.InvalidArgumentError, "zone 65536 is out of range"),
    (dict(mark=[2 ** 32]), conntrack.InvalidArgumentError, "mark 4294967296 is out of range"),
    (dict(orig_src=["10.0.0.1", "10.0.0.x"]), conntrack.InvalidArgumentError,
     r"orig_src \(entry 1\)"),
    (dict(orig_src=["10.0.0.1", "fd00::1"]), conntrack.InvalidArgumentError,
     r"orig_src fd00::1 \(entry 1\) is not an IPv4 address"),
    (dict(orig_src=[b"\x0a\0\0\x01", b"\0" * 16]), conntrack.InvalidArgumentError,
     "is not an IPv4 address"),
    (dict(orig_src=[b"\x0a\0\0"]), conntrack.InvalidArgumentError, r"orig_src \(entry 0\)"),
    (dict(orig_src=[v4(0), 2 ** 40]), conntrack.InvalidArgumentError, "not an IPv4 address"),
    (dict(orig_icmp_id=[1]), conntrack.InvalidArgumentError, "ICMP code/id set without a type"),
    (dict(orig_port=[1]), TypeError, "unknown column 'orig_port'"),
    (dict(orig_sport=5), TypeError, "must be a sequence"),
]


@pytest.mark.parametrize("cols,error,message", BAD)
def test_bad_columns_raise_and_queue_nothing(cols, error, message):
    with conntrack.Batch() as b:
        with pytest.raises(error, match=message):
            b.add_create_columns(Entry(proto=17, orig_dst="10.200.0.1"), **cols)
        assert len(b) == 0


def test_a_column_of_the_templates_other_family_raises():
    with conntrack.Batch() as b:
        with pytest.raises(conntrack.InvalidArgumentError, match="not an IPv6 address"):
            b.add_delete_columns(Entry(proto=6, orig_dst="fd00::1"), orig_src=["10.0.0.1"])
        # An int is an address of the template's family: here an IPv6 one.
        buf, _ = pack(Entry(proto=6, orig_dst="fd00::1"), dict(orig_src=[v4(0)]))
        assert record_of(Entry(proto=6, orig_dst="fd00::1",
                               orig_src=ipaddress.IPv6Address(v4(0)))) == bytes(buf)
        with pytest.raises(TypeError):
            b.add_delete_columns("not an entry", orig_src=[v4(0)])
        assert b.add_create_columns(Entry(proto=6), orig_src=[]) == range(0)
        assert len(b) == 0


def test_readme_columns_example(netns):
    from test_readme import examples

    (code,) = [x for x in examples() if "add_create_columns" in x]
    netns.python(code + "\nassert results == [None] * 10000\n")
    lines = netns.lines("-w", 7)
    assert len(lines) == 10000
    assert any(re.search(r"src=10\.0\.39\.16 dst=10\.200\.0\.1 sport=1807 dport=53 ", x)
               for x in lines)
