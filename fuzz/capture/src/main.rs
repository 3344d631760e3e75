//! Records whole ctnetlink datagrams as the kernel sends them, for the fuzz corpora.
//!
//! Run inside a throwaway network namespace (capture.sh makes one and fills its table):
//! `capture OUTDIR` writes OUTDIR/decode_message/<name>-<n> (each a whole datagram, as one
//! recv returned it) and OUTDIR/decode_attrs/<name>-<n>-<m> (each message's payload: nfgenmsg
//! and attributes). Requests are built with the library's codec; replies are read from a raw
//! netlink socket so nothing of the datagram is lost.

use std::io::{Error, Result};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use conntrack::codec::{self, msg, put_request, DumpFilter, Purpose, Request};
use conntrack::entry::{proto, Dir, Side, Tuple, AF_INET, AF_INET6};
use conntrack::expect::Expectation;
use conntrack::{Entry, Handle};

const NETLINK_NETFILTER: i32 = 12;
const SOL_NETLINK: i32 = 270;
const NETLINK_ADD_MEMBERSHIP: i32 = 1;
const NETLINK_CAP_ACK: i32 = 10;
const NETLINK_EXT_ACK: i32 = 11;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_EXCL: u16 = 0x200;
const SUBSYS_CT: u8 = codec::SUBSYS_CTNETLINK;
const SUBSYS_EXP: u8 = codec::SUBSYS_CTNETLINK_EXP;
/// NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY, _EXP_NEW, _EXP_UPDATE, _EXP_DESTROY.
const EVENT_GROUPS: [i32; 6] = [1, 2, 3, 4, 5, 6];

struct Sock(i32);

impl Sock {
    fn open(groups: &[i32]) -> Result<Sock> {
        // SAFETY: plain socket calls on a descriptor this value owns.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_NETFILTER,
            );
            if fd < 0 {
                return Err(Error::last_os_error());
            }
            let s = Sock(fd);
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            let sl = std::mem::size_of::<libc::sockaddr_nl>() as u32;
            if libc::bind(fd, &sa as *const _ as *const libc::sockaddr, sl) < 0 {
                return Err(Error::last_os_error());
            }
            s.opt(NETLINK_EXT_ACK, 1)?;
            for g in groups {
                s.opt(NETLINK_ADD_MEMBERSHIP, *g)?;
            }
            Ok(s)
        }
    }

    fn opt(&self, name: i32, v: i32) -> Result<()> {
        // SAFETY: a valid int option on our descriptor.
        let r = unsafe {
            libc::setsockopt(
                self.0,
                SOL_NETLINK,
                name,
                &v as *const i32 as *const libc::c_void,
                4,
            )
        };
        if r < 0 {
            return Err(Error::last_os_error());
        }
        Ok(())
    }

    fn send(&self, buf: &[u8]) -> Result<()> {
        // SAFETY: sending from a valid buffer.
        let n = unsafe { libc::send(self.0, buf.as_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(Error::last_os_error());
        }
        Ok(())
    }

    /// One datagram, or None when nothing arrives within `ms`.
    fn recv(&self, ms: i32) -> Result<Option<Vec<u8>>> {
        let mut p = libc::pollfd {
            fd: self.0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, ms) } <= 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; 1 << 16];
        // SAFETY: receiving into a buffer of the length given.
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC) };
        if n < 0 {
            return Err(Error::last_os_error());
        }
        assert!(n as usize <= buf.len(), "datagram truncated");
        buf.truncate(n as usize);
        Ok(Some(buf))
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor we own.
        unsafe { libc::close(self.0) };
    }
}

struct Recorder {
    out: PathBuf,
    seq: u32,
    datagrams: usize,
    payloads: usize,
}

