"""conntrack.netlink_lib against Neutron's functional tests for its netlink_lib: three
entries made by the conntrack tool in a zone, listed as Neutron's sorted tuples, deleted
one at a time (the tool checks that exactly that one went) and several at once; IPv4,
IPv6, zone 65535 and zone 0.

Neutron's functions work in the caller's network namespace, so each scenario runs twice:
through the exact Neutron calls (``list_entries(zone=Z)``, ``delete_entries(entries=...)``)
in a Python subprocess started inside the test's namespace with ``ip netns exec``, and
in this process through the ``netns`` keyword.
"""

import ast
import inspect
import ipaddress
import json
import shutil

import pytest
from conftest import PYTHON, child_env

from conntrack import netlink_lib as nl_lib
from conntrack import ConntrackError, ConntrackPermissionError, InvalidArgumentError


def create_three(ns, v6, zone):
    """The entries of Neutron's functional test, made by the conntrack tool."""
    src, dst = ("::1", "::2") if v6 else ("1.1.1.1", "2.2.2.2")
    ns.conntrack("-I", "-p", "tcp", "-s", src, "-d", dst, "--sport", 1, "--dport", 2,
                 "--state", "ESTABLISHED", "--timeout", 1234, "-w", zone)
    ns.conntrack("-I", "-p", "udp", "-s", src, "-d", dst, "--sport", 4, "--dport", 5,
                 "--timeout", 1234, "-w", zone)
    if v6:
        ns.conntrack("-I", "-p", "icmpv6", "-s", src, "-d", dst, "--icmpv6-type", 128,
                     "--icmpv6-code", 0, "--icmpv6-id", 3333, "--timeout", 1234, "-w", zone)
    else:
        ns.conntrack("-I", "-p", "icmp", "-s", src, "-d", dst, "--icmp-type", 8,
                     "--icmp-code", 0, "--icmp-id", 3333, "--timeout", 1234, "-w", zone)


def expected_three(v6, zone):
    if v6:
        return [
            (6, "icmpv6", 128, 0, "::1", "::2", 3333, zone),
            (6, "tcp", 1, 2, "::1", "::2", zone),
            (6, "udp", 4, 5, "::1", "::2", zone),
        ]
    return [
        (4, "icmp", 8, 0, "1.1.1.1", "2.2.2.2", 3333, zone),
        (4, "tcp", 1, 2, "1.1.1.1", "2.2.2.2", zone),
        (4, "udp", 4, 5, "1.1.1.1", "2.2.2.2", zone),
    ]


class InProcess:
    """Calls netlink_lib here, with the netns keyword."""

    def __init__(self, ns):
        self.ns = ns

    def list_entries(self, zone):
        return nl_lib.list_entries(zone, netns=self.ns.name)

    def delete_entries(self, entries):
        nl_lib.delete_entries(entries, netns=self.ns.name)


_CHILD = r"""
import json, sys
from conntrack import netlink_lib as nl_lib
op, arg = sys.argv[1], json.loads(sys.argv[2])
if op == "list":
    print(repr(nl_lib.list_entries(zone=arg)))
else:
    nl_lib.delete_entries(entries=[tuple(e) for e in arg])
    print("None")
"""


class InNamespace:
    """Calls netlink_lib exactly as Neutron does (no netns keyword), in a Python process
    running inside the namespace."""

    def __init__(self, ns):
        self.ns = ns

    def list_entries(self, zone):
        out = self.ns.python(_CHILD, "list", json.dumps(zone)).stdout
        return ast.literal_eval(out.strip())

    def delete_entries(self, entries):
        out = self.ns.python(_CHILD, "delete", json.dumps([list(e) for e in entries])).stdout
        assert out.strip() == "None"


RUNNERS = {"in_process_netns_kw": InProcess, "in_namespace_exact_signature": InNamespace}


def tool_entries(ns, zone):
    """`conntrack -L -w ZONE` lines (zone 0: every line, as the tool cannot select it)."""
    return ns.lines() if zone == 0 else ns.lines("-w", zone)


