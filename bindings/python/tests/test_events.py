"""Events against the real kernel, each test in a network namespace of its own: the
conntrack tool makes the events (-I, -U, -D, -R), the binding receives them. Every wait is
bounded (a receive timeout or a select timeout of a few seconds is the failure bound)."""

import select
import signal
import subprocess
import threading
import time

import pytest
from conftest import PYTHON, child_env

import conntrack
from conntrack import Events, Filter

WAIT = 5  # seconds: the bound of every wait for an event that must come


def enable_events(ns):
    """Events on in the namespace (the first conntrack call loaded the module)."""
    ns.conntrack("-L")
    ns.run("sysctl", "-qw", "net.netfilter.nf_conntrack_events=1")


def collect(events, want):
    """Receives until `want` events came; a receive that waits WAIT seconds for nothing
    fails the test."""
    got = []
    while len(got) < want:
        batch = events.receive(timeout=WAIT)
        assert batch, "no event within %ss; got %r" % (WAIT, got)
        got.extend(batch)
    assert len(got) == want, got
    return got


def next_bounded(it, events):
    """next(it), after making sure it will not block: an event is pending or the descriptor
    turns readable within WAIT seconds."""
    if not events.pending:
        ready, _, _ = select.select([events], [], [], WAIT)
        assert ready, "the listener's descriptor stayed idle for %ss" % WAIT
    return next(it)


def burst(ns, n, first_port=1, src="10.0.0.1", timeout=100):
    """`n` UDP entries made by one `conntrack -R -` run (source ports first_port..)."""
    lines = "".join("-I -p udp -s %s -d 10.0.0.2 --sport %d --dport 1 -t %d\n" % (src, p, timeout)
                    for p in range(first_port, first_port + n))
    ns.run("conntrack", "-R", "-", input=lines)


TCP = ["-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2"]


def test_new_update_destroy(netns):
    enable_events(netns)
    with Events(netns=netns.name) as events:
        netns.conntrack("-I", *TCP, "--state", "ESTABLISHED", "-t", 1234, "-m", 5)
        netns.conntrack("-U", *TCP, "-m", 9)  # -U takes no zone: zone 0
        netns.conntrack("-D", *TCP)
        new, update, destroy = collect(events, 3)
        assert events.overruns == 0

    assert (new.type, update.type, destroy.type) == (
        conntrack.EVENT_NEW, conntrack.EVENT_UPDATE, conntrack.EVENT_DESTROY)
    assert [e.type_name for e in (new, update, destroy)] == ["new", "update", "destroy"]
    e = new.entry
    assert e.proto == conntrack.PROTO_TCP and e.family == conntrack.FAMILY_IPV4
    assert (str(e.orig_src), str(e.orig_dst), str(e.reply_src), str(e.reply_dst)) == (
        "1.1.1.1", "2.2.2.2", "2.2.2.2", "1.1.1.1")
    assert (e.orig_sport, e.orig_dport, e.reply_sport, e.reply_dport) == (1, 2, 2, 1)
    assert e.mark == 5 and 1200 < e.timeout <= 1234
    assert e.tcp_state == conntrack.TCP_STATE_ESTABLISHED
    assert e.zone is None
    assert update.entry.mark == 9
    for ev in (update, destroy):
        assert (ev.entry.orig_sport, str(ev.entry.orig_src)) == (1, "1.1.1.1")
    if new.entry.id is not None and destroy.entry.id is not None:
        assert new.entry.id == destroy.entry.id
    # The entry is the caller's copy: it formats after the listener is gone.
    assert new.entry.format().startswith("tcp      6 ")
    assert "src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2" in new.entry.format()


def test_types_select_what_arrives(netns):
    enable_events(netns)
    with Events(types=["new", "destroy"], netns=netns.name) as events:
        assert events.types == conntrack.EVENT_NEW | conntrack.EVENT_DESTROY
        netns.conntrack("-I", *TCP, "--state", "ESTABLISHED", "-t", 1234)
        netns.conntrack("-U", *TCP, "-m", 9)
        netns.conntrack("-D", *TCP)
        assert [e.type for e in collect(events, 2)] == [conntrack.EVENT_NEW, conntrack.EVENT_DESTROY]
        assert events.receive(0) == []


