//! A classic BPF socket filter for event listeners: the kernel drops events whose family,
//! zone, mark or protocol cannot match before they reach the socket's buffer, so filtered
//! events cost no buffer space and no wake-up. Where the program cannot be sure (an attribute
//! it does not find), it lets the event through; the library checks every event again.

use super::attrs::{
    CTA_MARK, CTA_PROTO_NUM, CTA_TUPLE_ORIG, CTA_TUPLE_PROTO, CTA_TUPLE_REPLY, CTA_TUPLE_ZONE,
    CTA_ZONE,
};
use super::{NFGEN_HDRLEN, NLMSG_HDRLEN};

/// One instruction: the kernel's `struct sock_filter`.
pub type Insn = libc::sock_filter;

/// What an event must hold to get through: the fields the kernel can check in the message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventMatch {
    /// Layer-3 family.
    pub family: Option<u8>,
    /// Zone.
    pub zone: Option<u16>,
    /// Mark and mask.
    pub mark: Option<(u32, u32)>,
    /// Layer-4 protocol of the original tuple.
    pub proto: Option<u8>,
}

/// Where a conditional jump goes, resolved when the program is assembled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum To {
    /// The next instruction.
    Fall,
    /// The start of the next check (this one cannot decide).
    Next,
    /// The final "drop" instruction.
    Drop,
}

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const LD_B_ABS: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16;
const LD_IMM: u16 = (libc::BPF_LD | libc::BPF_IMM) as u16;
const LDX_IMM: u16 = (libc::BPF_LDX | libc::BPF_W | libc::BPF_IMM) as u16;
const LD_W_IND: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_IND) as u16;
const LD_H_IND: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_IND) as u16;
const LD_B_IND: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_IND) as u16;
const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const TAX: u16 = (libc::BPF_MISC | libc::BPF_TAX) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
/// Offsets in an event message: nfgenmsg after the 16-byte netlink header, attributes after it.
/// nfgen_family: the first byte after the netlink header.
const FAMILY_OFFSET: u32 = NLMSG_HDRLEN as u32;
/// The first attribute, after the netlink header and nfgenmsg.
const ATTRS_OFFSET: u32 = (NLMSG_HDRLEN + NFGEN_HDRLEN) as u32;
const AD_NLATTR: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_NLATTR) as u32;
const AD_NLATTR_NEST: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_NLATTR_NEST) as u32;

struct Asm {
    checks: Vec<Vec<(u16, To, To, u32)>>,
}

impl Asm {
    fn op(c: &mut Vec<(u16, To, To, u32)>, code: u16, k: u32) {
        c.push((code, To::Fall, To::Fall, k));
    }

    fn jeq(c: &mut Vec<(u16, To, To, u32)>, k: u32, t: To, f: To) {
        c.push((JEQ_K, t, f, k));
    }

    /// A = offset of top-level attribute `kind`, or go to the next check when absent.
    fn find(c: &mut Vec<(u16, To, To, u32)>, kind: u16) {
        Asm::op(c, LDX_IMM, u32::from(kind));
        Asm::op(c, LD_IMM, ATTRS_OFFSET);
        Asm::op(c, LD_W_ABS, AD_NLATTR);
        Asm::jeq(c, 0, To::Next, To::Fall);
    }

    /// A = offset of attribute `kind` inside the nest at A, or the next check when absent.
    fn find_nested(c: &mut Vec<(u16, To, To, u32)>, kind: u16) {
        Asm::op(c, LDX_IMM, u32::from(kind));
        Asm::op(c, LD_W_ABS, AD_NLATTR_NEST);
        Asm::jeq(c, 0, To::Next, To::Fall);
    }

    fn assemble(self) -> Vec<Insn> {
        let total: usize = self.checks.iter().map(Vec::len).sum();
        let drop = total + 1; // after the final accept
        let mut out = Vec::with_capacity(total + 2);
        let mut start = 0;
        for c in &self.checks {
            let next = start + c.len();
            for (i, &(code, t, f, k)) in c.iter().enumerate() {
                let at = start + i;
                let off = |to: To| -> u8 {
                    let target = match to {
                        To::Fall => at + 1,
                        To::Next => next,
                        To::Drop => drop,
                    };
                    // Programs are a few dozen instructions: offsets always fit.
                    u8::try_from(target - at - 1).unwrap_or(u8::MAX)
                };
                out.push(Insn {
                    code,
                    jt: off(t),
                    jf: off(f),
                    k,
                });
            }
            start = next;
        }
        out.push(Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: u32::MAX,
        });
        out.push(Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: 0,
        });
        out
    }
}

