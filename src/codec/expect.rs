//! The wire form of expectations (subsystem CTNETLINK_EXP): their attributes, encoded and
//! decoded.

use super::attrs::*;
use super::decode::{be16, be32, string, tuple};
use super::put_tuple;
use crate::entry::Tuple;
use crate::error::{Error, Result};

/// An expectation: a connection a helper (FTP, SIP, ...) expects, tied to its master.
///
/// ```no_run
/// # fn main() -> conntrack::Result<()> {
/// for x in conntrack::Handle::open()?.expectations()? {
///     println!("{:?} expects {:?} (helper {:?})", x.master(), x.tuple(), x.helper());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectation {
    pub(crate) family: Option<u8>,
    pub(crate) master: Tuple,
    pub(crate) tuple: Tuple,
    pub(crate) mask: Tuple,
    pub(crate) timeout: Option<u32>,
    pub(crate) zone: Option<u16>,
    pub(crate) helper: Option<String>,
    pub(crate) class: Option<u32>,
    pub(crate) flags: Option<u32>,
    pub(crate) id: Option<u32>,
}

/// Decodes an expectation message's payload (nfgenmsg onward).
pub fn decode_expectation(payload: &[u8]) -> Result<Expectation> {
    let head = payload
        .get(..4)
        .ok_or_else(|| Error::malformed("expectation message without nfgenmsg header"))?;
    let mut x = Expectation {
        family: Some(head[0]).filter(|f| *f != 0),
        ..Expectation::default()
    };
    let mut bad: Bad = None;
    walk(
        &payload[4..],
        &mut bad,
        "expectation",
        |kind, v, bad| match kind {
            CTA_EXPECT_MASTER => {
                tuple(v, bad, &mut x.master);
            }
            CTA_EXPECT_TUPLE => {
                tuple(v, bad, &mut x.tuple);
            }
            CTA_EXPECT_MASK => {
                tuple(v, bad, &mut x.mask);
            }
            CTA_EXPECT_TIMEOUT => x.timeout = be32(v, bad, "CTA_EXPECT_TIMEOUT"),
            CTA_EXPECT_ID => x.id = be32(v, bad, "CTA_EXPECT_ID"),
            CTA_EXPECT_HELP_NAME => x.helper = Some(string(v)),
            CTA_EXPECT_ZONE => x.zone = be16(v, bad, "CTA_EXPECT_ZONE"),
            CTA_EXPECT_FLAGS => x.flags = be32(v, bad, "CTA_EXPECT_FLAGS"),
            CTA_EXPECT_CLASS => x.class = be32(v, bad, "CTA_EXPECT_CLASS"),
            _ => {}
        },
    );
    match bad {
        None => Ok(x),
        Some(what) => Err(Error::malformed(format!(
            "the kernel sent a malformed expectation (attribute {what})"
        ))),
    }
}

/// The attributes of `x` for a create (`full`) or a lookup/delete.
pub fn encode(x: &Expectation, full: bool) -> Result<Vec<u8>> {
    x.check(full)?;
    let mut v = Vec::with_capacity(256);
    let mut w = Writer::new(&mut v);
    put_tuple(&mut w, CTA_EXPECT_TUPLE, &x.tuple);
    w.be16(CTA_EXPECT_ZONE, x.zone.unwrap_or(0));
    if !full {
        if let Some(id) = x.id {
            w.be32(CTA_EXPECT_ID, id);
        }
        return Ok(v);
    }
    put_tuple(&mut w, CTA_EXPECT_MASTER, &x.master);
    put_tuple(&mut w, CTA_EXPECT_MASK, &x.mask);
    if let Some(t) = x.timeout {
        w.be32(CTA_EXPECT_TIMEOUT, t);
    }
    if let Some(h) = &x.helper {
        let mut name = h.as_bytes().to_vec();
        name.push(0);
        w.put(CTA_EXPECT_HELP_NAME, &name);
    }
    if let Some(c) = x.class {
        w.be32(CTA_EXPECT_CLASS, c);
    }
    if let Some(f) = x.flags {
        w.be32(CTA_EXPECT_FLAGS, f);
    }
    Ok(v)
}

/// Whether `msg_type` is an expectation of the expectation subsystem (what a dump answers).
pub fn is_expectation(msg_type: u16) -> bool {
    msg_type >> 8 == u16::from(super::SUBSYS_CTNETLINK_EXP)
        && (msg_type & 0xff) as u8 == super::msg::EXP_NEW
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::AF_INET;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// An expectation dumped by a 6.18 kernel (`conntrack -I expect` under an FTP master).
    const KERNEL_EXPECT: &str = "020000002400028014000180080001000101010108000200020202020c0002800500010030000000240003801400018008000100ffffffff08000200ffffffff0c00028005000100300000003400018014000180080001000101010108000200020202021c000280050001000600000006000200040100000600030000150000080004000000012b0800050029759c4b080008000000000008000900000000000800060066747000";

    #[test]
    fn decodes_a_kernel_expectation_and_encodes_it_back() {
        let x = decode_expectation(&unhex(KERNEL_EXPECT)).unwrap();
        assert_eq!(x.family, Some(AF_INET));
        assert_eq!(x.master.src, Some("1.1.1.1".parse().unwrap()));
        assert_eq!(
            (x.master.proto, x.master.src_port, x.master.dst_port),
            (Some(6), Some(1025), Some(21))
        );
        assert_eq!(x.tuple.dst, Some("2.2.2.2".parse().unwrap()));
        assert_eq!(x.mask.src, Some("255.255.255.255".parse().unwrap()));
        assert_eq!((x.timeout, x.class, x.flags), (Some(299), Some(0), Some(0)));
        assert_eq!(x.helper.as_deref(), Some("ftp"));
        assert_eq!(x.id, Some(0x2975_9c4b));
        // Our encoding of the create carries the same tuples, byte for byte.
        let ours = encode(&x, true).unwrap();
        let kernel = unhex(KERNEL_EXPECT);
        assert_eq!(&ours[..0x24], &kernel[4..4 + 0x24], "expected tuple");
        for bad in 0..kernel.len() {
            let _ = decode_expectation(&kernel[..bad]);
        }
        assert!(encode(&Expectation::default(), false).is_err());
        // A helper name that would not fit its attribute is refused, never cut or wrapped.
        let mut long = x.clone();
        long.helper = Some("h".repeat(70_000));
        assert!(encode(&long, true).is_err());
    }
}
