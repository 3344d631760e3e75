#!/bin/bash
# Runs one command as root in a QEMU guest booted on a pinned Debian kernel, to test the
# library against kernels older than the host's.
#
#   tests/kernels/run.sh --kernel 6.1.0-56 [options] -- COMMAND [ARG...]
#
# The kernel package is fetched with apt-get download and unpacked (never installed): a
# 6.1.0-N kernel from the host's own apt sources (Debian 12), a 5.10.0-N kernel from Debian
# 11 (bullseye) through a private apt configuration under the cache directory, made from
# the archive URI the host's sources use; the system's apt setup is not changed. The guest
# sees the host's root read-only over 9p and the current directory read-write at the same
# path, so it runs the binaries built on the host. COMMAND's output (stdout and stderr) comes
# out on stdout; the script exits with COMMAND's status, or 124 on timeout, 125 when the
# harness itself failed.
#
# Options: --kernel V (required: 6.1.0-N or 5.10.0-N), --mem MB (1024), --smp N (1),
# --sysctl K=V (repeatable, set in the guest's first namespace before COMMAND),
# --timeout SEC (1800), --prepare (fetch and build, run nothing).
# Environment: CT_KERNELS_CACHE (/var/cache/libconntrack-kernels), CT_KERNELS_ACCEL (auto,
# kvm or tcg; auto takes KVM when /dev/kvm is usable and the CPU has vmx or svm),
# CT_KERNELS_VERBOSE (set: show the guest kernel's console), CT_KERNELS_MIRROR (the archive
# to fetch bullseye from, when the host's apt sources name none).
set -euo pipefail
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

# Bump when the initramfs or the guest scripts change: cached images carry it in their name.
REV=3
CACHE=${CT_KERNELS_CACHE:-/var/cache/libconntrack-kernels}
KVER= MEM=1024 SMP=1 TIMEOUT=1800 PREPARE=0
SYSCTLS=()
# Loaded from the initramfs before COMMAND; anything else loads on demand.
CT_MODULES="nfnetlink nf_defrag_ipv4 nf_defrag_ipv6 nf_conntrack nf_conntrack_netlink"

die() { echo "kernels/run.sh: $*" >&2; exit 125; }
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) KVER=${2:?}; shift 2 ;;
        --mem) MEM=${2:?}; shift 2 ;;
        --smp) SMP=${2:?}; shift 2 ;;
        --sysctl) SYSCTLS+=("${2:?}"); shift 2 ;;
        --timeout) TIMEOUT=${2:?}; shift 2 ;;
        --prepare) PREPARE=1; shift ;;
        --) shift; break ;;
        *) die "unknown argument $1 (see the comment at the top)" ;;
    esac
done
[ "$PREPARE" = 1 ] || [ $# -gt 0 ] || die "no command given"
[ "$(id -u)" = 0 ] || die "must run as root"
KVER=${KVER%-amd64}
case $KVER in
    6.1.0-[0-9]*) SUITE=host ;;
    5.10.0-[0-9]*) SUITE=bullseye ;;
    *) die "--kernel wants 6.1.0-N or 5.10.0-N, got '$KVER'" ;;
esac
KVER=$KVER-amd64

# ---- apt: the host's configuration, or the private one for bullseye
APTDIR=$CACHE/apt-bullseye
apt_opts() {
    [ "$SUITE" = bullseye ] || return 0
    printf '%s\n' -o "Dir::Etc::sourcelist=$APTDIR/sources.list" -o Dir::Etc::sourceparts=- \
        -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache::pkgcache=$APTDIR/pkgcache.bin" \
        -o "Dir::Cache::srcpkgcache=$APTDIR/srcpkgcache.bin"
}
# Other users of apt on the machine hold its lock for a while: wait instead of failing.
APT=(apt-get -q -o DPkg::Lock::Timeout=600 -o APT::Sandbox::User=root)