/// The socket filter for `f`, or None when nothing in it can be checked by the kernel.
pub fn event_filter(f: &EventMatch) -> Option<Vec<Insn>> {
    let mut asm = Asm { checks: Vec::new() };
    if let Some(fam) = f.family {
        let mut c = Vec::new();
        Asm::op(&mut c, LD_B_ABS, FAMILY_OFFSET);
        Asm::jeq(&mut c, u32::from(fam), To::Fall, To::Drop);
        asm.checks.push(c);
    }
    if let Some(z) = f.zone {
        // The entry's one zone is in CTA_ZONE (both directions) or in the CTA_TUPLE_ZONE of
        // one tuple (one direction), and the kernel's zone filter compares it whichever it
        // is: each one present must be the zone. (None present is zone 0: left to the
        // library, as any check the program cannot finish.)
        let mut c = Vec::new();
        Asm::find(&mut c, CTA_ZONE);
        Asm::op(&mut c, TAX, 0);
        Asm::op(&mut c, LD_H_IND, 4);
        Asm::jeq(&mut c, u32::from(z), To::Fall, To::Drop);
        asm.checks.push(c);
        for tuple in [CTA_TUPLE_ORIG, CTA_TUPLE_REPLY] {
            let mut c = Vec::new();
            Asm::find(&mut c, tuple);
            Asm::find_nested(&mut c, CTA_TUPLE_ZONE);
            Asm::op(&mut c, TAX, 0);
            Asm::op(&mut c, LD_H_IND, 4);
            Asm::jeq(&mut c, u32::from(z), To::Fall, To::Drop);
            asm.checks.push(c);
        }
    }
    if let Some((m, mask)) = f.mark {
        let mut c = Vec::new();
        Asm::find(&mut c, CTA_MARK);
        Asm::op(&mut c, TAX, 0);
        Asm::op(&mut c, LD_W_IND, 4);
        Asm::op(&mut c, AND_K, mask);
        Asm::jeq(&mut c, m & mask, To::Fall, To::Drop);
        asm.checks.push(c);
    }
    if let Some(p) = f.proto {
        let mut c = Vec::new();
        Asm::find(&mut c, CTA_TUPLE_ORIG);
        Asm::find_nested(&mut c, CTA_TUPLE_PROTO);
        Asm::find_nested(&mut c, CTA_PROTO_NUM);
        Asm::op(&mut c, TAX, 0);
        Asm::op(&mut c, LD_B_IND, 4);
        Asm::jeq(&mut c, u32::from(p), To::Fall, To::Drop);
        asm.checks.push(c);
    }
    if asm.checks.is_empty() {
        return None;
    }
    Some(asm.assemble())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_on_the_next_check_or_the_drop() {
        let f = EventMatch {
            family: Some(2),
            zone: Some(5),
            ..EventMatch::default()
        };
        let p = event_filter(&f).unwrap();
        // family: 2 insns; zone: 7 insns, then 10 for each tuple's zone; accept; drop.
        assert_eq!(p.len(), 2 + 7 + 10 + 10 + 2);
        let drop = p.len() - 1;
        assert_eq!(p[1].code, JEQ_K);
        assert_eq!(1 + 1 + usize::from(p[1].jf), drop, "family mismatch drops");
        assert_eq!(p[5].code, JEQ_K);
        assert_eq!(
            5 + 1 + usize::from(p[5].jt),
            9,
            "zone absent: next check (accept)"
        );
        assert_eq!(p[8].k, 5);
        assert_eq!(8 + 1 + usize::from(p[8].jf), drop);
        assert_eq!((p[18].k, p[28].k), (5, 5), "each tuple's zone");
        assert_eq!(18 + 1 + usize::from(p[18].jf), drop);
        assert_eq!(
            18 + 1 + usize::from(p[18].jt),
            19,
            "the reply tuple's check next"
        );
        assert_eq!(p[drop - 1].k, u32::MAX);
        assert!(event_filter(&EventMatch::default()).is_none());
    }
}
