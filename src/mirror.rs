//! A mirror of the conntrack table: the current content of one namespace's table (or of what
//! a filter matches) held in memory, built from one dump, kept current from events, and
//! repaired by itself after any loss.
//!
//! Order between the dump and the events: the mirror subscribes first, then dumps on a
//! socket and a thread of its own while it keeps reading and applying events (rows and
//! events are applied on the caller's thread, and every change reaches the callback there). An entry an event touched
//! since the dump began is the events' to describe (they are newer than anything the dump can
//! say of it); every other entry is taken from the dump, and the entries the dump no longer
//! shows, and no event touched, are gone. The changes a repair finds reach the callback
//! marked as repairs, so a consumer that applies every callback holds the mirror's content.
//!
//! Events must exist for every entry: with `net.netfilter.nf_conntrack_events=2` (the
//! default of new namespaces on some kernels between 5.19 and 6.10), entries made before the
//! first listener subscribed report no events, not even their destroy; set it to 1, or
//! refresh on a schedule with [`Mirror::request_repair`].
//!
//! After an overrun (the kernel dropped events), the mirror is stale until a repair that saw
//! no further loss completes. Repairs are spaced out under a sustained burst: the delay
//! doubles with every overrun, from [`Mirror::set_backoff`]'s minimum up to its maximum, and
//! goes back to the minimum after a clean repair.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hash};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use crate::entry::{Dir, Entry};
use crate::error::{Error, Kind, Result};
use crate::events::{Listener, EVENT_ALL, EVENT_DESTROY};
use crate::filter::Filter;
use crate::handle::Handle;

/// What a change did to the mirror.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// An entry appeared.
    New,
    /// An entry changed.
    Update,
    /// An entry went.
    Destroy,
}

/// A change of the mirror's content, as the callback receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// Found by a repair (the first load included), not reported by an event.
    pub repair: bool,
}

/// Counters of a mirror.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MirrorStats {
    /// Events received and applied.
    pub events: u64,
    /// Times the kernel reported dropped events.
    pub overruns: u64,
    /// Repairs (dumps compared with the mirror) run, the first load included.
    pub repairs: u64,
    /// Changes the repairs found (entries added, changed or removed).
    pub repaired_entries: u64,
    /// Milliseconds the mirror was known to be stale, summed (up to now when it still is).
    pub stale_ms: u64,
    /// How long the last repair took, in milliseconds, from its dump's request until the
    /// mirror matched the dump (the events already queued before it, applied first, are not
    /// counted: any step applies those).
    pub last_repair_ms: u64,
    /// How many entries the last repair's dump read.
    pub last_repair_entries: u64,
    /// How long the last repair's dump took on its own thread, from its request to its last
    /// entry, in milliseconds: beside `last_repair_ms`, what the repair added to one dump.
    pub last_repair_dump_ms: u64,
    /// Whether the mirror is known to be stale now (events were lost since the last clean
    /// repair).
    pub stale: bool,
}

/// The mirror's identity of an entry: its original tuple and zone (what the kernel looks
/// an entry up by).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    zone: u16,
    /// Which directions `zone` covers (0: both; 1: the original only; 2: the reply only):
    /// one tuple can be in the original-only and in the reply-only zone 5 at once.
    zone_dir: u8,
    proto: u8,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    sport: Option<u16>,
    dport: Option<u16>,
    icmp: (Option<u8>, Option<u8>, Option<u16>),
}

/// One write of the whole key: the hasher is called once an entry, not once a field (the
/// mirror hashes every event's key).
impl Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut b = [0u8; 49];
        b[..2].copy_from_slice(&self.zone.to_ne_bytes());
        b[48] = self.zone_dir;
        b[2] = self.proto;
        for (at, a) in [(3, self.src), (20, self.dst)] {
            match a {
                Some(IpAddr::V4(v)) => {
                    b[at] = 4;
                    b[at + 1..at + 5].copy_from_slice(&v.octets());
                }
                Some(IpAddr::V6(v)) => {
                    b[at] = 6;
                    b[at + 1..at + 17].copy_from_slice(&v.octets());
                }
                None => {}
            }
        }
        for (at, p) in [(37, self.sport), (40, self.dport)] {
            if let Some(p) = p {
                b[at] = 1;
                b[at + 1..at + 3].copy_from_slice(&p.to_ne_bytes());
            }
        }
        let (t, c, i) = self.icmp;
        b[43] = u8::from(t.is_some()) | u8::from(c.is_some()) << 1 | u8::from(i.is_some()) << 2;
        b[44] = t.unwrap_or(0);
        b[45] = c.unwrap_or(0);
        b[46..48].copy_from_slice(&i.unwrap_or(0).to_ne_bytes());
        state.write(&b);
    }
}

fn key_of(e: &Entry) -> Key {
    let t = &e.orig;
    let zone_dir = match (e.zone.filter(|&z| z != 0), e.dir_zone(Dir::Orig)) {
        (Some(_), _) => 0,
        (None, Some(z)) if z != 0 => 1,
        _ if e.dir_zone(Dir::Reply).is_some_and(|z| z != 0) => 2,
        _ => 0,
    };
    Key {
        zone: e.zone_id(),
        zone_dir,
        proto: e.proto().unwrap_or(0),
        src: t.src,
        dst: t.dst,
        sport: t.src_port,
        dport: t.dst_port,
        icmp: (t.icmp_type, t.icmp_code, t.icmp_id),
    }
}

/// An open-addressing index of entry slots. Each bucket holds a 32-bit tag beside the slot
/// number: the key's hash in the key index, the id itself in the id index. Probes, removals
/// and rehashes read only the tags, so an entry is read only when its tag matches (a probe
/// that read every candidate entry cost a cache miss each, the mirror's largest cost per
/// event under a burst). The bucket count is any number, not a power of two (a tag maps to
/// its home bucket by a multiply), so growing by a quarter, and shrinking below 3/5 full,
/// keep the index between 3/5 and 7/8 full: 9.1 to 13.3 bytes an entry.
struct Index {
    buckets: Vec<u64>,
    len: usize,
}

const EMPTY: u64 = u64::MAX;

fn bucket(tag: u32, slot: u32) -> u64 {
    u64::from(tag) << 32 | u64::from(slot)
}

fn tag_of(b: u64) -> u32 {
    (b >> 32) as u32
}

fn slot_of(b: u64) -> u32 {
    b as u32
}

impl Index {
    fn new() -> Index {
        Index {
            buckets: vec![EMPTY; 16],
            len: 0,
        }
    }

    /// Where a tag's probe starts: a multiply maps it onto any bucket count evenly.
    fn home(&self, tag: u32) -> usize {
        ((u64::from(tag) * self.buckets.len() as u64) >> 32) as usize
    }

    fn next(&self, b: usize) -> usize {
        if b + 1 == self.buckets.len() {
            0
        } else {
            b + 1
        }
    }

    /// The bucket holding a slot of tag `tag` for which `is` holds.
    fn find(&self, tag: u32, is: impl Fn(u32) -> bool) -> Option<usize> {
        let mut b = self.home(tag);
        loop {
            let v = self.buckets[b];
            if v == EMPTY {
                return None;
            }
            if tag_of(v) == tag && is(slot_of(v)) {
                return Some(b);
            }
            b = self.next(b);
        }
    }

