"""The table mirror against the real kernel, each test in a network namespace of its own
with events on: the conntrack tool (and the binding's batches) change the table, the
mirror follows, and its content is compared with the library's list, the tool's and a
copy built only from the changes it reported. Every wait is bounded."""

import select

import pytest

import conntrack
from conntrack import Entry, Filter, Mirror

WAIT = 5  # seconds: the bound of every wait for a change that must come


def enable_events(ns):
    """Events on in the namespace, whatever the kernel's default for a new one is."""
    ns.conntrack("-L")
    ns.run("sysctl", "-qw", "net.netfilter.nf_conntrack_events=1")


def udp(src, sport=1, dst="10.0.1.1", dport=53, **kw):
    return Entry(proto="udp", orig_src=src, orig_dst=dst, orig_sport=sport, orig_dport=dport,
                 timeout=600, **kw)


def key(e):
    return (e.family, e.proto, str(e.orig_src), str(e.orig_dst), e.orig_sport, e.orig_dport,
            e.zone or 0)


def fields(entries):
    """key -> (mark, status, id): what the comparisons look at."""
    out = {}
    for e in entries:
        assert key(e) not in out, "twice: %r" % (e,)
        out[key(e)] = (e.mark or 0, e.status, e.id)
    return out


def apply(replica, changes):
    for ch in changes:
        assert ch.kind in ("new", "update", "destroy"), ch
        if ch.kind == "destroy":
            assert replica.pop(key(ch.entry), None) is not None, "destroy of an unknown %r" % (ch,)
        else:
            assert (key(ch.entry) in replica) == (ch.kind == "update"), ch
            replica[key(ch.entry)] = (ch.entry.mark or 0, ch.entry.status, ch.entry.id)


def settle(m, replica):
    """Steps until nothing is left to apply, no repair waits and the mirror is not stale."""
    for _ in range(10000):
        wait = m.next_timeout()
        changes = m.step(wait or 0)
        apply(replica, changes)
        if not changes and not m.stats().stale and m.next_timeout() is None:
            return
    pytest.fail("the mirror did not settle")


def assert_equal_to_table(netns, m, replica):
    with conntrack.Conntrack(netns=netns.name) as ct:
        table = fields(ct.list())
    assert fields(m) == table
    assert replica == table
    assert len(m) == len(table) == int(netns.conntrack("-C").strip())
    # The tool's ids agree with the mirror's.
    ids = sorted(int(line.split("id=")[1].split()[0])
                 for line in netns.lines("-o", "id") if "id=" in line)
    assert ids == sorted(v[2] for v in table.values())


def wait_changes(m, want):
    got = []
    while len(got) < want:
        batch = m.step(WAIT)
        assert batch, "no change within %ss; got %r" % (WAIT, got)
        got.extend(batch)
    assert len(got) == want, got
    return got


