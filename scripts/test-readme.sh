#!/bin/sh
# Compiles the C example of the README (its first C block) and runs it in a throwaway network namespace holding
# one entry in zone 10 and one in zone 11: it must print exactly the zone-10 line.
set -eu
build=$1
src="$build/readme-example.c"
awk '/^```c$/ && !seen {on=1; seen=1; next} /^```$/{on=0} on' README.md >"$src"
cc -std=c11 -Wall -Wextra -Werror -Iinclude -o "$build/readme-example" "$src" \
    -L"$build/lib" -Wl,-rpath,"$(pwd)/$build/lib" -lconntrack
ns="ctreadme-$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip netns exec "$ns" conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 4 --dport 5 -t 100 -w 10 2>/dev/null
ip netns exec "$ns" conntrack -I -p udp -s 1.1.1.1 -d 2.2.2.2 --sport 4 --dport 5 -t 100 -w 11 2>/dev/null
out=$(ip netns exec "$ns" "$build/readme-example")
left=$(ip netns exec "$ns" conntrack -L 2>/dev/null)
# It printed exactly the zone-10 line, and deleted that entry only.
if [ "$(printf '%s\n' "$out" | grep -c 'zone=10')" = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
    [ "$(printf '%s\n' "$left" | grep -c 'zone=11')" = 1 ] && [ "$(printf '%s\n' "$left" | grep -c 'src=')" = 1 ]; then
    echo "readme: 1 passed, 0 failed"
else
    echo "README example printed: $out"
    echo "table after it: $left"
    echo "readme: 0 passed, 1 failed"
    exit 1
fi
