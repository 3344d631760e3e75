#!/bin/sh
# Tests the examples (run as root, after `make examples`): usage: test-examples.sh BUILD_DIR
#  - BUILD/demo runs, shows the three Neutron entries, then the table after each delete,
#    down to an empty one, and leaves no namespace behind;
#  - BUILD/ct-list prints the same lines as `conntrack -L` (the independent oracle), with
#    and without filters and output options, for a table the conntrack tool fills with
#    every protocol and field, in a network namespace of this script's own.
# The conntrack tool runs only inside that namespace: the host's table is never touched.
# Prints "ok - ..." or "not ok - ..." per check and "N passed, N failed" at the end.
set -u

build=${1:-build}
ct_list=$build/ct-list
passed=0
failed=0
ns=ct-examples-$$
tmp=$(mktemp -d) || exit 1
export LC_ALL=C # one sort order for every list

cleanup() {
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

ok() {
    passed=$((passed + 1))
    echo "ok - $1"
}
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
}
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
    what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# Shows a file's lines as comments under a failed check.
show() {
    sed "s/^/#   /" "$1"
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
nsx() {
    ip netns exec "$ns" "$@"
}

# --- The demo -------------------------------------------------------------------------

# The demo's lines for one step ("== N. ..." heading up to the next heading), with the
# timeouts (1234 when created, a second or so less later) written as T.
demo_step() {
    awk -v n="$1." '/^== / { p = ($2 == n); next } p && NF' "$tmp/demo.out" |
        sed 's/^\([a-z]* *[0-9]*\) 12[0-3][0-9] /\1 T /' | sort
}
# What each step must show: the entries named in $@, in `conntrack -L` form.
demo_want() {
    for e in "$@"; do
        case $e in
        tcp) echo "tcp      6 T ESTABLISHED src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 [UNREPLIED] src=2.2.2.2 dst=1.1.1.1 sport=2 dport=1 mark=0 zone=10 use=1" ;;
        udp) echo "udp      17 T src=1.1.1.1 dst=2.2.2.2 sport=4 dport=5 [UNREPLIED] src=2.2.2.2 dst=1.1.1.1 sport=5 dport=4 mark=0 zone=10 use=1" ;;
        icmp) echo "icmp     1 T src=1.1.1.1 dst=2.2.2.2 type=8 code=0 id=3333 [UNREPLIED] src=2.2.2.2 dst=1.1.1.1 type=0 code=0 id=3333 mark=0 zone=10 use=1" ;;
        empty) echo "(the table is empty)" ;;
        esac
    done | sort
}
demo_step_is() {
    step=$1
    shift
    demo_step "$step" >"$tmp/got"
    demo_want "$@" >"$tmp/want"
    if cmp -s "$tmp/got" "$tmp/want"; then return 0; fi
    echo "# step $step shows:"
    show "$tmp/got"
    echo "# instead of:"
    show "$tmp/want"
    return 1
}

"$build/demo" >"$tmp/demo.out" 2>"$tmp/demo.err"
rc=$?
if [ "$rc" -eq 0 ]; then ok "demo exits 0"; else
    not_ok "demo exits 0 (it exited $rc)"
    show "$tmp/demo.out"
    show "$tmp/demo.err"
fi
check "demo creates the TCP, UDP and ICMP entries in zone 10" demo_step_is 1 tcp udp icmp
check "demo deletes the ICMP entry" demo_step_is 2 tcp udp
check "demo deletes the TCP entry" demo_step_is 3 udp
check "demo deletes the UDP entry: the table is empty" demo_step_is 4 empty
demo_ns=$(sed -n 's/.*network namespace \(ct-demo-[0-9]*\).*/\1/p' "$tmp/demo.out" | head -n1)
demo_ns_gone() {
    [ -n "$demo_ns" ] && ! ip netns list | grep -q "^$demo_ns\( \|$\)"
}
if demo_ns_gone; then ok "demo removes its namespace $demo_ns"; else
    not_ok "demo removes its namespace $demo_ns"
    [ -n "$demo_ns" ] && ip netns del "$demo_ns" 2>/dev/null
