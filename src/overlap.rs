//! Deletes sent while the dump that finds them is read, in constant memory.
//!
//! The dump is read on the handle's socket by the calling thread; the entries that match go,
//! in chunks, to a worker thread that deletes them in batches through a second socket of the
//! same handle, in the same network namespace (made the first time it is needed, then kept).
//! So the kernel dumps on one core while it deletes on another, and at most a few chunks of
//! victims are held at any time, whatever the number of matches. A small result (less than
//! one chunk) is deleted on the handle's own socket after the dump, with no thread.

use std::fs::File;
use std::os::fd::FromRawFd;
use std::os::unix::fs::MetadataExt;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::batch::{Batch, Op};
use crate::codec::SUBSYS_CTNETLINK;
use crate::entry::{Dir, Entry, Tuple};
use crate::error::{Error, Kind, Result};
use crate::filter::Filter;
use crate::handle::Handle;
use crate::ops::{EntryDump, DUMP_TABLE};

/// Victims per chunk handed to the worker.
const CHUNK: usize = 4096;
/// Chunks in flight between the dump and the worker (the bound on memory: with the one
/// being filled and the one being deleted, at most DEPTH + 2 chunks exist, about 64 bytes
/// a victim: 1.5 MiB in all).
const DEPTH: usize = 4;

/// What a delete needs of an entry: family, original tuple, zone and id (the id keeps a
/// reused tuple safe, and makes a repeat of the dump fail with ENOENT, not count twice).
#[derive(Clone, Default)]
struct Victim {
    family: Option<u8>,
    orig: Tuple,
    zone: Option<u16>,
    /// Zones of one direction (original, reply): the kernel looks such an entry up in them.
    dir_zones: (Option<u16>, Option<u16>),
    id: Option<u32>,
}

impl Victim {
    fn of(e: &Entry) -> Victim {
        Victim {
            family: e.family,
            orig: e.orig.clone(),
            zone: e.zone,
            dir_zones: (e.dir_zone(Dir::Orig), e.dir_zone(Dir::Reply)),
            id: e.id,
        }
    }
}

/// What the worker reports when it is done.
struct Done {
    deleter: Box<Handle>,
    deleted: u64,
    error: Option<Error>,
}

/// Deletes `victims` through `h` in batches built in `b`; adds the successes to `deleted`
/// and keeps the first real failure. An entry gone meanwhile (ENOENT: it expired, someone
/// else deleted it, or the dump sent it twice) is neither counted nor an error.
fn delete_chunk(
    h: &mut Handle,
    b: &mut Batch,
    victims: &[Victim],
    deleted: &mut u64,
    error: &mut Option<Error>,
) {
    b.clear();
    // One entry, refilled for each request (the batch encodes it at once).
    let mut e = Entry::new();
    for v in victims {
        e.family = v.family;
        e.orig = v.orig.clone();
        e.zone = v.zone;
        // Only entries with zones of one direction need the entry's rarer fields.
        if v.dir_zones != (None, None) || e.dir_zone(Dir::Orig).or(e.dir_zone(Dir::Reply)).is_some()
        {
            let x = e.extra.get_mut();
            (x.zone_orig, x.zone_reply) = v.dir_zones;
        }
        e.id = v.id;
        b.add(Op::Delete, &e);
    }
    if let Err(e) = h.send_batch(Op::Delete.what(), b) {
        error.get_or_insert(e);
        return;
    }
    for i in 0..b.len() {
        match b.outcome(i) {
            Some(Ok(())) => *deleted += 1,
            Some(Err(e)) if e.kind == Kind::NotFound => {}
            Some(Err(e)) => {
                error.get_or_insert_with(|| e.clone());
            }
            None => {}
        }
    }
}

/// The worker: deletes each chunk it receives and sends the emptied vector back for reuse.
fn worker(
    mut deleter: Box<Handle>,
    rx: Receiver<Vec<Victim>>,
    back: SyncSender<Vec<Victim>>,
) -> Done {
    let mut b = Batch::new();
    let mut deleted = 0;
    let mut error = None;
    for mut chunk in rx {
        if error.is_none() {
            delete_chunk(&mut deleter, &mut b, &chunk, &mut deleted, &mut error);
        }
        chunk.clear();
        // The dump side may be gone (it failed); then the vector is simply dropped.
        let _ = back.try_send(chunk);
    }
    Done {
        deleter,
        deleted,
        error,
    }
}

