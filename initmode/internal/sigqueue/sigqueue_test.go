package sigqueue

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// Signals that arrive after Catch and before Wait are not lost: each is in
// the set the next Wait returns, and that Wait does not sleep.
func TestSignalsBeforeWaitAreKept(t *testing.T) {
	sigs := []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, 40}
	q, err := Catch(sigs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	for _, s := range sigs {
		send(t, s)
	}
	var got Set
	for got != setOf(sigs) {
		s, err := q.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if s&^setOf(sigs) != 0 {
			t.Fatalf("Wait returned %v, never sent", s.Signals())
		}
		got |= s
	}
	if !slices.Equal(got.Signals(), sigs) {
		t.Errorf("got %v, want %v", got.Signals(), sigs)
	}
}

// A signal sent while Wait sleeps wakes it.
func TestWaitWakesOnSignal(t *testing.T) {
	q, err := Catch([]syscall.Signal{syscall.SIGUSR1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	done := make(chan Set, 1)
	go func() {
		s, err := q.Wait()
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	send(t, syscall.SIGUSR1)
	if s := <-done; !s.Has(syscall.SIGUSR1) {
		t.Errorf("Wait returned %v, want SIGUSR1", s.Signals())
	}
}

// One Queue at a time: a second Catch is an error, and Catch works again
// after Close.
func TestOneQueueAtATime(t *testing.T) {
	q, err := Catch([]syscall.Signal{syscall.SIGUSR2})
	if err != nil {
		t.Fatal(err)
	}
	if q2, err := Catch([]syscall.Signal{syscall.SIGUSR2}); err == nil {
		q2.Close()
		q.Close()
		t.Fatal("second Catch while the first Queue is open: no error")
	}
	q.Close()
	q, err = Catch([]syscall.Signal{syscall.SIGUSR2})
	if err != nil {
		t.Fatalf("Catch after Close: %v", err)
	}
	q.Close()
}

func TestCatchableLeavesGoAndKernelSignals(t *testing.T) {
	c := Catchable()
	for _, s := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGURG, 32, 33} {
		if slices.Contains(c, s) {
			t.Errorf("Catchable has %v", s)
		}
	}
	for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
		syscall.SIGCHLD, syscall.SIGUSR1, syscall.SIGWINCH, syscall.SIGPROF, syscall.SIGSEGV, 34, 64} {
		if !slices.Contains(c, s) {
			t.Errorf("Catchable lacks %v", s)
		}
	}
}

func setOf(sigs []syscall.Signal) Set {
	var s Set
	for _, sig := range sigs {
		s |= 1 << (sig - 1)
	}
	return s
}

// SIGSEGV sent by a process is queued; a real fault still reaches Go's
// runtime, which turns it into a panic.
func TestFaultSignalsSentAreQueuedRealFaultsPanic(t *testing.T) {
	q, err := Catch([]syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	send(t, syscall.SIGSEGV)
	if s, err := q.Wait(); err != nil || !s.Has(syscall.SIGSEGV) {
		t.Fatalf("Wait: %v, %v; want SIGSEGV", s.Signals(), err)
	}
	if r := nilDeref(); r == nil || !strings.Contains(fmt.Sprint(r), "nil pointer") {
		t.Errorf("nil dereference with the queue open: recovered %v, want a nil pointer panic", r)
	}
}

var nilPtr *int

func nilDeref() (r any) {
	defer func() { r = recover() }()
	return *nilPtr
}

// A signal the process sends itself (as the kernel does with SIGPIPE when
// the process writes to a pipe nobody reads) is dropped: it is not for the
// child.
func TestSignalsSentToSelfAreDropped(t *testing.T) {
	q, err := Catch([]syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	send(t, syscall.SIGUSR1)
	var got Set
	for !got.Has(syscall.SIGUSR1) {
		s, err := q.Wait()
		if err != nil {
			t.Fatal(err)
		}
		got |= s
	}
	if got.Has(syscall.SIGUSR2) {
		t.Errorf("Wait returned %v: SIGUSR2 was sent by the process itself", got.Signals())
	}
}

// send sends sig to this process from another process (a shell), as a
// container runtime or `docker kill` signals PID 1.
func send(t *testing.T, sig syscall.Signal) {
	t.Helper()
	out, err := exec.Command("sh", "-c", fmt.Sprintf("kill -%d %d", sig, os.Getpid())).CombinedOutput()
	if err != nil {
		t.Fatalf("kill -%d: %v %s", sig, err, out)
	}
}