@pytest.mark.parametrize("runner", sorted(RUNNERS))
@pytest.mark.parametrize(
    "v6,zone",
    [(False, 10), (True, 10), (False, 65535), (True, 65535), (False, 0)],
    ids=["ipv4-zone10", "ipv6-zone10", "ipv4-zone65535", "ipv6-zone65535", "ipv4-zone0"],
)
def test_neutron_scenario(netns, runner, v6, zone):
    nl = RUNNERS[runner](netns)
    create_three(netns, v6, zone)
    # An entry in another zone that must never show up or go.
    other = 6 if zone == 5 else 5
    netns.conntrack("-I", "-p", "udp", "-s", "9.9.9.9", "-d", "8.8.8.8", "--sport", 9,
                    "--dport", 9, "-t", 1234, "-w", other)
    expected = expected_three(v6, zone)
    assert nl.list_entries(zone) == expected
    assert nl.list_entries(4242) == []

    icmp, tcp, udp = expected
    names = {icmp: "icmpv6" if v6 else "icmp ", tcp: "tcp ", udp: "udp "}
    remaining = [icmp, tcp, udp]
    for victim in (icmp, tcp, udp):  # one at a time, as Neutron's tests do
        nl.delete_entries([victim])
        remaining.remove(victim)
        lines = [line for line in tool_entries(netns, zone) if "zone=%d " % other not in line]
        assert len(lines) == len(remaining), lines
        assert not any(line.startswith(names[victim]) for line in lines), lines
        for kept in remaining:
            assert any(line.startswith(names[kept]) for line in lines), lines
        assert nl.list_entries(zone) == remaining

    # Several at once; then deleting what is already gone is not an error.
    create_three(netns, v6, zone)
    assert nl.list_entries(zone) == expected
    nl.delete_entries(expected)
    assert [line for line in tool_entries(netns, zone) if "zone=%d " % other not in line] == []
    nl.delete_entries(expected)
    assert nl.list_entries(zone) == []
    # The other zone's entry is untouched.
    assert len(netns.lines("-w", other)) == 1


def test_signature_matches_neutron():
    params = inspect.signature(nl_lib.list_entries).parameters
    assert list(params)[0] == "zone" and params["zone"].default is inspect.Parameter.empty
    assert params["netns"].default is None
    params = inspect.signature(nl_lib.delete_entries).parameters
    assert list(params)[0] == "entries" and params["entries"].default is inspect.Parameter.empty
    assert params["netns"].default is None
    assert nl_lib.IP_VERSIONS == [4, 6]


def test_exact_neutron_calls_in_current_namespace(netns):
    """Neutron's own test code, unchanged apart from the import, inside the namespace."""
    create_three(netns, False, 42)
    code = r"""
from conntrack import netlink_lib as nl_lib
_zone = 42
expected = (
    (4, 'icmp', 8, 0, '1.1.1.1', '2.2.2.2', 3333, _zone),
    (4, 'tcp', 1, 2, '1.1.1.1', '2.2.2.2', _zone),
    (4, 'udp', 4, 5, '1.1.1.1', '2.2.2.2', _zone)
)
entries_list = nl_lib.list_entries(zone=_zone)
assert isinstance(entries_list, list), entries_list
for entry in expected:
    assert entry in entries_list, entries_list
delete_entries = [(4, 'tcp', 1, 2, '1.1.1.1', '2.2.2.2', _zone)]
nl_lib.delete_entries(entries=delete_entries)
entries_list = nl_lib.list_entries(zone=_zone)
assert delete_entries[0] not in entries_list
assert entries_list == [expected[0], expected[2]], entries_list
print("ok")
"""
    assert netns.python(code).stdout.strip() == "ok"
    lines = netns.lines("-w", 42)
    assert len(lines) == 2 and not any(line.startswith("tcp ") for line in lines)


