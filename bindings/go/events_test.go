package conntrack

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The bound of every wait for an event that must come.
const eventWait = 5 * time.Second

// eventsNetns makes a namespace with events on (the first conntrack call of makeNetns
// loaded the module) and a listener in it, closed when t ends.
func eventsNetns(t *testing.T, types EventType) (*netns, *Events) {
	t.Helper()
	ns := newNetns(t)
	if _, err := ns.try("sysctl", "-qw", "net.netfilter.nf_conntrack_events=1"); err != nil {
		t.Fatal(err)
	}
	ev, err := OpenEventsNetns(ns.name, types)
	if err != nil {
		t.Fatalf("OpenEventsNetns(%s): %v", ns.name, err)
	}
	t.Cleanup(func() {
		if err := ev.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ns, ev
}

// collectEvents receives until want events came; a receive that waits eventWait for
// nothing fails the test.
func collectEvents(t *testing.T, ev *Events, want int) []Event {
	t.Helper()
	var got []Event
	for len(got) < want {
		batch, err := ev.Receive(eventWait)
		if err != nil {
			t.Fatalf("Receive after %d events: %v", len(got), err)
		}
		if len(batch) == 0 {
			t.Fatalf("no event within %v; got %d: %+v", eventWait, len(got), got)
		}
		got = append(got, batch...)
	}
	if len(got) != want {
		t.Fatalf("got %d events, want %d: %+v", len(got), want, got)
	}
	return got
}

// burst makes n UDP entries in one `conntrack -R -` run (source ports first..).
func burst(t *testing.T, ns *netns, n, first int, src string) {
	t.Helper()
	var b strings.Builder
	for p := first; p < first+n; p++ {
		fmt.Fprintf(&b, "-I -p udp -s %s -d 10.0.0.2 --sport %d --dport 1 -t 100\n", src, p)
	}
	cmd := exec.Command("ip", "netns", "exec", ns.name, "conntrack", "-R", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("conntrack -R -: %v: %s", err, out)
	}
}

// readable reports whether fd turns readable within d (select(2)).
func readable(t *testing.T, fd int, d time.Duration) bool {
	t.Helper()
	var set syscall.FdSet
	bits := 8 * int(unsafe.Sizeof(set.Bits[0]))
	set.Bits[fd/bits] |= 1 << uint(fd%bits)
	tv := syscall.NsecToTimeval(d.Nanoseconds())
	for {
		n, err := syscall.Select(fd+1, &set, nil, nil, &tv)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("select: %v", err)
		}
		return n > 0
	}
}

// fromChannel waits (bounded) for the next event Run sends, or fails when Run ended.
func fromChannel(t *testing.T, ch <-chan Event, errc <-chan error) Event {
	t.Helper()
	timer := time.NewTimer(eventWait)
	defer timer.Stop()
	select {
	case e := <-ch:
		return e
	case err := <-errc:
		t.Fatalf("Run ended: %v", err)
	case <-timer.C:
		t.Fatalf("no event from Run within %v", eventWait)
	}
	return Event{}
}

var tcpTuple = []string{"-p", "tcp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2"}

func TestEventsNewUpdateDestroy(t *testing.T) {
	t.Parallel()
	ns, ev := eventsNetns(t, EventAll)
	ns.tool(t, append(append([]string{"-I"}, tcpTuple...), "--state", "ESTABLISHED", "-t", "1234", "-m", "5")...)
	ns.tool(t, append(append([]string{"-U"}, tcpTuple...), "-m", "9")...) // -U takes no zone: zone 0
	ns.tool(t, append([]string{"-D"}, tcpTuple...)...)
	got := collectEvents(t, ev, 3)
	if got[0].Type != EventNew || got[1].Type != EventUpdate || got[2].Type != EventDestroy {
		t.Fatalf("types %v %v %v", got[0].Type, got[1].Type, got[2].Type)
	}
	if got[0].Type.String() != "new" || got[2].Type.String() != "destroy" || EventAll.String() != "new|update|destroy" {
		t.Fatalf("type names %q %q %q", got[0].Type, got[2].Type, EventAll)
	}
	e := got[0].Entry
	if e.Proto != ProtoTCP || e.Family != FamilyIPv4 || e.Orig.Src != addr("1.1.1.1") || e.Orig.Dst != addr("2.2.2.2") ||
		e.Reply.Src != addr("2.2.2.2") || e.Reply.Dst != addr("1.1.1.1") {
		t.Fatalf("new: %+v", e)
	}
	if e.Orig.Has&(TupleSrcPort|TupleDstPort) != TupleSrcPort|TupleDstPort || e.Orig.SrcPort != 1 || e.Orig.DstPort != 2 ||
		e.Reply.Has&TupleSrcPort == 0 || e.Reply.SrcPort != 2 {
		t.Fatalf("new: ports %+v", e)
	}
	if m, ok := e.GetMark(); !ok || m != 5 {
		t.Fatalf("new: %+v", e)
	}
	if to, ok := e.GetTimeout(); !ok || to <= 1200 || to > 1234 {
		t.Fatalf("new: %+v", e)
	}
	if st, ok := e.GetTCPState(); !ok || st != TCPStateEstablished || e.Has&FieldZone != 0 {
		t.Fatalf("new: %+v", e)
	}
	if u := got[1].Entry; u.Has&FieldMark == 0 || u.Mark != 9 || u.Orig.Src != addr("1.1.1.1") {
		t.Fatalf("update: %+v", u)
	}
	if d := got[2].Entry; d.Orig.Has&TupleSrcPort == 0 || d.Orig.SrcPort != 1 ||
		(d.Has&e.Has&FieldID != 0 && d.ID != e.ID) {
		t.Fatalf("destroy: %+v (new id %v)", d, e.ID)
	}
	if s := e.String(); !strings.Contains(s, "src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2") {
		t.Fatalf("Format: %q", s)
	}
	for _, x := range got {
		if x.Overrun {
			t.Fatalf("overrun marker from Receive: %+v", x)
		}
	}
	if ev.Overruns() != 0 {
		t.Fatalf("Overruns %d", ev.Overruns())
	}
}

func TestEventsTypesSelectWhatArrives(t *testing.T) {
	t.Parallel()
	ns, ev := eventsNetns(t, EventNew|EventDestroy)
	ns.tool(t, append(append([]string{"-I"}, tcpTuple...), "--state", "ESTABLISHED", "-t", "1234")...)
	ns.tool(t, append(append([]string{"-U"}, tcpTuple...), "-m", "9")...)
	ns.tool(t, append([]string{"-D"}, tcpTuple...)...)
	got := collectEvents(t, ev, 2)
	if got[0].Type != EventNew || got[1].Type != EventDestroy {
		t.Fatalf("types %v %v", got[0].Type, got[1].Type)
	}
	if more, err := ev.Receive(0); err != nil || more != nil {
		t.Fatalf("Receive(0) after: %+v, %v", more, err)
	}
}

func TestEventsFilter(t *testing.T) {
	t.Parallel()
	ns, ev := eventsNetns(t, EventNew)
	udp := []string{"-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2", "-t", "100"}
	if err := ev.SetFilter(&Filter{Zone: Ptr[uint16](5)}); err != nil {
		t.Fatal(err)
	}
	// The same filter applied by the library alone.
	inLib, err := OpenEventsNetns(ns.name, EventNew)
	if err != nil {
		t.Fatal(err)
	}
	defer inLib.Close()
	if err := inLib.SetFilter(&Filter{Zone: Ptr[uint16](5), NoKernelFiltering: true}); err != nil {
		t.Fatal(err)
	}
	ns.tool(t, append(udp, "-w", "6")...)
	ns.tool(t, append(udp, "-w", "5")...)
	for _, l := range []*Events{ev, inLib} {
		got := collectEvents(t, l, 1)
		if z, ok := got[0].Entry.GetZone(); !ok || z != 5 {
			t.Fatalf("filtered event: %+v", got[0])
		}
		// The zone 6 event came first and was left out; nothing else is queued.
		if more, err := l.Receive(0); err != nil || more != nil {
			t.Fatalf("Receive(0) after: %+v, %v", more, err)
		}
	}
	if err := ev.SetFilter(&Filter{Zone: Ptr[uint16](7), Proto: ProtoUDP}); err != nil {
		t.Fatal(err)
	}
	ns.tool(t, append(udp, "-w", "8")...)
	ns.tool(t, append(udp, "-w", "7")...)
	if z, ok := collectEvents(t, ev, 1)[0].Entry.GetZone(); !ok || z != 7 {
		t.Fatalf("second filter let zone %v through", z)
	}
	if err := ev.SetFilter(nil); err != nil {
		t.Fatal(err)
	}
	ns.tool(t, udp...)
	if e := collectEvents(t, ev, 1)[0].Entry; e.Has&FieldZone != 0 || e.Orig.SrcPort != 1 {
		t.Fatalf("unfiltered: %+v", e)
	}
	// A filter the library refuses.
	if err := ev.SetFilter(&Filter{OrigSrc: netip.MustParsePrefix("10.0.0.0/8"), Family: FamilyIPv6}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("contradicting filter: %v", err)
	}
}

func TestEventsFdAndTimeout(t *testing.T) {
	t.Parallel()
	ns, ev := eventsNetns(t, EventNew)
	fd := ev.Fd()
	if fd < 0 {
		t.Fatalf("Fd %d", fd)
	}
	// Idle: a short wait sees nothing, a short receive returns nothing.
	if readable(t, fd, 50*time.Millisecond) {
		t.Fatal("descriptor readable with no event")
	}
	if got, err := ev.Receive(50 * time.Millisecond); err != nil || got != nil {
		t.Fatalf("idle Receive: %+v, %v", got, err)
	}
	if got, err := ev.Receive(0); err != nil || got != nil {
		t.Fatalf("idle Receive(0): %+v, %v", got, err)
	}
	ns.tool(t, "-I", "-p", "udp", "-s", "1.1.1.1", "-d", "2.2.2.2", "--sport", "1", "--dport", "2", "-t", "100")
	if !readable(t, fd, eventWait) {
		t.Fatal("the event did not wake select")
	}
	got, err := ev.Receive(0)
	if err != nil || len(got) != 1 || got[0].Type != EventNew || got[0].Entry.Orig.DstPort != 2 {
		t.Fatalf("Receive(0) after the wake-up: %+v, %v", got, err)
	}
}

// A tiny buffer under a burst: Receive reports the overrun with the events read before it,
// and the listener goes on; then the same through Run, which sends an overrun marker.
func TestEventsOverrun(t *testing.T) {
	t.Parallel()
	ns, ev := eventsNetns(t, EventNew)
	if err := ev.SetReceiveBuffer(4096); err != nil {
		t.Fatal(err)
	}
	burst(t, ns, 400, 1, "10.0.0.1")
	received := 0
	var overrun error
	for overrun == nil {
		got, err := ev.Receive(0)
		received += len(got)
		if err != nil {
			overrun = err
			break
		}
		if len(got) == 0 {
			t.Fatalf("no overrun after %d of 400 events", received)
		}
	}
	var ce *Error
	if !errors.Is(overrun, ErrOverrun) || !errors.As(overrun, &ce) || !strings.Contains(ce.Message, "overflow") ||
		!errors.Is(overrun, syscall.ENOBUFS) {
		t.Fatalf("overrun error: %#v", overrun)
	}
	if ev.Overruns() != 1 {
		t.Fatalf("Overruns %d", ev.Overruns())
	}
	for {
		got, err := ev.Receive(0)
		if err != nil {
			t.Fatalf("draining: %v", err)
		}
		if len(got) == 0 {
			break
		}
		received += len(got)
	}
	if received >= 400 {
		t.Fatalf("%d events of 400 arrived through a 4 KiB buffer", received)
	}
	ns.tool(t, "-I", "-p", "udp", "-s", "10.0.0.9", "-d", "10.0.0.2", "--sport", "1", "--dport", "1", "-t", "100")
	if e := collectEvents(t, ev, 1)[0].Entry; e.Orig.Src != addr("10.0.0.9") {
		t.Fatalf("after the overrun: %+v", e)
	}

	// Run: the overrun comes as a marker in the stream, and the stream goes on.
	burst(t, ns, 400, 1, "10.0.0.3")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan Event)
	errc := make(chan error, 1)
	go func() { errc <- ev.Run(ctx, ch) }()
	sent := 0
	for {
		e := fromChannel(t, ch, errc)
		if e.Overrun {
			if e.Overruns != 2 || e.Type != 0 || e.Entry.Proto != 0 {
				t.Fatalf("overrun marker: %+v", e)
			}
			break
		}
		if sent++; sent >= 400 || e.Type != EventNew {
			t.Fatalf("event %d without an overrun: %+v", sent, e)
		}
	}
	if ev.Overruns() != 2 {
		t.Fatalf("Overruns %d during Run", ev.Overruns())
	}
	ns.tool(t, "-I", "-p", "udp", "-s", "10.0.0.10", "-d", "10.0.0.2", "--sport", "1", "--dport", "1", "-t", "100")
	for {
		e := fromChannel(t, ch, errc)
		if e.Overrun {
			t.Fatalf("a second overrun: %+v", e)
		}
		if e.Entry.Orig.Src == addr("10.0.0.10") {
			break
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

// Run owns the listener: other calls fail with ErrBusy; cancelling its context wakes its
// wait; events it read but did not send stay for the next Receive.
func TestEventsRunBusyCancelAndKept(t *testing.T) {
	t.Parallel()
	ns, ev := eventsNetns(t, EventNew)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan Event)
	errc := make(chan error, 1)
	go func() { errc <- ev.Run(ctx, ch) }()

	burst(t, ns, 3, 1, "10.0.0.1")
	if e := fromChannel(t, ch, errc); e.Entry.Orig.SrcPort != 1 {
		t.Fatalf("first event: %+v", e)
	}
	// Run is running (it sent an event and has not returned).
	if _, err := ev.Receive(0); !errors.Is(err, ErrBusy) {
		t.Fatalf("Receive during Run: %v", err)
	}
	if err := ev.Close(); !errors.Is(err, ErrBusy) {
		t.Fatalf("Close during Run: %v", err)
	}
	if err := ev.SetFilter(nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("SetFilter during Run: %v", err)
	}
	if err := ev.Run(ctx, ch); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second Run: %v", err)
	}
	if ev.Overruns() != 0 || ev.Fd() < 0 {
		t.Fatalf("Overruns %d, Fd %d", ev.Overruns(), ev.Fd())
	}
	cancel()
	timer := time.NewTimer(eventWait)
	defer timer.Stop()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	case <-timer.C:
		t.Fatal("Run did not return after its context was cancelled")
	}
	// Ports 2 and 3: kept by Run or still in the kernel's queue; none lost.
	rest := collectEvents(t, ev, 2)
	if rest[0].Entry.Orig.SrcPort != 2 || rest[1].Entry.Orig.SrcPort != 3 {
		t.Fatalf("after Run: %+v", rest)
	}

	// Run again, now idle in its wait: cancelling wakes it.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { errc <- ev.Run(ctx2, ch) }()
	ns.tool(t, "-I", "-p", "udp", "-s", "10.0.0.1", "-d", "10.0.0.2", "--sport", "4", "--dport", "1", "-t", "100")
	if e := fromChannel(t, ch, errc); e.Entry.Orig.SrcPort != 4 {
		t.Fatalf("second Run: %+v", e)
	}
	cancel2()
	timer.Reset(eventWait)
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("second Run returned %v", err)
		}
	case <-timer.C:
		t.Fatal("an idle Run did not return after its context was cancelled")
	}
	// A context already done: Run returns at once.
	if err := ev.Run(ctx2, ch); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a done context: %v", err)
	}
}

