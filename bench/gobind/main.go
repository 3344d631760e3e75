// The Go side of `make bench-bindings`, run inside the benchmark's namespace:
//
//	gobind read N ZONE    Dump the table to Entry values and count them; List ZONE
//	gobind write N ZONE   batch-create N entries in ZONE, then batch-delete them
//
// It prints "lang=go op=O n=N secs=S per_entry_ns=P bytes_per_entry=B" lines;
// bytes_per_entry is the growth of resident memory while the result is held. The entries
// are those of bench/ct-bench.c: UDP 10.0.x.y:1024+(i%1024) -> 10.200.0.1:53.
package main

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"libconntrack/bindings/go/conntrack"
)

const batchSize = 16384 // requests per send, as ct-bench

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	fmt.Sscan(string(b), &size, &resident)
	return resident * int64(os.Getpagesize())
}

func settle() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return rss()
}

func line(op string, n int, secs float64, grown int64) {
	per, perB := 0.0, 0.0
	if n > 0 {
		per = secs * 1e9 / float64(n)
		if grown > 0 {
			perB = float64(grown) / float64(n)
		}
	}
	fmt.Printf("lang=go op=%s n=%d secs=%.3f per_entry_ns=%.0f bytes_per_entry=%.0f\n", op, n, secs, per, perB)
}

func workload(i int, zone uint16) conntrack.Entry {
	s := uint32(10<<24) | uint32(i>>10+1)
	src := netip.AddrFrom4([4]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
	dst := netip.AddrFrom4([4]byte{10, 200, 0, 1})
	return conntrack.Entry{
		Proto:   conntrack.ProtoUDP,
		Orig:    conntrack.PortTuple(netip.AddrPortFrom(src, uint16(1024+i&1023)), netip.AddrPortFrom(dst, 53)),
		Zone:    zone,
		Timeout: 3600,
		Has:     conntrack.FieldZone | conntrack.FieldTimeout,
	}
}

func run() error {
	if len(os.Args) != 4 {
		return fmt.Errorf("usage: gobind read|write N ZONE")
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		return err
	}
	z, err := strconv.Atoi(os.Args[3])
	if err != nil {
		return err
	}
	zone := uint16(z)
	c, err := conntrack.Open()
	if err != nil {
		return err
	}
	defer c.Close()
	switch os.Args[1] {
	case "read":
		before := settle()
		t0 := time.Now()
		count := 0
		if err := c.Dump(nil, func(conntrack.Entry) bool { count++; return true }); err != nil {
			return err
		}
		line("dump", count, time.Since(t0).Seconds(), 0)
		before = settle()
		t0 = time.Now()
		l, err := c.List(&conntrack.Filter{Zone: &zone})
		if err != nil {
			return err
		}
		secs := time.Since(t0).Seconds()
		line("list_zone", len(l), secs, settle()-before)
		runtime.KeepAlive(l)
	case "write":
		for _, create := range []bool{true, false} {
			t0 := time.Now()
			fails := 0
			for start := 0; start < n; start += batchSize {
				b := conntrack.NewBatch()
				for i := start; i < n && i < start+batchSize; i++ {
					if create {
						b.AddCreate(workload(i, zone))
					} else {
						b.AddDelete(workload(i, zone))
					}
				}
				errs, err := b.Send(c)
				if err != nil {
					return err
				}
				for _, e := range errs {
					if e != nil {
						fails++
					}
				}
			}
			op := "create"
			if !create {
				op = "delete"
			}
			line(op, n, time.Since(t0).Seconds(), 0)
			if fails > 0 {
				return fmt.Errorf("%s: %d failed", op, fails)
			}
		}
	default:
		return fmt.Errorf("unknown operation %q", os.Args[1])
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gobind:", err)
		os.Exit(1)
	}
}