impl Recorder {
    fn write(&self, dir: &str, name: &str, data: &[u8]) {
        let d = self.out.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), data).unwrap();
    }

    /// Saves a datagram, and the payload of every message in it that a decoder reads (but for
    /// the filtered dumps, whose entries the full dump has already given).
    fn keep(&mut self, name: &str, n: usize, dgram: &[u8]) {
        self.write("decode_message", &format!("{name}-{n}"), dgram);
        self.datagrams += 1;
        if name.starts_with("ct-dump-") && name != "ct-dump-unspec" {
            return;
        }
        for (i, m) in codec::messages(dgram).enumerate() {
            let m = m.expect("the kernel's framing");
            let subsys = (m.msg_type >> 8) as u8;
            if (subsys == SUBSYS_CT || subsys == SUBSYS_EXP) && m.payload.len() >= 4 {
                self.write("decode_attrs", &format!("{name}-{n}-{i}"), m.payload);
                self.payloads += 1;
            }
        }
    }

    /// Sends one request and records every datagram of the answer, up to the NLMSG_DONE or
    /// NLMSG_ERROR that ends it.
    fn transact(&mut self, s: &Sock, name: &str, subsys: u8, extra: u16, req: Request) {
        self.seq += 1;
        let mut buf = Vec::new();
        put_request(&mut buf, subsys, self.seq, extra, &req);
        s.send(&buf).unwrap_or_else(|e| panic!("{name}: send: {e}"));
        let mut n = 0;
        loop {
            let d = s
                .recv(2000)
                .unwrap_or_else(|e| panic!("{name}: recv: {e}"))
                .unwrap_or_else(|| panic!("{name}: no answer"));
            self.keep(name, n, &d);
            n += 1;
            let end = codec::messages(&d).any(|m| {
                m.is_ok_and(|m| m.msg_type == codec::NLMSG_DONE || m.msg_type == codec::NLMSG_ERROR)
            });
            if end {
                eprintln!("{name}: {n} datagram(s)");
                return;
            }
        }
    }

    /// Records the event datagrams waiting on `s`.
    fn events(&mut self, s: &Sock, name: &str) {
        let mut n = 0;
        while let Some(d) = s.recv(300).unwrap() {
            self.keep(name, n, &d);
            n += 1;
        }
        eprintln!("{name}: {n} event datagram(s)");
    }
}

