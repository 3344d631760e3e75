//! The table's counters: how many entries (IPCTNL_MSG_CT_GET_STATS) and the per-CPU
//! statistics (IPCTNL_MSG_CT_GET_STATS_CPU), as `conntrack -C` and `conntrack -S` show them.

use crate::codec::stats::{decode_count, decode_cpu_stats, is_cpu_stats};
use crate::codec::{msg, Request, SUBSYS_CTNETLINK};
use crate::error::{Error, Result};
use crate::handle::Handle;

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
            if let Some(c) = decode_count(m) {
                got = Some(c);
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
            if is_cpu_stats(m) {
                v.push(decode_cpu_stats(m.payload)?);
            }
            Ok(true)
        })?;
        Ok(v)
    }
}