def test_every_protocol_listed_and_deleted(netns):
    zone = 7
    create_three(netns, False, zone)
    netns.conntrack("-I", "-p", "sctp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 7,
                    "--dport", 8, "--state", "ESTABLISHED", "--orig-vtag", 5, "--reply-vtag", 6,
                    "-t", 1234, "-w", zone)
    netns.conntrack("-I", "-p", "udplite", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 13,
                    "--dport", 14, "-t", 1234, "-w", zone)
    netns.conntrack("-I", "-p", "gre", "-s", "1.1.1.1", "-d", "2.2.2.2", "--srckey", 11,
                    "--dstkey", 12, "-t", 1234, "-w", zone)
    netns.conntrack("-I", "-p", "50", "-s", "1.1.1.1", "-d", "2.2.2.2", "-t", 1234, "-w", zone)
    got = nl_lib.list_entries(zone, netns=netns.name)
    # icmp and protocol 50 tie on the fourth field (0): their order is the kernel's.
    assert sorted(got, key=repr) == sorted(
        [
            (4, "icmp", 8, 0, "1.1.1.1", "2.2.2.2", 3333, zone),
            (4, "50", 0, 0, "1.1.1.1", "2.2.2.2", zone),
            (4, "tcp", 1, 2, "1.1.1.1", "2.2.2.2", zone),
            (4, "udp", 4, 5, "1.1.1.1", "2.2.2.2", zone),
            (4, "sctp", 7, 8, "1.1.1.1", "2.2.2.2", zone),
            (4, "gre", 11, 12, "1.1.1.1", "2.2.2.2", zone),
            (4, "udplite", 13, 14, "1.1.1.1", "2.2.2.2", zone),
        ],
        key=repr,
    )
    assert [t[3] for t in got] == sorted(t[3] for t in got)
    nl_lib.delete_entries(got, netns=netns.name)
    assert netns.lines("-w", zone) == []


def test_sort_is_by_fourth_field_ipv4_first(netns):
    zone = 3
    for v6, (sport, dport) in ((True, (1, 3)), (False, (2, 3)), (False, (9, 1)), (True, (8, 2))):
        src, dst = ("::1", "::2") if v6 else ("1.1.1.1", "2.2.2.2")
        netns.conntrack("-I", "-p", "udp", "-s", src, "-d", dst, "--sport", sport,
                        "--dport", dport, "-t", 100, "-w", zone)
    got = nl_lib.list_entries(zone, netns=netns.name)
    assert got == [
        (4, "udp", 9, 1, "1.1.1.1", "2.2.2.2", zone),
        (6, "udp", 8, 2, "::1", "::2", zone),
        (4, "udp", 2, 3, "1.1.1.1", "2.2.2.2", zone),  # a tie: IPv4 before IPv6
        (6, "udp", 1, 3, "::1", "::2", zone),
    ]


def test_zone_kept_as_given_and_checked(netns):
    create_three(netns, False, 12)
    got = nl_lib.list_entries("12", netns=netns.name)
    assert [t[-1] for t in got] == ["12", "12", "12"]  # as Neutron: the argument itself
    with pytest.raises(InvalidArgumentError):
        nl_lib.list_entries(65536, netns=netns.name)
    with pytest.raises(InvalidArgumentError):
        nl_lib.list_entries("ten", netns=netns.name)


def test_malformed_tuples_delete_nothing(netns):
    create_three(netns, False, 11)
    good = (4, "tcp", 1, 2, "1.1.1.1", "2.2.2.2", 11)
    for bad in (
        (4, "tcp", 1, 2, "1.1.1.1", "2.2.2.2"),  # no zone
        (5, "tcp", 1, 2, "1.1.1.1", "2.2.2.2", 11),  # IP version
        (4, "nosuchproto", 1, 2, "1.1.1.1", "2.2.2.2", 11),
        (4, "tcp", 1, 2, "1.1.1.1", "::2", 11),  # mixed families
        (4, "icmp", 8, 0, "1.1.1.1", "2.2.2.2", 11),  # icmp without the id
        (4, "tcp", 1, 70000, "1.1.1.1", "2.2.2.2", 11),  # port out of range
        (4, "tcp", 1, 2, "1.1.1.1", "2.2.2.2", 65536),  # zone out of range
    ):
        with pytest.raises(InvalidArgumentError):
            nl_lib.delete_entries([good, bad], netns=netns.name)
    assert len(netns.lines("-w", 11)) == 3