fn req(msg_type: u8, family: u8, flags: u16, attrs: Vec<u8>) -> Request {
    Request {
        msg_type,
        family,
        version: 0,
        flags,
        attrs,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(src: &str, dst: &str, sport: u16, dport: u16) -> Entry {
    let mut e = Entry::new();
    e.set_proto(proto::TCP).unwrap();
    e.set_addr(Dir::Orig, Side::Src, ip(src)).unwrap();
    e.set_addr(Dir::Orig, Side::Dst, ip(dst)).unwrap();
    e.set_port(Dir::Orig, Side::Src, sport).unwrap();
    e.set_port(Dir::Orig, Side::Dst, dport).unwrap();
    e.set_tcp_state(3).unwrap();
    e.set_timeout(600);
    e
}

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: capture OUTDIR"));
    let mut r = Recorder {
        out: out.clone(),
        seq: 0,
        datagrams: 0,
        payloads: 0,
    };
    let s = Sock::open(&[]).expect("netlink socket (root, in a namespace)");
    let ev = Sock::open(&EVENT_GROUPS).expect("event socket");
    let mut h = Handle::open().expect("library handle");

    // Entries the library makes: a labelled one, an FTP master with an expectation.
    let mut labelled = tcp("10.9.0.1", "10.9.0.2", 1234, 443);
    labelled.set_label(0, true).unwrap();
    labelled.set_label(70, true).unwrap();
    labelled.set_mark(0xffff_ffff);
    if let Err(e) = h.create(&labelled) {
        eprintln!("labelled entry: {e} (labels need a ct label rule in the namespace)");
        labelled.unset(conntrack::entry::Field::Labels);
        h.create(&labelled).unwrap();
    }
    r.events(&ev, "event-new-labelled");
    let mut master = tcp("1.1.1.1", "2.2.2.2", 1025, 21);
    master.set_helper("ftp").unwrap();
    h.create(&master).unwrap();
    let t = |src: &str, dst: &str, sp: u16, dp: u16| {
        let mut t = Tuple::default();
        t.set_proto(proto::TCP).unwrap();
        t.set_addr(Side::Src, ip(src)).unwrap();
        t.set_addr(Side::Dst, ip(dst)).unwrap();
        t.set_port(Side::Src, sp).unwrap();
        t.set_port(Side::Dst, dp).unwrap();
        t
    };
    let mut x = Expectation::default();
    x.set_master(master.tuple(Dir::Orig).clone());
    x.set_tuple(t("1.1.1.1", "2.2.2.2", 0, 40000));
    x.set_mask(t("255.255.255.255", "255.255.255.255", 0, 0xffff));
    x.set_timeout(200);
    h.create_expectation(&x).unwrap();
    r.events(&ev, "event-new-master-expect");

    // Dumps.
    let all = |fam| req(msg::CT_GET, fam, 0, Vec::new());
    r.transact(&s, "ct-dump-unspec", SUBSYS_CT, NLM_F_DUMP, all(0));
    r.transact(&s, "ct-dump-ipv4", SUBSYS_CT, NLM_F_DUMP, all(AF_INET));
    r.transact(&s, "ct-dump-ipv6", SUBSYS_CT, NLM_F_DUMP, all(AF_INET6));
    let zone = codec::filter_attrs(&DumpFilter {
        zone: Some(7),
        ..DumpFilter::default()
    });
    r.transact(
        &s,
        "ct-dump-zone7",
        SUBSYS_CT,
        NLM_F_DUMP,
        req(msg::CT_GET, 0, 0, zone),
    );
    let mut f = conntrack::Filter::new();
    f.set_addr(
        Dir::Orig,
        Side::Src,
        conntrack::filter::Cidr::parse("10.0.0.1").unwrap(),
    )
    .unwrap();
    f.set_proto(proto::TCP);
    let fa = f.kernel_attrs(&conntrack::kernel::Kernel::running());
    r.transact(
        &s,
        "ct-dump-tuple",
        SUBSYS_CT,
        NLM_F_DUMP,
        req(msg::CT_GET, AF_INET, 0, fa),
    );
    let get = codec::entry_attrs(&master, Purpose::Lookup).unwrap();
    r.transact(
        &s,
        "ct-get",
        SUBSYS_CT,
        NLM_F_ACK,
        req(msg::CT_GET, AF_INET, 0, get),
    );
    r.transact(
        &s,
        "exp-dump",
        SUBSYS_EXP,
        NLM_F_DUMP,
        req(1, 0, 0, Vec::new()),
    );
    let stats = req(msg::CT_GET_STATS_CPU, 0, 0, Vec::new());
    r.transact(&s, "stats-cpu", SUBSYS_CT, NLM_F_DUMP, stats);
    let count = req(msg::CT_GET_STATS, 0, 0, Vec::new());
    r.transact(&s, "stats-global", SUBSYS_CT, NLM_F_ACK, count);

    // Errors and acknowledgements, with the echoed request capped and whole.
    for (cap, tag) in [(1, "capped"), (0, "whole")] {
        s.opt(NETLINK_CAP_ACK, cap).unwrap();
        let create = codec::entry_attrs(&master, Purpose::Create).unwrap();
        let excl = NLM_F_CREATE | NLM_F_EXCL;
        let exists = req(msg::CT_NEW, AF_INET, excl, create);
        r.transact(
            &s,
            &format!("err-exists-{tag}"),
            SUBSYS_CT,
            NLM_F_ACK,
            exists,
        );
        // CTA_ZONE one byte long: refused by the attribute policy, with an extended ack.
        let bad = req(msg::CT_GET, AF_INET, 0, vec![5, 0, 18, 0, 7, 0, 0, 0]);
        r.transact(&s, &format!("err-policy-{tag}"), SUBSYS_CT, NLM_F_ACK, bad);
        let mut gone = tcp("9.9.9.9", "8.8.8.8", 1, 2);
        gone.set_zone(3).unwrap();
        let del = codec::entry_attrs(&gone, Purpose::Lookup).unwrap();
        let missing = req(msg::CT_DELETE, AF_INET, 0, del);
        r.transact(
            &s,
            &format!("err-noent-{tag}"),
            SUBSYS_CT,
            NLM_F_ACK,
            missing,
        );
        let mut upd = labelled.clone();
        upd.set_mark(7);
        upd.unset(conntrack::entry::Field::Labels);
        let ua = codec::entry_attrs(&upd, Purpose::Update).unwrap();
        let ok = req(msg::CT_NEW, AF_INET, 0, ua);
        r.transact(&s, &format!("ack-update-{tag}"), SUBSYS_CT, NLM_F_ACK, ok);
    }
    r.events(&ev, "event-update");

    // Destroy events carry the final counters and the stop timestamp.
    h.flush_expectations().unwrap();
    r.events(&ev, "event-exp-destroy");
    h.delete(&master).unwrap();
    h.delete(&labelled).unwrap();
    r.events(&ev, "event-destroy");

    eprintln!(
        "{} datagrams, {} payloads under {}",
        r.datagrams,
        r.payloads,
        Path::new(&out).display()
    );
}
