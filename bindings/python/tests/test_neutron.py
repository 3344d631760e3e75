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
