// The Go rows of `make compare`: the bench workloads through github.com/vishvananda/netlink
// (Debian's golang-github-vishvananda-netlink-dev), the package kube-proxy and many CNI
// plugins use for conntrack. Built in GOPATH mode; no module download.
//
//	dump           list the table (ConntrackTableList), count the flows, and report the
//	               resident memory the listing grew by while its result is held
//	delete N ZONE  delete the bench entries as kube-proxy clears a UDP service's stale
//	               flows: ConntrackDeleteFilter with a filter on protocol, destination
//	               address and port, which lists the table and then sends one request per
//	               matching flow. This version's flow type carries no zone, so the filter
//	               cannot select one: matching flows of every zone go (the comparison's
//	               table holds only the bench's zone). Each delete request repeats the
//	               attributes the dump returned, the zone among them, so it removes that
//	               one entry. N and ZONE keep the other programs' command line.
//	delete-any K ZONE
//	               the K filters of `ct-bench delete-any` (UDP, source 10.0.0.0 + 2j + 1)
//	               as kube-proxy passes many to ConntrackDeleteFilters: the table is
//	               listed into memory, every filter is tried on every flow, and each match
//	               is deleted by its own request. This version has no ConntrackDeleteFilters,
//	               so one custom filter tries the K in turn, which is what that function
//	               does. No zone, as above. Prints rss_kib=GROWTH as ct-bench does.
//
// Prints "op=... n=... secs=... rate=.../s" like bench/ct-bench.c (dump adds rss_growth_kib=K).
// The package does not report a failed delete; the comparison script checks the table.
package main

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// residentKiB reads this process's resident set from /proc/self/statm.
func residentKiB() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()) / 1024
}

func report(op string, n int, d time.Duration, extra string) {
	secs := d.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(n) / secs
	}
	fmt.Printf("op=%s n=%d secs=%.3f rate=%.0f/s%s\n", op, n, secs, rate, extra)
}

func dump() error {
	runtime.GC()
	before := residentKiB()
	start := time.Now()
	flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, netlink.InetFamily(unix.AF_UNSPEC))
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	grown := residentKiB() - before
	report("godump", len(flows), elapsed, fmt.Sprintf(" rss_growth_kib=%d", grown))
	runtime.KeepAlive(flows) // held while memory is read, as a caller using the list would
	return nil
}

func deleteBench() error {
	filter := &netlink.ConntrackFilter{}
	if err := filter.AddProtocol(unix.IPPROTO_UDP); err != nil {
		return err
	}
	if err := filter.AddIP(netlink.ConntrackOrigDstIP, net.IPv4(10, 200, 0, 1)); err != nil {
		return err
	}
	if err := filter.AddPort(netlink.ConntrackOrigDstPort, 53); err != nil {
		return err
	}
	start := time.Now()
	n, err := netlink.ConntrackDeleteFilter(netlink.ConntrackTable, unix.AF_INET, filter)
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	report("godelete", int(n), elapsed, "")
	return nil
}

// anyOf matches a flow that any of its filters matches, trying each in turn.
type anyOf []*netlink.ConntrackFilter

func (a anyOf) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	for _, f := range a {
		if f.MatchConntrackFlow(flow) {
			return true
		}
	}
	return false
}

// peakGrowthKiB is VmHWM over `before` (KiB), from /proc/self/status.
func peakGrowthKiB(before int64) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v - before
			}
		}
	}
	return 0
}

func deleteAny(k int) error {
	before := residentKiB()
	start := time.Now()
	filters := make(anyOf, 0, k)
	for j := 0; j < k; j++ {
		a := uint32(10<<24) + uint32(2*j+1)
		f := &netlink.ConntrackFilter{}
		if err := f.AddProtocol(unix.IPPROTO_UDP); err != nil {
			return err
		}
		if err := f.AddIP(netlink.ConntrackOrigSrcIP, net.IPv4(byte(a>>24), byte(a>>16), byte(a>>8), byte(a))); err != nil {
			return err
		}
		filters = append(filters, f)
	}
	n, err := netlink.ConntrackDeleteFilter(netlink.ConntrackTable, unix.AF_INET, filters)
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("delete-any: %w", err)
	}
	report("go-delete-any", int(n), elapsed, fmt.Sprintf(" filters=%d rss_kib=%d", k, peakGrowthKiB(before)))
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) >= 2 && os.Args[1] == "dump":
		err = dump()
	case len(os.Args) >= 4 && os.Args[1] == "delete":
		err = deleteBench()
	case len(os.Args) >= 4 && os.Args[1] == "delete-any":
		k, convErr := strconv.Atoi(os.Args[2])
		if convErr != nil || k < 1 {
			fmt.Fprintf(os.Stderr, "vish-bench: K must be a positive number\n")
			os.Exit(2)
		}
		err = deleteAny(k)
	default:
		fmt.Fprintf(os.Stderr, "usage: %s dump | delete N ZONE | delete-any K ZONE\n", os.Args[0])
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vish-bench:", err)
		os.Exit(1)
	}
}
