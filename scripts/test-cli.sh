#!/bin/sh
# ctrack against conntrack (the independent oracle), run as root: usage: test-cli.sh CTRACK [CT_MASTER]
# Two network namespaces of this script's own are filled with the same entries (by the
# conntrack tool); each command line runs with `conntrack` in one and with ctrack in the
# other. A case passes when both give the same exit status, the same standard output and
# standard error (sorted, timeouts and ids masked, the banners made equal) and leave the same
# table behind. Bad command lines must be refused the same way and change nothing.
# Prints "ok - ..." or "not ok - ..." per case and "N passed, N failed" at the end.
set -u

ctrack=${1:-build/bin/ctrack}
# The fixture that makes FTP masters (entries with a helper) for the expectation cases.
master=${2:-build/ct-master}
passed=0
failed=0
a=ctcli-a-$$
b=ctcli-b-$$
tmp=$(mktemp -d) || exit 1
mask_use=''
export LC_ALL=C

cleanup() {
    ip netns del "$a" 2>/dev/null
    ip netns del "$b" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

ip netns add "$a" && ip netns add "$b" || exit 1
# Counters on, so listings show them (and -z has something to zero); events always on: where
# nf_conntrack_events is 2 (a new namespace's default on some kernels), an FTP master made
# before the listeners started reports no expectation events.
for ns in "$a" "$b"; do
    ip netns exec "$ns" sh -c 'echo 1 >/proc/sys/net/netfilter/nf_conntrack_acct &&
        echo 1 >/proc/sys/net/netfilter/nf_conntrack_events' || exit 1
done

# The entries every case starts from, as conntrack -R lines: TCP, UDP, ICMP and IPv6, in
# zones 0, 10 and 20, with marks, states, status bits, reply tuples and NAT.
cat >"$tmp/entries" <<'EOF'
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 -t 1000 --state ESTABLISHED -u ASSURED,SEEN_REPLY
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1001 --dport 80 -t 1000 --state SYN_SENT -m 1
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1002 --dport 80 -t 1000 --state TIME_WAIT -m 3 -w 10
-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 2000 --dport 53 -t 1000
-I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 2000 --dport 53 -t 1000 -w 10 -m 1
-I -p udp -s 10.0.0.5 -d 10.0.0.2 --sport 2001 --dport 53 -t 1000 -w 10 -m 2
-I -p udp -s 10.0.0.5 -d 10.0.1.9 --sport 2002 --dport 5353 -t 1000 -w 20 -m 16
-I -p udp -s 10.0.0.1 -d 10.0.0.3 --sport 2003 --dport 80 -t 1000 -r 10.0.0.7 -q 10.0.0.1 --reply-port-src 80 --reply-port-dst 2003
-I -p icmp -s 10.0.0.1 -d 10.0.0.2 --icmp-type 8 --icmp-code 0 --icmp-id 77 -t 1000
-I -p icmp -s 10.0.0.5 -d 10.0.0.2 --icmp-type 8 --icmp-code 0 --icmp-id 78 -t 1000 -w 10
-I -p tcp -s 10.0.0.9 -d 10.0.0.2 --sport 3000 --dport 443 -t 1000 --state ESTABLISHED -u ASSURED,SEEN_REPLY --src-nat 192.168.1.1
-I -p tcp -s 10.0.0.9 -d 10.0.0.3 --sport 3001 --dport 80 -t 1000 --state ESTABLISHED --dst-nat 192.168.1.9:8080
-I -p udp -s fd00::1 -d fd00::2 --sport 4000 --dport 53 -t 1000
-I -p tcp -s fd00::1 -d fd00:1::2 --sport 4001 --dport 22 -t 1000 --state ESTABLISHED -w 10
-I -p icmpv6 -s fd00::1 -d fd00::2 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 9 -t 1000
EOF

ca() { ip netns exec "$a" conntrack "$@"; }
cb() { "$ctrack" --netns "$b" "$@"; }

fill() {
    for ns in "$a" "$b"; do
        ip netns exec "$ns" conntrack -F 2>/dev/null
        ip netns exec "$ns" conntrack -R "$tmp/entries" || return 1
    done
}

# Output made comparable: the same banner, timeouts and ids masked, lines sorted.
norm() {
    sed -E -e "s/^ctrack v[^ ]+ \(conntrack-tools compatible\)/conntrack v1.4.7 (conntrack-tools)/" \
        -e "s/Try \`ctrack -h' or 'ctrack --help'/Try \`conntrack -h' or 'conntrack --help'/" \
        -e 's/^((\[TS\].)?( *\[[A-Z]+\] )?(ipv[46] +[0-9]+ +)?[a-z0-9-]+ +[0-9]+ +)[0-9]+ /\1T /' \
        -e 's/id=[0-9]+/id=ID/g' -e 's/^(-[AUD] -t )[0-9]+ /\1T /' \
        -e 's/^(\[[0-9]+\.[0-9 ]+\]\t)?( *\[[A-Z]+\] )?[0-9]+ proto=/\2T proto=/' -e 's/^\[[0-9]+\.[0-9 ]+\]\t/[TS]\t/' \
        -e 's/<timeout>[0-9]+</<timeout>T</g' -e 's/<id>[0-9]+</<id>ID</g' -e 's/<use>[0-9]+</<use>U</g' \
        -e 's/<when>.*<\/when>/<when\/>/' -e "$mask_use" "$1" | sort
}
# The table, and the expectation table where the case sets with_expect=1.
with_expect=0
table() {
    {
        ip netns exec "$1" conntrack -L
        [ "$with_expect" = 1 ] && ip netns exec "$1" conntrack -L expect
    } 2>/dev/null >"$tmp/t"
    norm "$tmp/t"
}

show() { sed 's/^/#   /' "$1"; }

# same [--keep] ARGS...: fills both tables (unless --keep, or both still hold the entries
# they were filled with), runs ARGS with both commands, compares.
clean=0
same() {
    if [ "$1" = --keep ]; then
        shift
    elif [ "$clean" != 1 ]; then
        fill || { echo "not ok - setup"; failed=$((failed + 1)); return; }
    fi
    what="$*"
    ca "$@" >"$tmp/a.out" 2>"$tmp/a.err"
    ra=$?
    cb "$@" >"$tmp/b.out" 2>"$tmp/b.err"
    rb=$?
    norm "$tmp/a.out" >"$tmp/a.o"
    norm "$tmp/b.out" >"$tmp/b.o"
    norm "$tmp/a.err" >"$tmp/a.e"
    norm "$tmp/b.err" >"$tmp/b.e"
    table "$a" >"$tmp/a.t"
    table "$b" >"$tmp/b.t"
    bad=""
    [ "$ra" = "$rb" ] || bad="$bad status($ra/$rb)"
    cmp -s "$tmp/a.o" "$tmp/b.o" || bad="$bad stdout"
    cmp -s "$tmp/a.e" "$tmp/b.e" || bad="$bad stderr"
    cmp -s "$tmp/a.t" "$tmp/b.t" || bad="$bad table"
    clean=0
    cmp -s "$tmp/a.t" "$tmp/pristine" && cmp -s "$tmp/b.t" "$tmp/pristine" && clean=1
    if [ -z "$bad" ]; then
        passed=$((passed + 1))
        echo "ok - $what (exit $ra)"
    else
        failed=$((failed + 1))
        echo "not ok - $what:$bad"
        case $bad in *stdout*) echo "# conntrack:"; show "$tmp/a.o"; echo "# ctrack:"; show "$tmp/b.o" ;; esac
        case $bad in *stderr*) echo "# conntrack:"; show "$tmp/a.e"; echo "# ctrack:"; show "$tmp/b.e" ;; esac
        case $bad in *table*) diff "$tmp/a.t" "$tmp/b.t" | sed 's/^/#   /' ;; esac
    fi
}

