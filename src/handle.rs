//! A ctnetlink socket and the one receive loop every operation goes through.
//!
//! The loop accepts only messages from the kernel (sender port 0) addressed to this socket
//! with the sequence number of the request in flight; anything else is dropped and counted.

use std::os::fd::AsRawFd;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};

use crate::batch::{Batch, Op};
use crate::codec::{self, RawMessage, Request};
use crate::error::{Error, Kind, Result};
use crate::kernel::Kernel;
use crate::receive::{ChunkReader, DumpReader, Expect, RequestReader};
use crate::sys;

/// Bytes per recv: large enough that the kernel fills whole dump batches into one datagram.
const RECV_BUFFER: usize = 64 * 1024;
/// Receive buffer asked for: room for the error reports of a whole batch.
const SOCKET_RCVBUF: usize = 8 << 20;
/// Upper bound of the bytes put into one sendmsg.
const SEND_CHUNK: usize = 64 * 1024;
/// Receive-buffer bytes reserved for each request of a batch (worst case: every request
/// answers with an error; one error report takes about this much of the buffer).
const RCVBUF_PER_ANSWER: usize = 2048;
const NETLINK_EXT_ACK: i32 = 11;
const NETLINK_CAP_ACK: i32 = 10;
const SOL_NETLINK: i32 = 270;

/// An open ctnetlink socket in one network namespace: every operation on the table goes
/// through one. A handle serves one call at a time (`&mut self`); open several to work in
/// parallel.
///
/// ```no_run
/// use std::ops::ControlFlow;
/// use conntrack::{Filter, Handle};
///
/// # fn main() -> conntrack::Result<()> {
/// let mut h = Handle::open()?;
/// let (count, max) = h.count()?;
/// println!("{count} of {max} entries");
///
/// // Stream the TCP entries without keeping the table in memory.
/// let mut tcp = Filter::new();
/// tcp.set_proto(6);
/// h.dump_entries(Some(&tcp), |e| {
///     println!("{}", conntrack::format::format_entry(e, 0));
///     ControlFlow::Continue(())
/// })?;
///
/// // Or read them one at a time, at the caller's pace.
/// for e in h.entries(None)? {
///     let e = e?;
///     println!("{:?} {:?}", e.protocol(), e.tcp_state());
/// }
/// # Ok(())
/// # }
/// ```
pub struct Handle {
    sock: Socket,
    portid: u32,
    seq: u32,
    rbuf: Vec<u8>,
    sbuf: Vec<u8>,
    rcvbuf: usize,
    pub(crate) kernel: Kernel,
    pub(crate) dropped: u64,
    pub(crate) last_dump_received: u64,
    /// A second socket in the same namespace, made when a delete-matching first needs one
    /// (deletes go out on it while the dump is read on this one).
    pub(crate) deleter: Option<Box<Handle>>,
}

impl Handle {
    /// What the kernel accepts.
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// Messages dropped so far because they came from another sender or answered another
    /// request.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Entries the kernel sent in the last dump, before the library's own filtering: with
    /// filters the kernel applies, this equals the entries that matched.
    pub fn last_dump_received(&self) -> u64 {
        self.last_dump_received
    }

