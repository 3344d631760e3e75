//! Filter sets: the entries that match any of several filters, found in one dump of the
//! table. The set is indexed by what each filter pins exactly (an address, a port, a zone,
//! a protocol), so testing an entry costs a few hash lookups however many filters the set
//! holds; filters that pin none of these are tried one by one. What every filter of the set
//! shares (a zone, a mark, a family...) is sent to the kernel.

use std::collections::hash_map::Entry as Slot;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::ops::ControlFlow;

use crate::codec::SUBSYS_CTNETLINK;
use crate::entry::{Dir, Entry, Side, AF_INET, AF_INET6};
use crate::error::{Error, Kind, Result};
use crate::filter::{slot, Filter};
use crate::handle::Handle;
use crate::ops::{EntryDump, DUMP_TABLE};

/// What an index key pins: one of the four addresses, one of the four ports, the zone, the
/// protocol. Filters are filed under the first of these they pin exactly, in this order
/// (most selective first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Addr(u8, IpAddr),
    Port(u8, u16),
    Zone(u16),
    Proto(u8),
}

/// Bit of each kind of key in [`FilterSet::kinds`]: addresses 0..3, ports 4..7, zone 8,
/// protocol 9.
const ZONE_BIT: u16 = 1 << 8;
const PROTO_BIT: u16 = 1 << 9;

/// A small, fast hasher for the index (FxHash's mixing, a murmur3 finish): keys are not chosen by an
/// attacker who could flood one bucket, since the caller builds the set.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.add(u64::from_ne_bytes(w));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        // The multiply carries low bits upward only, and the bytes that vary in addresses
        // sit high in the word: fold the high bits down (murmur3's finaliser) so the
        // table's bucket index, taken from the low bits, varies too.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

impl Fx {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

const NONE: u32 = u32::MAX;

/// Entries that match any of its filters. An empty set matches nothing.
#[derive(Clone, Debug, Default)]
pub struct FilterSet {
    filters: Vec<Filter>,
    /// Key -> the last filter filed under it; `next` chains the others.
    index: HashMap<Key, u32, BuildHasherDefault<Fx>>,
    next: Vec<u32>,
    /// Filters that pin no key: tried on every entry.
    linear: Vec<u32>,
    /// Which kinds of keys the index holds (see the bit constants).
    kinds: u16,
}

impl FilterSet {
    /// An empty set (matches nothing).
    pub fn new() -> FilterSet {
        FilterSet::default()
    }

    /// Number of filters.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// Whether the set holds no filter (and so matches nothing).
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// The filters, in the order added.
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// Removes every filter, keeping the memory.
    pub fn clear(&mut self) {
        self.filters.clear();
        self.index.clear();
        self.next.clear();
        self.linear.clear();
        self.kinds = 0;
    }

    /// Adds a copy of `f`. Refused (InvalidArgument) when `f` cannot match any entry (a
    /// family that contradicts one of its addresses); fails with Kind::Internal, leaving the
    /// set as it was, when memory runs out.
    pub fn add(&mut self, f: &Filter) -> Result<()> {
        check_can_match(f)?;
        let oom = |_| Error::new(Kind::Internal, "out of memory adding a filter to the set");
        let i = u32::try_from(self.filters.len())
            .ok()
            .filter(|&i| i != NONE)
            .ok_or_else(|| Error::invalid("the filter set is full"))?;
        self.filters.try_reserve(1).map_err(oom)?;
        self.next.try_reserve(1).map_err(oom)?;
        let key = key_of(f);
        match key {
            Some(_) => self.index.try_reserve(1).map_err(oom)?,
            None => self.linear.try_reserve(1).map_err(oom)?,
        }
        // Nothing below allocates: the set cannot be left half-updated.
        self.filters.push(f.clone());
        match key {
            Some((bit, k)) => {
                let prev = match self.index.entry(k) {
                    Slot::Occupied(mut o) => std::mem::replace(o.get_mut(), i),
                    Slot::Vacant(v) => {
                        v.insert(i);
                        NONE
                    }
                };
                self.next.push(prev);
                self.kinds |= bit;
            }
            None => {
                self.next.push(NONE);
                self.linear.push(i);
            }
        }
        Ok(())
    }

