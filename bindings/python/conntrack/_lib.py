"""Loading libconntrack and declaring the C prototypes (ctypes only).

Where the library comes from, first match wins:

1. the file named by the environment variable ``CONNTRACK_LIBRARY`` (an error if it
   cannot be loaded: a name given explicitly is never silently replaced);
2. a copy bundled in the package (``conntrack/libconntrack.so.0``, in a wheel built with
   CONNTRACK_BUNDLE_LIBRARY set);
3. ``libconntrack.so.0`` through the system's dynamic loader, so ``LD_LIBRARY_PATH``,
   ``/etc/ld.so.conf`` and an installed copy (``make install``) all work;
4. the in-tree build, ``build/lib/libconntrack.so.0`` at the top of the checkout this
   package lives in (``bindings/python/conntrack`` -> ``../../../build/lib``), or, for a
   package installed from a checkout (``pip install bindings/python``), that checkout's
   (``_tree.py``, written by the build).
"""

import ctypes
import os
import struct

SONAME = "libconntrack.so.0"
ENV_VAR = "CONNTRACK_LIBRARY"
# The major version this binding was written for (CT_VERSION_MAJOR of the header).
ABI_MAJOR = 0

_HERE = os.path.dirname(os.path.abspath(__file__))
IN_TREE = os.path.normpath(os.path.join(_HERE, "..", "..", "..", "build", "lib", SONAME))
BUNDLED = os.path.join(_HERE, SONAME)
try:
    from ._tree import BUILD_TREE_LIBRARY  # the checkout an installed copy was built from
except ImportError:
    BUILD_TREE_LIBRARY = None

# ct_status numbers (include/conntrack.h); they never change meaning.
CT_OK = 0
CT_ERR_INVALID_ARGUMENT = 1
CT_ERR_NULL_POINTER = 2
CT_ERR_NOT_FOUND = 3
CT_ERR_EXISTS = 4
CT_ERR_PERMISSION = 5
CT_ERR_BUFFER_TOO_SMALL = 6
CT_ERR_DUMP_INTERRUPTED = 7
CT_ERR_UNSUPPORTED = 8
CT_ERR_NETNS = 9
CT_ERR_KERNEL = 10
CT_ERR_MALFORMED = 11
CT_ERR_INTERNAL = 12
CT_ERR_NOT_SET = 13
CT_ERR_OVERRUN = 14
CT_ERR_BUSY = 15
CT_ERR_TABLE_FULL = 16

CT_ORIG_SRC, CT_ORIG_DST, CT_REPLY_SRC, CT_REPLY_DST = 0, 1, 2, 3
CT_DIR_ORIG, CT_DIR_REPLY = 0, 1
CT_FORMAT_EXTENDED, CT_FORMAT_ID, CT_FORMAT_TIMESTAMP = 1, 2, 4
CT_ADDR_TEXT_MAX = 46
# What ct_flush_matching reports when the kernel did not say how many entries went.
CT_COUNT_UNKNOWN = 2**64 - 1
CT_NAT_SRC, CT_NAT_DST, CT_NAT_ANY = 1, 2, 3
CT_EVENT_NEW, CT_EVENT_UPDATE, CT_EVENT_DESTROY, CT_EVENT_ALL = 1, 2, 4, 7
CT_EXPECT_MASTER, CT_EXPECT_TUPLE, CT_EXPECT_MASK = 0, 1, 2
CT_BATCH_CREATE, CT_BATCH_UPDATE, CT_BATCH_DELETE = 0, 1, 2