fill || { echo "not ok - the conntrack tool could not fill the tables"; exit 1; }
table "$a" >"$tmp/pristine"

echo "# listing"
same -L
same -L -o extended
same -L -o id
same -L -o extended,id
same -L conntrack -o ext
same --dump -f ipv4
same -L -f ipv6
same -L -p tcp
same -L -p udp --dport 53
same -L -p udp --sport 2000 --dport 53
same -L -p 17 --orig-port-dst 5353
same -L -p tcp --state ESTABLISHED
same -L -p tcp --state TIME_WAIT
same -L -p icmp
same -L -p icmp --icmp-type 8 --icmp-id 78
same -L -p icmpv6
same -L -s 10.0.0.1
same -L -d 10.0.0.2
same -L --orig-src 10.0.0.5 --orig-dst 10.0.1.9
same -L -r 10.0.0.7
same -L -q 10.0.0.1
same -L --reply-src 192.168.1.9
same -L -s 10.0.0.0/30
same -L -d 10.0.1.0/24
same -L -s 10.0.0.1/32
same -L -s fd00::1
same -L -d fd00::/64
same -L -s 10.0.0.4 --mask-src 255.255.255.252
same -L -w 10
same -L -w 0
same -L --zone 20
same -L -m 1
same -L -m 1/1
same -L -m 0x10/0xf0
same -L -m 3/1
same -L -u ASSURED
same -L -u SEEN_REPLY
same -L -u UNREPLIED
same -L -u '!ASSURED'
same -L --src-nat
same -L --dst-nat
same -L --any-nat
same -L --src-nat 192.168.1.1
same -L --dst-nat 192.168.1.9:8080
same -L --dst-nat 192.168.1.9:80
same -L -f ipv4 -p udp -w 10 -m 2
same -L -o save
same -L -z
same -L dying
same -L unconfirmed -o extended
same -L -p icmpv6 -o save

