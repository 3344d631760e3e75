//! The expectation table: connections a helper (FTP, SIP, ...) expects, each tied to the
//! master connection whose traffic announced it.

use std::ops::ControlFlow;

use crate::codec::attrs::{walk, Bad, Writer};
use crate::codec::decode::{be16, be32, string, tuple};
use crate::codec::{self, Request, SUBSYS_CTNETLINK_EXP};
use crate::entry::{Tuple, AF_INET, AF_INET6};
use crate::error::{Error, Kind, Result};
use crate::handle::Handle;

const EXP_NEW: u8 = 0;
const EXP_GET: u8 = 1;
const EXP_DELETE: u8 = 2;
const CTA_EXPECT_MASTER: u16 = 1;
const CTA_EXPECT_TUPLE: u16 = 2;
const CTA_EXPECT_MASK: u16 = 3;
const CTA_EXPECT_TIMEOUT: u16 = 4;
const CTA_EXPECT_ID: u16 = 5;
const CTA_EXPECT_HELP_NAME: u16 = 6;
const CTA_EXPECT_ZONE: u16 = 7;
const CTA_EXPECT_FLAGS: u16 = 8;
const CTA_EXPECT_CLASS: u16 = 9;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_EXCL: u16 = 0x200;

/// An expectation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectation {
    /// Layer-3 family.
    pub family: Option<u8>,
    /// The original tuple of the master connection.
    pub master: Tuple,
    /// The expected connection's tuple.
    pub tuple: Tuple,
    /// Which bits of `tuple` must match (addresses and ports as masks).
    pub mask: Tuple,
    /// Seconds left.
    pub timeout: Option<u32>,
    /// Zone.
    pub zone: Option<u16>,
    /// The helper that expects it ("ftp").
    pub helper: Option<String>,
    /// The helper's expectation class.
    pub class: Option<u32>,
    /// Flags (NF_CT_EXPECT_*).
    pub flags: Option<u32>,
    /// The kernel's id.
    pub id: Option<u32>,
}

impl Expectation {
    /// Sets the zone; refused above 65535.
    pub fn set_zone(&mut self, zone: u32) -> Result<()> {
        let z = u16::try_from(zone)
            .map_err(|_| Error::invalid(format!("zone {zone} is over 65535")))?;
        self.zone = Some(z);
        Ok(())
    }

    /// Sets the helper name, by the rule of [`crate::entry::check_helper_name`].
    pub fn set_helper(&mut self, name: &str) -> Result<()> {
        crate::entry::check_helper_name(name)?;
        self.helper = Some(name.to_string());
        Ok(())
    }

