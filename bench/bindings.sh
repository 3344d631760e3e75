#!/bin/sh
# make bench-bindings: the bindings against the C library, one run in one private network
# namespace. C (bench/ct-bench.c), Go (bench/gobind) and Python (bench/bindings.py) each
# dump the same N-entry table to their native objects and count them, list one zone, and
# batch-create then batch-delete N entries; pyroute2 dumps the same table (the Python
# anchor), and the Neutron drop-in's list_entries(zone) runs beside libnetfilter_conntrack
# driven through ctypes as Neutron's own module does, after the floor (RAW_DUMP, a dump of
# the zone with nothing decoded). The Neutron pair runs twice: on that table, where the
# zone is the whole table, and on one of many zones (the listed zone 1% of the entries,
# ten others the rest), as a Neutron host has a zone per network. Prints
#   lang=L op=O n=N secs=S per_entry_ns=P bytes_per_entry=B
# lines, then each binding's time as a ratio of C's. Each line is the median of REPEATS runs
# of the program that prints it (3 by default; the machines are shared and one shot of a
# quarter-second row moves by a third from run to run). Root; Debian 12. Raises the global
# nf_conntrack_max to 2N when it is lower, as compare.sh does.
# Usage: bench/bindings.sh CT_BENCH GOBIND N [RAW_DUMP [REPEATS]]
set -eu
bench=$1
gobind=$2
n=$3
raw=${4:-}
repeats=${5:-3}
zone=7
python=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
ns=ctbind$$
out=$(mktemp)
ip netns add "$ns"
cleanup() {
    ip netns del "$ns" 2>/dev/null || true
    rm -f "$out" "$out.runs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
x() { ip netns exec "$ns" "$@"; }
# Room for the whole table: the limit is global; raised to 2N only when it is lower.
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
if [ "$max" -lt $((n * 2)) ]; then sysctl -qw net.netfilter.nf_conntrack_max=$((n * 2)); fi

# ct-bench's "op=X n=N fails=F secs=S" (and list's bytes per entry on stderr) as a line.
c_line() {
    op=$1
    shift
    x "$bench" "$@" 2>"$out.err" | awk -v op="$op" -v bytes="$(sed -n 's/.* \([0-9.]*\) bytes per entry/\1/p' "$out.err" 2>/dev/null)" '
        { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
        END {
            if (v["fails"] != 0) { print "ct-bench " op ": " v["fails"] " failed" > "/dev/stderr"; exit 1 }
            printf "lang=c op=%s n=%d secs=%.3f per_entry_ns=%.0f bytes_per_entry=%.0f\n", op, v["n"], v["secs"], v["n"] ? v["secs"] * 1e9 / v["n"] : 0, bytes + 0
        }'
    cat "$out.err" >&2
    rm -f "$out.err"
}

# ct-bench's list of a zone as a line, with the memory it reports on stderr once done.
c_list_line() {
    x "$bench" list "$zone" >"$out.list" 2>"$out.lerr"
    awk -v mem="$(sed -n 's/.* \([0-9.]*\) bytes per entry/\1/p' "$out.lerr")" '
        { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
        END { printf "lang=c op=list_zone n=%d secs=%.3f per_entry_ns=%.0f bytes_per_entry=%.0f\n", v["n"], v["secs"], v["n"] ? v["secs"] * 1e9 / v["n"] : 0, mem + 0 }' "$out.list"
    rm -f "$out.list" "$out.lerr"
}

# Runs "$@" REPEATS times; prints, for each lang and op in the order they first came, the
# line of the run whose time is the median (the lower middle one for an even count).
median() {
    : >"$out.runs"
    r=0
    while [ "$r" -lt "$repeats" ]; do
        "$@" >>"$out.runs"
        r=$((r + 1))
    done
    median_of "$out.runs"
}

median_of() {
    awk '
        { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
          k = f["lang"] " " f["op"]
          if (!(k in count)) order[++keys] = k
          c = ++count[k]; secs[k, c] = f["secs"] + 0; line[k, c] = $0 }
        END {
            for (j = 1; j <= keys; j++) {
                k = order[j]; m = count[k]
                # Insertion sort of the run indexes by time: a handful of runs.
                for (a = 1; a <= m; a++) idx[a] = a
                for (a = 2; a <= m; a++)
                    for (b = a; b > 1 && secs[k, idx[b]] < secs[k, idx[b - 1]]; b--) {
                        t = idx[b]; idx[b] = idx[b - 1]; idx[b - 1] = t
                    }
                print line[k, idx[int((m + 1) / 2)]]
            }
        }' "$1"
}

# C creates then deletes N (the pair repeated; each needs the table as the other leaves it).
c_create_delete() {
    c_line create create "$n" "$zone"
    c_line delete delete "$n" "$zone"
}

{
    c_line create create "$n" "$zone"
    median c_line dump dump
    median c_list_line
    # shellcheck disable=SC2086
    median x "$python" "$here/bindings.py" read "$n" "$zone" $raw
    median x "$gobind" read "$n" "$zone"
    c_line delete delete "$n" "$zone"
    # The kernel's speed at creating and deleting moves with the rest of the host (the
    # table is shared by every namespace): C creates and deletes again right before each
    # binding does, and each binding is compared with the C run just before it.
    median c_create_delete
    median x "$python" "$here/bindings.py" write "$n" "$zone"
    median c_create_delete
    median x "$gobind" write "$n" "$zone"
    # The table is empty again: the second shape, many zones.
    x "$bench" create $((n / 100)) "$zone" >/dev/null 2>&1
    for z in 1 2 3 4 5 6 7 8 9 10; do
        x "$bench" create $((n / 10)) $((zone + z)) >/dev/null 2>&1
    done
    # shellcheck disable=SC2086
    median x "$python" "$here/bindings.py" neutron list_entries_manyzones "$zone" $raw
} | tee "$out"

echo "# ratios to C (time; the Neutron drop-in to libnetfilter_conntrack through ctypes)"
awk '
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      key = f["lang"] " " f["op"]; secs[key] = f["secs"]; bytes[key] = f["bytes_per_entry"]
      order[++rows] = key; rsecs[rows] = f["secs"]; rbytes[rows] = f["bytes_per_entry"] }
    END {
        # Each binding operation against the C one it does the work of.
        base["dump"] = "dump"; base["dump_decode"] = "dump"; base["list_zone"] = "list_zone"
        base["create"] = "create"; base["create_prebuilt"] = "create"
        base["delete"] = "delete"; base["delete_dumped"] = "delete"
        base["create_columns"] = "create"; base["delete_columns"] = "delete"
        # Each against the C line of its operation last printed before it.
        for (r = 1; r <= rows; r++) {
            split(order[r], lo, " ")
            if (lo[1] == "c") { lastc[lo[2]] = rsecs[r]; continue }
            if (lo[1] != "python" && lo[1] != "go") continue
            c = lastc[base[lo[2]]]
            if (c > 0) printf "ratio lang=%s op=%s x_c=%.2f bytes_per_entry=%s\n", lo[1], lo[2], rsecs[r] / c, rbytes[r]
        }
        if (("pyroute2 dump" in secs) && ("python dump" in secs))
            printf "ratio lang=python op=dump x_pyroute2=%.3f\n", secs["python dump"] / secs["pyroute2 dump"]
        # The drop-in and the floor (a dump of the zone, nothing decoded) against
        # libnetfilter_conntrack through ctypes, on each table shape.
        split("list_entries list_entries_manyzones", ops, " ")
        for (k = 1; k <= 2; k++) {
            a = secs["python-neutron-dropin " ops[k]]; b = secs["python-nfct-ctypes " ops[k]]
            fl = secs["raw-floor " ops[k]]
            if (b <= 0) continue
            printf "ratio lang=python-neutron-dropin op=%s x_nfct_ctypes=%.3f", ops[k], a / b
            if (fl > 0) printf " floor_x_nfct_ctypes=%.3f", fl / b
            printf "\n"
        }
    }' "$out"
