"""The Python side of `make bench-bindings`: run inside the benchmark's namespace.

    bindings.py read N ZONE [RAW_DUMP]
                               dump the table to Entry objects, list ZONE, and the anchors:
                               pyroute2's dump, the Neutron drop-in's list_entries(ZONE)
                               and libnetfilter_conntrack through ctypes as Neutron uses it
    bindings.py write N ZONE   batch-create N entries in ZONE, then batch-delete them: from
                               Entry objects, and as columns (Batch.add_create_columns)
    bindings.py neutron OP ZONE [RAW_DUMP]
                               the Neutron drop-in's list_entries(ZONE) and the
                               libnetfilter_conntrack way, reported as op=OP; with
                               RAW_DUMP (bench/anchors/raw-dump), the floor first: a dump
                               of ZONE with nothing decoded, in the same run

Prints one line per measurement:
    lang=L op=O n=N secs=S per_entry_ns=P bytes_per_entry=B
bytes_per_entry is the growth of resident memory while the result is held (0 when
nothing is kept). The entries are those of bench/ct-bench.c: UDP 10.0.x.y:1024+(i%1024)
-> 10.200.0.1:53.
"""

import ctypes
import ctypes.util
import gc
import ipaddress
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import conntrack  # noqa: E402
from conntrack import Entry, Filter  # noqa: E402
from conntrack import netlink_lib  # noqa: E402

BATCH = 16384  # requests per send, as ct-bench


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def line(lang, op, n, secs, grown=0):
    per = secs * 1e9 / n if n else 0.0
    per_b = grown / n if n and grown > 0 else 0
    print("lang=%s op=%s n=%d secs=%.3f per_entry_ns=%.0f bytes_per_entry=%.0f"
          % (lang, op, n, secs, per, per_b), flush=True)


def measure(fn):
    """(result, seconds, resident growth while the result is held)."""
    gc.collect()
    before = rss()
    t0 = time.perf_counter()
    result = fn()
    secs = time.perf_counter() - t0
    return result, secs, rss() - before


DST = ipaddress.IPv4Address("10.200.0.1")


def workload(i, zone):
    s = (10 << 24) | ((i >> 10) + 1)
    return Entry(proto=17, orig_src=ipaddress.IPv4Address(s), orig_dst=DST,
                 orig_sport=1024 + (i & 1023), orig_dport=53, zone=zone, timeout=3600)


# -- libnetfilter_conntrack through ctypes, the way Neutron's netlink_lib drives it: one
# handle per IP version, a dump with a callback that prints each entry as text
# (nfct_snprintf, plain with the time), then the zone found by a regular expression and the
# tuple taken from the text's words by position.
NFCT_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
CONNTRACK_SUBSYS, NFCT_Q_DUMP, NFCT_T_ALL, NFCT_CB_CONTINUE = 1, 5, 7, 1
NFCT_O_PLAIN, NFCT_OF_TIME = 0, 2
TEXT_MAX = 1024
WORDS = {  # word positions of (sport or type, dport or code, src, dst[, id]) in the text
    "udp": (6, 7, 4, 5), "tcp": (7, 8, 5, 6),
    "icmp": (6, 7, 4, 5, 8), "icmpv6": (6, 7, 4, 5, 8),
}


def nfct_library():
    name = ctypes.util.find_library("netfilter_conntrack")
    if not name:
        return None
    nfct = ctypes.CDLL(name)
    nfct.nfct_open.restype = ctypes.c_void_p
    nfct.nfct_open.argtypes = [ctypes.c_uint8, ctypes.c_uint]
    nfct.nfct_close.argtypes = [ctypes.c_void_p]
    nfct.nfct_callback_register.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                            ctypes.c_void_p]
    nfct.nfct_query.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    nfct.nfct_snprintf.argtypes = [ctypes.c_char_p, ctypes.c_uint, ctypes.c_void_p,
                                   ctypes.c_uint, ctypes.c_uint, ctypes.c_uint]
    return nfct


def nfct_list_entries(nfct, zone):
    out = []
    zone_re = re.compile(r"\bzone=%d\b" % zone)
    for version, family in ((4, 2), (6, 10)):
        texts = []
        buf = ctypes.create_string_buffer(TEXT_MAX)

        @NFCT_CALLBACK
        def take(msg_type, ct, data):
            nfct.nfct_snprintf(buf, TEXT_MAX, ct, msg_type, NFCT_O_PLAIN, NFCT_OF_TIME)
            texts.append(buf.value.decode())
            return NFCT_CB_CONTINUE

        h = nfct.nfct_open(CONNTRACK_SUBSYS, 0)
        if not h:
            raise OSError("nfct_open failed")
        try:
            nfct.nfct_callback_register(h, NFCT_T_ALL, take, None)
            fam = ctypes.c_int(family)
            nfct.nfct_query(h, NFCT_Q_DUMP, ctypes.byref(fam))
        finally:
            nfct.nfct_close(h)
        for text in texts:
            if zone_re.search(text) is None:
                continue
            words = text.split()
            proto = words[1]
            row = [version, proto]
            for pos in WORDS.get(proto, ()):
                value = words[pos].partition("=")[2]
                row.append(int(value) if value.isdigit() else value)
            row.append(zone)
            out.append(tuple(row))
    return sorted(out, key=lambda x: x[3])