    /// Opens a ctnetlink socket in the caller's network namespace.
    pub fn open() -> Result<Handle> {
        let mut sock =
            Socket::new(NETLINK_NETFILTER).map_err(|e| Error::io("netlink socket", &e))?;
        let addr = sock
            .bind_auto()
            .map_err(|e| Error::io("bind netlink socket", &e))?;
        let fd = sock.as_raw_fd();
        // Best effort: older kernels lack extended acks; capped acks keep error reports small.
        sys::setsockopt_int(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
        sys::setsockopt_int(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
        // Without CAP_NET_ADMIN the ordinary limit applies; batches size themselves to it.
        let rcvbuf = sys::set_receive_buffer(fd, SOCKET_RCVBUF)?;
        Ok(Handle {
            sock,
            portid: addr.port_number(),
            seq: initial_seq(),
            rbuf: Vec::with_capacity(RECV_BUFFER),
            sbuf: Vec::with_capacity(SEND_CHUNK + 4096),
            rcvbuf,
            kernel: Kernel::running(),
            dropped: 0,
            last_dump_received: 0,
            deleter: None,
        })
    }

    /// Opens a ctnetlink socket inside the network namespace `name` (a name under
    /// /run/netns, or a path such as /proc/PID/ns/net). The socket is made by a short-lived
    /// thread that enters the namespace, so the calling thread never moves.
    pub fn open_netns(name: &str) -> Result<Handle> {
        sys::in_netns(name, Handle::open)
    }

    /// Sets the socket's receive buffer to about `bytes` (the kernel doubles it and applies
    /// its minimum). Batches size their chunks to it, so a small buffer means more, smaller
    /// sendmsg calls, never lost answers. Without CAP_NET_ADMIN the system's rmem_max caps it.
    pub fn set_receive_buffer(&mut self, bytes: usize) -> Result<()> {
        self.rcvbuf = sys::set_receive_buffer(self.sock.as_raw_fd(), bytes)?;
        Ok(())
    }

    /// The socket's receive buffer, as the kernel reports it.
    pub fn receive_buffer(&self) -> usize {
        self.rcvbuf
    }

    /// The socket's netlink port id.
    pub fn port_id(&self) -> u32 {
        self.portid
    }

    /// The socket's file descriptor.
    pub fn fd(&self) -> i32 {
        self.sock.as_raw_fd()
    }

    fn next_seq(&mut self) -> u32 {
        self.reserve_seqs(1)
    }

    /// Takes `count` consecutive sequence numbers and returns the first. They never cross
    /// 0 (which is skipped): the answers to a chunk of a batch are placed by their distance
    /// from its first number.
    fn reserve_seqs(&mut self, count: u32) -> u32 {
        let count = count.max(1);
        if self.seq > u32::MAX - count {
            self.seq = 0;
        }
        self.seq += count;
        self.seq - (count - 1)
    }

    /// Sets the sequence number the next request follows. For tests of the wrap-around,
    /// which a long-running handle reaches after about 2^31 requests.
    #[doc(hidden)]
    pub fn set_last_sequence_number(&mut self, seq: u32) {
        self.seq = seq;
    }

    fn send_sbuf(&mut self, what: &str) -> Result<()> {
        let buf = std::mem::take(&mut self.sbuf);
        let r = self.send_bytes(what, &buf);
        self.sbuf = buf;
        r
    }

    fn send_bytes(&self, what: &str, bytes: &[u8]) -> Result<()> {
        loop {
            match self.sock.send(bytes, 0) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(what, &e)),
            }
        }
    }

