//! ct_count and ct_stats: the table's size and per-CPU counters; ct_expect_stats: the
//! expectations' per-CPU counters.

use super::handle::{ct_handle, with_handle};
use super::status::ct_status;
use super::{fail, write_opt};
use crate::error::{Error, Kind};
use crate::stats::{CpuStats, ExpectCpuStats};

/// Per-CPU conntrack statistics, as `conntrack -S` prints them. A plain struct the caller
/// owns. Counters the running kernel does not send read 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ct_stats {
    /// The CPU these counters belong to (unused in the sum of ct_stats_total).
    pub cpu: u32,
    /// Lookups that found an entry.
    pub found: u32,
    /// Packets conntrack could not track.
    pub invalid: u32,
    /// Entries inserted.
    pub insert: u32,
    /// Inserts that failed.
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

impl From<&CpuStats> for ct_stats {
    fn from(s: &CpuStats) -> ct_stats {
        ct_stats {
            cpu: s.cpu,
            found: s.found,
            invalid: s.invalid,
            insert: s.insert,
            insert_failed: s.insert_failed,
            drop: s.drop,
            early_drop: s.early_drop,
            error: s.error,
            search_restart: s.search_restart,
            clash_resolve: s.clash_resolve,
            chaintoolong: s.chaintoolong,
        }
    }
}

/// The number of entries in the handle's table (`conntrack -C`) into `*count_out`, and the
/// table's limit (net.netfilter.nf_conntrack_max) into `*max_out` (may be NULL).
#[no_mangle]
pub unsafe extern "C" fn ct_count(
    h: *mut ct_handle,
    count_out: *mut u32,
    max_out: *mut u32,
) -> ct_status {
    ffi_fn! {
        arg_out!(count_out);
        let (n, max) = ok!(with_handle(h, |core| core.count()));
        write_opt(max_out, max);
        count_out.write(n);
        ct_status::CT_OK
    }
}

/// The statistics of each CPU into `stats[0..len]`, one per CPU in the kernel's order;
/// `*n_out` receives how many CPUs there are. CT_ERR_BUFFER_TOO_SMALL (with `*n_out` set and
/// the first `len` written) when `len` is smaller; `stats` may be NULL when `len` is 0, to
/// ask for the number.
#[no_mangle]
pub unsafe extern "C" fn ct_stats_per_cpu(
    h: *mut ct_handle,
    stats: *mut ct_stats,
    len: usize,
    n_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        arg_out!(n_out);
        arg_out!(stats if len > 0);
        let v = ok!(with_handle(h, |core| core.cpu_stats()));
        write_per_cpu(&v, stats, len, n_out)
    }
}

/// The statistics summed over every CPU into `*total_out` (its `cpu` field is 0).
#[no_mangle]
pub unsafe extern "C" fn ct_stats_total(h: *mut ct_handle, total_out: *mut ct_stats) -> ct_status {
    ffi_fn! {
        arg_out!(total_out);
        let v = ok!(with_handle(h, |core| core.cpu_stats()));
        let mut sum = CpuStats::default();
        for s in &v {
            sum.add(s);
        }
        total_out.write(ct_stats::from(&sum));
        ct_status::CT_OK
    }
}

/// Per-CPU expectation statistics, as `conntrack -S expect` prints them. A plain struct the
/// caller owns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ct_expect_stats {
    /// The CPU these counters belong to.
    pub cpu: u32,
    /// Expectations set up by a helper from a packet.
    pub expect_new: u32,
    /// Expectations inserted in the table.
    pub expect_create: u32,
    /// Expectations removed.
    pub expect_delete: u32,
}

impl From<&ExpectCpuStats> for ct_expect_stats {
    fn from(s: &ExpectCpuStats) -> ct_expect_stats {
        ct_expect_stats {
            cpu: s.cpu,
            expect_new: s.expect_new,
            expect_create: s.expect_create,
            expect_delete: s.expect_delete,
        }
    }
}

/// The expectation statistics of each CPU into `stats[0..len]`, one per CPU in the kernel's
/// order; `*n_out` receives how many CPUs there are. CT_ERR_BUFFER_TOO_SMALL (with `*n_out`
/// set and the first `len` written) when `len` is smaller; `stats` may be NULL when `len` is
/// 0, to ask for the number.
#[no_mangle]
pub unsafe extern "C" fn ct_expect_stats_per_cpu(
    h: *mut ct_handle,
    stats: *mut ct_expect_stats,
    len: usize,
    n_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        arg_out!(n_out);
        arg_out!(stats if len > 0);
        let v = ok!(with_handle(h, |core| core.expect_cpu_stats()));
        write_per_cpu(&v, stats, len, n_out)
    }
}

/// Writes one record per CPU of `v` into `out[0..len]` and their number into `*n_out`;
/// CT_ERR_BUFFER_TOO_SMALL (the first `len` written) when `len` is smaller. Shared by the
/// conntrack and the expectation statistics.
///
/// # Safety
/// `out` is valid for `len` writes and `n_out` for one.
unsafe fn write_per_cpu<T, C>(v: &[T], out: *mut C, len: usize, n_out: *mut usize) -> ct_status
where
    for<'a> C: From<&'a T>,
{
    for (i, s) in v.iter().take(len).enumerate() {
        out.add(i).write(C::from(s));
    }
    n_out.write(v.len());
    if v.len() > len {
        return fail(&Error::new(
            Kind::BufferTooSmall,
            format!("{} CPUs, room for {len}", v.len()),
        ));
    }
    ct_status::CT_OK
}
