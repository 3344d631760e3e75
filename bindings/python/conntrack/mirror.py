"""Mirror: the content of one namespace's conntrack table held in memory, kept current
from events and repaired by the library after the kernel dropped some (ct_mirror).

    with conntrack.Mirror(netns="blue") as mirror:
        for change in mirror.changes():      # blocks; the first changes are the load
            print(change.kind, change.repair, change.entry.format())

Waiting happens in Python (``select.poll`` on the mirror's descriptor, bounded by the
next repair's time), then the library applies what is queued without waiting
(``ct_mirror_step`` with timeout 0): a wait is interrupted by signals as any Python wait
is, and timeouts are kept exactly.
"""

import collections
import ctypes
import dataclasses
import math
import select
import threading
import time

from . import _lib
from ._lib import lib
from .entry import Reader, c_entry
from .errors import c_text, check, invalid, last_error
from .events import _SLICE_MS, _check_timeout
from .filter import c_filter
from ._owned import Locked

#: Change kind number (CT_MIRROR_*) -> name.
CHANGE_NAMES = {
    _lib.CT_MIRROR_NEW: "new",
    _lib.CT_MIRROR_UPDATE: "update",
    _lib.CT_MIRROR_DESTROY: "destroy",
}


class Change(collections.namedtuple("Change", "kind repair entry")):
    """One change of a mirror: ``kind`` is "new", "update" or "destroy"; ``repair`` is True
    when a repair (the first load included) found it rather than an event; ``entry`` is
    the entry as the mirror now holds it (for a destroy: as it held it last), an Entry the
    caller may keep. Applying every change to a copy of your own gives the mirror's
    content."""

    __slots__ = ()


@dataclasses.dataclass(frozen=True)
class MirrorStats:
    """A mirror's counters (ct_mirror_counters)."""

    events: int  # events received and applied
    overruns: int  # times the kernel reported dropped events
    repairs: int  # dumps compared with the mirror, the first load included
    repaired_entries: int  # changes the repairs found
    stale_ms: int  # milliseconds the mirror was known to be stale, summed
    last_repair_ms: int  # how long the last repair took
    stale: bool  # events were lost since the last clean repair


