package monitor

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLaunchReportsTheExitOnce(t *testing.T) {
	for name, backend := range map[string]Backend{"reaper": BackendReaper, "pidfd": BackendPidfd} {
		t.Run(name, func(t *testing.T) {
			m := newTestMonitor(t, Options{Backend: backend})
			exits := make(chan *ExitInfo, 2)
			pid, err := m.Launch(Spec{Path: "sh", Args: []string{"sh", "-c", "exit 3"}}, func(e *ExitInfo) { exits <- e })
			if err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-exits:
				if e.Pid != pid || e.Code != 3 || e.Success() {
					t.Errorf("exit %+v, want pid %d code 3", e, pid)
				}
			case <-time.After(hang):
				t.Fatal("no exit")
			}
			// Reaped: a kill now signals nothing.
			if err := m.KillLaunched(pid); !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("KillLaunched after the exit: %v, want os.ErrProcessDone", err)
			}
			select {
			case e := <-exits:
				t.Errorf("second exit %+v", e)
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}

// TestKillLaunchedKillsTheGroup: the launched process and its child die
// with SIGKILL, and no goroutine waited for them.
func TestKillLaunchedKillsTheGroup(t *testing.T) {
	m := newTestMonitor(t, Options{Subreaper: true})
	pidFile := filepath.Join(t.TempDir(), "child")
	before := runtime.NumGoroutine()
	exits := make(chan *ExitInfo, 1)
	pid, err := m.Launch(Spec{Path: "sh", Args: []string{"sh", "-c", "sleep 1000 & echo $! > " + pidFile + "; wait"}},
		func(e *ExitInfo) { exits <- e })
	if err != nil {
		t.Fatal(err)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("goroutines %d -> %d after Launch", before, n)
	}
	var child int
	deadline := time.Now().Add(hang)
	for child == 0 {
		b, _ := os.ReadFile(pidFile)
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		if time.Now().After(deadline) {
			t.Fatal("no child pid")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := m.KillLaunched(pid); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-exits:
		if e.Signal != syscall.SIGKILL {
			t.Errorf("exit %+v, want SIGKILL", e)
		}
	case <-time.After(hang):
		t.Fatal("no exit after KillLaunched")
	}
	for syscall.Kill(child, 0) != syscall.ESRCH || zombies() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the killed group still exists, or zombies: %d", child, zombies())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLaunchKillsTheRestOfTheGroupAtExit: a launched process that leaves a
// child behind in its group does not leave it running.
func TestLaunchKillsTheRestOfTheGroupAtExit(t *testing.T) {
	m := newTestMonitor(t, Options{Subreaper: true})
	pidFile := filepath.Join(t.TempDir(), "child")
	exits := make(chan *ExitInfo, 1)
	if _, err := m.Launch(Spec{Path: "sh", Args: []string{"sh", "-c", "sleep 1000 & echo $! > " + pidFile}},
		func(e *ExitInfo) { exits <- e }); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-exits:
		if !e.Success() {
			t.Errorf("exit %+v", e)
		}
	case <-time.After(hang):
		t.Fatal("no exit")
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(hang)
	for syscall.Kill(child, 0) != syscall.ESRCH {
		if time.Now().After(deadline) {
			t.Fatalf("child %d outlived the launched process", child)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLaunchErrors(t *testing.T) {
	m := newTestMonitor(t, Options{})
	if _, err := m.Launch(Spec{Path: "true"}, nil); err == nil {
		t.Error("Launch without an exited function: no error")
	}
	if _, err := m.Launch(Spec{Path: "/nonexistent/probe"}, func(*ExitInfo) {}); err == nil || !strings.Contains(err.Error(), "/nonexistent/probe") {
		t.Errorf("Launch of a missing binary: %v, want an error naming it", err)
	}
}
