//! A dump read one entry at a time, at the caller's pace: for callers that cannot hand the
//! library a callback (an iterator in Python, a loop that must return between entries) and
//! must not hold the whole table in memory.

use crate::codec::SUBSYS_CTNETLINK;
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::handle::{DumpStream, Handle};
use crate::ops::{EntryDump, DUMP_TABLE};

/// A dump in progress on one handle, apart from the handle (the C API keeps it so). While it
/// is open, the handle must serve nothing else: its socket carries the dump. [`Entries`] is
/// the safe form, which borrows the handle.
pub(crate) struct Cursor {
    dump: EntryDump,
    stream: DumpStream<'static>,
    /// The port id of the handle it belongs to.
    portid: u32,
    /// Entries decoded from the last datagram; the slots are reused for the next one.
    entries: Vec<Entry>,
    /// How many of `entries` hold entries of the last datagram, and which one is next.
    len: usize,
    next: usize,
    /// The dump is over (ended or failed).
    done: bool,
    /// How it failed, returned once the entries read before the failure are.
    error: Option<Error>,
}

impl Cursor {
    /// The entry the last [`Handle::cursor_next`] returned, while the cursor has not moved on.
    pub(crate) fn last(&self) -> Option<&Entry> {
        self.next.checked_sub(1).and_then(|i| self.entries.get(i))
    }
}

impl Handle {
    /// Starts a dump of the entries matching `filter` (None: all), read with
    /// [`Handle::cursor_next`].
    pub(crate) fn cursor(&mut self, filter: Option<&Filter>) -> Result<Cursor> {
        let dump = EntryDump::new(filter);
        let req = dump.request(self);
        let stream = self.dump_start(DUMP_TABLE, SUBSYS_CTNETLINK, req)?;
        Ok(Cursor {
            dump,
            stream,
            portid: self.port_id(),
            entries: Vec::new(),
            len: 0,
            next: 0,
            done: false,
            error: None,
        })
    }

    /// The next entry of `c`'s dump, or None at its end. The entry lives in the cursor until
    /// the next call. An error ends the dump (the rest is read and dropped), and comes after
    /// the entries read before it; the calls after it return None. A dump the kernel flags as
    /// interrupted ends in `Kind::DumpInterrupted`.
    pub(crate) fn cursor_next<'c>(&mut self, c: &'c mut Cursor) -> Result<Option<&'c Entry>> {
        if c.portid != self.port_id() {
            return Err(Error::invalid("the cursor belongs to another handle"));
        }
        while c.next == c.len {
            if let Some(e) = c.error.take() {
                return Err(e);
            }
            if c.done {
                return Ok(None);
            }
            c.len = 0;
            c.next = 0;
            let Cursor {
                dump,
                stream,
                entries,
                len,
                ..
            } = c;
            let r = self.dump_step(stream, &mut |m| {
                if *len == entries.len() {
                    entries.push(Entry::new());
                }
                if dump.take(m, &mut entries[*len])? {
                    *len += 1;
                }
                Ok(true)
            });
            match r {
                Ok(false) => {}
                Ok(true) => {
                    c.done = true;
                    c.dump.finish(self);
                }
                Err(e) => {
                    c.done = true;
                    c.dump.finish(self);
                    c.error = Some(e);
                }
            }
        }
        c.next += 1;
        Ok(Some(&c.entries[c.next - 1]))
    }

    /// Ends `c`'s dump, reading and dropping what is left of it, so the handle can serve the
    /// next request.
    pub(crate) fn cursor_close(&mut self, c: Cursor) {
        if c.portid == self.port_id() {
            self.dump_abandon(c.stream);
        }
    }

    /// The entries matching `filter` (None: all), read one at a time with
    /// [`Entries::next_entry`]: memory stays that of one datagram's entries, whatever the
    /// table's size. Like [`Handle::dump_entries`] (and unlike [`Handle::list`]) it passes
    /// on an entry the kernel sends twice. Dropping it early reads and drops the rest.
    pub fn entries(&mut self, filter: Option<&Filter>) -> Result<Entries<'_>> {
        let cursor = self.cursor(filter)?;
        Ok(Entries {
            handle: self,
            cursor: Some(cursor),
        })
    }
}

/// A dump read one entry at a time; it holds its handle until dropped.
pub struct Entries<'h> {
    handle: &'h mut Handle,
    cursor: Option<Cursor>,
}

impl Entries<'_> {
    /// The next entry, or None at the end. The entry lives until the next call. An error
    /// ends the dump (the calls after it return None); an interrupted dump ends in
    /// `Kind::DumpInterrupted`.
    pub fn next_entry(&mut self) -> Result<Option<&Entry>> {
        match self.cursor.as_mut() {
            Some(c) => self.handle.cursor_next(c),
            None => Ok(None),
        }
    }
}

impl Entries<'_> {
    /// As [`Entries::next_entry`], moving the entry out rather than lending it (the slot it
    /// was decoded into starts empty for the next datagram): for the mirror's repair, whose
    /// dump thread hands its rows to another thread.
    pub(crate) fn take_entry(&mut self) -> Result<Option<Entry>> {
        let Some(c) = self.cursor.as_mut() else {
            return Ok(None);
        };
        if self.handle.cursor_next(c)?.is_none() {
            return Ok(None);
        }
        Ok(Some(std::mem::take(&mut c.entries[c.next - 1])))
    }
}

/// Each entry as an owned copy; an error is the last item.
impl Iterator for Entries<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        match self.next_entry() {
            Ok(Some(e)) => Some(Ok(e.clone())),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl Drop for Entries<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.cursor.take() {
            self.handle.cursor_close(c);
        }
    }
}
