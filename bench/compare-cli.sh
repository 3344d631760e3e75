#!/bin/bash
# ctrack beside conntrack on the same table:
#   usage: compare-cli.sh CTRACK [N] [REPEATS] [ANCHORS] [SLOW_REPEATS]
# (root; `make compare-cli`). A private network namespace gets N entries (UDP, a tenth of
# them in each of the zones 0..9, sources spread over 10.0.0.0/8 so that 10.K.0.0/16 holds a
# tenth); each row times one command line with each tool, the table refilled before every
# run that changes it, and prints the medians of REPEATS runs:
#   row=NAME ctrack=SECS conntrack=SECS ratio=R
# Each row also gives the CPU seconds (user + system) of each command, medians too: on a
# shared machine the wall time mostly measures the wait for a CPU. Where the kernel sets a
# floor, a line under the row gives it (median wall seconds, from the programs of
# bench/anchors built in ANCHORS):
#   floor=SECS what=...
# conntrack deletes one entry per round trip after dumping the table, so the Neutron row
# (100 processes, each dumping the whole table) takes it minutes per run at N = 1,000,000:
# conntrack runs that row SLOW_REPEATS times (default 1), said on the row.
# ROWS (environment), when set, names the rows to run (e.g. ROWS="list delete-zone"): the
# Neutron row alone takes conntrack minutes at a million entries.
# A benchmark, not a test: the machine is shared, so compare the columns of one run.
set -u
rows=${ROWS:-}
skip=no
# wanted NAME: whether the row NAME runs (it sets skip for the floor line under it).
wanted() {
    skip=no
    [ -z "$rows" ] && return 0
    case " $rows " in *" $1 "*) return 0 ;; esac
    skip=yes
    return 1
}
ctrack=${1:-build/bin/ctrack}
n=${2:-1000000}
repeats=${3:-3}
anchors=${4:-build/anchors}
slow_repeats=${5:-1}
ns=ctcompare-$$
tmp=$(mktemp -d) || exit 1
export LC_ALL=C
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
ip netns add "$ns" || exit 1
# nf_conntrack_max is global: raised to 2N + 200,000 only if it is lower.
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
if [ "$max" -lt $((n * 2 + 200000)) ]; then sysctl -qw net.netfilter.nf_conntrack_max=$((n * 2 + 200000)); fi

# Entry i: zone i%10, source 10.(i%10).(i/65536%256).(i/256%256), ports from i.
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++)
    printf "-I -p udp -s 10.%d.%d.%d -d 192.168.0.1 --sport %d --dport %d -t 3000 -w %d\n",
        i % 10, int(i / 65536) % 256, int(i / 256) % 256, 1024 + i % 50000, 53 + int(i / 50000), i % 10 }' \
    >"$tmp/table"
awk 'BEGIN { for (i = 0; i < 100000; i++)
    printf "-I -p udp -s 172.16.%d.%d -d 192.168.9.9 --sport %d --dport 53 -t 3000 -w 99\n",
        int(i / 256) % 256, i % 256, 1024 + i % 60000 }' >"$tmp/creates"
# The Neutron pattern: one process per remote address of a security group (zone 3).
awk 'BEGIN { for (i = 0; i < 100; i++) printf "10.3.0.%d\n", i }' >"$tmp/remotes"