# ct_view, the flat entry record (include/conntrack.h), as a struct format: size, present,
# family, proto, zone, mark, status, timeout, id, use_count, tcp/sctp/dccp state,
# dir_zone_dir, four ports, ICMP type/code/id of both tuples, TCP window scales, dir_zone,
# four 16-byte addresses, four counters, two timestamps, 16 label bytes, secmark, TCP
# flags and masks of both directions. Little-endian: the library's ct_view is host order,
# and this binding is for Linux on little-endian machines (checked below).
_VIEW = struct.Struct("<IIBBHIIIIIBBBBHHHHBBHBBHBBH16s16s16s16sQQQQQQ16sIBBBB")
VIEW_SIZE = _VIEW.size  # 192
(
    CT_VIEW_FAMILY, CT_VIEW_PROTO, CT_VIEW_ORIG_SRC, CT_VIEW_ORIG_DST, CT_VIEW_REPLY_SRC,
    CT_VIEW_REPLY_DST, CT_VIEW_ORIG_SPORT, CT_VIEW_ORIG_DPORT, CT_VIEW_REPLY_SPORT,
    CT_VIEW_REPLY_DPORT, CT_VIEW_ORIG_ICMP, CT_VIEW_REPLY_ICMP, CT_VIEW_ZONE, CT_VIEW_MARK,
    CT_VIEW_STATUS, CT_VIEW_TIMEOUT, CT_VIEW_ID, CT_VIEW_USE, CT_VIEW_TCP_STATE,
    CT_VIEW_SCTP_STATE, CT_VIEW_DCCP_STATE, CT_VIEW_ORIG_COUNTERS, CT_VIEW_REPLY_COUNTERS,
    CT_VIEW_TIMESTAMP_START, CT_VIEW_TIMESTAMP_STOP, CT_VIEW_LABELS, CT_VIEW_SECMARK,
    CT_VIEW_TCP_WSCALE, CT_VIEW_TCP_FLAGS_ORIG, CT_VIEW_TCP_FLAGS_REPLY, CT_VIEW_MORE,
) = (1 << i for i in range(31))
# dir_zone is the zone of direction dir_zone_dir alone (--orig-zone/--reply-zone).
CT_VIEW_DIR_ZONE = 1 << 31


def _load():
    """Returns (CDLL, how it was found)."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        try:
            return ctypes.CDLL(explicit), explicit
        except OSError as e:
            raise ImportError(
                "conntrack: cannot load %s=%s: %s" % (ENV_VAR, explicit, e)
            ) from e
    errors = []
    if os.path.exists(BUNDLED):
        try:
            return ctypes.CDLL(BUNDLED), BUNDLED
        except OSError as e:
            errors.append("%s: %s" % (BUNDLED, e))
    for candidate in (SONAME, IN_TREE, BUILD_TREE_LIBRARY):
        if candidate is None:
            continue
        try:
            return ctypes.CDLL(candidate), candidate
        except OSError as e:
            errors.append("%s: %s" % (candidate, e))
    raise ImportError(
        "conntrack: libconntrack not found; set %s, install it (make install), "
        "or build it in the tree (make lib). Tried: %s" % (ENV_VAR, "; ".join(errors))
    )


lib, LOADED_FROM = _load()

# Opaque pointers: every C object is a c_void_p on this side.
P = ctypes.c_void_p
PP = ctypes.POINTER(ctypes.c_void_p)
status_t = ctypes.c_int32
u8, u16, u32, u64, i32 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int32
size_t = ctypes.c_size_t
char_p = ctypes.c_char_p
bool_t = ctypes.c_bool
U8P = ctypes.POINTER(u8)

class CtStats(ctypes.Structure):
    """ct_stats: per-CPU statistics, eleven uint32_t in the header's order."""

    _fields_ = [(name, ctypes.c_uint32) for name in (
        "cpu", "found", "invalid", "insert", "insert_failed", "drop", "early_drop", "error",
        "search_restart", "clash_resolve", "chaintoolong")]


# int32_t (*ct_dump_cb)(const ct_entry *entry, void *user_data)
DUMP_CB = ctypes.CFUNCTYPE(ctypes.c_int32, P, P)
# int32_t (*ct_expect_cb)(const ct_expect *expect, void *user_data)
EXPECT_CB = ctypes.CFUNCTYPE(ctypes.c_int32, P, P)
# int32_t (*ct_event_cb)(uint32_t event_type, const ct_entry *entry, void *user_data)
EVENT_CB = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint32, P, P)
# int32_t (*ct_mirror_cb)(uint32_t change, const ct_entry *entry, void *user_data)
MIRROR_CB = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint32, P, P)

CT_MIRROR_NEW, CT_MIRROR_UPDATE, CT_MIRROR_DESTROY, CT_MIRROR_REPAIR = 1, 2, 4, 0x100


class CtMirrorCounters(ctypes.Structure):
    """ct_mirror_counters, in the header's order."""

    _fields_ = [(name, ctypes.c_uint64) for name in (
        "events", "overruns", "repairs", "repaired_entries", "stale_ms", "last_repair_ms")] + [
        ("stale", ctypes.c_uint32), ("reserved", ctypes.c_uint32)]

