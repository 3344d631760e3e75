package conntrack

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The table mirror against the kernel, each test in a namespace of its own with events
// on: the conntrack tool and batches change the table, the mirror follows, and its content
// is compared with Conn.List, the tool's ids and a copy built only from the changes.

type mirrorKey struct {
	proto      uint8
	src, dst   string
	sport, dpt uint16
	zone       uint16
}

type mirrorVal struct{ mark, status, id uint32 }

func keyOf(e Entry) mirrorKey {
	// Absent fields read as zero: the zone of an entry without one is 0.
	k := mirrorKey{proto: e.Proto, src: e.Orig.Src.String(), dst: e.Orig.Dst.String()}
	if sp, ok := e.Orig.GetSrcPort(); ok {
		k.sport = sp
	}
	if dp, ok := e.Orig.GetDstPort(); ok {
		k.dpt = dp
	}
	if z, ok := e.GetZone(); ok {
		k.zone = z
	}
	return k
}

func valOf(e Entry) mirrorVal {
	var v mirrorVal
	if m, ok := e.GetMark(); ok {
		v.mark = m
	}
	if s, ok := e.GetStatus(); ok {
		v.status = uint32(s)
	}
	if id, ok := e.GetID(); ok {
		v.id = id
	}
	return v
}

func tableOf(t *testing.T, entries []Entry) map[mirrorKey]mirrorVal {
	t.Helper()
	out := map[mirrorKey]mirrorVal{}
	for _, e := range entries {
		if _, dup := out[keyOf(e)]; dup {
			t.Fatalf("twice: %+v", keyOf(e))
		}
		out[keyOf(e)] = valOf(e)
	}
	return out
}

// apply applies changes to a copy built from them alone.
func apply(t *testing.T, replica map[mirrorKey]mirrorVal, changes []Change) {
	t.Helper()
	for _, c := range changes {
		k := keyOf(c.Entry)
		_, known := replica[k]
		switch c.Kind {
		case MirrorDestroy:
			if !known {
				t.Fatalf("destroy of an unknown entry: %+v", k)
			}
			delete(replica, k)
		case MirrorNew, MirrorUpdate:
			if known != (c.Kind == MirrorUpdate) {
				t.Fatalf("%v of an entry known=%v: %+v", c.Kind, known, k)
			}
			replica[k] = valOf(c.Entry)
		default:
			t.Fatalf("change kind %v", c.Kind)
		}
	}
}

// mirrorNetns makes a namespace with events on and n UDP entries (10.0.0.1 ... 10.0.0.n)
// made by the tool, then a mirror of it.
func mirrorNetns(t *testing.T, n int) (*netns, *Mirror) {
	t.Helper()
	ns := newNetns(t)
	if _, err := ns.try("sysctl", "-qw", "net.netfilter.nf_conntrack_events=1"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		ns.tool(t, append([]string{"-I"}, udpArgs(fmt.Sprintf("10.0.0.%d", i))...)...)
	}
	return ns, openMirror(t, ns, nil)
}

