package monitor

import (
	"runtime"
	"sync/atomic"
)

// forkThread, once ServeForkThread runs, receives the forks and the exec
// of every monitor of the process, to run them on the process's main thread.
var forkThread atomic.Pointer[chan func()]

// ServeForkThread makes the calling goroutine's thread the one every monitor
// of the process forks from and execs from, and runs main on a new
// goroutine. It returns when main returns. Call it from main, with the main
// goroutine locked to the main thread by runtime.LockOSThread in an init
// function (moby's reexec.Init pattern): the main thread lives as long as
// the process, including across Monitor.Exec.
//
// Why: a child's death signal (Spec.DeathSignal) fires when the thread that
// forked it ends, and execve ends every thread but the caller. Without this,
// each monitor forks from its loop's own thread: one Monitor.Exec keeps
// every process (the exec'ing thread becomes the new image's main thread),
// but the processes that new image had adopted would die at the next exec,
// from another thread. With every fork and exec on the main thread, any
// number of execs in a row keep every process.
//
// It takes the main thread for good: nothing else may run on it.
func ServeForkThread(main func()) {
	runtime.LockOSThread()
	ch := make(chan func())
	forkThread.Store(&ch)
	done := make(chan struct{})
	go func() {
		defer close(done)
		main()
	}()
	for {
		select {
		case f := <-ch:
			f()
		case <-done:
			return
		}
	}
}

// onForkThread runs f on the thread that forks (the main thread when
// ServeForkThread runs, else the caller's: the loop's locked thread) and
// waits for it.
func onForkThread(f func()) {
	p := forkThread.Load()
	if p == nil {
		f()
		return
	}
	done := make(chan struct{})
	*p <- func() { f(); close(done) }
	<-done
}
