"""Conntrack (a ctnetlink handle), its operations, batches and the dump iterator."""

import collections
import ctypes
import dataclasses
import threading

from . import _lib
from ._lib import CT_VIEW_MORE, VIEW_SIZE, lib
from .entry import (
    Entry,
    Reader,
    _OwnedEntry,
    _present,
    c_entry,
    clone_c_entry,
    entries_of_block,
    record_of,
)
from .columns import pack as pack_columns
from .errors import c_text, check, error_for, invalid, last_error
from ._owned import Closing, Owned
from .expect import ExpectReader, c_expect
from .filter import c_filter, c_filters


class Conntrack(Owned):
    """An open ctnetlink socket in one network namespace.

    ``Conntrack()`` opens it in the caller's namespace, ``Conntrack(netns=NAME)`` inside
    the namespace NAME (a name under /run/netns as ``ip netns add`` makes, or a path such
    as /proc/PID/ns/net); the calling thread never changes namespace. Use it as a context
    manager or call close(). A handle is for one thread at a time (another thread's call
    raises BusyError); open one per thread.
    """

    def __init__(self, netns=None):
        self._h = None
        out = ctypes.c_void_p()
        if netns is None:
            rc = lib.ct_open(ctypes.byref(out))
        else:
            path = c_text(netns, "netns", path=True)
            rc = lib.ct_open_netns(path, ctypes.byref(out))
        check(rc)
        self._h = out.value
        self.netns = netns

    # -- life cycle ---------------------------------------------------------------------

    _attr, _kind, _what = "_h", "Conntrack", "Conntrack handle"
    _close_fn = lib.ct_close

    def close(self):
        """Closes the socket. Idempotent."""
        self._free()

    def __repr__(self):
        return self._repr()

    def _handle(self):
        if self._h is None:
            raise ValueError("operation on a closed Conntrack handle")
        return self._h

    # -- reading --------------------------------------------------------------------------

    def dump(self, filter=None):
        """An iterator over the entries matching `filter` (None: every entry), as Entry
        objects made a block at a time.

        Not streamed from the kernel: the matching entries are collected by ct_list into
        the library's compact C list first (one round of kernel reads), and the Entry
        objects are made from it a block of views at a time as the iteration reaches
        them. The C list is freed when the
        iteration ends, when the iterator is closed (``close()``, ``with``) or collected,
        so stopping early is fine, and the handle is free during the iteration (deleting
        the entries being iterated is allowed). For a dump that never holds the table in
        memory use stream() or dump_each(callback).
        """
        h = self._handle()
        out = ctypes.c_void_p()
        with c_filter(filter) as fp:
            check(lib.ct_list(h, fp, ctypes.byref(out)))
        return EntryIterator(out.value)

    def stream(self, filter=None):
        """An iterator over the entries matching `filter` (None: every entry), read from
        the kernel as the iteration goes (ct_cursor): memory stays that of a few hundred
        entries whatever the table's size.

        The handle is busy until the iteration ends or the iterator is closed
        (``close()``, ``with``, or collected): its other methods raise BusyError meanwhile,
        so delete what you find through another handle, or collect it first with dump().
        Like dump_each (and unlike dump), an entry the kernel sends twice while the table
        changes is yielded twice.
        """
        h = self._handle()
        out = ctypes.c_void_p()
        with c_filter(filter) as fp:
            check(lib.ct_cursor_open(h, fp, ctypes.byref(out)))
        return CursorIterator(out.value, self)

    def dump_each(self, callback, filter=None):
        """Streams every entry matching `filter` to ``callback(entry)`` through ct_dump,
        without keeping the table in memory; returns how many entries were delivered.

        The callback gets an Entry (a copy it may keep). It stops the dump by returning
        False (None or True go on), or by raising: the exception then propagates out of dump_each once the
        library has finished the dump cleanly, and the handle stays usable. While the dump
        runs the handle is busy: calling this handle's methods from the callback raises
        BusyError (use another handle, or dump()).
        """
        def run(h, cb):
            with c_filter(filter) as fp:
                return lib.ct_dump(h, fp, cb, None)

        return self._dump_to(callback, run)

    def _dump_to(self, callback, run):
        """Runs the dump `run(handle, c_callback)` starts, passing each entry to
        ``callback(entry)``; returns how many were delivered. The callback's exception, or
        the dump's failure, is raised once the C call has returned."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        h = self._handle()
        reader = Reader()
        state = {"count": 0, "error": None}

        def trampoline(entry_ptr, _user_data):
            # Nothing may escape into C: any exception stops the dump and is re-raised.
            try:
                entry = reader.read_kept(entry_ptr)
                state["count"] += 1
                return 1 if _lib.stops(callback(entry)) else 0
            except BaseException as e:  # noqa: B902 - re-raised after the dump returns
                state["error"] = e
                return 1

        cb = _lib.DUMP_CB(trampoline)  # kept alive by this frame for the whole call
        rc = run(h, cb)
        failure = last_error(rc) if rc != _lib.CT_OK else None
        _raise_after_callbacks(state, failure)
        return state["count"]

    def list(self, filter=None):
        """Every entry matching `filter` (None: all) as a list of Entry."""
        return self.dump(filter)._read_all()

    def get(self, entry):
        """The kernel's entry with `entry`'s original tuple (or, with only a reply tuple,
        reply tuple) and zone (0 when None). Raises NotFoundError when there is none."""
        h = self._handle()
        out = ctypes.c_void_p()
        with c_entry(entry) as key:
            check(lib.ct_get(h, key, ctypes.byref(out)))
        owned = _OwnedEntry(out.value)  # ct_get's entry is ours: freed with the Entry
        try:
            return Reader().read_kept(owned.ptr, owned)
        except BaseException:
            owned.close()
            raise

    # -- changing -------------------------------------------------------------------------

    def _entry_op(self, fn, entry):
        h = self._handle()
        with c_entry(entry) as ptr:
            check(fn(h, ptr))

    def create(self, entry):
        """Creates `entry` (original tuple and timeout needed; the reply tuple defaults to
        the inverse). Raises EntryExistsError when the tuple is taken in that zone,
        TableFullError when the kernel has no room for it (nf_conntrack_max reached)."""
        self._entry_op(lib.ct_create, entry)

    def update(self, entry):
        """Updates the entry with `entry`'s tuple and zone: the timeout, mark, status,
        labels (all 128 bits are replaced) and protocol state `entry` holds. Raises
        NotFoundError when absent. Labels need the kernel's label extension on the entry
        (present only while a rule in the namespace uses labels); without it the kernel
        answers ENOSPC (KernelError)."""
        self._entry_op(lib.ct_update, entry)

    def delete(self, entry):
        """Deletes the entry with `entry`'s tuple and zone (0 when None); when `entry`
        holds an id (entries read from the kernel do), only an entry with that id.
        Raises NotFoundError when there is none."""
        self._entry_op(lib.ct_delete, entry)

    def delete_by_id(self, entry_id):
        """Deletes the entry whose kernel id is `entry_id`. NotFoundError when absent."""
        h = self._handle()
        check(lib.ct_delete_by_id(h, _u32(entry_id, "id")))

    def delete_matching(self, *filters):
        """Deletes every entry matching any of `filters` (at least one Filter), in one dump
        of the table however many filters there are, and returns how many went. The
        deletes go out while the dump is read: memory stays flat whatever the number of
        matches, and entries gone meanwhile are neither errors nor counted."""
        if not filters:
            raise TypeError("a Filter is required here (use flush() for the whole table)")
        h = self._handle()
        n = ctypes.c_uint64(0)
        if len(filters) == 1:
            with c_filter(filters[0], required=True) as fp:
                check(lib.ct_delete_matching(h, fp, ctypes.byref(n)))
        else:
            with c_filters(filters) as sp:
                check(lib.ct_delete_matching_any(h, sp, ctypes.byref(n)))
        return n.value

    def dump_each_any(self, callback, *filters):
        """Streams every entry matching any of `filters` to ``callback(entry)``, in one dump
        of the table (as dump_each does for one filter); returns how many were delivered.
        With no filter, nothing matches."""
        def run(h, cb):
            with c_filters(filters) as sp:
                return lib.ct_dump_any(h, sp, cb, None)

        return self._dump_to(callback, run)

    def list_any(self, *filters):
        """Every entry matching any of `filters`, as a list of Entry (one dump)."""
        got = []
        self.dump_each_any(got.append, *filters)
        return got

    def flush(self):
        """Empties the whole table of the handle's namespace (both families, every zone)."""
        check(lib.ct_flush(self._handle()))

    def flush_matching(self, filter):
        """Flushes every entry matching `filter` (required), by the fastest means that
        removes exactly the matching entries on the running kernel. Returns how many went,
        or None when the kernel flushed them itself without saying (CT_COUNT_UNKNOWN; use
        delete_matching when the count matters)."""
        h = self._handle()
        n = ctypes.c_uint64(0)
        with c_filter(filter, required=True) as fp:
            check(lib.ct_flush_matching(h, fp, ctypes.byref(n)))
        return None if n.value == _lib.CT_COUNT_UNKNOWN else n.value

    def batch(self):
        """A new Batch that send() sends on this handle."""
        return Batch(self)

    # -- expectations ---------------------------------------------------------------------

    def expectations(self):
        """Every expectation of the handle's namespace (``conntrack -L expect``), as a list
        of Expectation."""
        h = self._handle()
        reader = ExpectReader()
        got = []
        state = {"error": None}

        def trampoline(expect_ptr, _user_data):
            # Nothing may escape into C: any exception stops the dump and is re-raised.
            try:
                got.append(reader.read(expect_ptr))
                return 0
            except BaseException as e:  # noqa: B902 - re-raised after ct_expect_dump returns
                state["error"] = e
                return 1

        cb = _lib.EXPECT_CB(trampoline)  # kept alive by this frame for the whole call
        rc = lib.ct_expect_dump(h, cb, None)
        failure = last_error(rc) if rc != _lib.CT_OK else None
        _raise_after_callbacks(state, failure)
        return got

    def create_expectation(self, expectation):
        """Creates `expectation` (an Expectation with master, expected and mask tuples).
        The master connection must exist with a helper attached (NotFoundError otherwise);
        EntryExistsError when it is already expected."""
        h = self._handle()
        with c_expect(expectation) as ptr:
            check(lib.ct_expect_create(h, ptr))

    def delete_expectation(self, expectation):
        """Deletes the expectation with `expectation`'s expected tuple and zone (None: 0).
        NotFoundError when there is none."""
        h = self._handle()
        with c_expect(expectation) as ptr:
            check(lib.ct_expect_delete(h, ptr))

    def flush_expectations(self):
        """Empties the expectation table of the handle's namespace."""
        check(lib.ct_expect_flush(self._handle()))

    # -- table size and statistics ----------------------------------------------------------

    def count(self):
        """``(count, max)``: the number of entries in the table of the handle's namespace
        (``conntrack -C``) and the table's limit (net.netfilter.nf_conntrack_max)."""
        h = self._handle()
        n = ctypes.c_uint32(0)
        limit = ctypes.c_uint32(0)
        check(lib.ct_count(h, ctypes.byref(n), ctypes.byref(limit)))
        return n.value, limit.value

    def stats(self):
        """The statistics summed over every CPU, as a Stats (``cpu`` is 0)."""
        h = self._handle()
        total = _lib.CtStats()
        check(lib.ct_stats_total(h, ctypes.byref(total)))
        return Stats._from_c(total)

    def stats_per_cpu(self):
        """The statistics of each CPU (``conntrack -S``), a list of Stats in the kernel's
        order."""
        h = self._handle()
        n = ctypes.c_size_t(0)
        size = 16
        while True:
            buf = (_lib.CtStats * size)()
            rc = lib.ct_stats_per_cpu(h, buf, size, ctypes.byref(n))
            if rc == _lib.CT_ERR_BUFFER_TOO_SMALL and n.value > size:
                size = n.value  # CPUs counted: ask again with room for all
                continue
            check(rc)
            return [Stats._from_c(buf[i]) for i in range(n.value)]


