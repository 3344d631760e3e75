//! Filters: what the kernel is asked to filter, and the same test applied in the library,
//! so a filter gives the same entries on every kernel.

use std::net::IpAddr;

use crate::codec::{DumpFilter, TupleFilter};
use crate::entry::{Dir, Entry, Side, AF_INET, AF_INET6};
use crate::error::{Error, Result};
use crate::kernel::Kernel;

/// An address with a prefix length; a plain address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub(crate) addr: IpAddr,
    pub(crate) prefix: u8,
}

impl Cidr {
    /// Parses "1.2.3.4", "1.2.3.0/24", "fe80::1" or "fe80::/64".
    pub fn parse(text: &str) -> Result<Cidr> {
        let (a, p) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| Error::invalid(format!("'{text}' is not an IP address or prefix")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                Error::invalid(format!("'{text}': prefix length must be 0..{max}"))
            })?,
        };
        Ok(Cidr::new(addr, prefix))
    }

    /// The prefix `addr/prefix` with its host bits cleared (prefix capped at the maximum).
    pub fn new(addr: IpAddr, prefix: u8) -> Cidr {
        let addr = match addr {
            IpAddr::V4(a) => {
                let p = prefix.min(32);
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let p = prefix.min(128);
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                IpAddr::V6((u128::from(a) & mask).into())
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        Cidr {
            addr,
            prefix: prefix.min(max),
        }
    }

    /// The network address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The prefix length of a single address of this family (32 or 128).
    pub fn max_prefix(&self) -> u8 {
        if self.addr.is_ipv4() {
            32
        } else {
            128
        }
    }

    /// Whether `a` is inside the prefix.
    pub fn contains(&self, a: &IpAddr) -> bool {
        match (a, self.addr) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                Cidr::new(*a, self.prefix).addr == self.addr
            }
            _ => false,
        }
    }
}

/// Index of an (direction, side) pair in the address and port arrays.
pub fn slot(dir: Dir, side: Side) -> usize {
    (match dir {
        Dir::Orig => 0,
        Dir::Reply => 2,
    }) + match side {
        Side::Src => 0,
        Side::Dst => 1,
    }
}

/// What a dump reads: the table, the table while zeroing the counters it reads (`conntrack -L
/// -z`), or the kernel's lists of dying and of unconfirmed entries (`conntrack -L dying`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// The table.
    #[default]
    Table,
    /// The table; each entry's packet and byte counters are zeroed as it is read.
    TableZeroCounters,
    /// Entries being destroyed (the kernel filters nothing of this list).
    Dying,
    /// Entries not yet confirmed (the kernel filters nothing of this list).
    Unconfirmed,
}

crate_fields! {
/// A filter over entries. Every field left unset matches everything. The kernel applies
/// what it can (which depends on its version) and the library checks every field again, so
/// results are the same on every kernel.
///
/// ```no_run
/// use conntrack::{Cidr, Dir, Filter, Handle, Side};
///
/// # fn main() -> conntrack::Result<()> {
/// let mut f = Filter::new();
/// f.set_zone(7)?;
/// f.set_addr(Dir::Orig, Side::Src, Cidr::parse("10.0.0.0/8")?)?;
/// let gone = Handle::open()?.delete_matching(&f)?;
/// println!("{gone} entries deleted");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Layer-3 family.
    pub family: Option<u8>,
    /// Layer-4 protocol.
    pub proto: Option<u8>,
    /// Zone (an entry without a zone is in zone 0).
    pub zone: Option<u16>,
    /// (mark, mask): matches when entry.mark & mask == mark & mask.
    pub mark: Option<(u32, u32)>,
    /// (status bits, mask): matches when entry.status & mask == bits & mask.
    pub status: Option<(u32, u32)>,
    /// Addresses, by [`slot`]: orig src, orig dst, reply src, reply dst.
    pub addrs: [Option<Cidr>; 4],
    /// Ports, by [`slot`].
    pub ports: [Option<u16>; 4],
    /// Source, destination or any NAT, as conntrack(8) means them (matched in the library).
    pub nat: Option<crate::nat::Nat>,
    /// Ask the kernel to filter nothing (everything is matched in the library); for tests and
    /// benchmarks of the fallback path.
    pub userspace_only: bool,
    /// What dumps read; deletes and flushes always work on the table.
    pub source: Source,
}
}

