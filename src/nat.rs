//! NAT filters, with the meaning conntrack(8) gives `--src-nat`, `--dst-nat` and
//! `--any-nat [ADDR[:PORT]]`: an entry is source-NATed when the kernel did source NAT on it
//! (SRC_NAT_DONE) and its reply destination differs from its original source (address, or
//! port for protocols with ports); destination NAT likewise with the reply source and the
//! original destination. An address or port in the filter must then be the reply tuple's.

use std::net::{IpAddr, SocketAddr};

use crate::entry::{proto, status, Entry, AF_INET, AF_INET6};
use crate::error::{Error, Result};

/// Which NAT a filter asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NatKind {
    /// Source NAT (`conntrack --src-nat`).
    Src,
    /// Destination NAT (`conntrack --dst-nat`).
    Dst,
    /// Either (`conntrack --any-nat`).
    Any,
}

/// The NAT the kernel is asked to set up when it creates an entry (one address, an
/// optional port), as conntrack(8)'s `-I --src-nat ADDR[:PORT]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NatSetup {
    /// The address translated to.
    pub addr: IpAddr,
    /// The port translated to, for protocols with ports.
    pub port: Option<u16>,
}

impl NatSetup {
    /// "ADDR", "ADDR:PORT" or `"[ADDR6]:PORT"`.
    pub fn parse(text: &str) -> Result<NatSetup> {
        let n = Nat::parse(NatKind::Src, Some(text))?;
        match n.addr {
            Some(addr) => Ok(NatSetup { addr, port: n.port }),
            None => Err(Error::invalid(format!("'{text}' has no address"))),
        }
    }
}

/// A NAT condition of a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nat {
    /// Source, destination or either.
    pub kind: NatKind,
    /// The address translated to (reply destination for source NAT, reply source for
    /// destination NAT); None: any.
    pub addr: Option<IpAddr>,
    /// The port translated to; None: any.
    pub port: Option<u16>,
}