class Mirror(Locked):
    """A live copy of one network namespace's conntrack table (a ct_mirror).

    ``Mirror(netns=None, filter=None, receive_buffer=None)``: ``netns`` a name under
    /run/netns or a path such as /proc/PID/ns/net (None: the caller's namespace);
    ``filter`` a Filter (only the entries it matches are held); ``receive_buffer`` the
    event socket's buffer in bytes (default 256 MiB; a smaller one loses events under
    bursts, which the mirror then repairs).

    It subscribes at once and loads with the first step. Drive it with ``step(timeout)``
    (a list of Change), with the ``changes()`` generator, or from your own select/poll loop
    on ``fileno()`` (waiting at most ``next_timeout()`` seconds) calling ``step(0)``.
    Read it with ``len()``, iteration (a snapshot), ``get(entry)`` (original tuple and
    zone) and ``get_by_id(id)``.

    Events must exist for every entry: where the namespace's
    net.netfilter.nf_conntrack_events is 2, entries made before the first listener report
    none (set it to 1, or call ``request_repair()`` on a schedule).

    One thread at a time: a call while another thread is inside step() raises BusyError.
    From a step's callback only ``close()`` may be called on the mirror.
    """

    _attr, _kind, _what = "_m", "Mirror", "Mirror"
    _close_fn = lib.ct_mirror_close
    _busy = ("this Mirror is in use (by another thread, or this is its step's callback, "
             "where only close() may be called)")

    def __init__(self, netns=None, filter=None, receive_buffer=None):
        self._m = None
        self._init_lock()
        self._callback_thread = None  # the thread running step()'s callbacks
        # Changes a repair delivered after the callback stopped the step: the next step
        # hands them out first.
        self._pending = collections.deque()
        out = ctypes.c_void_p()
        path = None if netns is None else c_text(netns, "netns", path=True)
        with c_filter(filter) as fp:
            check(lib.ct_mirror_open(path, fp, ctypes.byref(out)))
        self._m = out.value
        self.netns = netns
        try:
            self._fd = lib.ct_mirror_fd(self._m)
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLIN)
            if receive_buffer is not None:
                self.set_receive_buffer(receive_buffer)
        except BaseException:
            self.close()
            raise

    # -- life cycle ---------------------------------------------------------------------

    def close(self):
        """Closes the mirror and frees it. Idempotent. From a step's callback it is allowed:
        no further change is delivered and the step returns what it has. BusyError while
        another thread is inside step()."""
        if self._m is None:
            return
        if self._callback_thread == threading.get_ident():
            # From a callback: inside the C step the library frees it when the step
            # returns; step() touches it no more either way.
            self._pending.clear()
            self._free()
            return
        self._close_locked()

    def __repr__(self):
        return self._repr()

    # -- settings -------------------------------------------------------------------------

    def fileno(self):
        """The descriptor to poll (readable: call step(0)). It belongs to the mirror."""
        if self._m is None:
            raise ValueError("fileno() on a closed Mirror")
        return self._fd

    def next_timeout(self):
        """Seconds until a repair is due (0: now), or None when none waits: the longest a
        select/poll loop on fileno() may wait before calling step(0)."""
        m = self._acquire()
        try:
            ms = lib.ct_mirror_next_timeout(m)
        finally:
            self._lock.release()
        return None if ms < 0 else ms / 1000.0

    def set_receive_buffer(self, nbytes):
        """Sets the event socket's receive buffer to about `nbytes` (default 256 MiB)."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, int):
            raise TypeError("receive buffer size must be an int")
        if nbytes < 0:
            raise invalid("receive buffer size %d is negative" % nbytes)
        self._call(lib.ct_mirror_set_receive_buffer, nbytes)

    def set_backoff(self, min_ms, max_ms):
        """The delay before a repair after an overrun: `min_ms` at first, doubling up to
        `max_ms` while overruns go on (defaults 10 and 2000)."""
        for v, what in ((min_ms, "min_ms"), (max_ms, "max_ms")):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
                raise invalid("%s must be an int in 0..4294967295" % what)
        self._call(lib.ct_mirror_set_backoff, min_ms, max_ms)

    def request_repair(self):
        """Asks for a repair (a dump compared with the mirror) at the next step."""
        self._call(lib.ct_mirror_request_repair)

    def _call(self, fn, *args):
        m = self._acquire()
        try:
            check(fn(m, *args))
        finally:
            self._lock.release()

    # -- changes --------------------------------------------------------------------------

    def _step_once(self, m, callback, out):
        """One ct_mirror_step without waiting. Returns how many changes reached the caller
        (`out` or `callback`)."""
        reader = Reader()
        state = {"error": None, "stopped": False, "count": 0}
        repair_bit = _lib.CT_MIRROR_REPAIR
        pending = self._pending

        def trampoline(change, entry_ptr, _user_data):
            # Nothing may escape into C: an exception stops the step and is re-raised.
            try:
                ch = Change(
                    CHANGE_NAMES.get(change & ~repair_bit, str(change & ~repair_bit)),
                    bool(change & repair_bit),
                    reader.read(entry_ptr),
                )
                if state["stopped"]:
                    # A repair delivers its changes to the end even after a stop: kept
                    # for the next step, so a copy built from the callbacks misses none.
                    pending.append(ch)
                    return 1
                state["count"] += 1
                if callback is None:
                    out.append(ch)
                    return 0
                if _lib.stops(callback(ch)):
                    state["stopped"] = True
                    return 1
                return 0
            except BaseException as e:  # noqa: B902 - re-raised after ct_mirror_step
                if state["error"] is None:
                    state["error"] = e
                state["stopped"] = True
                return 1

        cb = _lib.MIRROR_CB(trampoline)  # kept alive by this frame for the whole call
        delivered = ctypes.c_size_t(0)
        self._callback_thread = threading.get_ident()
        try:
            rc = lib.ct_mirror_step(m, 0, cb, None, ctypes.byref(delivered))
        finally:
            self._callback_thread = None
        if self._m is None:
            pending.clear()  # closed from the callback
        failure = last_error(rc) if rc != _lib.CT_OK else None
        if state["error"] is not None:
            error, state["error"] = state["error"], None
            raise error
        if failure is not None:
            raise failure
        return state["count"]

    def _deliver_pending(self, callback, out):
        """Hands out the changes a stopped step kept; returns how many."""
        pending = self._pending
        if callback is None:
            out.extend(pending)
            n = len(pending)
            pending.clear()
            return n
        n = 0
        self._callback_thread = threading.get_ident()
        try:
            while pending and self._m is not None:
                ch = pending.popleft()
                n += 1
                if _lib.stops(callback(ch)):
                    break
        finally:
            self._callback_thread = None
        return n

    def step(self, timeout=None, callback=None):
        """Applies what is due (the first load, a repair, queued events), waiting up to
        `timeout` seconds (None: until something changes; 0: not at all) for changes.

        Without `callback`: returns the changes as a list of Change (empty when the
        timeout passed without one). With `callback`: each Change goes to
        ``callback(change)`` as it happens (returning False ends the step early, None or True
        go on; an
        exception ends it and propagates once the library has finished the step, a repair
        being always completed first); returns how many changes were delivered. The
        callback may call close() and nothing else on this mirror."""
        timeout = _check_timeout(timeout)
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        m = self._acquire()
        out = []
        try:
            if self._pending:
                n = self._deliver_pending(callback, out)
                return n if callback is not None else out
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                n = self._step_once(m, callback, out)
                if n or self._m is None or timeout == 0:
                    break
                ms = lib.ct_mirror_next_timeout(m)
                wait_ms = _SLICE_MS if ms < 0 else min(ms, _SLICE_MS)
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    wait_ms = min(wait_ms, max(1, math.ceil(left * 1000)))
                self._poll.poll(wait_ms)
        finally:
            self._lock.release()
        return n if callback is not None else out

    def changes(self, timeout=None):
        """A generator of every change, step after step, without end (it blocks; break out
        of the loop to stop), or until the mirror is closed (also from inside the loop).
        With a `timeout` (seconds), it ends once a step waited that long for nothing."""
        while self._m is not None:
            batch = self.step(timeout)
            if not batch and timeout is not None:
                return
            for ch in batch:
                if self._m is None:
                    return
                yield ch

    # -- reading --------------------------------------------------------------------------

    def __len__(self):
        m = self._acquire()
        try:
            return lib.ct_mirror_count(m)
        finally:
            self._lock.release()

    def entries(self):
        """Every entry the mirror holds now, as a list of Entry (in no particular order)."""
        m = self._acquire()
        reader = Reader()
        got = []
        state = {"error": None}

        def trampoline(entry_ptr, _user_data):
            try:
                got.append(reader.read(entry_ptr))
                return 0
            except BaseException as e:  # noqa: B902 - re-raised after ct_mirror_each
                state["error"] = e
                return 1

        cb = _lib.DUMP_CB(trampoline)
        try:
            rc = lib.ct_mirror_each(m, cb, None)
        finally:
            self._lock.release()
        if state["error"] is not None:
            raise state["error"]
        check(rc)
        return got

    def __iter__(self):
        """An iterator over a snapshot of the entries (entries()): closing or stepping the
        mirror during the iteration does not change what it yields."""
        return iter(self.entries())

    def _lookup(self, fn, arg):
        m = self._acquire()
        out = ctypes.c_void_p()
        try:
            rc = fn(m, arg, ctypes.byref(out))
            if rc == _lib.CT_ERR_NOT_FOUND:
                return None
            check(rc)
            # The pointer is the mirror's: read while the mirror cannot change.
            return Reader().read(out.value)
        finally:
            self._lock.release()

    def get(self, entry):
        """The mirror's entry with `entry`'s original tuple and zone (None: zone 0), or
        None when it holds none."""
        with c_entry(entry) as key:
            return self._lookup(lib.ct_mirror_get, key)

    def get_by_id(self, entry_id):
        """The mirror's entry with the kernel id `entry_id` (the newest where two share it:
        the kernel's ids are 32-bit hashes, so two live entries can), or None."""
        if isinstance(entry_id, bool) or not isinstance(entry_id, int):
            raise TypeError("id must be an int")
        if not 0 <= entry_id <= 0xFFFFFFFF:
            raise invalid("id %d is out of range 0..4294967295" % entry_id)
        return self._lookup(lib.ct_mirror_get_by_id, entry_id)

    def stats(self):
        """The mirror's counters, as a MirrorStats."""
        s = _lib.CtMirrorCounters()
        self._call(lib.ct_mirror_stats, ctypes.byref(s))
        return MirrorStats(
            events=s.events, overruns=s.overruns, repairs=s.repairs,
            repaired_entries=s.repaired_entries, stale_ms=s.stale_ms,
            last_repair_ms=s.last_repair_ms, stale=bool(s.stale),
        )
