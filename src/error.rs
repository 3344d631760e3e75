//! The error model of the core: a kind (which becomes a C status code), the errno when the
//! kernel or a system call gave one, and a sentence for a person.

use std::fmt;

/// What went wrong, in the categories a caller acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A value the caller gave cannot be right.
    InvalidArgument,
    /// A required pointer was NULL (C boundary only).
    NullPointer,
    /// The entry (or netns, or object) does not exist.
    NotFound,
    /// The entry already exists.
    Exists,
    /// The caller lacks CAP_NET_ADMIN in the namespace.
    Permission,
    /// The caller's buffer is too small.
    BufferTooSmall,
    /// The kernel flagged a dump as interrupted: retry it.
    DumpInterrupted,
    /// The running kernel does not support the request.
    Unsupported,
    /// A network namespace could not be entered.
    Netns,
    /// Any other error the kernel returned.
    Kernel,
    /// The kernel's answer could not be decoded.
    Malformed,
    /// A bug in the library (a caught panic, a broken invariant).
    Internal,
    /// The field asked for is not set in the entry.
    NotSet,
    /// The receive buffer overflowed: answers or events were lost.
    Overrun,
    /// The kernel had no room for a new entry: the table is full (nf_conntrack_max) or
    /// kernel memory ran out. The kernel says ENOMEM for both.
    TableFull,
}

/// An error with its detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The category.
    pub kind: Kind,
    /// The errno, when one was given (positive, e.g. libc::ENOENT).
    pub errno: Option<i32>,
    /// What happened, for a person.
    pub message: String,
}

/// The core's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            kind,
            errno: None,
            message: message.into(),
        }
    }

    /// An invalid-argument error.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(Kind::InvalidArgument, message)
    }

    /// A malformed-message error.
    pub fn malformed(message: impl Into<String>) -> Error {
        Error::new(Kind::Malformed, message)
    }

    /// An error from an errno returned by the kernel for `what` (the operation), with the
    /// kernel's extended-ack text when it sent one.
    pub fn from_errno(errno: i32, what: &str, ext_ack: Option<&str>) -> Error {
        let kind = kind_of_errno(errno);
        // The system's sentence without Rust's " (os error N)" suffix.
        let sys = std::io::Error::from_raw_os_error(errno).to_string();
        let sys = sys.split(" (os error").next().unwrap_or(&sys);
        let mut message = format!("{what}: {sys}");
        if let Some(m) = ext_ack.filter(|m| !m.is_empty()) {
            message.push_str(" (kernel: ");
            message.push_str(m);
            message.push(')');
        }
        if kind == Kind::Permission {
            message.push_str(" - needs CAP_NET_ADMIN in the network namespace");
        }
        Error {
            kind,
            errno: Some(errno),
            message,
        }
    }

    /// The same error, as the answer to a create request: there the kernel's ENOMEM means
    /// that it could not make the entry, which in a working system is a full table.
    pub fn in_create(mut self) -> Error {
        if self.kind == Kind::Kernel && self.errno == Some(libc::ENOMEM) {
            self.kind = Kind::TableFull;
            self.message.push_str(
                " - the conntrack table is full (net.netfilter.nf_conntrack_max) or kernel memory ran out",
            );
        }
        self
    }

    /// An error from a failed system call (std::io::Error).
    pub fn io(what: &str, e: &std::io::Error) -> Error {
        match e.raw_os_error() {
            Some(errno) => Error::from_errno(errno, what, None),
            None => Error::new(Kind::Internal, format!("{what}: {e}")),
        }
    }

    /// The same error with `errno` recorded.
    pub fn with_errno(mut self, errno: i32) -> Error {
        self.errno = Some(errno);
        self
    }

    /// The same error with `kind` replaced.
    pub fn with_kind(mut self, kind: Kind) -> Error {
        self.kind = kind;
        self
    }
}

/// The one place that maps an errno to a kind.
pub fn kind_of_errno(errno: i32) -> Kind {
    match errno {
        libc::ENOENT | libc::ESRCH => Kind::NotFound,
        libc::EEXIST => Kind::Exists,
        libc::EPERM | libc::EACCES => Kind::Permission,
        libc::EINVAL | libc::ERANGE => Kind::InvalidArgument,
        libc::EOPNOTSUPP | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT => Kind::Unsupported,
        libc::ENOBUFS => Kind::Overrun,
        libc::EINTR => Kind::DumpInterrupted,
        _ => Kind::Kernel,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_kind_and_message_names_the_cause() {
        let e = Error::from_errno(libc::EPERM, "create", None);
        assert_eq!(e.kind, Kind::Permission);
        assert!(e.message.contains("CAP_NET_ADMIN"), "{}", e.message);
        let e = Error::from_errno(libc::ENOENT, "delete", Some("no such entry"));
        assert_eq!(e.kind, Kind::NotFound);
        assert!(e.message.contains("kernel: no such entry"));
        assert_eq!(kind_of_errno(libc::EEXIST), Kind::Exists);
        assert_eq!(kind_of_errno(libc::EIO), Kind::Kernel);
        let e = Error::from_errno(libc::ENOMEM, "create", None).in_create();
        assert_eq!((e.kind, e.errno), (Kind::TableFull, Some(libc::ENOMEM)));
        assert!(e.message.contains("nf_conntrack_max"), "{}", e.message);
        let e = Error::from_errno(libc::EEXIST, "create", None).in_create();
        assert_eq!(e.kind, Kind::Exists);
        // Elsewhere the kernel's ENOMEM says nothing of the table.
        assert_eq!(kind_of_errno(libc::ENOMEM), Kind::Kernel);
    }
}
