//! The C boundary: every exported function, and the plumbing they share. It converts and
//! nothing more: what an entry, filter or expectation may hold is decided by the core.
//!
//! Every exported body is one `ffi_fn!` block, which runs it inside `boundary`: a panic
//! becomes `CT_ERR_INTERNAL` (or the return type's neutral value) and never unwinds into C.
//! Pointer arguments become references only through `arg_ref!`, `arg_mut!`, `arg_str!`,
//! `arg_cb!` and `arg_out!`, which answer NULL with `CT_ERR_NULL_POINTER` and a message
//! naming the argument; `ok!` turns a failure into its status. A test
//! (`every_exported_function_runs_inside_ffi_fn`) fails when an exported function's body is
//! anything else. No raw pointer is dereferenced anywhere else in the crate.
#![allow(non_camel_case_types)]
// Every exported function has one safety contract, stated once in the header: each pointer
// is NULL or points to what its type says (an object this library made, a NUL-terminated
// string, a buffer of the length passed beside it).
#![allow(clippy::missing_safety_doc)]
#![deny(missing_docs)]

/// The body of an exported function: runs it inside [`boundary`]. `return` in it returns from
/// the exported function.
macro_rules! ffi_fn {
    ($($body:tt)*) => {
        $crate::ffi::boundary(move || { $($body)* })
    };
}

/// A required pointer argument as a shared reference to its Rust value; NULL returns
/// CT_ERR_NULL_POINTER naming the argument.
macro_rules! arg_ref {
    ($p:ident) => {
        match $crate::ffi::cast_ref($p) {
            Some(v) => v,
            None => return $crate::ffi::null_arg(stringify!($p)),
        }
    };
}

/// A required pointer argument as a unique reference to its Rust value; NULL returns
/// CT_ERR_NULL_POINTER naming the argument.
macro_rules! arg_mut {
    ($p:ident) => {
        match $crate::ffi::cast_mut($p) {
            Some(v) => v,
            None => return $crate::ffi::null_arg(stringify!($p)),
        }
    };
}

/// A required NUL-terminated UTF-8 argument as a &str; NULL or bad UTF-8 returns its status.
macro_rules! arg_str {
    ($p:ident) => {
        match $crate::ffi::str_arg($p, stringify!($p)) {
            Ok(v) => v,
            Err(s) => return s,
        }
    };
}

/// A required callback; NULL returns CT_ERR_NULL_POINTER naming it.
macro_rules! arg_cb {
    ($p:ident) => {
        match $p {
            Some(v) => v,
            None => return $crate::ffi::null_arg(stringify!($p)),
        }
    };
}

/// A required out-parameter (or buffer): NULL returns CT_ERR_NULL_POINTER naming it. With
/// `if len > 0`, NULL is accepted for an empty buffer.
macro_rules! arg_out {
    ($p:ident) => {
        if $p.is_null() {
            return $crate::ffi::null_arg(stringify!($p));
        }
    };
    ($p:ident if $cond:expr) => {
        if $p.is_null() && $cond {
            return $crate::ffi::null_arg(stringify!($p));
        }
    };
}

/// A getter's body: the field `$get` reads from the object behind `$obj` into `*$out`, or
/// CT_ERR_NOT_SET when it is absent (an answer, not a failure: the last error stays).
macro_rules! get {
    ($obj:ident, $out:ident, |$x:ident| $get:expr) => {{
        let $x = arg_ref!($obj);
        arg_out!($out);
        $crate::ffi::answer($out, $get)
    }};
}

/// The value of a `Result`, or return its failure as a status (recording the core's error).
macro_rules! ok {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $crate::ffi::Failure::status(e),
        }
    };
}

pub mod batch;
pub mod cursor;
pub mod entry;
pub mod events;
pub mod expect;
pub mod filter;
pub mod filterset;
pub mod filterset_ops;
pub mod handle;
pub mod labels;
pub mod list;
pub mod mirror;
pub mod ops;
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

