#!/bin/busybox sh
# The guest's init (see run.sh). First in the initramfs: load the virtio and 9p modules, mount
# the host's root read-only, the control share and a tmpfs on /run, load the conntrack
# modules, and switch to the host's root running this script again ("stage2") as PID 1.
# There: mount what programs expect, set the sysctls, mount the project directory read-write,
# run the command with its output on the virtio console, write its status, power off.
BB=/bin/busybox
K=/run/kt
halt() {
    $BB sync
    $BB poweroff -f
    $BB reboot -f
}
fail() {
    echo "kernels guest: $*" >/dev/ttyS0
    halt
}

if [ "$1" != stage2 ]; then
    $BB mount -t proc proc /proc
    $BB mount -t sysfs sysfs /sys
    $BB mount -t devtmpfs devtmpfs /dev
    for m in /mods/*.ko; do $BB insmod "$m" || fail "insmod $m"; done
    $BB mkdir -p /newroot
    $BB mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=512000 ktroot /newroot ||
        fail "cannot mount the host's root"
    $BB mount -t tmpfs -o mode=0755 tmpfs /newroot/run || fail "cannot mount /run"
    $BB mkdir -p /newroot$K/ctl
    $BB mount -t 9p -o trans=virtio,version=9p2000.L,cache=none ktctl /newroot$K/ctl ||
        fail "cannot mount the control share"
    # A CPU-specific helper (crc32c-intel without SSE4.2) may refuse to load: the generic
    # code serves instead, so only the conntrack modules themselves must be there.
    for m in /ctmods/*.ko; do $BB insmod "$m" 2>/dev/null; done
    [ -d /sys/module/nf_conntrack_netlink ] || fail "nf_conntrack_netlink did not load"
    $BB cp /bin/busybox /init /newroot$K/
    for d in dev proc sys; do $BB mount --move /$d /newroot/$d || fail "cannot move /$d"; done
    exec $BB switch_root /newroot $K/busybox sh $K/init stage2
fi

BB=$K/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
finish() {
    echo "$1" >$K/ctl/status
    halt
}
$BB mkdir -p /dev/pts /dev/shm
$BB mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
for d in /dev/shm /tmp /var/tmp; do $BB mount -t tmpfs -o mode=1777 tmpfs $d; done
$BB mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
$BB ln -s /proc/self/fd /dev/fd
for i in 0:stdin 1:stdout 2:stderr; do $BB ln -s /proc/self/fd/${i%%:*} /dev/${i#*:}; done
$BB hostname kernels-guest
$BB ip link set lo up
. $K/ctl/config || finish 125

# Modules asked for later (an nft table, a conntrack helper, a veth) come from the unpacked
# kernel, not the host's /lib/modules.
printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "$KT_KROOT" >$K/modprobe
$BB chmod 755 $K/modprobe
echo $K/modprobe >/proc/sys/kernel/modprobe
for kv in $KT_SYSCTLS; do
    echo "${kv#*=}" >"/proc/sys/$(echo "${kv%%=*}" | $BB tr . /)" || echo "kernels guest: sysctl $kv failed"
done >/dev/hvc0 2>&1

$BB mkdir -p "$KT_SHARE"
$BB mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap,msize=512000 ktshare "$KT_SHARE" || finish 125
# Through a pipe, as on a CI host: programs see no terminal (no colours, no progress bars).
{
    /bin/bash $K/ctl/cmd </dev/null 2>&1
    echo $? >$K/rc
} | $BB cat >/dev/hvc0
rc=$($BB cat $K/rc)
$BB umount "$KT_SHARE"
finish $rc
