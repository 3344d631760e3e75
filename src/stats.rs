//! The table's counters: how many entries (IPCTNL_MSG_CT_GET_STATS) and the per-CPU
//! statistics (IPCTNL_MSG_CT_GET_STATS_CPU), as `conntrack -C` and `conntrack -S` show them.

use crate::codec::attrs::{walk, Bad};
use crate::codec::decode::be32;
use crate::codec::{msg, Request, SUBSYS_CTNETLINK};
use crate::error::{Error, Result};
use crate::handle::Handle;

const CTA_STATS_GLOBAL_ENTRIES: u16 = 1;
const CTA_STATS_GLOBAL_MAX_ENTRIES: u16 = 2;

/// Per-CPU statistics. Kernels differ in which counters they send (6.18 sends these; older
/// ones also sent counters that no longer exist): a counter the kernel did not send reads 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// The CPU (res_id of the message).
    pub cpu: u32,
    /// Lookups that found an entry.
    pub found: u32,
    /// Packets conntrack could not track.
    pub invalid: u32,
    /// Entries inserted.
    pub insert: u32,
    /// Inserts that failed (a clash not resolved).
    pub insert_failed: u32,
    /// Packets dropped.
    pub drop: u32,
    /// Entries dropped early to make room.
    pub early_drop: u32,
    /// Errors.
    pub error: u32,
    /// Lookups restarted.
    pub search_restart: u32,
    /// Clashes resolved.
    pub clash_resolve: u32,
    /// Hash chains found too long.
    pub chaintoolong: u32,
}

impl CpuStats {
    /// Adds `o`'s counters to these.
    pub fn add(&mut self, o: &CpuStats) {
        self.found = self.found.wrapping_add(o.found);
        self.invalid = self.invalid.wrapping_add(o.invalid);
        self.insert = self.insert.wrapping_add(o.insert);
        self.insert_failed = self.insert_failed.wrapping_add(o.insert_failed);
        self.drop = self.drop.wrapping_add(o.drop);
        self.early_drop = self.early_drop.wrapping_add(o.early_drop);
        self.error = self.error.wrapping_add(o.error);
        self.search_restart = self.search_restart.wrapping_add(o.search_restart);
        self.clash_resolve = self.clash_resolve.wrapping_add(o.clash_resolve);
        self.chaintoolong = self.chaintoolong.wrapping_add(o.chaintoolong);
    }
}

/// Decodes one per-CPU statistics message (nfgenmsg onward).
pub fn decode_cpu_stats(payload: &[u8]) -> Result<CpuStats> {
    let head = payload
        .get(..4)
        .ok_or_else(|| Error::malformed("statistics message without nfgenmsg header"))?;
    let mut s = CpuStats {
        cpu: u32::from(u16::from_be_bytes([head[2], head[3]])),
        ..CpuStats::default()
    };
    let mut bad: Bad = None;
    walk(&payload[4..], &mut bad, "CTA_STATS", |kind, v, bad| {
        let field = match kind {
            2 => &mut s.found,
            4 => &mut s.invalid,
            8 => &mut s.insert,
            9 => &mut s.insert_failed,
            10 => &mut s.drop,
            11 => &mut s.early_drop,
            12 => &mut s.error,
            13 => &mut s.search_restart,
            14 => &mut s.clash_resolve,
            15 => &mut s.chaintoolong,
            _ => return,
        };
        if let Some(x) = be32(v, bad, "CTA_STATS counter") {
            *field = x;
        }
    });
    match bad {
        None => Ok(s),
        Some(what) => Err(Error::malformed(format!("malformed statistics ({what})"))),
    }
}

impl Handle {
    /// The number of entries in the table and the table's limit (nf_conntrack_max).
    pub fn count(&mut self) -> Result<(u32, u32)> {
        let req = Request {
            msg_type: msg::CT_GET_STATS,
            family: 0,
            version: 0,
            flags: 0,
            attrs: Vec::new(),
        };
        let mut got = None;
        self.request("read conntrack counters", SUBSYS_CTNETLINK, req, |m| {
            if (m.msg_type & 0xff) as u8 == msg::CT_GET_STATS {
                let (mut entries, mut max) = (None, None);
                let mut bad: Bad = None;
                walk(
                    m.payload.get(4..).unwrap_or(&[]),
                    &mut bad,
                    "CTA_STATS_GLOBAL",
                    |k, v, bad| match k {
                        CTA_STATS_GLOBAL_ENTRIES => entries = be32(v, bad, "CTA_STATS_GLOBAL"),
                        CTA_STATS_GLOBAL_MAX_ENTRIES => max = be32(v, bad, "CTA_STATS_GLOBAL"),
                        _ => {}
                    },
                );
                got = entries.map(|e| (e, max.unwrap_or(0)));
            }
            Ok(())
        })?;
        got.ok_or_else(|| Error::malformed("the kernel's counters carried no entry count"))
    }

    /// The statistics of every CPU, as `conntrack -S` lists them.
    pub fn cpu_stats(&mut self) -> Result<Vec<CpuStats>> {
        let req = Request {
            msg_type: msg::CT_GET_STATS_CPU,
            family: 0,
            version: 0,
            flags: 0,
            attrs: Vec::new(),
        };
        let mut v = Vec::new();
        self.dump("read conntrack statistics", SUBSYS_CTNETLINK, req, |m| {
            if (m.msg_type & 0xff) as u8 == msg::CT_GET_STATS_CPU && m.msg_type >> 8 == 1 {
                v.push(decode_cpu_stats(m.payload)?);
            }
            Ok(true)
        })?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_cpu_statistics_and_tolerates_unknown_counters() {
        let mut p = vec![0u8, 0, 0, 1];
        let mut w = crate::codec::attrs::Writer::new(&mut p);
        w.be32(8, 5); // insert
        w.be32(9, 1); // insert_failed
        w.be32(1, 77); // searched: gone from newer kernels, ignored
        w.be32(15, 2); // chaintoolong
        let s = decode_cpu_stats(&p).unwrap();
        assert_eq!(
            (s.cpu, s.insert, s.insert_failed, s.chaintoolong),
            (1, 5, 1, 2)
        );
        let mut sum = CpuStats::default();
        sum.add(&s);
        sum.add(&s);
        assert_eq!(sum.insert, 10);
        assert!(decode_cpu_stats(&[0, 0, 0, 0, 6, 0, 8, 0, 1, 2, 0, 0]).is_err());
    }
}
