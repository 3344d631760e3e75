#!/bin/sh
# Records real ctnetlink datagrams into the fuzz corpora (fuzz/corpus/decode_message and
# fuzz/corpus/decode_attrs), from a private network namespace that is made and removed here:
# the host's table is never touched. Needs root, ip, nft, conntrack and python3.
#   fuzz/capture/capture.sh [OUTDIR]     (default: fuzz/corpus)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "${1:-$here/../corpus}")
ns=${NS:-fz1}

cargo build --quiet --manifest-path "$here/Cargo.toml"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
x() { ip netns exec "$ns" "$@"; }

x ip link set lo up
x sysctl -qw net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1
# A conntrack rule makes the namespace track its own traffic; the label rule lets entries
# carry labels (the kernel attaches the label extension only once a rule uses labels).
x nft -f - <<'NFT'
table inet fz {
  chain out {
    type filter hook output priority 0;
    ct state new counter
    tcp dport 8081 ct label set 5
  }
}
NFT

# Real traffic on lo: TCP (established, and closed), UDP, over IPv4 and IPv6.
x python3 - <<'PY'
import socket
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    for port in (8080, 8081):
        srv = socket.socket(fam, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, port)); srv.listen(4)
        c = socket.socket(fam, socket.SOCK_STREAM); c.connect((host, port))
        a, _ = srv.accept(); c.sendall(b"x" * 1000); a.recv(2000); a.sendall(b"y" * 300)
        c.recv(1000)
        if port == 8081:
            c.close(); a.close()
    u = socket.socket(fam, socket.SOCK_DGRAM); u.sendto(b"hello", (host, 9999))
PY

# Entries made with the tool: every protocol it knows, zones, marks, status, NAT.
ct() { x conntrack "$@" >/dev/null 2>&1 || { echo "conntrack $*: failed" >&2; exit 1; }; }
ct -I -s 10.0.0.1 -d 10.0.0.2 -p tcp --sport 40000 --dport 80 --state ESTABLISHED -t 600 -m 42 -u SEEN_REPLY,ASSURED
ct -I -s 10.0.0.1 -d 10.0.0.2 -p tcp --sport 40001 --dport 80 --state SYN_SENT -t 120 -w 7
ct -I -s fd00::1 -d fd00::2 -p tcp --sport 1 --dport 2 --state TIME_WAIT -t 60 -w 65535 -m 1
ct -I -s 10.0.0.3 -d 10.0.0.4 -p udp --sport 53 --dport 5353 -t 30 -w 7
ct -I -s fd00::3 -d ff02::1 -p udp --sport 546 --dport 547 -t 30 -m 4294967295
ct -I -s 10.0.0.5 -d 10.0.0.6 -p icmp --icmp-type 8 --icmp-code 0 --icmp-id 1234 -t 30
ct -I -s fd00::5 -d fd00::6 -p icmpv6 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 99 -t 30 -w 3
ct -I -s 10.0.0.7 -d 10.0.0.8 -p sctp --sport 5000 --dport 6000 --state ESTABLISHED --orig-vtag 1 --reply-vtag 2 -t 300
ct -I -s 10.0.0.9 -d 10.0.0.10 -p gre --srckey 0x1234 --dstkey 0x5678 -t 180
ct -I -s 10.0.0.11 -d 10.0.0.12 -p udplite --sport 7 --dport 8 -t 30
ct -I -s 192.168.0.1 -d 192.168.0.2 -p tcp --sport 1000 --dport 22 --state ESTABLISHED -t 500 --src-nat 203.0.113.1 -u SEEN_REPLY,ASSURED
ct -I -s 192.168.0.3 -d 192.168.0.4 -p udp --sport 1000 --dport 53 -t 50 --dst-nat 198.51.100.1
ct -I -s 10.1.0.1 -d 10.1.0.2 -p 99 -t 60 -w 9

x "$here/target/debug/conntrack-fuzz-capture" "$out"