# The URI of the first "deb" source for the host's own release with component main, from
# one-line (.list) and deb822 (.sources) files.
host_archive() {
    local rel files=()
    rel=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] || return 0
    awk -v rel="$rel" '
        function has(list, w,   a, n, i) { n = split(list, a, " "); for (i = 1; i <= n; i++) if (a[i] == w) return 1; return 0 }
        function block() {
            if (has(f["types"], "deb") && has(f["suites"], rel) && has(f["components"], "main") && f["enabled"] !~ /[Nn]o/) {
                split(f["uris"], u, " "); print u[1]; done = 1; exit
            }
            delete f
        }
        FNR == 1 { if (d822) block(); d822 = FILENAME ~ /\.sources$/ }
        /^[ \t]*#/ { next }
        { sub(/#.*/, "") }
        !d822 {
            n = split($0, w, " "); i = 2
            if (w[1] != "deb") next
            if (w[2] ~ /^\[/) { while (i <= n && w[i] !~ /\]$/) i++; i++ }
            if (w[i + 1] == rel) { comps = ""; for (j = i + 2; j <= n; j++) comps = comps " " w[j]
                                   if (has(comps, "main")) { print w[i]; exit } }
            next
        }
        /^[ \t]*$/ { block(); next }
        /^[ \t]/ { f[key] = f[key] " " $0; next }
        { key = tolower($0); sub(/:.*/, "", key); v = $0; sub(/^[^:]*:/, "", v); f[key] = v }
        END { if (d822 && !done) block() }
    ' "${files[@]}"
}

apt_setup() {
    [ "$SUITE" = bullseye ] || return 0
    local uri line
    uri=${CT_KERNELS_MIRROR:-$(host_archive)}
    [ -n "$uri" ] || die "no Debian archive in the host's apt sources; set CT_KERNELS_MIRROR"
    line="deb [arch=amd64 target=Packages] ${uri%/} bullseye main"
    mkdir -p "$APTDIR/lists/partial"
    [ "$(cat "$APTDIR/sources.list" 2>/dev/null)" = "$line" ] || echo "$line" >"$APTDIR/sources.list"
}

# download DIR PKG...: the first PKG apt can fetch, into DIR; updates the package lists
# once (the host's, or the private ones) when none can be fetched.
download() {
    local dir=$1 pkg try; shift
    mapfile -t opts < <(apt_opts)
    for try in 1 2; do
        for pkg in "$@"; do
            (cd "$dir" && "${APT[@]}" "${opts[@]}" download "$pkg" >/dev/null 2>&1) && return 0
        done
        [ "$try" = 1 ] && { echo "kernels/run.sh: apt-get update" >&2; "${APT[@]}" "${opts[@]}" update >&2 || true; }
    done
    return 1
}

install_tools() {
    local need=()
    command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
    command -v modprobe >/dev/null && command -v depmod >/dev/null || need+=(kmod)
    [ ${#need[@]} -eq 0 ] && return 0
    echo "kernels/run.sh: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${APT[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null ||
        { "${APT[@]}" update >/dev/null; "${APT[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null; } ||
        die "apt-get install ${need[*]} failed"
}

# ---- the cached kernel tree, busybox and initramfs
KDIR=$CACHE/$KVER
KROOT=$KDIR/root
INITRD=$KDIR/initrd-$REV.cpio
BUSYBOX=$CACHE/busybox/busybox

prepare() {
    install_tools
    if [ ! -f "$KDIR/ready" ]; then
        echo "kernels/run.sh: fetching linux-image-$KVER" >&2
        rm -rf "$KDIR" && mkdir -p "$KDIR/deb"
        apt_setup
        # bullseye's signed image, or the unsigned one: the same kernel and modules.
        download "$KDIR/deb" "linux-image-$KVER" "linux-image-$KVER-unsigned" ||
            die "apt-get download linux-image-$KVER failed: is this version still in the archive?"
        dpkg-deb -x "$KDIR"/deb/*.deb "$KROOT" || die "dpkg-deb -x failed"
        rm -rf "$KDIR/deb"
        depmod -b "$KROOT" "$KVER" || die "depmod failed"
        touch "$KDIR/ready"
    fi
    if [ ! -x "$BUSYBOX" ]; then
        local b=$CACHE/busybox
        rm -rf "$b" && mkdir -p "$b/deb"
        SUITE=host download "$b/deb" busybox-static || die "apt-get download busybox-static failed"
        dpkg-deb -x "$b"/deb/*.deb "$b/x" && cp "$b/x/bin/busybox" "$BUSYBOX.new" && mv "$BUSYBOX.new" "$BUSYBOX" ||
            die "cannot unpack busybox-static"
        rm -rf "$b/deb" "$b/x"
    fi
    [ -f "$INITRD" ] || build_initrd
}

# Copies the modules named and those they depend on, in load order, into DIR of the tree.
add_modules() { # TREE DIR MODULE...
    local tree=$1 dir=$2 n word mod; shift 2
    mkdir -p "$tree/$dir"
    n=$(ls "$tree"/mods* 2>/dev/null | wc -l)
    modprobe -d "$KROOT" -S "$KVER" --show-depends -a "$@" | while read -r word mod _; do
        [ "$word" = insmod ] || continue
        # A module two lists depend on goes in the first one only.
        [ -n "$(find "$tree" -name "[0-9]*-${mod##*/}" -print -quit 2>/dev/null)" ] && continue
        n=$((n + 1))
        # (Debian's 6.1 and 5.10 packages ship them uncompressed, as busybox's insmod wants.)
        case $mod in
            *.ko) cp "$mod" "$tree/$dir/$(printf %03d "$n")-${mod##*/}" ;;
            *) die "unexpected module file $mod" ;;
        esac
    done
}

