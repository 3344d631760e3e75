//go:build conntrack_pkgconfig

package conntrack

// With the conntrack_pkgconfig build tag the package uses an installed libconntrack
// (`make install`), located through `pkg-config conntrack`; set PKG_CONFIG_PATH when it was
// installed under a prefix pkg-config does not search.

// #cgo pkg-config: conntrack
import "C"
