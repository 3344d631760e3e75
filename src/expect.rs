//! The expectation table: connections a helper (FTP, SIP, ...) expects, each tied to the
//! master connection whose traffic announced it.

use std::ops::ControlFlow;

// The struct is the codec's (it decodes into it); its rules and behaviour are here.
pub use crate::codec::expect::Expectation;
use crate::codec::expect::{encode, is_expectation};
use crate::codec::{self, msg, Request, NLM_F_CREATE, NLM_F_EXCL, SUBSYS_CTNETLINK_EXP};
use crate::entry::{Tuple, AF_INET, AF_INET6};
use crate::error::{Error, Kind, Result};
use crate::handle::Handle;

impl Expectation {
    /// Checks that the expectation holds what a create (`full`) or a lookup or delete needs:
    /// complete tuples (addresses and protocol) and a helper name the kernel can take.
    pub fn check(&self, full: bool) -> Result<()> {
        complete(&self.tuple, "expected tuple")?;
        if !full {
            return Ok(());
        }
        if let Some(h) = self.helper.as_deref() {
            crate::entry::check_helper_name(h)?;
        }
        complete(&self.master, "master tuple")?;
        complete(&self.mask, "mask")
    }

    /// The original tuple of the master connection.
    pub fn master(&self) -> &Tuple {
        &self.master
    }

    /// Sets the master connection's original tuple.
    pub fn set_master(&mut self, t: Tuple) {
        self.master = t;
    }

    /// The expected connection's tuple.
    pub fn tuple(&self) -> &Tuple {
        &self.tuple
    }

    /// Sets the expected connection's tuple.
    pub fn set_tuple(&mut self, t: Tuple) {
        self.tuple = t;
    }

    /// Which bits of the expected tuple must match (addresses and ports as masks).
    pub fn mask(&self) -> &Tuple {
        &self.mask
    }

    /// Sets the mask of the expected tuple.
    pub fn set_mask(&mut self, t: Tuple) {
        self.mask = t;
    }

    /// Seconds left (as read), or to give it (as sent).
    pub fn timeout(&self) -> Option<u32> {
        self.timeout
    }

    /// Sets the timeout in seconds.
    pub fn set_timeout(&mut self, seconds: u32) {
        self.timeout = Some(seconds);
    }

    /// The zone.
    pub fn zone(&self) -> Option<u16> {
        self.zone
    }

    /// Sets the zone; refused above 65535.
    pub fn set_zone(&mut self, zone: u32) -> Result<()> {
        let z = u16::try_from(zone)
            .map_err(|_| Error::invalid(format!("zone {zone} is over 65535")))?;
        self.zone = Some(z);
        Ok(())
    }

    /// The helper that expects it ("ftp").
    pub fn helper(&self) -> Option<&str> {
        self.helper.as_deref()
    }

    /// The helper's expectation class.
    pub fn class(&self) -> Option<u32> {
        self.class
    }

    /// Sets the helper's expectation class.
    pub fn set_class(&mut self, class: u32) {
        self.class = Some(class);
    }

    /// The flags (NF_CT_EXPECT_*).
    pub fn flags(&self) -> Option<u32> {
        self.flags
    }

    /// Sets the flags (NF_CT_EXPECT_*).
    pub fn set_flags(&mut self, flags: u32) {
        self.flags = Some(flags);
    }

    /// The kernel's id.
    pub fn id(&self) -> Option<u32> {
        self.id
    }

    /// Sets the kernel's id: a delete or get then concerns that expectation only.
    pub fn set_id(&mut self, id: u32) {
        self.id = Some(id);
    }

    /// Forgets the id: a get or delete then looks the expectation up by its tuple.
    pub fn clear_id(&mut self) {
        self.id = None;
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

fn complete(t: &Tuple, what: &str) -> Result<()> {
    if t.src.is_none() || t.dst.is_none() || t.proto.is_none() {
        return Err(Error::invalid(format!(
            "the {what} needs source and destination addresses and a protocol"
        )));
    }
    Ok(())
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
            msg_type: msg::EXP_GET,
            family: 0,
            version: 0,
            flags: 0,
            attrs: Vec::new(),
        };
        self.dump("dump expectations", SUBSYS_CTNETLINK_EXP, req, |m| {
            if !is_expectation(m.msg_type) {
                return Ok(true);
            }
            let x = codec::expect::decode_expectation(m.payload)?;
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
            msg_type: msg::EXP_NEW,
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
            msg_type: msg::EXP_DELETE,
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
            msg_type: msg::EXP_GET,
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
            if found.is_none() && is_expectation(m.msg_type) {
                found = Some(codec::expect::decode_expectation(m.payload)?);
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
            msg_type: msg::EXP_DELETE,
            family: 0,
            version: 0,
            flags: 0,
            attrs: Vec::new(),
        };
        self.request("flush expectations", SUBSYS_CTNETLINK_EXP, req, |_| Ok(()))
    }
}
