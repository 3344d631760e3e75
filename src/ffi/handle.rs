//! ct_handle: a ctnetlink socket, and the operations on the table.

use std::cell::UnsafeCell;
use std::ffi::c_char;

use super::status::ct_status;
use super::{
    cast_ref, fail, free_c, give, null_arg, set_last_error, write_opt, Castable, Guard, LastError,
};
use crate::error::{Error, Kind};
use crate::Handle;

/// An open ctnetlink socket in one network namespace. A ct_handle is used by one thread at
/// a time; separate handles are independent and may be used from different threads at
/// once. A call on a handle that another thread is using at that moment fails with
/// CT_ERR_BUSY instead of corrupting it.
pub struct ct_handle {
    _private: [u8; 0],
}

/// The Rust side of a ct_handle: the core handle behind a state word, and the detail of its
/// last error (readable from any thread, so a caller that changed threads still finds it).
pub(crate) struct HandleBox {
    /// Held by a call or a cursor; a ct_close meanwhile waits for the holder to let go.
    pub(crate) state: Guard,
    core: UnsafeCell<Handle>,
    last_error: LastError,
}

impl HandleBox {
    /// The core handle; only its holder (see [`acquire`]) may use it.
    pub(crate) fn core_ptr(&self) -> *mut Handle {
        self.core.get()
    }

    /// Records `e` as the handle's last error.
    fn record(&self, e: &Error) {
        self.last_error.record(e);
    }
}

/// Takes the core handle behind `h` for one call, or for the life of a cursor; every
/// acquire is followed by one [`release`].
///
/// # Safety
/// `h` is NULL or a live handle from ct_open.
pub(crate) unsafe fn acquire<'a>(h: *mut ct_handle) -> Result<&'a mut Handle, ct_status> {
    let Some(b) = cast_ref(h as *const ct_handle) else {
        return Err(null_arg("h"));
    };
    if !b.state.take() {
        let e = Error::new(
            Kind::Internal,
            "the handle is in use: by another thread, by the call whose callback this is, or \
             by an open cursor (a ct_handle serves one call at a time)",
        );
        set_last_error(&e);
        b.record(&e);
        return Err(ct_status::CT_ERR_BUSY);
    }
    // SAFETY: the state word makes this the only live reference to the core handle.
    Ok(&mut *b.core.get())
}

/// Gives back what [`acquire`] took, recording `r`'s error on the handle first; frees the
/// handle if ct_close came meanwhile. Returns `r` with its error made a status.
///
/// # Safety
/// `h` was acquired, and the core handle reference is no longer used.
pub(crate) unsafe fn release<T>(h: *mut ct_handle, r: crate::Result<T>) -> Result<T, ct_status> {
    let b = &*(h as *const HandleBox);
    if let Err(e) = &r {
        b.record(e);
    }
    let_go(h);
    r.map_err(|e| fail(&e))
}

/// Marks an acquired handle idle again, or frees it if ct_close came while it was held.
///
/// # Safety
/// `h` was acquired and is not used after this.
unsafe fn let_go(h: *mut ct_handle) {
    if (*(h as *const HandleBox)).state.give_back() {
        free_c(h);
    }
}

/// Lets an acquired handle go if dropped while armed: when a panic unwinds out of the code
/// that held it (the boundary turns the panic into CT_ERR_INTERNAL; the handle stays usable
/// and closable).
pub(crate) struct Held(*mut ct_handle);

impl Held {
    /// Guards the acquired handle `h`.
    pub(crate) fn new(h: *mut ct_handle) -> Held {
        Held(h)
    }

    /// The holder lets the handle go itself.
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // SAFETY: armed only between acquire and the holder's own release.
        unsafe { let_go(self.0) }
    }
}

impl Castable for ct_handle {
    type Rust = HandleBox;
}

/// Runs `f` on the core handle behind `h`, recording a failure on the thread and on the
/// handle.
///
/// # Safety
/// `h` is NULL or a live handle from ct_open.
pub(crate) unsafe fn with_handle<T>(
    h: *mut ct_handle,
    f: impl FnOnce(&mut Handle) -> crate::Result<T>,
) -> Result<T, ct_status> {
    let core = acquire(h)?;
    let held = Held::new(h);
    let r = f(core);
    held.disarm();
    release(h, r)
}

/// The C side of a newly opened core handle.
/// Runs `f` on the core handle behind `h`: CT_OK, or the status of its failure (recorded on
/// the thread and on the handle).
///
/// # Safety
/// `h` is NULL or a live handle from ct_open.
pub(crate) unsafe fn run(
    h: *mut ct_handle,
    f: impl FnOnce(&mut Handle) -> crate::Result<()>,
) -> ct_status {
    with_handle(h, f).map_or_else(|s| s, |()| ct_status::CT_OK)
}

fn boxed(core: Handle) -> HandleBox {
    HandleBox {
        state: Guard::new(),
        core: UnsafeCell::new(core),
        last_error: LastError::default(),
    }
}

/// Opens a ctnetlink socket in the caller's network namespace. On CT_OK, `*h_out` is a new
/// handle owned by the caller; close it with ct_close. On error `*h_out` is unchanged.
#[no_mangle]
pub unsafe extern "C" fn ct_open(h_out: *mut *mut ct_handle) -> ct_status {
    ffi_fn! {
        arg_out!(h_out);
        give::<ct_handle>(h_out, "h_out", boxed(ok!(Handle::open())))
    }
}

