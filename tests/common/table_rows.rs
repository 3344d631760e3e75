//! The entries the mirror's kernel tests and its benchmark make, and the rows they compare
//! tables by (shared by tests/mirror.rs and examples/mirror_bench.rs).

use std::collections::BTreeSet;
use std::net::IpAddr;

use conntrack::entry::{proto, Dir, Side};
use conntrack::Entry;

/// UDP entry `i` of `zone`: 10.0.0.0 + i/1024 + 1, port 1024 + i%1024, to 10.200.0.1:53.
pub fn udp(i: u32, zone: u16) -> Entry {
    let mut e = Entry::new();
    e.set_proto(proto::UDP).unwrap();
    let src = IpAddr::from((0x0a00_0000 + i / 1024 + 1).to_be_bytes());
    e.set_addr(Dir::Orig, Side::Src, src).unwrap();
    e.set_addr(Dir::Orig, Side::Dst, "10.200.0.1".parse().unwrap())
        .unwrap();
    e.set_port(Dir::Orig, Side::Src, 1024 + (i % 1024) as u16)
        .unwrap();
    e.set_port(Dir::Orig, Side::Dst, 53).unwrap();
    e.set_zone(u32::from(zone)).unwrap();
    e.set_timeout(3600);
    e
}

/// What identifies an entry and what events change: tuple, zone, mark, status, id.
pub type Row = (String, u16, u32, u32, Option<u32>);

/// The original tuple as "SRC DST SPORT DPORT".
pub fn tuple_text(e: &Entry) -> String {
    let t = e.tuple(Dir::Orig);
    format!(
        "{} {} {} {}",
        t.addr(Side::Src).unwrap(),
        t.addr(Side::Dst).unwrap(),
        t.port(Side::Src).unwrap_or(0),
        t.port(Side::Dst).unwrap_or(0)
    )
}

pub fn row(e: &Entry) -> Row {
    (
        tuple_text(e),
        e.zone().unwrap_or(0),
        e.mark().unwrap_or(0),
        e.status().map_or(0, |s| s.bits()),
        e.id(),
    )
}

/// (tuple, zone, mark, id) of every line of `conntrack -L -o id` output.
pub fn tool_rows(out: &str) -> BTreeSet<(String, u16, u32, Option<u32>)> {
    out.lines()
        .map(|l| {
            let field = |name: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(name))
                    .map(str::to_string)
            };
            let tuple = format!(
                "{} {} {} {}",
                field("src=").unwrap(),
                field("dst=").unwrap(),
                field("sport=").unwrap_or_else(|| "0".into()),
                field("dport=").unwrap_or_else(|| "0".into())
            );
            let zone = field("zone=").map_or(0, |z| z.parse().unwrap());
            let mark = field("mark=").map_or(0, |m| m.parse().unwrap());
            let id = field("id=").map(|i| i.parse().unwrap());
            (tuple, zone, mark, id)
        })
        .collect()
}
