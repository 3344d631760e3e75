#!/usr/bin/env bash
# Side by side, on the same entries, in one private network namespace, in one run: the
# project's bench program, libnetfilter_conntrack (what a C program uses today), the raw
# ctnetlink floor (nothing decoded, many requests per sendmsg) and, in two extra columns,
# github.com/vishvananda/netlink (what Go programs such as kube-proxy use).
#
# usage: bench/compare.sh PROJECT_BENCH [N] [REPEATS]
#   PROJECT_BENCH  build/ct-bench, or any program with its arguments and "op=... n=..." line
#   N              entries (default 200000); REPEATS runs per figure, median kept (default 3)
# Needs root. Installs what it lacks with apt-get, builds the comparison programs into
# anchors/ beside PROJECT_BENCH, and raises nf_conntrack_max (global) to 2N if it is lower.
# Every run is checked: its exit status, the count it printed and, through the namespace's
# nf_conntrack_count, the entries the table holds afterwards.
set -euo pipefail
bench=$(readlink -f "${1:?usage: compare.sh PROJECT_BENCH [N] [REPEATS]}")
n=${2:-200000}
reps=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(dirname "$bench")/anchors
if [ "$(id -u)" != 0 ]; then echo "compare.sh: needs root (network namespaces)" >&2; exit 1; fi

"$here/anchors/build.sh" "$bin" go
modprobe nf_conntrack_netlink 2>/dev/null || true
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
if [ "$max" -lt $((n * 2)) ]; then sysctl -qw net.netfilter.nf_conntrack_max=$((n * 2)); fi

ns=ctcmp$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
run() { ip netns exec "$ns" "$@"; }
table_count() { run cat /proc/sys/net/netfilter/nf_conntrack_count; }
# field NAME LINE: the value of NAME=... in an "op=..." line
field() { sed -n "s/.*[ ]$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
fail() { echo "compare.sh: $*" >&2; exit 1; }

# once WANT_N WANT_LEFT CMD...: runs CMD in the namespace, checks that it succeeded, handled
# or counted WANT_N entries (any number for "any"), reported no failure, and left WANT_LEFT
# entries in the table; sets $secs (and $line).
once() {
  local want_n=$1 want_left=$2 bad
  shift 2
  line=$(run "$@") || fail "$* failed: $line"
  [ "$want_n" = any ] || [ "$(field n "$line")" = "$want_n" ] || fail "$*: n=$(field n "$line"), expected $want_n"
  bad=$(field fails "$line")$(field errors "$line")
  [ "${bad:-0}" = 0 ] || fail "$*: $line"
  [ "$(table_count)" = "$want_left" ] || fail "$*: table holds $(table_count) entries, expected $want_left"
  secs=$(field secs "$line")
}

# measure VAR PREP WANT_N WANT_LEFT CMD...: VAR = median seconds of REPEATS runs, PREP before each
measure() {
  local var=$1 prep=$2 want_n=$3 want_left=$4 all=()
  shift 4
  for _ in $(seq "$reps"); do
    $prep
    once "$want_n" "$want_left" "$@"
    all+=("$secs")
  done
  printf -v "$var" '%s' "$(printf '%s\n' "${all[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
}
empty() { once 0 0 "$bin/nfct-bench" flush; }
full() { empty; once "$n" "$n" "$bin/raw-batch" create "$n" 7; }

# The project must count what the others count.
full
once "$n" "$n" "$bench" dump
once "$n" "$n" "$bench" dump 7
once 0 "$n" "$bench" dump 8

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
format='%-22s %10s %10s %10s %12s %12s %10s %12s\n'
row() { # NAME PROJECT NFCT RAW [GO]
  local go=${5:--}
  printf "$format" "$1" "$2" "$3" "$4" "$(ratio "$2" "$4")" "$(ratio "$2" "$3")" "$go" "$(ratio "$2" "$go")"
}
printf "$format" workload project nfct raw project/raw project/nfct go project/go

measure p empty "$n" "$n" "$bench" create "$n" 7
measure c empty "$n" "$n" "$bin/nfct-bench" create "$n" 7
measure r empty "$n" "$n" "$bin/raw-batch" create "$n" 7
row "create $n" "$p" "$c" "$r"

full
measure p : "$n" "$n" "$bench" dump
measure c : "$n" "$n" "$bin/nfct-bench" dump
measure r : "$n" "$n" "$bin/raw-dump"
measure g : "$n" "$n" "$bin/vish-bench" dump
rss=$(field rss_growth_kib "$line") # of the last Go listing
row "dump all" "$p" "$c" "$r" "$g"
measure p : "$n" "$n" "$bench" dump 7
measure c : "$n" "$n" "$bin/nfct-bench" dump 7
measure r : "$n" "$n" "$bin/raw-dump" 7
row "dump zone 7 (all)" "$p" "$c" "$r"
measure p : 0 "$n" "$bench" dump 8
measure c : 0 "$n" "$bin/nfct-bench" dump 8
# Kernels before 6.8 ignore the zone of a dump request: the floor then sends every entry.
measure r : any "$n" "$bin/raw-dump" 8
raw_zone_ignored=$(field n "$line")
row "dump zone 8 (none)" "$p" "$c" "$r"

measure p full "$n" 0 "$bench" delete "$n" 7
measure c full "$n" 0 "$bin/nfct-bench" delete "$n" 7
measure r full "$n" 0 "$bin/raw-batch" delete "$n" 7
measure g full "$n" 0 "$bin/vish-bench" delete "$n" 7
row "delete $n" "$p" "$c" "$r" "$g"

echo "seconds are medians of $reps runs; ratios below 1.00 mean the project is faster"
if [ "$raw_zone_ignored" != 0 ]; then
  echo "raw: this kernel ignores the zone of a dump request (before 6.8): its zone dumps are whole dumps"
fi
version=$(dpkg-query -W -f '${Version}' golang-github-vishvananda-netlink-dev 2>/dev/null || echo '?')
echo "go: vishvananda/netlink $version; its listing of $n entries grew resident memory by $rss KiB" \
  "($(awk -v k="$rss" -v n="$n" 'BEGIN { printf "%.0f", k * 1024 / n }') bytes an entry);" \
  "its delete lists the table, then sends one request per entry"