@pytest.mark.parametrize("kernel_filtering", [True, False])
def test_filtered_listener(netns, kernel_filtering):
    enable_events(netns)
    udp = ["-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2", "-t", "100"]
    with Events(types=conntrack.EVENT_NEW, netns=netns.name,
                filter=Filter(zone=5, kernel_filtering=kernel_filtering)) as events:
        netns.conntrack("-I", *udp, "-w", 6)
        netns.conntrack("-I", *udp, "-w", 5)
        (event,) = collect(events, 1)
        assert event.entry.zone == 5 and event.type == conntrack.EVENT_NEW
        # The zone 6 event came first and was left out; nothing else is queued.
        assert events.receive(0) == []

        # Another filter, then none.
        events.set_filter(Filter(zone=7, proto="udp", kernel_filtering=kernel_filtering))
        netns.conntrack("-I", *udp, "-w", 8)
        netns.conntrack("-I", *udp, "-w", 7)
        assert [e.entry.zone for e in collect(events, 1)] == [7]
        events.set_filter(None)
        netns.conntrack("-I", *udp)
        (event,) = collect(events, 1)
        assert event.entry.zone is None and event.entry.orig_sport == 1


def test_fd_wakes_select_and_poll_and_idle_receive_is_empty(netns):
    enable_events(netns)
    with Events(types="new", netns=netns.name) as events:
        fd = events.fileno()
        assert isinstance(fd, int) and fd >= 0
        # Idle: a short wait sees nothing, and a short receive returns nothing.
        assert select.select([events], [], [], 0.05)[0] == []
        assert events.receive(timeout=0.05) == []
        assert events.receive(timeout=0) == []

        netns.conntrack("-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                        "--dport", 2, "-t", 100)
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        assert poller.poll(WAIT * 1000), "the event did not wake poll()"
        assert select.select([events], [], [], WAIT)[0] == [events]
        (event,) = events.receive(0)
        assert event.type == conntrack.EVENT_NEW and event.entry.orig_dport == 2
        assert events.receive(0) == []


def test_iteration_yields_events_and_keeps_the_rest_after_break(netns):
    enable_events(netns)
    with Events(types="new", netns=netns.name) as events:
        burst(netns, 3)
        it = iter(events)
        first = next_bounded(it, events)
        assert first.entry.orig_sport == 1
        # Leave the loop with events read but not yet yielded: they are kept.
        rest = []
        while len(rest) < 2:
            rest.append(next_bounded(iter(events), events))
        assert [e.entry.orig_sport for e in rest] == [2, 3]
        assert events.pending == 0 and events.receive(0) == []

        burst(netns, 2, first_port=10)
        assert next_bounded(it, events).entry.orig_sport == 10
        # Port 11 came in the same read or comes now: receive() hands out pending first.
        assert [e.entry.orig_sport for e in collect(events, 1)] == [11]


def test_overrun_under_a_tiny_buffer_then_the_listener_goes_on(netns):
    enable_events(netns)
    with Events(types="new", netns=netns.name, receive_buffer=4096) as events:
        burst(netns, 400)
        received = []
        overrun = None
        while overrun is None:
            try:
                batch = events.receive(timeout=0)
            except conntrack.OverrunError as e:
                overrun = e
                received.extend(e.events)
                break
            assert batch, "no overrun reported after %d of 400 events" % len(received)
            received.extend(batch)
        assert isinstance(overrun, conntrack.ConntrackError)
        assert overrun.status == conntrack.OverrunError.status
        assert overrun.overruns == 1 and events.overruns == 1
        assert "overflow" in overrun.message
        # Drain what was queued after the gap; fewer than 400 arrived in all.
        while True:
            batch = events.receive(timeout=0)
            if not batch:
                break
            received.extend(batch)
        assert len(received) < 400
        assert all(e.type == conntrack.EVENT_NEW for e in received)

        # The listener keeps working: a new event still arrives.
        netns.conntrack("-I", "-p", "udp", "-s", "10.0.0.9", "-d", "10.0.0.2", "--sport", 1,
                        "--dport", 1, "-t", 100)
        (event,) = collect(events, 1)
        assert str(event.entry.orig_src) == "10.0.0.9"

        # The same through iteration: the generator raises OverrunError (its events were
        # yielded already), and a new iteration goes on after the gap.
        burst(netns, 400, src="10.0.0.3")
        it = iter(events)
        yielded = 0
        with pytest.raises(conntrack.OverrunError) as info:
            while True:
                next_bounded(it, events)
                yielded += 1
                assert yielded < 400, "no overrun reported"
        assert info.value.events == [] and info.value.overruns == 2 and events.overruns == 2
        with pytest.raises(StopIteration):
            next(it)  # that generator is finished
        while events.receive(timeout=0):
            pass
        netns.conntrack("-I", "-p", "udp", "-s", "10.0.0.10", "-d", "10.0.0.2", "--sport", 1,
                        "--dport", 1, "-t", 100)
        event = next_bounded(iter(events), events)
        assert str(event.entry.orig_src) == "10.0.0.10"


def test_reliable_mode_and_buffer_settings(netns):
    enable_events(netns)
    with Events(types="all", netns=netns.name, reliable=True, receive_buffer=1 << 20) as events:
        events.set_reliable(False)
        events.set_reliable(True)
        netns.conntrack("-I", *TCP, "--state", "ESTABLISHED", "-t", 1234)
        netns.conntrack("-D", *TCP)
        assert [e.type for e in collect(events, 2)] == [conntrack.EVENT_NEW, conntrack.EVENT_DESTROY]


def test_busy_while_another_thread_receives(netns):
    enable_events(netns)
    events = Events(types="new", netns=netns.name)
    result = {}

    def listen():
        try:
            result["events"] = events.receive(timeout=WAIT)
        except BaseException as e:  # noqa: B902 - reported by the main thread
            result["error"] = e

    t = threading.Thread(target=listen)
    t.start()
    try:
        # Until the thread is inside receive() (bounded).
        deadline = time.monotonic() + WAIT
        while not events._lock.locked() and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert events._lock.locked(), result
        with pytest.raises(conntrack.BusyError):
            events.receive(0)
        with pytest.raises(conntrack.BusyError):
            events.close()
        with pytest.raises(conntrack.BusyError):
            events.set_filter(None)
        netns.conntrack("-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", 1,
                        "--dport", 2, "-t", 100)
    finally:
        t.join(WAIT * 2)
    assert not t.is_alive()
    assert "error" not in result, result
    assert len(result["events"]) == 1
    events.close()
    assert events.closed
    events.close()  # idempotent


def test_arguments_and_closed_listener(netns):
    for bad in (0, 8, "newest", ["new", "bogus"]):
        with pytest.raises(conntrack.InvalidArgumentError):
            Events(types=bad, netns=netns.name)
    for bad in (True, 1.5, object()):
        with pytest.raises(TypeError):
            Events(types=bad, netns=netns.name)
    with pytest.raises(conntrack.NetnsError):
        Events(netns="/nonexistent/netns")
    events = Events(netns=netns.name)
    assert "open" in repr(events)
    for bad in (-1, float("nan")):
        with pytest.raises(ValueError):
            events.receive(bad)
    with pytest.raises(TypeError):
        events.receive("1")
    with pytest.raises(conntrack.InvalidArgumentError):
        events.set_receive_buffer(-1)
    with pytest.raises(TypeError):
        events.set_filter("zone 5")
    events.close()
    for call in (lambda: events.receive(0), events.fileno, lambda: events.set_filter(None),
                 lambda: next(iter(events))):
        with pytest.raises(ValueError):
            call()
    assert events.overruns == 0 and "closed" in repr(events)


def test_a_blocking_receive_yields_to_ctrl_c(netns):
    # The wait is Python's: SIGINT raises KeyboardInterrupt in a listener blocked without a
    # timeout (a wait inside the C library would retry poll() until an event came).
    # The child installs Python's SIGINT handler itself: a parent started in the background
    # by a shell passes SIGINT on as ignored, and Python then leaves it so.
    code = ("import signal, sys, conntrack\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "events = conntrack.Events(netns=sys.argv[1])\n"
            "try:\n"
            "    print('ready', flush=True)\n"
            "    events.receive()\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted', flush=True)\n")
    p = subprocess.Popen([PYTHON, "-c", code, netns.name], env=child_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=WAIT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert out == "interrupted\n", err