echo "# get"
same -G -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80
same -G -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 81
same -G -p udp -r 10.0.0.7 -q 10.0.0.1 --reply-port-src 80 --reply-port-dst 2003
same -G -p icmp -s 10.0.0.1 -d 10.0.0.2 --icmp-type 8 --icmp-code 0 --icmp-id 77
same -G -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 -o extended,id

echo "# delete (the Neutron, Calico, kube-router and kube-proxy forms)"
same -D -p udp -f ipv4 -d 10.0.0.2 -w 10
same -D -f ipv4 -m 1 -d 10.0.0.2 -w 10 -s 10.0.0.1
same -D -f ipv4 -p udp -s 10.0.0.5 -w 20 -d 10.0.1.9
same -D -f ipv6 -p tcp -d fd00:1::2 -w 10
same -D -d 10.0.0.2
same -D -q 10.0.0.1
same -D -d 10.0.0.2 -p udp --dport 53
same --family ipv4 --delete --orig-src 10.0.0.5
same --family ipv4 --delete --reply-src 10.0.0.7
same -D --orig-dst 10.0.0.2 -p udp --dport 53
same -D -p udp --dport 53
same -D --dst-nat 192.168.1.9
same -D -w 10
same -D -s 10.0.0.0/30
same -D -m 16
same -D -s 10.9.9.9
same -D -p tcp --state SYN_SENT -o extended
same -D -p udp -d 10.0.0.2 -o save
same -D

echo "# create and add"
same -I -p tcp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --state ESTABLISHED
same -I -p udp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500 -w 5 -m 7 -u ASSURED,SEEN_REPLY
same -I -p udp -s fd01::1 -d fd01::2 --sport 5 --dport 6 -t 500
same -I -p icmp -s 10.1.0.1 -d 10.1.0.2 --icmp-type 8 --icmp-code 0 --icmp-id 5 -t 500
same -I -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 2000 --dport 53 -t 500
same -A -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 2000 --dport 53 -t 500
same -A -p udp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500
# NAT the kernel sets up (it makes the reply tuple), SCTP verification tags, GRE keys.
same -I -p tcp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --state ESTABLISHED --src-nat 192.168.9.1
same -I -p udp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --dst-nat 192.168.9.2:53
same --keep -L --dst-nat 192.168.9.2:53 -o save
same -I -p udp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --src-nat 192.168.9.1:99 --dst-nat 192.168.9.2
same -I -p udp -s fd01::1 -d fd01::2 --sport 5 --dport 6 -t 500 --src-nat [fd01::9]:77
same -I -p udp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --dst-nat
same -I -p udp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --dst-nat fd01::7
same -I -p udp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --dst-nat 192.168.9.2:
same -I -p sctp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --state ESTABLISHED --orig-vtag 7 --reply-vtag 8
same --keep -L -p sctp -o save
same --keep -L -p sctp -o xml
same -I -p sctp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --state ESTABLISHED
same -L -p sctp --orig-vtag 7
same -I -p gre -s 10.1.0.1 -d 10.1.0.2 --srckey 5 --dstkey 6 -t 500
# A zone of one direction (CTA_TUPLE_ZONE): the kernel takes one of them with no zone or
# zone 0 for both directions, and refuses the other mixes.
ZI='-p udp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500'
# shellcheck disable=SC2086
{
same -I $ZI --orig-zone 5
same -I $ZI --reply-zone 6
same -I $ZI -w 0 --orig-zone 7
same -I $ZI --orig-zone 0
same -I $ZI -w 3 --orig-zone 5
same -I $ZI --orig-zone 5 --reply-zone 6
same -I $ZI --reply-zone 6 -o save
same -U $ZI --orig-zone 5 -m 1
same -I $ZI --orig-zone 5
same --keep -I -p udp -s 10.1.0.3 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --reply-zone 5
for args in "-L --orig-zone 5" "-L --orig-zone 0" "-L --reply-zone 5" "-L -w 0" "-L -w 5" "-L -o save" \
    "-L -o xml" "-L -o extended" "-G ${ZI% -t 500} --orig-zone 5" "-D --orig-zone 5"; do
    same --keep $args
done
printf '%s\n' "-I $ZI --orig-zone 9" "-I -p udp -s 10.1.0.4 -d 10.1.0.2 --sport 5 --dport 6 -t 500 --reply-zone 9" >"$tmp/zload"
same -R "$tmp/zload"
# -w compares the zone of both directions, as conntrack 1.4.7 does (0 for an entry whose
# zone covers one direction), though the kernel's zone filter takes such an entry as in its
# zone: ctrack's dumps get it from the kernel and drop it.
same --keep -L -w 9
same --keep -D -w 9
printf '%s\n' "-D -w 9 -p udp" "-D -w 0 -p udp -s 10.1.0.4" "-D -w 0 -p udp -s 10.0.0.1" >"$tmp/zdel"
same --keep -R "$tmp/zdel"
same --keep -D -w 0
}
same --keep -L -p gre -o save
same --keep -L -p gre -o xml