    /// Whether `e` matches at least one filter.
    pub fn matches(&self, e: &Entry) -> bool {
        if self.kinds != 0 {
            for k in 0..10u8 {
                if self.kinds & (1 << k) == 0 {
                    continue;
                }
                let Some(key) = entry_key(e, k) else { continue };
                let mut i = self.index.get(&key).copied().unwrap_or(NONE);
                while i != NONE {
                    if self.filters[i as usize].matches(e) {
                        return true;
                    }
                    i = self.next[i as usize];
                }
            }
        }
        self.linear
            .iter()
            .any(|&i| self.filters[i as usize].matches(e))
    }

    /// What every filter of the set asks for, as one filter: the fields they all set to the
    /// same value. The kernel is asked to filter on it (as far as it can); the set itself is
    /// then applied by the library. A set in which any filter forces the library's path
    /// sends the kernel nothing.
    pub fn common(&self) -> Filter {
        let Some(first) = self.filters.first() else {
            return Filter::new();
        };
        let mut c = first.clone();
        c.family = effective_family(first);
        c.nat = None;
        for f in &self.filters[1..] {
            if c.family != effective_family(f) {
                c.family = None;
            }
            keep_if_same(&mut c.proto, &f.proto);
            keep_if_same(&mut c.zone, &f.zone);
            keep_if_same(&mut c.mark, &f.mark);
            keep_if_same(&mut c.status, &f.status);
            for i in 0..4 {
                keep_if_same(&mut c.addrs[i], &f.addrs[i]);
                keep_if_same(&mut c.ports[i], &f.ports[i]);
            }
            c.userspace_only |= f.userspace_only;
        }
        c
    }
}

fn keep_if_same<T: PartialEq>(c: &mut Option<T>, f: &Option<T>) {
    if c.is_some() && c != f {
        *c = None;
    }
}

/// The family `f` is limited to: as set, or implied by an address.
fn effective_family(f: &Filter) -> Option<u8> {
    f.family.or_else(|| {
        f.addrs
            .iter()
            .flatten()
            .next()
            .map(|c| if c.addr.is_ipv4() { AF_INET } else { AF_INET6 })
    })
}

/// Refuses a filter that no entry can match: a family contradicting an address (of the
/// tuples or of its NAT condition), or addresses of both families.
fn check_can_match(f: &Filter) -> Result<()> {
    let fams = f
        .addrs
        .iter()
        .flatten()
        .map(|c| if c.addr.is_ipv4() { AF_INET } else { AF_INET6 })
        .chain(f.nat.and_then(|n| n.family()))
        .chain(f.family);
    let mut seen = None;
    for fam in fams {
        if seen.is_some_and(|s| s != fam) {
            return Err(Error::invalid(
                "the filter cannot match any entry: its family and addresses disagree",
            ));
        }
        seen = Some(fam);
    }
    Ok(())
}

/// The key `f` is filed under, with its kind's bit; None when it pins nothing indexable.
fn key_of(f: &Filter) -> Option<(u16, Key)> {
    for (i, a) in f.addrs.iter().enumerate() {
        if let Some(c) = a.filter(|c| c.prefix == c.max_prefix()) {
            return Some((1 << i, Key::Addr(i as u8, c.addr)));
        }
    }
    for (i, p) in f.ports.iter().enumerate() {
        if let Some(p) = p {
            return Some((1 << (4 + i), Key::Port(i as u8, *p)));
        }
    }
    if let Some(z) = f.zone {
        return Some((ZONE_BIT, Key::Zone(z)));
    }
    f.proto.map(|p| (PROTO_BIT, Key::Proto(p)))
}

const SLOTS: [(Dir, Side); 4] = [
    (Dir::Orig, Side::Src),
    (Dir::Orig, Side::Dst),
    (Dir::Reply, Side::Src),
    (Dir::Reply, Side::Dst),
];

/// The key of kind `k` (a bit number) that `e` has, if any.
fn entry_key(e: &Entry, k: u8) -> Option<Key> {
    match k {
        0..=3 => {
            let (d, s) = SLOTS[k as usize];
            debug_assert_eq!(slot(d, s), k as usize);
            e.tuple(d).addr(s).map(|a| Key::Addr(k, a))
        }
        4..=7 => {
            let (d, s) = SLOTS[(k - 4) as usize];
            e.tuple(d).port(s).map(|p| Key::Port(k - 4, p))
        }
        8 => Some(Key::Zone(e.zone_id())),
        _ => e.proto().map(Key::Proto),
    }
}

impl Handle {
    /// Streams every entry matching any filter of `set` to `f` (which returns Break to
    /// stop), in one dump of the table. An empty set matches nothing and sends nothing.
    pub fn dump_any(
        &mut self,
        set: &FilterSet,
        mut f: impl FnMut(&Entry) -> ControlFlow<()>,
    ) -> Result<()> {
        if set.is_empty() {
            return Ok(());
        }
        let common = set.common();
        let mut dump = EntryDump::new(Some(&common));
        let mut e = Entry::new();
        let r = self.dump(DUMP_TABLE, SUBSYS_CTNETLINK, dump.request(self), |m| {
            if !dump.take(m, &mut e)? || !set.matches(&e) {
                return Ok(true);
            }
            Ok(f(&e).is_continue())
        });
        dump.finish(self);
        r
    }

