// Package sigqueue catches signals for corral init without os/signal.
//
// os/signal costs a Go program three threads for good: a goroutine locked
// to its thread that owns the signal mask, the template thread that its
// LockOSThread starts, and a thread blocked in the runtime's signal_recv.
// The runtime's own threads (the main thread, sysmon, one more when a
// system call blocks) are all an init needs besides. Blocking the signals
// and reading them with signalfd(2) does not work in Go: every thread the
// runtime starts, sysmon included, unblocks SIGHUP, SIGINT, SIGQUIT,
// SIGABRT, SIGTERM, SIGSYS and SIGCHLD (runtime.blockableSig, contrary to
// what os/signal's doc says), and a SIGTERM that lands on such a thread
// kills the process.
//
// So on linux/amd64 Catch installs its own handler for the signals it is
// given: a few instructions (sigqueue_amd64.s) that set the signal's bit in
// a pending set and write one byte to a pipe. Wait sleeps on that pipe in
// the netpoller and returns the pending set. Signals that arrive between
// Catch and Wait are kept in the set, like signals blocked by tini until its
// sigtimedwait. Like the kernel's standard signals, several arrivals of one
// signal between two Waits count once. A signal the process sends itself
// (si_code SI_USER from its own pid: the kernel's SIGPIPE for a write to a
// pipe nobody reads) is dropped. On other architectures Catch uses
// os/signal (same interface, the threads above).
//
// A process has one set of signal handlers: one Queue at a time, and
// nothing else in the process may use os/signal for the same signals while
// it is open.
package sigqueue

import "syscall"

// A Set is a set of signals 1 to 64: bit N-1 stands for signal N.
type Set uint64

// Has reports whether s holds sig.
func (s Set) Has(sig syscall.Signal) bool {
	return sig >= 1 && sig <= 64 && s&(1<<(sig-1)) != 0
}

// Signals lists the signals of s in ascending order.
func (s Set) Signals() []syscall.Signal {
	var out []syscall.Signal
	for sig := syscall.Signal(1); sig <= 64; sig++ {
		if s.Has(sig) {
			out = append(out, sig)
		}
	}
	return out
}

// Catchable lists the signals corral init catches: every signal but SIGKILL
// and SIGSTOP (which cannot be caught), SIGURG (Go's runtime preempts
// goroutines with it) and signals 32 and 33 (the C library's, and Go's own
// for AllThreadsSyscall). SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGTRAP are
// caught when a process sends them; a real fault still goes to Go's
// runtime. That is every signal tini forwards but SIGURG, plus the ones
// tini leaves at their default action (SIGABRT, SIGSYS and the faults).
func Catchable() []syscall.Signal {
	var out []syscall.Signal
	for s := syscall.Signal(1); s <= 64; s++ {
		switch s {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGURG, 32, 33:
			continue
		}
		out = append(out, s)
	}
	return out
}
