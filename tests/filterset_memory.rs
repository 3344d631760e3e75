//! Resident memory of a delete of 200,000 matches (a test binary of its own: the peak is
//! the process's, which other tests running beside it would raise).

use conntrack::batch::{Batch, Op};
use conntrack::entry::{proto, Dir, Side};
use conntrack::filter::Cidr;
use conntrack::filterset::FilterSet;
use conntrack::{Entry, Filter, Handle};

mod common;
use common::Netns;

/// A field of /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn deleting_200000_matches_holds_resident_growth_under_16_mib() {
    let ns = Netns::new("ctfm", "rss");
    let mut h = Handle::open_netns(&ns.0).unwrap();
    let n = 200_000u32;
    let mut b = Batch::new();
    for start in (0..n).step_by(10_000) {
        b.clear();
        for i in start..start + 10_000 {
            let mut e = Entry::new();
            e.set_proto(proto::UDP).unwrap();
            let src = std::net::Ipv4Addr::from((10u32 << 24) | ((i >> 10) + 1));
            e.set_addr(Dir::Orig, Side::Src, src.into()).unwrap();
            e.set_addr(Dir::Orig, Side::Dst, "10.200.0.1".parse().unwrap())
                .unwrap();
            e.set_port(Dir::Orig, Side::Src, 1024 + (i & 1023) as u16)
                .unwrap();
            e.set_port(Dir::Orig, Side::Dst, 53).unwrap();
            e.set_zone(4).unwrap();
            e.set_timeout(600);
            b.add(Op::Create, &e);
        }
        h.send_batch("fill", &mut b).unwrap();
        assert_eq!(b.failed(), 0);
    }
    drop(b);
    // Two filters that together cover the table: one per half of the sources.
    let mut set = FilterSet::new();
    for prefix in ["10.0.0.0/23", "10.0.2.0/23"] {
        let mut f = Filter::new();
        f.set_zone(4).unwrap();
        f.set_addr(Dir::Orig, Side::Src, Cidr::parse(prefix).unwrap())
            .unwrap();
        set.add(&f).unwrap();
    }
    // Resets the peak (VmHWM) to the current resident size.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmRSS");
    let deleted = h.delete_matching_any(&set).unwrap();
    let growth = status_kib("VmHWM").saturating_sub(before);
    assert_eq!(deleted, n as u64);
    assert_eq!(ns.sh("conntrack -C").trim(), "0");
    eprintln!("deleting {n} matches: resident peak +{growth} KiB");
    assert!(growth < 16 * 1024, "resident growth {growth} KiB");
}
