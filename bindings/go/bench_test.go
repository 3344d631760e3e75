package conntrack

import (
	"fmt"
	"testing"
	"time"
)

// go test -run '^$' -bench . : the cost of the Go layer over the C library on a table of
// benchEntries entries in a private namespace.
const benchEntries = 20000

func benchConn(b *testing.B) *Conn {
	ns := newNetns(b)
	c := ns.open(b)
	batch := NewBatch()
	for i := 0; i < benchEntries; i++ {
		batch.AddCreate(withPorts(entry(ProtoUDP, "10.0.0.1", "10.0.0.2", 7, 0), uint16(i%60000+1), uint16(i/60000+1)))
	}
	if errs, err := batch.Send(c); err != nil || countErrors(errs) != 0 {
		b.Fatalf("filling the table: %v, %d failed", err, countErrors(errs))
	}
	return c
}

func BenchmarkRead(b *testing.B) {
	c := benchConn(b)
	b.Run("Dump", func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			n := 0
			if err := c.Dump(nil, func(Entry) bool { n++; return true }); err != nil || n != benchEntries {
				b.Fatalf("%d, %v", n, err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*benchEntries), "ns/entry")
	})
	b.Run("List", func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if l, err := c.List(&Filter{Zone: Ptr[uint16](7)}); err != nil || len(l) != benchEntries {
				b.Fatalf("%d, %v", len(l), err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*benchEntries), "ns/entry")
	})
}

func BenchmarkBatchCreateDelete(b *testing.B) {
	ns := newNetns(b)
	c := ns.open(b)
	create, del := NewBatch(), NewBatch()
	for i := 0; i < benchEntries; i++ {
		e := withPorts(entry(ProtoUDP, "10.0.0.1", "10.0.0.2", 7, 0), uint16(i%60000+1), uint16(i/60000+1))
		create.AddCreate(e)
		del.AddDelete(e)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for _, batch := range []*Batch{create, del} {
			if errs, err := batch.Send(c); err != nil || countErrors(errs) != 0 {
				b.Fatal(fmt.Sprint(err, countErrors(errs)))
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*2*benchEntries), "ns/request")
}
