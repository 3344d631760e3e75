//go:build !conntrack_pkgconfig

package conntrack

// By default the package builds against the library of this source tree: the header in
// include/ and build/lib/libconntrack.so (run `make lib` first), found again at run time
// through an rpath. Build with `-tags conntrack_pkgconfig` to use an installed copy found
// by pkg-config instead (see cgo_pkgconfig.go).

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #cgo LDFLAGS: -L${SRCDIR}/../../build/lib -lconntrack -Wl,-rpath,${SRCDIR}/../../build/lib
import "C"