    fn slot_at(&self, b: usize) -> usize {
        slot_of(self.buckets[b]) as usize
    }

    fn set_slot(&mut self, b: usize, slot: usize) {
        self.buckets[b] = bucket(tag_of(self.buckets[b]), slot as u32);
    }

    fn insert(&mut self, tag: u32, slot: u32) {
        if (self.len + 1) * 8 > self.buckets.len() * 7 {
            let n = self.buckets.len();
            self.resize(n + n / 4);
        }
        self.place(bucket(tag, slot));
        self.len += 1;
    }

    /// As `insert`, and a probe for `tag` finds this slot before any other of that tag (it
    /// takes the place of the first one, which moves to the end of the run).
    fn insert_first(&mut self, tag: u32, slot: u32) {
        if (self.len + 1) * 8 > self.buckets.len() * 7 {
            let n = self.buckets.len();
            self.resize(n + n / 4);
        }
        match self.find(tag, |_| true) {
            Some(b) => {
                let old = std::mem::replace(&mut self.buckets[b], bucket(tag, slot));
                self.place(old);
            }
            None => self.place(bucket(tag, slot)),
        }
        self.len += 1;
    }

    fn place(&mut self, v: u64) {
        let mut b = self.home(tag_of(v));
        while self.buckets[b] != EMPTY {
            b = self.next(b);
        }
        self.buckets[b] = v;
    }

    fn resize(&mut self, n: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; n.max(16)]);
        for v in old.into_iter().filter(|v| *v != EMPTY) {
            self.place(v);
        }
    }

    /// Empties bucket `b`, moving later buckets of the same run back so that no lookup
    /// stops early (backward-shift deletion).
    fn remove_at(&mut self, mut b: usize) {
        let n = self.buckets.len();
        self.buckets[b] = EMPTY;
        self.len -= 1;
        let mut next = self.next(b);
        while self.buckets[next] != EMPTY {
            let v = self.buckets[next];
            let home = self.home(tag_of(v));
            // Move `v` into the hole when its home is not between the hole and its place.
            let dist_hole = (b + n - home) % n;
            let dist_here = (next + n - home) % n;
            if dist_hole <= dist_here {
                self.buckets[b] = v;
                self.buckets[next] = EMPTY;
                b = next;
            }
            next = self.next(next);
        }
    }

    fn bytes(&self) -> usize {
        self.buckets.capacity() * 8
    }

    /// Whether a burst left the index less than 3/5 full (at most 13.3 bytes an entry).
    fn wants_shrink(&self) -> bool {
        let n = self.buckets.len();
        n > 64 && self.len * 5 < n * 3
    }

    /// Gives that memory back: 7/10 full after.
    fn shrink(&mut self) {
        if self.wants_shrink() {
            self.resize(self.len * 10 / 7 + 1);
        }
    }

    /// Rebuilds the index after many slots moved or went at once: each bucket's slot becomes
    /// `to[slot]`, and buckets whose slot went (`GONE`) are dropped. The tags are kept, so no
    /// key is hashed again. `kept` is at least the number of buckets that stay (the entries
    /// left): 7/10 full after, or less.
    fn remap(&mut self, to: &[u32], kept: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; (kept * 10 / 7 + 1).max(16)]);
        self.len = 0;
        for v in old.into_iter().filter(|v| *v != EMPTY) {
            let to = to[slot_of(v) as usize];
            if to != GONE {
                self.place(bucket(tag_of(v), to));
                self.len += 1;
            }
        }
    }
}

/// In a slot map of [`Index::remap`]: the slot's entry went.
const GONE: u32 = u32::MAX;

/// Entries in chunks of at most `CHUNK`: growing never copies what is held (a table growing
/// to a million entries would otherwise copy hundreds of megabytes while events wait), and
/// the room left unused is at most one chunk.
struct Slab {
    chunks: Vec<Vec<Entry>>,
    len: usize,
}

const CHUNK: usize = 4096;

impl Slab {
    fn new() -> Slab {
        Slab {
            chunks: Vec::new(),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, e: Entry) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => {
                if c.len() == c.capacity() {
                    // The first chunk grows by doubling up to CHUNK: a small table stays small.
                    c.reserve_exact(c.len().min(CHUNK - c.len()));
                }
                c.push(e);
            }
            _ => {
                let mut c = Vec::with_capacity(if self.chunks.is_empty() { 16 } else { CHUNK });
                c.push(e);
                self.chunks.push(c);
            }
        }
        self.len += 1;
    }

    /// Removes entry `i`; the last entry takes its place.
    fn swap_remove(&mut self, i: usize) -> Entry {
        let last = self.chunks.last_mut().expect("an entry to remove");
        let mut e = last.pop().expect("a chunk is never left empty");
        if last.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
        if i < self.len {
            std::mem::swap(&mut self[i], &mut e);
        }
        e
    }

    fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.chunks.iter().flatten()
    }

    /// Exchanges entries `i` and `j`, with `i < j`.
    fn swap(&mut self, i: usize, j: usize) {
        let (ci, cj) = (i / CHUNK, j / CHUNK);
        if ci == cj {
            self.chunks[ci].swap(i % CHUNK, j % CHUNK);
        } else {
            let (lo, hi) = self.chunks.split_at_mut(cj);
            std::mem::swap(&mut lo[ci][i % CHUNK], &mut hi[0][j % CHUNK]);
        }
    }

    /// Drops the entries from `len` on.
    fn truncate(&mut self, len: usize) {
        while self.len > len {
            let last = self.chunks.last_mut().expect("an entry to drop");
            let keep = last.len().saturating_sub(self.len - len);
            self.len -= last.len() - keep;
            last.truncate(keep);
            if last.is_empty() {
                self.chunks.pop();
            }
        }
    }

    fn capacity(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }
}

