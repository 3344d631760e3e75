//! The event listener against the real kernel, each test in a network namespace of its own,
//! with the `conntrack` tool making the events.

use conntrack::batch::{Batch, Op};
use conntrack::entry::{proto, Dir, Side};
use conntrack::events::{Listener, EVENT_ALL, EVENT_DESTROY, EVENT_NEW, EVENT_UPDATE};
use conntrack::{Entry, Filter, Handle, Kind};
use std::ops::ControlFlow;

mod common;
use common::Netns;

impl Netns {
    /// A namespace with events on, whatever the kernel's default for a new one is.
    fn make(tag: &str) -> Netns {
        let ns = Netns::new("cte", tag);
        ns.sh("conntrack -L >/dev/null 2>&1; sysctl -qw net.netfilter.nf_conntrack_events=1");
        ns
    }

    /// Runs `script` in the namespace; whether it succeeded.
    fn try_sh(&self, script: &str) -> bool {
        std::process::Command::new("ip")
            .args(["netns", "exec", &self.0, "sh", "-c", script])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    }
}

/// Receives until `n` events arrived; each wait is bounded so a missing event fails the test
/// instead of hanging it.
fn collect(l: &mut Listener, n: usize) -> Vec<(u32, Entry)> {
    let mut got = Vec::new();
    let mut idle = 0;
    while got.len() < n {
        let k = l
            .receive(5000, |t, e| {
                got.push((t, e.clone()));
                ControlFlow::Continue(())
            })
            .unwrap();
        if k == 0 {
            idle += 1;
            assert!(idle < 3, "only {} of {n} events arrived", got.len());
        }
    }
    got
}

#[test]
fn new_update_destroy_arrive_with_every_field() {
    let ns = Netns::make("nud");
    let mut l = Listener::open_netns(&ns.0, EVENT_ALL).unwrap();
    // (conntrack -U takes no zone, so this entry lives in zone 0.)
    ns.sh("conntrack -I -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 --state ESTABLISHED -t 1234 -m 5");
    ns.sh("conntrack -U -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -m 9");
    ns.sh("conntrack -D -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2");
    let ev = collect(&mut l, 3);
    let types: Vec<u32> = ev.iter().map(|(t, _)| *t).collect();
    assert_eq!(types, [EVENT_NEW, EVENT_UPDATE, EVENT_DESTROY]);
    let (_, new) = &ev[0];
    assert_eq!(
        new.tuple(Dir::Orig).addr(Side::Src),
        Some("1.1.1.1".parse().unwrap())
    );
    assert_eq!(
        new.tuple(Dir::Orig).addr(Side::Dst),
        Some("2.2.2.2".parse().unwrap())
    );
    assert_eq!(
        (
            new.tuple(Dir::Orig).port(Side::Src),
            new.tuple(Dir::Orig).port(Side::Dst)
        ),
        (Some(1), Some(2))
    );
    assert_eq!(
        new.tuple(Dir::Reply).addr(Side::Src),
        Some("2.2.2.2".parse().unwrap())
    );
    assert_eq!(
        (new.zone(), new.mark(), new.tcp_state()),
        (None, Some(5), Some(conntrack::TcpState::Established))
    );
    assert!(new.timeout().is_some_and(|t| t > 1200 && t <= 1234));
    assert_eq!(ev[1].1.mark(), Some(9));
    assert_eq!(ev[2].1.tuple(Dir::Orig), new.tuple(Dir::Orig));
    assert_eq!(ev[2].1.id(), new.id());
    assert_eq!(l.overruns(), 0);
}

#[test]
fn a_filtered_listener_sees_only_what_matches() {
    let ns = Netns::make("filt");
    let mut l = Listener::open_netns(&ns.0, EVENT_NEW | EVENT_DESTROY).unwrap();
    let mut f = Filter::new();
    f.set_zone(5).unwrap();
    f.set_proto(proto::UDP);
    l.set_filter(Some(f)).unwrap();
    ns.sh(
        "conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -t 100 -w 6 && \
         conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -t 100 -w 5 && \
         conntrack -D -w 6 && conntrack -D -w 5",
    );
    let ev = collect(&mut l, 2);
    assert!(ev.iter().all(|(_, e)| e.zone() == Some(5)));
    assert_eq!(ev[0].0, EVENT_NEW);
    assert_eq!(ev[1].0, EVENT_DESTROY);
    // Nothing else is queued: the zone-6 events were dropped by the kernel's socket filter,
    // never reaching the socket.
    assert_eq!(l.receive(0, |_, _| ControlFlow::Continue(())).unwrap(), 0);
    assert_eq!(
        l.received(),
        2,
        "only the matching events reached the socket"
    );
}

