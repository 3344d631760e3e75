#!/bin/sh
# Checks the shared library's exports: every symbol it defines is a function of the header,
# with the version node LIBCONNTRACK_0 (conntrack.map), and every function of the header is
# exported. Usage: check-symbols.sh LIBRARY HEADER
set -eu
lib=$1
header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Defined dynamic symbols (Ndx not UND), but the version node's own entry.
readelf --dyn-syms -W "$lib" | awk 'NR > 3 && $7 != "UND" && $8 != "" {print $8}' |
    grep -v '^LIBCONNTRACK_0$' | sort >"$tmp/exported"
# Function names the header declares: "name(" at the start of a declaration.
grep -oE '^[a-z_][a-z_0-9 *]* \**(ct_[a-z_0-9]+)\(' "$header" |
    sed -E 's/.*[ *](ct_[a-z_0-9]+)\($/\1/' | sort -u | sed 's/$/@@LIBCONNTRACK_0/' >"$tmp/declared"
bad=0
if grep -v '@@LIBCONNTRACK_0$' "$tmp/exported" >"$tmp/unversioned"; then
    echo "exported without the version LIBCONNTRACK_0:"; cat "$tmp/unversioned"; bad=1
fi
if ! diff -u "$tmp/declared" "$tmp/exported" >"$tmp/diff"; then
    echo "the header's functions (-) and the library's exports (+) differ:"; cat "$tmp/diff"; bad=1
fi
[ "$bad" -eq 0 ] && echo "symbols: $(wc -l <"$tmp/exported") functions, all ct_*@@LIBCONNTRACK_0, as the header declares"
exit "$bad"
