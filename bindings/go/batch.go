package conntrack

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"syscall"
)

// Batch is a list of create, update and delete requests sent together: the library
// packs them into as few messages as the socket can answer and reports an outcome per
// request. It is plain Go data (the entries are copied when added); build one with
// NewBatch or use the zero value. A Batch is not safe for concurrent use.
type Batch struct {
	ops   []C.int32_t
	flats []C.gct_flat
	errs  []error // a request that could not even be converted
}

// NewBatch makes an empty batch.
func NewBatch() *Batch { return &Batch{} }

func (b *Batch) add(op C.int32_t, name string, e *Entry) int {
	var f C.gct_flat
	err := e.toFlat(name, &f)
	b.ops = append(b.ops, op)
	b.flats = append(b.flats, f)
	b.errs = append(b.errs, err)
	return len(b.ops) - 1
}

// AddCreate queues the creation of e (see Conn.Create) and returns the request's index.
// An entry that cannot be sent still takes its index; its error comes back from Send.
func (b *Batch) AddCreate(e Entry) int { return b.add(C.GCT_OP_CREATE, "create", &e) }

// AddUpdate queues an update (see Conn.Update) and returns the request's index.
func (b *Batch) AddUpdate(e Entry) int { return b.add(C.GCT_OP_UPDATE, "update", &e) }

// AddDelete queues a deletion (see Conn.Delete) and returns the request's index.
func (b *Batch) AddDelete(e Entry) int { return b.add(C.GCT_OP_DELETE, "delete", &e) }

// Len is the number of requests queued.
func (b *Batch) Len() int { return len(b.ops) }

// Reset removes every request, keeping the memory for reuse.
func (b *Batch) Reset() {
	b.ops, b.flats, b.errs = b.ops[:0], b.flats[:0], b.errs[:0]
}

var opNames = map[C.int32_t]string{C.GCT_OP_CREATE: "create", C.GCT_OP_UPDATE: "update", C.GCT_OP_DELETE: "delete"}

// Send sends every request on c, in order; one failing does not stop the others. It
// returns one error per request, in the order they were added (nil for a request that
// succeeded; errors match ErrExists, ErrNotFound, ErrInvalidArgument, ErrTableFull for a
// create the kernel had no room for, ErrOverrun when its answer was lost, ...). The second result is non-nil when the batch could not be
// sent as a whole; requests whose outcome is then unknown carry that error too. The
// batch keeps its requests: Send again resends them, Reset empties it.
func (b *Batch) Send(c *Conn) ([]error, error) {
	h, err := c.handle("batch")
	if err != nil {
		return nil, err
	}
	n := len(b.ops)
	results := make([]error, n)
	if n == 0 {
		return results, nil
	}
	var cb *C.ct_batch
	if err := threadCall("batch", func() C.ct_status { return C.ct_batch_new(&cb) }); err != nil {
		return nil, err
	}
	defer C.ct_batch_free(cb)

	// Every request converted on the Go side is queued in one C call, as blocks of views
	// (ct_batch_add_views) but for those with a helper or a label mask; one that failed
	// to convert is skipped (op -1).
	ops := make([]C.int32_t, n)
	for i := range ops {
		ops[i] = b.ops[i]
		if b.errs[i] != nil {
			ops[i] = -1
		}
	}
	build := make([]C.int32_t, n)
	C.gct_batch_fill(cb, &ops[0], &b.flats[0], C.size_t(n), &build[0])
	var sent []int // sent[k]: the Go index of C request k
	for i := 0; i < n; i++ {
		switch {
		case b.errs[i] != nil:
			results[i] = b.errs[i]
		case build[i] != C.CT_OK:
			// A setter refused a field: ask again for the message.
			var d C.gct_err
			if rc := C.gct_validate(&b.flats[i], &d); rc != C.CT_OK {
				results[i] = newError(opNames[b.ops[i]], rc, &d)
			} else {
				results[i] = newError(opNames[b.ops[i]], C.ct_status(build[i]), nil)
			}
		default:
			sent = append(sent, i)
		}
	}
	if got := int(C.ct_batch_len(cb)); got != len(sent) {
		return nil, &Error{Op: "batch", Code: CodeInternal,
			Message: fmt.Sprintf("the library queued %d requests, %d were added", got, len(sent))}
	}
	if len(sent) == 0 {
		return results, nil
	}

	var failed C.size_t
	rc := C.ct_batch_send(h, cb, &failed)
	var sendErr error
	if rc != C.CT_OK {
		sendErr = handleError("batch", h, rc)
	}
	status := make([]C.int32_t, len(sent))
	errnos := make([]C.int32_t, len(sent))
	C.gct_batch_results(cb, C.size_t(len(sent)), &status[0], &errnos[0])
	for k, i := range sent {
		switch st := status[k]; {
		case st == C.CT_OK:
			results[i] = nil
		case st < 0: // outcome unknown: the batch as a whole failed before its answer
			if sendErr != nil {
				results[i] = sendErr
			} else {
				results[i] = &Error{Op: opNames[b.ops[i]], Code: CodeInternal, Message: "no outcome recorded for a sent request"}
			}
		default:
			e := &Error{Op: opNames[b.ops[i]], Code: Code(st), Errno: syscall.Errno(errnos[k])}
			if m := C.ct_batch_result_message(cb, C.size_t(k)); m != nil {
				e.Message = C.GoString(m) // copied before the next call can change it
			}
			results[i] = e
		}
	}
	return results, sendErr
}