    /// Receives one datagram into `rbuf`. Ok(false): nothing there (only with `dontwait`).
    fn recv(&mut self, dontwait: bool) -> Result<bool> {
        loop {
            self.rbuf.clear();
            let flags = libc::MSG_TRUNC | if dontwait { libc::MSG_DONTWAIT } else { 0 };
            match self.sock.recv_from(&mut self.rbuf, flags) {
                Ok((n, addr)) => {
                    if addr.port_number() != 0 {
                        self.dropped += 1;
                        continue;
                    }
                    if n > self.rbuf.len() {
                        return Err(Error::malformed(format!(
                            "a {n}-byte netlink datagram did not fit the receive buffer"
                        )));
                    }
                    return Ok(true);
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EAGAIN) if dontwait => return Ok(false),
                    Some(libc::ENOBUFS) => {
                        return Err(Error::new(
                            Kind::Overrun,
                            "the socket's receive buffer overflowed: kernel answers were lost",
                        )
                        .with_errno(libc::ENOBUFS))
                    }
                    _ => return Err(Error::io("netlink receive", &e)),
                },
            }
        }
    }

    /// Sends one request with NLM_F_ACK and waits for its acknowledgement, passing every
    /// other message answering it (a get's entry) to `on_msg`.
    pub fn request(
        &mut self,
        what: &str,
        subsys: u8,
        req: Request,
        mut on_msg: impl FnMut(&RawMessage<'_>) -> Result<()>,
    ) -> Result<()> {
        let seq = self.send_request(what, subsys, codec::NLM_F_ACK, &req)?;
        let mut reader = RequestReader::new(what, Expect::one(seq, self.portid));
        let result = self.read_until(|datagram| reader.feed(datagram, &mut on_msg));
        self.dropped += reader.dropped;
        result
    }

    /// Sends `req` with `flags` under a new sequence number, which it returns.
    fn send_request(&mut self, what: &str, subsys: u8, flags: u16, req: &Request) -> Result<u32> {
        let seq = self.next_seq();
        self.sbuf.clear();
        codec::put_request(&mut self.sbuf, subsys, seq, flags, req);
        self.send_sbuf(what)?;
        Ok(seq)
    }

    /// Receives datagrams and passes each to `feed` until it answers that it has read all
    /// it waited for (or fails).
    fn read_until(&mut self, mut feed: impl FnMut(&[u8]) -> Result<bool>) -> Result<()> {
        loop {
            self.recv(false)?;
            if feed(&self.rbuf)? {
                return Ok(());
            }
        }
    }

    /// Sends a dump request and passes every message of the dump to `on_msg`, which answers
    /// whether to go on. A stopped dump is drained so the socket is clean for the next
    /// request. A dump the kernel flags as interrupted ends in `Kind::DumpInterrupted`.
    pub fn dump(
        &mut self,
        what: &str,
        subsys: u8,
        req: Request,
        mut on_msg: impl FnMut(&RawMessage<'_>) -> Result<bool>,
    ) -> Result<()> {
        let mut stream = self.dump_start(what, subsys, req)?;
        while !self.dump_step(&mut stream, &mut on_msg)? {}
        Ok(())
    }

    /// Sends a dump request; its answer is then read datagram by datagram with
    /// [`Handle::dump_step`], at the caller's pace.
    pub(crate) fn dump_start<'a>(
        &mut self,
        what: &'a str,
        subsys: u8,
        req: Request,
    ) -> Result<DumpStream<'a>> {
        let seq = self.send_request(what, subsys, codec::NLM_F_DUMP, &req)?;
        Ok(DumpStream {
            reader: DumpReader::new(what, Expect::one(seq, self.portid)),
            over: false,
        })
    }

    /// Reads the next datagram of `stream`'s dump, passing its messages to `on_msg` (which
    /// answers whether to go on; once it says no, the rest is read and dropped). Ok(true):
    /// the dump is over. A failed dump is drained first: a dump left running makes the kernel
    /// refuse the socket's next dump (EBUSY).
    pub(crate) fn dump_step(
        &mut self,
        stream: &mut DumpStream<'_>,
        on_msg: &mut impl FnMut(&RawMessage<'_>) -> Result<bool>,
    ) -> Result<bool> {
        if stream.over {
            return Ok(true);
        }
        let r = self
            .recv(false)
            .and_then(|_| stream.reader.feed(&self.rbuf, on_msg));
        self.dropped += std::mem::take(&mut stream.reader.dropped);
        if !matches!(r, Ok(false)) {
            stream.over = true;
        }
        if r.is_err() {
            self.drain();
        }
        r
    }

    /// Ends `stream`'s dump early: reads the rest of it and drops it.
    pub(crate) fn dump_abandon(&mut self, stream: DumpStream<'_>) {
        if !stream.over {
            self.drain();
        }
    }

    /// Reads and drops whatever is queued. The kernel adds the next part of a running dump
    /// on each receive, so this also runs such a dump to its end.
    fn drain(&mut self) {
        while let Ok(true) = self.recv(true) {
            self.dropped += codec::messages(&self.rbuf).count() as u64;
        }
    }

    /// Sends the requests of `b`, packed into as few sendmsg calls as the receive buffer
    /// allows, and records the outcome of each in `b`.
    ///
    /// Only errors are answered (no per-request ACK), except the last request of each
    /// sendmsg, whose ACK marks the end of that chunk. Each chunk is sized so the error
    /// reports of all its requests fit the receive buffer; if the buffer still overflows,
    /// every request of the chunk whose error may have been lost reports `Kind::Overrun`.
    pub fn send_batch(&mut self, what: &str, b: &mut Batch) -> Result<()> {
        let per_chunk = (self.rcvbuf / RCVBUF_PER_ANSWER).clamp(1, 4096);
        let sent: Vec<usize> = (0..b.len()).filter(|&i| b.starts[i].is_some()).collect();
        let mut k = 0;
        while k < sent.len() {
            let first = b.starts[sent[k]].unwrap_or(0) as usize;
            let mut end = k;
            let mut last_end = first;
            while end < sent.len() && end - k < per_chunk {
                let start = b.starts[sent[end]].unwrap_or(0) as usize;
                let stop = codec::message_end(&b.buf, start);
                if end > k && stop - first > SEND_CHUNK {
                    break;
                }
                last_end = stop;
                end += 1;
            }
            let first_seq = self.reserve_seqs((end - k) as u32);
            let last_seq = first_seq + (end - k - 1) as u32;
            for (j, &i) in sent[k..end].iter().enumerate() {
                let start = b.starts[i].unwrap_or(0) as usize;
                let seq = first_seq + j as u32;
                // Only the last request asks for an ACK: it closes the chunk.
                codec::renumber(&mut b.buf, start, seq, k + j + 1 == end);
            }
            self.send_bytes(what, &b.buf[first..last_end])?;
            let chunk = Chunk {
                first_seq,
                last_seq,
                positions: &sent[k..end],
                ops: &b.ops,
            };
            self.collect_chunk(what, chunk, &mut b.outcomes)?;
            k = end;
        }
        b.sent = true;
        b.failed = b.outcomes.iter().filter(|o| o.is_some()).count();
        Ok(())
    }

    /// Reads the answers to one chunk of a batch: errors by sequence number, until the ACK
    /// (or error) of `last_seq`. After an overrun, drains what is queued (the kernel answers
    /// within sendmsg, so everything that was not lost is already there) and marks every
    /// request without an answer as unknown.
    fn collect_chunk(
        &mut self,
        what: &str,
        chunk: Chunk<'_>,
        outcomes: &mut [Option<Error>],
    ) -> Result<()> {
        let expect = Expect {
            first_seq: chunk.first_seq,
            last_seq: chunk.last_seq,
            portid: self.portid,
        };
        let positions = chunk.positions;
        let mut reader = ChunkReader::new(expect, positions, chunk.ops);
        let mut overrun = false;
        let mut done = false;
        let r = loop {
            if done {
                break Ok(());
            }
            match self.recv(overrun) {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) if e.kind == Kind::Overrun => {
                    overrun = true;
                    continue;
                }
                Err(e) => break Err(e),
            }
            match reader.feed(&self.rbuf, outcomes) {
                Ok(d) => done = d,
                Err(e) => break Err(e),
            }
        };
        self.dropped += reader.dropped;
        r?;
        if overrun && !done {
            for &p in positions {
                if outcomes[p].is_none() {
                    let op = chunk.ops.get(p).map_or(what, |o| o.what());
                    outcomes[p] = Some(
                        Error::new(
                            Kind::Overrun,
                            format!("{op} (batch index {p}): the answer may have been lost in a receive-buffer overrun; the outcome is unknown"),
                        )
                        .with_errno(libc::ENOBUFS),
                    );
                }
            }
        }
        Ok(())
    }
}

/// A dump in progress, read by [`Handle::dump_step`].
pub(crate) struct DumpStream<'a> {
    reader: DumpReader<'a>,
    /// The dump ended (complete or failed); nothing more is read for it.
    over: bool,
}

/// One sendmsg's worth of a batch: its sequence numbers, where its requests' outcomes go,
/// and what every request of the batch does.
struct Chunk<'a> {
    first_seq: u32,
    last_seq: u32,
    positions: &'a [usize],
    ops: &'a [Op],
}

/// A starting sequence number that differs between handles, so a stale answer to an old
/// socket's request cannot look like one of ours.
fn initial_seq() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(1);
    t | 1
}
