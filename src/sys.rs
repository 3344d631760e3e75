//! The few system calls the crates do not wrap: setns, SO_RCVBUFFORCE, uname.

use std::fs::File;
use std::os::fd::AsRawFd;

use crate::error::{Error, Kind, Result};

/// Moves the calling thread into the network namespace `ns`.
pub fn setns_net(ns: &File) -> Result<()> {
    // SAFETY: setns only reads the descriptor, which `ns` keeps open for the call.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::io("setns into the network namespace", &e).with_kind(Kind::Netns));
    }
    Ok(())
}

/// Sets an integer socket option; returns false when the kernel refused it.
pub fn setsockopt_int(fd: i32, level: i32, name: i32, value: i32) -> bool {
    // SAFETY: the option value is a live c_int whose size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// Reads an integer socket option.
pub fn getsockopt_int(fd: i32, level: i32, name: i32) -> Option<i32> {
    let mut value: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: value and len are live locals of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            &mut value as *mut i32 as *mut libc::c_void,
            &mut len,
        )
    };
    (rc == 0).then_some(value)
}

/// The running kernel's release string (uname -r).
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