impl Filter {
    /// An empty filter (matches everything).
    pub fn new() -> Filter {
        Filter::default()
    }

    /// The layer-3 family asked for.
    pub fn family(&self) -> Option<u8> {
        self.family
    }

    /// The layer-4 protocol asked for.
    pub fn proto(&self) -> Option<u8> {
        self.proto
    }

    /// Sets the layer-4 protocol (any number: an entry of another protocol does not match).
    pub fn set_proto(&mut self, p: u8) {
        self.proto = Some(p);
    }

    /// The zone asked for.
    pub fn zone(&self) -> Option<u16> {
        self.zone
    }

    /// The mark and mask asked for.
    pub fn mark(&self) -> Option<(u32, u32)> {
        self.mark
    }

    /// Matches entries whose mark & `mask` equals `mark` & `mask`.
    pub fn set_mark(&mut self, mark: u32, mask: u32) {
        self.mark = Some((mark, mask));
    }

    /// The status bits and mask asked for.
    pub fn status(&self) -> Option<(u32, u32)> {
        self.status
    }

    /// Matches entries whose status & `mask` equals `bits` & `mask`.
    pub fn set_status(&mut self, bits: u32, mask: u32) {
        self.status = Some((bits, mask));
    }

    /// The address or prefix asked for on (`dir`, `side`).
    pub fn addr(&self, dir: Dir, side: Side) -> Option<Cidr> {
        self.addrs[slot(dir, side)]
    }

    /// The port (GRE: key) asked for on (`dir`, `side`).
    pub fn port(&self, dir: Dir, side: Side) -> Option<u16> {
        self.ports[slot(dir, side)]
    }

    /// Matches entries with port (GRE: key) `port` on (`dir`, `side`).
    pub fn set_port(&mut self, dir: Dir, side: Side, port: u16) {
        self.ports[slot(dir, side)] = Some(port);
    }

    /// The NAT condition asked for.
    pub fn nat(&self) -> Option<crate::nat::Nat> {
        self.nat
    }

    /// What dumps read.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Sets what dumps read (deletes and flushes always work on the table).
    pub fn set_source(&mut self, source: Source) {
        self.source = source;
    }

    /// Whether the kernel is asked to filter what it can (the default).
    pub fn kernel_filtering(&self) -> bool {
        !self.userspace_only
    }

    /// `false`: ask the kernel to filter nothing, so every field is matched in the library
    /// (the results are the same; for tests and benchmarks of that path).
    pub fn set_kernel_filtering(&mut self, on: bool) {
        self.userspace_only = !on;
    }

    /// Sets the family; refused when an address of the other family is set.
    pub fn set_family(&mut self, family: u8) -> Result<()> {
        if family != AF_INET && family != AF_INET6 {
            return Err(Error::invalid(format!(
                "family {family} is neither IPv4 (2) nor IPv6 (10)"
            )));
        }
        if self
            .addrs
            .iter()
            .flatten()
            .any(|c| c.addr.is_ipv4() != (family == AF_INET))
        {
            return Err(Error::invalid(
                "family does not match an address of the filter",
            ));
        }
        self.family = Some(family);
        Ok(())
    }

    /// Sets the zone; refused above 65535.
    pub fn set_zone(&mut self, zone: u32) -> Result<()> {
        self.zone = Some(
            u16::try_from(zone)
                .map_err(|_| Error::invalid(format!("zone {zone} is over 65535")))?,
        );
        Ok(())
    }

    /// Sets an address or prefix; refused when its family differs from the filter's.
    pub fn set_addr(&mut self, dir: Dir, side: Side, c: Cidr) -> Result<()> {
        let fam = if c.addr.is_ipv4() { AF_INET } else { AF_INET6 };
        if self.family.is_some_and(|f| f != fam)
            || self
                .addrs
                .iter()
                .flatten()
                .any(|o| o.addr.is_ipv4() != c.addr.is_ipv4())
        {
            return Err(Error::invalid(format!(
                "{}/{} does not match the filter's family",
                c.addr, c.prefix
            )));
        }
        self.addrs[slot(dir, side)] = Some(c);
        Ok(())
    }