    /// The family: as set, else from the expected tuple's or the master's address.
    pub fn family(&self) -> Option<u8> {
        self.family.or_else(|| {
            [self.tuple.src, self.master.src]
                .into_iter()
                .flatten()
                .next()
                .map(|a| if a.is_ipv4() { AF_INET } else { AF_INET6 })
        })
    }
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
            CTA_EXPECT_MASTER => tuple(v, bad, &mut x.master),
            CTA_EXPECT_TUPLE => tuple(v, bad, &mut x.tuple),
            CTA_EXPECT_MASK => tuple(v, bad, &mut x.mask),
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

fn complete(t: &Tuple, what: &str) -> Result<()> {
    if t.src.is_none() || t.dst.is_none() || t.proto.is_none() {
        return Err(Error::invalid(format!(
            "the {what} needs source and destination addresses and a protocol"
        )));
    }
    Ok(())
}

/// The attributes of `x` for a create (`full`) or a lookup/delete.
fn encode(x: &Expectation, full: bool) -> Result<Vec<u8>> {
    complete(&x.tuple, "expected tuple")?;
    if let Some(h) = x.helper.as_deref().filter(|_| full) {
        crate::entry::check_helper_name(h)?;
    }
    if full {
        complete(&x.master, "master tuple")?;
        complete(&x.mask, "mask")?;
    }
    let mut v = Vec::with_capacity(256);
    let mut w = Writer::new(&mut v);
    codec::put_tuple(&mut w, CTA_EXPECT_TUPLE, &x.tuple);
    w.be16(CTA_EXPECT_ZONE, x.zone.unwrap_or(0));
    if !full {
        if let Some(id) = x.id {
            w.be32(CTA_EXPECT_ID, id);
        }
        return Ok(v);
    }
    codec::put_tuple(&mut w, CTA_EXPECT_MASTER, &x.master);
    codec::put_tuple(&mut w, CTA_EXPECT_MASK, &x.mask);
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

fn family(x: &Expectation) -> Result<u8> {
    x.family()
        .ok_or_else(|| Error::invalid("the expectation has no family and no address"))
}

impl Handle {
    /// Streams every expectation to `f`, which returns Break to stop.
    pub fn dump_expectations(
        &mut self,
        mut f: impl FnMut(&Expectation) -> ControlFlow<()>,
    ) -> Result<()> {
        let req = Request {
            msg_type: EXP_GET,
            family: 0,
            version: 0,
            flags: 0,
            attrs: Vec::new(),
        };
        self.dump("dump expectations", SUBSYS_CTNETLINK_EXP, req, |m| {
            if m.msg_type >> 8 != u16::from(SUBSYS_CTNETLINK_EXP)
                || (m.msg_type & 0xff) as u8 != EXP_NEW
            {
                return Ok(true);
            }
            let x = decode_expectation(m.payload)?;
            Ok(f(&x).is_continue())
        })
    }

    /// Every expectation.
    pub fn expectations(&mut self) -> Result<Vec<Expectation>> {
        let mut v = Vec::new();
        self.dump_expectations(|x| {
            v.push(x.clone());
            ControlFlow::Continue(())
        })?;
        Ok(v)
    }

    /// Creates `x`. Its master connection must exist and have a helper; the kernel answers
    /// NotFound when it does not.
    pub fn create_expectation(&mut self, x: &Expectation) -> Result<()> {
        let req = Request {
            msg_type: EXP_NEW,
            family: family(x)?,
            version: 0,
            flags: NLM_F_CREATE | NLM_F_EXCL,
            attrs: encode(x, true)?,
        };
        self.request("create expectation", SUBSYS_CTNETLINK_EXP, req, |_| Ok(()))
    }

    /// Deletes the expectation with `x`'s expected tuple and zone (and id, when set).
    ///
    /// With an id, the delete goes to the kernel with it first. Kernels without the stable fix
    /// "use helper function to calculate expect ID" (5.10.223, for one) compare that id with
    /// the object's address instead of the id their dumps report, and answer NotFound; then
    /// the expectation is read by tuple and zone, its id compared here, and deleted by tuple.
    pub fn delete_expectation(&mut self, x: &Expectation) -> Result<()> {
        let first = self.delete_expectation_once(x, x.id);
        match (first, x.id) {
            (Err(e), Some(id)) if e.kind == Kind::NotFound => {
                let current = self.get_expectation(&Expectation {
                    id: None,
                    ..x.clone()
                })?;
                if current.id != Some(id) {
                    return Err(e);
                }
                self.delete_expectation_once(x, None)
            }
            (result, _) => result,
        }
    }

    fn delete_expectation_once(&mut self, x: &Expectation, id: Option<u32>) -> Result<()> {
        let req = Request {
            msg_type: EXP_DELETE,
            family: family(x)?,
            version: 0,
            flags: 0,
            attrs: encode(&Expectation { id, ..x.clone() }, false)?,
        };
        self.request("delete expectation", SUBSYS_CTNETLINK_EXP, req, |_| Ok(()))
    }

    /// Reads the expectation with `x`'s expected tuple and zone. When `x` has an id, an
    /// expectation with another id is NotFound (checked here, not by the kernel, for the
    /// kernels whose id lookup is broken: see `delete_expectation`).
    pub fn get_expectation(&mut self, x: &Expectation) -> Result<Expectation> {
        let req = Request {
            msg_type: EXP_GET,
            family: family(x)?,
            version: 0,
            flags: 0,
            attrs: encode(
                &Expectation {
                    id: None,
                    ..x.clone()
                },
                false,
            )?,
        };
        let mut found = None;
        self.request("get expectation", SUBSYS_CTNETLINK_EXP, req, |m| {
            if found.is_none() && (m.msg_type & 0xff) as u8 == EXP_NEW {
                found = Some(decode_expectation(m.payload)?);
            }
            Ok(())
        })?;
        match found {
            Some(f) if x.id.is_none() || f.id == x.id => Ok(f),
            Some(_) => Err(Error::new(
                Kind::NotFound,
                "get expectation: the expectation with this tuple has another id",
            )),
            None => Err(Error::malformed(
                "get expectation: the kernel acknowledged without sending the expectation",
            )),
        }
    }

    /// Empties the expectation table.
    pub fn flush_expectations(&mut self) -> Result<()> {
        let req = Request {
            msg_type: EXP_DELETE,
            family: 0,
            version: 0,
            flags: 0,
            attrs: Vec::new(),
        };
        self.request("flush expectations", SUBSYS_CTNETLINK_EXP, req, |_| Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