def test_failed_delete_raises_instead_of_logging(netns):
    """A failure other than "already gone" raises: here the caller lacks CAP_NET_ADMIN."""
    create_three(netns, False, 13)
    code = r"""
from conntrack import netlink_lib as nl_lib
import conntrack
try:
    nl_lib.delete_entries([(4, 'tcp', 1, 2, '1.1.1.1', '2.2.2.2', 13)])
except conntrack.ConntrackPermissionError as e:
    print("permission", e.status, e.errno, len(e.failures))
else:
    print("no error")
"""
    if shutil.which("capsh") is None:
        pytest.skip("capsh (libcap2-bin) is not installed")
    p = netns.run("capsh", "--drop=cap_net_admin", "--", "-c",
                  '"$0" -c "$1"', PYTHON, code, env=child_env())
    assert p.stdout.split() == ["permission", "5", "1", "1"], p.stdout + p.stderr
    assert len(netns.lines("-w", 13)) == 3
    assert issubclass(ConntrackPermissionError, ConntrackError)


# -- the two ways list_entries makes tuples: columns of a block (every view in the common
# layout) and one view at a time (any other block); they must give the same tuples.

_TOOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 33: "dccp", 47: "gre", 58: "icmpv6",
               132: "sctp", 136: "udplite"}


def tool_tuples(netns, zone):
    """`conntrack -L -w ZONE` as Neutron tuples, read from the tool's text (its original
    tuple: the first src, dst, ports, GRE keys or ICMP fields of each line)."""
    out = []
    for line in netns.lines("-w", zone):
        words = line.split()
        fields = {}
        for w in words:
            key, eq, value = w.partition("=")
            if eq and key not in fields:
                fields[key] = value
        number = int(words[1])
        name = _TOOL_NAMES.get(number, str(number))
        version = 6 if ":" in fields["src"] else 4
        if name in ("icmp", "icmpv6"):
            out.append((version, name, int(fields["type"]), int(fields["code"]),
                        fields["src"], fields["dst"], int(fields["id"]), zone))
        elif name == "gre":
            out.append((version, name, int(fields["srckey"], 16), int(fields["dstkey"], 16),
                        fields["src"], fields["dst"], zone))
        elif "sport" in fields:
            out.append((version, name, int(fields["sport"]), int(fields["dport"]),
                        fields["src"], fields["dst"], zone))
        else:
            out.append((version, name, 0, 0, fields["src"], fields["dst"], zone))
    return out


def spy_columns(monkeypatch):
    """Records, per block, whether the columnar path took it and which versions it gave."""
    taken = []
    real = nl_lib._columns_of_block

    def spy(block, n, zone, v4, v6, *rest):
        before = len(v4), len(v6)
        ok = real(block, n, zone, v4, v6, *rest)
        taken.append((ok, len(v4) > before[0], len(v6) > before[1]))
        return ok

    monkeypatch.setattr(nl_lib, "_columns_of_block", spy)
    return taken