func openMirror(t *testing.T, ns *netns, f *Filter) *Mirror {
	t.Helper()
	m, err := OpenMirror(ns.name, f)
	if err != nil {
		t.Fatalf("OpenMirror(%s): %v", ns.name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// settle steps until nothing is left to apply, no repair waits and the mirror is not stale.
func settle(t *testing.T, m *Mirror, replica map[mirrorKey]mirrorVal) {
	t.Helper()
	for i := 0; i < 10000; i++ {
		wait := m.NextTimeout()
		if wait < 0 {
			wait = 0
		}
		changes, err := m.Step(wait)
		if err != nil {
			t.Fatalf("Step: %v", err)
		}
		apply(t, replica, changes)
		s, err := m.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) == 0 && !s.Stale && m.NextTimeout() < 0 {
			return
		}
	}
	t.Fatal("the mirror did not settle")
}

func stepWant(t *testing.T, m *Mirror, want int) []Change {
	t.Helper()
	var got []Change
	for len(got) < want {
		c, err := m.Step(eventWait)
		if err != nil {
			t.Fatalf("Step: %v", err)
		}
		if len(c) == 0 {
			t.Fatalf("no change within %v; got %+v", eventWait, got)
		}
		got = append(got, c...)
	}
	if len(got) != want {
		t.Fatalf("%d changes, want %d: %+v", len(got), want, got)
	}
	return got
}

func assertEqualToTable(t *testing.T, ns *netns, m *Mirror, replica map[mirrorKey]mirrorVal) {
	t.Helper()
	list, err := ns.open(t).List(nil)
	if err != nil {
		t.Fatal(err)
	}
	table := tableOf(t, list)
	snap, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	mirror := tableOf(t, snap)
	if fmt.Sprint(mirror) != fmt.Sprint(table) || fmt.Sprint(replica) != fmt.Sprint(table) {
		t.Fatalf("mirror %d entries, replica %d, table %d; differ", len(mirror), len(replica), len(table))
	}
	if m.Len() != len(table) {
		t.Fatalf("Len %d, table %d", m.Len(), len(table))
	}
	var toolIDs, ids []int
	for _, line := range strings.Split(ns.tool(t, "-L", "-o", "id"), "\n") {
		if i := strings.Index(line, "id="); i >= 0 {
			n, _ := strconv.Atoi(strings.Fields(line[i+3:])[0])
			toolIDs = append(toolIDs, n)
		}
	}
	for _, v := range table {
		ids = append(ids, int(v.id))
	}
	sort.Ints(toolIDs)
	sort.Ints(ids)
	if fmt.Sprint(toolIDs) != fmt.Sprint(ids) {
		t.Fatalf("the tool's ids %v, the list's %v", toolIDs, ids)
	}
}

func udpArgs(src string) []string {
	return []string{"-p", "udp", "-s", src, "-d", "10.0.1.1", "--sport", "1", "--dport", "53", "-t", "600"}
}

func udpEntry(src string) Entry {
	return withPorts(Entry{Proto: 17, Orig: Tuple{Src: addr(src), Dst: addr("10.0.1.1")}, Timeout: 600, Has: FieldTimeout}, 1, 53)
}

func TestMirrorLoadFollowAndLookups(t *testing.T) {
	ns, m := mirrorNetns(t, 5)
	replica := map[mirrorKey]mirrorVal{}
	load, err := m.Step(0)
	if err != nil || len(load) != 5 {
		t.Fatalf("load: %d changes, %v", len(load), err)
	}
	for _, c := range load {
		if c.Kind != MirrorNew || !c.Repair {
			t.Fatalf("load change %+v", c)
		}
	}
	apply(t, replica, load)

	tcp := []string{"-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2"}
	ns.tool(t, append(append([]string{"-I"}, tcp...), "--state", "ESTABLISHED", "-t", "1234", "-m", "5")...)
	c := stepWant(t, m, 1)[0]
	if c.Kind != MirrorNew || c.Repair || c.Entry.Has&FieldMark == 0 || c.Entry.Mark != 5 || c.Entry.Proto != 6 {
		t.Fatalf("new: %+v", c)
	}
	apply(t, replica, []Change{c})
	ns.tool(t, append(append([]string{"-U"}, tcp...), "-m", "9")...)
	c = stepWant(t, m, 1)[0]
	if c.Kind != MirrorUpdate || c.Entry.Has&FieldMark == 0 || c.Entry.Mark != 9 || c.Kind.String() != "update" {
		t.Fatalf("update: %+v", c)
	}
	apply(t, replica, []Change{c})
	ns.tool(t, "-D", "-p", "udp", "-s", "10.0.0.3")
	c = stepWant(t, m, 1)[0]
	if c.Kind != MirrorDestroy || c.Entry.Orig.Src != addr("10.0.0.3") {
		t.Fatalf("destroy: %+v", c)
	}
	apply(t, replica, []Change{c})
	settle(t, m, replica)
	assertEqualToTable(t, ns, m, replica)

	// Lookups by tuple and zone, and by id.
	key := withPorts(Entry{Proto: 6, Orig: Tuple{Src: addr("1.1.1.1"), Dst: addr("2.2.2.2")}}, 1, 2)
	got, ok, err := m.Get(key)
	if err != nil || !ok || got.Has&FieldMark == 0 || got.Mark != 9 || got.Has&FieldTCPState == 0 {
		t.Fatalf("Get: %+v %v %v", got, ok, err)
	}
	key.SetZone(7)
	if _, ok, err := m.Get(key); ok || err != nil {
		t.Fatalf("Get in zone 7: %v %v", ok, err)
	}
	if _, ok, _ := m.Get(udpEntry("10.0.0.3")); ok {
		t.Fatal("a destroyed entry found")
	}
	byID, ok, err := m.GetByID(got.ID)
	if err != nil || !ok || keyOf(byID) != keyOf(got) {
		t.Fatalf("GetByID: %+v %v %v", byID, ok, err)
	}
	if _, ok, _ := m.GetByID(got.ID ^ 0x5a5a5a5a); ok {
		t.Fatal("GetByID of an unknown id found one")
	}
	s, err := m.Stats()
	if err != nil || s.Events != 3 || s.Overruns != 0 || s.Repairs != 1 || s.Stale {
		t.Fatalf("stats %+v %v", s, err)
	}
}

func TestMirrorOverrunRepairsToTheTable(t *testing.T) {
	ns, m := mirrorNetns(t, 0)
	if err := m.SetReceiveBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if err := m.SetBackoff(time.Millisecond, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	replica := map[mirrorKey]mirrorVal{}
	settle(t, m, replica)
	c := ns.open(t)
	for r := 1; r <= 3; r++ {
		b := NewBatch()
		for i := 0; i < 1000; i++ {
			b.AddCreate(udpEntry(fmt.Sprintf("10.%d.%d.%d", r, i/250, i%250+1)))
		}
		errs, err := b.Send(c)
		if err != nil {
			t.Fatalf("batch: %v", err)
		}
		for _, e := range errs {
			if e != nil {
				t.Fatalf("batch: %v", e)
			}
		}
		ns.tool(t, "-U", "-p", "udp", "-s", fmt.Sprintf("10.%d.0.7", r), "-m", strconv.Itoa(r+10))
		ns.tool(t, "-D", "-p", "udp", "-s", fmt.Sprintf("10.%d.1.9", r))
		changes, err := m.Step(0) // one step between bursts: the buffer overflows
		if err != nil {
			t.Fatal(err)
		}
		apply(t, replica, changes)
	}
	settle(t, m, replica)
	s, err := m.Stats()
	if err != nil || s.Overruns == 0 || s.Repairs < 2 || s.RepairedEntries == 0 || s.Stale {
		t.Fatalf("stats %+v %v", s, err)
	}
	if m.Len() != 3*999 {
		t.Fatalf("Len %d", m.Len())
	}
	if e, ok, _ := m.Get(udpEntry("10.2.0.7")); !ok || e.Has&FieldMark == 0 || e.Mark != 12 {
		t.Fatalf("the updated mark: %+v %v", e, ok)
	}
	assertEqualToTable(t, ns, m, replica)
	if err := m.RequestRepair(); err != nil || m.NextTimeout() != 0 {
		t.Fatalf("RequestRepair: %v, next %v", err, m.NextTimeout())
	}
	if changes, err := m.Step(0); err != nil || len(changes) != 0 {
		t.Fatalf("a quiet repair: %d changes, %v", len(changes), err)
	}
}

func TestMirrorRunSnapshotFilterAndClose(t *testing.T) {
	ns := newNetns(t)
	if _, err := ns.try("sysctl", "-qw", "net.netfilter.nf_conntrack_events=1"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		ns.tool(t, append(append([]string{"-I"}, udpArgs(fmt.Sprintf("10.0.0.%d", i))...), "-m", strconv.Itoa(i%2))...)
	}
	m := openMirror(t, ns, &Filter{Mark: &Masked{Value: 1, Mask: 0xffffffff}})

	// Run: the load, then the tool's changes, through a channel; Snapshot and Len answer
	// from another goroutine meanwhile.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan Change)
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx, ch) }()
	next := func() Change {
		t.Helper()
		select {
		case c := <-ch:
			return c
		case err := <-errc:
			t.Fatalf("Run ended: %v", err)
		case <-time.After(eventWait):
			t.Fatalf("no change from Run within %v", eventWait)
		}
		return Change{}
	}
	replica := map[mirrorKey]mirrorVal{}
	apply(t, replica, []Change{next(), next()})
	ns.tool(t, append(append([]string{"-I"}, udpArgs("10.0.0.9")...), "-m", "0")...)
	ns.tool(t, append(append([]string{"-I"}, udpArgs("10.0.0.8")...), "-m", "1")...)
	c := next()
	if c.Entry.Orig.Src != addr("10.0.0.8") || c.Repair {
		t.Fatalf("filtered change %+v", c)
	}
	apply(t, replica, []Change{c})
	snap, err := m.Snapshot()
	if err != nil || fmt.Sprint(tableOf(t, snap)) != fmt.Sprint(replica) || m.Len() != 3 {
		t.Fatalf("snapshot during Run: %d entries, %v", len(snap), err)
	}
	ns.tool(t, "-F")
	apply(t, replica, []Change{next(), next(), next()})
	if len(replica) != 0 || m.Len() != 0 {
		t.Fatalf("after the flush: %d left", m.Len())
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}

	// Close while Run waits: Run returns ErrClosed; calls after fail with ErrClosed.
	ns.tool(t, append(append([]string{"-I"}, udpArgs("10.0.0.5")...), "-m", "1")...)
	go func() { errc <- m.Run(context.Background(), ch) }()
	if c := next(); c.Kind != MirrorNew {
		t.Fatalf("%+v", c)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if _, err := m.Step(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Step after Close: %v", err)
	}
	if _, err := m.Snapshot(); !errors.Is(err, ErrClosed) || m.Len() != 0 || m.Close() != nil {
		t.Fatalf("Snapshot after Close: %v", err)
	}
}

func TestMirrorCloseInsideIteration(t *testing.T) {
	_, m := mirrorNetns(t, 5)
	changes, err := m.Step(0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range changes {
		n++
		m.Close()
	}
	if n != 5 {
		t.Fatalf("%d changes iterated", n)
	}
	if _, ok, err := m.Get(udpEntry("10.0.0.1")); ok || !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v %v", ok, err)
	}
}

// A mirror's failure carries the mirror's own detail, read in a cgo call of its own: the
// same whichever OS thread the goroutine runs on, while other goroutines fail differently
// on a handle at the same time.
func TestMirrorErrorIsTheMirrors(t *testing.T) {
	ns, m := mirrorNetns(t, 0)
	conns := []*Conn{ns.open(t), ns.open(t)}
	gone := udpEntry("10.9.9.9")
	done := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func(w int) {
			for i := 0; i < 100; i++ {
				if w%2 == 0 {
					if err := conns[w/2].Delete(gone); !errors.Is(err, ErrNotFound) {
						done <- fmt.Errorf("delete %d: %v", i, err)
						return
					}
				} else {
					err := m.SetReceiveBuffer(1 << 40)
					var ce *Error
					if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &ce) || ce.Errno != 0 ||
						!strings.Contains(ce.Message, "too large") {
						done <- fmt.Errorf("set receive buffer %d: %v", i, err)
						return
					}
				}
				runtime.Gosched()
			}
			done <- nil
		}(w)
	}
	for w := 0; w < 4; w++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