echo "# update (entries of zone 0: conntrack 1.4.7 updates the others in zone 0, and fails)"
# conntrack prints each entry as read back while its dump holds it (use=2): use is masked.
mask_use='s/use=[0-9]+/use=U/'
same -U -f ipv4 -p udp --dport 80 -m 9
same -U -s 10.0.0.9 -d 10.0.0.2 -m 0x100/0xf00
same -U -f ipv4 -p tcp --sport 3001 -u ASSURED
same -U -f ipv4 -p tcp --sport 1001 -t 77
same -U -s 10.9.9.9 -m 1
same -U -s 10.0.0.1 -p tcp --sport 1001 -m 1
same -U -s 10.0.0.1 -p tcp --sport 1001 -m 1 -o extended,id
mask_use=''

echo "# flush, count, stats, load"
same -F
same -F -f ipv6
same -C
same --keep -C
same -C expect
same -F expect
echo '-D -p udp -d 10.0.0.2' >"$tmp/load"
echo '-I -p tcp -s 10.2.0.1 -d 10.2.0.2 --sport 1 --dport 2 -t 300 --state ESTABLISHED' >>"$tmp/load"
echo '-U -f ipv4 -p icmp -s 10.0.0.1 -m 42' >>"$tmp/load"
mask_use='s/use=[0-9]+/use=U/'
same -R "$tmp/load"
mask_use=''
# What -o save writes, read back by -R (NAT included: -n and -g are --src-nat, --dst-nat).
fill
ca -L -o save 2>/dev/null >"$tmp/saved"
ca -F 2>/dev/null
cb -F 2>/dev/null
same --keep -R "$tmp/saved"

# Mixed lines: creates, runs of deletes (ctrack answers each run in one pass over the table,
# conntrack line by line; lines matching the same entry included) and an add.
cat >"$tmp/mixed" <<'EOF'
-I -p udp -s 10.5.0.1 -d 10.5.0.2 --sport 1 --dport 2 -t 500 -w 10
-I -p tcp -s 10.5.0.1 -d 10.5.0.3 --sport 1 --dport 2 -t 500 --state ESTABLISHED -m 4
--create --protonum icmp --orig-src 10.5.0.1 --orig-dst 10.5.0.4 --icmp-type 8 --icmp-code 0 --icmp-id 3 --timeout 500
-D -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 2000 --dport 53 -w 10
-D -p udp -s 10.0.0.5 -d 10.0.0.2 --sport 2001 --dport 53 -w 10
-D -s 10.0.0.9
-D -s 10.0.0.9 -p tcp --dport 443
-D -f ipv6 -p tcp -d fd00:1::2 -w 10
-D -d 10.0.0.0/24 -p icmp
-D -p udp -s 10.5.0.1 -w 10
-A -p udp -s 10.5.0.9 -d 10.5.0.2 --sport 1 --dport 2 -t 500
-D -p udp -s 10.9.9.9
-D -p tcp -s 10.5.0.1
-D -f ipv4 -p udp --dport 5353 -w 20
-D -f ipv4 -p udp -d 10.0.0.3 --sport 2003 --dport 80
EOF
mask_use='s/use=[0-9]+/use=U/'
same -R "$tmp/mixed"
mask_use=''
# A line the full parser refuses, after lines the quick reader takes: refused as conntrack
# refuses it, nothing run.
printf '%s\n' '-I -p udp -s 10.5.0.1 -d 10.5.0.2 --sport 1 --dport 2 -t 500' \
    '-D -p udp -s 10.0.0.1 -d 10.0.0.2 --sport 2000 --dport 53' \
    '-I -p tcp -s 10.5.0.1 -d 10.5.0.2 --sport 1 --dport 2 -t 500' >"$tmp/bad"
