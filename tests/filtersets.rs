//! Filter sets, NAT filters and deletes overlapped with their dump, against the real kernel.
//! Each test makes its own network namespace; the `conntrack` tool is the oracle.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use conntrack::batch::{Batch, Op};
use conntrack::entry::{proto, Dir, Side};
use conntrack::filter::Cidr;
use conntrack::filterset::FilterSet;
use conntrack::nat::{Nat, NatKind};
use conntrack::{Entry, Filter, Handle};

mod common;
use common::Netns;

/// One entry of the test table, as the model knows it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    zone: u16,
    proto: u8,
    src: String,
    dport: u16,
}

/// The table: in zones 1, 2 and 3, 60 UDP/IPv4 entries 10.0.Z.I -> 10.9.0.1:53, 20
/// TCP/IPv4 entries 10.1.Z.I -> 10.9.0.1:80 and 20 UDP/IPv6 entries fd00::Z:I ->
/// fd00::99:53.
fn model() -> Vec<Row> {
    let mut v = Vec::new();
    for z in 1..=3u16 {
        for i in 1..=60 {
            v.push(Row {
                zone: z,
                proto: proto::UDP,
                src: format!("10.0.{z}.{i}"),
                dport: 53,
            });
        }
        for i in 1..=20 {
            v.push(Row {
                zone: z,
                proto: proto::TCP,
                src: format!("10.1.{z}.{i}"),
                dport: 80,
            });
        }
        for i in 1..=20 {
            v.push(Row {
                zone: z,
                proto: proto::UDP,
                src: format!("fd00::{z}:{i}"),
                dport: 53,
            });
        }
    }
    v
}

fn entry_of(r: &Row) -> Entry {
    let mut e = Entry::new();
    e.set_proto(r.proto).unwrap();
    let v6 = r.src.contains(':');
    e.set_addr(Dir::Orig, Side::Src, r.src.parse().unwrap())
        .unwrap();
    let dst = if v6 { "fd00::99" } else { "10.9.0.1" };
    e.set_addr(Dir::Orig, Side::Dst, dst.parse().unwrap())
        .unwrap();
    e.set_port(Dir::Orig, Side::Src, 1000).unwrap();
    e.set_port(Dir::Orig, Side::Dst, r.dport).unwrap();
    e.set_zone(r.zone.into()).unwrap();
    if r.proto == proto::TCP {
        e.set_tcp_state(3).unwrap(); // ESTABLISHED
    }
    e.set_timeout(600);
    e
}

fn fill(h: &mut Handle) {
    let mut b = Batch::new();
    for r in model() {
        b.add(Op::Create, &entry_of(&r));
    }
    h.send_batch("fill", &mut b).unwrap();
    assert_eq!(b.failed(), 0);
}

fn row_of(e: &Entry) -> Row {
    Row {
        zone: e.zone().unwrap_or(0),
        proto: e.proto().unwrap(),
        src: e.tuple(Dir::Orig).addr(Side::Src).unwrap().to_string(),
        dport: e.tuple(Dir::Orig).port(Side::Dst).unwrap(),
    }
}

/// The rows `conntrack -L ARGS` lists (zone by zone, so the zone is known for each line).
fn tool_rows(ns: &Netns, args: &str) -> BTreeSet<Row> {
    tool_rows_in(ns, None, args)
}

/// The same, in zone `zone` only (None: every zone of the table).
fn tool_rows_in(ns: &Netns, zone: Option<u16>, args: &str) -> BTreeSet<Row> {
    let mut out = BTreeSet::new();
    for z in 1..=3u16 {
        if zone.is_some_and(|w| w != z) {
            continue;
        }
        for line in ns
            .sh(&format!("conntrack -L -w {z} {args} 2>/dev/null"))
            .lines()
        {
            let field = |k: &str| {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix(k))
                    .unwrap()
                    .to_string()
            };
            let p = if line.starts_with("tcp") {
                proto::TCP
            } else {
                proto::UDP
            };
            out.insert(Row {
                zone: z,
                proto: p,
                src: field("src=")
                    .parse::<std::net::IpAddr>()
                    .unwrap()
                    .to_string(),
                dport: field("dport=").parse().unwrap(),
            });
        }
    }
    out
}

fn src(f: &mut Filter, a: &str) {
    f.set_addr(Dir::Orig, Side::Src, Cidr::parse(a).unwrap())
        .unwrap();
}

