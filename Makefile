# libconntrack: build, demo, tests.
#   make demo   build everything and run the demo (root; makes a throwaway netns)
#   make test   install what the tests need, then run every suite
PREFIX     ?= /usr/local
DESTDIR    ?=
CARGO      ?= cargo
CC         ?= cc
BUILD      := build
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR      := $(firstword $(subst ., ,$(VERSION)))
LIBDIR     := $(BUILD)/lib
CWARN      := -std=c11 -Wall -Wextra -Wpedantic -Werror
CFLAGS     ?= -O2 -g
CT_CFLAGS  := $(CWARN) $(CFLAGS) -Iinclude
CT_LDLIBS  := -L$(LIBDIR) -Wl,-rpath,$(abspath $(LIBDIR)) -lconntrack -pthread
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer
C_TESTS    := $(patsubst c-tests/%.c,%,$(wildcard c-tests/test_*.c))
EXAMPLES   := ct-list demo
CLI_SRC    := $(wildcard cli/*.c) $(wildcard cli/*.h)
SBINDIR    := $(PREFIX)/sbin
MANDIR     := $(PREFIX)/share/man

.PHONY: all lib package header examples c-tests demo test deps test-rust test-c test-examples \
	test-readme test-install test-python test-go test-kernels test-oldkernel test-symbols install uninstall clean bench bench-bindings compare compare-events compare-mirror compare-filters soak soak-valgrind fuzz \
	cli test-cli compare-cli

all: lib examples cli

# The shared library with its SONAME chain (libconntrack.so -> .so.MAJOR -> .so.X.Y.Z) and
# the static one, under build/lib.
lib:
	$(CARGO) build --release
	mkdir -p $(LIBDIR)
	# A new file under a temporary name, renamed into place: programs running against the
	# old one keep their mapping instead of crashing.
	cp -f target/release/libconntrack.so $(LIBDIR)/.libconntrack.so.new
	mv -f $(LIBDIR)/.libconntrack.so.new $(LIBDIR)/libconntrack.so.$(VERSION)
	ln -sf libconntrack.so.$(VERSION) $(LIBDIR)/libconntrack.so.$(MAJOR)
	ln -sf libconntrack.so.$(MAJOR) $(LIBDIR)/libconntrack.so
	cp -f target/release/libconntrack.a $(LIBDIR)/.libconntrack.a.new
	mv -f $(LIBDIR)/.libconntrack.a.new $(LIBDIR)/libconntrack.a

# The crate as the registry would take it (built and checked in a target directory of its
# own: the packaged copy has the same name and version, so it would share the tree's
# fingerprints and leave them pointing at the copy).
package:
	CARGO_TARGET_DIR=target/package-check $(CARGO) package --allow-dirty

# Rewrites include/conntrack.h from the Rust sources (an ordinary build only checks it).
header:
	CT_UPDATE_HEADER=1 $(CARGO) build --release

$(BUILD):
	mkdir -p $(BUILD)

# ctrack, the conntrack(8)-compatible command, linked with the static library so the
# installed command needs nothing else.
cli: $(BUILD)/bin/ctrack
$(BUILD)/bin/ctrack: lib $(CLI_SRC)
	mkdir -p $(BUILD)/bin
	$(CC) $(CT_CFLAGS) -Icli -o $@ $(filter %.c,$(CLI_SRC)) $(LIBDIR)/libconntrack.a -pthread -ldl -lm

examples: lib | $(BUILD)
	for x in $(EXAMPLES); do $(CC) $(CT_CFLAGS) -o $(BUILD)/$$x examples/$$x.c $(CT_LDLIBS) || exit 1; done

c-tests: lib | $(BUILD)
	for t in $(C_TESTS); do \
	  $(CC) $(CT_CFLAGS) -o $(BUILD)/$$t c-tests/$$t.c $(CT_LDLIBS) || exit 1; \
	  $(CC) $(CT_CFLAGS) $(SAN) -o $(BUILD)/$$t-asan c-tests/$$t.c $(CT_LDLIBS) || exit 1; \
	  nm $(BUILD)/$$t-asan | grep -q __asan_init || { echo "$$t-asan lacks AddressSanitizer"; exit 1; }; \
	done

# The benchmark program and the side-by-side comparison (root; bench/README.md): the same
# workloads through libnetfilter_conntrack, the raw ctnetlink floor and vishvananda/netlink
# (Go), built from bench/anchors into build/anchors, run in a private network namespace.
N       ?= 200000
REPEATS ?= 3
bench: lib | $(BUILD)
	$(CC) $(CT_CFLAGS) -o $(BUILD)/ct-bench bench/ct-bench.c $(CT_LDLIBS)

compare: bench
	./bench/compare.sh $(BUILD)/ct-bench $(N) $(REPEATS)

# Filter sets: delete-any with 1 to 10,000 filters and a forced whole-zone delete-matching
# beside the floor (dump, delete), each on a fresh table of FILTERS_N entries; the ratios of
# the README's targets at the end.
FILTERS_N ?= 1000000
compare-filters: bench
	./bench/compare-filters.sh $(BUILD)/ct-bench $(FILTERS_N)

# ctrack beside conntrack on one table of CLI_N entries (`row=NAME ctrack=S conntrack=S ratio=R`,
# medians of REPEATS runs). A benchmark, not part of `make test`.
# The floors come from bench/anchors (built first); conntrack runs the Neutron row
# CLI_SLOW_REPEATS times (it takes minutes at a million entries).
CLI_N ?= 1000000
CLI_SLOW_REPEATS ?= 1
compare-cli: cli
	./bench/anchors/build.sh $(BUILD)/anchors
	./bench/compare-cli.sh $(BUILD)/bin/ctrack $(CLI_N) $(REPEATS) $(BUILD)/anchors $(CLI_SLOW_REPEATS)

# An event burst (EVENTS_N creates, then as many deletes) heard by the project's listener and
# libnetfilter_conntrack's side by side, for EVENTS_SECS seconds (root).
EVENTS_N    ?= 1000000
EVENTS_SECS ?= 25
compare-events: bench
	./bench/compare-events.sh $(BUILD)/ct-bench $(EVENTS_N) $(EVENTS_SECS)

# The bindings against C (make bench-bindings N=...): one private namespace, N entries;
# C, Go and Python dump, list a zone, batch-create and batch-delete; pyroute2 and
# libnetfilter_conntrack (through ctypes, as Neutron uses it) as anchors, and the raw dump
# of bench/anchors as the floor of a zone's listing; each line the median of REPEATS runs.
# Installs them.
bench-bindings: bench
	command -v go >/dev/null && /usr/bin/python3 -c 'import pyroute2' 2>/dev/null && \
	  ldconfig -p | grep -q libnetfilter_conntrack.so.3 || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    golang-go python3-pyroute2 libnetfilter-conntrack3 conntrack; }
	cd bench/gobind && GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on GOSUMDB=off CGO_ENABLED=1 \
	  go build -o $(abspath $(BUILD))/gobind .
	./bench/anchors/build.sh $(BUILD)/anchors
	./bench/bindings.sh $(BUILD)/ct-bench $(BUILD)/gobind $(N) $(BUILD)/anchors/raw-dump $(REPEATS)

# The table mirror under a burst (MIRROR_CREATES creates, MIRROR_UPDATES mark updates and as
# many deletes from three processes, over a pool of MIRROR_POOL entries), in a private
# namespace: once with a small receive buffer (the kernel must drop events and the mirror
# repair itself), once with the default one. Each prints whether the mirror, and a copy built
# from its callbacks, equal the table afterwards.
MIRROR_POOL    ?= 100000
MIRROR_CREATES ?= 1000000
MIRROR_UPDATES ?= 500000
compare-mirror:
	$(CARGO) build --release --example mirror_bench
	./scripts/compare-mirror.sh target/release/examples/mirror_bench $(MIRROR_POOL) $(MIRROR_CREATES) $(MIRROR_UPDATES)

# Soak: a million mixed operations and the events they make through one handle and one
# listener, in a private namespace; fails if resident memory grows. Not part of `make test`.
# soak-valgrind runs a shorter one under valgrind.
SOAK_OPS ?= 1000000
soak: lib | $(BUILD)
	$(CC) $(CT_CFLAGS) -o $(BUILD)/soak bench/soak.c $(CT_LDLIBS)
	ns=ctsoak$$$$; ip netns add $$ns && ip netns exec $$ns ./$(BUILD)/soak $(SOAK_OPS); rc=$$?; ip netns del $$ns; exit $$rc

soak-valgrind: lib | $(BUILD)
	$(CC) $(CT_CFLAGS) -o $(BUILD)/soak bench/soak.c $(CT_LDLIBS)
	ns=ctsoakv$$$$; ip netns add $$ns && ip netns exec $$ns valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 ./$(BUILD)/soak 20000 --no-rss-check; rc=$$?; ip netns del $$ns; exit $$rc

# Every cargo-fuzz target for SECS seconds each (installs cargo-fuzz; not part of `make test`,
# which replays the corpora through the same code).
SECS ?= 600
fuzz:
	./scripts/fuzz.sh $(SECS)

demo: deps examples
	./$(BUILD)/demo

deps:
	./scripts/install-deps.sh

test: deps test-rust test-symbols test-c bench test-examples test-cli test-readme test-install test-python test-go test-kernels

test-rust:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --features internals --test fuzz_corpus -- -D warnings
	$(CARGO) test
	# The fuzz corpora replay needs the fields the `internals` feature opens (everything
	# else is built and tested without it, so it uses the public accessors only).
	$(CARGO) test --features internals --test fuzz_corpus
	# The corpus recorder is built only when corpora are re-recorded: keep it compiling.
	$(CARGO) check --manifest-path fuzz/capture/Cargo.toml

# Every exported symbol is a function of the header, versioned LIBCONNTRACK_0 (readelf).
test-symbols: lib
	./scripts/check-symbols.sh $(LIBDIR)/libconntrack.so.$(VERSION) include/conntrack.h

test-c: c-tests
	./scripts/run-c-tests.sh $(BUILD) $(C_TESTS)

test-examples: examples
	./scripts/test-examples.sh $(BUILD)

# ctrack beside conntrack on twin namespaces: same exit status, output and table.
# scripts/ct-master.c makes the FTP masters of the expectation cases (conntrack cannot).
test-cli: cli
	$(CC) $(CT_CFLAGS) -o $(BUILD)/ct-master scripts/ct-master.c $(LIBDIR)/libconntrack.a -pthread -ldl -lm
	./scripts/test-cli.sh $(BUILD)/bin/ctrack $(BUILD)/ct-master

# The Python binding (ctypes) against build/lib: pytest, a namespace per test.
test-python: lib
	./bindings/python/run-tests.sh

# The Go binding: gofmt, go vet, go test -race and -asan (leak check), the pkg-config build.
test-go: lib
	./bindings/go/run-tests.sh

# The kernel-facing suites again under Debian 12's 6.1 and Debian 11's 5.10 kernels, pinned,
# each in a QEMU guest (tests/kernels/run.sh); test-oldkernel is the former name.
test-kernels: c-tests
	./tests/kernels/test.sh $(BUILD)

test-oldkernel: test-kernels

test-readme: lib | $(BUILD)
	./scripts/test-readme.sh $(BUILD)

# Installs into a temporary DESTDIR and builds a program against it with pkg-config.
test-install: lib
	./scripts/test-install.sh

INCDIR := $(PREFIX)/include
LIBDST := $(PREFIX)/lib
PCDIR  := $(LIBDST)/pkgconfig

# CONNTRACK_ALIAS=1 also installs ctrack as `conntrack`, for hosts that want it in place of
# conntrack-tools' command.
install: lib cli
	install -d $(DESTDIR)$(LIBDST) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(BUILD)/bin/ctrack $(DESTDIR)$(SBINDIR)/
	install -m 644 cli/ctrack.8 $(DESTDIR)$(MANDIR)/man8/
	if [ "$(CONNTRACK_ALIAS)" = 1 ]; then ln -sf ctrack $(DESTDIR)$(SBINDIR)/conntrack; fi
	install -m 755 $(LIBDIR)/libconntrack.so.$(VERSION) $(DESTDIR)$(LIBDST)/
	ln -sf libconntrack.so.$(VERSION) $(DESTDIR)$(LIBDST)/libconntrack.so.$(MAJOR)
	ln -sf libconntrack.so.$(MAJOR) $(DESTDIR)$(LIBDST)/libconntrack.so
	install -m 644 $(LIBDIR)/libconntrack.a $(DESTDIR)$(LIBDST)/
	install -m 644 include/conntrack.h $(DESTDIR)$(INCDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDST)|; s|@INCDIR@|$(INCDIR)|; s|@VERSION@|$(VERSION)|' \
	    conntrack.pc.in >$(DESTDIR)$(PCDIR)/conntrack.pc

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/ctrack $(DESTDIR)$(MANDIR)/man8/ctrack.8
	if [ -L $(DESTDIR)$(SBINDIR)/conntrack ]; then rm -f $(DESTDIR)$(SBINDIR)/conntrack; fi
	rm -f $(DESTDIR)$(LIBDST)/libconntrack.so.$(VERSION) $(DESTDIR)$(LIBDST)/libconntrack.so.$(MAJOR) \
	    $(DESTDIR)$(LIBDST)/libconntrack.so $(DESTDIR)$(LIBDST)/libconntrack.a \
	    $(DESTDIR)$(INCDIR)/conntrack.h $(DESTDIR)$(PCDIR)/conntrack.pc

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
