package conntrack

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The kernel tests run as root, each in a network namespace of its own (removed after the
// test, also when it fails), with the conntrack tool (conntrack-tools) as the oracle. The
// host's table is never touched. Without root they are skipped, unless
// CONNTRACK_GO_REQUIRE_KERNEL is set (run-tests.sh sets it): then they fail.

var netnsCounter int64

type netns struct {
	name string
	acct bool // nf_conntrack_acct and nf_conntrack_timestamp are on
}

func needKernel(t testing.TB) {
	t.Helper()
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root"
	}
	for _, tool := range []string{"ip", "conntrack"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing += " " + tool
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CONNTRACK_GO_REQUIRE_KERNEL") != "" {
		t.Fatalf("kernel test needs: %s", missing)
	}
	t.Skipf("kernel test needs: %s", missing)
}

// newNetns makes a fresh network namespace for t, with counters and timestamps on, and
// removes it when t ends.
func newNetns(t testing.TB) *netns { return makeNetns(t, true) }

func makeNetns(t testing.TB, acct bool) *netns {
	t.Helper()
	needKernel(t)
	ns := &netns{name: fmt.Sprintf("ctgo-%d-%d", os.Getpid(), atomic.AddInt64(&netnsCounter, 1))}
	if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns.name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns.name, err, out)
		}
	})
	// The first conntrack call loads the module (and with it the sysctls); then counters
	// and timestamps on.
	if _, err := ns.try("conntrack", "-L"); err != nil {
		t.Fatalf("conntrack -L in %s: %v", ns.name, err)
	}
	if !acct {
		return ns
	}
	_, err := ns.try("sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1", "net.netfilter.nf_conntrack_timestamp=1")
	ns.acct = err == nil
	return ns
}

// try runs a command inside the namespace and returns its standard output.
func (ns *netns) try(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// tool runs the conntrack tool inside the namespace; the test fails when it fails.
func (ns *netns) tool(t testing.TB, args ...string) string {
	t.Helper()
	out, err := ns.try(append([]string{"conntrack"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// open opens a Conn in the namespace, closed when t ends.
func (ns *netns) open(t testing.TB) *Conn {
	t.Helper()
	c, err := OpenNetns(ns.name)
	if err != nil {
		t.Fatalf("OpenNetns(%s): %v", ns.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// countLines counts the lines of text containing needle (every non-empty line for "").
// timeoutWithin says whether `got`, a timeout read back (whole seconds left, rounded down),
// can be what `set` seconds became at most `elapsed` later. The slack is the time measured
// around the calls, not a fixed one: a slow machine passes, a wrong value still fails.
func timeoutWithin(got, set uint32, elapsed time.Duration) bool {
	slack := uint32(math.Ceil(elapsed.Seconds()))
	return got <= set && got+slack >= set
}

// toolTimeout reads the timeout column (the third: "udp 17 499 ...") of the one line of
// conntrack -L's output that holds needle.
func toolTimeout(out, needle string) (uint32, bool) {
	var f []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, needle) {
			if f != nil {
				return 0, false
			}
			f = strings.Fields(line)
		}
	}
	if len(f) < 3 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[2], 10, 32)
	return uint32(n), err == nil
}

func countLines(text, needle string) int {
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if line != "" && strings.Contains(line, needle) {
			n++
		}
	}
	return n
}
