"""Table size and statistics against the tool (`conntrack -C`, `conntrack -S`), in a
namespace of the test's own."""

import conntrack
from test_events import burst


def test_count_matches_the_tool(ct, netns):
    assert ct.count()[0] == 0
    burst(netns, 25, timeout=100000)
    count, limit = ct.count()
    assert count == 25 == int(netns.conntrack("-C").strip())
    assert limit > 0
    assert str(limit) == netns.run("sysctl", "-n", "net.netfilter.nf_conntrack_max").stdout.strip()


def test_stats_match_the_tool(ct, netns):
    burst(netns, 25, timeout=100000)
    per_cpu = ct.stats_per_cpu()
    total = ct.stats()
    tool = netns.conntrack("-S")
    assert len(per_cpu) == sum(1 for line in tool.splitlines() if "cpu=" in line) >= 1
    for s in per_cpu:
        assert isinstance(s, conntrack.Stats)
        want = ("found=%d invalid=%d insert=%d insert_failed=%d drop=%d early_drop=%d "
                "error=%d" % (s.found, s.invalid, s.insert, s.insert_failed, s.drop,
                              s.early_drop, s.error))
        assert any(want in line for line in tool.splitlines()), (want, tool)
    assert total.cpu == 0
    assert total.insert == sum(s.insert for s in per_cpu) >= 25
    assert total.found == sum(s.found for s in per_cpu)


def test_closed_handle(netns):
    ct = conntrack.Conntrack(netns=netns.name)
    ct.close()
    for call in (ct.count, ct.stats, ct.stats_per_cpu):
        try:
            call()
        except ValueError:
            continue
        raise AssertionError("%s on a closed handle" % call.__name__)