#[test]
fn a_zone_filter_takes_a_zone_of_one_direction_as_the_kernel_does() {
    let ns = Netns::make("dirzone");
    let mut l = Listener::open_netns(&ns.0, EVENT_NEW).unwrap();
    let mut f = Filter::new();
    f.set_zone(5).unwrap();
    l.set_filter(Some(f)).unwrap();
    // Zone 5 of both directions, of one direction each, zone 6 of one direction, no zone,
    // and zone 5 again last: what matches arrives in order, ending with port 9.
    ns.sh(
        "c='conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --dport 53 -t 100'; \
         $c --sport 1 -w 5 && $c --sport 2 --orig-zone 5 && $c --sport 3 --reply-zone 5 && \
         $c --sport 4 --orig-zone 6 && $c --sport 5 --reply-zone 6 && $c --sport 6 && \
         $c --sport 9 -w 5",
    );
    let ports: Vec<u16> = collect(&mut l, 4)
        .iter()
        .map(|(_, e)| e.tuple(Dir::Orig).port(Side::Src).unwrap())
        .collect();
    assert_eq!(ports, [1, 2, 3, 9]);
    assert_eq!(l.receive(0, |_, _| ControlFlow::Continue(())).unwrap(), 0);
    // The socket filter dropped the other zones' events; the zone-0 one (no zone attribute
    // at all) is the library's to drop.
    assert_eq!(l.received(), 5, "what reached the socket");
}

#[test]
fn the_descriptor_wakes_for_events_and_times_out_without() {
    let ns = Netns::make("poll");
    let mut l = Listener::open_netns(&ns.0, EVENT_NEW).unwrap();
    let poll = |fd: i32, ms: i32| {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        unsafe { libc::poll(&mut p, 1, ms) }
    };
    assert_eq!(poll(l.fd(), 50), 0, "no event yet: poll times out");
    assert_eq!(
        l.receive(50, |_, _| ControlFlow::Continue(())).unwrap(),
        0,
        "receive times out too"
    );
    ns.sh("conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -t 100");
    assert_eq!(
        poll(l.fd(), 5000),
        1,
        "the event makes the descriptor readable"
    );
    assert_eq!(
        l.receive(0, |t, _| {
            assert_eq!(t, EVENT_NEW);
            ControlFlow::Continue(())
        })
        .unwrap(),
        1
    );
}

#[test]
fn a_tiny_buffer_under_a_burst_reports_an_overrun_and_keeps_working() {
    let ns = Netns::make("ovr");
    let mut l = Listener::open_netns(&ns.0, EVENT_NEW).unwrap();
    l.set_receive_buffer(4096).unwrap();
    let mut h = Handle::open_netns(&ns.0).unwrap();
    let mk = |i: u32| {
        let mut e = Entry::new();
        e.set_proto(proto::UDP).unwrap();
        e.set_addr(
            Dir::Orig,
            Side::Src,
            format!("10.0.{}.{}", i / 250, i % 250 + 1).parse().unwrap(),
        )
        .unwrap();
        e.set_addr(Dir::Orig, Side::Dst, "10.9.9.9".parse().unwrap())
            .unwrap();
        e.set_port(Dir::Orig, Side::Src, 1).unwrap();
        e.set_port(Dir::Orig, Side::Dst, 2).unwrap();
        e.set_timeout(100);
        e
    };
    let mut b = Batch::new();
    for i in 0..2000 {
        b.add(Op::Create, &mk(i));
    }
    h.send_batch("burst", &mut b).unwrap();
    let mut seen = 0usize;
    let mut overrun = None;
    loop {
        match l.receive(0, |_, _| ControlFlow::Continue(())) {
            Ok(0) => break,
            Ok(n) => seen += n,
            Err(e) => {
                overrun = Some(e);
                break;
            }
        }
    }
    let e = overrun.expect("2,000 events into a 4 KiB buffer must overflow it");
    assert_eq!(e.kind, Kind::Overrun);
    assert_eq!(l.overruns(), 1);
    assert!(seen < 2000);
    // Drain what is left, then the listener goes on with new events.
    while l.receive(0, |_, _| ControlFlow::Continue(())).unwrap_or(1) > 0 {}
    h.create(&mk(5000)).unwrap();
    let ev = collect(&mut l, 1);
    assert_eq!(
        ev[0].1.tuple(Dir::Orig).addr(Side::Src),
        Some("10.0.20.1".parse().unwrap())
    );
}

#[test]
fn events_arrive_in_autodetect_mode_or_in_the_kernels_only_mode() {
    // nf_conntrack_events=2 records events only while a listener exists (the default of a
    // new namespace on Debian 12's 6.1): entries made after subscribing still report.
    // Kernels without that mode (5.10) refuse 2 and keep 1, where every entry reports, even
    // one made before the listener subscribed: its destroy arrives too.
    let ns = Netns::make("auto");
    let autodetect = ns.try_sh("sysctl -qw net.netfilter.nf_conntrack_events=2");
    let mode = ns.sh("cat /proc/sys/net/netfilter/nf_conntrack_events");
    assert_eq!(mode.trim(), if autodetect { "2" } else { "1" });
    if !autodetect {
        ns.sh("conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 7 --dport 7 -t 100");
    }
    let mut l = Listener::open_netns(&ns.0, EVENT_NEW | EVENT_DESTROY).unwrap();
    ns.sh("conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -t 100 && conntrack -D");
    let ev = collect(&mut l, if autodetect { 2 } else { 3 });
    let seen: Vec<_> = ev
        .iter()
        .map(|(t, e)| (*t, e.tuple(Dir::Orig).port(Side::Src)))
        .collect();
    if autodetect {
        assert_eq!(seen, [(EVENT_NEW, Some(1)), (EVENT_DESTROY, Some(1))]);
    } else {
        assert_eq!(seen[0], (EVENT_NEW, Some(1)));
        let mut destroyed = [seen[1], seen[2]];
        destroyed.sort();
        assert_eq!(
            destroyed,
            [(EVENT_DESTROY, Some(1)), (EVENT_DESTROY, Some(7))]
        );
    }
}