same -R "$tmp/bad"
printf '%s\n' '-I -p udp -s 10.5.0.1 -d 10.5.0.2 --sport 1 -t 500' >"$tmp/bad"
same -R "$tmp/bad"
printf '%s\n' '-D -p udp -s 10.0.0.1' '-D -p udp -s 10.0.0.300' >"$tmp/bad"
same -R "$tmp/bad"

echo "# -o xml"
same -L -o xml
same -L -o xml,extended,id -p udp
same -L -o xml,ktimestamp -f ipv6
same -L -o xml -w 99
same -G -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 -o xml
same -D -p udp -d 10.0.0.2 -o xml
mask_use='s/use=[0-9]+/use=U/'
same -U -s 10.0.0.1 -p tcp --sport 1001 -m 1 -o xml
mask_use=''
same -L -o xml,save

echo "# expectations"
# conntrack 1.4.7 cannot attach a helper, so the FTP masters come from a fixture on the
# library; conntrack makes the expectations. Its 1.4.7 sets the expected tuple's protocol
# from the last --tuple-port-* value's high byte (fixed in 1.4.8): ports 1536-1791 give
# TCP, so both commands make the same expectation.
exp_fill() {
    fill || return 1
    for ns in "$a" "$b"; do
        "$master" "$ns" tcp 10.8.0.1 10.8.0.2 1025 21 ftp &&
            "$master" "$ns" tcp 10.8.0.3 10.8.0.2 1026 21 ftp &&
            "$master" "$ns" tcp fd00::8 fd00::9 1027 21 ftp || return 1
        ip netns exec "$ns" conntrack -I expect -s 10.8.0.1 -d 10.8.0.2 -p tcp --sport 1025 --dport 21 \
            --tuple-src 10.8.0.1 --tuple-dst 10.8.0.2 --mask-src 255.255.255.255 --mask-dst 255.255.255.255 \
            --tuple-port-src 0 --tuple-port-dst 1600 --mask-port-src 0 --mask-port-dst 65535 -t 100 2>/dev/null &&
            ip netns exec "$ns" conntrack -I expect -s fd00::8 -d fd00::9 -p tcp --sport 1027 --dport 21 \
                --tuple-src fd00::8 --tuple-dst fd00::9 --mask-src ffff:ffff:ffff:ffff:: --mask-dst ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \
                --tuple-port-src 0 --tuple-port-dst 1601 --mask-port-src 0 --mask-port-dst 65535 -t 100 2>/dev/null || return 1
    done
}
# Fills both tables again only when the case before changed them.
xclean=0
xsame() {
    if [ "$xclean" != 1 ]; then
        exp_fill || { echo "not ok - expectation setup"; failed=$((failed + 1)); return; }
        [ -f "$tmp/xpristine" ] || { with_expect=1; table "$a" >"$tmp/xpristine"; with_expect=0; }
    fi
    with_expect=1
    same --keep "$@"
    with_expect=0
    xclean=0
    cmp -s "$tmp/a.t" "$tmp/xpristine" && cmp -s "$tmp/b.t" "$tmp/xpristine" && xclean=1
}
RP='--reply-port-src 1 --reply-port-dst 2'
XI='-s 10.8.0.3 -d 10.8.0.2 -p tcp --sport 1026 --dport 21 --tuple-src 10.8.0.3 --tuple-dst 10.8.0.2 --mask-src 255.255.255.255 --mask-dst 255.255.255.255 --mask-port-src 0 --mask-port-dst 65535 --tuple-port-src 0 --tuple-port-dst 1700'
xsame -L expect
xsame -L expect -f ipv6
xsame -L expect -o xml
xsame -L expect -o xml,timestamp
xsame -L expect -o timestamp
xsame -C expect
xsame -C expect -f ipv6
# shellcheck disable=SC2086
{
xsame -G expect -s 10.8.0.1 -d 10.8.0.2 -p tcp --sport 7 --dport 1600 $RP
xsame -G expect -s 10.8.0.1 -d 10.8.0.2 -p tcp --sport 7 --dport 1601 $RP
xsame -G expect -s fd00::8 -d fd00::9 -p tcp --sport 0 --dport 1601 $RP
xsame -D expect -s 10.8.0.1 -d 10.8.0.2 -p tcp --sport 9 --dport 1600 $RP
xsame -D expect -s 10.8.0.1 -d 10.8.0.2 -p tcp --sport 9 --dport 1700 $RP
xsame -D expect -s fd00::8 -d fd00::9 -p tcp --sport 0 --dport 1601 $RP
xsame -I expect $XI -t 50
xsame -I expect -s 10.8.0.1 -d 10.8.0.2 -p tcp --sport 1025 --dport 21 --tuple-src 10.8.0.1 --tuple-dst 10.8.0.2 --mask-src 255.255.255.255 --mask-dst 255.255.255.255 --tuple-port-src 0 --tuple-port-dst 1600 --mask-port-src 0 --mask-port-dst 65535 -t 100
xsame -I expect ${XI%%--tuple-port-dst*} --tuple-port-dst 1700 -s 10.8.0.3 -d 10.8.0.4
xsame -I expect $XI --sport 1099 -t 50
xsame -I expect ${XI%%--tuple-src*} --tuple-dst 10.8.0.2 -t 5
xsame -G expect -s 10.8.0.1 -d 10.8.0.2 -p tcp --sport 7 --dport 1600
xsame -G expect -s 10.8.0.1 -d 10.8.0.2 -p tcp --sport 7 --dport 1600 $RP -o xml
xsame -L expect -s 10.8.0.1
xsame -L expect -z
xsame -U expect -s 10.8.0.1
xsame -I expect $XI -t 50 --master-src 10.8.0.3
}
xsame -F expect