impl PanicDefault for u32 {
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

/// A failure an exported function returns: a status already recorded, or a core error.
pub(crate) trait Failure {
    /// The status, with the error recorded for the thread.
    fn status(self) -> ct_status;
}

impl Failure for ct_status {
    fn status(self) -> ct_status {
        self
    }
}

impl Failure for Error {
    fn status(self) -> ct_status {
        fail(&self)
    }
}

/// CT_OK with `v` written to the checked out-parameter `out` when it is Some; CT_ERR_NOT_SET
/// when None. "Absent" is an answer, not a failure: the last error stays as it was.
///
/// # Safety
/// `out` is valid for a write of `T`.
pub(crate) unsafe fn answer<T>(out: *mut T, v: Option<T>) -> ct_status {
    match v {
        Some(v) => {
            out.write(v);
            ct_status::CT_OK
        }
        None => ct_status::CT_ERR_NOT_SET,
    }
}

/// Writes `v` to an optional out-parameter (NULL: not wanted).
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub(crate) unsafe fn write_opt<T>(out: *mut T, v: T) {
    if !out.is_null() {
        out.write(v);
    }
}

/// The detail of an object's last failed call (ct_handle_last_error, ct_events_last_error):
/// readable from any thread, so a caller that changed threads since the call (Go) still
/// finds it.
#[derive(Default)]
pub(crate) struct LastError(std::sync::Mutex<(i32, CString)>);

impl LastError {
    /// Records `e` as the object's last error.
    pub(crate) fn record(&self, e: &Error) {
        if let Ok(mut l) = self.0.lock() {
            *l = (
                e.errno.unwrap_or(0),
                CString::new(e.message.replace('\0', " ")).unwrap_or_default(),
            );
        }
    }

    /// Records the error of `r`, for the object and the thread, and makes `r` a status.
    pub(crate) fn status(&self, r: crate::Result<()>) -> ct_status {
        if let Err(e) = &r {
            self.record(e);
        }
        status_of(r)
    }

    /// Records the calling thread's last error as the object's: for a call whose failure
    /// was recorded for the thread only (an argument it refused, say).
    pub(crate) fn record_thread(&self) {
        let copy = LAST_ERROR.with(|l| l.borrow().clone());
        if let Ok(mut l) = self.0.lock() {
            *l = copy;
        }
    }

    /// The message (valid until the object's next failure).
    pub(crate) fn message(&self) -> *const c_char {
        self.0
            .lock()
            .map(|l| l.1.as_ptr())
            .unwrap_or(std::ptr::null())
    }

    /// The errno (0 when none).
    pub(crate) fn errno(&self) -> i32 {
        self.0.lock().map_or(0, |l| l.0)
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

#[cfg(test)]
mod tests {
    /// Every `extern "C" fn` under src/ffi: (file, name, whether its body is one `ffi_fn!`
    /// block and nothing else).
    fn exported_functions() -> Vec<(String, String, bool)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
        let mut found = Vec::new();
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let mut rest = text.as_str();
            while let Some(i) = rest.find("extern \"C\" fn ") {
                rest = &rest[i + "extern \"C\" fn ".len()..];
                // `extern "C" fn(` without a name is a callback type, not an export.
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name.is_empty() {
                    continue;
                }
                // The body opens at the first brace after the signature (no type in a
                // signature holds one).
                let open = rest.find('{').unwrap();
                let body = rest[open + 1..].trim_start();
                let close = body.find("\n}\n").unwrap_or(body.len());
                let wrapped = body.starts_with("ffi_fn! {") && {
                    // Nothing after the block: the macro's closing brace ends the body.
                    let inner = body[..close].trim_end();
                    inner.ends_with('}') && !inner["ffi_fn! {".len()..].contains("\n}\n")
                };
                found.push((file.clone(), name, wrapped));
            }
        }
        found
    }

    #[test]
    fn every_exported_function_runs_inside_ffi_fn() {
        let all = exported_functions();
        assert!(
            all.len() > 100,
            "only {} exported functions found",
            all.len()
        );
        let bare: Vec<String> = all
            .iter()
            .filter(|(_, _, wrapped)| !wrapped)
            .map(|(file, name, _)| format!("{file}: {name}"))
            .collect();
        assert!(
            bare.is_empty(),
            "exported functions whose body is not one ffi_fn! block: {bare:?}"
        );
    }
}