def test_load_follow_and_lookups(netns):
    enable_events(netns)
    for i in range(1, 6):
        netns.conntrack("-I", "-p", "udp", "-s", "10.0.0.%d" % i, "-d", "10.0.1.1",
                        "--sport", 1, "--dport", 53, "-t", 600)
    with Mirror(netns=netns.name) as m:
        replica = {}
        load = m.step(0)
        assert len(load) == 5
        assert all(ch.kind == "new" and ch.repair for ch in load)
        apply(replica, load)
        assert len(m) == 5 and m.stats().repairs == 1

        # Each of the tool's changes comes as one event, not a repair.
        tcp = ["-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1, "--dport", 2]
        netns.conntrack("-I", *tcp, "--state", "ESTABLISHED", "-t", 1234, "-m", 5)
        (ch,) = wait_changes(m, 1)
        assert (ch.kind, ch.repair, ch.entry.mark, ch.entry.proto) == ("new", False, 5, 6)
        apply(replica, [ch])
        netns.conntrack("-U", *tcp, "-m", 9)
        (ch,) = wait_changes(m, 1)
        assert (ch.kind, ch.repair, ch.entry.mark) == ("update", False, 9)
        apply(replica, [ch])
        netns.conntrack("-D", "-p", "udp", "-s", "10.0.0.3")
        (ch,) = wait_changes(m, 1)
        assert (ch.kind, str(ch.entry.orig_src)) == ("destroy", "10.0.0.3")
        apply(replica, [ch])
        assert m.step(0) == []
        settle(m, replica)
        assert_equal_to_table(netns, m, replica)

        # Lookups: by tuple and zone, by id; absent ones give None.
        got = m.get(Entry(proto="tcp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_sport=1,
                          orig_dport=2))
        assert got is not None and got.mark == 9 and got.tcp_state is not None
        assert "mark=9" in got.format()
        assert m.get(Entry(proto="tcp", orig_src="1.1.1.1", orig_dst="2.2.2.2", orig_sport=1,
                           orig_dport=2, zone=7)) is None
        assert m.get(udp("10.0.0.3")) is None
        assert m.get(udp("10.0.0.4")).orig_src == udp("10.0.0.4").orig_src
        assert m.get_by_id(got.id) == got
        assert m.get_by_id(got.id ^ 0x5A5A5A5A) is None
        with pytest.raises(TypeError):
            m.get("10.0.0.4")

        # The descriptor wakes select, and next_timeout says no repair waits.
        assert m.next_timeout() is None
        netns.conntrack("-D", "-p", "tcp")
        ready, _, _ = select.select([m], [], [], WAIT)
        assert ready == [m]
        (ch,) = m.step(0)
        assert ch.kind == "destroy" and ch.entry.proto == 6

        stats = m.stats()
        assert stats.events == 4 and stats.overruns == 0 and not stats.stale
    assert m.closed
    with pytest.raises(ValueError):
        m.step(0)


def test_overrun_with_a_tiny_buffer_repairs_to_the_table(netns):
    enable_events(netns)
    with Mirror(netns=netns.name, receive_buffer=4096) as m, \
            conntrack.Conntrack(netns=netns.name) as ct:
        m.set_backoff(1, 20)
        replica = {}
        settle(m, replica)
        for r in range(3):
            b = conntrack.Batch(ct)
            b.add_creates(udp("10.%d.%d.%d" % (r + 1, i // 250, i % 250 + 1)) for i in range(3000))
            assert b.send() == [None] * 3000
            # Marks changed and entries deleted by the tool while events pile up.
            netns.conntrack("-U", "-p", "udp", "-s", "10.%d.0.7" % (r + 1), "-m", r + 10)
            netns.conntrack("-D", "-p", "udp", "-s", "10.%d.1.9" % (r + 1))
            apply(replica, m.step(0))  # one step between bursts: the buffer overflows
        settle(m, replica)
        s = m.stats()
        assert s.overruns > 0 and s.repairs >= 2 and s.repaired_entries > 0 and not s.stale
        assert len(m) == 3 * 2999
        assert m.get(udp("10.2.0.7")).mark == 11
        assert_equal_to_table(netns, m, replica)

        # A repair on request finds nothing to change now.
        m.request_repair()
        assert m.next_timeout() == 0
        assert m.step(0) == []
        assert m.stats().repairs == s.repairs + 1


def test_flushed_table_and_a_filtered_mirror(netns):
    enable_events(netns)
    for i in range(1, 5):
        netns.conntrack("-I", "-p", "udp", "-s", "10.0.0.%d" % i, "-d", "10.0.1.1",
                        "--sport", 1, "--dport", 53, "-t", 600, "-m", i % 2)
    with Mirror(netns=netns.name, filter=Filter(mark=1)) as m:
        replica = {}
        settle(m, replica)
        assert sorted(str(e.orig_src) for e in m) == ["10.0.0.1", "10.0.0.3"]
        netns.conntrack("-I", "-p", "udp", "-s", "10.0.0.9", "-d", "10.0.1.1",
                        "--sport", 1, "--dport", 53, "-t", 600, "-m", 0)
        netns.conntrack("-I", "-p", "udp", "-s", "10.0.0.8", "-d", "10.0.1.1",
                        "--sport", 1, "--dport", 53, "-t", 600, "-m", 1)
        (ch,) = wait_changes(m, 1)
        assert str(ch.entry.orig_src) == "10.0.0.8"
        apply(replica, [ch])
        netns.conntrack("-F")
        changes = wait_changes(m, 3)
        assert {ch.kind for ch in changes} == {"destroy"}
        apply(replica, changes)
        settle(m, replica)
        assert len(m) == 0 and list(m) == [] and replica == {}


def test_close_inside_iteration_and_from_the_callback(netns):
    enable_events(netns)
    for i in range(1, 6):
        netns.conntrack("-I", "-p", "udp", "-s", "10.0.0.%d" % i, "-d", "10.0.1.1",
                        "--sport", 1, "--dport", 53, "-t", 600)
    # Closed from the step's callback: the step returns, nothing more is delivered.
    m = Mirror(netns=netns.name)
    seen = []

    def close_at_first(ch):
        seen.append(ch)
        m.close()

    assert m.step(0, callback=close_at_first) == 1
    assert len(seen) == 1 and m.closed
    m.close()  # idempotent

    # Closed inside the changes() loop: the generator ends.
    with Mirror(netns=netns.name) as m:
        got = []
        for ch in m.changes():
            got.append(ch)
            if len(got) == 2:
                m.close()
        assert len(got) == 2 and m.closed

    # A snapshot iteration survives a close in the middle.
    with Mirror(netns=netns.name) as m:
        m.step(0)
        n = 0
        for _ in m:
            n += 1
            m.close()
        assert n == 5


def test_callback_exceptions_reach_the_caller(netns):
    enable_events(netns)
    for i in range(1, 4):
        netns.conntrack("-I", "-p", "udp", "-s", "10.0.0.%d" % i, "-d", "10.0.1.1",
                        "--sport", 1, "--dport", 53, "-t", 600)
    with Mirror(netns=netns.name) as m:
        seen = []

        def fails(ch):
            seen.append(ch)
            if len(seen) == 2:
                raise KeyError("from the callback")
            # Only close() is allowed from here.
            with pytest.raises(conntrack.BusyError):
                len(m)

        with pytest.raises(KeyError, match="from the callback"):
            m.step(0, callback=fails)
        # The load completed inside the library (a repair always does); the change the
        # callback did not take comes with the next step, and the mirror goes on.
        assert len(seen) == 2 and len(m) == 3
        (rest,) = m.step(0)
        assert rest.kind == "new" and rest.repair
        assert {key(ch.entry) for ch in seen + [rest]} == {key(e) for e in m}
        netns.conntrack("-D", "-p", "udp", "-s", "10.0.0.2")
        stopped = []
        assert m.step(WAIT, callback=lambda ch: stopped.append(ch) or False) == 1
        assert stopped[0].kind == "destroy" and len(m) == 2
