//! The event listener: new, update and destroy events of the conntrack table, without silent
//! loss.
//!
//! When the kernel cannot queue an event because the socket's buffer is full it drops it and
//! flags the socket; the next receive then fails with ENOBUFS. The listener turns that into
//! a `Kind::Overrun` result and counts it, and the stream goes on. A caller that prefers
//! back-pressure to loss turns on reliable mode (NETLINK_BROADCAST_ERROR with
//! NETLINK_NO_ENOBUFS): the kernel then keeps destroy events it could not deliver and delivers
//! them later, and never reports overruns.

use std::ops::ControlFlow;
use std::os::fd::AsRawFd;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};

use crate::codec;
use crate::entry::Entry;
use crate::error::{Error, Kind, Result};
use crate::filter::Filter;
use crate::sys;

/// Event type bit: a new entry (also the group mask for [`Listener::open`]).
pub const EVENT_NEW: u32 = 1;
/// Event type bit: an entry changed.
pub const EVENT_UPDATE: u32 = 2;
/// Event type bit: an entry went.
pub const EVENT_DESTROY: u32 = 4;
/// Every event type.
pub const EVENT_ALL: u32 = EVENT_NEW | EVENT_UPDATE | EVENT_DESTROY;

/// Multicast groups of ctnetlink (NFNLGRP_CONNTRACK_*).
const GROUP_NEW: u32 = 1;
const GROUP_UPDATE: u32 = 2;
const GROUP_DESTROY: u32 = 3;
const NETLINK_BROADCAST_ERROR: i32 = 4;
const NETLINK_NO_ENOBUFS: i32 = 5;
const SOL_NETLINK: i32 = 270;
/// Default receive buffer: room for a burst of about 100,000 events.
pub const DEFAULT_EVENT_BUFFER: usize = 64 << 20;
/// Datagrams read per receive call at most, so a busy stream still returns to the caller.
const MAX_DATAGRAMS_PER_CALL: usize = 256;
/// Datagrams read per system call (recvmmsg): under a burst the system call, not the
/// decoding, was most of an event's cost.
const BATCH: usize = 32;
/// Room for one datagram. Each event is a datagram of its own, a few hundred bytes (the
/// largest, with a security context and labels, stay well under a page); one that does not
/// fit is reported, never cut.
const SLOT: usize = 8192;

/// A subscription to conntrack events. When the kernel drops events (the receive buffer
/// was full), [`Listener::receive`] fails with `Kind::Overrun` and the listener goes on:
/// dump the table to resynchronise.
///
/// ```no_run
/// use std::ops::ControlFlow;
/// use conntrack::{EventType, Listener};
///
/// # fn main() -> conntrack::Result<()> {
/// let mut l = Listener::open(EventType::ALL)?;
/// loop {
///     // Up to one second; the callback returns ControlFlow::Break to stop this call.
///     l.receive(1000, |kind, e| {
///         println!("{:?} {}", EventType::from_bit(kind), conntrack::format::format_entry(e, 0));
///         ControlFlow::Continue(())
///     })?;
/// }
/// # }
/// ```
pub struct Listener {
    sock: Socket,
    rbuf: Vec<u8>,
    types: u32,
    filter: Option<Filter>,
    entry: Entry,
    pub(crate) overruns: u64,
    pub(crate) dropped: u64,
    pub(crate) received: u64,
    /// The rest of a datagram whose delivery a callback stopped, and of those read with it.
    pending: Vec<u8>,
    /// An error met while keeping those, reported once they are delivered.
    pending_error: Option<Error>,
}

/// A netlink socket of the caller's namespace joined to the multicast groups of the event
/// types in `types` (an OR of `EVENT_*`; `groups` are the NEW, UPDATE and DESTROY groups of
/// one table), shared by the entry and expectation listeners.
pub(crate) fn subscribe(types: u32, groups: [u32; 3], what: &str) -> Result<Socket> {
    if types == 0 || types & !EVENT_ALL != 0 {
        return Err(Error::invalid(format!(
            "event types {types:#x}: use an OR of NEW (1), UPDATE (2) and DESTROY (4)"
        )));
    }
    let mut sock = Socket::new(NETLINK_NETFILTER).map_err(|e| Error::io("netlink socket", &e))?;
    sock.bind_auto()
        .map_err(|e| Error::io("bind netlink socket", &e))?;
    for (bit, group) in [EVENT_NEW, EVENT_UPDATE, EVENT_DESTROY]
        .into_iter()
        .zip(groups)
    {
        if types & bit != 0 {
            sock.add_membership(group)
                .map_err(|e| Error::io(what, &e))?;
        }
    }
    Ok(sock)
}