#[test]
fn the_socket_filter_drops_by_family_mark_and_protocol_in_the_kernel() {
    let ns = Netns::make("bpf");
    let mut l = Listener::open_netns(&ns.0, EVENT_NEW).unwrap();
    let mut f = Filter::new();
    f.set_family(2).unwrap();
    f.set_mark(0x10, 0xf0);
    f.set_proto(proto::TCP);
    l.set_filter(Some(f.clone())).unwrap();
    ns.sh(
        "conntrack -I -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 --state ESTABLISHED -t 100 -m 0x11 && \
         conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 1 --dport 2 -t 100 -m 0x11 && \
         conntrack -I -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 3 --dport 2 --state ESTABLISHED -t 100 -m 0x21 && \
         conntrack -I -p tcp -s fd00::1 -d fd00::2 --sport 1 --dport 2 --state ESTABLISHED -t 100 -m 0x11 && \
         conntrack -I -p tcp -s 1.1.1.1 -d 2.2.2.2 --sport 4 --dport 2 --state ESTABLISHED -t 100 -m 0x1f",
    );
    let ev = collect(&mut l, 2);
    let ports: Vec<_> = ev
        .iter()
        .map(|(_, e)| e.tuple(Dir::Orig).port(Side::Src))
        .collect();
    assert_eq!(ports, [Some(1), Some(4)]);
    assert_eq!(l.receive(0, |_, _| ControlFlow::Continue(())).unwrap(), 0);
    assert_eq!(l.received(), 2, "the kernel dropped the other three");
    // The same filter left to the library delivers the same, after receiving all five.
    let mut l2 = Listener::open_netns(&ns.0, EVENT_DESTROY).unwrap();
    f.set_kernel_filtering(false);
    l2.set_filter(Some(f)).unwrap();
    ns.sh("conntrack -F");
    let ev = collect(&mut l2, 2);
    assert_eq!(ev.len(), 2);
    assert_eq!(l2.receive(0, |_, _| ControlFlow::Continue(())).unwrap(), 0);
    assert_eq!(l2.received(), 5);
}

#[test]
fn a_callback_that_stops_leaves_the_rest_for_the_next_call() {
    let ns = Netns::make("stop");
    let mut l = Listener::open_netns(&ns.0, EVENT_NEW).unwrap();
    ns.sh(
        "for p in 1 2 3; do echo \"-I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport $p --dport 9 -t 100\"; done \
         | conntrack -R -",
    );
    let mut first = Vec::new();
    // Wait for the first, and stop right after it.
    while first.is_empty() {
        assert!(l
            .receive(5000, |_, e| {
                first.push(e.tuple(Dir::Orig).port(Side::Src));
                ControlFlow::Break(())
            })
            .is_ok());
    }
    let rest = collect(&mut l, 2);
    let mut all: Vec<_> = first
        .into_iter()
        .chain(rest.iter().map(|(_, e)| e.tuple(Dir::Orig).port(Side::Src)))
        .collect();
    all.sort();
    assert_eq!(all, [Some(1), Some(2), Some(3)]);
}

#[test]
fn stopping_after_every_event_loses_none_of_a_batch_read_at_once_and_keeps_their_order() {
    // 300 events queued before the first receive: they are read many datagrams a system
    // call, so each stop leaves the rest of that read for the next calls.
    let ns = Netns::make("stopmany");
    let mut l = Listener::open_netns(&ns.0, EVENT_NEW).unwrap();
    ns.sh(
        "for p in $(seq 1 300); do echo \"-I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport $p --dport 9 -t 100\"; done \
         | conntrack -R -",
    );
    let mut ports = Vec::new();
    let mut idle = 0;
    while ports.len() < 300 {
        let n = l
            .receive(5000, |_, e| {
                ports.push(e.tuple(Dir::Orig).port(Side::Src).unwrap());
                ControlFlow::Break(())
            })
            .unwrap();
        assert!(n <= 1, "a stop ends the call");
        if n == 0 {
            idle += 1;
            assert!(idle < 3, "only {} of 300 events arrived", ports.len());
        }
    }
    assert_eq!(ports, (1..=300).collect::<Vec<u16>>());
    assert_eq!(
        l.receive(0, |_, _| ControlFlow::Continue(())).unwrap(),
        0,
        "none delivered twice"
    );
}
