//! Batches: many create, update and delete requests encoded back to back in one buffer,
//! sent in as few sendmsg calls as the receive buffer can answer, with an outcome per
//! request.

use crate::codec::{self, msg, Purpose, Request, NLM_F_CREATE, NLM_F_EXCL, SUBSYS_CTNETLINK};
use crate::entry::Entry;
use crate::error::{Error, Result};

/// What a request of a batch does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Create (fails with Exists when the tuple is taken).
    Create,
    /// Update an existing entry.
    Update,
    /// Delete by tuple, zone and (when set) id.
    Delete,
}

impl Op {
    /// The operation, as error messages name it.
    pub fn what(self) -> &'static str {
        match self {
            Op::Create => "create conntrack entry",
            Op::Update => "update conntrack entry",
            Op::Delete => "delete conntrack entry",
        }
    }
}

/// Requests encoded and waiting to be sent, then their outcomes: many creates, updates and
/// deletes in few system calls, each with its own result.
///
/// ```no_run
/// use conntrack::{Batch, Entry, Handle, Op};
///
/// # fn main() -> conntrack::Result<()> {
/// # let entries: Vec<Entry> = Vec::new();
/// let mut b = Batch::new();
/// for e in &entries {
///     b.add(Op::Delete, e);
/// }
/// Handle::open()?.send_batch("delete", &mut b)?;
/// for i in 0..b.len() {
///     if let Some(Err(e)) = b.outcome(i) {
///         eprintln!("request {i}: {e}");
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
pub struct Batch {
    /// The encoded messages, back to back (sequence numbers are set when sent).
    pub(crate) buf: Vec<u8>,
    /// Where each request's message starts in `buf`; None for a request the library refused
    /// (never sent; its outcome is already known).
    pub(crate) starts: Vec<Option<u32>>,
    /// What each request does.
    pub(crate) ops: Vec<Op>,
    /// Outcome of each request once sent (None: not sent yet, or succeeded... see `outcome`).
    pub(crate) outcomes: Vec<Option<Error>>,
    /// Whether the batch has been sent since the last request was added.
    pub(crate) sent: bool,
    /// Requests that failed in the last send.
    pub(crate) failed: usize,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds a request for `e`. A request the library refuses (an entry lacking what the
    /// operation needs) is kept in its place with its error as its outcome; adding never
    /// fails, so indexes always match the order of adds.
    pub fn add(&mut self, op: Op, e: &Entry) {
        if self.sent {
            self.clear();
        }
        // Encoded straight into the batch's buffer: nothing is allocated per request.
        let r = head(op, e).and_then(|(msg_type, flags, family, purpose)| {
            let mark = codec::begin_message(
                &mut self.buf,
                SUBSYS_CTNETLINK,
                msg_type,
                flags,
                0,
                family,
                0,
            );
            match codec::encode_entry(&mut self.buf, e, purpose) {
                Ok(()) => {
                    codec::finish_message(&mut self.buf, mark);
                    Ok(mark)
                }
                Err(err) => {
                    self.buf.truncate(mark);
                    Err(err)
                }
            }
        });
        self.ops.push(op);
        match r {
            Ok(mark) => {
                self.starts.push(Some(mark as u32));
                self.outcomes.push(None);
            }
            Err(err) => {
                self.starts.push(None);
                self.outcomes.push(Some(err));
            }
        }
    }

    /// Adds a request the caller already knows the library refuses (for example a view that
    /// breaks a setter's rule): it takes its index, with `err` as its outcome, like an entry
    /// [`Batch::add`] refuses.
    pub fn add_refused(&mut self, op: Op, err: Error) {
        if self.sent {
            self.clear();
        }
        self.ops.push(op);
        self.starts.push(None);
        self.outcomes.push(Some(err));
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the batch holds no request.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Removes every request and outcome, keeping the memory for reuse.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.starts.clear();
        self.ops.clear();
        self.outcomes.clear();
        self.sent = false;
        self.failed = 0;
    }

    /// The outcome of request `i` after a send: Ok, or its error. None when `i` is out of
    /// range or the batch has not been sent.
    pub fn outcome(&self, i: usize) -> Option<std::result::Result<(), &Error>> {
        if !self.sent {
            return None;
        }
        self.outcomes.get(i).map(|o| match o {
            None => Ok(()),
            Some(e) => Err(e),
        })
    }

    /// How many requests failed in the last send.
    pub fn failed(&self) -> usize {
        self.failed
    }
}

/// Message type, flags, family and what to encode, for `op` on `e`.
fn head(op: Op, e: &Entry) -> Result<(u8, u16, u8, Purpose)> {
    let family = e
        .family()
        .ok_or_else(|| Error::invalid("the entry has no family and no address"))?;
    Ok(match op {
        Op::Create => (
            msg::CT_NEW,
            NLM_F_CREATE | NLM_F_EXCL,
            family,
            Purpose::Create,
        ),
        Op::Update => (msg::CT_NEW, 0, family, Purpose::Update),
        Op::Delete => (msg::CT_DELETE, 0, family, Purpose::Lookup),
    })
}

/// The request that performs `op` on `e`.
pub fn request(op: Op, e: &Entry) -> Result<Request> {
    let (msg_type, flags, family, purpose) = head(op, e)?;
    Ok(Request {
        msg_type,
        version: 0,
        family,
        flags,
        attrs: codec::entry_attrs(e, purpose)?,
    })
}