_PROTOTYPES = {
    # batches
    "ct_batch_new": (status_t, [PP]),
    "ct_batch_free": (None, [P]),
    "ct_batch_add_create": (status_t, [P, P]),
    "ct_batch_add_update": (status_t, [P, P]),
    "ct_batch_add_delete": (status_t, [P, P]),
    "ct_batch_len": (size_t, [P]),
    "ct_batch_clear": (status_t, [P]),
    "ct_batch_send": (status_t, [P, P, ctypes.POINTER(size_t)]),
    "ct_batch_result": (status_t, [P, size_t, ctypes.POINTER(status_t), ctypes.POINTER(i32)]),
    # returns a pointer owned by the batch: read as c_void_p and copied at once
    "ct_batch_result_message": (P, [P, size_t]),
    # entries
    "ct_entry_new": (status_t, [PP]),
    "ct_entry_clone": (status_t, [P, PP]),
    "ct_entry_free": (None, [P]),
    "ct_entry_set_family": (status_t, [P, u8]),
    "ct_entry_get_family": (status_t, [P, ctypes.POINTER(u8)]),
    "ct_entry_set_proto": (status_t, [P, u8]),
    "ct_entry_get_proto": (status_t, [P, ctypes.POINTER(u8)]),
    "ct_entry_set_addr": (status_t, [P, u32, char_p]),
    "ct_entry_set_addr_bytes": (status_t, [P, u32, U8P, size_t]),
    "ct_entry_get_addr": (status_t, [P, u32, ctypes.c_char_p, size_t]),
    "ct_entry_get_addr_bytes": (status_t, [P, u32, U8P, size_t, ctypes.POINTER(size_t)]),
    "ct_entry_set_port": (status_t, [P, u32, u16]),
    "ct_entry_get_port": (status_t, [P, u32, ctypes.POINTER(u16)]),
    "ct_entry_set_icmp": (status_t, [P, u32, u8, u8, u16]),
    "ct_entry_get_icmp": (
        status_t,
        [P, u32, ctypes.POINTER(u8), ctypes.POINTER(u8), ctypes.POINTER(u16)],
    ),
    "ct_entry_set_zone": (status_t, [P, u32]),
    "ct_entry_get_zone": (status_t, [P, ctypes.POINTER(u16)]),
    "ct_entry_set_dir_zone": (status_t, [P, u32, u32]),
    "ct_entry_get_dir_zone": (status_t, [P, u32, ctypes.POINTER(u16)]),
    "ct_entry_set_mark": (status_t, [P, u32]),
    "ct_entry_get_mark": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_entry_set_status": (status_t, [P, u32]),
    "ct_entry_get_status": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_entry_set_timeout": (status_t, [P, u32]),
    "ct_entry_get_timeout": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_entry_set_tcp_state": (status_t, [P, u8]),
    "ct_entry_get_tcp_state": (status_t, [P, ctypes.POINTER(u8)]),
    "ct_entry_set_sctp_state": (status_t, [P, u8]),
    "ct_entry_get_sctp_state": (status_t, [P, ctypes.POINTER(u8)]),
    "ct_entry_get_dccp_state": (status_t, [P, ctypes.POINTER(u8)]),
    "ct_entry_set_id": (status_t, [P, u32]),
    "ct_entry_get_id": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_entry_get_use": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_entry_get_counters": (status_t, [P, u32, ctypes.POINTER(u64), ctypes.POINTER(u64)]),
    "ct_entry_get_timestamp_start": (status_t, [P, ctypes.POINTER(u64)]),
    "ct_entry_get_timestamp_stop": (status_t, [P, ctypes.POINTER(u64)]),
    "ct_entry_set_label": (status_t, [P, u32, bool_t]),
    "ct_entry_get_label": (status_t, [P, u32, ctypes.POINTER(bool_t)]),
    "ct_entry_set_labels": (status_t, [P, U8P, size_t]),
    "ct_entry_get_labels": (status_t, [P, U8P, size_t]),
    "ct_entry_get_secmark": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_entry_set_helper": (status_t, [P, char_p]),
    "ct_entry_get_helper": (status_t, [P, ctypes.c_char_p, size_t]),
    "ct_entry_format": (status_t, [P, u32, ctypes.c_char_p, size_t, ctypes.POINTER(size_t)]),
    # filters
    "ct_filter_new": (status_t, [PP]),
    "ct_filter_free": (None, [P]),
    "ct_filter_set_family": (status_t, [P, u8]),
    "ct_filter_set_proto": (status_t, [P, u8]),
    "ct_filter_set_zone": (status_t, [P, u32]),
    "ct_filter_set_mark": (status_t, [P, u32, u32]),
    "ct_filter_set_status": (status_t, [P, u32, u32]),
    "ct_filter_set_addr": (status_t, [P, u32, char_p]),
    "ct_filter_set_port": (status_t, [P, u32, u16]),
    "ct_filter_set_kernel_filtering": (status_t, [P, bool_t]),
    # handles and operations
    "ct_open": (status_t, [PP]),
    "ct_open_netns": (status_t, [char_p, PP]),
    "ct_close": (None, [P]),
    "ct_handle_last_error": (P, [P]),
    "ct_handle_last_errno": (i32, [P]),
    "ct_dump": (status_t, [P, P, DUMP_CB, P]),
    "ct_list": (status_t, [P, P, PP]),
    "ct_get": (status_t, [P, P, PP]),
    "ct_create": (status_t, [P, P]),
    "ct_update": (status_t, [P, P]),
    "ct_delete": (status_t, [P, P]),
    "ct_delete_by_id": (status_t, [P, u32]),
    "ct_delete_matching": (status_t, [P, P, ctypes.POINTER(u64)]),
    "ct_filter_set_nat": (status_t, [P, ctypes.c_uint32, ctypes.c_char_p]),
    "ct_filters_new": (status_t, [ctypes.POINTER(P)]),
    "ct_filters_add": (status_t, [P, P]),
    "ct_filters_free": (None, [P]),
    "ct_dump_any": (status_t, [P, P, DUMP_CB, P]),
    "ct_delete_matching_any": (status_t, [P, P, ctypes.POINTER(u64)]),
    "ct_flush": (status_t, [P]),
    "ct_flush_matching": (status_t, [P, P, ctypes.POINTER(u64)]),
    "ct_entry_list_len": (size_t, [P]),
    "ct_entry_list_get": (P, [P, size_t]),
    "ct_entry_list_free": (None, [P]),
    "ct_cursor_open": (status_t, [P, P, PP]),
    "ct_cursor_next": (status_t, [P, PP]),
    "ct_cursor_free": (None, [P]),
    # views (buffers of VIEW_SIZE-byte records: ctypes char arrays, or bytes when read-only)
    "ct_entry_view": (status_t, [P, P, size_t]),
    "ct_entry_from_view": (status_t, [char_p, PP]),
    "ct_entry_list_views": (status_t, [P, size_t, P, size_t, size_t, ctypes.POINTER(size_t)]),
    "ct_view_format": (status_t, [char_p, u32, ctypes.c_char_p, size_t, ctypes.POINTER(size_t)]),
    "ct_cursor_next_views": (status_t, [P, P, size_t, size_t, ctypes.POINTER(size_t)]),
    "ct_cursor_last": (status_t, [P, PP]),
    "ct_batch_add_views": (status_t, [P, u32, char_p, size_t, size_t]),
    # expectations
    "ct_expect_new": (status_t, [PP]),
    "ct_expect_free": (None, [P]),
    "ct_expect_set_tuple": (status_t, [P, u32, P]),
    "ct_expect_get_tuple": (status_t, [P, u32, PP]),
    "ct_expect_set_timeout": (status_t, [P, u32]),
    "ct_expect_set_zone": (status_t, [P, u32]),
    "ct_expect_set_helper": (status_t, [P, char_p]),
    "ct_expect_set_class": (status_t, [P, u32]),
    "ct_expect_get_timeout": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_expect_get_zone": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_expect_get_class": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_expect_get_flags": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_expect_get_id": (status_t, [P, ctypes.POINTER(u32)]),
    "ct_expect_get_helper": (status_t, [P, ctypes.c_char_p, size_t]),
    "ct_expect_dump": (status_t, [P, EXPECT_CB, P]),
    "ct_expect_create": (status_t, [P, P]),
    "ct_expect_delete": (status_t, [P, P]),
    "ct_expect_flush": (status_t, [P]),
    # table size and statistics
    "ct_count": (status_t, [P, ctypes.POINTER(u32), ctypes.POINTER(u32)]),
    "ct_stats_per_cpu": (status_t, [P, ctypes.POINTER(CtStats), size_t, ctypes.POINTER(size_t)]),
    "ct_stats_total": (status_t, [P, ctypes.POINTER(CtStats)]),
    # events
    "ct_events_open": (status_t, [u32, PP]),
    "ct_events_open_netns": (status_t, [char_p, u32, PP]),
    "ct_events_close": (None, [P]),
    "ct_events_fd": (i32, [P]),
    "ct_events_set_filter": (status_t, [P, P]),
    "ct_events_set_receive_buffer": (status_t, [P, size_t]),
    "ct_events_set_reliable": (status_t, [P, bool_t]),
    "ct_events_receive": (status_t, [P, i32, EVENT_CB, P, ctypes.POINTER(size_t)]),
    "ct_events_overruns": (u64, [P]),
    # the table mirror
    "ct_mirror_open": (status_t, [char_p, P, PP]),
    "ct_mirror_close": (None, [P]),
    "ct_mirror_step": (status_t, [P, i32, MIRROR_CB, P, ctypes.POINTER(size_t)]),
    "ct_mirror_fd": (i32, [P]),
    "ct_mirror_next_timeout": (i32, [P]),
    "ct_mirror_set_receive_buffer": (status_t, [P, size_t]),
    "ct_mirror_set_backoff": (status_t, [P, u32, u32]),
    "ct_mirror_request_repair": (status_t, [P]),
    "ct_mirror_count": (size_t, [P]),
    "ct_mirror_get": (status_t, [P, P, PP]),
    "ct_mirror_get_by_id": (status_t, [P, u32, PP]),
    "ct_mirror_each": (status_t, [P, DUMP_CB, P]),
    "ct_mirror_stats": (status_t, [P, ctypes.POINTER(CtMirrorCounters)]),
    # errors and version (static or thread-owned strings: copied at once)
    "ct_strerror": (P, [i32]),
    "ct_last_error_message": (P, []),
    "ct_last_errno": (i32, []),
    "ct_version": (P, []),
}

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        raise ImportError(
            "conntrack: %s is not a usable libconntrack: it lacks %s" % (LOADED_FROM, _name)
        ) from None
    _fn.restype = _restype
    _fn.argtypes = _argtypes
