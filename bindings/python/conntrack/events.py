"""Events: a subscription to the conntrack table's new, update and destroy events
(ct_events).

    with conntrack.Events(netns="blue") as events:
        for event in events:              # blocks; see Events.__iter__ for overruns
            print(event.type_name, event.entry.format())

Waiting happens in Python (``select.poll`` on the listener's descriptor), then the library
reads what is queued without waiting (``ct_events_receive`` with timeout 0): a wait is
interrupted by signals as any Python wait is (Ctrl-C raises KeyboardInterrupt), and
timeouts are kept exactly.
"""

import collections
import ctypes
import dataclasses
import math
import select
import time

from . import _lib
from ._lib import lib
from .entry import Entry, Reader
from .errors import OverrunError, c_text, check, invalid, last_error
from .filter import c_filter
from ._owned import Locked

EVENT_NEW = _lib.CT_EVENT_NEW
EVENT_UPDATE = _lib.CT_EVENT_UPDATE
EVENT_DESTROY = _lib.CT_EVENT_DESTROY
EVENT_ALL = _lib.CT_EVENT_ALL

#: Event type number -> name, and back.
EVENT_NAMES = {EVENT_NEW: "new", EVENT_UPDATE: "update", EVENT_DESTROY: "destroy"}
_EVENT_NUMBERS = {name: number for number, name in EVENT_NAMES.items()}

# poll()'s largest timeout in milliseconds.
# The longest single poll(): a signal that lands just before a poll begins goes unnoticed by
# that poll (its handler runs only when Python regains control), so Ctrl-C waits at most this.
_SLICE_MS = 500


@dataclasses.dataclass(frozen=True)
class Event:
    """One event: ``type`` (EVENT_NEW, EVENT_UPDATE or EVENT_DESTROY) and ``entry``, the
    entry as the kernel reported it (an Entry the caller owns; a destroy carries the
    final counters when accounting is on)."""

    type: int
    entry: Entry

    @property
    def type_name(self):
        """"new", "update" or "destroy"."""
        return EVENT_NAMES.get(self.type, str(self.type))


def event_types(types):
    """The CT_EVENT_* mask for `types`: an int mask (an OR of EVENT_*), one name ("new",
    "update", "destroy", "all") or an iterable of names or numbers."""
    if isinstance(types, bool):
        raise TypeError("event types must be an int mask or names, not bool")
    if isinstance(types, int):
        mask = types
    elif isinstance(types, str):
        mask = EVENT_ALL if types == "all" else _name_to_number(types)
    else:
        try:
            items = list(types)
        except TypeError:
            raise TypeError(
                "event types must be an int mask, a name or names, not %s" % type(types).__name__
            ) from None
        mask = 0
        for item in items:
            mask |= event_types(item)
    if mask == 0 or mask & ~EVENT_ALL:
        raise invalid(
            "event types %r: use an OR of EVENT_NEW (1), EVENT_UPDATE (2) and "
            "EVENT_DESTROY (4), or their names" % (types,)
        )
    return mask


def _name_to_number(name):
    try:
        return _EVENT_NUMBERS[name.lower()]
    except KeyError:
        raise invalid("unknown event type %r (new, update, destroy, all)" % (name,)) from None


def _check_timeout(seconds):
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("timeout must be a number of seconds or None")
    if math.isnan(seconds) or seconds < 0:
        raise invalid("timeout %r: use seconds >= 0, or None to wait without end" % (seconds,))
    return seconds


