//! The conntrack operations, on a [`Handle`].

use std::collections::HashMap;
use std::ops::ControlFlow;

use crate::batch::{self, Batch, Op};
use crate::codec::{self, msg, RawMessage, Request, SUBSYS_CTNETLINK};
use crate::entry::{Dir, Entry};
use crate::error::{Error, Kind, Result};
use crate::filter::{Filter, Source};
use crate::handle::Handle;

/// What names a dump of the table in errors.
pub(crate) const DUMP_TABLE: &str = "dump conntrack table";

/// What a dump of entries keeps besides the entries: the filter the library applies again
/// to each, and what the dump showed of the kernel.
pub(crate) struct EntryDump {
    filter: Filter,
    /// A zone the kernel was asked to filter on, to notice a kernel that ignores it.
    asked_zone: Option<u16>,
    zone_ignored: bool,
    /// Entries the kernel sent.
    received: u64,
}

impl EntryDump {
    /// A dump of the entries matching `filter` (None: all).
    pub(crate) fn new(filter: Option<&Filter>) -> EntryDump {
        let filter = filter.cloned().unwrap_or_default();
        let kernel_filters = filter.kernel_filters();
        EntryDump {
            asked_zone: filter.zone.filter(|_| kernel_filters),
            filter,
            zone_ignored: false,
            received: 0,
        }
    }

    /// The dump request, with the filters the kernel of `h` applies.
    pub(crate) fn request(&self, h: &Handle) -> Request {
        let msg_type = match self.filter.source {
            Source::Table => msg::CT_GET,
            Source::TableZeroCounters => msg::CT_GET_CTRZERO,
            Source::Dying => msg::CT_GET_DYING,
            Source::Unconfirmed => msg::CT_GET_UNCONFIRMED,
        };
        Request {
            msg_type,
            version: 0,
            family: self.filter.kernel_family(),
            flags: 0,
            attrs: if self.filter.kernel_filters() {
                self.filter.kernel_attrs(&h.kernel)
            } else {
                Vec::new()
            },
        }
    }

    /// Decodes the entry message `m` into `e` (reusing its memory). Ok(true) when it is an
    /// entry that matches the filter.
    pub(crate) fn take(&mut self, m: &RawMessage<'_>, e: &mut Entry) -> Result<bool> {
        if !codec::is_ct_message(m.msg_type) {
            return Ok(false);
        }
        self.received += 1;
        e.clear();
        codec::decode_entry_into(m.payload, e)?;
        if self.asked_zone.is_some_and(|z| e.zone_id() != z) {
            self.zone_ignored = true;
        }
        Ok(self.filter.matches(e))
    }

    /// Records on `h` what the dump showed.
    pub(crate) fn finish(&self, h: &mut Handle) {
        h.last_dump_received = self.received;
        if self.zone_ignored {
            h.kernel.zone_filter_disproved = true;
        }
    }
}

/// Tells a repeat of an entry already collected from a new entry that shares its id.
#[derive(Default)]
struct Repeats {
    /// id -> index of the first collected entry with it.
    first: HashMap<u32, usize>,
    /// id -> indexes of further entries with it (id collisions: rare).
    more: HashMap<u32, Vec<usize>>,
}

impl Repeats {
    /// Whether `e` repeats an entry of `kept`; if not, records that it is about to be pushed.
    fn is_repeat(&mut self, e: &Entry, kept: &[Entry]) -> bool {
        let Some(id) = e.id else { return false };
        // Entries of one tuple in the orig-only and the reply-only zone 5 are two entries.
        let same = |o: &Entry| {
            o.orig == e.orig
                && o.zone == e.zone
                && o.dir_zone(Dir::Orig) == e.dir_zone(Dir::Orig)
                && o.dir_zone(Dir::Reply) == e.dir_zone(Dir::Reply)
        };
        match self.first.get(&id) {
            None => {
                self.first.insert(id, kept.len());
                false
            }
            Some(&i) => {
                let others = self.more.entry(id).or_default();
                if same(&kept[i]) || others.iter().any(|&j| same(&kept[j])) {
                    return true;
                }
                others.push(kept.len());
                false
            }
        }
    }
}