func TestEventsReliableAndBuffer(t *testing.T) {
	t.Parallel()
	ns, ev := eventsNetns(t, EventAll)
	for _, on := range []bool{true, false, true} {
		if err := ev.SetReliable(on); err != nil {
			t.Fatalf("SetReliable(%v): %v", on, err)
		}
	}
	if err := ev.SetReceiveBuffer(1 << 20); err != nil {
		t.Fatal(err)
	}
	ns.tool(t, append(append([]string{"-I"}, tcpTuple...), "--state", "ESTABLISHED", "-t", "1234")...)
	ns.tool(t, append([]string{"-D"}, tcpTuple...)...)
	if got := collectEvents(t, ev, 2); got[0].Type != EventNew || got[1].Type != EventDestroy {
		t.Fatalf("types %v %v", got[0].Type, got[1].Type)
	}
}

func TestEventsArguments(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	for _, types := range []EventType{0, 8, EventAll | 16} {
		if _, err := OpenEventsNetns(ns.name, types); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("types %#x: %v", uint32(types), err)
		}
	}
	if _, err := OpenEventsNetns("/nonexistent/netns", EventAll); !errors.Is(err, ErrNetns) {
		t.Fatalf("missing netns: %v", err)
	}
	if _, err := OpenEventsNetns("a\x00b", EventAll); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("NUL in the name: %v", err)
	}
	ev, err := OpenEventsNetns(ns.name, EventAll)
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.SetReceiveBuffer(-1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("SetReceiveBuffer(-1): %v", err)
	}
	if err := ev.Run(context.Background(), nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Run(nil channel): %v", err)
	}
	if err := ev.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ev.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := ev.Receive(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Receive after Close: %v", err)
	}
	if err := ev.SetFilter(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetFilter after Close: %v", err)
	}
	if err := ev.Run(context.Background(), make(chan Event)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	var none *Events
	if none.Close() != nil || none.Fd() != -1 || none.Overruns() != 0 {
		t.Fatal("nil *Events")
	}
	if s := (EventNew | EventDestroy).String(); s != "new|destroy" {
		t.Fatalf("String %q", s)
	}
	if s := EventType(0).String(); s != "none" {
		t.Fatalf("String %q", s)
	}
}

func TestEventsTimeoutConversion(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int32
	}{
		{-1, -1}, {0, 0}, {time.Nanosecond, 1}, {time.Millisecond, 1}, {1500 * time.Microsecond, 2},
		{5 * time.Second, 5000}, {1 << 62, 1<<31 - 1},
	} {
		if got := int32(timeoutMs(c.d)); got != c.want {
			t.Errorf("timeoutMs(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}