/// The sets of 1, 2 and 10,000 filters, each with the `conntrack -L` arguments of every
/// filter (None where the model is the oracle: the 10,000 are checked against the model and,
/// after the delete, against the whole table the tool lists).
type ToolArgs = Vec<(Option<u16>, &'static str)>;

fn sets() -> Vec<(&'static str, Vec<Filter>, ToolArgs)> {
    let mut one = Filter::new();
    src(&mut one, "10.0.1.5");
    let mut tcp2 = Filter::new();
    tcp2.set_zone(2).unwrap();
    tcp2.set_proto(proto::TCP);
    let mut v6 = Filter::new();
    v6.set_family(10).unwrap();
    v6.set_proto(proto::UDP);
    v6.set_port(Dir::Orig, Side::Dst, 53);
    v6.set_zone(3).unwrap();
    let mut many = Vec::new();
    // 9,996 addresses, zones 1 to 3 in turn: the odd ones of 10.0.Z.0/24 (those up to 59
    // exist), then addresses that match nothing, as stale filters do.
    for j in 0..9_996u32 {
        let mut f = Filter::new();
        let (z, k) = (1 + j % 3, j / 3);
        let a = if k < 128 {
            format!("10.0.{z}.{}", 2 * k + 1)
        } else {
            format!("10.{}.{z}.{}", 100 + k / 250, k % 250 + 1)
        };
        src(&mut f, &a);
        f.set_proto(proto::UDP);
        f.set_zone(z).unwrap();
        many.push(f);
    }
    // And kinds the index files elsewhere: a prefix, a port, a zone with a protocol, IPv6.
    let mut prefix = Filter::new();
    src(&mut prefix, "10.1.1.0/28");
    many.push(prefix);
    let mut port = Filter::new();
    port.set_port(Dir::Orig, Side::Dst, 80);
    port.set_zone(3).unwrap();
    many.push(port);
    many.push(tcp2.clone());
    many.push(v6.clone());
    vec![
        ("one", vec![one], vec![(None, "-s 10.0.1.5")]),
        (
            "two",
            vec![tcp2, v6],
            vec![(Some(2), "-p tcp"), (Some(3), "-f ipv6 -p udp --dport 53")],
        ),
        ("10000", many, vec![]),
    ]
}

/// What the model says a set of the shapes above matches (an independent statement of the
/// filters, for the 10,000).
fn model_match(name: &str, r: &Row) -> bool {
    let last: u32 = r
        .src
        .rsplit(['.', ':'])
        .next()
        .unwrap()
        .parse()
        .unwrap_or(0);
    let v6 = r.src.contains(':');
    let tcp2 = r.zone == 2 && r.proto == proto::TCP;
    let v6z3 = v6 && r.zone == 3;
    match name {
        "10000" => {
            (r.src.starts_with("10.0.") && last % 2 == 1)
                || (r.src.starts_with("10.1.1.") && last < 16)
                || (r.dport == 80 && r.zone == 3)
                || tcp2
                || v6z3
        }
        _ => unreachable!(),
    }
}

#[test]
fn filter_sets_list_and_delete_exactly_the_union_on_both_paths() {
    let ns = Netns::new("ctfs", "union");
    let mut h = Handle::open_netns(&ns.0).unwrap();
    for (name, filters, args) in sets() {
        for userspace in [false, true] {
            let mut set = FilterSet::new();
            for f in &filters {
                let mut f = f.clone();
                f.set_kernel_filtering(!userspace);
                set.add(&f).unwrap();
            }
            h.flush().unwrap();
            fill(&mut h);
            let all: BTreeSet<Row> = model().into_iter().collect();
            assert_eq!(tool_rows(&ns, ""), all, "the table as the tool lists it");
            let want: BTreeSet<Row> = if args.is_empty() {
                all.iter()
                    .filter(|r| model_match(name, r))
                    .cloned()
                    .collect()
            } else {
                args.iter()
                    .flat_map(|(z, a)| tool_rows_in(&ns, *z, a))
                    .collect()
            };
            assert!(
                !want.is_empty() && want.len() < all.len(),
                "{name}: {}",
                want.len()
            );
            let mut got = BTreeSet::new();
            h.dump_any(&set, |e| {
                assert!(got.insert(row_of(e)), "{name}: listed twice");
                ControlFlow::Continue(())
            })
            .unwrap();
            assert_eq!(got, want, "{name} (user space: {userspace}): listed");
            let n = h.delete_matching_any(&set).unwrap();
            assert_eq!(n, want.len() as u64, "{name}: counted");
            let left = tool_rows(&ns, "");
            let expect_left: BTreeSet<Row> = all.difference(&want).cloned().collect();
            assert_eq!(left, expect_left, "{name} (user space: {userspace}): left");
        }
    }
    // An empty set matches nothing and deletes nothing.
    assert_eq!(h.delete_matching_any(&FilterSet::new()).unwrap(), 0);
    assert!(!tool_rows(&ns, "").is_empty());
}

#[test]
fn nat_filters_match_what_the_tool_lists() {
    let ns = Netns::new("ctfs", "nat");
    let mut h = Handle::open_netns(&ns.0).unwrap();
    let make = "conntrack -I -p udp -s 10.1.0.1 -d 10.2.0.1 --sport 1000 --dport 53 -t 100 --src-nat 192.168.9.9 && \
         conntrack -I -p tcp -s 10.1.0.2 -d 10.2.0.1 --sport 1001 --dport 80 --state ESTABLISHED -t 100 --dst-nat 172.16.0.5:8080 && \
         conntrack -I -p udp -s 10.1.0.3 -d 10.2.0.1 --sport 1002 --dport 53 -t 100 && \
         conntrack -I -p udp -s 10.1.0.4 -d 10.2.0.1 --sport 1003 --dport 53 -t 100 --src-nat 192.168.9.9:4000 && \
         conntrack -I -p udp -s 10.1.0.5 -d 10.2.0.1 --sport 1004 --dport 53 -t 100 --dst-nat 172.16.0.6 && \
         conntrack -I -p tcp -s 10.1.0.6 -d 10.2.0.1 --sport 1005 --dport 80 --state ESTABLISHED -t 100 && \
         conntrack -I -p udp -s 10.1.0.7 -d 10.2.0.1 --sport 1006 --dport 53 -t 100 --src-nat 192.168.9.8";
    let cases: Vec<(NatKind, Option<&str>, &str)> = vec![
        (NatKind::Src, None, "--src-nat"),
        (NatKind::Src, Some("192.168.9.9"), "--src-nat 192.168.9.9"),
        (
            NatKind::Src,
            Some("192.168.9.9:4000"),
            "--src-nat 192.168.9.9:4000",
        ),
        (NatKind::Dst, None, "--dst-nat"),
        (NatKind::Dst, Some("172.16.0.5"), "--dst-nat 172.16.0.5"),
        (
            NatKind::Dst,
            Some("172.16.0.5:8080"),
            "--dst-nat 172.16.0.5:8080",
        ),
        (NatKind::Any, None, "--any-nat"),
        (NatKind::Any, Some("192.168.9.9"), "--any-nat 192.168.9.9"),
        (NatKind::Any, Some("172.16.0.6"), "--any-nat 172.16.0.6"),
    ];
    // Zone 0: conntrack 1.4.7 lists nothing for `-w ZONE --any-nat ADDR`.
    let srcs = |ns: &Netns, args: &str| -> BTreeSet<String> {
        ns.sh(&format!("conntrack -L {args} 2>/dev/null"))
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("src="))
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    ns.sh(make);
    let mut union = BTreeSet::new();
    let mut set = FilterSet::new();
    for (kind, text, args) in &cases {
        let mut f = Filter::new();
        f.set_nat(Nat::parse(*kind, *text).unwrap()).unwrap();
        let want = srcs(&ns, args);
        assert!(!want.is_empty(), "{args}");
        let got: BTreeSet<String> = h
            .list(Some(&f))
            .unwrap()
            .iter()
            .map(|e| e.tuple(Dir::Orig).addr(Side::Src).unwrap().to_string())
            .collect();
        assert_eq!(got, want, "{args}");
        if *kind != NatKind::Any {
            union.extend(want);
            set.add(&f).unwrap();
        }
    }
    // In a set, beside a plain filter.
    let mut plain = Filter::new();
    src(&mut plain, "10.1.0.6");
    set.add(&plain).unwrap();
    union.insert("10.1.0.6".into());
    let mut got = BTreeSet::new();
    h.dump_any(&set, |e| {
        got.insert(e.tuple(Dir::Orig).addr(Side::Src).unwrap().to_string());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(got, union);
    // Delete and flush by NAT: exactly what the tool lists goes.
    for userspace in [false, true] {
        for (kind, args) in [(NatKind::Src, "--src-nat"), (NatKind::Any, "--any-nat")] {
            ns.sh("conntrack -F 2>/dev/null");
            ns.sh(make);
            let mut f = Filter::new();
            f.set_nat(Nat::parse(kind, None).unwrap()).unwrap();
            f.set_kernel_filtering(!userspace);
            let want = srcs(&ns, args);
            let all = srcs(&ns, "");
            assert_eq!(h.delete_matching(&f).unwrap(), want.len() as u64, "{args}");
            assert!(srcs(&ns, args).is_empty());
            assert_eq!(srcs(&ns, ""), all.difference(&want).cloned().collect());
            ns.sh("conntrack -F 2>/dev/null");
            ns.sh(make);
            assert_eq!(
                h.flush_matching(&f).unwrap(),
                Some(want.len() as u64),
                "{args}"
            );
            assert_eq!(srcs(&ns, ""), all.difference(&want).cloned().collect());
        }
    }
}

#[test]
fn delete_matching_while_another_handle_creates_and_deletes_in_the_zone() {
    let ns = Netns::new("ctfs", "churn");
    let mut h = Handle::open_netns(&ns.0).unwrap();
    let n = 30_000u32;
    let mut b = Batch::new();
    for i in 0..n {
        let mut e = entry_of(&Row {
            zone: 5,
            proto: proto::UDP,
            src: format!("10.5.{}.{}", i / 250, i % 250 + 1),
            dport: 53,
        });
        e.set_port(Dir::Orig, Side::Src, 1000).unwrap();
        b.add(Op::Create, &e);
    }
    h.send_batch("fill", &mut b).unwrap();
    assert_eq!(b.failed(), 0);
    let stop = AtomicBool::new(false);
    let created = AtomicU64::new(0);
    let (deleted, rounds) = std::thread::scope(|s| {
        let churn = s.spawn(|| {
            let mut other = Handle::open_netns(&ns.0).unwrap();
            let mut rounds = 0u32;
            // Create and delete in the same zone until the delete below is over (and at
            // least twice, so the churn overlaps it).
            while !stop.load(Ordering::Relaxed) || rounds < 2 {
                let mut b = Batch::new();
                for i in 0..500u32 {
                    let mut e = entry_of(&Row {
                        zone: 5,
                        proto: proto::UDP,
                        src: format!("10.6.{}.{}", rounds % 200, i % 250 + 1),
                        dport: 53 + (i / 250) as u16,
                    });
                    e.set_port(Dir::Orig, Side::Src, 2000).unwrap();
                    b.add(Op::Create, &e);
                }
                other.send_batch("churn create", &mut b).unwrap();
                created.fetch_add((500 - b.failed()) as u64, Ordering::Relaxed);
                let mut d = Batch::new();
                for i in (0..500u32).step_by(2) {
                    let mut e = entry_of(&Row {
                        zone: 5,
                        proto: proto::UDP,
                        src: format!("10.6.{}.{}", rounds % 200, i % 250 + 1),
                        dport: 53 + (i / 250) as u16,
                    });
                    e.set_port(Dir::Orig, Side::Src, 2000).unwrap();
                    d.add(Op::Delete, &e);
                }
                // Some of these are ours to lose to the delete-matching: not checked.
                other.send_batch("churn delete", &mut d).unwrap();
                rounds += 1;
            }
            rounds
        });
        let mut zone = Filter::new();
        zone.set_zone(5).unwrap();
        zone.set_kernel_filtering(false);
        let r = h.delete_matching(&zone);
        stop.store(true, Ordering::Relaxed);
        (r, churn.join().unwrap())
    });
    let deleted = deleted.expect("no error while another handle churns the zone");
    assert!(rounds >= 2);
    let made = created.load(Ordering::Relaxed);
    assert!(
        deleted >= n as u64 && deleted <= n as u64 + made,
        "deleted {deleted}: the {n} that existed, and at most the {made} made meanwhile"
    );
    let left = ns.sh("conntrack -L -w 5 -s 10.5.0.0/16 2>/dev/null | wc -l");
    assert_eq!(
        left.trim(),
        "0",
        "a match that existed before the call survived"
    );
}
