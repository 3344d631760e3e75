"""Expectations against the kernel and the tool (`conntrack -L expect`, `-I expect`), in a
namespace of the test's own: the binding creates one under an FTP master and the tool lists
it; the tool creates one and the binding reads it; delete and flush."""

import ipaddress

import pytest

import conntrack
from conntrack import Entry, Expectation


def tcp(src, dst, sport, dport):
    return Entry(proto="tcp", orig_src=src, orig_dst=dst, orig_sport=sport, orig_dport=dport)


MASTER = tcp("1.1.1.1", "2.2.2.2", 1025, 21)
MASK = tcp("255.255.255.255", "255.255.255.255", 0, 0xFFFF)


def make_master(ct):
    ct.create(Entry(proto="tcp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_sport=1025,
                    orig_dport=21, tcp_state=conntrack.TCP_STATE_ESTABLISHED, timeout=600,
                    helper="ftp"))


def test_binding_creates_tool_lists_binding_reads_and_deletes(ct, netns):
    make_master(ct)
    x = Expectation(master=MASTER, expected=tcp("1.1.1.1", "2.2.2.2", 0, 40000), mask=MASK,
                    timeout=100)
    ct.create_expectation(x)
    with pytest.raises(conntrack.EntryExistsError):
        ct.create_expectation(x)
    (line,) = [ln for ln in netns.conntrack("-L", "expect").splitlines() if "src=" in ln]
    assert "dport=40000" in line and "helper=ftp" in line and "master-src=1.1.1.1" in line

    (got,) = ct.expectations()
    assert got.expected.proto == conntrack.PROTO_TCP
    assert (str(got.expected.orig_src), str(got.expected.orig_dst)) == ("1.1.1.1", "2.2.2.2")
    assert (got.expected.orig_sport, got.expected.orig_dport) == (0, 40000)
    assert (got.master.orig_sport, got.master.orig_dport) == (1025, 21)
    assert got.mask.orig_src == ipaddress.ip_address("255.255.255.255")
    assert got.mask.orig_dport == 0xFFFF and got.mask.orig_sport == 0
    assert got.helper == "ftp" and got.zone is None
    assert 0 < got.timeout <= 300  # the FTP helper's policy may replace the 100 asked
    assert got.id is not None and got.flags is not None and got.class_ is not None

    ct.delete_expectation(got)
    with pytest.raises(conntrack.NotFoundError):
        ct.delete_expectation(got)
    assert ct.expectations() == []


def test_tool_creates_binding_reads_then_flush(ct, netns):
    make_master(ct)
    netns.conntrack("-I", "expect", "-s", "1.1.1.1", "-d", "2.2.2.2", "-p", "tcp", "--sport", 1025,
                    "--dport", 21, "--tuple-src", "1.1.1.1", "--tuple-dst", "2.2.2.2",
                    "--mask-src", "255.255.255.255", "--mask-dst", "255.255.255.255",
                    "--tuple-port-src", 0, "--tuple-port-dst", 40001, "--mask-port-src", 0,
                    "--mask-port-dst", 65535, "-t", 100)
    (got,) = ct.expectations()
    assert got.master.orig_dport == 21 and got.master.proto == conntrack.PROTO_TCP
    assert got.helper == "ftp"
    assert str(got.expected.orig_src) == "1.1.1.1" and str(got.mask.orig_dst) == "255.255.255.255"
    # conntrack-tools 1.4.7 does not put -p into the expected tuple (it lists "proto=156"
    # and no ports): the binding reads what the tool shows.
    (line,) = [ln for ln in netns.conntrack("-L", "expect").splitlines() if "src=" in ln]
    assert "proto=%d " % got.expected.proto in line
    if "dport=40001" not in line:
        assert got.expected.orig_dport is None
    ct.flush_expectations()
    assert ct.expectations() == []
    assert not [ln for ln in netns.conntrack("-L", "expect").splitlines() if "src=" in ln]


def test_errors(ct):
    # No master connection.
    with pytest.raises(conntrack.NotFoundError):
        ct.create_expectation(Expectation(master=MASTER, expected=tcp("1.1.1.1", "2.2.2.2", 0, 1),
                                          mask=MASK, timeout=10))
    with pytest.raises(conntrack.InvalidArgumentError):
        ct.create_expectation(Expectation(master=MASTER, zone=70000))
    with pytest.raises(TypeError):
        Expectation(master=("1.1.1.1", "2.2.2.2"))
    with pytest.raises(TypeError):
        ct.create_expectation(MASTER)
    ct.flush_expectations()  # empty table: fine