fill() {
    "$ctrack" --netns "$ns" -F 2>/dev/null
    "$ctrack" --netns "$ns" -R "$tmp/table" || exit 1
}
TIMEFORMAT='%R %U %S'
# timed COMMAND...: runs it; prints "WALL CPU" seconds (its children's user + system time).
timed() {
    { time "$@" >/dev/null 2>"$tmp/err"; } 2>"$tmp/time"
    echo $? >"$tmp/status"
    awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$tmp/time"
}
# run TOOL ARGS...: "WALL CPU" of one command line (output to /dev/null); its exit status
# goes to $tmp/TOOL.status, its standard error to $tmp/TOOL.err.
run() {
    tool=$1
    shift
    if [ "$tool" = ctrack ]; then timed "$ctrack" --netns "$ns" "$@"; else timed ip netns exec "$ns" conntrack "$@"; fi
    cp "$tmp/status" "$tmp/$tool.status"
    cp "$tmp/err" "$tmp/$tool.err"
}
# median COLUMN: the median of a column of "WALL CPU" lines.
median() { awk -v c="$1" '{ print $c }' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# report NAME: the row line from $tmp/ctrack.times and $tmp/conntrack.times.
report() {
    a=$(median 1 <"$tmp/ctrack.times")
    b=$(median 1 <"$tmp/conntrack.times")
    ca=$(median 2 <"$tmp/ctrack.times")
    cb=$(median 2 <"$tmp/conntrack.times")
    # A command that exited non-zero (its last run) is named with its status and last
    # message: a failure, or for deletes and updates, nothing matched.
    note=""
    for tool in ctrack conntrack; do
        st=$(cat "$tmp/$tool.status" 2>/dev/null || echo 0)
        [ "$st" = 0 ] || note="$note $tool-exit=$st ($(tail -n1 "$tmp/$tool.err"))"
    done
    echo "row=$1 ctrack=$a conntrack=$b ratio=$(echo "$a $b" | awk '{ printf "%.2f", ($2 > 0) ? $1 / $2 : 0 }')" \
        "cpu: ctrack=$ca conntrack=$cb ratio=$(echo "$ca $cb" | awk '{ printf "%.2f", ($2 > 0) ? $1 / $2 : 0 }')$note"
}

# floor WHAT COMMAND...: the floor line, median wall seconds of REPEATS runs of COMMAND
# (anchor programs in the namespace; none when the anchors are not built). $after, when
# set, runs after each (untimed).
after=
floor() {
    what=$1
    shift
    [ "$skip" = no ] || return 0
    [ -x "$anchors/raw-dump" ] && [ -x "$anchors/raw-batch" ] ||
        { echo "  floor=none what=$what (no anchors in $anchors)"; return; }
    : >"$tmp/floor.times"
    r=0
    while [ "$r" -lt "$repeats" ]; do
        timed "$@" >>"$tmp/floor.times"
        [ -n "$after" ] && $after
        r=$((r + 1))
    done
    echo "  floor=$(median 1 <"$tmp/floor.times") what=$what"
}
in_ns() { ip netns exec "$ns" "$anchors/$@"; }
neutron_floor() { # the dump of zone 3 each Neutron process needs at least, 100 times
    for _ in $(seq 100); do in_ns raw-dump 3 >/dev/null || return 1; done
}
drop_zone_99() { "$ctrack" --netns "$ns" -D -w 99 >/dev/null 2>&1; }

# row NAME REFILL(yes|no) ARGS...
row() {
    name=$1
    refill=$2
    shift 2
    wanted "$name" || return 0
    for tool in ctrack conntrack; do
        : >"$tmp/$tool.times"
        r=0
        while [ "$r" -lt "$repeats" ]; do
            [ "$refill" = yes ] && fill
            run "$tool" "$@" >>"$tmp/$tool.times"
            r=$((r + 1))
        done
    done
    report "$name"
}

# Rows whose command is a script rather than one command line.
neutron_loop() { # TOOL
    while read -r ip; do
        if [ "$1" = ctrack ]; then
            "$ctrack" --netns "$ns" -D -f ipv4 -p udp -s "$ip" -w 3
        else
            ip netns exec "$ns" conntrack -D -f ipv4 -p udp -s "$ip" -w 3
        fi >/dev/null 2>&1
    done <"$tmp/remotes"
}
neutron() { # TOOL
    timed neutron_loop "$1"
}
load_one() { # TOOL
    if [ "$1" = ctrack ]; then "$ctrack" --netns "$ns" -R - <"$tmp/creates"; else ip netns exec "$ns" conntrack -R - <"$tmp/creates"; fi
}
load() { # TOOL
    timed load_one "$1"
    "$ctrack" --netns "$ns" -D -w 99 >/dev/null 2>&1
}
script_row() { # NAME FUNCTION REFILL [CONNTRACK_REPEATS]
    wanted "$1" || return 0
    for tool in ctrack conntrack; do
        : >"$tmp/$tool.times"
        r=0
        want=$repeats
        [ "$tool" = conntrack ] && want=${4:-$repeats}
        while [ "$r" -lt "$want" ]; do
            [ "$3" = yes ] && fill
            "$2" "$tool" >>"$tmp/$tool.times"
            cp "$tmp/status" "$tmp/$tool.status"
            cp "$tmp/err" "$tmp/$tool.err"
            r=$((r + 1))
        done
    done
    report "$1"
}

echo "# $n entries, medians of $repeats runs, kernel $(uname -r)"
fill
row list no -L
floor "one raw dump of the whole table" in_ns raw-dump
row list-zone-extended no -L -w 5 -o extended
floor "one raw dump of zone 5 (filtered by the kernel)" in_ns raw-dump 5
row delete-zone yes -D -w 5
floor "one raw dump of zone 5 (the deletes come on top)" in_ns raw-dump 5
row delete-prefix yes -D -s 10.2.0.0/16
floor "one raw dump of the whole table (a prefix cannot be filtered by the kernel; the deletes come on top)" in_ns raw-dump
# conntrack 1.4.7 refuses -U with -w (and updates other zones' entries in zone 0), so the
# update row selects a tenth of the table by prefix, in zone 0.
row update-prefix-mark yes -U -f ipv4 -s 10.0.0.0/16 -m 1
floor "one raw dump of the whole table (the updates come on top)" in_ns raw-dump
fill
script_row load-100000-creates load no
after=drop_zone_99
floor "raw-batch: 100,000 UDP creates into zone 99 packed 64 KiB to a sendmsg, no acks" in_ns raw-batch create 100000 99
after=
script_row neutron-100-deletes neutron yes "$slow_repeats"
[ "$skip" = yes ] || [ "$slow_repeats" = "$repeats" ] || echo "  (conntrack: $slow_repeats run(s) of this row, not $repeats)"
floor "100 processes each doing one raw dump of zone 3, each through ip netns exec (which costs more per process than ctrack --netns)" neutron_floor
