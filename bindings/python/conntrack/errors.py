"""Exceptions: one class per ct_status, all under ConntrackError.

Each carries ``status`` (the ct_status number), ``errno`` (0 when the failure had none)
and ``message`` (the library's detail, read with ct_last_error_message() right after
the failing call, or the batch's message for one request of a batch). Where a builtin
exception means the same thing the class derives from it too, so ``except LookupError``
catches a missing entry and ``except ValueError`` a rejected argument.
"""

import os

from . import _lib


class ConntrackError(Exception):
    """A libconntrack call failed.

    Attributes: ``status`` (int, a ct_status), ``errno`` (int, 0 if none), ``message``
    (str, the library's detail), ``strerror`` (the library's sentence for the status).
    """

    status = None  # the class's own status, set on each subclass

    def __init__(self, status, message="", errno=0):
        self.status = int(status)
        self.errno = int(errno or 0)
        self.message = message or ""
        self.strerror = _lib.strerror(self.status)
        text = self.strerror
        if self.message:
            text = "%s: %s" % (text, self.message)
        super().__init__(text)

    def __reduce__(self):
        return (_rebuild, (self.status, self.message, self.errno))


def _rebuild(status, message, errno):
    return error_for(status, message, errno)


class InvalidArgumentError(ConntrackError, ValueError):
    """CT_ERR_INVALID_ARGUMENT: an argument cannot be right (out of range, wrong family...)."""

    status = _lib.CT_ERR_INVALID_ARGUMENT


class NullPointerError(ConntrackError, ValueError):
    """CT_ERR_NULL_POINTER: a required pointer was NULL (a bug in this binding)."""

    status = _lib.CT_ERR_NULL_POINTER


class NotFoundError(ConntrackError, LookupError):
    """CT_ERR_NOT_FOUND: no such entry (kernel ENOENT)."""

    status = _lib.CT_ERR_NOT_FOUND


class EntryExistsError(ConntrackError):
    """CT_ERR_EXISTS: the entry already exists (kernel EEXIST)."""

    status = _lib.CT_ERR_EXISTS


class ConntrackPermissionError(ConntrackError):
    """CT_ERR_PERMISSION: the caller lacks CAP_NET_ADMIN in the network namespace."""

    status = _lib.CT_ERR_PERMISSION


class BufferTooSmallError(ConntrackError):
    """CT_ERR_BUFFER_TOO_SMALL (the binding sizes its buffers; not expected)."""

    status = _lib.CT_ERR_BUFFER_TOO_SMALL


class DumpInterruptedError(ConntrackError):
    """CT_ERR_DUMP_INTERRUPTED: the kernel flagged the dump inconsistent; run it again."""

    status = _lib.CT_ERR_DUMP_INTERRUPTED


class UnsupportedError(ConntrackError, NotImplementedError):
    """CT_ERR_UNSUPPORTED: the running kernel does not support the request."""

    status = _lib.CT_ERR_UNSUPPORTED


class NetnsError(ConntrackError):
    """CT_ERR_NETNS: the network namespace could not be opened or entered."""

    status = _lib.CT_ERR_NETNS


class KernelError(ConntrackError):
    """CT_ERR_KERNEL: another error from the kernel; see ``errno``."""

    status = _lib.CT_ERR_KERNEL


class MalformedError(ConntrackError):
    """CT_ERR_MALFORMED: the kernel's answer could not be decoded."""

    status = _lib.CT_ERR_MALFORMED


class InternalError(ConntrackError):
    """CT_ERR_INTERNAL: a bug in libconntrack; the handle may be unusable."""

    status = _lib.CT_ERR_INTERNAL


class NotSetError(ConntrackError, LookupError):
    """CT_ERR_NOT_SET: the entry does not hold the field (the binding maps it to None)."""

    status = _lib.CT_ERR_NOT_SET


class OverrunError(ConntrackError):
    """CT_ERR_OVERRUN: the socket's receive buffer overflowed; answers or events were lost.

    Raised by ``Events.receive()`` and by iterating an ``Events`` when the kernel dropped
    events: ``events`` holds the events that read delivered before the loss was reported (a
    list; empty when the iteration yielded them already), ``overruns`` the listener's
    overrun count so far, this one included (None outside events). The listener stays
    usable. The kernel reports a loss ahead of events still queued from before it: those
    come with the next reads."""

    status = _lib.CT_ERR_OVERRUN
    events = ()
    overruns = None


class BusyError(ConntrackError):
    """CT_ERR_BUSY: the handle is in use at this moment (another thread, or a call made
    from inside a dump callback on the same handle)."""

    status = _lib.CT_ERR_BUSY


class TableFullError(ConntrackError):
    """CT_ERR_TABLE_FULL: the kernel had no room for a new entry (ENOMEM): the conntrack
    table is full (net.netfilter.nf_conntrack_max) or kernel memory ran out."""

    status = _lib.CT_ERR_TABLE_FULL


_BY_STATUS = {
    cls.status: cls
    for cls in (
        InvalidArgumentError,
        NullPointerError,
        NotFoundError,
        EntryExistsError,
        ConntrackPermissionError,
        BufferTooSmallError,
        DumpInterruptedError,
        UnsupportedError,
        NetnsError,
        KernelError,
        MalformedError,
        InternalError,
        NotSetError,
        OverrunError,
        BusyError,
        TableFullError,
    )
}


def error_for(status, message="", errno=0):
    """The exception instance for `status` (ConntrackError itself for an unknown one)."""
    return _BY_STATUS.get(int(status), ConntrackError)(status, message, errno)


def last_error(status):
    """The exception for a call that just returned `status` on this thread: reads
    ct_last_error_message() and ct_last_errno() at once (before any other ct_ call)."""
    message = _lib.text_at(_lib.lib.ct_last_error_message()) or ""
    errno = _lib.lib.ct_last_errno()
    return error_for(status, message, errno)


def check(status):
    """Raises the matching ConntrackError when `status` is not CT_OK."""
    if status != _lib.CT_OK:
        raise last_error(status)


def invalid(message):
    """An InvalidArgumentError raised by the binding itself (errno 0): a value the C types
    cannot carry, an unknown protocol name, a malformed tuple."""
    return InvalidArgumentError(_lib.CT_ERR_INVALID_ARGUMENT, message)


def c_text(value, what, path=False):
    """`value` as NUL-terminated C text: bytes without an embedded NUL (which C would
    silently cut at). `path`: encode like the file system (str, bytes or os.PathLike)."""
    try:
        if path:
            data = os.fsencode(value)
        elif isinstance(value, bytes):
            data = value
        else:
            data = str(value).encode("utf-8")
    except (TypeError, UnicodeError) as e:
        raise invalid("%s %r cannot be passed to C: %s" % (what, value, e)) from None
    if b"\0" in data:
        raise invalid("%s %r contains a NUL character" % (what, value))
    return data
