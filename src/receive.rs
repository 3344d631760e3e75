//! What the answers to one request, one dump or one chunk of a batch make of the datagrams
//! that arrive. Kept apart from the socket so that hostile and broken input (another
//! request's sequence number, another socket's port id, a dump the kernel marks interrupted,
//! a datagram cut mid-message) is tested without a kernel; the handle feeds them what it
//! receives from sender port 0, the kernel, and nothing else.

use crate::batch::Op;
use crate::codec::{self, RawMessage, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN};
use crate::error::{Error, Kind, Result};

/// The request a reader waits for: sequence numbers and the socket that sent it.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    /// First sequence number answered.
    pub first_seq: u32,
    /// Last sequence number answered (the first but for a chunk of a batch).
    pub last_seq: u32,
    /// The sending socket's port id; the kernel writes it, or 0, into its answers.
    pub portid: u32,
}

impl Expect {
    /// One request.
    pub fn one(seq: u32, portid: u32) -> Expect {
        Expect {
            first_seq: seq,
            last_seq: seq,
            portid,
        }
    }

    /// The messages of `datagram` that answer the request, counting the others in `dropped`.
    /// A message that is not well framed ends the iteration with an error.
    fn answers<'d>(
        self,
        datagram: &'d [u8],
        dropped: &'d mut u64,
    ) -> impl Iterator<Item = Result<RawMessage<'d>>> + 'd {
        codec::messages(datagram).filter(move |m| match m {
            Ok(m) if self.position(m).is_none() => {
                *dropped += 1;
                false
            }
            _ => true,
        })
    }

    /// The position of `m` among the requests answered, or None when it answers another
    /// request or was meant for another socket.
    fn position(&self, m: &RawMessage<'_>) -> Option<usize> {
        let off = m.seq.wrapping_sub(self.first_seq);
        let span = self.last_seq.wrapping_sub(self.first_seq);
        (off <= span && (m.pid == self.portid || m.pid == 0)).then_some(off as usize)
    }
}

/// The answer to one request sent with NLM_F_ACK: messages for the caller (a get's entry),
/// then the acknowledgement or the error.
pub struct RequestReader<'a> {
    what: &'a str,
    expect: Expect,
    /// Messages dropped: other requests' answers, other sockets' messages.
    pub dropped: u64,
}

