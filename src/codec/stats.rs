//! The wire form of the table's counters: the global message (IPCTNL_MSG_CT_GET_STATS) and
//! the per-CPU ones (IPCTNL_MSG_CT_GET_STATS_CPU).

use super::attrs::*;
use super::decode::be32;
use super::{msg, RawMessage, SUBSYS_CTNETLINK};
use crate::error::{Error, Result};

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
            CTA_STATS_FOUND => &mut s.found,
            CTA_STATS_INVALID => &mut s.invalid,
            CTA_STATS_INSERT => &mut s.insert,
            CTA_STATS_INSERT_FAILED => &mut s.insert_failed,
            CTA_STATS_DROP => &mut s.drop,
            CTA_STATS_EARLY_DROP => &mut s.early_drop,
            CTA_STATS_ERROR => &mut s.error,
            CTA_STATS_SEARCH_RESTART => &mut s.search_restart,
            CTA_STATS_CLASH_RESOLVE => &mut s.clash_resolve,
            CTA_STATS_CHAIN_TOOLONG => &mut s.chaintoolong,
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

/// The entry count and the table's limit of a global statistics message; None for another
/// message, or one without a count.
pub fn decode_count(m: &RawMessage<'_>) -> Option<(u32, u32)> {
    if (m.msg_type & 0xff) as u8 != msg::CT_GET_STATS {
        return None;
    }
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
    entries.map(|e| (e, max.unwrap_or(0)))
}

/// Whether `m` is one CPU's statistics.
pub fn is_cpu_stats(m: &RawMessage<'_>) -> bool {
    (m.msg_type & 0xff) as u8 == msg::CT_GET_STATS_CPU
        && m.msg_type >> 8 == u16::from(SUBSYS_CTNETLINK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_cpu_statistics_and_tolerates_unknown_counters() {
        let mut p = vec![0u8, 0, 0, 1];
        let mut w = Writer::new(&mut p);
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
