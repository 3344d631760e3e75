#!/usr/bin/env bash
# Many filters in one call, side by side with the floor, in a private network namespace.
#
# usage: compare-filters.sh CT_BENCH [N]
#   Each row runs on a fresh table of N entries (default 1,000,000) made by
#   `ct-bench create N 7`: delete-any with K = 1, 100, 1,000 and 10,000 filters (K = 1,000
#   and 10,000 delete the same ~N/2 entries), delete-matching of the whole zone with the
#   library's path forced, and the floor: dump, delete 500000, delete N.
#   Then, beside delete-any, the way agents clean up today: the same K filters through
#   vishvananda/netlink (anchors/vish-bench.go delete-any: list the table, test every filter
#   on every entry, one delete per entry), and one `conntrack -D` process per filter (for K
#   up to CONNTRACK_D_MAX_K, default 100: beyond, it takes hours; Go's up to GO_MAX_K,
#   default 1,000). The programs of anchors/
#   are built beside CT_BENCH (anchors/build.sh, which installs what they need).
# Prints one line per row with the bench's fields, then four lines a script can read:
#   ratio filters=X       K = 10,000 over K = 1,000
#   ratio overlap_any=X   K = 1,000 over the larger of dump and delete N/2 (500000)
#   ratio overlap_zone=X  the forced whole-zone delete over the larger of dump and delete N
#   rss_kib_max=Y         the largest resident growth of any row
# Needs root. Raises net.netfilter.nf_conntrack_max to 2N when it is lower.
set -euo pipefail
bench=$(readlink -f "${1:?usage: compare-filters.sh CT_BENCH [N]}")
n=${2:-1000000}
dmax=${CONNTRACK_D_MAX_K:-100}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(dirname "$bench")/anchors
"$here/anchors/build.sh" "$bin" go >&2
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
if [ "$max" -lt $((n * 2)) ]; then sysctl -qw net.netfilter.nf_conntrack_max=$((n * 2)); fi

ns=ctfilt$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
trap 'exit 130' INT TERM
run() { ip netns exec "$ns" "$@"; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
fresh() {
  run conntrack -F >/dev/null 2>&1 || true
  run "$bench" create "$n" 7 >/dev/null
}
declare -A secs
rssmax=0
row() {
  local name=$1; shift
  fresh
  local out
  out=$(run "$@")
  echo "row=$name $out"
  secs[$name]=$(echo "$out" | field secs)
  local r
  r=$(echo "$out" | field rss_kib)
  if [ -n "$r" ] && [ "$r" -gt "$rssmax" ]; then rssmax=$r; fi
}
for k in 1 100 1000 10000; do row "delete-any-k$k" "$bench" delete-any "$k" 7; done
row delete-matching-zone "$bench" delete-matching 7 userspace
row dump "$bench" dump
row delete-half "$bench" delete $((n / 2)) 7
row "delete-$n" "$bench" delete "$n" 7

# Every filter tried on every listed flow: K = 10,000 over a million flows takes very long.
gmax=${GO_MAX_K:-1000}
for k in 1 100 1000 10000; do
  if [ "$k" -gt "$gmax" ]; then
    echo "row=go-netlink-k$k skipped (K > GO_MAX_K=$gmax)"
    continue
  fi
  fresh
  echo "row=go-netlink-k$k $(run "$bin/vish-bench" delete-any "$k" 7)"
done

# One conntrack -D per filter, as the agents that shell out do.
for k in 1 100 1000 10000; do
  if [ "$k" -gt "$dmax" ]; then
    echo "row=conntrack-D-k$k skipped (K > CONNTRACK_D_MAX_K=$dmax)"
    continue
  fi
  fresh
  t0=$(date +%s.%N)
  for ((j = 0; j < k; j++)); do
    a=$(( (10 << 24) + 2 * j + 1 ))
    run conntrack -D -w 7 -p udp -s "$((a >> 24 & 255)).$((a >> 16 & 255)).$((a >> 8 & 255)).$((a & 255))" >/dev/null 2>&1 || true
  done
  t1=$(date +%s.%N)
  left=$(run conntrack -C)
  echo "row=conntrack-D-k$k op=conntrack-D n=$((n - left)) filters=$k secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
bigger() { awk -v a="$1" -v b="$2" 'BEGIN{print (a > b ? a : b)}'; }
echo "ratio filters=$(ratio "${secs[delete-any-k10000]}" "${secs[delete-any-k1000]}")"
echo "ratio overlap_any=$(ratio "${secs[delete-any-k1000]}" "$(bigger "${secs[dump]}" "${secs[delete-half]}")")"
echo "ratio overlap_zone=$(ratio "${secs[delete-matching-zone]}" "$(bigger "${secs[dump]}" "${secs[delete-$n]}")")"
echo "rss_kib_max=$rssmax"
