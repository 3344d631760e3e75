//! Status codes, their sentences, and the calling thread's last error.

use std::ffi::c_char;

use super::{last_errno, last_error_ptr};
use crate::error::Kind;

/// The result of every fallible function. CT_OK is 0; the other numbers never change
/// meaning and are never reused.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ct_status {
    /// Success.
    CT_OK = 0,
    /// An argument cannot be right (out of range, wrong family, not an address, ...).
    CT_ERR_INVALID_ARGUMENT = 1,
    /// A required pointer argument was NULL.
    CT_ERR_NULL_POINTER = 2,
    /// No such entry (kernel ENOENT), or no such object.
    CT_ERR_NOT_FOUND = 3,
    /// The entry already exists (kernel EEXIST).
    CT_ERR_EXISTS = 4,
    /// Permission denied: the caller lacks CAP_NET_ADMIN in the network namespace.
    CT_ERR_PERMISSION = 5,
    /// The caller's buffer is too small; the function says how much it needs.
    CT_ERR_BUFFER_TOO_SMALL = 6,
    /// The kernel flagged a dump as interrupted; run it again.
    CT_ERR_DUMP_INTERRUPTED = 7,
    /// The running kernel does not support the request.
    CT_ERR_UNSUPPORTED = 8,
    /// A network namespace could not be opened or entered.
    CT_ERR_NETNS = 9,
    /// Any other error from the kernel; ct_last_errno() has its errno.
    CT_ERR_KERNEL = 10,
    /// The kernel's answer could not be decoded.
    CT_ERR_MALFORMED = 11,
    /// A bug in libconntrack (a caught panic); the handle may be unusable.
    CT_ERR_INTERNAL = 12,
    /// The entry does not hold the field asked for. An answer rather than a failure: getters
    /// returning it leave ct_last_error_message() as it was.
    CT_ERR_NOT_SET = 13,
    /// The socket's receive buffer overflowed: answers or events were lost.
    CT_ERR_OVERRUN = 14,
    /// The handle is in use by another thread at this moment.
    CT_ERR_BUSY = 15,
    /// The kernel had no room for a new entry (ENOMEM): the table is full
    /// (net.netfilter.nf_conntrack_max reached) or kernel memory ran out. Delete entries or
    /// raise the limit, then retry; the handle stays usable.
    CT_ERR_TABLE_FULL = 16,
}

impl ct_status {
    /// The status that stands for an error kind of the core.
    pub(crate) fn from_kind(k: Kind) -> ct_status {
        match k {
            Kind::InvalidArgument => ct_status::CT_ERR_INVALID_ARGUMENT,
            Kind::NullPointer => ct_status::CT_ERR_NULL_POINTER,
            Kind::NotFound => ct_status::CT_ERR_NOT_FOUND,
            Kind::Exists => ct_status::CT_ERR_EXISTS,
            Kind::Permission => ct_status::CT_ERR_PERMISSION,
            Kind::BufferTooSmall => ct_status::CT_ERR_BUFFER_TOO_SMALL,
            Kind::DumpInterrupted => ct_status::CT_ERR_DUMP_INTERRUPTED,
            Kind::Unsupported => ct_status::CT_ERR_UNSUPPORTED,
            Kind::Netns => ct_status::CT_ERR_NETNS,
            Kind::Kernel => ct_status::CT_ERR_KERNEL,
            Kind::Malformed => ct_status::CT_ERR_MALFORMED,
            Kind::Internal => ct_status::CT_ERR_INTERNAL,
            Kind::NotSet => ct_status::CT_ERR_NOT_SET,
            Kind::Overrun => ct_status::CT_ERR_OVERRUN,
            Kind::TableFull => ct_status::CT_ERR_TABLE_FULL,
        }
    }
}

fn sentence(code: i32) -> &'static std::ffi::CStr {
    match code {
        0 => c"success",
        1 => c"invalid argument",
        2 => c"a required pointer argument was NULL",
        3 => c"no such conntrack entry or object",
        4 => c"the conntrack entry already exists",
        5 => c"permission denied (needs CAP_NET_ADMIN in the network namespace)",
        6 => c"buffer too small",
        7 => c"dump interrupted by the kernel; run it again",
        8 => c"not supported by the running kernel",
        9 => c"network namespace error",
        10 => c"kernel error",
        11 => c"malformed message from the kernel",
        12 => c"internal error in libconntrack",
        13 => c"the field is not set in the entry",
        14 => c"receive buffer overrun: answers or events were lost",
        15 => c"the handle is in use by another thread",
        16 => c"the conntrack table is full or kernel memory ran out",
        _ => c"unknown status",
    }
}

/// A sentence describing `status`. Returns a static string, never NULL ("unknown status"
/// for a number the library does not know); do not free it.
#[no_mangle]
pub extern "C" fn ct_strerror(status: i32) -> *const c_char {
    ffi_fn! { sentence(status).as_ptr() }
}

/// The detail of the calling thread's most recent failed ct_ call: what was done, the
/// system's text for the errno, and the kernel's extended-ack message when it sent one.
/// Success does not clear it. Returns "" before any failure, never NULL. The string
/// belongs to the library and stays valid until the next failure on this thread.
#[no_mangle]
pub extern "C" fn ct_last_error_message() -> *const c_char {
    ffi_fn! { last_error_ptr() }
}

/// The errno of the calling thread's most recent failed ct_ call (positive, e.g. ENOENT),
/// or 0 when that failure had none.
#[no_mangle]
pub extern "C" fn ct_last_errno() -> i32 {
    ffi_fn! { last_errno() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_sentence() {
        let mut seen = std::collections::HashSet::new();
        for code in 0..=16 {
            assert!(seen.insert(sentence(code).to_bytes()), "{code}");
        }
        assert_eq!(sentence(17).to_bytes(), b"unknown status");
        assert_eq!(sentence(-1).to_bytes(), b"unknown status");
    }
}