impl Handle {
    /// Streams every entry matching `filter` to `f`, which returns Break to stop. Each entry
    /// is decoded into one reused value; nothing of the table is kept.
    pub fn dump_entries(
        &mut self,
        filter: Option<&Filter>,
        mut f: impl FnMut(&Entry) -> ControlFlow<()>,
    ) -> Result<()> {
        let mut dump = EntryDump::new(filter);
        let mut e = Entry::new();
        let r = self.dump(DUMP_TABLE, SUBSYS_CTNETLINK, dump.request(self), |m| {
            if !dump.take(m, &mut e)? {
                return Ok(true);
            }
            Ok(f(&e).is_continue())
        });
        dump.finish(self);
        r
    }

    /// Every entry matching `filter`, each once: a dump is not a snapshot, and the kernel
    /// can send an entry twice when entries die or the table resizes during it, so repeats
    /// (same kernel id, same tuple and zone) are dropped. Ids alone are 32-bit hashes and
    /// collide in large tables, so an id seen before only marks a candidate. (A dump can also
    /// miss an entry created or moved while it runs; no dump can promise otherwise.)
    pub fn list(&mut self, filter: Option<&Filter>) -> Result<Vec<Entry>> {
        let mut v: Vec<Entry> = Vec::new();
        let mut seen = Repeats::default();
        self.dump_entries(filter, |e| {
            if !seen.is_repeat(e, &v) {
                v.push(e.clone());
            }
            ControlFlow::Continue(())
        })?;
        Ok(v)
    }

    /// Reads the entry with `key`'s tuple (original, else reply) in `key`'s zone.
    pub fn get(&mut self, key: &Entry) -> Result<Entry> {
        // A get carries exactly what an exact delete carries: tuple, zone, id.
        let req = Request {
            msg_type: msg::CT_GET,
            version: 0,
            ..batch::request(Op::Delete, key)?
        };
        let mut found = None;
        self.request("get conntrack entry", SUBSYS_CTNETLINK, req, |m| {
            if codec::is_ct_message(m.msg_type) {
                found = Some(codec::decode_entry(m.payload)?);
            }
            Ok(())
        })?;
        found.ok_or_else(|| Error::malformed("the kernel acknowledged a get but sent no entry"))
    }

    /// Creates `e`. Fails with `Kind::Exists` when the tuple is taken.
    pub fn create(&mut self, e: &Entry) -> Result<()> {
        let req = batch::request(Op::Create, e)?;
        self.request(Op::Create.what(), SUBSYS_CTNETLINK, req, |_| Ok(()))
            .map_err(Error::in_create)
    }

    /// Updates the entry with `e`'s tuple and zone: timeout, mark, labels, status and protocol
    /// state, as far as they are set in `e`.
    pub fn update(&mut self, e: &Entry) -> Result<()> {
        let req = batch::request(Op::Update, e)?;
        self.request("update conntrack entry", SUBSYS_CTNETLINK, req, |_| Ok(()))
            .map_err(|mut err| {
                if err.errno == Some(libc::ENOSPC) && e.extra.get().labels.is_some() {
                    err.message.push_str(
                        " - the entry has no room for labels: the kernel gives an entry label \
                         storage only when it is created while a rule in its namespace uses labels",
                    );
                }
                err
            })
    }

    /// Deletes the entry with `e`'s tuple and zone (and id, when set).
    pub fn delete(&mut self, e: &Entry) -> Result<()> {
        // Tuple, zone and, when known, the id (so a reused tuple is safe).
        let req = batch::request(Op::Delete, e)?;
        self.request("delete conntrack entry", SUBSYS_CTNETLINK, req, |_| Ok(()))
    }

