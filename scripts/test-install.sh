#!/bin/sh
# `make install` into a temporary DESTDIR, then a program outside the tree built with
# pkg-config against it (shared, and static through --static) runs; ctrack is installed in
# sbin, stands alone (no libconntrack.so needed) with its man page, and CONNTRACK_ALIAS=1
# adds the `conntrack` link; `make uninstall` removes every file again.
set -eu
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
make -s install DESTDIR="$dest" PREFIX=/usr/local CONNTRACK_ALIAS=1 >/dev/null
pc="$dest/usr/local/lib/pkgconfig"
cat >"$dest/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <conntrack.h>
int main(void) {
    printf("%s\n", ct_version());
    return strcmp(ct_strerror(CT_OK), "success") != 0;
}
C
flags=$(PKG_CONFIG_PATH="$pc" PKG_CONFIG_SYSROOT_DIR="$dest" pkg-config --cflags --libs conntrack)
cc -o "$dest/prog" "$dest/prog.c" $flags
sflags=$(PKG_CONFIG_PATH="$pc" PKG_CONFIG_SYSROOT_DIR="$dest" pkg-config --static --cflags --libs conntrack)
cc -static-libgcc -o "$dest/prog-static" "$dest/prog.c" $(echo "$sflags" | sed 's/-lconntrack/-l:libconntrack.a/')
passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "failed: $*"; fi; }
check test "$(LD_LIBRARY_PATH="$dest/usr/local/lib" "$dest/prog")" = "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
check test -n "$("$dest/prog-static")"
check test "$(readelf -d "$dest/usr/local/lib/libconntrack.so" | sed -n 's/.*soname: \[\(.*\)\]/\1/p')" = libconntrack.so.0
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
sbin=$dest/usr/local/sbin
check test "$("$sbin/ctrack" -V)" = "ctrack v$version (conntrack-tools compatible)"
check test -z "$(readelf -d "$sbin/ctrack" | grep 'NEEDED.*libconntrack')"
check test "$(readlink "$sbin/conntrack")" = ctrack
check test -s "$dest/usr/local/share/man/man8/ctrack.8"
make -s uninstall DESTDIR="$dest" PREFIX=/usr/local
check test -z "$(find "$dest/usr" -type f -o -type l)"
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
