"""The life cycle Conntrack, Events and Mirror share: one C object, freed exactly once by
close(), by the end of a ``with`` block, or by the collector; and, for the objects that
serve one thread at a time, the lock that says so."""

import threading

from . import _lib
from .errors import BusyError


class Closing:
    """A ``with`` block closes the object."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Owned(Closing):
    """One C object held in the attribute named by ``_attr``, freed with ``_close_fn`` (a
    class attribute, so that __del__ can still reach it at interpreter shutdown)."""

    _attr = None  # "_h", "_ev", "_m"
    _close_fn = None
    _kind = None  # the class's name, for repr()
    _what = None  # what messages call it ("Conntrack handle", "Events listener", "Mirror")

    def _free(self):
        """Forgets the C object and frees it (if there was one)."""
        p = getattr(self, self._attr, None)
        setattr(self, self._attr, None)
        if p:
            self._close_fn(p)

    def close(self):
        """Frees the C object. Idempotent."""
        self._free()

    @property
    def closed(self):
        return getattr(self, self._attr) is None

    def __del__(self):
        # Runs for objects never closed; __init__ may have failed before the attribute was set.
        if getattr(self, self._attr, None):
            self._free()

    def _where(self):
        return "current netns" if self.netns is None else "netns %r" % (self.netns,)

    def _repr(self, *more):
        state = "closed" if self.closed else "open"
        return "<conntrack.%s %s>" % (self._kind, ", ".join((state, self._where()) + more))


class Locked(Owned):
    """An Owned object used by one thread at a time: a call while another thread is inside
    one raises BusyError. ``_pending`` holds what was read but not yet handed out."""

    _busy = None  # what BusyError says when the object is in use

    def _init_lock(self):
        self._lock = threading.Lock()

    def _acquire(self):
        """Takes the object for one call (release self._lock after it); returns the C object."""
        if not self._lock.acquire(blocking=False):
            raise BusyError(_lib.CT_ERR_BUSY, self._busy)
        p = getattr(self, self._attr)
        if p is None:
            self._lock.release()
            raise ValueError("operation on a closed %s" % self._what)
        return p

    def _close_locked(self):
        """close() for a Locked object: BusyError while another thread is inside a call."""
        if self.closed:
            return
        if not self._lock.acquire(blocking=False):
            raise BusyError(_lib.CT_ERR_BUSY,
                            "close: this %s is in use by another thread" % self._what)
        try:
            self._pending.clear()
            self._free()
        finally:
            self._lock.release()