    /// Deletes every entry matching any filter of `set`, in one dump of the table, with
    /// the deletes sent while the dump is read (see [`Handle::delete_matching`]); returns how
    /// many this call deleted. An empty set deletes nothing.
    pub fn delete_matching_any(&mut self, set: &FilterSet) -> Result<u64> {
        if set.is_empty() {
            return Ok(0);
        }
        let common = set.common();
        self.delete_overlapped(&common, |e| set.matches(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::proto;
    use crate::filter::Cidr;
    use crate::nat::{Nat, NatKind};

    fn entry(src: &str, dport: u16, zone: u16) -> Entry {
        let mut e = Entry::new();
        e.set_proto(proto::UDP).unwrap();
        e.set_addr(Dir::Orig, Side::Src, src.parse().unwrap())
            .unwrap();
        let dst = if src.contains(':') {
            "fd00::99"
        } else {
            "10.200.0.1"
        };
        e.set_addr(Dir::Orig, Side::Dst, dst.parse().unwrap())
            .unwrap();
        e.orig.src_port = Some(1000);
        e.orig.dst_port = Some(dport);
        e.zone = Some(zone);
        e
    }

    fn src_filter(src: &str, zone: u16) -> Filter {
        let mut f = Filter::new();
        f.set_addr(Dir::Orig, Side::Src, Cidr::parse(src).unwrap())
            .unwrap();
        f.proto = Some(proto::UDP);
        f.set_zone(zone.into()).unwrap();
        f
    }

    #[test]
    fn a_zone_of_one_direction_finds_its_zone_key() {
        let mut s = FilterSet::new();
        let mut zone = Filter::new();
        zone.set_zone(5).unwrap();
        s.add(&zone).unwrap();
        for dir in [Dir::Orig, Dir::Reply] {
            let mut e = entry("10.0.0.1", 53, 0);
            e.zone = None;
            e.set_dir_zone(dir, 5).unwrap();
            assert!(s.matches(&e), "{dir:?}");
        }
        assert!(!s.matches(&entry("10.0.0.1", 53, 0)));
    }

    #[test]
    fn a_set_matches_the_union_of_its_filters() {
        let mut s = FilterSet::new();
        let e1 = entry("10.0.0.1", 53, 7);
        let e2 = entry("10.0.0.2", 53, 7);
        let e6 = entry("fd00::1", 80, 3);
        assert!(!s.matches(&e1), "an empty set matches nothing");
        s.add(&src_filter("10.0.0.1", 7)).unwrap();
        assert!(s.matches(&e1) && !s.matches(&e2));
        // A prefix is not indexed: it goes to the linear list.
        s.add(&src_filter("10.0.0.0/31", 8)).unwrap();
        assert!(!s.matches(&e2), "zone 8 only");
        let mut port = Filter::new();
        port.ports[slot(Dir::Orig, Side::Dst)] = Some(80);
        s.add(&port).unwrap();
        assert!(s.matches(&e6) && !s.matches(&e2));
        let mut zone = Filter::new();
        zone.set_zone(7).unwrap();
        s.add(&zone).unwrap();
        assert!(s.matches(&e2));
        assert_eq!(s.len(), 4);
        s.clear();
        assert!(s.is_empty() && !s.matches(&e1));
        // Two filters filed under one key: both are tried.
        s.add(&src_filter("10.0.0.1", 1)).unwrap();
        s.add(&src_filter("10.0.0.1", 7)).unwrap();
        s.add(&src_filter("10.0.0.1", 2)).unwrap();
        assert!(s.matches(&e1));
    }

    #[test]
    fn ten_thousand_filters_are_the_union_too() {
        let mut s = FilterSet::new();
        for j in 0..10_000u32 {
            let a = std::net::Ipv4Addr::from((10u32 << 24) + 2 * j + 1);
            s.add(&src_filter(&a.to_string(), 7)).unwrap();
        }
        for i in 0..20_000u32 {
            let a = std::net::Ipv4Addr::from((10u32 << 24) + i);
            let e = entry(&a.to_string(), 53, 7);
            let want = i % 2 == 1;
            assert_eq!(s.matches(&e), want, "{a}");
            assert!(!s.matches(&entry(&a.to_string(), 53, 8)));
        }
        let c = s.common();
        assert_eq!(
            (c.zone, c.proto, c.family),
            (Some(7), Some(proto::UDP), Some(AF_INET))
        );
        assert!(c.addrs.iter().all(Option::is_none), "the addresses differ");
    }

    #[test]
    fn addresses_spread_over_the_index_buckets() {
        // The table takes its bucket from the hash's low bits: addresses that differ only
        // in their last bytes must not share them (they once did, making 10,000 filters
        // cost several times 1,000).
        use std::hash::{BuildHasher, BuildHasherDefault};
        let b = BuildHasherDefault::<Fx>::default();
        let mut buckets = std::collections::HashSet::new();
        for j in 0..10_000u32 {
            let a = IpAddr::V4(std::net::Ipv4Addr::from((10u32 << 24) + 2 * j + 1));
            buckets.insert(b.hash_one(Key::Addr(0, a)) & 0x3fff);
        }
        assert!(buckets.len() > 5_000, "{} buckets of 16384", buckets.len());
    }

    #[test]
    fn what_all_filters_share_goes_to_the_kernel() {
        let mut s = FilterSet::new();
        s.add(&src_filter("10.0.0.1", 7)).unwrap();
        let mut f = src_filter("fd00::1", 7);
        f.mark = Some((1, 1));
        s.add(&f).unwrap();
        let c = s.common();
        assert_eq!((c.zone, c.family, c.mark), (Some(7), None, None));
        f.userspace_only = true;
        s.add(&f).unwrap();
        assert!(s.common().userspace_only);
    }

    #[test]
    fn a_filter_that_cannot_match_is_refused() {
        let mut s = FilterSet::new();
        let mut f = src_filter("10.0.0.1", 7);
        f.family = Some(AF_INET6);
        assert_eq!(s.add(&f).unwrap_err().kind, Kind::InvalidArgument);
        let mut f = src_filter("10.0.0.1", 7);
        f.nat = Some(Nat::parse(NatKind::Src, Some("fd00::1")).unwrap());
        assert_eq!(s.add(&f).unwrap_err().kind, Kind::InvalidArgument);
        assert!(s.is_empty());
    }
}
