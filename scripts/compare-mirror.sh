#!/bin/sh
# make compare-mirror: the mirror benchmark in a namespace of its own, with a small receive
# buffer and then with the library's default. Needs root and the conntrack tool.
set -eu
bench=$1 pool=$2 creates=$3 updates=$4
command -v conntrack >/dev/null 2>&1 || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q conntrack >/dev/null; }
need=$((pool + creates + 100000))
max=$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null || echo 0)
[ "$max" -ge "$need" ] || sysctl -qw net.netfilter.nf_conntrack_max="$need"
ns=ctmirror$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT INT TERM
rc=0
echo "small buffer (256 KiB):"
ip netns exec "$ns" "$bench" --buffer 262144 --pool "$pool" --creates "$creates" --updates "$updates" || rc=1
echo "default buffer:"
ip netns exec "$ns" "$bench" --pool "$pool" --creates "$creates" --updates "$updates" || rc=1
exit $rc
