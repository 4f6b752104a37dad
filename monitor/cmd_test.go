package monitor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestCmdSecondWaitReturnsError: a second Wait returns an error at once, as
// exec.Cmd's does, instead of blocking forever; with a cancelled context it
// sends no signal to the old process group, whose id may be reused.
func TestCmdSecondWaitReturnsError(t *testing.T) {
	m := newTestMonitor(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	c := m.CommandContext(ctx, "true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "Wait was already called") {
			t.Fatalf("second Wait = %v, want \"Wait was already called\"", err)
		}
	case <-time.After(hang):
		t.Fatal("second Wait blocked")
	}
	// The reaped process's group is never signalled again.
	if err := c.killGroup(); !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("killGroup after the reap = %v, want os.ErrProcessDone", err)
	}
}

// TestCmdProcessAndExitFacts: Process names the started pid, and the exit
// facts answer ExitCode and Success as os.ProcessState does.
func TestCmdProcessAndExitFacts(t *testing.T) {
	for _, be := range []Backend{BackendReaper, BackendPidfd} {
		m := newTestMonitor(t, Options{Backend: be})
		c := m.Command("sh", "-c", "exit 7")
		if c.Process != nil {
			t.Fatal("Process set before Start")
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if c.Process == nil || c.Process.Pid <= 0 {
			t.Fatalf("Process = %v after Start", c.Process)
		}
		err := c.Wait()
		var ee *ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Fatalf("Wait = %v, want exit status 7", err)
		}
		st := c.ProcessState
		if st.Pid != c.Process.Pid || st.ExitCode() != 7 || st.Success() || st.String() != "exit status 7" {
			t.Errorf("ProcessState %+v: pid %d code %d success %v %q", *st, c.Process.Pid, st.ExitCode(), st.Success(), st)
		}
		// The process is reaped: signalling it reports that, never reaching a reused pid.
		if err := c.Process.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("Signal after Wait = %v, want os.ErrProcessDone", err)
		}
		ok := m.Command("true")
		if err := ok.Run(); err != nil || !ok.ProcessState.Success() || ok.ProcessState.ExitCode() != 0 {
			t.Errorf("true: %v, %+v", err, ok.ProcessState)
		}
		_ = m.Close()
	}
}

// TestCmdDoneContextDoesNotStart: a context already done keeps the command
// from running, and Start returns the context's error.
func TestCmdDoneContextDoesNotStart(t *testing.T) {
	m := newTestMonitor(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	file := filepath.Join(t.TempDir(), "ran")
	err := m.CommandContext(ctx, "touch", file).Run()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(file); err == nil {
		t.Fatal("the command ran although its context was done")
	}
}

// TestCmdCancelAndWaitDelay: when the context ends, Cancel is called instead
// of the default kill; a process that ignores what Cancel sends is killed
// after WaitDelay.
func TestCmdCancelAndWaitDelay(t *testing.T) {
	m := newTestMonitor(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	c := m.CommandContext(ctx, "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done")
	var called atomic.Int32
	c.Cancel = func() error {
		called.Add(1)
		return c.Process.Signal(syscall.SIGTERM)
	}
	c.WaitDelay = 100 * time.Millisecond
	r, w, _ := os.Pipe()
	defer r.Close()
	c.Stdout = w
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	buf := make([]byte, 6)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	err := c.Wait()
	if called.Load() != 1 {
		t.Errorf("Cancel called %d times, want 1", called.Load())
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Signal != syscall.SIGKILL {
		t.Fatalf("Wait = %v, want death by SIGKILL after WaitDelay", err)
	}
}

// TestCmdCancelDefaultReturnsContextError: the default Cancel kills the
// process and Wait reports the kill.
func TestCmdCancelDefaultKills(t *testing.T) {
	m := newTestMonitor(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := m.CommandContext(ctx, "sleep", "1000").Run()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Signal != syscall.SIGKILL {
		t.Fatalf("Run = %v, want death by SIGKILL", err)
	}
}

// TestCmdWaitDelayEndsCopies: a grandchild that keeps stdout open does not
// hold Wait forever when WaitDelay is set; Wait returns exec.ErrWaitDelay.
func TestCmdWaitDelayEndsCopies(t *testing.T) {
	m := newTestMonitor(t, Options{Backend: BackendPidfd})
	c := m.Command("sh", "-c", "sleep 1000 & echo hi")
	c.WaitDelay = 100 * time.Millisecond
	var out syncBuffer
	c.Stdout = &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// The sleep keeps the group alive, so its id is still this command's.
	t.Cleanup(func() { _ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL) })
	err := c.Wait()
	if !errors.Is(err, exec.ErrWaitDelay) {
		t.Fatalf("Wait = %v, want exec.ErrWaitDelay", err)
	}
	if got := string(out.Bytes()); got != "hi\n" {
		t.Errorf("output %q, want \"hi\\n\"", got)
	}
}

// When the context ends and Cancel leaves the process be, WaitDelay still
// bounds Wait: a grandchild in its own session (out of the group's reach)
// holding stdout does not keep Wait until it exits.
func TestCmdWaitDelayBoundsWaitAfterCancel(t *testing.T) {
	m := newTestMonitor(t, Options{Backend: BackendPidfd})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c := m.CommandContext(ctx, "sh", "-c", "setsid sleep 1000 & echo $!; exec sleep 1000")
	c.Cancel = func() error { return nil } // leaves the process running
	c.WaitDelay = 200 * time.Millisecond
	var out syncBuffer
	c.Stdout = &out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(out.Bytes()))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		// As in TestCmdCancelAndWaitDelay: the kill after WaitDelay is
		// what Wait reports.
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Signal != syscall.SIGKILL {
			t.Fatalf("Wait = %v, want death by SIGKILL after WaitDelay", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not return while a grandchild held stdout, although WaitDelay is 200ms")
	}
}