# -S and -S expect: per-CPU counters, which differ between the twins (work lands on whichever
# CPU ran it). So the twins are compared with the numbers masked (same status, lines, text)
# and by their sums, and ctrack against conntrack in one namespace, where nothing runs
# between the two reads, line for line. exp_fill made expectations, so expect_create > 0.
sums() { awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); t[kv[1]] += kv[2] } } END { for (k in t) print k "=" t[k] }' "$1" | sort; }
stats_same() {
    exp_fill || { echo "not ok - expectation setup"; failed=$((failed + 1)); return; }
    ca "$@" >"$tmp/sa" 2>&1; ra=$?
    cb "$@" >"$tmp/sb" 2>&1; rb=$?
    ip netns exec "$b" conntrack "$@" >"$tmp/sc" 2>&1
    bad=""
    [ "$ra" = 0 ] && [ "$rb" = 0 ] || bad="$bad status($ra/$rb)"
    [ -s "$tmp/sa" ] || bad="$bad empty"
    cmp -s "$tmp/sb" "$tmp/sc" || bad="$bad same-namespace"
    sed -E 's/=[0-9]+/=N/g' "$tmp/sa" >"$tmp/sa.m"
    sed -E 's/=[0-9]+/=N/g' "$tmp/sb" >"$tmp/sb.m"
    cmp -s "$tmp/sa.m" "$tmp/sb.m" || bad="$bad text"
    [ "$(sums "$tmp/sa")" = "$(sums "$tmp/sb")" ] || bad="$bad sums"
    case " $* " in *" expect "*) sums "$tmp/sb" | grep -Eq '^expect_create=[1-9]' || bad="$bad expect_create" ;; esac
    if [ -z "$bad" ]; then
        passed=$((passed + 1))
        echo "ok - $* ($(wc -l <"$tmp/sb") CPUs)"
    else
        failed=$((failed + 1))
        echo "not ok - $*:$bad"
        echo "# conntrack:"; show "$tmp/sa"; echo "# ctrack:"; show "$tmp/sb"; echo "# conntrack, ctrack's namespace:"; show "$tmp/sc"
    fi
}
stats_same -S expect
stats_same -S exp
stats_same -S
same -S expect -p tcp
same -S dying

echo "# refused command lines"
same -L -s 999.1.1.1
same -L -s 10.0.0.1 -d fd00::1
same -L -r 10.0.0.0/8
same -L -s 10.0.0.1/33
same -L -p tcp --state FOO
same -L -p foo
same -L -D
same -L --sport 1
same -L -f ipv5
same -L -u FOO
same -L -o foo
same -L -o save,id
same -D -t
same -L --any-nat --src-nat
same -L -z -s 10.0.0.1
same -L --mask-src 255.0.0.0
same -L foo
same -U -p tcp -w 1 -m 1
same -G -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80 -w 10
same -G -p tcp -s 10.0.0.1 --sport 1000 --dport 80
same -I -p tcp -s 10.1.0.1 -d 10.1.0.2 --sport 5 -t 500 --state ESTABLISHED
same -I -p tcp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6 -t 500
same -I -p udp -s 10.1.0.1 -d 10.1.0.2 --sport 5 --dport 6
same -I -p icmp -s 10.1.0.1 -d 10.1.0.2 --icmp-type 8 -t 5
same -D -s 10.0.0.1 -p tcp --dport
same -X
same -F -s 10.0.0.1
same -L -Lexpect --bogus
same -s 10.0.0.1