build_initrd() {
    local t
    t=$(mktemp -d "$KDIR/initrd.XXXXXX")
    mkdir -p "$t/bin" "$t/dev" "$t/proc" "$t/sys" "$t/root"
    cp "$BUSYBOX" "$t/bin/busybox"
    add_modules "$t" mods virtio_pci 9pnet_virtio 9p virtio_console
    add_modules "$t" ctmods $CT_MODULES
    [ -n "$(ls "$t/mods")" ] || die "no virtio/9p modules found for $KVER"
    cp "$(dirname "$0")/guest-init.sh" "$t/init"
    chmod 755 "$t/init"
    (cd "$t" && find . -mindepth 1 | sed 's#^\./##' | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc >"$INITRD.new" 2>/dev/null) ||
        die "cpio failed"
    mv "$INITRD.new" "$INITRD"
    rm -rf "$t"
    # Older revisions go (a guest booted from one has read it whole already).
    find "$KDIR" -maxdepth 1 -name 'initrd-*.cpio' ! -name "${INITRD##*/}" -delete
}

mkdir -p "$CACHE"
# One preparation at a time (two guests may start together).
exec 9>"$CACHE/.lock"
flock 9
prepare
flock -u 9
if [ "$PREPARE" = 1 ]; then
    echo "kernels/run.sh: $KVER ready in $KDIR"
    exit 0
fi

# ---- one run
CWD=$(pwd -P)
[ "$CWD" != / ] || die "run it from the project directory, not /"
TMP=$(mktemp -d /tmp/libconntrack-kernels.XXXXXX)
QPID= CATPID=
cleanup() {
    [ -z "$QPID" ] || kill "$QPID" 2>/dev/null || true
    [ -z "$CATPID" ] || kill "$CATPID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# What the guest's init reads (through the 9p share of $TMP/ctl): the shared directory,
# the sysctls, the tree of modules for on-demand loading, and the command with this
# environment (less what belongs to this host's terminal or session).
mkdir -p "$TMP/ctl"
{
    printf 'KT_SHARE=%q\n' "$CWD"
    printf 'KT_KROOT=%q\n' "$KROOT"
    printf 'KT_SYSCTLS=%q\n' "net.netfilter.nf_conntrack_events=1 ${SYSCTLS[*]}"
} >"$TMP/ctl/config"
{
    for n in $(compgen -e); do
        case $n in PWD|OLDPWD|SHLVL|_|TMPDIR|TERM|DISPLAY|SSH_*|XDG_*|DBUS_*) continue ;; esac
        [[ $n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && printf 'export %s=%q\n' "$n" "${!n}"
    done
    printf 'cd %q || exit 125\nexec' "$CWD"
    printf ' %q' "$@"
    echo
} >"$TMP/ctl/cmd"

accel=${CT_KERNELS_ACCEL:-auto}
if [ "$accel" = auto ]; then
    accel=tcg
    [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && accel=kvm
fi
case $accel in
    kvm) cpu=(-accel kvm -cpu host) ;;
    tcg) cpu=(-accel tcg -cpu max) ;;
    *) die "CT_KERNELS_ACCEL must be auto, kvm or tcg" ;;
esac

# The command's output comes through a virtio console (hvc0) into a FIFO that cat copies
# to stdout as it arrives; the kernel's own console (ttyS0) goes to a log shown on failure.
mkfifo "$TMP/out"
cat "$TMP/out" &
CATPID=$!
fs=()
share() { # ID PATH [ro]
    fs+=(-fsdev "local,id=$1,path=${2//,/,,},security_model=passthrough,multidevs=remap${3:+,readonly=on}"
         -device "virtio-9p-pci,fsdev=$1,mount_tag=$1")
}
share ktroot / ro
share ktctl "$TMP/ctl"
share ktshare "$CWD"
qrc=0
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -M q35 "${cpu[@]}" -smp "$SMP" -m "$MEM" \
    -nodefaults -no-user-config -display none -no-reboot \
    -kernel "$KROOT/boot/vmlinuz-$KVER" -initrd "$INITRD" \
    -append "console=ttyS0 loglevel=4 panic=-1 rdinit=/init mitigations=off nokaslr cryptomgr.notests" \
    -serial "file:$TMP/console.log" "${fs[@]}" \
    -device virtio-serial-pci -chardev "file,id=out,path=$TMP/out" -device virtconsole,chardev=out \
    </dev/null >"$TMP/qemu.log" 2>&1 &
QPID=$!
wait "$QPID" || qrc=$?
QPID=
# If qemu never opened the FIFO, cat still waits in open: a read-write open (which never
# blocks) lets it see the end.
exec 7<>"$TMP/out" 7>&-
wait "$CATPID" || true
CATPID=
[ -z "${CT_KERNELS_VERBOSE:-}" ] || cat "$TMP/console.log" "$TMP/qemu.log" >&2
status=$(cat "$TMP/ctl/status" 2>/dev/null || true)
case $status in
    [0-9]*) exit "$status" ;;
esac
if [ "$qrc" = 124 ]; then
    echo "kernels/run.sh: $KVER: timed out after ${TIMEOUT}s" >&2
    tail -n 20 "$TMP/console.log" >&2
    exit 124
fi
echo "kernels/run.sh: $KVER: the guest reported no exit status (qemu: $qrc)" >&2
cat "$TMP/qemu.log" >&2
tail -n 30 "$TMP/console.log" >&2
exit 125