impl<'a> RequestReader<'a> {
    /// A reader of the answer to the request `expect` describes; `what` names it in errors.
    pub fn new(what: &'a str, expect: Expect) -> RequestReader<'a> {
        RequestReader {
            what,
            expect,
            dropped: 0,
        }
    }

    /// Reads one datagram. Ok(true): the request was answered (acknowledged).
    pub fn feed(
        &mut self,
        datagram: &[u8],
        on_msg: &mut impl FnMut(&RawMessage<'_>) -> Result<()>,
    ) -> Result<bool> {
        for m in self.expect.answers(datagram, &mut self.dropped) {
            let m = m?;
            match m.msg_type {
                NLMSG_ERROR => {
                    let (errno, text) = codec::decode_error(&m)?;
                    if errno == 0 {
                        return Ok(true);
                    }
                    return Err(Error::from_errno(errno, self.what, text.as_deref()));
                }
                NLMSG_NOOP | NLMSG_DONE | NLMSG_OVERRUN => {}
                _ => on_msg(&m)?,
            }
        }
        Ok(false)
    }
}

/// The answer to a dump request: messages until NLMSG_DONE.
pub struct DumpReader<'a> {
    what: &'a str,
    expect: Expect,
    /// Whether the caller still wants messages (after it stops, the dump is drained).
    going: bool,
    /// The kernel flagged a message NLM_F_DUMP_INTR: what was sent may be inconsistent.
    interrupted: bool,
    /// The caller's first error; reported once the dump is drained.
    first_error: Option<Error>,
    /// Messages dropped: other requests' answers, other sockets' messages.
    pub dropped: u64,
}

impl<'a> DumpReader<'a> {
    /// A reader of the dump `expect` describes; `what` names it in errors.
    pub fn new(what: &'a str, expect: Expect) -> DumpReader<'a> {
        DumpReader {
            what,
            expect,
            going: true,
            interrupted: false,
            first_error: None,
            dropped: 0,
        }
    }

    /// Reads one datagram, passing each message of the dump to `on_msg` (which answers
    /// whether to go on). Ok(true): the dump is over and complete. An interrupted dump ends
    /// in `Kind::DumpInterrupted`, never in Ok: what was passed on may lack entries.
    pub fn feed(
        &mut self,
        datagram: &[u8],
        on_msg: &mut impl FnMut(&RawMessage<'_>) -> Result<bool>,
    ) -> Result<bool> {
        for m in self.expect.answers(datagram, &mut self.dropped) {
            let m = m?;
            if m.flags & codec::NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            match m.msg_type {
                NLMSG_DONE => {
                    if let Some(e) = self.first_error.take() {
                        return Err(e);
                    }
                    if self.interrupted {
                        return Err(Error::new(
                            Kind::DumpInterrupted,
                            format!(
                                "{}: the kernel interrupted the dump; run it again",
                                self.what
                            ),
                        ));
                    }
                    return Ok(true);
                }
                NLMSG_ERROR => {
                    let (errno, text) = codec::decode_error(&m)?;
                    if errno != 0 {
                        return Err(Error::from_errno(errno, self.what, text.as_deref()));
                    }
                }
                NLMSG_NOOP | NLMSG_OVERRUN => {}
                _ if self.going => match on_msg(&m) {
                    Ok(true) => {}
                    Ok(false) => self.going = false,
                    Err(e) => {
                        self.going = false;
                        self.first_error = Some(e);
                    }
                },
                _ => {}
            }
        }
        Ok(false)
    }
}

/// The answers to one chunk of a batch: error reports by sequence number, until the
/// acknowledgement (or error) of the chunk's last request.
pub struct ChunkReader<'a> {
    expect: Expect,
    /// Index into the batch's outcomes of each request of the chunk, in sequence order.
    positions: &'a [usize],
    /// What each request of the batch does (indexed like its outcomes), to name it in errors.
    ops: &'a [Op],
    /// Messages dropped: other requests' answers, other sockets' messages.
    pub dropped: u64,
}

impl<'a> ChunkReader<'a> {
    /// A reader of the chunk `expect` describes, whose requests' outcomes are at
    /// `positions` (and their operations in `ops`).
    pub fn new(expect: Expect, positions: &'a [usize], ops: &'a [Op]) -> ChunkReader<'a> {
        ChunkReader {
            expect,
            positions,
            ops,
            dropped: 0,
        }
    }