fi

# --- A table with every protocol and field ----------------------------------------------

if ! ip netns add "$ns"; then
    not_ok "make the network namespace $ns"
    finish
fi
# The conntrack sysctls exist once conntrack is loaded; the first dump loads it.
nsx conntrack -L >/dev/null 2>&1
if nsx sysctl -qw net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1 &&
    nsx nft "add table inet t; add chain inet t c; add rule inet t c ct label set 127"; then
    ok "set up $ns: counters, timestamps, and an nft rule so that labels can exist"
else
    not_ok "set up $ns: counters, timestamps, and an nft rule so that labels can exist"
    finish
fi

# The entries, one `conntrack -I` command a line, loaded by one `conntrack -R` so that
# they are made within a millisecond or so: their timeouts and delta-times then all tick
# within a few milliseconds of each other, once a second (see same() below). The
# timeouts leave the entries time enough on a slow machine.
cat >"$tmp/batch" <<'EOF'
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1001 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED -m 0x11 -w 3 -t 3600
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1002 --dport 80 --state SYN_SENT -t 120
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1003 --dport 80 --state SYN_RECV -t 60
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1004 --dport 80 --state FIN_WAIT -t 120
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1005 --dport 80 --state CLOSE_WAIT -t 120
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1006 --dport 80 --state LAST_ACK -t 30
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1007 --dport 80 --state TIME_WAIT -t 120
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1008 --dport 80 --state CLOSE -t 60
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1009 --dport 80 --state SYN_SENT2 -u SEEN_REPLY -t 120
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1010 --dport 80 --state NONE -t 120
-I -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 1011 --dport 80 -r 10.9.9.9 -q 10.0.0.1 --reply-port-src 8080 --reply-port-dst 1011 --state ESTABLISHED -t 500
-I -p tcp -s fd00::1 -d fd00::2 --sport 2001 --dport 443 --state ESTABLISHED -u SEEN_REPLY,ASSURED -w 7 -t 432000
-I -p udp -s 10.0.0.1 -d 10.0.0.53 --sport 5353 --dport 53 -t 30
-I -p udp -s 10.0.0.1 -d 10.0.0.53 --sport 5354 --dport 53 -u SEEN_REPLY -t 30
-I -p udp -s 10.0.0.1 -d 10.0.0.53 --sport 5355 --dport 53 -u SEEN_REPLY,ASSURED -m 1 -t 180
-I -p udp -s 10.0.7.1 -d 10.0.7.2 --sport 4 --dport 5 -w 7 -t 1234
-I -p udp -s fe80::1 -d ff02::fb --sport 5353 --dport 5353 -w 65535 -t 30
-I -p udplite -s 10.0.0.1 -d 10.0.0.2 --sport 7 --dport 8 -t 30
-I -p sctp -s 10.0.0.1 -d 10.0.0.2 --sport 9 --dport 10 --state ESTABLISHED --orig-vtag 10 --reply-vtag 11 -t 300
-I -p sctp -s fd00::1 -d fd00::2 --sport 11 --dport 12 --state COOKIE_WAIT --orig-vtag 0x1234 --reply-vtag 0 -m 0x80000000 -t 90
-I -p gre -s 10.0.0.1 -d 10.0.0.3 --srckey 0x100 --dstkey 0x200 -w 12 -t 30
-I -p icmp -s 10.0.0.1 -d 10.0.0.4 --icmp-type 8 --icmp-code 0 --icmp-id 77 -m 0xffffffff -w 65535 -t 30
-I -p icmp -s 10.0.7.1 -d 10.0.7.2 --icmp-type 8 --icmp-code 0 --icmp-id 3333 -w 7 -t 1234
-I -p icmp -s 10.0.0.1 -d 10.0.0.4 --icmp-type 13 --icmp-code 0 --icmp-id 78 -t 30
-I -p icmpv6 -s fe80::1 -d fe80::2 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 79 -w 9 -t 30
-I -p 99 -s 10.0.0.1 -d 10.0.0.5 -t 600
-I -p 99 -s fd00::1 -d fd00::5 -w 65535 -t 600
-I -p tcp -s 10.0.0.1 -d 10.0.0.7 --sport 1 --dport 2 --state ESTABLISHED -t 120
EOF