impl Listener {
    /// Subscribes, in the caller's network namespace, to the event types in `types` (an OR
    /// of `EVENT_*`).
    pub fn open(types: u32) -> Result<Listener> {
        let sock = subscribe(
            types,
            [GROUP_NEW, GROUP_UPDATE, GROUP_DESTROY],
            "subscribe to conntrack events",
        )?;
        sys::set_receive_buffer(sock.as_raw_fd(), DEFAULT_EVENT_BUFFER)?;
        Ok(Listener {
            sock,
            // Sized at the first receive ([`BATCH`] × [`SLOT`] bytes).
            rbuf: Vec::new(),
            types,
            filter: None,
            entry: Entry::new(),
            overruns: 0,
            dropped: 0,
            received: 0,
            pending: Vec::new(),
            pending_error: None,
        })
    }

    /// Subscribes inside the network namespace `name` (a name under /run/netns or a path; the calling thread never moves).
    pub fn open_netns(name: &str, types: u32) -> Result<Listener> {
        sys::in_netns(name, move || Listener::open(types))
    }

    /// Overruns reported so far (each: the kernel dropped one or more events).
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Messages dropped so far because they did not come from the kernel.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Events that reached the socket so far (before the library's own filtering).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The socket's descriptor, for the caller's poll or epoll loop.
    pub fn fd(&self) -> i32 {
        self.sock.as_raw_fd()
    }

    /// Delivers only events whose entry matches `filter` (None: all). The kernel drops what
    /// it surely cannot match (family, zone, mark, protocol) through a socket filter; the
    /// library checks every event that gets through.
    pub fn set_filter(&mut self, filter: Option<Filter>) -> Result<()> {
        let prog = filter.as_ref().filter(|f| !f.userspace_only).and_then(|f| {
            codec::bpf::event_filter(&codec::bpf::EventMatch {
                family: f.family,
                zone: f.zone,
                mark: f.mark,
                proto: f.proto,
            })
        });
        sys::attach_filter(self.sock.as_raw_fd(), prog.as_deref())?;
        self.filter = filter;
        Ok(())
    }

    /// Sets the receive buffer to about `bytes`; returns the size the kernel reports.
    pub fn set_receive_buffer(&mut self, bytes: usize) -> Result<usize> {
        sys::set_receive_buffer(self.sock.as_raw_fd(), bytes)
    }

    /// Reliable mode on or off: with it, the kernel keeps destroy events it cannot deliver
    /// and retries them instead of dropping them, and no overrun is ever reported.
    pub fn set_reliable(&mut self, on: bool) -> Result<()> {
        let fd = self.sock.as_raw_fd();
        let v = i32::from(on);
        if !sys::setsockopt_int(fd, SOL_NETLINK, NETLINK_BROADCAST_ERROR, v)
            || !sys::setsockopt_int(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, v)
        {
            return Err(Error::io(
                "set reliable event delivery",
                &std::io::Error::last_os_error(),
            )
            .with_kind(Kind::Unsupported));
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` (0: do not wait; negative: wait forever) for events, then
    /// delivers every event already queued (up to a bounded number of datagrams) to `f`,
    /// which returns `ControlFlow::Break` to stop early; events after the stop stay for the
    /// next call.
    /// Returns how many were delivered (0 on timeout, or when every event that arrived was
    /// filtered out). An overrun ends the call with `Kind::Overrun` after counting it: the
    /// kernel reports the loss ahead of the events still queued from before it, so the next
    /// calls may deliver events older than the gap before newer ones.
    pub fn receive(
        &mut self,
        timeout_ms: i32,
        mut f: impl FnMut(u32, &Entry) -> ControlFlow<()>,
    ) -> Result<usize> {
        self.receive_while(timeout_ms, |kind, e| f(kind, e).is_continue())
    }

    /// [`Listener::receive`] with a callback that returns false to stop (the mirror's form).
    pub(crate) fn receive_while(
        &mut self,
        timeout_ms: i32,
        mut f: impl FnMut(u32, &Entry) -> bool,
    ) -> Result<usize> {
        self.receive_sender_while(timeout_ms, |kind, e, _| f(kind, e))
    }

    /// As [`Listener::receive`], and `f` also gets the event's sender: the netlink port id
    /// of the socket whose request caused it (a process's create, update or delete), 0 when
    /// the kernel itself caused it (a packet, a timeout). `conntrack -E` prints it as
    /// `[USERSPACE] portid=N`.
    pub fn receive_with_sender(
        &mut self,
        timeout_ms: i32,
        mut f: impl FnMut(u32, &Entry, u32) -> ControlFlow<()>,
    ) -> Result<usize> {
        self.receive_sender_while(timeout_ms, |kind, e, s| f(kind, e, s).is_continue())
    }

    /// [`Listener::receive_with_sender`] with a callback that returns false to stop.
    pub(crate) fn receive_sender_while(
        &mut self,
        timeout_ms: i32,
        mut f: impl FnMut(u32, &Entry, u32) -> bool,
    ) -> Result<usize> {
        let mut delivered = 0usize;
        // Events left over from a datagram a callback stopped in the middle of come first.
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let stopped = self.deliver(&pending, &mut delivered, &mut f)?;
            if let Some(at) = stopped {
                self.pending = pending[at..].to_vec();
                return Ok(delivered);
            }
            if delivered > 0 {
                return Ok(delivered);
            }
        }
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        if !sys::poll_readable(self.sock.as_raw_fd(), timeout_ms)? {
            return Ok(0);
        }
        let mut rbuf = std::mem::take(&mut self.rbuf);
        if rbuf.len() < BATCH * SLOT {
            rbuf.resize(BATCH * SLOT, 0);
        }
        let r = self.read_batches(&mut rbuf, &mut delivered, &mut f);
        self.rbuf = rbuf;
        r.map(|()| delivered)
    }

    /// Reads datagrams, up to [`BATCH`] a system call and [`MAX_DATAGRAMS_PER_CALL`] in all,
    /// and delivers their events; stops early when none is queued or `f` asks to.
    fn read_batches(
        &mut self,
        rbuf: &mut [u8],
        delivered: &mut usize,
        f: &mut impl FnMut(u32, &Entry, u32) -> bool,
    ) -> Result<()> {
        let mut grams = [sys::Datagram::default(); BATCH];
        let mut read = 0;
        while read < MAX_DATAGRAMS_PER_CALL {
            let got = match sys::recv_batch(self.sock.as_raw_fd(), rbuf, SLOT, &mut grams) {
                Ok(n) => n,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => return Ok(()),
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) => {
                        self.overruns += 1;
                        return Err(Error::new(
                            Kind::Overrun,
                            format!(
                                "the event buffer overflowed and the kernel dropped events \
                                 (overrun {} on this listener); {delivered} delivered in this \
                                 call, and events from before the loss may still follow",
                                self.overruns
                            ),
                        )
                        .with_errno(libc::ENOBUFS));
                    }
                    _ => return Err(Error::io("receive conntrack events", &e)),
                },
            };
            read += got;
            for i in 0..got {
                let g = grams[i];
                if g.portid != 0 {
                    self.dropped += 1;
                    continue;
                }
                if g.len > SLOT {
                    return Err(Error::malformed(format!(
                        "a {}-byte event datagram did not fit the receive buffer",
                        g.len
                    )));
                }
                let gram = &rbuf[i * SLOT..i * SLOT + g.len];
                if let Some(at) = self.deliver(gram, delivered, f)? {
                    // Stopped: the rest of this datagram, and the datagrams read after it,
                    // wait for the next call (each holds whole, aligned messages).
                    let mut rest = gram[at..].to_vec();
                    for (j, g) in grams.iter().enumerate().take(got).skip(i + 1) {
                        if g.portid != 0 {
                            self.dropped += 1;
                        } else if g.len > SLOT {
                            self.pending_error = Some(Error::malformed(format!(
                                "a {}-byte event datagram did not fit the receive buffer",
                                g.len
                            )));
                            break;
                        } else {
                            rest.extend_from_slice(&rbuf[j * SLOT..j * SLOT + g.len]);
                        }
                    }
                    self.pending = rest;
                    return Ok(());
                }
            }
            if got < BATCH {
                // Fewer than asked for: the queue is empty now.
                return Ok(());
            }
        }
        Ok(())
    }

    /// Decodes the events of one datagram; Ok(Some(offset)) when `f` asked to stop, with the
    /// offset of the first message not yet delivered.
    fn deliver(
        &mut self,
        buf: &[u8],
        delivered: &mut usize,
        f: &mut impl FnMut(u32, &Entry, u32) -> bool,
    ) -> Result<Option<usize>> {
        for m in codec::messages(buf) {
            let m = m?;
            if !codec::is_ct_message(m.msg_type) {
                continue;
            }
            let kind = match codec::event_kind(&m) {
                codec::EventKind::Destroy => EVENT_DESTROY,
                codec::EventKind::New => EVENT_NEW,
                codec::EventKind::Update => EVENT_UPDATE,
            };
            self.received += 1;
            if kind & self.types == 0 {
                continue;
            }
            self.entry.clear();
            codec::decode_entry_into(m.payload, &mut self.entry)?;
            if self
                .filter
                .as_ref()
                .is_some_and(|flt| !flt.matches(&self.entry))
            {
                continue;
            }
            *delivered += 1;
            if !f(kind, &self.entry, m.pid) {
                // Where the next message starts: after this one's payload, aligned.
                let end = m.payload.as_ptr() as usize + m.payload.len() - buf.as_ptr() as usize;
                return Ok(Some(((end + 3) & !3).min(buf.len())));
            }
        }
        Ok(None)
    }
}
