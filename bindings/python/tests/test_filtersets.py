"""Several filters in one call, and NAT filters, against the conntrack tool."""

import pytest

import conntrack


def _fill(ct):
    for zone in (1, 2):
        for i in range(1, 31):
            ct.create(conntrack.Entry(proto="udp", orig_src="10.0.%d.%d" % (zone, i),
                                      orig_dst="10.9.0.1", orig_sport=1000, orig_dport=53,
                                      zone=zone, timeout=600))
        ct.create(conntrack.Entry(proto="tcp", orig_src="10.1.%d.1" % zone, orig_dst="10.9.0.1",
                                  orig_sport=1000, orig_dport=80, zone=zone, timeout=600,
                                  tcp_state=3))


@pytest.mark.parametrize("kernel", [True, False])
def test_delete_matching_many_filters(ct, netns, kernel):
    _fill(ct)
    # 10,000 filters: the odd sources of zone 1 exist (15 of them), the rest match nothing;
    # and every TCP entry of zone 2.
    filters = [conntrack.Filter(zone=1, proto="udp", orig_src="10.%d.1.%d" % (j // 250, j % 250 + 1),
                                kernel_filtering=kernel)
               for j in range(0, 20000, 2)]
    filters.append(conntrack.Filter(zone=2, proto="tcp", kernel_filtering=kernel))
    listed = ct.list_any(*filters)
    assert sorted(str(e.orig_src) for e in listed) == sorted(
        ["10.0.1.%d" % i for i in range(1, 31, 2)] + ["10.1.2.1"])
    assert ct.delete_matching(*filters) == 16
    assert netns.lines("-w", "1", "-p", "udp", "-s", "10.0.1.1") == []
    assert netns.lines("-w", "2", "-p", "tcp") == []
    assert len(netns.lines()) == 62 - 16
    with pytest.raises(TypeError):
        ct.delete_matching()
    # A filter that cannot match any entry is refused.
    with pytest.raises(conntrack.InvalidArgumentError):
        ct.delete_matching(conntrack.Filter(family="ipv4", nat="src", nat_to="fd00::1"),
                           conntrack.Filter(zone=1))


def test_nat_filters_agree_with_the_tool(ct, netns):
    netns.conntrack("-I", "-p", "udp", "-s", "10.1.0.1", "-d", "10.2.0.1", "--sport", "1000",
                    "--dport", "53", "-t", "100", "--src-nat", "192.168.9.9")
    netns.conntrack("-I", "-p", "udp", "-s", "10.1.0.2", "-d", "10.2.0.1", "--sport", "1001",
                    "--dport", "53", "-t", "100", "--dst-nat", "172.16.0.5:8053")
    netns.conntrack("-I", "-p", "udp", "-s", "10.1.0.3", "-d", "10.2.0.1", "--sport", "1002",
                    "--dport", "53", "-t", "100")
    for kind, to, args in [("src", None, ["--src-nat"]),
                           ("src", "192.168.9.9", ["--src-nat", "192.168.9.9"]),
                           ("dst", "172.16.0.5:8053", ["--dst-nat", "172.16.0.5:8053"]),
                           ("any", None, ["--any-nat"])]:
        want = len(netns.lines(*args))
        got = ct.list(conntrack.Filter(nat=kind, nat_to=to))
        assert want > 0 and len(got) == want, args
    with pytest.raises(ValueError):
        ct.list(conntrack.Filter(nat="sideways"))
    assert ct.delete_matching(conntrack.Filter(nat="any")) == 2
    assert len(netns.lines()) == 1