impl std::ops::Index<usize> for Slab {
    type Output = Entry;
    fn index(&self, i: usize) -> &Entry {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl std::ops::IndexMut<usize> for Slab {
    fn index_mut(&mut self, i: usize) -> &mut Entry {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

/// The entries and their two indexes (by key, by id).
struct Table {
    entries: Slab,
    /// The repair generation (1..=255) that last saw each entry in a dump; 0: none.
    seen: Vec<u8>,
    by_key: Index,
    by_id: Index,
    hasher: RandomState,
}

impl Table {
    fn new() -> Table {
        Table {
            entries: Slab::new(),
            seen: Vec::new(),
            by_key: Index::new(),
            by_id: Index::new(),
            // Tuples come from network traffic: a keyed hash keeps collisions out of an
            // attacker's hands.
            hasher: RandomState::new(),
        }
    }

    /// The key's keyed hash: its low half is the key index's tag, and the whole of it
    /// hashes the key in a repair's [`KeySet`] (one hash a key for both).
    fn hash(&self, key: &Key) -> u64 {
        self.hasher.hash_one(key)
    }

    fn tag(&self, key: &Key) -> u32 {
        self.hash(key) as u32
    }

    fn find(&self, key: &Key) -> Option<usize> {
        self.find_tagged(key, self.tag(key))
    }

    fn find_tagged(&self, key: &Key, tag: u32) -> Option<usize> {
        self.by_key
            .find(tag, |s| key_of(&self.entries[s as usize]) == *key)
            .map(|b| self.by_key.slot_at(b))
    }

    fn find_id(&self, id: u32) -> Option<usize> {
        // The tag is the id: no entry is read.
        self.by_id.find(id, |_| true).map(|b| self.by_id.slot_at(b))
    }

    #[cfg(test)]
    fn insert(&mut self, e: Entry, generation: u8) -> usize {
        let tag = self.tag(&key_of(&e));
        self.insert_tagged(e, tag, generation)
    }

    fn insert_tagged(&mut self, e: Entry, tag: u32, generation: u8) -> usize {
        let slot = self.entries.len();
        let id = e.id;
        self.entries.push(e);
        self.seen.push(generation);
        self.by_key.insert(tag, slot as u32);
        if let Some(id) = id {
            self.index_id(id, slot);
        }
        slot
    }

    /// Indexes `slot` under `id`, found first by a lookup of `id`. Every entry with an id is
    /// indexed: the kernel's ids are 32-bit keyed hashes, so two live entries share one now
    /// and then (about once in 70 tables of 11,000 entries), besides a reused id whose old
    /// entry's destroy was lost; when the newer goes, the lookup finds the older again.
    fn index_id(&mut self, id: u32, slot: usize) {
        self.by_id.insert_first(id, slot as u32);
    }

    /// Removes `slot`'s entry from the id index.
    fn unindex_id(&mut self, slot: usize) {
        let Some(id) = self.entries[slot].id else {
            return;
        };
        if let Some(b) = self.by_id.find(id, |s| s as usize == slot) {
            self.by_id.remove_at(b);
        }
    }

    /// Replaces the entry in `slot` (same key), keeping the id index right.
    fn replace(&mut self, slot: usize, e: Entry) {
        if self.entries[slot].id != e.id {
            self.unindex_id(slot);
            let id = e.id;
            self.entries[slot] = e;
            if let Some(id) = id {
                self.index_id(id, slot);
            }
        } else {
            self.entries[slot] = e;
        }
    }

    /// Gives back memory a burst left behind: an index's when it is less than 3/5 full (the
    /// entries' chunks go as they empty).
    fn shrink(&mut self) {
        let len = self.entries.len();
        if self.seen.capacity() > len + len / 4 + 64 {
            self.seen.shrink_to(len + len / 16);
        }
        self.by_key.shrink();
        self.by_id.shrink();
    }

    /// Removes every entry whose mark in `seen` is not `generation`. Few go one by one; many
    /// (the entries a burst's lost destroy events left behind, up to most of the table) in
    /// one pass: the last kept entries fill the holes, and both indexes are rebuilt from
    /// their own tags, where removing each alone would hash two keys and fix up both indexes
    /// (about 3 microseconds an entry under a burst, a quarter of a second for 90,000).
    fn remove_unmarked(&mut self, generation: u8, gone: usize) {
        let len = self.entries.len();
        if gone == 0 {
            return;
        }
        if gone * 32 < len {
            // Backwards: a removal moves the last entry into the freed slot, already checked.
            for s in (0..len).rev() {
                if self.seen[s] != generation {
                    self.remove(s);
                }
            }
            return;
        }
        // The map from old slots to new ones: 4 bytes an entry, for the rebuild only.
        let mut to = vec![GONE; len];
        let (mut lo, mut hi) = (0, len);
        loop {
            while lo < hi && self.seen[lo] == generation {
                to[lo] = lo as u32;
                lo += 1;
            }
            while lo < hi && self.seen[hi - 1] != generation {
                hi -= 1;
            }
            if lo >= hi {
                break;
            }
            // `lo` goes and `hi - 1` stays: the kept one moves down into the hole.
            hi -= 1;
            self.entries.swap(lo, hi);
            self.seen.swap(lo, hi);
            to[hi] = lo as u32;
            lo += 1;
        }
        self.entries.truncate(lo);
        self.seen.truncate(lo);
        self.by_key.remap(&to, lo);
        self.by_id.remap(&to, lo);
    }

    /// Removes and returns the entry in `slot`; the last entry takes its slot.
    fn remove(&mut self, slot: usize) -> Entry {
        self.unindex_id(slot);
        let tag = self.tag(&key_of(&self.entries[slot]));
        if let Some(b) = self.by_key.find(tag, |s| s as usize == slot) {
            self.by_key.remove_at(b);
        }
        let last = self.entries.len() - 1;
        if slot != last {
            // The last entry moves into `slot`: point both indexes at its new place.
            let kt = self.tag(&key_of(&self.entries[last]));
            if let Some(b) = self.by_key.find(kt, |s| s as usize == last) {
                self.by_key.set_slot(b, slot);
            }
            if let Some(id) = self.entries[last].id {
                if let Some(b) = self.by_id.find(id, |s| s as usize == last) {
                    self.by_id.set_slot(b, slot);
                }
            }
        }
        self.seen.swap_remove(slot);
        self.entries.swap_remove(slot)
    }
}

/// Sets in `into` every field `from` holds (an update event carries the tuple, status,
/// timeout and id always, and other fields only when they changed); whether a field the
/// mirror compares (see [`differs`]) changed. The others (the timeout, which runs down, the
/// reference count, counters, timestamps) are refreshed silently: an event that changed
/// only those, such as the NEW event of an entry a repair's dump already showed, is no
/// change of the mirror.
fn merge(into: &mut Entry, from: &Entry) -> bool {
    let mut changed = false;
    // Fields the mirror compares: a new value is a change.
    macro_rules! compared {
        ($to:expr, $from:expr, $($f:ident),*) => {
            $(
                if $from.$f.is_some() && $to.$f != $from.$f {
                    $to.$f = $from.$f.clone();
                    changed = true;
                }
            )*
        };
    }
    // Fields refreshed silently.
    macro_rules! take {
        ($to:expr, $from:expr, $($f:ident),*) => {
            $(
                if $from.$f.is_some() {
                    $to.$f = $from.$f.clone();
                }
            )*
        };
    }
    if from.mark.is_some() && into.mark.unwrap_or(0) != from.mark.unwrap_or(0) {
        changed = true;
    }
    compared!(into, from, id, status, tcp_state, sctp_state, dccp_state);
    take!(
        into,
        from,
        family,
        zone,
        mark,
        timeout,
        use_count,
        tcp_wscale_orig,
        tcp_wscale_reply,
        tcp_flags_orig,
        tcp_flags_reply
    );
    if !from.reply.is_empty() && into.reply != from.reply {
        into.reply = from.reply.clone();
        changed = true;
    }
    if !from.extra.is_empty() {
        let f = from.extra.get();
        let x = into.extra.get_mut();
        compared!(x, f, labels, helper);
        take!(
            x,
            f,
            zone_orig,
            zone_reply,
            sctp_vtag_orig,
            sctp_vtag_reply,
            counters_orig,
            counters_reply,
            timestamp_start,
            timestamp_stop,
            secmark,
            secctx,
            seq_adj_orig,
            seq_adj_reply
        );
    }
    changed
}

/// Whether a repair has found a change in `now` against `held`: any field the kernel changes
/// by an event. The timeout (which runs down), the reference count and counters change
/// without events and are refreshed silently.
fn differs(held: &Entry, now: &Entry) -> bool {
    held.id != now.id
        || held.mark.unwrap_or(0) != now.mark.unwrap_or(0)
        || held.status != now.status
        || held.reply != now.reply
        || held.tcp_state != now.tcp_state
        || held.sctp_state != now.sctp_state
        || held.dccp_state != now.dccp_state
        || held.extra.get().labels != now.extra.get().labels
        || held.extra.get().helper != now.extra.get().helper
}

/// A key with its hash, already computed for the key index.
#[derive(PartialEq, Eq)]
struct Hashed {
    hash: u64,
    key: Key,
}

impl Hash for Hashed {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Hashes a [`Hashed`] by the hash it carries.
#[derive(Default)]
struct Carried(u64);

impl std::hash::Hasher for Carried {
    fn write(&mut self, bytes: &[u8]) {
        // Only write_u64 is used; fold anything else in all the same.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Keys, hashed by the table's own keyed hash.
type KeySet = HashSet<Hashed, BuildHasherDefault<Carried>>;

/// Milliseconds until `t`, rounded up: a wait of the rounded-down 0 would return at once,
/// again and again, for the last fraction of a millisecond.
fn ms_until(t: Instant) -> u128 {
    t.saturating_duration_since(Instant::now())
        .as_micros()
        .div_ceil(1000)
}

/// Receive calls (each up to 256 datagrams) that read what is queued before a repair dumps.
const PRE_DRAIN: usize = 4096;

/// Rows handed from a repair's dump thread to the applying thread, at most [`ROW_CHUNKS`]
/// chunks ahead. A mutex and a condition variable rather than a channel: a channel's
/// blocking receive records a thread handle on the calling thread (a C program's), which
/// valgrind then reports as possibly lost.
#[derive(Default)]
struct Rows {
    state: std::sync::Mutex<RowsState>,
    cv: std::sync::Condvar,
}

#[derive(Default)]
struct RowsState {
    chunks: std::collections::VecDeque<Vec<Entry>>,
    /// The dump ended (all its rows are in `chunks`).
    ended: bool,
    /// The applying side stopped taking rows.
    closed: bool,
}

impl Rows {
    fn lock(&self) -> std::sync::MutexGuard<'_, RowsState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a chunk, waiting while the queue is full; false once the applier stopped.
    fn put(&self, chunk: Vec<Entry>) -> bool {
        let mut s = self.lock();
        while s.chunks.len() >= ROW_CHUNKS && !s.closed {
            s = self.cv.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        if s.closed {
            return false;
        }
        s.chunks.push_back(chunk);
        self.cv.notify_all();
        true
    }

    fn end(&self) {
        self.lock().ended = true;
        self.cv.notify_all();
    }

    /// Every chunk queued, and whether the dump has ended (no more will come).
    fn take(&self) -> (Vec<Vec<Entry>>, bool) {
        let mut s = self.lock();
        let chunks: Vec<_> = s.chunks.drain(..).collect();
        let ended = s.ended && chunks.is_empty();
        self.cv.notify_all();
        (chunks, ended)
    }

    /// Waits up to `d` for a chunk or the dump's end.
    fn wait(&self, d: Duration) {
        let s = self.lock();
        if s.chunks.is_empty() && !s.ended {
            let _ = self.cv.wait_timeout(s, d);
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.cv.notify_all();
    }
}

/// A repair's dump, on its own thread: its rows go to `rows` in chunks; how long it took.
fn dump_rows(handle: &mut Handle, filter: Option<&Filter>, rows: &Rows) -> Result<Duration> {
    let t = Instant::now();
    let r = (|| {
        let mut entries = handle.entries(filter)?;
        let mut chunk = Vec::with_capacity(ROWS_PER_CHUNK);
        while let Some(e) = entries.take_entry()? {
            chunk.push(e);
            if chunk.len() == ROWS_PER_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(ROWS_PER_CHUNK));
                if !rows.put(full) {
                    // The applying side failed and returns its own error.
                    break;
                }
            }
        }
        let elapsed = t.elapsed();
        if !chunk.is_empty() {
            rows.put(chunk);
        }
        Ok(elapsed)
    })();
    // Ended, also on an error: the applier then stops waiting and reads the error at join.
    rows.end();
    r
}

/// A repair's dump hands its rows to the applying thread in chunks of this many entries, at
/// most this many chunks ahead: 16,384 rows, so that the dump does not wait while the
/// applying thread is off its core (under the compare-mirror burst on two cores, a queue of
/// 4,096 rows held a dump up for up to 70 ms in all). The memory a repair adds is bounded:
/// the queued chunks and those the applier took and is applying, at most 2 x 64 + 1 chunks,
/// 33,024 entries (5.8 MB at 176 bytes, plus the extra fields of entries that have some).
const ROWS_PER_CHUNK: usize = 256;
const ROW_CHUNKS: usize = 64;

/// A live copy of the conntrack table of one namespace (see the module documentation).
///
/// ```no_run
/// use std::ops::ControlFlow;
/// use conntrack::mirror::{ChangeKind, Mirror};
///
/// # fn main() -> conntrack::Result<()> {
/// let mut m = Mirror::open_netns("blue", None)?;
/// loop {
///     // The first step loads the table (changes marked as repairs), later ones apply events.
///     m.step(1000, |change, e| {
///         println!("{:?} {}", change.kind, conntrack::format::format_entry(e, 0));
///         ControlFlow::Continue(())
///     })?;
///     println!("{} entries, stale: {}", m.len(), m.stats().stale);
/// }
/// # }
/// ```
pub struct Mirror {
    /// The repair dumps' socket; None only while a repair's dump thread holds it.
    handle: Option<Handle>,
    listener: Listener,
    filter: Option<Filter>,
    table: Table,
    stats: MirrorStats,
    generation: u8,
    /// Synced at least once.
    loaded: bool,
    stale_since: Option<Instant>,
    repair_due: Option<Instant>,
    backoff: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    /// The kernel reported a loss and no receive has found the queue empty since. Until one
    /// does, the kernel drops every event without reporting again (it reports a loss only
    /// when the socket becomes congested), so a repair dumping now could not see its losses.
    congested: bool,
    /// Receive calls a repair makes to empty the queue before it dumps.
    pre_drain: usize,
}

/// The state a change passes through, shared by event and repair paths.
struct Apply<'a, F: FnMut(Change, &Entry) -> bool> {
    table: &'a mut Table,
    stats: &'a mut MirrorStats,
    filter: Option<&'a Filter>,
    f: F,
    /// The callback asked to stop.
    stop: bool,
    /// Changes delivered.
    delivered: usize,
    /// The generation of the repair under way (0: none). During a repair an event marks
    /// the entry it leaves in the table as seen in that generation: the events describe it
    /// better than the dump can, so its dump row is passed over and the sweep keeps it.
    generation: u8,
    /// During a repair, the keys whose last event left them out of the table (a destroy, or
    /// an entry that no longer matches the filter): their dump rows are older, and passed
    /// over too. None outside a repair.
    absent: Option<KeySet>,
}

impl<'a, F: FnMut(Change, &Entry) -> bool> Apply<'a, F> {
    /// The state outside a repair (a repair sets `generation` and `absent` when it dumps).
    fn new(
        table: &'a mut Table,
        stats: &'a mut MirrorStats,
        filter: Option<&'a Filter>,
        f: F,
    ) -> Self {
        Apply {
            table,
            stats,
            filter,
            f,
            stop: false,
            delivered: 0,
            generation: 0,
            absent: None,
        }
    }

    fn emit(&mut self, kind: ChangeKind, repair: bool, e: &Entry) {
        self.delivered += 1;
        if repair {
            self.stats.repaired_entries += 1;
        }
        if !(self.f)(Change { kind, repair }, e) {
            self.stop = true;
        }
    }

    /// As `emit`, for the entry in `slot` (no copy of it is made).
    fn emit_slot(&mut self, kind: ChangeKind, repair: bool, slot: usize) {
        self.delivered += 1;
        if repair {
            self.stats.repaired_entries += 1;
        }
        if !(self.f)(Change { kind, repair }, &self.table.entries[slot]) {
            self.stop = true;
        }
    }

    fn event(&mut self, kind: u32, e: &Entry) {
        self.stats.events += 1;
        let key = key_of(e);
        let hash = self.table.hash(&key);
        let tag = hash as u32;
        let slot = self.table.find_tagged(&key, tag);
        if kind == EVENT_DESTROY {
            match slot {
                Some(s) => {
                    // A destroy of an older entry with the same tuple leaves the newer one.
                    let held = self.table.entries[s].id;
                    if held.is_none() || e.id.is_none() || held == e.id {
                        let mut gone = self.table.remove(s);
                        merge(&mut gone, e);
                        self.emit(ChangeKind::Destroy, false, &gone);
                        self.left_out(hash, key);
                    } else {
                        self.settled(s);
                    }
                }
                None => self.left_out(hash, key),
            }
            return;
        }
        let wanted = self.filter.map_or(true, |flt| flt.matches(e));
        match (slot, wanted) {
            (Some(s), false) => {
                // It no longer matches the mirror's filter: for the mirror it went.
                let gone = self.table.remove(s);
                self.emit(ChangeKind::Destroy, false, &gone);
                self.left_out(hash, key);
            }
            (None, false) => self.left_out(hash, key),
            (Some(s), true) => {
                let held = self.table.entries[s].id;
                let changed = if held == e.id || e.id.is_none() {
                    // Same id: merged in place, the id index stays right.
                    merge(&mut self.table.entries[s], e)
                } else if held.is_some() {
                    // Another entry under the same tuple (the old one's destroy was lost).
                    self.table.replace(s, e.clone());
                    true
                } else {
                    let mut next = self.table.entries[s].clone();
                    merge(&mut next, e);
                    self.table.replace(s, next);
                    true
                };
                self.settled(s);
                if changed {
                    self.emit_slot(ChangeKind::Update, false, s);
                }
            }
            (None, true) => {
                let s = self.table.insert_tagged(e.clone(), tag, self.generation);
                self.emit_slot(ChangeKind::New, false, s);
            }
        }
    }

    /// During a repair, marks `slot`'s entry as the events' (see `generation`).
    fn settled(&mut self, slot: usize) {
        if self.generation != 0 {
            self.table.seen[slot] = self.generation;
        }
    }

    /// During a repair, records that an event left `key` out of the table (see `absent`).
    fn left_out(&mut self, hash: u64, key: Key) {
        if let Some(a) = self.absent.as_mut() {
            a.insert(Hashed { hash, key });
        }
    }

    /// One entry of a repair's dump, seen in generation `generation`.
    fn dumped(&mut self, e: Entry, generation: u8) {
        let key = key_of(&e);
        let hash = self.table.hash(&key);
        let tag = hash as u32;
        match self.table.find_tagged(&key, tag) {
            // Events since the dump began describe this entry better than the dump can (or
            // the dump showed it already: unchanged, or an event says how).
            Some(s) if self.table.seen[s] == generation => {}
            // No longer what the filter wants: left unmarked, the sweep removes it.
            Some(_) if self.filter.is_some_and(|flt| !flt.matches(&e)) => {}
            Some(s) => {
                self.table.seen[s] = generation;
                let changed = differs(&self.table.entries[s], &e);
                self.table.replace(s, e);
                if changed {
                    self.emit_slot(ChangeKind::Update, true, s);
                }
            }
            None => {
                if self
                    .absent
                    .as_ref()
                    .is_some_and(|a| a.contains(&Hashed { hash, key }))
                {
                    // An event since the dump began removed it.
                    return;
                }
                if self.filter.is_some_and(|flt| !flt.matches(&e)) {
                    return;
                }
                let s = self.table.insert_tagged(e, tag, generation);
                self.emit_slot(ChangeKind::New, true, s);
            }
        }
    }
}

impl Mirror {
    /// A mirror of the caller's network namespace (of the entries `filter` matches, or all).
    /// It is empty until the first [`Mirror::step`], which loads it.
    pub fn open(filter: Option<Filter>) -> Result<Mirror> {
        Mirror::with(Handle::open()?, Listener::open(EVENT_ALL)?, filter)
    }

    /// The receive buffer a mirror asks for, 256 MiB: four times a plain listener's. A mirror
    /// does more per event than a bare listener, and a loss costs it a dump of the table:
    /// under a burst of 2,500,000 events from three processes on two cores it fell behind by
    /// more than 128 MiB of queued events (one overrun with 64 or 128 MiB, none with 256).
    /// The kernel charges the memory only while events wait.
    pub const DEFAULT_RECEIVE_BUFFER: usize = 4 * crate::events::DEFAULT_EVENT_BUFFER;

    /// A mirror of the network namespace `name` (a name under /run/netns or a path).
    pub fn open_netns(name: &str, filter: Option<Filter>) -> Result<Mirror> {
        // Subscribe first: no change between the subscription and the dump is missed.
        let listener = Listener::open_netns(name, EVENT_ALL)?;
        Mirror::with(Handle::open_netns(name)?, listener, filter)
    }

    fn with(handle: Handle, mut listener: Listener, filter: Option<Filter>) -> Result<Mirror> {
        listener.set_receive_buffer(Mirror::DEFAULT_RECEIVE_BUFFER)?;
        Ok(Mirror {
            handle: Some(handle),
            listener,
            filter,
            table: Table::new(),
            stats: MirrorStats::default(),
            generation: 0,
            loaded: false,
            stale_since: None,
            repair_due: None,
            backoff: Duration::from_millis(10),
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(2),
            congested: false,
            pre_drain: PRE_DRAIN,
        })
    }

    /// The event socket's descriptor, for poll or epoll: readable when a step has events to
    /// apply. A repair that is due does not make it readable: call [`Mirror::step`] at least
    /// every [`Mirror::next_timeout_ms`] milliseconds.
    pub fn fd(&self) -> i32 {
        self.listener.fd()
    }

    /// Sets the event socket's receive buffer (a mirror's default is
    /// [`Mirror::DEFAULT_RECEIVE_BUFFER`], 256 MiB); returns what the kernel granted.
    pub fn set_receive_buffer(&mut self, bytes: usize) -> Result<usize> {
        self.listener.set_receive_buffer(bytes)
    }

    /// The delay before a repair after an overrun: `min` at first, doubling with each
    /// overrun up to `max`, and `min` again after a repair that saw no loss.
    pub fn set_backoff(&mut self, min: Duration, max: Duration) {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
        self.backoff = min;
    }

    /// Asks for a repair at the next step, whatever the events said: for callers that refresh
    /// on a schedule, for example where `nf_conntrack_events` is 2 and entries made before
    /// the first listener report no events at all.
    pub fn request_repair(&mut self) {
        self.repair_due = Some(Instant::now());
    }

    /// Milliseconds until a repair is due (0: now), or -1 when none is waiting.
    pub fn next_timeout_ms(&self) -> i64 {
        if !self.loaded {
            return 0;
        }
        match self.repair_due {
            Some(t) => ms_until(t) as i64,
            None => -1,
        }
    }

    /// Runs what is due: the first load or a repair, then the events that arrive within
    /// `timeout_ms` (0: only those already queued; negative: wait until some arrive or a
    /// repair is due). Each change goes to `f`, which returns `ControlFlow::Break` to end the
    /// step early (a repair always completes first, so the mirror is never left half
    /// compared). Returns how many changes were delivered.
    pub fn step(
        &mut self,
        timeout_ms: i32,
        mut f: impl FnMut(Change, &Entry) -> ControlFlow<()>,
    ) -> Result<usize> {
        self.step_while(timeout_ms, |c, e| f(c, e).is_continue())
    }

    /// [`Mirror::step`] with a callback that returns false to stop.
    pub(crate) fn step_while(
        &mut self,
        timeout_ms: i32,
        mut f: impl FnMut(Change, &Entry) -> bool,
    ) -> Result<usize> {
        let mut delivered = 0;
        let due = !self.loaded || self.repair_due.is_some_and(|t| Instant::now() >= t);
        if due {
            let (n, stopped) = self.repair(&mut f)?;
            delivered += n;
            if stopped {
                return Ok(delivered);
            }
        }
        // Never sleep past a due repair.
        let mut wait = timeout_ms;
        if let Some(t) = self.repair_due {
            let left = i32::try_from(ms_until(t)).unwrap_or(i32::MAX);
            wait = if wait < 0 { left } else { wait.min(left) };
        }
        let Mirror {
            listener,
            table,
            stats,
            filter,
            ..
        } = self;
        let mut a = Apply::new(table, stats, filter.as_ref(), &mut f);
        let r = listener.receive_while(wait, |kind, e| {
            a.event(kind, e);
            !a.stop
        });
        delivered += a.delivered;
        let t = &mut self.table;
        if t.by_key.wants_shrink() || t.by_id.wants_shrink() {
            t.shrink();
        }
        match r {
            Ok(n) => {
                if n == 0 {
                    // Found the queue empty: the kernel stopped dropping (see `congested`).
                    self.congested = false;
                }
                Ok(delivered)
            }
            Err(e) if e.kind == Kind::Overrun => {
                self.overrun();
                Ok(delivered)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs steps until `f` returns `ControlFlow::Break` (or an error).
    pub fn run(&mut self, mut f: impl FnMut(Change, &Entry) -> ControlFlow<()>) -> Result<()> {
        let mut go = true;
        while go {
            self.step_while(-1, |c, e| {
                go = f(c, e).is_continue();
                go
            })?;
        }
        Ok(())
    }

    fn overrun(&mut self) {
        self.stats.overruns += 1;
        self.congested = true;
        let now = Instant::now();
        self.stale_since.get_or_insert(now);
        self.stats.stale = true;
        if self.repair_due.is_none() {
            self.repair_due = Some(now + self.backoff);
        }
        self.backoff = (self.backoff * 2).min(self.max_backoff);
    }

    /// Dumps the table and brings the mirror to it (see the module documentation); returns
    /// the changes delivered and whether the callback asked to stop.
    fn repair(&mut self, f: &mut impl FnMut(Change, &Entry) -> bool) -> Result<(usize, bool)> {
        self.repair_due = None;
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Wrapped: forget old marks so that none passes for this repair's.
            self.table.seen.iter_mut().for_each(|g| *g = 0);
            self.generation = 1;
        }
        let generation = self.generation;
        let Mirror {
            handle,
            listener,
            table,
            stats,
            filter,
            congested,
            pre_drain,
            ..
        } = self;
        let mut a = Apply::new(table, stats, filter.as_ref(), f);
        // Events already queued happened before the dump begins, so the dump is newer than
        // they are: apply them first, as events, not as the newer ones that win over the
        // dump (after an overrun the kernel still delivers those queued before the loss).
        // A loss reported here is one the dump repairs. Bounded, so that a sustained burst
        // cannot keep the repair from starting.
        for _ in 0..*pre_drain {
            match listener.receive_while(0, |kind, e| {
                a.event(kind, e);
                true
            }) {
                Ok(0) => {
                    *congested = false;
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind == Kind::Overrun => {
                    a.stats.overruns += 1;
                    *congested = true;
                }
                Err(e) => return Err(e),
            }
        }
        // Still congested when the dump starts: the kernel may drop events during the dump
        // without a report, so this repair cannot vouch for its result.
        let congested_at_start = *congested;
        let overruns_before = a.stats.overruns;
        a.generation = generation;
        a.absent = Some(KeySet::default());
        let mut lost = false;
        // One receive call's worth of events (a bounded number of datagrams); how many.
        let mut drain = |a: &mut Apply<'_, _>, listener: &mut Listener| -> Result<usize> {
            match listener.receive_while(0, |kind, e| {
                a.event(kind, e);
                true
            }) {
                Ok(n) => Ok(n),
                Err(e) if e.kind == Kind::Overrun => {
                    a.stats.overruns += 1;
                    lost = true;
                    Ok(0)
                }
                Err(e) => Err(e),
            }
        };
        // The repair's clock starts with its dump: what came before was applying events
        // already queued, as any step does.
        let start = Instant::now();
        // The dump runs on a thread of its own (on the mirror's own socket), handing its rows
        // over in chunks, so that it proceeds at dump speed while this thread applies the
        // rows and the events that keep coming (a repair that read both on one thread ran
        // at the speed of the events, up to 25 times slower than a dump under a burst).
        let rows = std::sync::Arc::new(Rows::default());
        let tx = rows.clone();
        let flt = filter.clone();
        let mut dump_handle = handle.take().ok_or_else(|| {
            Error::new(Kind::Internal, "an earlier repair's dump thread panicked")
        })?;
        // A thread of its own rather than a scoped one: it borrows nothing, and it leaves the
        // calling thread (a C program's) without the thread handle a scope records on it.
        let dumper = std::thread::Builder::new()
            .name("ct-mirror-dump".into())
            .spawn(move || {
                let r = dump_rows(&mut dump_handle, flt.as_ref(), &tx);
                (dump_handle, r)
            })
            .map_err(|e| Error::io("start the repair's dump thread", &e))?;
        let mut n = 0usize;
        let mut apply = |a: &mut Apply<'_, _>, chunk: Vec<Entry>| {
            n += chunk.len();
            for e in chunk {
                a.dumped(e, generation);
            }
        };
        let applied = loop {
            let (chunks, ended) = rows.take();
            let got = !chunks.is_empty();
            for chunk in chunks {
                apply(&mut a, chunk);
            }
            if ended {
                break Ok(());
            }
            match drain(&mut a, listener) {
                // Neither rows nor events: wait for rows, briefly, then look at the events
                // again.
                Ok(0) if !got => rows.wait(Duration::from_millis(1)),
                Ok(_) => {}
                Err(e) => break Err(e),
            }
        };
        // The dump thread stops at its next chunk when its rows are no longer taken.
        rows.close();
        let dump_time = match dumper.join() {
            Ok((h, r)) => {
                *handle = Some(h);
                r
            }
            Err(_) => Err(Error::new(
                Kind::Internal,
                "the repair's dump thread panicked",
            )),
        };
        applied?;
        let dump_time = dump_time?;
        // Events still queued from before the dump ended; later ones are applied by the next
        // steps as usual (an entry the sweep removes and a queued event brings back is right
        // once that event is applied).
        for _ in 0..64 {
            if drain(&mut a, listener)? == 0 {
                break;
            }
        }
        // What the dump did not show and no event touched (neither marked) is gone:
        // reported, then removed all at once (the callback cannot look at the mirror
        // meanwhile).
        a.absent = None;
        a.generation = 0;
        let mut gone = 0;
        for s in 0..a.table.entries.len() {
            if a.table.seen[s] != generation {
                gone += 1;
                a.emit_slot(ChangeKind::Destroy, true, s);
            }
        }
        a.table.remove_unmarked(generation, gone);
        let (delivered, stopped) = (a.delivered, a.stop);
        self.table.shrink();
        self.stats.repairs += 1;
        self.stats.last_repair_ms = start.elapsed().as_millis() as u64;
        self.stats.last_repair_entries = n as u64;
        self.stats.last_repair_dump_ms = dump_time.as_millis() as u64;
        self.loaded = true;
        if lost {
            // Reported during the dump: congested until a receive finds the queue empty.
            self.congested = true;
        }
        if lost || congested_at_start || self.stats.overruns != overruns_before {
            // Events went missing during the repair itself: it cannot vouch for the result.
            self.stale_since.get_or_insert(start);
            self.stats.stale = true;
            self.repair_due = Some(Instant::now() + self.backoff);
            self.backoff = (self.backoff * 2).min(self.max_backoff);
        } else {
            if let Some(since) = self.stale_since.take() {
                self.stats.stale_ms += since.elapsed().as_millis() as u64;
            }
            self.stats.stale = false;
            self.backoff = self.min_backoff;
        }
        Ok((delivered, stopped))
    }

    /// How many entries the mirror holds.
    pub fn len(&self) -> usize {
        self.table.entries.len()
    }

    /// Whether the mirror holds no entry.
    pub fn is_empty(&self) -> bool {
        self.table.entries.is_empty()
    }

    /// The entry with `key`'s original tuple and zone (zone unset: 0; a zone of one
    /// direction is told from the same zone of the other or of both).
    pub fn get(&self, key: &Entry) -> Option<&Entry> {
        self.table
            .find(&key_of(key))
            .map(|s| &self.table.entries[s])
    }

    /// The entry with the kernel id `id`: the newest one where two share it (the kernel's
    /// ids are 32-bit hashes, so two live entries can, as can an entry and an older one
    /// whose destroy event was lost, until a repair).
    pub fn get_by_id(&self, id: u32) -> Option<&Entry> {
        self.table.find_id(id).map(|s| &self.table.entries[s])
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.table.entries.iter()
    }

    /// The mirror's counters; `stale_ms` includes the time stale so far.
    pub fn stats(&self) -> MirrorStats {
        let mut s = self.stats;
        if let Some(since) = self.stale_since {
            s.stale_ms += since.elapsed().as_millis() as u64;
        }
        s
    }

    /// Bytes the mirror's own structures hold beyond its entries' extra fields: the entry
    /// array and the two indexes.
    pub fn memory(&self) -> usize {
        self.table.entries.capacity() * std::mem::size_of::<Entry>()
            + self.table.seen.capacity()
            + self.table.by_key.bytes()
            + self.table.by_id.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{proto, Dir, Side};

    fn udp(i: u32, id: u32) -> Entry {
        let mut e = Entry::new();
        e.set_proto(proto::UDP).unwrap();
        e.set_addr(
            Dir::Orig,
            Side::Src,
            IpAddr::from((0x0a00_0000 + i).to_be_bytes()),
        )
        .unwrap();
        e.set_addr(Dir::Orig, Side::Dst, "10.200.0.1".parse().unwrap())
            .unwrap();
        e.set_port(Dir::Orig, Side::Src, 1024).unwrap();
        e.set_port(Dir::Orig, Side::Dst, 53).unwrap();
        e.id = Some(id);
        e
    }

    /// A network namespace of the test's own, removed when dropped.
    struct Netns(String);

    impl Netns {
        fn new(tag: &str) -> Netns {
            let name = format!("ctmirror{tag}{}", std::process::id());
            let ok = std::process::Command::new("ip")
                .args(["netns", "add", &name])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "ip netns add {name} failed (root needed)");
            Netns(name)
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }

    #[test]
    fn a_repair_that_dumps_before_the_queue_empties_after_a_loss_cannot_vouch() {
        let ns = Netns::new("cg");
        let mut m = Mirror::open_netns(&ns.0, None).unwrap();
        let go = |_: Change, _: &Entry| ControlFlow::Continue(());
        m.step(0, go).unwrap();
        assert!(m.loaded && !m.stats().stale);
        // A receive buffer this small overflows: the kernel reports the loss once and then
        // drops silently until a receive finds the queue empty.
        m.set_receive_buffer(1).unwrap();
        let mut h = Handle::open_netns(&ns.0).unwrap();
        for i in 0..300 {
            let mut e = udp(i, 0);
            e.id = None;
            e.set_timeout(600);
            h.create(&e).unwrap();
        }
        // This step hears the loss: congested, with events still queued behind it.
        m.step(0, go).unwrap();
        assert!(m.stats().overruns >= 1 && m.stats().stale);
        // A repair that stops emptying the queue after one receive dumps while the kernel
        // may still drop events unreported: it must leave the mirror stale.
        m.pre_drain = 1;
        m.request_repair();
        m.step(0, go).unwrap();
        assert_eq!(m.stats().repairs, 2);
        assert!(m.stats().stale, "{:?}", m.stats());
        // Given time, later repairs empty the queue first and vouch for the table.
        m.pre_drain = PRE_DRAIN;
        for _ in 0..1000 {
            if !m.stats().stale {
                break;
            }
            m.step(100, go).unwrap();
        }
        assert!(!m.stats().stale, "{:?}", m.stats());
        assert_eq!(m.len(), 300);
    }

    #[test]
    fn the_table_keeps_both_indexes_through_inserts_and_removals() {
        let mut t = Table::new();
        let mut model = std::collections::HashMap::new();
        let mut shrunk = false;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..60_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Phases that mostly remove, so the indexes shrink as well as grow.
            let removing = (round / 15_000) % 2 == 1;
            let i = (x % 5_000) as u32;
            let key = key_of(&udp(i, 0));
            if round % 997 == 0 {
                t.shrink();
            }
            match t.find(&key) {
                Some(s) if removing || x % 3 == 0 => {
                    let gone = t.remove(s);
                    assert_eq!(model.remove(&i), gone.id);
                }
                Some(s) => {
                    // A new incarnation under the same tuple: another id.
                    t.replace(s, udp(i, round + 100_000));
                    model.insert(i, round + 100_000);
                }
                None if removing && x % 8 != 0 => {}
                None => {
                    t.insert(udp(i, round), 0);
                    model.insert(i, round);
                }
            }
            if round % 15_000 == 14_999 {
                shrunk |= removing && t.by_key.buckets.len() < 2_000;
            }
        }
        assert!(shrunk, "a removing phase shrank the key index");
        assert_eq!(t.entries.len(), model.len());
        assert_eq!(t.by_key.len, model.len());
        assert_eq!(t.by_id.len, model.len());
        for (i, id) in &model {
            let s = t.find(&key_of(&udp(*i, 0))).expect("by key");
            assert_eq!(t.entries[s].id, Some(*id));
            assert_eq!(t.find_id(*id), Some(s), "by id");
        }
        assert_eq!(t.find_id(7_777_777), None);
    }

    #[test]
    fn removing_the_unmarked_keeps_both_indexes_one_by_one_and_all_at_once() {
        // Few gone (one by one) and most gone (compacted, indexes rebuilt), across chunks.
        for every in [50u32, 3] {
            let mut t = Table::new();
            let n = 3 * CHUNK as u32 + 77;
            for i in 0..n {
                t.insert(udp(i, i + 1), 0);
            }
            // A reused id: entry n+1 carries the id of entry 0 and the id index names it.
            t.insert(udp(n + 1, 1), 0);
            let kept = |i: u32| i % every == 0 || i == n + 1;
            let mut gone = 0;
            for s in 0..t.entries.len() {
                let i = u32::from_be_bytes(match t.entries[s].orig.src {
                    Some(IpAddr::V4(a)) => a.octets(),
                    _ => unreachable!(),
                }) - 0x0a00_0000;
                if kept(i) {
                    t.seen[s] = 7;
                } else {
                    gone += 1;
                }
            }
            t.remove_unmarked(7, gone);
            let left: Vec<u32> = (0..n).filter(|i| kept(*i)).collect();
            assert_eq!(t.entries.len(), left.len() + 1);
            assert_eq!(t.seen.len(), t.entries.len());
            assert_eq!(t.by_key.len, t.entries.len());
            assert!(t.seen.iter().all(|g| *g == 7));
            for i in 0..n {
                let s = t.find(&key_of(&udp(i, 0)));
                assert_eq!(s.is_some(), kept(i), "entry {i}");
                if let Some(s) = s {
                    assert_eq!(t.entries[s].id, Some(i + 1));
                    if i != 0 {
                        assert_eq!(t.find_id(i + 1), Some(s), "id of {i}");
                    }
                }
            }
            let reused = t
                .find(&key_of(&udp(n + 1, 0)))
                .expect("the reused id's entry");
            assert_eq!(t.find_id(1), Some(reused), "the id names the newer entry");
            // When the newer holder of the id goes, the older is found by it again.
            t.remove(reused);
            let older = t.find(&key_of(&udp(0, 0))).expect("entry 0");
            assert_eq!(t.find_id(1), Some(older), "the older entry's id");
            // Still a working table: removals and inserts after the rebuild.
            t.remove(older);
            assert_eq!(t.find_id(1), None);
            t.insert(udp(n + 2, n + 3), 0);
            assert_eq!(t.find_id(n + 3), t.find(&key_of(&udp(n + 2, 0))));
            assert_eq!(t.by_id.len, t.entries.len());
        }
    }

    #[test]
    fn events_and_repairs_apply_in_the_right_order() {
        let mut t = Table::new();
        let mut stats = MirrorStats::default();
        let mut seen = Vec::new();
        let mut a = Apply::new(&mut t, &mut stats, None, |c: Change, e: &Entry| {
            seen.push((c, e.id, e.mark));
            true
        });
        // In a repair's first generation.
        a.generation = 1;
        a.absent = Some(KeySet::default());
        // An entry the dump shows; then an event that destroys an older incarnation of
        // another tuple's entry; then an update of the first that carries only the mark.
        let mut first = udp(1, 10);
        first.status = Some(8);
        a.dumped(first.clone(), 1);
        let mut upd = udp(1, 10);
        upd.mark = Some(5);
        a.event(crate::events::EVENT_UPDATE, &upd);
        assert_eq!(
            a.table.entries[0].status,
            Some(8),
            "kept what the event lacked"
        );
        assert_eq!(a.table.entries[0].mark, Some(5));
        // A destroy of an older incarnation (another id) leaves the entry.
        a.event(EVENT_DESTROY, &udp(1, 9));
        assert_eq!(a.table.entries.len(), 1);
        // A dump entry for a touched key does not override the event's newer state.
        let mut stale = udp(1, 10);
        stale.mark = Some(1);
        a.dumped(stale, 1);
        assert_eq!(a.table.entries[0].mark, Some(5));
        a.event(EVENT_DESTROY, &udp(1, 10));
        assert!(a.table.entries.is_empty());
        let kinds: Vec<_> = seen.iter().map(|(c, _, _)| (c.kind, c.repair)).collect();
        assert_eq!(
            kinds,
            [
                (ChangeKind::New, true),
                (ChangeKind::Update, false),
                (ChangeKind::Destroy, false)
            ]
        );
    }

    #[test]
    fn an_event_that_changes_only_what_the_mirror_does_not_compare_is_no_change() {
        let mut t = Table::new();
        let mut stats = MirrorStats::default();
        let mut seen = Vec::new();
        let mut a = Apply::new(&mut t, &mut stats, None, |c: Change, e: &Entry| {
            seen.push((c.kind, c.repair, e.timeout, e.mark));
            true
        });
        // In a repair's first generation.
        a.generation = 1;
        a.absent = Some(KeySet::default());
        // The dump shows an entry made while it ran; its NEW event, read after the row,
        // carries the same state but a longer timeout (the dump's has run down since).
        let mut row = udp(1, 10);
        row.status = Some(8);
        row.timeout = Some(3590);
        a.dumped(row.clone(), 1);
        let mut new = row.clone();
        new.timeout = Some(3600);
        new.use_count = Some(1);
        a.event(crate::events::EVENT_NEW, &new);
        assert_eq!(a.table.entries[0].timeout, Some(3600), "refreshed silently");
        // A mark of 0 where none was held is no change either; a mark of 5 is one.
        let mut zero = row.clone();
        zero.mark = Some(0);
        a.event(crate::events::EVENT_UPDATE, &zero);
        let mut five = row.clone();
        five.mark = Some(5);
        a.event(crate::events::EVENT_UPDATE, &five);
        assert_eq!(
            seen,
            [
                (ChangeKind::New, true, Some(3590), None),
                (ChangeKind::Update, false, Some(3590), Some(5))
            ]
        );
    }
}