def read(n, zone, raw_dump=None):
    with conntrack.Conntrack() as ct:
        def dump():
            count = 0
            for _ in ct.dump():
                count += 1
            return count

        got, secs, grown = measure(dump)
        line("python", "dump", got, secs, 0)

        def dump_fields():
            # The same, reading a field of each entry: its view decoded.
            return sum(1 for e in ct.dump() if e.orig_dport == 53)

        got, secs, _ = measure(dump_fields)
        line("python", "dump_decode", got, secs, 0)

        kept, secs, grown = measure(lambda: list(ct.dump(Filter(zone=zone))))
        line("python", "list_zone", len(kept), secs, grown)
        del kept

    try:
        from pyroute2 import NFCTSocket
    except ImportError:  # pragma: no cover - the bench installs it
        print("# pyroute2 missing: no anchor", file=sys.stderr)
    else:
        def pyroute2_dump():
            # Its parsed netlink messages: the faster of its two ways (Conntrack's
            # dump_entries makes ConntrackEntry objects from them, about 4 times slower).
            sock = NFCTSocket()
            try:
                return sum(1 for _ in sock.dump())
            finally:
                sock.close()

        got, secs, _ = measure(pyroute2_dump)
        line("pyroute2", "dump", got, secs, 0)

    return neutron("list_entries", zone, raw_dump)


def neutron(op, zone, raw_dump):
    """The drop-in's list_entries(zone) beside libnetfilter_conntrack through ctypes (the
    same tuples, checked), after the floor (raw_dump: a dump of the zone nothing decodes)."""
    if raw_dump:
        out = subprocess.run([raw_dump, str(zone)], stdout=subprocess.PIPE, text=True,
                             check=True).stdout
        f = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
        line("raw-floor", op, int(f["n"]), float(f["secs"]), 0)
    kept, secs, grown = measure(lambda: netlink_lib.list_entries(zone))
    line("python-neutron-dropin", op, len(kept), secs, grown)
    ours = kept
    del kept
    nfct = nfct_library()
    if nfct is None:
        print("# libnetfilter_conntrack missing: no anchor", file=sys.stderr)
    else:
        kept, secs, grown = measure(lambda: nfct_list_entries(nfct, zone))
        line("python-nfct-ctypes", op, len(kept), secs, grown)
        if sorted(kept) != sorted(ours):
            print("# the two list_entries differ: %d vs %d tuples" % (len(kept), len(ours)),
                  file=sys.stderr)
            return 1
    return 0


def write(n, zone):
    fails = 0
    with conntrack.Conntrack() as ct:
        def bulk(add, entries_of):
            failed = 0
            with ct.batch() as b:
                for start in range(0, n, BATCH):
                    add(b, entries_of(start, min(n, start + BATCH)))
                    failed += sum(r is not None for r in b.send())
                    b.clear()
            return failed

        def made(start, end):
            return [workload(i, zone) for i in range(start, end)]

        # As ct-bench does: each entry made (an Entry object here) and queued, then sent.
        got, secs, _ = measure(lambda: bulk(conntrack.Batch.add_creates, made))
        line("python", "create", n, secs, 0)
        fails += got
        got, secs, _ = measure(lambda: bulk(conntrack.Batch.add_deletes, made))
        line("python", "delete", n, secs, 0)
        fails += got
        # The same with the Entry objects made beforehand (creates), and deleting the
        # entries a dump gave (their records are passed back as they are).
        prebuilt = made(0, n)
        got, secs, _ = measure(lambda: bulk(conntrack.Batch.add_creates,
                                            lambda a, b: prebuilt[a:b]))
        line("python", "create_prebuilt", n, secs, 0)
        fails += got
        dumped = ct.list(Filter(zone=zone))
        got, secs, _ = measure(lambda: bulk(conntrack.Batch.add_deletes,
                                            lambda a, b: dumped[a:b]))
        line("python", "delete_dumped", n, secs, 0)
        fails += got
        # As columns: a template with what workload() gives every entry, and the two
        # values it derives from i (the source address as an int, the source port) made
        # from i inside the timed loop, a batch at a time.
        template = Entry(proto=17, orig_dst=DST, orig_dport=53, zone=zone, timeout=3600)

        def columns(add, tmpl):
            def one(b, start, end):
                add(b, tmpl,
                    orig_src=[(10 << 24) | ((i >> 10) + 1) for i in range(start, end)],
                    orig_sport=[1024 + (i & 1023) for i in range(start, end)])
            return one

        def bulk_columns(add):
            failed = 0
            with ct.batch() as b:
                for start in range(0, n, BATCH):
                    add(b, start, min(n, start + BATCH))
                    failed += sum(r is not None for r in b.send())
                    b.clear()
            return failed

        got, secs, _ = measure(lambda: bulk_columns(
            columns(conntrack.Batch.add_create_columns, template)))
        line("python", "create_columns", n, secs, 0)
        fails += got
        got, secs, _ = measure(lambda: bulk_columns(
            columns(conntrack.Batch.add_delete_columns, template)))
        line("python", "delete_columns", n, secs, 0)
        fails += got
    if fails:
        print("# %d requests failed" % fails, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "neutron":
        sys.exit(neutron(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None))
    what, count, zone_arg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if what == "read":
        sys.exit(read(count, zone_arg, sys.argv[4] if len(sys.argv) > 4 else None))
    sys.exit(write(count, zone_arg))
