package conntrack

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"runtime"
	"strings"
	"syscall"
)

// The error rule: a failed operation on a handle, listener or mirror is described by the
// error that object keeps (handleError, eventsError, mirrorError), which reads the same
// from any OS thread, so it may be read in a cgo call of its own. The thread's error
// (ct_last_error_message) is read only where no object exists yet: in the C call that
// built the entry, filter or expectation (shim.c), or under threadCall for a constructor.

// Code is a status code of the C library (ct_status). Every Code except CodeOK is also an
// error value, so the Err* sentinels below are Codes and errors.Is(err, ErrNotFound) works
// on every error this package returns.
type Code int32

// The status codes of the C library; the numbers never change meaning.
const (
	CodeOK              Code = C.CT_OK
	CodeInvalidArgument Code = C.CT_ERR_INVALID_ARGUMENT
	CodeNullPointer     Code = C.CT_ERR_NULL_POINTER
	CodeNotFound        Code = C.CT_ERR_NOT_FOUND
	CodeExists          Code = C.CT_ERR_EXISTS
	CodePermission      Code = C.CT_ERR_PERMISSION
	CodeBufferTooSmall  Code = C.CT_ERR_BUFFER_TOO_SMALL
	CodeDumpInterrupted Code = C.CT_ERR_DUMP_INTERRUPTED
	CodeUnsupported     Code = C.CT_ERR_UNSUPPORTED
	CodeNetns           Code = C.CT_ERR_NETNS
	CodeKernel          Code = C.CT_ERR_KERNEL
	CodeMalformed       Code = C.CT_ERR_MALFORMED
	CodeInternal        Code = C.CT_ERR_INTERNAL
	CodeNotSet          Code = C.CT_ERR_NOT_SET
	CodeOverrun         Code = C.CT_ERR_OVERRUN
	CodeBusy            Code = C.CT_ERR_BUSY
	CodeTableFull       Code = C.CT_ERR_TABLE_FULL
)

// Sentinels for errors.Is. Every error from this package is an *Error whose Code matches
// exactly one of them.
var (
	// ErrInvalidArgument: a value cannot be right (wrong family, a port on ICMP, ...).
	ErrInvalidArgument error = CodeInvalidArgument
	// ErrNullPointer: a required pointer was NULL (a bug in this package if ever seen).
	ErrNullPointer error = CodeNullPointer
	// ErrNotFound: no such entry (the kernel's ENOENT).
	ErrNotFound error = CodeNotFound
	// ErrExists: the entry already exists in that zone (EEXIST).
	ErrExists error = CodeExists
	// ErrPermission: CAP_NET_ADMIN is missing in the network namespace.
	ErrPermission error = CodePermission
	// ErrBufferTooSmall: a buffer was too small (handled inside this package).
	ErrBufferTooSmall error = CodeBufferTooSmall
	// ErrDumpInterrupted: the kernel flagged a dump as inconsistent; run it again.
	ErrDumpInterrupted error = CodeDumpInterrupted
	// ErrUnsupported: the running kernel does not support the request.
	ErrUnsupported error = CodeUnsupported
	// ErrNetns: the network namespace could not be opened or entered.
	ErrNetns error = CodeNetns
	// ErrKernel: any other kernel error; Error.Errno says which.
	ErrKernel error = CodeKernel
	// ErrMalformed: the kernel's answer could not be decoded.
	ErrMalformed error = CodeMalformed
	// ErrInternal: a bug in the library; the Conn may be unusable.
	ErrInternal error = CodeInternal
	// ErrNotSet: the entry does not hold the field asked for.
	ErrNotSet error = CodeNotSet
	// ErrOverrun: the socket's receive buffer overflowed and answers were lost.
	ErrOverrun error = CodeOverrun
	// ErrBusy: the Conn is in use at this moment (another goroutine, or a call made from
	// inside a Dump callback on the same Conn).
	ErrBusy error = CodeBusy
	// ErrTableFull: the kernel had no room for a new entry (ENOMEM): the table is full
	// (nf_conntrack_max) or kernel memory ran out. The Conn stays usable.
	ErrTableFull error = CodeTableFull
)