    /// Sets the NAT condition; refused when its address's family differs from the filter's
    /// (its family, or that of an address it holds).
    pub fn set_nat(&mut self, n: crate::nat::Nat) -> Result<()> {
        let fam = self.family.or_else(|| {
            self.addrs.iter().flatten().next().map(|c| {
                if c.addr.is_ipv4() {
                    AF_INET
                } else {
                    AF_INET6
                }
            })
        });
        if let (Some(a), Some(b)) = (fam, n.family()) {
            if a != b {
                return Err(Error::invalid(
                    "the NAT address's family differs from the filter's",
                ));
            }
        }
        self.nat = Some(n);
        Ok(())
    }

    /// Whether a dump asks the kernel to filter: not when told not to, nor for the dying and
    /// unconfirmed lists, which the kernel dumps whole.
    pub fn kernel_filters(&self) -> bool {
        !self.userspace_only && matches!(self.source, Source::Table | Source::TableZeroCounters)
    }

    /// The family the kernel is asked for (AF_UNSPEC: both).
    pub fn kernel_family(&self) -> u8 {
        if self.userspace_only {
            return 0;
        }
        self.family
            .or_else(|| {
                self.addrs.iter().flatten().next().map(|c| {
                    if c.addr.is_ipv4() {
                        AF_INET
                    } else {
                        AF_INET6
                    }
                })
            })
            .unwrap_or(0)
    }

    /// The attributes of a dump request that the kernel `k` can filter on. Whatever a
    /// kernel ignores, the library checks again in [`Filter::matches`]; what a kernel would
    /// misread (reply-tuple flags before 5.16) is not sent.
    pub fn kernel_attrs(&self, k: &Kernel) -> Vec<u8> {
        if self.userspace_only {
            return Vec::new();
        }
        let mut d = DumpFilter {
            zone: self.zone,
            mark: self.mark.map(|(m, mask)| (m & mask, mask)),
            status: self.status.map(|(s, mask)| (s & mask, mask)),
            ..DumpFilter::default()
        };
        // Tuple filters need the family in the request, and match exact values only.
        if k.tuple_dump_filter() && self.kernel_family() != 0 {
            d.orig = self.tuple_filter(Dir::Orig);
            if k.reply_tuple_dump_filter() {
                d.reply = self.tuple_filter(Dir::Reply);
            }
        }
        crate::codec::filter_attrs(&d)
    }

    /// The family and attributes of a flush request that removes exactly what the filter
    /// matches, or None when the kernel `k` cannot be trusted to: before 6.12, or when a
    /// field has no exact kernel form (an address prefix, a port without a protocol).
    pub fn kernel_flush(&self, k: &Kernel) -> Option<(u8, Vec<u8>)> {
        if self.userspace_only || !k.filtered_flush() {
            return None;
        }
        let family = self.kernel_family();
        let d = DumpFilter {
            zone: self.zone,
            mark: self.mark.map(|(m, mask)| (m & mask, mask)),
            status: self.status.map(|(s, mask)| (s & mask, mask)),
            orig: self.tuple_filter(Dir::Orig),
            reply: self.tuple_filter(Dir::Reply),
        };
        // An IPv6 address has no trustworthy kernel form (see `tuple_filter`).
        let addrs_exact = self
            .addrs
            .iter()
            .flatten()
            .all(|c| c.prefix == c.max_prefix() && c.addr.is_ipv4());
        let ports_exact = self.proto.is_some() || self.ports.iter().all(Option::is_none);
        let has_tuple = d.orig != TupleFilter::default() || d.reply != TupleFilter::default();
        // A protocol alone is a tuple filter too; the kernel needs the family for any of them.
        if !addrs_exact || !ports_exact || (has_tuple && family == 0) || self.nat.is_some() {
            return None;
        }
        Some((family, crate::codec::filter_attrs(&d)))
    }

