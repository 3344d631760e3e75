package conntrack

import (
	"errors"
	"strings"
	"testing"
)

// The package reads the library's ct_view; a library of another layout is refused with a
// clear error instead of misread.
func TestViewLayoutChecked(t *testing.T) {
	if viewSize != 192 {
		t.Fatalf("ct_view is %d bytes, the header says 192", viewSize)
	}
	if err := checkViewLayout(viewSize); err != nil {
		t.Fatalf("this library's layout refused: %v", err)
	}
	for _, size := range []int{viewSize - 8, viewSize + 8} {
		err := checkViewLayout(size)
		var ce *Error
		if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), "another ct_view layout") {
			t.Fatalf("a %d-byte layout: %v", size, err)
		}
	}
}

// Dump (cursor blocks) and List (list blocks) read the same entries, over more than one
// block, and an entry with fields beyond the view (SCTP tags) in the middle of a block.
func TestDumpAndListBlocks(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	c := ns.open(t)
	ns.tool(t, "-I", "-p", "sctp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "6", "--dport", "7", "--state", "ESTABLISHED", "--orig-vtag", "9", "--reply-vtag", "10", "-t", "1234")
	batch := NewBatch()
	for i := 1; i <= 3*viewBlock+7; i++ {
		batch.AddCreate(withPorts(entry(ProtoUDP, "10.0.0.1", "10.0.0.2", 100, 0), uint16(i), 53))
	}
	if errs, err := batch.Send(c); err != nil || countErrors(errs) != 0 {
		t.Fatalf("filling the table: %v, %d failed", err, countErrors(errs))
	}
	list, err := c.List(nil)
	if err != nil {
		t.Fatal(err)
	}
	var dumped []Entry
	if err := c.Dump(nil, func(e Entry) bool { dumped = append(dumped, e); return true }); err != nil {
		t.Fatal(err)
	}
	want := 3*viewBlock + 8
	if len(list) != want || len(dumped) != want {
		t.Fatalf("List %d, Dump %d entries; want %d", len(list), len(dumped), want)
	}
	key := func(e Entry) string {
		e.Timeout, e.Use = nil, nil // may tick between the reads
		s, err := e.Format(FormatExtended)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	seen := map[string]int{}
	for _, e := range list {
		seen[key(e)]++
	}
	for _, e := range dumped {
		seen[key(e)]--
	}
	for k, n := range seen {
		if n != 0 {
			t.Fatalf("List and Dump differ on %s", k)
		}
	}
	lines := strings.Count(ns.tool(t, "-L"), "\n")
	if lines != want {
		t.Fatalf("conntrack -L shows %d entries, want %d", lines, want)
	}
}