echo "# events"
# Both listeners run in the background; each is ready once it has printed the event of a
# probe entry created in its namespace (polled for, up to 20 s). Both append "[USERSPACE]
# portid=N progname=P" to events caused by a process: the port ids differ between the
# namespaces, and the process may be gone before its name is read, so those two are cut.
# The probes' ports as the text and the XML forms print them.
P9='sport=9 dport=9|<sport>9</sport><dport>9</dport>'
P8='sport=8 dport=8|<sport>8</sport><dport>8</dport>'
wait_for() { # FILE PATTERN: polls until FILE holds PATTERN (an ERE)
    i=0
    while ! grep -Eq -- "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -gt 400 ] && return 1
        sleep 0.05
    done
}

# events_verdict WHAT UNIT: counts an -E comparison as passed when both listeners were
# ready, both commands exited alike, and the normalised events ($tmp/e{a,b}.n, some) and
# closing lines ($tmp/e{a,b}.ne) are the same; UNIT names what the count of lines counts.
events_verdict() {
    if [ "$ok" = 1 ] && [ "$ra" = "$rb" ] && [ -s "$tmp/ea.n" ] && cmp -s "$tmp/ea.n" "$tmp/eb.n" && cmp -s "$tmp/ea.ne" "$tmp/eb.ne"; then
        passed=$((passed + 1))
        echo "ok - $1 ($(wc -l <"$tmp/ea.n") $2)"
    else
        failed=$((failed + 1))
        echo "not ok - $1 (ready $ok, status $ra/$rb)"
        echo "# conntrack:"; show "$tmp/ea.n"; show "$tmp/ea.ne"; echo "# ctrack:"; show "$tmp/eb.n"; show "$tmp/eb.ne"
    fi
}

events_case() {
    fill
    ip netns exec "$a" conntrack -F 2>/dev/null
    ip netns exec "$b" conntrack -F 2>/dev/null
    ip netns exec "$a" conntrack -E "$@" >"$tmp/ea" 2>"$tmp/eae" &
    pa=$!
    "$ctrack" --netns "$b" -E "$@" >"$tmp/eb" 2>"$tmp/ebe" &
    pb=$!
    ok=1
    for ns in "$a" "$b"; do
        out=$tmp/ea
        [ "$ns" = "$b" ] && out=$tmp/eb
        n=0
        until grep -Eq "$P9" "$out"; do
            ip netns exec "$ns" conntrack -I -p udp -s 10.9.0.1 -d 10.9.0.2 --sport 9 --dport 9 -t 50 >/dev/null 2>&1
            ip netns exec "$ns" conntrack -D -p udp -s 10.9.0.1 >/dev/null 2>&1
            n=$((n + 1))
            [ "$n" -gt 400 ] && { ok=0; break; }
            sleep 0.05
        done
    done
    for ns in "$a" "$b"; do
        ip netns exec "$ns" conntrack -R "$tmp/entries" 2>/dev/null
        ip netns exec "$ns" conntrack -U -f ipv4 -p tcp -s 10.0.0.1 -m 5 >/dev/null 2>&1
        ip netns exec "$ns" conntrack -D -p udp -d 10.0.0.2 >/dev/null 2>&1
        ip netns exec "$ns" conntrack -I -p udp -s 10.9.0.3 -d 10.9.0.4 --sport 8 --dport 8 -t 50 >/dev/null 2>&1
    done
    wait_for "$tmp/ea" "$P8" && wait_for "$tmp/eb" "$P8" || ok=0
    kill -INT "$pa" "$pb"
    wait "$pa"
    ra=$?
    wait "$pb"
    rb=$?
    for x in a b; do
        # From the last probe event on; the suffix cut, timestamps masked.
        awk -v p="$P9" '$0 ~ p { n = NR } { l[NR] = $0 } END { for (i = n + 1; i <= NR; i++) print l[i] }' "$tmp/e$x" |
            sed -E -e 's/ \[USERSPACE\] portid=[0-9]+( progname=.*)?$/ [USERSPACE] portid=P/' \
                -e 's/^\[[0-9]+\.[0-9]+\]\t/[TS]\t/' -e '/^(<\?xml .*|<conntrack>)$/d' >"$tmp/e$x.cut"
        norm "$tmp/e$x.cut" >"$tmp/e$x.n"
        sed -E 's/[0-9]+ flow events/N flow events/' "$tmp/e${x}e" >"$tmp/e$x.cute"
        norm "$tmp/e$x.cute" >"$tmp/e$x.ne"
    done
    events_verdict "-E $*" events
}
events_case
events_case -o extended,id
events_case -e NEW,DESTROY -p udp
events_case -e NEW,UPDATES -o timestamp
events_case -p udp -w 0 -o id
events_case -o xml
events_case -o xml,timestamp,id -e NEW,DESTROY