/// Opens a ctnetlink socket inside the network namespace `netns`: a name under /run/netns
/// (as `ip netns add` makes) or a path such as /proc/PID/ns/net. The calling thread never
/// changes namespace (a helper thread makes the socket). CT_ERR_NETNS when the namespace
/// cannot be opened or entered. On CT_OK, `*h_out` is a new handle owned by the caller;
/// close it with ct_close. `netns` is borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn ct_open_netns(
    netns: *const c_char,
    h_out: *mut *mut ct_handle,
) -> ct_status {
    ffi_fn! {
        let name = arg_str!(netns);
        arg_out!(h_out);
        give::<ct_handle>(h_out, "h_out", boxed(ok!(Handle::open_netns(name))))
    }
}

/// Closes `h` and frees it. Passing NULL does nothing. Closing a handle from the callback of
/// a call on it, or while a cursor on it is open, takes effect when that call returns (a dump
/// stops at its next entry) or the cursor ends. Using or closing a handle after it was
/// closed is undefined, and so is closing it while another thread may still call it.
#[no_mangle]
pub unsafe extern "C" fn ct_close(h: *mut ct_handle) {
    ffi_fn! {
        if let Some(b) = cast_ref(h) {
            if b.state.take_for_free() {
                free_c(h);
            }
        }
    }
}

/// Sets the socket's receive buffer to about `bytes` (the kernel doubles the value and
/// applies its own minimum; without CAP_NET_ADMIN, net.core.rmem_max caps it). The default is
/// 8 MiB. Batches size each sendmsg to what this buffer can answer, so a small buffer costs
/// more system calls, never lost outcomes.
#[no_mangle]
pub unsafe extern "C" fn ct_handle_set_receive_buffer(
    h: *mut ct_handle,
    bytes: usize,
) -> ct_status {
    ffi_fn! {
        run(h, |core| core.set_receive_buffer(bytes))
    }
}

/// The detail of the last error of an operation on `h` (same text as
/// ct_last_error_message gave on the thread that made the call), or "" when none failed.
/// Use it when the caller may have changed threads (Go). Returns NULL only for a NULL
/// handle. The string belongs to `h` and stays valid until the next failed call on `h`.
#[no_mangle]
pub unsafe extern "C" fn ct_handle_last_error(h: *const ct_handle) -> *const c_char {
    ffi_fn! {
        cast_ref(h).map_or(std::ptr::null(), |b| b.last_error.message())
    }
}

/// The errno of the last failed operation on `h` (0 when none, or for a NULL handle).
#[no_mangle]
pub unsafe extern "C" fn ct_handle_last_errno(h: *const ct_handle) -> i32 {
    ffi_fn! {
        cast_ref(h).map_or(0, |b| b.last_error.errno())
    }
}

/// What the library found the handle's kernel to accept. Version numbers are a floor, not
/// proof; where a dump shows a feature missing (a zone filter the kernel ignored), the
/// finding replaces the version's promise. Every filter is applied by the library as well, so
/// results never depend on these; they tell what runs in the kernel and what falls back.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ct_features {
    /// Kernel major version (0 when unknown).
    pub version_major: u32,
    /// Kernel minor version.
    pub version_minor: u32,
    /// Dumps are filtered by zone in the kernel (6.8).
    pub zone_dump_filter: bool,
    /// Dumps are filtered by original tuple through CTA_FILTER (5.8).
    pub tuple_dump_filter: bool,
    /// Dumps are filtered by reply tuple (5.16).
    pub reply_tuple_dump_filter: bool,
    /// Dumps are filtered by status bits (5.15).
    pub status_dump_filter: bool,
    /// A flush removes exactly what a filter matches (6.12); otherwise filtered flushes run
    /// as a dump and batched deletes.
    pub filtered_flush: bool,
}

/// What the handle's kernel accepts, into `*features_out`.
#[no_mangle]
pub unsafe extern "C" fn ct_kernel_features(
    h: *mut ct_handle,
    features_out: *mut ct_features,
) -> ct_status {
    ffi_fn! {
        arg_out!(features_out);
        let k = ok!(with_handle(h, |core| Ok(core.kernel)));
        features_out.write(ct_features {
            version_major: k.version.0,
            version_minor: k.version.1,
            zone_dump_filter: k.zone_dump_filter(),
            tuple_dump_filter: k.tuple_dump_filter(),
            reply_tuple_dump_filter: k.reply_tuple_dump_filter(),
            status_dump_filter: k.status_dump_filter(),
            filtered_flush: k.filtered_flush(),
        });
        ct_status::CT_OK
    }
}

/// The same as text, one "feature: yes|no" line each ("zone filter: no" on a 6.1 kernel),
/// for logs and bug reports; snprintf-style sizing as ct_entry_format.
#[no_mangle]
pub unsafe extern "C" fn ct_kernel_features_text(
    h: *mut ct_handle,
    buf: *mut c_char,
    len: usize,
    needed_out: *mut usize,
) -> ct_status {
    ffi_fn! {
        let text = ok!(with_handle(h, |core| Ok(core.kernel.report())));
        write_opt(needed_out, text.len());
        super::copy_text(&text, buf, len)
    }
}