class Events(Locked):
    """A subscription to conntrack events in one network namespace (a ct_events).

    ``Events(types=EVENT_ALL, netns=None, filter=None, receive_buffer=None,
    reliable=False)``: ``types`` is an OR of EVENT_NEW, EVENT_UPDATE and EVENT_DESTROY (or
    names: "new", ["new", "destroy"], "all"); ``netns`` a name under /run/netns or a path
    such as /proc/PID/ns/net (None: the caller's namespace; the calling thread never
    changes namespace); ``filter`` a Filter the library applies to every event (the same
    as set_filter); ``receive_buffer`` the socket buffer in bytes (set_receive_buffer;
    default 64 MiB, a burst of about 100,000 events); ``reliable`` turns on reliable mode
    (set_reliable).

    Read events with ``receive(timeout)`` (a list), by iterating (blocking), or in your own
    select/poll loop on ``fileno()`` followed by ``receive(0)``.

    Loss: when the kernel's queue for this listener is full, the kernel drops events and
    the next read raises OverrunError (a ConntrackError); ``overruns`` counts them and the
    listener goes on. The kernel reports the loss ahead of the events still queued from
    before it, which follow. List the table again (Conntrack.list) to resynchronise.

    Entries created before the listener subscribed may report no events at all when the
    namespace's net.netfilter.nf_conntrack_events is 2 (the default of a new namespace on
    some kernels): list the table after subscribing to learn about them. Kernels without
    that mode (5.10) refuse 2 and keep 1: every entry reports there, so a listener also
    hears the destroy of entries created before it subscribed.

    One thread at a time: a call while another thread is inside receive() (or the
    iteration's wait) raises BusyError; open one listener per thread. Use it as a context
    manager or call close().
    """

    _attr, _kind, _what = "_ev", "Events", "Events listener"
    _close_fn = lib.ct_events_close
    _busy = "this Events listener is in use by another thread"

    def __init__(self, types=EVENT_ALL, netns=None, filter=None, receive_buffer=None,
                 reliable=False):
        self._ev = None
        self._init_lock()
        # Events read from the kernel but not handed out yet (an iteration stopped in the
        # middle of a batch), with an OverrunError where the kernel's gap was.
        self._pending = collections.deque()
        self._overruns = 0
        self._reader = Reader()
        mask = event_types(types)
        out = ctypes.c_void_p()
        if netns is None:
            rc = lib.ct_events_open(mask, ctypes.byref(out))
        else:
            path = c_text(netns, "netns", path=True)
            rc = lib.ct_events_open_netns(path, mask, ctypes.byref(out))
        check(rc)
        self._ev = out.value
        self.netns = netns
        self.types = mask
        try:
            self._fd = lib.ct_events_fd(self._ev)
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLIN)
            if filter is not None:
                self.set_filter(filter)
            if receive_buffer is not None:
                self.set_receive_buffer(receive_buffer)
            if reliable:
                self.set_reliable(True)
        except BaseException:
            self.close()
            raise

    # -- life cycle ---------------------------------------------------------------------

    def close(self):
        """Unsubscribes and frees the listener. Idempotent; BusyError while another thread
        is inside receive()."""
        self._close_locked()

    def __repr__(self):
        return self._repr(",".join(n for b, n in sorted(EVENT_NAMES.items()) if self.types & b))

    # -- settings -------------------------------------------------------------------------

    def fileno(self):
        """The listener's descriptor for select/poll/selectors (readable: events are
        queued; then call receive(0)). It belongs to the listener: do not read or close it.
        Events an iteration left pending (see ``pending``) do not make it readable."""
        if self._ev is None:
            raise ValueError("fileno() on a closed Events listener")
        return self._fd

    def set_filter(self, filter):
        """Delivers only events whose entry matches `filter` (a Filter; None: all). The
        kernel drops the events whose family, zone, mark or protocol cannot match (they take
        no buffer space); the library checks every field of the rest
        (``kernel_filtering=False`` leaves it all to the library)."""
        ev = self._acquire()
        try:
            with c_filter(filter) as fp:
                check(lib.ct_events_set_filter(ev, fp))
        finally:
            self._lock.release()

    def set_receive_buffer(self, nbytes):
        """Sets the socket's receive buffer to about `nbytes` (the kernel doubles it; without
        CAP_NET_ADMIN net.core.rmem_max caps it). Smaller means overruns come sooner."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, int):
            raise TypeError("receive buffer size must be an int")
        if nbytes < 0:
            raise invalid("receive buffer size %d is negative" % nbytes)
        ev = self._acquire()
        try:
            check(lib.ct_events_set_receive_buffer(ev, nbytes))
        finally:
            self._lock.release()

    def set_reliable(self, on=True):
        """Reliable mode: the kernel keeps destroy events it could not deliver and retries
        them, and reports no overruns (new and update events are then dropped silently
        when the buffer is full). UnsupportedError when the kernel lacks it."""
        ev = self._acquire()
        try:
            check(lib.ct_events_set_reliable(ev, bool(on)))
        finally:
            self._lock.release()

    @property
    def overruns(self):
        """How many overruns (each: one or more events dropped by the kernel) were reported
        since the listener was opened."""
        return self._overruns

    @property
    def pending(self):
        """How many events were read from the kernel but not handed out yet (left by an
        iteration stopped in the middle of a batch); receive() returns them first."""
        return sum(1 for item in self._pending if isinstance(item, Event))

    # -- reading --------------------------------------------------------------------------

    def _read_once(self, ev):
        """One ct_events_receive without waiting; appends to the pending queue what it
        delivered and, after them, the OverrunError of an overrun. True when it added
        anything."""
        got = []
        state = {"error": None}
        reader = self._reader

        def trampoline(event_type, entry_ptr, _user_data):
            # Nothing may escape into C. Only a failure to copy (out of memory) stops it.
            try:
                got.append(Event(int(event_type), reader.read_kept(entry_ptr)))
                return 0
            except BaseException as e:  # noqa: B902 - re-raised after ct_events_receive
                state["error"] = e
                return 1

        cb = _lib.EVENT_CB(trampoline)  # kept alive by this frame for the whole call
        delivered = ctypes.c_size_t(0)
        rc = lib.ct_events_receive(ev, 0, cb, None, ctypes.byref(delivered))
        failure = last_error(rc) if rc != _lib.CT_OK else None
        self._overruns = lib.ct_events_overruns(ev)
        self._pending.extend(got)
        if state["error"] is not None:
            error = state["error"]
            state["error"] = None
            raise error
        if failure is not None:
            if isinstance(failure, OverrunError):
                failure.overruns = self._overruns
                failure.events = []
                self._pending.append(failure)
            else:
                raise failure
        return bool(got) or failure is not None

    def _fill(self, ev, timeout):
        """Reads until something is pending or `timeout` seconds passed (None: no end)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._read_once(ev):
                return
            if deadline is None:
                wait_ms = _SLICE_MS
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                wait_ms = min(_SLICE_MS, max(1, math.ceil(left * 1000)))
            # Readable, an error flagged on the socket (an overrun), or the timeout; a
            # signal runs its handler here (PEP 475), or at the latest when the slice ends.
            self._poll.poll(wait_ms)

    def receive(self, timeout=None):
        """Waits up to `timeout` seconds (None: until an event comes; 0: do not wait) for
        events and returns every event queued, as a list of Event (empty when the timeout
        passed without one that matches the filter).

        Raises OverrunError when the kernel dropped events: its ``events`` are the events
        this call received before the loss was reported (returned nowhere else),
        ``overruns`` the count so far. The listener stays usable and the next call goes on;
        the kernel reports a loss ahead of events still queued from before it, so those
        come with the next calls."""
        timeout = _check_timeout(timeout)
        ev = self._acquire()
        try:
            if not self._pending:
                self._fill(ev, timeout)
            out = []
            while self._pending:
                item = self._pending.popleft()
                if isinstance(item, OverrunError):
                    item.events = out
                    raise item
                out.append(item)
            return out
        finally:
            self._lock.release()

    def _next(self):
        ev = self._acquire()
        try:
            if not self._pending:
                self._fill(ev, None)
            item = self._pending.popleft()
        finally:
            self._lock.release()
        if isinstance(item, OverrunError):
            raise item  # its events were yielded already: item.events is []
        return item

    def __iter__(self):
        """A new generator yielding each event as it comes, without end (it blocks; break
        out of the loop to stop). When the kernel dropped events, the events read before the
        loss was reported are yielded, then the generator raises OverrunError (``events``
        empty) and is finished; the listener is not: iterate again to go on::

            while True:
                try:
                    for event in events:
                        handle(event)
                except conntrack.OverrunError:
                    resync()          # e.g. Conntrack.list(); the next loop goes on

        Events read from the kernel but not yet yielded when the loop is left (break) stay
        queued for the next iteration or receive()."""
        return self._iterate()

    def _iterate(self):
        while True:
            yield self._next()