# DCCP only where the kernel accepts it (recent kernels have no DCCP tracking).
if nsx conntrack -I -p dccp -s 10.0.0.1 -d 10.0.0.6 --sport 1 --dport 2 --state OPEN --role client -t 30 \
    >/dev/null 2>&1; then
    nsx conntrack -D -p dccp >/dev/null 2>&1
    echo "-I -p dccp -s 10.0.0.1 -d 10.0.0.6 --sport 1 --dport 2 --state OPEN --role client -t 30" >>"$tmp/batch"
fi

created=$(grep -c . "$tmp/batch")
if nsx conntrack -R "$tmp/batch" >"$tmp/load.out" 2>&1; then
    ok "the conntrack tool creates $created entries"
else
    not_ok "the conntrack tool creates $created entries"
    show "$tmp/load.out"
    finish
fi

# Labels: the tool names them through /etc/xtables/connlabel.conf. A private mount
# namespace lays an overlay over /etc holding one of our own, so the host's /etc is never
# written. They are added by an update (which keeps the timeout as it runs): conntrack
# 1.4.7 -R crashes on a batch holding --label-add and any other line.
with_labels() {
    unshare -m sh -c 'mkdir "$1/upper" "$1/work" &&
        mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc &&
        mkdir -p /etc/xtables && printf "0 zero\n5 five\n127 last\n" >/etc/xtables/connlabel.conf &&
        shift && exec "$@"' sh "$(mktemp -d -p "$tmp")" "$@"
}
labelled() {
    [ "$(with_labels ip netns exec "$ns" conntrack -L -o label 2>/dev/null |
        grep -c "labels=zero,five,last")" -eq 1 ]
}
if with_labels true 2>/dev/null; then
    with_labels ip netns exec "$ns" conntrack -U -p tcp -s 10.0.0.1 -d 10.0.0.7 --sport 1 --dport 2 \
        --label-add zero,five,last >/dev/null 2>&1
    check "the conntrack tool sets labels on an entry" labelled
else
    echo "# labels left out: cannot lay an overlay over /etc in a private mount namespace"
fi

# The number of entries of the batch whose command matches the pattern.
created_with() {
    grep -c -- "$1" "$tmp/batch"
}

# same DESCRIPTION WANT "TOOL OPTIONS" "CT-LIST OPTIONS": the sorted lines of
# `conntrack -L TOOL OPTIONS` and `ct-list -n NS CT-LIST OPTIONS` are the same, WANT of
# them; ct-list's closing sentence on stderr is the tool's.
# Timeouts and delta-times tick while the three programs run, each entry at its own phase
# of the second (a loaded machine spreads the creates), so the tool reads the table before
# and after ct-list, and every line of ct-list must be a line of one of the two reads, with
# as many lines as the first. Only a read window longer than a second can fail that; then
# the tool's two reads differ by more than one tick and the measurement is taken again, at
# most twice more.
lines_of_either() {
    [ -z "$(comm -23 "$tmp/lib" "$tmp/either")" ] &&
        [ "$(grep -c . "$tmp/lib")" -eq "$(grep -c . "$tmp/before")" ]
}