// ErrClosed is returned by methods of a Conn or an Events after Close.
var ErrClosed = errors.New("conntrack: use of closed Conn or Events")

// String is the library's sentence for the code (ct_strerror).
func (c Code) String() string {
	return C.GoString(C.ct_strerror(C.int32_t(c)))
}

// Error makes every Code an error; the Err* sentinels are Codes.
func (c Code) Error() string { return "conntrack: " + c.String() }

// Error is the error of a failed operation.
type Error struct {
	Op      string        // the operation: "create", "delete", "dump", "open", ...
	Code    Code          // the library's status
	Errno   syscall.Errno // the errno behind it, or 0
	Message string        // the library's detail, with the kernel's extended-ack text when it sent one
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("conntrack")
	if e.Op != "" {
		b.WriteString(" ")
		b.WriteString(e.Op)
	}
	b.WriteString(": ")
	if e.Message != "" {
		b.WriteString(e.Message)
	} else {
		b.WriteString(e.Code.String())
	}
	return b.String()
}

// Is reports whether target is the sentinel (a Code) of e's status.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// Unwrap gives the errno, so errors.Is(err, syscall.ENOENT) works too.
func (e *Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

// newError makes the error of op from the status and the detail copied in the same C call.
func newError(op string, rc C.ct_status, detail *C.gct_err) error {
	e := &Error{Op: op, Code: Code(rc)}
	if detail != nil {
		e.Errno = syscall.Errno(detail.err_no)
		e.Message = C.GoString(&detail.msg[0])
	}
	return e
}

// handleError is the error of a call on h that returned rc, with the detail the library
// keeps on the handle (ct_handle_last_error): the same from any OS thread, so it may be read
// in a cgo call of its own. A Conn serves one goroutine at a time, so no other call on h
// can have replaced it.
func handleError(op string, h *C.ct_handle, rc C.ct_status) error {
	return &Error{Op: op, Code: Code(rc), Errno: syscall.Errno(C.ct_handle_last_errno(h)),
		Message: C.GoString(C.ct_handle_last_error(h))}
}

// eventsError is the error of a call on ev that returned rc, with the detail the library
// keeps on the listener (ct_events_last_error), as handleError does for a handle.
func eventsError(op string, ev *C.ct_events, rc C.ct_status) error {
	return &Error{Op: op, Code: Code(rc), Errno: syscall.Errno(C.ct_events_last_errno(ev)),
		Message: C.GoString(C.ct_events_last_error(ev))}
}

// mirrorError is the error of a call on m that returned rc, with the detail the library
// keeps on the mirror (ct_mirror_last_error), as handleError does for a handle. The caller
// holds the mirror's lock, so no other call on m can have replaced it.
func mirrorError(op string, m *C.ct_mirror, rc C.ct_status) error {
	return &Error{Op: op, Code: Code(rc), Errno: syscall.Errno(C.ct_mirror_last_errno(m)),
		Message: C.GoString(C.ct_mirror_last_error(m))}
}

// threadCall runs a constructor (ct_open, ct_events_open, ct_batch_new, ...). It has no
// object yet to keep its error on, so the detail is the calling thread's
// (ct_last_error_message): the goroutine stays on its OS thread from the call to the read.
func threadCall(op string, call func() C.ct_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := call(); rc != C.CT_OK {
		return &Error{Op: op, Code: Code(rc), Errno: syscall.Errno(C.ct_last_errno()),
			Message: C.GoString(C.ct_last_error_message())}
	}
	return nil
}

// invalid makes an ErrInvalidArgument error found on the Go side.
func invalid(op, msg string) error {
	return &Error{Op: op, Code: CodeInvalidArgument, Message: msg}
}
