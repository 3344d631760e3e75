//! The table's counters: how many entries (IPCTNL_MSG_CT_GET_STATS) and the per-CPU
//! statistics (IPCTNL_MSG_CT_GET_STATS_CPU), as `conntrack -C` and `conntrack -S` show them,
//! and the expectations' per-CPU statistics (`conntrack -S expect`).

// The struct is the codec's (it decodes into it); its behaviour is here.
use crate::codec::stats::{
    decode_count, decode_cpu_stats, decode_expect_cpu_stats, is_cpu_stats, is_expect_cpu_stats,
};
pub use crate::codec::stats::{CpuStats, ExpectCpuStats};
use crate::codec::{msg, Request, SUBSYS_CTNETLINK, SUBSYS_CTNETLINK_EXP};
use crate::error::{Error, Result};
use crate::handle::Handle;

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

    /// The expectation statistics of every CPU, as `conntrack -S expect` lists them.
    pub fn expect_cpu_stats(&mut self) -> Result<Vec<ExpectCpuStats>> {
        let req = Request {
            msg_type: msg::EXP_GET_STATS_CPU,
            family: 0,
            version: 0,
            flags: 0,
            attrs: Vec::new(),
        };
        let mut v = Vec::new();
        self.dump(
            "read expectation statistics",
            SUBSYS_CTNETLINK_EXP,
            req,
            |m| {
                if is_expect_cpu_stats(m) {
                    v.push(decode_expect_cpu_stats(m.payload)?);
                }
                Ok(true)
            },
        )?;
        Ok(v)
    }
}