same() {
    what=$1 want=$2 tool_opts=$3 lib_opts=$4
    tries=1
    while :; do
        # shellcheck disable=SC2086 # the options are words
        nsx conntrack -L $tool_opts 2>"$tmp/tool.err" | sort >"$tmp/before"
        # shellcheck disable=SC2086
        "$ct_list" -n "$ns" $lib_opts >"$tmp/lib.out" 2>"$tmp/lib.err"
        rc=$?
        # shellcheck disable=SC2086
        nsx conntrack -L $tool_opts 2>/dev/null | sort >"$tmp/after"
        sort "$tmp/lib.out" >"$tmp/lib"
        sort -u "$tmp/before" "$tmp/after" >"$tmp/either"
        if [ "$rc" -ne 0 ] || lines_of_either || cmp -s "$tmp/before" "$tmp/after" ||
            [ "$tries" -ge 3 ]; then
            break
        fi
        tries=$((tries + 1))
        echo "# $what: the table ticked during the reads; reading again"
    done
    lines=$(grep -c . "$tmp/lib")
    why=""
    if [ "$rc" -ne 0 ]; then
        why="ct-list exited $rc"
    elif ! lines_of_either; then
        why="the lines differ"
    elif [ "$lines" -ne "$want" ]; then
        why="$lines lines, not $want"
    elif [ "$(sed -n 's/^[^:]*: //p' "$tmp/lib.err")" != "$(sed -n 's/^[^:]*: //p' "$tmp/tool.err")" ]; then
        why="the closing sentence differs"
    fi
    if [ -z "$why" ]; then
        ok "$what"
        return
    fi
    not_ok "$what: $why"
    echo "# ct-list -n $ns $lib_opts:"
    show "$tmp/lib"
    show "$tmp/lib.err"
    echo "# conntrack -L $tool_opts, after it:"
    show "$tmp/after"
    show "$tmp/tool.err"
    diff "$tmp/after" "$tmp/lib" | sed "s/^/#   diff: /"
}

all=$created
v6=$(grep -c -- '-s [0-9a-f]*:' "$tmp/batch")
same "ct-list prints what conntrack -L prints" "$all" "" ""
same "ct-list -o extended" "$all" "-o extended" "-o extended"
same "ct-list -o id" "$all" "-o id" "-o id"
same "ct-list -o extended,id" "$all" "-o extended,id" "-o extended,id"
same "ct-list -o ktimestamp" "$all" "-o ktimestamp" "-o ktimestamp"
same "ct-list -o extended,id,ktimestamp" "$all" "-o extended,id,ktimestamp" "-o ktimestamp,id,extended"
same "ct-list -z 7" "$(created_with '-w 7 ')" "-w 7" "-z 7"
same "ct-list -z 0 (entries without a zone)" "$(grep -vc -- '-w ' "$tmp/batch")" "-w 0" "-z 0"
same "ct-list -z 65535" "$(created_with '-w 65535 ')" "-w 65535" "-z 65535"
same "ct-list -z 4242 (an empty zone)" 0 "-w 4242" "-z 4242"
same "ct-list -f ipv6" "$v6" "-f ipv6" "-f ipv6"
same "ct-list -f ipv4" "$((all - v6))" "-f ipv4" "-f ipv4"
same "ct-list -p udp" "$(created_with '-p udp ')" "-p udp" "-p udp"
same "ct-list -p 99 (a protocol without a name)" "$(created_with '-p 99 ')" "-p 99" "-p 99"
same "ct-list -p icmpv6 -f ipv6 -z 9 -o extended" "$(created_with 'icmpv6.*-w 9 ')" \
    "-p icmpv6 -f ipv6 -w 9 -o extended" "-p icmpv6 -f ipv6 -z 9 -o extended"

# Failures: a message on stderr, nothing on stdout, a non-zero exit.
fails() {
    "$ct_list" "$@" >"$tmp/fail.out" 2>"$tmp/fail.err"
    rc=$?
    [ "$rc" -ne 0 ] && [ ! -s "$tmp/fail.out" ] && grep -q "^ct-list: ." "$tmp/fail.err"
}
check "ct-list fails on a namespace that does not exist" fails -n "$ns-none"
check "ct-list rejects zone 65536" fails -n "$ns" -z 65536
check "ct-list rejects an unknown protocol name" fails -n "$ns" -p bogus
check "ct-list rejects an unknown output format" fails -n "$ns" -o extended,bogus

if command -v valgrind >/dev/null 2>&1; then
    if valgrind -q --leak-check=full --error-exitcode=99 "$ct_list" -n "$ns" -o extended,id -p tcp \
        >/dev/null 2>"$tmp/valgrind.err"; then
        ok "ct-list runs clean under valgrind"
    else
        not_ok "ct-list runs clean under valgrind"
        show "$tmp/valgrind.err"
    fi
else
    echo "# valgrind not found: the memory check is left out"
fi

finish
