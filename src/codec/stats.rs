//! The wire form of the table's counters: the global message (IPCTNL_MSG_CT_GET_STATS) and
//! the per-CPU ones (IPCTNL_MSG_CT_GET_STATS_CPU), and the expectations' per-CPU ones
//! (IPCTNL_MSG_EXP_GET_STATS_CPU).

use super::attrs::*;
use super::decode::be32;
use super::{msg, RawMessage, SUBSYS_CTNETLINK, SUBSYS_CTNETLINK_EXP};
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

/// Per-CPU expectation statistics. A counter the kernel did not send reads 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpectCpuStats {
    /// The CPU (res_id of the message).
    pub cpu: u32,
    /// Expectations set up by a helper from a packet.
    pub expect_new: u32,
    /// Expectations inserted in the table.
    pub expect_create: u32,
    /// Expectations removed.
    pub expect_delete: u32,
}

/// Decodes one CPU's expectation statistics message (nfgenmsg onward).
pub fn decode_expect_cpu_stats(payload: &[u8]) -> Result<ExpectCpuStats> {
    let head = payload
        .get(..4)
        .ok_or_else(|| Error::malformed("expectation statistics without nfgenmsg header"))?;
    let mut s = ExpectCpuStats {
        cpu: u32::from(u16::from_be_bytes([head[2], head[3]])),
        ..ExpectCpuStats::default()
    };
    let mut bad: Bad = None;
    walk(&payload[4..], &mut bad, "CTA_STATS_EXP", |kind, v, bad| {
        let field = match kind {
            CTA_STATS_EXP_NEW => &mut s.expect_new,
            CTA_STATS_EXP_CREATE => &mut s.expect_create,
            CTA_STATS_EXP_DELETE => &mut s.expect_delete,
            _ => return,
        };
        if let Some(x) = be32(v, bad, "CTA_STATS_EXP counter") {
            *field = x;
        }
    });
    match bad {
        None => Ok(s),
        Some(what) => Err(Error::malformed(format!(
            "malformed expectation statistics ({what})"
        ))),
    }
}

/// Whether `m` is one CPU's expectation statistics. The kernel answers with the conntrack
/// subsystem in the type (not the expectation one it was asked on), so both are taken.
pub fn is_expect_cpu_stats(m: &RawMessage<'_>) -> bool {
    let subsys = (m.msg_type >> 8) as u8;
    (m.msg_type & 0xff) as u8 == msg::EXP_GET_STATS_CPU
        && (subsys == SUBSYS_CTNETLINK || subsys == SUBSYS_CTNETLINK_EXP)
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

    #[test]
    fn decodes_expectation_statistics() {
        let mut p = vec![0u8, 0, 0, 3];
        let mut w = Writer::new(&mut p);
        w.be32(CTA_STATS_EXP_NEW, 4);
        w.be32(CTA_STATS_EXP_CREATE, 7);
        w.be32(CTA_STATS_EXP_DELETE, 2);
        w.be32(9, 1); // unknown: ignored
        let s = decode_expect_cpu_stats(&p).unwrap();
        assert_eq!(
            s,
            ExpectCpuStats {
                cpu: 3,
                expect_new: 4,
                expect_create: 7,
                expect_delete: 2
            }
        );
        // A counter two bytes long.
        assert!(decode_expect_cpu_stats(&[0, 0, 0, 0, 6, 0, 2, 0, 1, 2, 0, 0]).is_err());
        assert!(decode_expect_cpu_stats(&[0, 0]).is_err());
        let m = |t: u16| RawMessage {
            msg_type: t,
            flags: 0,
            seq: 0,
            pid: 0,
            payload: &p,
        };
        assert!(is_expect_cpu_stats(&m(0x0103)));
        assert!(is_expect_cpu_stats(&m(0x0203)));
        assert!(!is_expect_cpu_stats(&m(0x0104)));
    }
}
