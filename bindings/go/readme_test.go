package conntrack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The program of README.md builds against this package and does what the README says, in
// a private network namespace.
func TestReadmeExample(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```go\n")
	code, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no Go code block")
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
