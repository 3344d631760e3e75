#!/usr/bin/env bash
# An event burst heard side by side: the project's listener and libnetfilter_conntrack's, each
# with its library's default settings, subscribe in one private network namespace; then the
# raw batcher creates N entries and deletes them (2N events: N NEW, N DESTROY). Prints what
# each listener saw and how many overruns it was told of.
#
# usage: bench/compare-events.sh PROJECT_BENCH [N] [SECS]
#   PROJECT_BENCH  build/ct-bench, or any program whose "events SECS" listens for NEW and
#                  DESTROY events for SECS seconds and prints "op=events events=E overruns=O"
#   N              entries (default 1000000); SECS listening time, burst included (default 30)
# Needs root. Installs what it lacks with apt-get, builds the comparison programs into
# anchors/ beside PROJECT_BENCH, and raises nf_conntrack_max (global) to 2N if it is lower.
set -euo pipefail
bench=$(readlink -f "${1:?usage: compare-events.sh PROJECT_BENCH [N] [SECS]}")
n=${2:-1000000}
secs=${3:-30}
here=$(cd "$(dirname "$0")" && pwd)
bin=$(dirname "$bench")/anchors
if [ "$(id -u)" != 0 ]; then echo "compare-events.sh: needs root (network namespaces)" >&2; exit 1; fi

"$here/anchors/build.sh" "$bin"
modprobe nf_conntrack_netlink 2>/dev/null || true
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
if [ "$max" -lt $((n * 2)) ]; then sysctl -qw net.netfilter.nf_conntrack_max=$((n * 2)); fi

ns=ctevt$$
tmp=$(mktemp -d "$bin/events.XXXXXX")
listeners=()
cleanup() {
  for p in "${listeners[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$ns"
run() { ip netns exec "$ns" "$@"; }
# Events for every entry, whether or not a listener existed when it was made (kernels whose
# default is 2 make them only while one does).
run sysctl -qw net.netfilter.nf_conntrack_events=1 2>/dev/null || true

# Not through run(): a function in the background is a subshell, and $! must be the listener.
ip netns exec "$ns" "$bench" events "$secs" >"$tmp/project" 2>&1 &
listeners+=($!)
ip netns exec "$ns" "$bin/nfct-bench" events "$secs" >"$tmp/nfct" 2>&1 &
listeners+=($!)

# The burst starts once both listeners have joined a conntrack event group: the namespace's
# /proc/net/netlink lists its netfilter sockets (protocol 12) with their group bits.
subscribed() { run awk 'NR > 1 && $2 == 12 && $4 != "00000000"' /proc/net/netlink | wc -l; }
for _ in $(seq 200); do
  [ "$(subscribed)" -ge 2 ] && break
  sleep 0.05
done
if [ "$(subscribed)" -lt 2 ]; then
  echo "compare-events.sh: the listeners did not subscribe" >&2
  cat "$tmp/project" "$tmp/nfct" >&2
  exit 1
fi

run "$bin/raw-batch" create "$n" 7 >/dev/null
run "$bin/raw-batch" delete "$n" 7 >/dev/null
status=0
for p in "${listeners[@]}"; do wait "$p" || status=1; done
listeners=()

want=$((2 * n))
field() { sed -n "s/.*[ ]$1=\([0-9]*\).*/\1/p" "$2" | tail -n 1; }
printf '%-10s %10s %10s %10s %8s\n' listener expected seen overruns seen/exp
for who in project nfct; do
  e=$(field events "$tmp/$who")
  o=$(field overruns "$tmp/$who")
  printf '%-10s %10s %10s %10s %8s\n' "$who" "$want" "${e:-?}" "${o:-?}" \
    "$(awk -v a="${e:-0}" -v b="$want" 'BEGIN { printf "%.4f", a / b }')"
done
if [ "$status" != 0 ]; then
  echo "compare-events.sh: a listener failed:" >&2
  cat "$tmp/project" "$tmp/nfct" >&2
fi
exit "$status"