def per_entry_only(netns, zone, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(nl_lib, "_columns_of_block", lambda *args: False)
        return nl_lib.list_entries(zone, netns=netns.name)


def test_columns_and_per_entry_paths_match_the_tool(netns, monkeypatch):
    zone = 21
    # A mix the columnar path takes (port protocols, both families) and one it leaves to
    # the per-entry path (ICMP, a protocol without ports).
    script = []
    for i in range(12):
        script.append("conntrack -I -p %s -s 10.1.0.%d -d 10.2.0.1 --sport %d --dport %d "
                      "%s -t 1234 -w %d" % ("tcp" if i % 2 else "udp", i + 1, 1000 + i,
                                            80 + i % 3, "--state ESTABLISHED" if i % 2 else "",
                                            zone))
        script.append("conntrack -I -p udp -s fd00::%x -d fd00::1:0 --sport %d --dport %d "
                      "-t 1234 -w %d" % (i + 1, 2000 + i, 53 + i % 2, zone))
    script += [
        "conntrack -I -p sctp -s 1.1.1.1 -d 2.2.2.2 --sport 7 --dport 8 --state ESTABLISHED "
        "--orig-vtag 5 --reply-vtag 6 -t 1234 -w %d" % zone,
        "conntrack -I -p udplite -s ::1 -d ::2 --sport 13 --dport 14 -t 1234 -w %d" % zone,
        "conntrack -I -p gre -s 1.1.1.1 -d 2.2.2.2 --srckey 11 --dstkey 12 -t 1234 -w %d" % zone,
        "conntrack -I -p icmp -s 1.1.1.1 -d 2.2.2.2 --icmp-type 8 --icmp-code 0 --icmp-id 3333 "
        "-t 1234 -w %d" % zone,
        "conntrack -I -p icmpv6 -s ::1 -d ::2 --icmpv6-type 128 --icmpv6-code 0 "
        "--icmpv6-id 3333 -t 1234 -w %d" % zone,
        "conntrack -I -p 50 -s 1.1.1.1 -d 2.2.2.2 -t 1234 -w %d" % zone,
    ]
    netns.run("sh", "-ec", "\n".join(c + " 2>/dev/null" for c in script))
    # Another zone's entry, which must not show.
    netns.conntrack("-I", "-p", "udp", "-s", "9.9.9.9", "-d", "8.8.8.8", "--sport", 9,
                    "--dport", 9, "-t", 1234, "-w", zone + 1)
    expected = tool_tuples(netns, zone)
    assert len(expected) == 30

    # Blocks of 4 views: some all in the common layout, some not.
    monkeypatch.setattr(nl_lib, "_BLOCK", 4)
    taken = spy_columns(monkeypatch)
    got = nl_lib.list_entries(zone, netns=netns.name)
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    assert [t[3] for t in got] == sorted(t[3] for t in got)
    assert any(ok for ok, _, _ in taken) and not all(ok for ok, _, _ in taken), taken
    # The same tuples in the same order as the per-entry path gives for every block.
    assert got == per_entry_only(netns, zone, monkeypatch)

    # Blocks as large as they come (the SCTP entry's tags are beyond its view, so a block
    # ends right after it): the per-entry path for at least one, same result.
    monkeypatch.setattr(nl_lib, "_BLOCK", 1024)
    del taken[:]
    assert nl_lib.list_entries(zone, netns=netns.name) == got
    assert taken and not all(ok for ok, _, _ in taken), taken


def test_columns_path_with_both_families_in_one_block(netns, monkeypatch):
    zone = 22
    script = []
    for i in range(20):
        if i % 3:
            script.append("conntrack -I -p tcp -s 10.1.%d.1 -d 10.2.0.1 --sport %d --dport 443 "
                          "--state ESTABLISHED -t 1234 -w %d" % (i, 3000 + i, zone))
        else:
            script.append("conntrack -I -p udp -s 2001:db8::%x -d 2001:db8:1::1 --sport %d "
                          "--dport %d -t 1234 -w %d" % (i + 1, 4000 + i, 440 + i % 5, zone))
    netns.run("sh", "-ec", "\n".join(c + " 2>/dev/null" for c in script))
    expected = tool_tuples(netns, zone)
    taken = spy_columns(monkeypatch)
    got = nl_lib.list_entries(zone, netns=netns.name)
    # One block, in the columnar path, giving IPv4 and IPv6 tuples.
    assert taken == [(True, True, True)]
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    assert got == per_entry_only(netns, zone, monkeypatch)
    # IPv4 before IPv6 among equal fourth elements, sorted by the fourth.
    assert [t[3] for t in got] == sorted(t[3] for t in got)
    for a, b in zip(got, got[1:]):
        assert a[3] != b[3] or a[0] <= b[0]


def test_columns_path_matches_per_entry_path_on_made_up_views():
    """Random blocks of views, some in the common layout, some not: the columnar path
    takes exactly the blocks whose every view has family IPv4 or IPv6, a port protocol
    and both addresses and ports, and then gives what the per-entry path gives."""
    import random
    import socket

    from conntrack import _lib

    rng = random.Random(16)
    common = (_lib.CT_VIEW_FAMILY | _lib.CT_VIEW_PROTO | _lib.CT_VIEW_ORIG_SRC
              | _lib.CT_VIEW_ORIG_DST | _lib.CT_VIEW_ORIG_SPORT | _lib.CT_VIEW_ORIG_DPORT)
    others = [_lib.CT_VIEW_ORIG_ICMP, _lib.CT_VIEW_ZONE, _lib.CT_VIEW_MARK, _lib.CT_VIEW_ID,
              _lib.CT_VIEW_TCP_STATE, _lib.CT_VIEW_MORE]
    port_protos = [6, 17, 33, 47, 132, 136]
    addrs4 = [socket.inet_pton(socket.AF_INET, "10.0.0.%d" % i) + bytes(12) for i in range(5)]
    addrs6 = [socket.inet_pton(socket.AF_INET6, "fd00::%x" % i) for i in range(5)]
    seen_columns = seen_mixed = seen_other = 0
    for _ in range(1500):
        n = rng.randint(1, 12)
        regular = rng.random() < 0.6
        families = rng.choice([[2], [10], [2, 10]])
        views, qualifies = [], True
        for _ in range(n):
            present = common | sum(b for b in others if rng.random() < 0.3)
            family, proto = rng.choice(families), rng.choice(port_protos)
            if not regular and rng.random() < 0.3:
                what = rng.randrange(3)
                if what == 0:
                    present &= ~rng.choice([_lib.CT_VIEW_ORIG_SPORT, _lib.CT_VIEW_ORIG_DPORT,
                                            _lib.CT_VIEW_ORIG_SRC, _lib.CT_VIEW_FAMILY])
                elif what == 1:
                    proto = rng.choice([1, 58, 50, 0, 255])
                else:
                    family = rng.choice([0, 7])
                qualifies = False
            pool = addrs6 if family == 10 else addrs4
            views.append(nl_lib._TUPLE.pack(
                present, family, proto, rng.randrange(65536), rng.randrange(65536),
                rng.randrange(256), rng.randrange(256), rng.randrange(65536),
                rng.choice(pool), rng.choice(pool)))
        block = memoryview(bytearray(b"".join(views)))
        zone = rng.choice([0, 7, "7"])
        v4, v6 = [], []
        took = nl_lib._columns_of_block(block, n, zone, v4, v6, nl_lib._V4Text(),
                                        nl_lib._V6Text())
        assert took == qualifies
        want = {4: [], 6: []}
        nl_lib._tuples_of_block(block, zone, want, {})
        if took:
            assert (v4, v6) == (want[4], want[6])
            seen_columns += 1
            seen_mixed += bool(v4 and v6)
        else:
            assert v4 == v6 == []
            seen_other += 1
    assert seen_columns > 100 and seen_mixed > 20 and seen_other > 100


def reader_threads():
    import threading

    return [t for t in threading.enumerate() if t.name == "conntrack-list"]


def test_blocks_after_a_full_first_one_are_read_on_a_thread(netns, monkeypatch):
    import threading

    zone = 23
    netns.run("sh", "-ec", "\n".join(
        "conntrack -I -p udp -s 10.3.0.%d -d 10.4.0.1 --sport %d --dport 53 -t 1234 -w %d "
        "2>/dev/null" % (i + 1, 5000 + i, zone) for i in range(30)))
    expected = tool_tuples(netns, zone)
    monkeypatch.setattr(nl_lib, "_BLOCK", 4)
    readers = []
    real = nl_lib._read_block

    def spy(ptr, buf):
        readers.append(threading.current_thread().name)
        return real(ptr, buf)

    monkeypatch.setattr(nl_lib, "_read_block", spy)
    got = nl_lib.list_entries(zone, netns=netns.name)
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    # The first block on the caller's thread, the other seven and the end on the reader.
    assert readers[0] == threading.current_thread().name
    assert readers[1:] == ["conntrack-list"] * 8, readers
    assert not reader_threads()
    # Where threads are green (eventlet), every block is read on the caller's thread, and
    # the result is the same.
    del readers[:]
    monkeypatch.setattr(nl_lib, "_green_threads", lambda: True)
    assert nl_lib.list_entries(zone, netns=netns.name) == got
    assert set(readers) == {threading.current_thread().name} and len(readers) == 9


def test_reader_thread_failure_reaches_the_caller(netns, monkeypatch):
    zone = 24
    netns.run("sh", "-ec", "\n".join(
        "conntrack -I -p tcp -s 10.5.0.%d -d 10.6.0.1 --sport %d --dport 80 "
        "--state ESTABLISHED -t 1234 -w %d 2>/dev/null" % (i + 1, 6000 + i, zone)
        for i in range(20)))
    expected = tool_tuples(netns, zone)
    monkeypatch.setattr(nl_lib, "_BLOCK", 4)
    calls = []
    real = nl_lib._read_block

    def failing(ptr, buf):
        calls.append(1)
        if len(calls) == 3:
            raise ConntrackError(-1, "made to fail on the third block")
        return real(ptr, buf)

    monkeypatch.setattr(nl_lib, "_read_block", failing)
    with pytest.raises(ConntrackError, match="third block"):
        nl_lib.list_entries(zone, netns=netns.name)
    assert not reader_threads()
    # The caller stopping early (its own failure) ends the reader too.
    monkeypatch.setattr(nl_lib, "_read_block", real)

    blocks = []

    def stop(*args):
        blocks.append(1)
        if len(blocks) == 3:
            raise RuntimeError("the caller's own failure")
        return False

    with monkeypatch.context() as m:
        m.setattr(nl_lib, "_columns_of_block", stop)
        with pytest.raises(RuntimeError):
            nl_lib.list_entries(zone, netns=netns.name)
    assert len(blocks) == 3
    assert not reader_threads()
    assert sorted(nl_lib.list_entries(zone, netns=netns.name), key=repr) == sorted(
        expected, key=repr)


def test_delete_records_as_columns_equal_the_entries_records():
    """delete_entries builds the records of plain tuples column by column: the very records
    of the Entry objects it builds for the others; tuples of another shape go that way."""
    from conntrack.entry import record_of
    from conntrack.netlink_lib import _delete_records, _entry_of

    tuples = [
        (4, "tcp", 1, 2, "1.1.1.1", "2.2.2.2", 11),
        (4, "tcp", 3, 4, "1.1.1.3", "2.2.2.4", 0),
        (6, "udp", 4, 5, "fd00::1", "fd00::2", 65535),
        (4, "icmp", 8, 0, "1.1.1.1", "2.2.2.2", 3333, 7),
        (6, "icmpv6", 128, 0, "::1", "::2", 1, 7),
        (4, "50", 0, 0, "1.1.1.1", "2.2.2.2", 7),
        (4, "gre", 11, 12, "1.1.1.1", "2.2.2.2", 7),
        (4, "tcp", 5, 6, "1.1.1.5", "2.2.2.6", 11),
        [4, "sctp", 7, 8, "1.1.1.1", "2.2.2.2", 3],
    ]
    blocks = _delete_records(tuples)
    assert [n for _, n in blocks] == [2, 1, 1, 1, 1, 1, 1, 1]
    assert b"".join(bytes(b) for b, _ in blocks) == \
        b"".join(record_of(_entry_of(t)) for t in tuples)
    # Other shapes (and malformed tuples) are left to _entry_of.
    for other in (
        (4, "tcp", 1, 2, ipaddress.ip_address("1.1.1.1"), "2.2.2.2", 11),
        (4, "tcp", 1, 2, "1.1.1.1", "2.2.2.2", "11"),
        (4, "tcp", 1, 2, "fe80::1%eth0", "2.2.2.2", 11),
        (4, "tcp", 1, 2, "1.1.1.1", "::2", 11),
        (4, "tcp", 1, 70000, "1.1.1.1", "2.2.2.2", 11),
        (4, "icmp", 8, 0, "1.1.1.1", "2.2.2.2", 11),
        (True, "tcp", 1, 2, "1.1.1.1", "2.2.2.2", 11),
        "4 tcp",
    ):
        assert _delete_records(tuples + [other]) is None, other
