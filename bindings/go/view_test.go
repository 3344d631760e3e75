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
		e.Clear(FieldTimeout | FieldUse) // may tick between the reads
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

// A batch goes to the library as runs of views (one ct_batch_add_views a run of one
// operation), with a request the view cannot carry (a label mask) built on its own between
// runs: each outcome stays at its request's index, a view the library refuses included.
func TestBatchViewRuns(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	c := ns.open(t)
	udp := func(port uint16) Entry { return withPorts(entry(ProtoUDP, "10.2.0.1", "10.2.0.2", 5, 0), port, 53) }
	masked := udp(9)
	masked.SetLabels(Labels{1})
	masked.SetLabelsMask(Labels{1})
	badICMP := withPorts(entry(ProtoICMP, "10.2.0.1", "10.2.0.2", 5, 0), 5, 5)
	b := NewBatch()
	b.AddCreate(udp(1))
	b.AddCreate(udp(2))
	b.AddCreate(udp(3))
	b.AddCreate(masked) // built alone (the kernel may refuse labels without their extension)
	b.AddDelete(udp(2))
	b.AddCreate(badICMP) // a port on ICMP: refused by the library, in its place
	b.AddCreate(udp(4))
	b.AddCreate(udp(1)) // exists
	errs, err := b.Send(c)
	if err != nil || len(errs) != 8 {
		t.Fatalf("Send: %v, %d outcomes", err, len(errs))
	}
	for _, i := range []int{0, 1, 2, 4, 6} {
		if errs[i] != nil {
			t.Errorf("request %d: %v", i, errs[i])
		}
	}
	made := 0 // request 3's outcome, whichever it is, is the tool's
	if errs[3] == nil {
		made = 1
	}
	var ce *Error
	if !errors.Is(errs[5], ErrInvalidArgument) || !errors.As(errs[5], &ce) || ce.Op != "create" || ce.Message == "" {
		t.Errorf("request 5: %#v", errs[5])
	}
	if !errors.Is(errs[7], ErrExists) {
		t.Errorf("request 7: %v", errs[7])
	}
	out := ns.tool(t, "-L", "-w", "5")
	if countLines(out, "src=10.2.0.1") != 3+made || countLines(out, "sport=9 dport=53") != made || countLines(out, "sport=1 dport=53") != 1 ||
		countLines(out, "sport=2 dport=53") != 0 || countLines(out, "sport=3 dport=53") != 1 ||
		countLines(out, "sport=4 dport=53") != 1 {
		t.Fatalf("after the batch:\n%s", out)
	}
}

func listAllocs(t *testing.T, c *Conn, want int) float64 {
	t.Helper()
	return testing.AllocsPerRun(2, func() {
		if l, err := c.List(nil); err != nil || len(l) != want {
			t.Fatalf("List: %d entries, %v", len(l), err)
		}
	})
}

func fillForAllocs(t *testing.T, c *Conn, want int) {
	t.Helper()
	batch := NewBatch()
	for i := 1; i <= want; i++ {
		batch.AddCreate(withPorts(entry(ProtoTCP, "10.0.0.1", "10.0.0.2", 3, 7), uint16(i), 80))
	}
	if errs, err := batch.Send(c); err != nil || countErrors(errs) != 0 {
		t.Fatalf("filling the table: %v, %d failed", err, countErrors(errs))
	}
}

// Entries are values: reading entries without rare fields allocates per block, not per
// entry or field (the former pointer fields took an allocation an entry in Dump). Not
// parallel: AllocsPerRun counts the whole process's allocations.
func TestReadAllocations(t *testing.T) {
	ns := makeNetns(t, false) // no counters or timestamps: only common fields
	c := ns.open(t)
	want := 2*viewBlock + 9
	fillForAllocs(t, c, want)
	dumped := 0
	dump := testing.AllocsPerRun(2, func() {
		dumped = 0
		if err := c.Dump(nil, func(e Entry) bool {
			if e.Has&(FieldZone|FieldMark) == FieldZone|FieldMark && e.Zone == 3 && e.Mark == 7 && e.rare == nil {
				dumped++
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
	})
	if dumped != want {
		t.Fatalf("Dump: %d entries of zone 3, mark 7 and no rare fields; want %d", dumped, want)
	}
	list := listAllocs(t, c, want)
	if dump > float64(want)/8 || list > float64(want)/8 {
		t.Fatalf("allocations for %d entries: Dump %v, List %v", want, dump, list)
	}
	t.Logf("allocations for %d entries: Dump %v, List %v", want, dump, list)
}

// With counters and timestamps (rare fields) on every entry, List takes them from chunks:
// a few allocations a block, not one an entry. Not parallel (AllocsPerRun).
func TestListAllocationsWithCounters(t *testing.T) {
	ns := newNetns(t)
	if !ns.acct {
		t.Fatal("counters and timestamps could not be turned on")
	}
	c := ns.open(t)
	want := 2*viewBlock + 9
	fillForAllocs(t, c, want)
	l, err := c.List(nil)
	if err != nil || len(l) != want {
		t.Fatalf("List: %d entries, %v", len(l), err)
	}
	if _, ok := l[0].GetOrigCounters(); !ok {
		t.Fatalf("no counters: %+v", l[0])
	}
	if n := listAllocs(t, c, want); n > float64(want)/8 {
		t.Fatalf("List of %d entries with counters: %v allocations", want, n)
	}
}