echo "# expectation events"
# An expectation on the master 10.8.0.3:1026 -> 10.8.0.2:21 expecting PORT: xexp NS PORT -I|-D
xexp() {
    if [ "$3" = -I ]; then
        ip netns exec "$1" conntrack -I expect -s 10.8.0.3 -d 10.8.0.2 -p tcp --sport 1026 --dport 21 \
            --tuple-src 10.8.0.3 --tuple-dst 10.8.0.2 --mask-src 255.255.255.255 --mask-dst 255.255.255.255 \
            --mask-port-src 0 --mask-port-dst 65535 --tuple-port-src 0 --tuple-port-dst "$2" -t 50 >/dev/null 2>&1
    else
        ip netns exec "$1" conntrack -D expect -s 10.8.0.3 -d 10.8.0.2 -p tcp --sport 0 --dport "$2" \
            --reply-port-src 1 --reply-port-dst 2 >/dev/null 2>&1
    fi
}
# As events_case: each listener is ready once it printed a probe (port 1700) of its own
# namespace; then a create, a delete and a flush, and a last create (1702) to wait for.
xevents_case() {
    exp_fill || { echo "not ok - expectation setup"; failed=$((failed + 1)); return; }
    ip netns exec "$a" conntrack -E expect "$@" >"$tmp/ea" 2>"$tmp/eae" &
    pa=$!
    "$ctrack" --netns "$b" -E expect "$@" >"$tmp/eb" 2>"$tmp/ebe" &
    pb=$!
    ok=1
    for ns in "$a" "$b"; do
        out=$tmp/ea
        [ "$ns" = "$b" ] && out=$tmp/eb
        n=0
        until grep -q 1700 "$out"; do
            xexp "$ns" 1700 -I
            xexp "$ns" 1700 -D
            n=$((n + 1))
            [ "$n" -gt 400 ] && { ok=0; break; }
            sleep 0.05
        done
    done
    for ns in "$a" "$b"; do
        xexp "$ns" 1701 -I
        ip netns exec "$ns" conntrack -D expect -s 10.8.0.1 -d 10.8.0.2 -p tcp --sport 9 --dport 1600 \
            --reply-port-src 1 --reply-port-dst 2 >/dev/null 2>&1
        ip netns exec "$ns" conntrack -F expect >/dev/null 2>&1
        xexp "$ns" 1702 -I
    done
    wait_for "$tmp/ea" 1702 && wait_for "$tmp/eb" 1702 || ok=0
    kill -INT "$pa" "$pb"
    wait "$pa"
    ra=$?
    wait "$pb"
    rb=$?
    for x in a b; do
        awk '/1700/ { n = NR } { l[NR] = $0 } END { for (i = n + 1; i <= NR; i++) print l[i] }' "$tmp/e$x" |
            sed -E '/^(<\?xml .*|<expect>)$/d' >"$tmp/e$x.cut"
        norm "$tmp/e$x.cut" >"$tmp/e$x.n"
        sed -E 's/[0-9]+ expectation events/N expectation events/' "$tmp/e${x}e" >"$tmp/e$x.cute"
        norm "$tmp/e$x.cute" >"$tmp/e$x.ne"
    done
    events_verdict "-E expect $*" lines
}
xevents_case
xevents_case -o xml
xevents_case -o timestamp

echo "# memory errors and leaks (valgrind), where installed"
if command -v valgrind >/dev/null 2>&1; then
    for args in "-L -o extended,id" "-D -p udp -d 10.0.0.2" "-U -f ipv4 -p tcp -m 5" \
        "-I -p tcp -s 10.3.0.1 -d 10.3.0.2 --sport 1 --dport 2 -t 9 --state ESTABLISHED" \
        "-G -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1000 --dport 80" "-L -s 999.1.1.1" "-S" "-S expect" "-L -o xml" \
        "-I -p udp -s 10.3.0.1 -d 10.3.0.2 --sport 1 --dport 2 -t 9 --src-nat 10.9.9.9:5" "-L expect -o xml" \
        "-R $tmp/mixed"; do
        fill
        # shellcheck disable=SC2086
        if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
            "$ctrack" --netns "$b" $args >/dev/null 2>"$tmp/vg"; [ $? -ne 99 ]; then
            passed=$((passed + 1))
            echo "ok - valgrind: $args"
        else
            failed=$((failed + 1))
            echo "not ok - valgrind: $args"
            show "$tmp/vg"
        fi
    done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