    /// Reads one datagram, recording errors in `outcomes`. Ok(true): the chunk's last
    /// request was answered, so every request before it has been (the kernel answers them
    /// in order).
    pub fn feed(&mut self, datagram: &[u8], outcomes: &mut [Option<Error>]) -> Result<bool> {
        let mut done = false;
        for m in codec::messages(datagram) {
            let m = m?;
            let pos = self
                .expect
                .position(&m)
                .filter(|_| m.msg_type == NLMSG_ERROR)
                .and_then(|off| self.positions.get(off));
            let Some(&pos) = pos else {
                self.dropped += 1;
                continue;
            };
            let (errno, text) = codec::decode_error(&m)?;
            if errno != 0 {
                let op = self.ops.get(pos).copied();
                let what = format!(
                    "{} (batch index {pos})",
                    op.map_or("batch request", Op::what)
                );
                let e = Error::from_errno(errno, &what, text.as_deref());
                outcomes[pos] = Some(if op == Some(Op::Create) {
                    e.in_create()
                } else {
                    e
                });
            }
            if m.seq == self.expect.last_seq {
                done = true;
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{msg, NLM_F_DUMP_INTR, SUBSYS_CTNETLINK};

    const PORT: u32 = 4242;
    const NLM_F_MULTI: u16 = 2;

    /// One netlink message, padded to 4 bytes.
    fn message(msg_type: u16, flags: u16, seq: u32, pid: u32, payload: &[u8]) -> Vec<u8> {
        let len = 16 + payload.len();
        let mut v = Vec::with_capacity(len + 3);
        v.extend_from_slice(&(len as u32).to_ne_bytes());
        v.extend_from_slice(&msg_type.to_ne_bytes());
        v.extend_from_slice(&flags.to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&pid.to_ne_bytes());
        v.extend_from_slice(payload);
        v.resize((v.len() + 3) & !3, 0);
        v
    }

    /// A dump reply carrying an entry of zone `zone` (nfgenmsg + CTA_ZONE).
    fn entry(seq: u32, pid: u32, flags: u16, zone: u16) -> Vec<u8> {
        let mut p = vec![2, 0, 0, 0];
        p.extend_from_slice(&6u16.to_ne_bytes());
        p.extend_from_slice(&crate::codec::attrs::CTA_ZONE.to_ne_bytes());
        p.extend_from_slice(&zone.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        let t = (u16::from(SUBSYS_CTNETLINK) << 8) | u16::from(msg::CT_NEW);
        message(t, flags | NLM_F_MULTI, seq, pid, &p)
    }

    fn done(seq: u32, pid: u32, flags: u16) -> Vec<u8> {
        message(
            NLMSG_DONE,
            flags | NLM_F_MULTI,
            seq,
            pid,
            &0i32.to_ne_bytes(),
        )
    }

    fn error(seq: u32, pid: u32, errno: i32) -> Vec<u8> {
        let mut p = (-errno).to_ne_bytes().to_vec();
        // The echoed request header (capped acks).
        p.extend_from_slice(&message(0, 0, seq, pid, &[])[..16]);
        message(NLMSG_ERROR, 0x100, seq, pid, &p)
    }

    /// Feeds `datagrams` to a dump reader for request `seq`; the zones the caller got and
    /// the reader's final word.
    fn dump(seq: u32, datagrams: &[Vec<u8>]) -> (Vec<u16>, Option<Result<bool>>, u64) {
        let mut r = DumpReader::new("dump", Expect::one(seq, PORT));
        let mut zones = vec![];
        let mut on_msg = |m: &RawMessage<'_>| {
            let e = codec::decode_entry(m.payload)?;
            zones.push(e.zone.unwrap_or(0));
            Ok(true)
        };
        let mut last = None;
        for d in datagrams {
            let r = r.feed(d, &mut on_msg);
            let stop = !matches!(r, Ok(false));
            last = Some(r);
            if stop {
                break;
            }
        }
        (zones, last, r.dropped)
    }

    #[test]
    fn a_dump_drops_messages_of_other_requests_and_other_sockets() {
        let d1 = [
            entry(7, PORT, 0, 1),
            entry(6, PORT, 0, 99),
            entry(7, 0, 0, 2),
        ]
        .concat();
        let d2 = [
            entry(7, PORT + 1, 0, 98),
            entry(8, 0, 0, 97),
            done(7, PORT, 0),
        ]
        .concat();
        let (zones, last, dropped) = dump(7, &[d1, d2]);
        assert_eq!(zones, [1, 2]);
        assert_eq!(last, Some(Ok(true)));
        assert_eq!(dropped, 3);
        // A DONE of another request does not end this dump.
        let (zones, last, dropped) = dump(7, &[[entry(7, PORT, 0, 1), done(6, PORT, 0)].concat()]);
        assert_eq!((zones, last, dropped), (vec![1], Some(Ok(false)), 1));
    }

    #[test]
    fn an_interrupted_dump_is_an_error_never_a_complete_list() {
        for flagged in 0..3 {
            let flag = |i| if i == flagged { NLM_F_DUMP_INTR } else { 0 };
            let d = [
                entry(7, PORT, flag(0), 1),
                entry(7, PORT, flag(1), 2),
                done(7, PORT, flag(2)),
            ];
            let (zones, last, _) = dump(7, &[d.concat()]);
            assert_eq!(zones, [1, 2], "entries are still passed on as they come");
            let e = last.unwrap().unwrap_err();
            assert_eq!(e.kind, Kind::DumpInterrupted, "flag on message {flagged}");
            assert!(e.message.contains("run it again"), "{}", e.message);
        }
        // The flag on another request's message says nothing about this dump.
        let d = [
            entry(7, PORT, 0, 1),
            entry(5, PORT, NLM_F_DUMP_INTR, 2),
            done(7, PORT, 0),
        ];
        assert_eq!(dump(7, &[d.concat()]).1, Some(Ok(true)));
    }

    #[test]
    fn a_datagram_cut_mid_message_or_mid_attribute_fails_the_dump() {
        let whole = [entry(7, PORT, 0, 1), entry(7, PORT, 0, 2), done(7, PORT, 0)].concat();
        let first = entry(7, PORT, 0, 1).len();
        // Every cut inside the second message: its header claims more than the datagram has.
        for cut in first + 1..first + entry(7, PORT, 0, 2).len() {
            let (zones, last, _) = dump(7, &[whole[..cut].to_vec()]);
            let e = last.unwrap().unwrap_err();
            assert_eq!(e.kind, Kind::Malformed, "cut at {cut}");
            assert!(zones.len() <= 1);
        }
        // A message whose own length is right but whose attribute is cut: the caller's
        // decode fails, the dump is drained and ends in that error.
        let mut bad = entry(7, PORT, 0, 2);
        bad[0] -= 4; // nlmsg_len: the zone attribute now claims 2 bytes past the message
        bad.truncate(bad.len() - 4);
        let d = [
            entry(7, PORT, 0, 1),
            bad,
            entry(7, PORT, 0, 3),
            done(7, PORT, 0),
        ]
        .concat();
        let (zones, last, _) = dump(7, &[d]);
        assert_eq!(zones, [1]);
        assert_eq!(last.unwrap().unwrap_err().kind, Kind::Malformed);
    }

    #[test]
    fn a_dump_the_caller_stops_is_drained_to_its_end() {
        let mut r = DumpReader::new("dump", Expect::one(7, PORT));
        let mut seen = 0;
        let mut stop_after_one = |_: &RawMessage<'_>| {
            seen += 1;
            Ok(false)
        };
        let d1 = [entry(7, PORT, 0, 1), entry(7, PORT, 0, 2)].concat();
        assert_eq!(r.feed(&d1, &mut stop_after_one), Ok(false), "not over yet");
        let d2 = [entry(7, PORT, 0, 3), done(7, PORT, 0)].concat();
        assert_eq!(r.feed(&d2, &mut stop_after_one), Ok(true));
        assert_eq!(seen, 1);
    }

    #[test]
    fn a_kernel_error_ends_a_dump() {
        let d = [entry(7, PORT, 0, 1), error(7, PORT, libc::EBUSY)].concat();
        let (_, last, _) = dump(7, &[d]);
        assert_eq!(last.unwrap().unwrap_err().errno, Some(libc::EBUSY));
    }

    #[test]
    fn a_request_waits_for_its_own_acknowledgement() {
        let mut r = RequestReader::new("get", Expect::one(9, PORT));
        let mut got = vec![];
        let mut on_msg = |m: &RawMessage<'_>| {
            got.push(m.seq);
            Ok(())
        };
        // Another request's error and entry, another socket's acknowledgement: dropped.
        let d = [
            error(8, PORT, libc::ENOENT),
            entry(8, 0, 0, 1),
            error(9, PORT + 1, 0),
        ];
        assert_eq!(r.feed(&d.concat(), &mut on_msg), Ok(false));
        let d = [entry(9, 0, 0, 1), error(9, PORT, 0)].concat();
        assert_eq!(r.feed(&d, &mut on_msg), Ok(true));
        assert_eq!(got, [9]);
        assert_eq!(r.dropped, 3);
        let mut r = RequestReader::new("get", Expect::one(9, PORT));
        let e = r
            .feed(&error(9, 0, libc::ENOENT), &mut |_| Ok(()))
            .unwrap_err();
        assert_eq!(e.kind, Kind::NotFound);
    }

    #[test]
    fn a_chunk_records_errors_by_sequence_number_until_its_last_request() {
        let positions = [0usize, 2, 3];
        let expect = Expect {
            first_seq: 1000,
            last_seq: 1002,
            portid: PORT,
        };
        let ops = [Op::Create, Op::Create, Op::Delete, Op::Update];
        let mut r = ChunkReader::new(expect, &positions, &ops);
        let mut outcomes: Vec<Option<Error>> = vec![None; 4];
        // Errors for requests outside the chunk, and a non-error message: dropped.
        let d = [
            error(999, PORT, libc::EEXIST),
            error(1003, PORT, libc::EEXIST),
            error(1000, PORT + 1, libc::EEXIST),
            entry(1001, 0, 0, 1),
            error(1001, PORT, libc::ENOENT),
        ];
        assert_eq!(r.feed(&d.concat(), &mut outcomes), Ok(false));
        assert_eq!(r.feed(&error(1002, 0, 0), &mut outcomes), Ok(true));
        assert_eq!(r.dropped, 4);
        let kinds: Vec<_> = outcomes
            .iter()
            .map(|o| o.as_ref().map(|e| e.kind))
            .collect();
        assert_eq!(kinds, [None, None, Some(Kind::NotFound), None]);
        let message = &outcomes[2].as_ref().unwrap().message;
        assert!(
            message.starts_with("delete conntrack entry (batch index 2): "),
            "{message}"
        );
    }
}