/// A ctnetlink socket in the same network namespace as the socket `fd`, for a worker.
fn open_beside(fd: i32) -> Result<Handle> {
    const SIOCGSKNS: libc::c_ulong = 0x894C;
    // SAFETY: SIOCGSKNS takes no argument and returns a new descriptor (or -1).
    let ns_fd = unsafe { libc::ioctl(fd, SIOCGSKNS as _) };
    if ns_fd < 0 {
        return Err(Error::io(
            "find the handle's network namespace",
            &std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: a descriptor the kernel just gave us, owned by nobody else.
    let ns = unsafe { File::from_raw_fd(ns_fd) };
    let here = std::fs::metadata("/proc/thread-self/ns/net").map(|m| (m.dev(), m.ino()));
    let there = ns.metadata().map(|m| (m.dev(), m.ino()));
    if matches!((&here, &there), (Ok(a), Ok(b)) if a == b) {
        return Handle::open();
    }
    std::thread::spawn(move || {
        crate::sys::setns_net(&ns)?;
        Handle::open()
    })
    .join()
    .unwrap_or_else(|_| Err(Error::new(Kind::Internal, "netns thread panicked")))
}

/// The pipe to a running worker.
struct Pipe<'s> {
    tx: SyncSender<Vec<Victim>>,
    back: Receiver<Vec<Victim>>,
    /// Vectors made so far (at most DEPTH + 2).
    made: usize,
    worker: std::thread::ScopedJoinHandle<'s, Done>,
}

impl Handle {
    /// Dumps the entries `filter` (sent to the kernel as far as it can filter, and checked
    /// again here) and `also` both match, and deletes them while the dump is read; returns
    /// how many this call deleted. Every entry that matched when the dump saw it is gone
    /// when this returns, or the error says why not.
    pub(crate) fn delete_overlapped(
        &mut self,
        filter: &Filter,
        also: impl Fn(&Entry) -> bool,
    ) -> Result<u64> {
        let fd = self.fd();
        let mut spare = self.deleter.take();
        let mut dump = EntryDump::new(Some(filter));
        let req = dump.request(self);
        let (r, done, tail, unbounded) = std::thread::scope(|s| {
            let mut pipe: Option<Pipe<'_>> = None;
            let mut chunk: Vec<Victim> = Vec::new();
            // Set when no second socket could be had: victims are then kept to the end.
            let mut unbounded = false;
            let mut e = Entry::new();
            let r = self.dump(DUMP_TABLE, SUBSYS_CTNETLINK, req, |m| {
                if !dump.take(m, &mut e)? || !also(&e) {
                    return Ok(true);
                }
                chunk.push(Victim::of(&e));
                if chunk.len() < CHUNK || unbounded {
                    return Ok(true);
                }
                if pipe.is_none() {
                    let deleter = match spare.take() {
                        Some(d) => d,
                        None => match open_beside(fd) {
                            Ok(h) => Box::new(h),
                            Err(_) => {
                                unbounded = true;
                                return Ok(true);
                            }
                        },
                    };
                    let (tx, rx) = sync_channel(DEPTH);
                    let (back_tx, back) = sync_channel(DEPTH + 2);
                    let worker = s.spawn(move || worker(deleter, rx, back_tx));
                    pipe = Some(Pipe {
                        tx,
                        back,
                        made: 1,
                        worker,
                    });
                }
                let p = pipe.as_mut().expect("the pipe was just made");
                let next = match p.back.try_recv() {
                    Ok(v) => v,
                    Err(_) if p.made < DEPTH + 2 => {
                        p.made += 1;
                        Vec::with_capacity(CHUNK)
                    }
                    // Every vector is in use: wait for the worker to give one back.
                    Err(_) => p.back.recv().map_err(|_| worker_gone())?,
                };
                let full = std::mem::replace(&mut chunk, next);
                p.tx.send(full).map_err(|_| worker_gone())?;
                Ok(true)
            });
            let mut tail = None;
            let done = match pipe {
                Some(p) => {
                    if !chunk.is_empty() && r.is_ok() {
                        let _ = p.tx.send(std::mem::take(&mut chunk));
                    }
                    drop(p.tx);
                    Some(p.worker.join().unwrap_or_else(|_| {
                        panic!("the delete worker panicked");
                    }))
                }
                None => {
                    tail = Some(chunk);
                    None
                }
            };
            (r, done, tail, unbounded)
        });
        dump.finish(self);
        let mut deleted = 0;
        let mut error = None;
        if let Some(mut d) = done {
            deleted = d.deleted;
            error = d.error;
            self.dropped += std::mem::take(&mut d.deleter.dropped);
            spare = Some(d.deleter);
        }
        self.deleter = spare;
        // What the dump found but no worker took: deleted here, on the handle's own socket.
        if let (Some(t), true) = (tail, r.is_ok()) {
            if !t.is_empty() {
                let mut b = Batch::new();
                for part in t.chunks(if unbounded { CHUNK } else { t.len() }) {
                    delete_chunk(self, &mut b, part, &mut deleted, &mut error);
                }
            }
        }
        match r.err().or(error) {
            Some(mut e) => {
                e.message = format!("{} ({deleted} entries were deleted)", e.message);
                Err(e)
            }
            None => Ok(deleted),
        }
    }
}

fn worker_gone() -> Error {
    Error::new(Kind::Internal, "the delete worker stopped early")
}