@dataclasses.dataclass(frozen=True)
class Stats:
    """Conntrack statistics as ``conntrack -S`` prints them (counters the running kernel
    does not send read 0)."""

    cpu: int = 0
    found: int = 0
    invalid: int = 0
    insert: int = 0
    insert_failed: int = 0
    drop: int = 0
    early_drop: int = 0
    error: int = 0
    search_restart: int = 0
    clash_resolve: int = 0
    chaintoolong: int = 0

    @classmethod
    def _from_c(cls, s):
        return cls(**{name: getattr(s, name) for name, _ in _lib.CtStats._fields_})


def _raise_after_callbacks(state, failure):
    """After a C call that ran Python callbacks: raises what a callback raised (it stopped
    the call), else the call's own failure (None: it succeeded)."""
    error, state["error"] = state["error"], None
    if error is not None:
        raise error
    if failure is not None:
        raise failure


# Where CT_VIEW_MORE sits in a view's little-endian `present` word (offset 4).
_MORE_BYTE = 4 + (CT_VIEW_MORE.bit_length() - 1) // 8
_MORE_BIT = 1 << ((CT_VIEW_MORE.bit_length() - 1) % 8)


def _runs_of_bytes(records):
    """(start, end) runs of `records`: each a run of bytes, or one non-bytes item."""
    runs = []
    start = 0
    for i, r in enumerate(records):
        if r.__class__ is not bytes:
            if start < i:
                runs.append((start, i))
            runs.append((i, i + 1))
            start = i + 1
    if start < len(records):
        runs.append((start, len(records)))
    return runs


