//! The C boundary: every exported function, and the plumbing they share.
//!
//! Each exported body runs inside [`boundary`], which catches panics and turns them into
//! `CT_ERR_INTERNAL` (or the return type's neutral value). Pointer arguments become
//! references only through [`Castable`] and the `try_*` helpers, which answer NULL with
//! `CT_ERR_NULL_POINTER`. No raw pointer is dereferenced anywhere else in the crate.
#![allow(non_camel_case_types)]
// Every exported function has one safety contract, stated once in the header: each pointer
// is NULL or points to what its type says (an object this library made, a NUL-terminated
// string, a buffer of the length passed beside it).
#![allow(clippy::missing_safety_doc)]
#![deny(missing_docs)]

pub mod batch;
pub mod cursor;
pub mod entry;
pub mod events;
pub mod expect;
pub mod filter;
pub mod handle;
pub mod labels;
pub mod list;
pub mod stats;
pub mod status;
pub mod version;
pub mod view;

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::{Error, Kind};
pub use status::ct_status;

thread_local! {
    static LAST_ERROR: RefCell<(i32, CString)> = RefCell::new((0, CString::default()));
}

/// Ties an opaque C type to the Rust value it stands for.
pub(crate) trait Castable {
    /// The Rust type behind the C pointer.
    type Rust;
}

/// Values an exported function returns when its body panicked.
pub(crate) trait PanicDefault {
    fn panic_value() -> Self;
}

impl PanicDefault for ct_status {
    fn panic_value() -> Self {
        ct_status::CT_ERR_INTERNAL
    }
}

impl PanicDefault for () {
    fn panic_value() -> Self {}
}

impl PanicDefault for usize {
    fn panic_value() -> Self {
        0
    }
}

impl PanicDefault for u64 {
    fn panic_value() -> Self {
        0
    }
}

impl PanicDefault for i32 {
    fn panic_value() -> Self {
        0
    }
}

impl<T> PanicDefault for *const T {
    fn panic_value() -> Self {
        std::ptr::null()
    }
}

/// Runs an exported body; a panic becomes the return type's panic value and an error
/// message, never an unwind across the C boundary.
pub(crate) fn boundary<R: PanicDefault>(f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            set_last_error(&Error::new(
                Kind::Internal,
                format!("internal error (a bug in libconntrack): {what}"),
            ));
            R::panic_value()
        }
    }
}

/// Records `e` as the calling thread's last error.
pub(crate) fn set_last_error(e: &Error) {
    let text = CString::new(e.message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = (e.errno.unwrap_or(0), text));
}

/// The calling thread's last error message (pointer valid until the thread's next failure).
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().1.as_ptr())
}

/// The calling thread's last errno.
pub(crate) fn last_errno() -> i32 {
    LAST_ERROR.with(|l| l.borrow().0)
}

/// Records `e` for the thread and returns its status code.
pub(crate) fn fail(e: &Error) -> ct_status {
    set_last_error(e);
    ct_status::from_kind(e.kind)
}

/// Maps a core result to a status, recording the error.
pub(crate) fn status_of(r: crate::Result<()>) -> ct_status {
    match r {
        Ok(()) => ct_status::CT_OK,
        Err(e) => fail(&e),
    }
}

/// The status for a NULL argument `name`.
pub(crate) fn null_arg(name: &str) -> ct_status {
    fail(&Error::new(
        Kind::NullPointer,
        format!("argument '{name}' is NULL"),
    ))
}

/// `p` as a shared reference, or None for NULL.
///
/// # Safety
/// `p` is NULL or points to a live value made by this library for `C`.
pub(crate) unsafe fn cast_ref<'a, C: Castable>(p: *const C) -> Option<&'a C::Rust> {
    (p as *const C::Rust).as_ref()
}

/// `p` as a unique reference, or None for NULL.
///
/// # Safety
/// As [`cast_ref`], and no other reference to the value is live.
pub(crate) unsafe fn cast_mut<'a, C: Castable>(p: *mut C) -> Option<&'a mut C::Rust> {
    (p as *mut C::Rust).as_mut()
}

