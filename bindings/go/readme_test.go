package conntrack

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeProgram builds the Go code block number `index` of README.md, with the namespace
// name "blue" replaced by ns's and the replacements `edits` (old, new, ...) made, into a
// program against this package; it returns the program's path.
func readmeProgram(t *testing.T, ns *netns, index int, edits ...string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rest := string(readme)
	var code string
	for i := 0; i <= index; i++ {
		var ok, ok2 bool
		_, rest, ok = strings.Cut(rest, "```go\n")
		code, rest, ok2 = strings.Cut(rest, "```")
		if !ok || !ok2 {
			t.Fatalf("README.md has no Go code block %d", index)
		}
	}
	code = strings.ReplaceAll(code, `"blue"`, strconv.Quote(ns.name))
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(code, edits[i]) {
			t.Fatalf("README.md's Go block %d lacks %q", index, edits[i])
		}
		code = strings.Replace(code, edits[i], edits[i+1], 1)
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module readmeprog\n\ngo 1.19\n\nrequire libconntrack/bindings/go/conntrack v0.0.0\n\n" +
		"replace libconntrack/bindings/go/conntrack => " + here + "\n"
	for name, text := range map[string]string{"go.mod": gomod, "main.go": code} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	prog := filepath.Join(dir, "prog")
	build := exec.Command(goTool, "build", "-o", prog, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the README program: %v\n%s", err, out)
	}
	return prog
}

// The program of README.md builds against this package and does what the README says, in
// a private network namespace.
func TestReadmeExample(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	prog := readmeProgram(t, ns, 0)

	ns.tool(t, "-I", "-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2", "--state", "ESTABLISHED", "-t", "1234", "-w", "10")
	ns.tool(t, "-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "4", "--dport", "5", "-t", "1234", "-w", "10")
	ns.tool(t, "-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "4", "--dport", "5", "-t", "1234", "-w", "11")
	out, err := ns.try(prog)
	if err != nil {
		t.Fatalf("README program: %v\n%s", err, out)
	}
	if countLines(out, "1.1.1.1 -> 2.2.2.2") != 2 || countLines(out, "proto 6 ") != 1 || countLines(out, "proto 17 ") != 1 {
		t.Fatalf("README program printed:\n%s", out)
	}
	after := ns.tool(t, "-L")
	if countLines(after, "src=") != 2 || countLines(after, "udp ") != 1 || countLines(after, "zone=11") != 1 {
		t.Fatalf("after the README program the table holds:\n%s", after)
	}
	// Run again: the entry is gone.
	if out, err := ns.try(prog); err != nil || countLines(out, "no such entry") != 1 {
		t.Fatalf("README program, second run: %v\n%s", err, out)
	}
}

// The events program of README.md prints the zone 10 entries made and destroyed after it
// subscribed, and ends at the first destroy.
func TestReadmeEventsExample(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	if _, err := ns.try("sysctl", "-qw", "net.netfilter.nf_conntrack_events=1"); err != nil {
		t.Fatal(err)
	}
	// It says when it has subscribed: entries made before that would not be seen.
	prog := readmeProgram(t, ns, 1, "\tch := make(", "\tfmt.Println(\"listening\")\n\tch := make(")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.name, prog)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "listening" {
		cmd.Wait()
		t.Fatalf("README events program: %q, %s", lines.Text(), stderr.String())
	}
	udp := []string{"-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2"}
	ns.tool(t, append(append([]string{"-I"}, udp...), "-t", "100", "-w", "11")...)
	ns.tool(t, append(append([]string{"-I"}, udp...), "-t", "100", "-w", "10")...)
	ns.tool(t, append(append([]string{"-D"}, udp...), "-w", "10")...)
	var out []string
	for lines.Scan() {
		out = append(out, lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("README events program: %v\n%s", err, stderr.String())
	}
	if len(out) != 2 || !strings.HasPrefix(out[0], "new udp      17 ") || !strings.Contains(out[0], "zone=10") ||
		!strings.HasPrefix(out[1], "destroy udp      17 ") || !strings.Contains(out[1], "zone=10") {
		t.Fatalf("README events program printed:\n%s", strings.Join(out, "\n"))
	}
}