del _name, _restype, _argtypes, _fn


def text_at(ptr):
    """Copies the NUL-terminated UTF-8 string at `ptr` (None for NULL) into a str."""
    if not ptr:
        return None
    return ctypes.string_at(ptr).decode("utf-8", "replace")


def version():
    """The library's version text, e.g. "0.1.0"."""
    return text_at(lib.ct_version())


def strerror(status):
    """The library's sentence for a ct_status number."""
    return text_at(lib.ct_strerror(int(status)))


def _check_version():
    v = version() or ""
    try:
        major = int(v.split(".")[0])
    except ValueError:
        major = -1
    if major != ABI_MAJOR:
        raise ImportError(
            "conntrack: %s is version %r; this binding needs major version %d"
            % (LOADED_FROM, v, ABI_MAJOR)
        )


_check_version()


def check_view_layout(size=VIEW_SIZE):
    """Refuses (ImportError) a library whose ct_view is not the `size`-byte layout this
    binding decodes: it must accept a view of `size` bytes and say it wrote that size."""
    if struct.pack("=I", 1) != struct.pack("<I", 1):
        raise ImportError("conntrack: this binding reads ct_view little-endian only")
    entry = ctypes.c_void_p()
    if lib.ct_entry_new(ctypes.byref(entry)) != CT_OK:
        raise ImportError("conntrack: %s: ct_entry_new failed" % LOADED_FROM)
    try:
        buf = ctypes.create_string_buffer(size)
        rc = lib.ct_entry_view(entry, buf, size)
        written = struct.unpack_from("=I", buf.raw)[0] if rc == CT_OK else None
    finally:
        lib.ct_entry_free(entry)
    if written != size:
        raise ImportError(
            "conntrack: %s has another ct_view layout: this binding reads %d-byte views, "
            "the library %s; use a binding and library of the same release"
            % (
                LOADED_FROM,
                size,
                "refused that size" if written is None else "wrote %d bytes" % written,
            )
        )


def stops(result):
    """Whether a callback's return value stops the call. Only False stops; None (a callback
    that returns nothing) and True go on: the same mapping as C's non-zero, Rust's
    ControlFlow.Break and Go's false."""
    return result is False


check_view_layout()