def _u32(value, what):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int" % what)
    if not 0 <= value <= 0xFFFFFFFF:
        raise invalid("%s %d is out of range 0..4294967295" % (what, value))
    return value


# Views read per C call: a block of 1024 records (192 KiB) keeps the calls few and the
# buffer small.
BLOCK = 1024
FIRST_STREAM_BLOCK = 64


class _CIterator(Closing):
    """An iterator over a C object that it frees at the end, on close() or when collected;
    also a context manager. It reads the entries a block of views at a time (one C call a
    block) into Entry objects; threads may share it: a lock keeps the C object alive while
    a block is read. Subclasses keep the object in ``_ptr``, say how to read the next
    block (``_read_block_locked``, appending Entry objects to a list; False at the end)
    and how to free it (``_free``)."""

    _ptr = None

    def __init__(self, ptr):
        self._ptr = ptr
        self._ready = collections.deque()
        self._buf = None
        self._lock = threading.Lock()

    def _buffer(self):
        if self._buf is None:
            self._buf = ctypes.create_string_buffer(BLOCK * VIEW_SIZE)
        return self._buf

    def __iter__(self):
        return self

    def __next__(self):
        ready = self._ready
        while True:
            try:
                return ready.popleft()  # atomic: no lock needed for entries already read
            except IndexError:
                pass
            with self._lock:
                if ready:
                    continue  # another thread filled it meanwhile
                if self._ptr is None:
                    raise StopIteration
                got = []
                try:
                    more = self._read_block_locked(got)
                except BaseException:
                    self._close_locked()
                    raise
                ready.extend(got)
                if not more:
                    self._close_locked()
                    if not got:
                        raise StopIteration

    def _read_all(self):
        """Every entry left, as a list (what list(it) gives, without a call per entry)."""
        out = list(self._ready)
        self._ready.clear()
        with self._lock:
            try:
                while self._ptr is not None and self._read_block_locked(out):
                    pass
            finally:
                self._close_locked()
        return out

    def close(self):
        """Frees the C object now; the iteration ends."""
        with self._lock:
            self._close_locked()
            self._ready.clear()

    def _close_locked(self):
        ptr, self._ptr = self._ptr, None
        self._buf = None
        if ptr:
            type(self)._free(ptr)

    def __del__(self):
        if getattr(self, "_lock", None) is not None:
            self.close()