impl Nat {
    /// `kind` with an optional "ADDR", "ADDR:PORT", `"[ADDR6]:PORT"` or ":PORT" (None or
    /// empty: any NAT of that kind).
    pub fn parse(kind: NatKind, text: Option<&str>) -> Result<Nat> {
        let mut n = Nat {
            kind,
            addr: None,
            port: None,
        };
        let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(n);
        };
        let bad = || Error::invalid(format!("'{t}' is not ADDR, ADDR:PORT or :PORT"));
        if let Some(p) = t.strip_prefix(':') {
            n.port = Some(p.parse().map_err(|_| bad())?);
        } else if let Ok(a) = t.parse::<IpAddr>() {
            n.addr = Some(a);
        } else {
            let sa: SocketAddr = t.parse().map_err(|_| bad())?;
            n.addr = Some(sa.ip());
            n.port = Some(sa.port());
        }
        Ok(n)
    }

    /// The family its address implies, if any.
    pub fn family(&self) -> Option<u8> {
        self.addr
            .map(|a| if a.is_ipv4() { AF_INET } else { AF_INET6 })
    }

    /// Whether `e` is NATed as asked.
    pub fn matches(&self, e: &Entry) -> bool {
        match self.kind {
            NatKind::Src => self.side(e, true),
            NatKind::Dst => self.side(e, false),
            NatKind::Any => self.side(e, true) || self.side(e, false),
        }
    }

    /// Source (`src`) or destination NAT of `e`, with the address and port asked for.
    fn side(&self, e: &Entry, src: bool) -> bool {
        let done = if src {
            status::SRC_NAT_DONE
        } else {
            status::DST_NAT_DONE
        };
        // As conntrack(8): an entry without status bits is judged by its tuples alone.
        if e.status.is_some_and(|s| s & done == 0) {
            return false;
        }
        let (o, r) = (&e.orig, &e.reply);
        let (orig_addr, reply_addr, orig_port, reply_port) = if src {
            (o.src, r.dst, o.src_port, r.dst_port)
        } else {
            (o.dst, r.src, o.dst_port, r.src_port)
        };
        let addr_nat = reply_addr.is_some() && orig_addr != reply_addr;
        // Ports only of protocols that have them (ICMP ids are not ports).
        let port_nat = e.proto().is_some_and(proto::has_ports)
            && reply_port.is_some()
            && orig_port != reply_port;
        let addr_ok = |a: IpAddr| addr_nat && reply_addr == Some(a);
        let port_ok = |p: u16| port_nat && reply_port == Some(p);
        match (self.addr, self.port) {
            (None, None) => addr_nat || port_nat,
            (Some(a), None) => addr_ok(a),
            (None, Some(p)) => port_ok(p),
            (Some(a), Some(p)) => addr_ok(a) && port_ok(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Dir, Side};

    /// A UDP entry orig 10.0.0.1:1000 -> 10.0.0.2:53, reply from `rsrc` to `rdst`.
    fn entry(rsrc: &str, rdst: &str, st: u32) -> Entry {
        let mut e = Entry::new();
        e.set_proto(proto::UDP).unwrap();
        e.set_addr(Dir::Orig, Side::Src, "10.0.0.1".parse().unwrap())
            .unwrap();
        e.set_addr(Dir::Orig, Side::Dst, "10.0.0.2".parse().unwrap())
            .unwrap();
        e.orig.src_port = Some(1000);
        e.orig.dst_port = Some(53);
        let rs: SocketAddr = rsrc.parse().unwrap();
        let rd: SocketAddr = rdst.parse().unwrap();
        e.reply.proto = Some(proto::UDP);
        e.reply.src = Some(rs.ip());
        e.reply.dst = Some(rd.ip());
        e.reply.src_port = Some(rs.port());
        e.reply.dst_port = Some(rd.port());
        e.status = Some(st);
        e
    }

    const DONE: u32 = status::SRC_NAT_DONE | status::DST_NAT_DONE;

    #[test]
    fn plain_snat_dnat_and_addresses() {
        let plain = entry("10.0.0.2:53", "10.0.0.1:1000", DONE);
        let snat = entry("10.0.0.2:53", "192.168.0.9:1000", DONE);
        let spat = entry("10.0.0.2:53", "10.0.0.1:2000", DONE);
        let dnat = entry("172.16.0.5:8053", "10.0.0.1:1000", DONE);
        let any = |t| Nat::parse(NatKind::Any, t).unwrap();
        let src = |t| Nat::parse(NatKind::Src, t).unwrap();
        let dst = |t| Nat::parse(NatKind::Dst, t).unwrap();
        for n in [any(None), src(None), dst(None)] {
            assert!(!n.matches(&plain), "{n:?}");
        }
        assert!(src(None).matches(&snat) && !dst(None).matches(&snat));
        assert!(src(None).matches(&spat), "a port change is source NAT too");
        assert!(dst(None).matches(&dnat) && !src(None).matches(&dnat));
        assert!(any(None).matches(&snat) && any(None).matches(&dnat));
        assert!(src(Some("192.168.0.9")).matches(&snat));
        assert!(!src(Some("192.168.0.8")).matches(&snat));
        assert!(
            !src(Some("192.168.0.9:1000")).matches(&snat),
            "the port did not change"
        );
        assert!(src(Some(":2000")).matches(&spat));
        assert!(dst(Some("172.16.0.5:8053")).matches(&dnat));
        assert!(!dst(Some("172.16.0.5:8054")).matches(&dnat));
        assert!(any(Some("172.16.0.5")).matches(&dnat));
        assert!(!any(Some("172.16.0.5")).matches(&snat));
        // Without SRC_NAT_DONE the kernel did no source NAT, whatever the tuples say.
        let undone = entry("10.0.0.2:53", "192.168.0.9:1000", status::DST_NAT_DONE);
        assert!(!src(None).matches(&undone));
        assert!(Nat::parse(NatKind::Src, Some("[fe80::1]:53")).unwrap().port == Some(53));
        assert!(Nat::parse(NatKind::Src, Some("nope")).is_err());
        assert!(Nat::parse(NatKind::Src, Some("1.2.3.4:99999")).is_err());
    }
}
