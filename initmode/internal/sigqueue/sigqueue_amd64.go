package sigqueue

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Set by sigtramp (assembly), read and cleared by Wait.
var (
	pending uint64
	wfd     int32 = -1
	//lint:ignore U1000 written to the pipe by sigtramp (sigqueue_amd64.s)
	wakeByte byte = 1
	// goHandlers holds the runtime's handlers of the fault signals, which
	// sigtrampFault calls for real faults. Set before the handlers are.
	goHandlers [65]uintptr
	// selfPid is the process's pid: sigtramp drops what it sent itself.
	selfPid int32
	open    atomic.Bool
)

// sigtramp and sigtrampFault are the handlers (sigqueue_amd64.s); they are
// never called from Go.
//
//lint:ignore U1000 installed by address (handlerPCs)
func sigtramp()

//lint:ignore U1000 installed by address (handlerPCs)
func sigtrampFault()

// handlerPCs returns the addresses of sigtramp and sigtrampFault, for
// rt_sigaction.
func handlerPCs() (all, fault uintptr)

// fault reports the signals that Go's runtime turns into panics when the
// kernel raises them for a fault.
func fault(s syscall.Signal) bool {
	switch s {
	case syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL, syscall.SIGTRAP:
		return true
	}
	return false
}

// sigactiont is the kernel's struct sigaction on amd64.
type sigactiont struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	saSiginfo  = 0x4
	saRestorer = 0x4000000
	saOnstack  = 0x8000000
	saRestart  = 0x10000000
)

func rtSigaction(sig syscall.Signal, act, old *sigactiont) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// A Queue holds the signals caught since the last Wait.
type Queue struct {
	r    *os.File
	w    int
	sigs []syscall.Signal
	old  []sigactiont
}

// Catch installs the handler for sigs and returns the Queue that Wait reads
// them from. Close puts the previous handlers back.
func Catch(sigs []syscall.Signal) (*Queue, error) {
	if !open.CompareAndSwap(false, true) {
		return nil, errors.New("sigqueue: a Queue is already open")
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		open.Store(false)
		return nil, fmt.Errorf("sigqueue: pipe: %w", err)
	}
	atomic.StoreInt32(&wfd, int32(p[1]))
	atomic.StoreUint64(&pending, 0)
	atomic.StoreInt32(&selfPid, int32(syscall.Getpid()))
	q := &Queue{r: os.NewFile(uintptr(p[0]), "sigqueue"), w: p[1]}
	// The runtime's restorer (a rt_sigreturn call) returns from every
	// handler; SIGSEGV always has the runtime's handler.
	var segv sigactiont
	if err := rtSigaction(syscall.SIGSEGV, nil, &segv); err != nil || segv.flags&saRestorer == 0 {
		q.Close()
		return nil, fmt.Errorf("sigqueue: no signal restorer to reuse (%v)", err)
	}
	all, faultPC := handlerPCs()
	act := sigactiont{
		handler:  all,
		flags:    saSiginfo | saOnstack | saRestart | saRestorer,
		restorer: segv.restorer,
		mask:     ^uint64(0),
	}
	for _, s := range sigs {
		act := act
		if fault(s) {
			var old sigactiont
			if err := rtSigaction(s, nil, &old); err != nil || old.handler <= 1 {
				// SIG_DFL or SIG_IGN: no handler to chain to.
				q.Close()
				return nil, fmt.Errorf("sigqueue: catch %v: no handler of the runtime's to pass faults to (%v)", s, err)
			}
			goHandlers[s] = old.handler
			act.handler = faultPC
		}
		var old sigactiont
		if err := rtSigaction(s, &act, &old); err != nil {
			q.Close()
			return nil, fmt.Errorf("sigqueue: catch %v: %w", s, err)
		}
		q.sigs, q.old = append(q.sigs, s), append(q.old, old)
	}
	return q, nil
}

// Wait returns the signals caught since the last Wait (or Catch), sleeping
// until there is one.
func (q *Queue) Wait() (Set, error) {
	var buf [64]byte
	for {
		if s := atomic.SwapUint64(&pending, 0); s != 0 {
			return Set(s), nil
		}
		if _, err := q.r.Read(buf[:]); err != nil {
			return 0, fmt.Errorf("sigqueue: read: %w", err)
		}
	}
}

// Close puts back the handlers Catch replaced and releases the Queue.
func (q *Queue) Close() {
	for i := len(q.sigs) - 1; i >= 0; i-- {
		_ = rtSigaction(q.sigs[i], &q.old[i], nil)
	}
	q.sigs, q.old = nil, nil
	atomic.StoreInt32(&wfd, -1)
	q.r.Close()
	syscall.Close(q.w)
	open.Store(false)
}