class EntryIterator(_CIterator):
    """Iterates a C entry list made by ct_list, making the Entry objects a block at a time
    (ct_entry_list_views); frees the list at the end, on close() or when collected."""

    _free = lib.ct_entry_list_free

    def __init__(self, list_ptr):
        super().__init__(list_ptr)
        self._len = lib.ct_entry_list_len(list_ptr)
        self._next = 0
        self._count = ctypes.c_size_t(0)

    def _read_block_locked(self, out):
        if self._next >= self._len:
            return False
        buf = self._buffer()
        first = self._next
        check(lib.ct_entry_list_views(self._ptr, first, buf, VIEW_SIZE, BLOCK,
                                      ctypes.byref(self._count)))
        n = self._count.value
        if n == 0:
            return False
        self._next = first + n
        block = ctypes.string_at(buf, n * VIEW_SIZE)
        start = len(out)
        entries_of_block(block, n, out)
        # The rare entry with fields beyond its view keeps a copy of its C entry.
        presents = memoryview(block).cast("I")[1::VIEW_SIZE // 4]
        if any(p & CT_VIEW_MORE for p in presents):
            for k, p in enumerate(presents):
                if p & CT_VIEW_MORE:
                    ptr = lib.ct_entry_list_get(self._ptr, first + k)
                    out[start + k]._source = _OwnedEntry(clone_c_entry(ptr))
        return self._next < self._len

    def __length_hint__(self):
        return len(self._ready) + (0 if self._ptr is None else self._len - self._next)


class CursorIterator(_CIterator):
    """Iterates a C cursor made by ct_cursor_open, making the Entry objects a block at a
    time as they are read (ct_cursor_next_views); frees the cursor (which lets its handle
    go; what is left of the dump is read and dropped) at the end, on close() or when
    collected."""

    _free = lib.ct_cursor_free

    def __init__(self, cursor_ptr, owner):
        super().__init__(cursor_ptr)
        self._owner = owner  # the Conntrack, kept while the cursor holds its handle
        self._count = ctypes.c_size_t(0)
        # A small first block: a caller who stops after a few entries has read little,
        # and the handle stays busy (the dump unfinished) while they look at them.
        self._capacity = FIRST_STREAM_BLOCK

    def _read_block_locked(self, out):
        buf = self._buffer()
        capacity, self._capacity = self._capacity, BLOCK
        rc = lib.ct_cursor_next_views(self._ptr, buf, VIEW_SIZE, capacity,
                                      ctypes.byref(self._count))
        n = self._count.value
        if n:
            block = ctypes.string_at(buf, n * VIEW_SIZE)
            entries_of_block(block, n, out)
            # A block ends right after a view with CT_VIEW_MORE: only the last can have it.
            last = (n - 1) * VIEW_SIZE
            if _present(block, last) & CT_VIEW_MORE:
                ptr = ctypes.c_void_p()
                check(lib.ct_cursor_last(self._ptr, ctypes.byref(ptr)))
                out[-1]._source = _OwnedEntry(clone_c_entry(ptr.value))
        if rc != _lib.CT_OK:
            raise last_error(rc)
        return n != 0

    def _close_locked(self):
        super()._close_locked()
        self._owner = None


class Batch(Owned):
    """Creates, updates and deletes sent together, with an outcome per request.

    ``add_create``/``add_update``/``add_delete`` queue a request (the entry is copied)
    and return its index; ``send()`` sends them all and returns one result per request,
    in order: None for success, or the ConntrackError instance (NotFoundError,
    EntryExistsError, InvalidArgumentError for an entry lacking what the request needs,
    ...) that request failed with. Adding after a send starts a new batch. Free it with
    close() or a ``with`` block (it is also freed when collected).
    """

    _attr, _kind, _what = "_b", "Batch", "Batch"
    _close_fn = lib.ct_batch_free

    def __init__(self, conntrack=None):
        self._b = None
        self._sent = False
        self.conntrack = conntrack
        out = ctypes.c_void_p()
        check(lib.ct_batch_new(ctypes.byref(out)))
        self._b = out.value

    def _batch(self):
        if self._b is None:
            raise ValueError("operation on a closed Batch")
        return self._b

    def _add(self, fn, entry):
        b = self._batch()
        # One record (ct_entry_from_view) instead of a setter call per field; a refused
        # entry raises here.
        with c_entry(entry) as ptr:
            check(fn(b, ptr))
        self._sent = False
        # The new request is the last one (adding after a send started a new batch).
        return lib.ct_batch_len(b) - 1

    def add_create(self, entry):
        """Queues the creation of `entry`; returns the request's index."""
        return self._add(lib.ct_batch_add_create, entry)

    def add_update(self, entry):
        """Queues an update of the entry with `entry`'s tuple and zone; returns the index."""
        return self._add(lib.ct_batch_add_update, entry)

    def add_delete(self, entry):
        """Queues the deletion of the entry with `entry`'s tuple and zone (and id when
        set); returns the index."""
        return self._add(lib.ct_batch_add_delete, entry)

    def _add_many(self, op, add_one, entries):
        b = self._batch()
        # Every entry's record first (an entry made in Python keeps the one packed when it
        # was built; one read from the kernel passes its own): a bad value raises before
        # anything is queued. An entry with a helper (not in the view) is kept as itself.
        records = []
        append = records.append
        plain = True
        for e in entries:
            if e.__class__ is not Entry and not isinstance(e, Entry):
                raise TypeError("expected a conntrack.Entry, not %s" % type(e).__name__)
            r = e._r
            if r is None:
                b_ = e._b
                if b_ is not None and e._v is None:
                    # Read from the kernel and unchanged: its own view, unless it holds
                    # fields beyond it (record_of decides those).
                    o = e._o
                    if not b_[o + _MORE_BYTE] & _MORE_BIT:
                        append(b_[o:o + VIEW_SIZE])
                        continue
                r = record_of(e)
                if r is None:
                    r = e
                    plain = False
            append(r)
        first = lib.ct_batch_len(b) if not self._sent else 0
        if plain:
            runs = [(0, len(records))] if records else []
        else:
            runs = _runs_of_bytes(records)
        for start, end in runs:
            if records[start].__class__ is bytes:
                # A run of records: one join and one C call.
                check(lib.ct_batch_add_views(b, op, b"".join(records[start:end]), VIEW_SIZE,
                                             end - start))
            else:
                add_one(records[start])  # its setters, alone
            self._sent = False
        return range(first, first + len(records))

    def add_creates(self, entries):
        """Queues the creation of every Entry of `entries` (in order), passed to the
        library as one block of views; returns the range of their indexes. Unlike
        add_create, an entry the library refuses (a port on ICMP, say) is not raised
        here: it takes its index and its outcome is the error. Values out of range
        for their field raise before anything is queued for them."""
        return self._add_many(_lib.CT_BATCH_CREATE, self.add_create, entries)

    def add_updates(self, entries):
        """Queues updates for every Entry of `entries`, as add_creates does."""
        return self._add_many(_lib.CT_BATCH_UPDATE, self.add_update, entries)

    def add_deletes(self, entries):
        """Queues deletions for every Entry of `entries` (by tuple and zone, and id when
        set, as add_delete), as add_creates does; entries read from the kernel are
        passed as the very records they were read in."""
        return self._add_many(_lib.CT_BATCH_DELETE, self.add_delete, entries)

    def _add_columns(self, op, template, columns):
        records, n = pack_columns(template, columns)  # raises before anything is queued
        return self._add_records(op, records, n)

    def _add_records(self, op, records, n):
        """Queues the `n` requests of `op` of the bytearray `records` (ct_view records, as
        columns.pack makes them); returns the range of their indexes."""
        b = self._batch()
        first = lib.ct_batch_len(b) if not self._sent else 0
        if n:
            # The bytearray passed in place (a char array over it), not copied.
            check(lib.ct_batch_add_views(b, op, (ctypes.c_char * len(records)).from_buffer(records),
                                         VIEW_SIZE, n))
            self._sent = False
        return range(first, first + n)

    def add_create_columns(self, template=None, **columns):
        """Queues N creations given as columns: `template` (an Entry) holds the fields
        every entry shares, and each keyword a field that varies, as a sequence of N
        values (orig_src, orig_dst, reply_src, reply_dst; orig_sport, orig_dport,
        reply_sport, reply_dport; orig_/reply_icmp_type, _code, _id; zone, mark, status,
        timeout, id, tcp_state, sctp_state). Returns the range of the requests' indexes.

        The records are built by C loops (array.array and memoryview), not an Entry an
        entry: lists of ints (IPv4 addresses as 32-bit ints, IPv6 ones as 128-bit ints),
        of packed addresses (bytes) or array.array columns are the fast forms; addresses
        as text cost an inet_pton each. A column's field replaces the template's; the
        reply tuple is the template's (with its reply columns) when it holds a reply
        address, else the library uses the inverse of each original tuple. Wrong types,
        values out of range, addresses of the other family, unknown columns and columns
        of unequal lengths raise (TypeError or InvalidArgumentError, naming the column and
        the entry) before anything is queued; a request the library refuses takes its
        index with the reason as its outcome, as with add_creates."""
        return self._add_columns(_lib.CT_BATCH_CREATE, template, columns)

    def add_update_columns(self, template=None, **columns):
        """Queues N updates given as columns, as add_create_columns."""
        return self._add_columns(_lib.CT_BATCH_UPDATE, template, columns)

    def add_delete_columns(self, template=None, **columns):
        """Queues N deletions given as columns (by tuple and zone), as add_create_columns."""
        return self._add_columns(_lib.CT_BATCH_DELETE, template, columns)

    def __len__(self):
        return lib.ct_batch_len(self._batch())

    def clear(self):
        """Removes every request and outcome."""
        check(lib.ct_batch_clear(self._batch()))
        self._sent = False

    def send(self, conntrack=None):
        """Sends every request on `conntrack` (default: the handle the batch was made
        for) and returns the list of outcomes, in request order (None or an exception
        instance). When the batch cannot be sent as a whole the ConntrackError is raised,
        with ``.results``: the outcomes known (those of requests whose answer was lost or
        never came are that error itself)."""
        ct = conntrack if conntrack is not None else self.conntrack
        if ct is None:
            raise TypeError("send() needs a Conntrack: Batch(conntrack) or send(conntrack)")
        h = ct._handle()
        b = self._batch()
        failed = ctypes.c_size_t(0)
        rc = lib.ct_batch_send(h, b, ctypes.byref(failed))
        failure = last_error(rc) if rc != _lib.CT_OK else None
        self._sent = True
        if failure is None and failed.value == 0:
            # Every request succeeded: no need to ask for each outcome.
            return [None] * lib.ct_batch_len(b)
        results = self.results(unknown=failure)
        if failure is not None:
            failure.results = results
            raise failure
        return results

    def results(self, unknown=None):
        """The outcomes of the last send, in order (None or an exception instance);
        `unknown` stands for a request without a recorded outcome (default: the error
        ct_batch_result gave for it). ValueError when the batch was not sent since it
        last changed."""
        b = self._batch()
        if not self._sent:
            raise ValueError("the batch has not been sent since its last change")
        out = []
        status = _lib.status_t()
        err = ctypes.c_int32()
        for i in range(lib.ct_batch_len(b)):
            rc = lib.ct_batch_result(b, i, ctypes.byref(status), ctypes.byref(err))
            if rc != _lib.CT_OK:
                out.append(unknown if unknown is not None else last_error(rc))
            elif status.value == _lib.CT_OK:
                out.append(None)
            else:
                # The message pointer lives until the next call on the batch: copy now.
                message = _lib.text_at(lib.ct_batch_result_message(b, i)) or ""
                out.append(error_for(status.value, message, err.value))
        return out

    def close(self):
        """Frees the batch. Idempotent."""
        self._free()