    /// The exact parts of one direction of the filter, for the kernel.
    fn tuple_filter(&self, dir: Dir) -> TupleFilter {
        // IPv6 addresses never go to the kernel: its CTA_FILTER match compares them inverted
        // (`!ipv6_addr_cmp`, 5.8 through 6.18 at least), so a dump would get every other
        // entry and a filtered flush would delete every other entry.
        let exact = |c: &Option<Cidr>| {
            c.filter(|c| c.prefix == c.max_prefix() && c.addr.is_ipv4())
                .map(|c| c.addr)
        };
        TupleFilter {
            src: exact(&self.addrs[slot(dir, Side::Src)]),
            dst: exact(&self.addrs[slot(dir, Side::Dst)]),
            proto: self.proto,
            src_port: self.ports[slot(dir, Side::Src)],
            dst_port: self.ports[slot(dir, Side::Dst)],
        }
    }

    /// Whether `e` matches every field of the filter.
    pub fn matches(&self, e: &Entry) -> bool {
        if self.family.is_some_and(|f| e.family() != Some(f)) {
            return false;
        }
        if self.proto.is_some_and(|p| e.proto() != Some(p)) {
            return false;
        }
        // The kernel's zone filter takes a zone of one direction as that zone.
        if self.zone.is_some_and(|z| e.zone_id() != z) {
            return false;
        }
        if let Some((m, mask)) = self.mark {
            if e.mark.unwrap_or(0) & mask != m & mask {
                return false;
            }
        }
        if let Some((s, mask)) = self.status {
            if e.status.unwrap_or(0) & mask != s & mask {
                return false;
            }
        }
        if self.nat.is_some_and(|n| !n.matches(e)) {
            return false;
        }
        for dir in [Dir::Orig, Dir::Reply] {
            let t = e.tuple(dir);
            for side in [Side::Src, Side::Dst] {
                let i = slot(dir, side);
                if let Some(c) = &self.addrs[i] {
                    if !t.addr(side).is_some_and(|a| c.contains(&a)) {
                        return false;
                    }
                }
                if let Some(p) = self.ports[i] {
                    if t.port(side) != Some(p) {
                        return false;
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_table_dumps_carry_kernel_filters() {
        let mut f = Filter::new();
        f.set_zone(7).unwrap();
        assert_eq!(f.source, Source::Table);
        assert!(f.kernel_filters());
        f.source = Source::TableZeroCounters;
        assert!(f.kernel_filters());
        for s in [Source::Dying, Source::Unconfirmed] {
            f.source = s;
            assert!(!f.kernel_filters(), "{s:?}");
        }
        f.source = Source::Table;
        f.userspace_only = true;
        assert!(!f.kernel_filters());
    }

    fn entry(src: &str, zone: u16, mark: u32) -> Entry {
        let mut e = Entry::new();
        e.set_proto(crate::entry::proto::UDP).unwrap();
        e.set_addr(Dir::Orig, Side::Src, src.parse().unwrap())
            .unwrap();
        e.orig.src_port = Some(1000);
        e.zone = Some(zone);
        e.mark = Some(mark);
        e
    }

    #[test]
    fn cidr_parsing_and_matching() {
        let c = Cidr::parse("10.1.2.3/16").unwrap();
        assert_eq!(c.addr, "10.1.0.0".parse::<IpAddr>().unwrap());
        assert!(c.contains(&"10.1.200.1".parse().unwrap()));
        assert!(!c.contains(&"10.2.0.1".parse().unwrap()));
        assert!(!c.contains(&"::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
        assert!(Cidr::parse("fe80::/10")
            .unwrap()
            .contains(&"fe80::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains(&"9.9.9.9".parse().unwrap()));
    }

    #[test]
    fn every_field_filters() {
        let e = entry("10.0.0.1", 7, 0x15);
        let mut f = Filter::new();
        assert!(f.matches(&e));
        f.set_zone(7).unwrap();
        assert!(f.matches(&e));
        f.mark = Some((0x5, 0xf));
        assert!(f.matches(&e));
        f.mark = Some((0x6, 0xf));
        assert!(!f.matches(&e));
        f.mark = None;
        f.set_addr(Dir::Orig, Side::Src, Cidr::parse("10.0.0.0/8").unwrap())
            .unwrap();
        assert!(f.matches(&e));
        f.ports[slot(Dir::Orig, Side::Src)] = Some(999);
        assert!(!f.matches(&e));
        f.ports = [None; 4];
        f.set_zone(0).unwrap();
        assert!(!f.matches(&e));
        assert!(f.set_family(AF_INET6).is_err());
        assert!(f.set_zone(70000).is_err());
    }

    #[test]
    fn entry_without_zone_is_zone_zero() {
        let mut e = entry("10.0.0.1", 0, 0);
        e.zone = None;
        let mut f = Filter::new();
        f.set_zone(0).unwrap();
        assert!(f.matches(&e));
    }

    #[test]
    fn a_zone_of_one_direction_is_that_zone() {
        // As the kernel's dump filter (nf_ct_zone_equal_any): the zone id, any direction.
        let (mut z5, mut z0) = (Filter::new(), Filter::new());
        z5.set_zone(5).unwrap();
        z0.set_zone(0).unwrap();
        for dir in [Dir::Orig, Dir::Reply] {
            let mut e = entry("10.0.0.1", 0, 0);
            e.zone = None;
            e.set_dir_zone(dir, 5).unwrap();
            assert_eq!(e.zone_id(), 5);
            assert!(z5.matches(&e) && !z0.matches(&e), "{dir:?}");
            e.zone = Some(0);
            assert!(z5.matches(&e) && !z0.matches(&e), "{dir:?} with zone 0");
        }
        let mut e = entry("10.0.0.1", 0, 0);
        e.set_dir_zone(Dir::Reply, 0).unwrap();
        assert!(z0.matches(&e) && !z5.matches(&e));
    }

    #[test]
    fn userspace_only_sends_nothing_to_the_kernel() {
        let mut f = Filter::new();
        f.set_zone(3).unwrap();
        f.family = Some(AF_INET);
        let k = Kernel::from_release("6.18.0");
        assert_eq!(f.kernel_attrs(&k).len(), 8, "one zone attribute");
        assert_eq!(f.kernel_family(), AF_INET);
        f.userspace_only = true;
        assert!(f.kernel_attrs(&k).is_empty());
        assert_eq!(f.kernel_family(), 0);
    }
}

#[cfg(test)]
mod kernel_tests {
    use super::*;

    #[test]
    fn tuple_filters_go_to_kernels_that_read_them_right() {
        let mut f = Filter::new();
        f.set_addr(Dir::Orig, Side::Src, Cidr::parse("10.0.0.1").unwrap())
            .unwrap();
        f.set_addr(Dir::Reply, Side::Src, Cidr::parse("10.0.0.2").unwrap())
            .unwrap();
        f.set_addr(Dir::Orig, Side::Dst, Cidr::parse("10.9.0.0/16").unwrap())
            .unwrap();
        let new = f.kernel_attrs(&Kernel::from_release("6.18.0"));
        let mid = f.kernel_attrs(&Kernel::from_release("5.10.0"));
        let old = f.kernel_attrs(&Kernel::from_release("4.19.0"));
        assert!(new.len() > mid.len(), "6.18 also gets the reply tuple");
        assert!(mid.len() > old.len(), "5.10 gets the original tuple only");
        assert!(old.is_empty());
        // The prefix is not exact: only the source goes to the kernel.
        let t = f.tuple_filter(Dir::Orig);
        assert_eq!((t.src.is_some(), t.dst.is_some()), (true, false));
    }

    #[test]
    fn a_flush_goes_to_the_kernel_only_when_it_removes_exactly_the_matches() {
        let new = Kernel::from_release("6.12.0");
        let mut zone = Filter::new();
        zone.set_zone(5).unwrap();
        assert!(zone.kernel_flush(&new).is_some());
        assert!(zone.kernel_flush(&Kernel::from_release("6.11.0")).is_none());
        assert!(zone.kernel_flush(&Kernel::from_release("6.1.0")).is_none());
        let mut prefix = Filter::new();
        prefix
            .set_addr(Dir::Orig, Side::Src, Cidr::parse("10.0.0.0/8").unwrap())
            .unwrap();
        assert!(prefix.kernel_flush(&new).is_none());
        let mut port = Filter::new();
        port.ports[0] = Some(53);
        assert!(port.kernel_flush(&new).is_none());
        let mut exact = Filter::new();
        exact
            .set_addr(Dir::Orig, Side::Src, Cidr::parse("10.0.0.1").unwrap())
            .unwrap();
        assert_eq!(exact.kernel_flush(&new).map(|(f, _)| f), Some(AF_INET));
        exact.userspace_only = true;
        assert!(exact.kernel_flush(&new).is_none());
    }
}
