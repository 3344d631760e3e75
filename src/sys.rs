//! The few system calls the crates do not wrap: setns, SO_RCVBUFFORCE, poll, the kernel
//! release, and opening a socket inside a named network namespace.

use std::fs::File;
use std::os::fd::AsRawFd;

use crate::error::{Error, Kind, Result};

/// How a network namespace is named: a name under /run/netns, or a path.
pub fn netns_path(name: &str) -> Result<String> {
    if name.is_empty() {
        return Err(Error::invalid("empty network namespace name"));
    }
    if name.contains('/') {
        Ok(name.to_string())
    } else if name == "." || name == ".." {
        Err(Error::invalid(format!(
            "'{name}' is not a network namespace name"
        )))
    } else {
        Ok(format!("/run/netns/{name}"))
    }
}

/// Runs `open` on a short-lived thread that first enters the network namespace `name` (a
/// name under /run/netns, or a path such as /proc/PID/ns/net). Sockets it makes stay bound
/// to that namespace; the calling thread never moves.
pub fn in_netns<T: Send + 'static>(
    name: &str,
    open: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let path = netns_path(name)?;
    let ns = File::open(&path).map_err(|e| {
        Error::io(&format!("network namespace {name} ({path})"), &e).with_kind(Kind::Netns)
    })?;
    std::thread::spawn(move || {
        setns_net(&ns)?;
        open()
    })
    .join()
    .unwrap_or_else(|_| Err(Error::new(Kind::Internal, "netns thread panicked")))
}

/// Sets a socket's receive buffer to about `bytes` (FORCE when allowed, so root is not held
/// to net.core.rmem_max) and returns the size the kernel reports.
pub fn set_receive_buffer(fd: i32, bytes: usize) -> Result<usize> {
    let v = i32::try_from(bytes).map_err(|_| Error::invalid("receive buffer too large"))?;
    if !setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v)
        && !setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, v)
    {
        return Err(Error::io(
            "set the receive buffer",
            &std::io::Error::last_os_error(),
        ));
    }
    Ok(getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).map_or(bytes, |v| v.max(0) as usize))
}

/// Waits up to `timeout_ms` (negative: forever) for `fd` to be readable. Ok(false) on
/// timeout, and when a signal interrupts the wait: the caller's signal handling comes first.
pub fn poll_readable(fd: i32, timeout_ms: i32) -> Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd, count 1.
    let rc = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if rc >= 0 {
        return Ok(rc > 0);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EINTR) {
        return Ok(false);
    }
    Err(Error::io("poll", &e))
}

/// One datagram [`recv_batch`] read: its length (the whole datagram's, also when it did not
/// fit its slot) and the sender's netlink port id (0: the kernel).
#[derive(Clone, Copy, Debug, Default)]
pub struct Datagram {
    pub len: usize,
    pub portid: u32,
}

/// Reads up to `out.len()` queued datagrams from the netlink socket `fd` in one system call
/// (recvmmsg), without waiting: datagram `i` lands in `buf[i * slot..(i + 1) * slot]`.
/// Returns how many were read (an error only when none was: an error met after the first
/// datagram is reported by the next call, as the kernel keeps it for that call).
pub fn recv_batch(
    fd: i32,
    buf: &mut [u8],
    slot: usize,
    out: &mut [Datagram],
) -> std::io::Result<usize> {
    const MAX: usize = 64;
    let n = out.len().min(buf.len() / slot).min(MAX);
    // SAFETY: all-zero bytes are valid values of these plain C structs.
    let mut names: [libc::sockaddr_nl; MAX] = unsafe { std::mem::zeroed() };
    let mut iovs: [libc::iovec; MAX] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; MAX] = unsafe { std::mem::zeroed() };
    for i in 0..n {
        iovs[i] = libc::iovec {
            iov_base: buf[i * slot..].as_mut_ptr().cast(),
            iov_len: slot,
        };
        hdrs[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_nl).cast();
        hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_nl>() as u32;
        hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `n` headers, each pointing at its own live sockaddr_nl and at a `slot`-byte
    // part of `buf`, all alive and not otherwise borrowed for the call. MSG_TRUNC makes the
    // kernel report a datagram's whole length, so one that did not fit is seen, not cut.
    let rc = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            n as u32,
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            std::ptr::null_mut(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let got = rc as usize;
    for i in 0..got {
        out[i] = Datagram {
            len: hdrs[i].msg_len as usize,
            portid: names[i].nl_pid,
        };
    }
    Ok(got)
}

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

/// Attaches a classic BPF socket filter (None: detaches any).
pub fn attach_filter(fd: i32, prog: Option<&[libc::sock_filter]>) -> Result<()> {
    let rc = match prog {
        Some(p) => {
            let mut insns = p.to_vec();
            let fprog = libc::sock_fprog {
                len: insns.len() as u16,
                filter: insns.as_mut_ptr(),
            };
            // SAFETY: fprog points to `insns`, alive for the call; the kernel copies it.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_ATTACH_FILTER,
                    &fprog as *const libc::sock_fprog as *const libc::c_void,
                    std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
                )
            }
        }
        None => {
            // Detaching when none is attached fails with ENOENT: nothing to do then.
            let zero: i32 = 0;
            // SAFETY: a live c_int and its size.
            let rc = unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_DETACH_FILTER,
                    &zero as *const i32 as *const libc::c_void,
                    std::mem::size_of::<i32>() as libc::socklen_t,
                )
            };
            if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
                0
            } else {
                rc
            }
        }
    };
    if rc != 0 {
        return Err(Error::io(
            "attach the event filter",
            &std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_names_and_paths() {
        assert_eq!(netns_path("blue").unwrap(), "/run/netns/blue");
        assert_eq!(netns_path("/proc/1/ns/net").unwrap(), "/proc/1/ns/net");
        assert!(netns_path("").is_err());
        assert!(netns_path("..").is_err());
    }
}