/// The state word of an object that one call holds at a time and whose free may have to wait
/// for the holder: a handle during a call or a cursor's life, a cursor during
/// ct_cursor_next. The free then happens when the holder gives the object back.
pub(crate) struct Guard(AtomicU8);

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const FREE_PENDING: u8 = 2;

impl Guard {
    /// Free to take.
    pub(crate) fn new() -> Guard {
        Guard(AtomicU8::new(IDLE))
    }

    /// Takes the object; false when someone holds it (or it is being freed).
    pub(crate) fn take(&self) -> bool {
        self.0
            .compare_exchange(IDLE, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Gives the object back; true when a free came meanwhile, which the caller now does.
    pub(crate) fn give_back(&self) -> bool {
        match self
            .0
            .compare_exchange(BUSY, IDLE, Ordering::Release, Ordering::Acquire)
        {
            Ok(_) => false,
            Err(FREE_PENDING) => true,
            Err(_) => {
                debug_assert!(false, "an object given back that was not held");
                false
            }
        }
    }

    /// For a free function: true when the caller took the object and frees it now; false
    /// when its holder will, on giving it back (or a free is already pending).
    pub(crate) fn take_for_free(&self) -> bool {
        loop {
            if self.take() {
                return true;
            }
            match self
                .0
                .compare_exchange(BUSY, FREE_PENDING, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return false,
                Err(FREE_PENDING) => return false,
                // Given back meanwhile: try to take it again.
                Err(_) => continue,
            }
        }
    }

    /// Whether a free waits for the holder.
    pub(crate) fn free_pending(&self) -> bool {
        self.0.load(Ordering::Acquire) == FREE_PENDING
    }
}

/// Moves `v` to the heap and hands it to C.
pub(crate) fn to_c<C: Castable>(v: C::Rust) -> *mut C {
    Box::into_raw(Box::new(v)) as *mut C
}

/// Takes back and drops a value handed to C; NULL does nothing.
///
/// # Safety
/// `p` is NULL or was made by [`to_c`] for `C` and is not used again.
pub(crate) unsafe fn free_c<C: Castable>(p: *mut C) {
    if !p.is_null() {
        drop(Box::from_raw(p as *mut C::Rust));
    }
}

/// Writes `v` to the out-parameter `out`.
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, name: &str, v: T) -> ct_status {
    if out.is_null() {
        return null_arg(name);
    }
    out.write(v);
    ct_status::CT_OK
}

/// Hands a new object to the caller through `out`: checks `out` before anything is
/// allocated, so a NULL out-parameter leaks nothing.
///
/// # Safety
/// `out` is NULL or valid for a write of a pointer.
pub(crate) unsafe fn give<C: Castable>(out: *mut *mut C, name: &str, v: C::Rust) -> ct_status {
    if out.is_null() {
        return null_arg(name);
    }
    out.write(to_c::<C>(v));
    ct_status::CT_OK
}

/// A NUL-terminated UTF-8 argument as a &str.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, ct_status> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|_| fail(&Error::invalid(format!("argument '{name}' is not UTF-8"))))
}

/// Copies `s` and a NUL into `buf` (capacity `len`). CT_ERR_BUFFER_TOO_SMALL, with as
/// much as fits written and NUL-terminated, when it does not fit.
///
/// # Safety
/// `buf` is NULL (only with `len` 0) or valid for `len` bytes.
pub(crate) unsafe fn copy_text(s: &str, buf: *mut c_char, len: usize) -> ct_status {
    if buf.is_null() && len > 0 {
        return null_arg("buf");
    }
    let fits = s.len() < len;
    if len > 0 {
        let n = s.len().min(len - 1);
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf as *mut u8, n);
        *buf.add(n) = 0;
    }
    if fits {
        ct_status::CT_OK
    } else {
        fail(&Error::new(
            Kind::BufferTooSmall,
            format!("buffer of {len} bytes is too small: {} needed", s.len() + 1),
        ))
    }
}