    /// Deletes the entry whose kernel id is `id`. The kernel deletes by tuple only (a delete
    /// carrying just an id would flush the table), so this finds the entry first.
    pub fn delete_by_id(&mut self, id: u32) -> Result<()> {
        let mut target = None;
        self.dump_entries(None, |e| {
            if e.id == Some(id) {
                target = Some(e.clone());
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        let e = target.ok_or_else(|| {
            Error::new(Kind::NotFound, format!("no conntrack entry has id {id}"))
                .with_errno(libc::ENOENT)
        })?;
        self.delete(&e)
    }

    /// Deletes every entry matching `filter`; returns how many this call deleted (entries
    /// that vanished on their own meanwhile, or that the dump sent twice, are not counted).
    /// The deletes go out while the dump is read, in constant memory (see `overlap`).
    pub fn delete_matching(&mut self, filter: &Filter) -> Result<u64> {
        let table_only;
        let filter = if filter.source == Source::Table {
            filter
        } else {
            table_only = Filter {
                source: Source::Table,
                ..filter.clone()
            };
            &table_only
        };
        self.delete_overlapped(filter, |_| true)
    }

    /// Deletes each of `victims` by tuple, zone and id in batches; returns how many went.
    pub fn delete_all(&mut self, victims: &[Entry]) -> Result<u64> {
        let mut b = Batch::new();
        for v in victims {
            b.add(Op::Delete, v);
        }
        self.send_batch("delete conntrack entry", &mut b)?;
        let mut deleted = 0u64;
        let mut first_error: Option<&Error> = None;
        for i in 0..b.len() {
            match b.outcome(i) {
                Some(Ok(())) => deleted += 1,
                // Gone on its own meanwhile: not ours to count, not an error.
                Some(Err(e)) if e.kind == Kind::NotFound => {}
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                None => {}
            }
        }
        match first_error {
            Some(e) => {
                let mut e = e.clone();
                e.message = format!("{} ({deleted} entries were deleted)", e.message);
                Err(e)
            }
            None => Ok(deleted),
        }
    }

    /// Empties the table (IPv4 and IPv6, every zone).
    pub fn flush(&mut self) -> Result<()> {
        let req = Request {
            msg_type: msg::CT_DELETE,
            version: 0,
            family: 0,
            flags: 0,
            attrs: Vec::new(),
        };
        self.request("flush conntrack table", SUBSYS_CTNETLINK, req, |_| Ok(()))
    }

    /// Flushes every entry matching `filter`. Where the kernel removes exactly the matching
    /// entries itself (6.12 and later, every field in an exact kernel form) it does so in one
    /// request and the count is unknown (None); everywhere else the library dumps what
    /// matches and deletes exactly those entries, and says how many went. Never sends a
    /// request whose meaning differs on an older kernel (a zone-only flush request empties
    /// every zone before 6.8).
    pub fn flush_matching(&mut self, filter: &Filter) -> Result<Option<u64>> {
        match filter.kernel_flush(&self.kernel) {
            Some((family, attrs)) => {
                let req = Request {
                    msg_type: msg::CT_DELETE,
                    family,
                    // Version 1: honour the family instead of flushing IPv4 and IPv6.
                    version: u8::from(family != 0),
                    flags: 0,
                    attrs,
                };
                self.request("flush conntrack entries", SUBSYS_CTNETLINK, req, |_| Ok(()))?;
                Ok(None)
            }
            None => self.delete_matching(filter).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(src: &str, id: u32) -> Entry {
        let mut e = Entry::new();
        e.orig.src = Some(src.parse().unwrap());
        e.id = Some(id);
        e
    }

    #[test]
    fn repeats_are_dropped_but_id_collisions_are_kept() {
        let mut r = Repeats::default();
        let mut kept = Vec::new();
        for e in [
            entry("1.1.1.1", 7),
            entry("1.1.1.1", 7),
            entry("2.2.2.2", 7),
            entry("2.2.2.2", 7),
            entry("3.3.3.3", 8),
        ] {
            if !r.is_repeat(&e, &kept) {
                kept.push(e);
            }
        }
        let srcs: Vec<String> = kept
            .iter()
            .map(|e| e.orig.src.unwrap().to_string())
            .collect();
        assert_eq!(srcs, ["1.1.1.1", "2.2.2.2", "3.3.3.3"]);
    }
}
