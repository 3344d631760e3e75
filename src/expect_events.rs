//! Events of the expectation table (`conntrack -E expect`): a helper expected a connection,
//! an expectation changed, or went (matched, timed out or deleted).
//!
//! Loss is reported as [`crate::Listener`] reports it: a receive that finds the kernel
//! dropped events fails with `Kind::Overrun`, and the stream goes on.

use std::ops::ControlFlow;
use std::os::fd::AsRawFd;

use netlink_sys::Socket;

use crate::codec;
use crate::error::{Error, Kind, Result};
use crate::events::{EVENT_DESTROY, EVENT_NEW, EVENT_UPDATE};
use crate::expect::Expectation;
use crate::sys;

/// Multicast groups of the expectation table (NFNLGRP_CONNTRACK_EXP_*).
const GROUP_EXP_NEW: u32 = 4;
const GROUP_EXP_UPDATE: u32 = 5;
const GROUP_EXP_DESTROY: u32 = 6;
/// Datagrams read per receive call at most, so a busy stream still returns to the caller.
const MAX_DATAGRAMS_PER_CALL: usize = 64;

/// A subscription to the expectation table's events.
pub struct ExpectListener {
    sock: Socket,
    rbuf: Vec<u8>,
    types: u32,
    /// Overruns reported so far (each: the kernel dropped one or more events).
    pub overruns: u64,
}

impl ExpectListener {
    /// Subscribes, in the caller's network namespace, to the event types in `types` (an OR
    /// of `EVENT_NEW`, `EVENT_UPDATE`, `EVENT_DESTROY`).
    pub fn open(types: u32) -> Result<ExpectListener> {
        let sock = crate::events::subscribe(
            types,
            [GROUP_EXP_NEW, GROUP_EXP_UPDATE, GROUP_EXP_DESTROY],
            "subscribe to expectation events",
        )?;
        Ok(ExpectListener {
            sock,
            rbuf: Vec::with_capacity(64 * 1024),
            types,
            overruns: 0,
        })
    }

    /// Subscribes inside the network namespace `name` (a name under /run/netns or a path;
    /// the calling thread never moves).
    pub fn open_netns(name: &str, types: u32) -> Result<ExpectListener> {
        sys::in_netns(name, move || ExpectListener::open(types))
    }

    /// The socket's descriptor, for the caller's poll or epoll loop.
    pub fn fd(&self) -> i32 {
        self.sock.as_raw_fd()
    }

    /// Waits up to `timeout_ms` (0: do not wait; negative: forever) for events and delivers
    /// those queued to `f` (the event type, the expectation). `f` returns `ControlFlow::Break`
    /// to stop: the call then returns after the datagram it is in (expectation events are few;
    /// a datagram is delivered whole). Returns how many were delivered.
    pub fn receive(
        &mut self,
        timeout_ms: i32,
        mut f: impl FnMut(u32, &Expectation) -> ControlFlow<()>,
    ) -> Result<usize> {
        let mut delivered = 0usize;
        if !sys::poll_readable(self.sock.as_raw_fd(), timeout_ms)? {
            return Ok(0);
        }
        for _ in 0..MAX_DATAGRAMS_PER_CALL {
            self.rbuf.clear();
            let got = self
                .sock
                .recv_from(&mut self.rbuf, libc::MSG_DONTWAIT | libc::MSG_TRUNC);
            let (n, from) = match got {
                Ok(x) => x,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => break,
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) => {
                        self.overruns += 1;
                        return Err(Error::new(
                            Kind::Overrun,
                            format!(
                                "the event buffer overflowed and the kernel dropped expectation \
                                 events (overrun {} on this listener)",
                                self.overruns
                            ),
                        )
                        .with_errno(libc::ENOBUFS));
                    }
                    _ => return Err(Error::io("receive expectation events", &e)),
                },
            };
            if from.port_number() != 0 {
                continue;
            }
            if n > self.rbuf.len() {
                return Err(Error::malformed(format!(
                    "a {n}-byte event datagram did not fit the receive buffer"
                )));
            }
            let mut go_on = true;
            for m in codec::messages(&self.rbuf) {
                let m = m?;
                if m.msg_type >> 8 != u16::from(codec::SUBSYS_CTNETLINK_EXP) {
                    continue;
                }
                let kind = match codec::event_kind(&m) {
                    codec::EventKind::Destroy => EVENT_DESTROY,
                    codec::EventKind::New => EVENT_NEW,
                    codec::EventKind::Update => EVENT_UPDATE,
                };
                if kind & self.types == 0 {
                    continue;
                }
                let x = codec::expect::decode_expectation(m.payload)?;
                delivered += 1;
                go_on &= f(kind, &x).is_continue();
            }
            if !go_on {
                break;
            }
        }
        Ok(delivered)
    }
}
