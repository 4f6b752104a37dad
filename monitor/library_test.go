package monitor

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log sink safe for the loop goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStolenExitWarnsOnce: outside subreaper mode, the reaper backend
// reaping a child that other code started (os/exec here) is logged at Warn
// once, with the pid and what to do; later ones are counted, not repeated.
func TestStolenExitWarnsOnce(t *testing.T) {
	var logs lockedBuffer
	m := newTestMonitor(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	var pids []int
	for range 2 {
		c := exec.Command("true")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, c.Process.Pid)
		// Not waited for: the monitor reaps it, which is the point.
	}
	// Wait until the monitor reaped both (a reaped pid is gone from /proc).
	deadline := time.Now().Add(hang)
	for _, pid := range pids {
		for {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("os/exec child %d not reaped by the monitor", pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if st, _ := m.Stats(); st.OrphansReaped < 2 {
		t.Errorf("OrphansReaped = %d, want >= 2", st.OrphansReaped)
	}
	// The first stolen exit may be a leftover of an earlier test: any pid.
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, " pid=") || !strings.Contains(out, "BackendPidfd") {
		t.Errorf("warning does not name the pid and the remedy:\n%s", out)
	}
}

// TestNilLoggerDiscards: a monitor handed no logger logs nothing, not even
// through slog.Default.
func TestNilLoggerDiscards(t *testing.T) {
	var logs lockedBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	m := newTestMonitor(t, Options{})
	if err := m.Add(Spec{Name: "missing", Path: "/nonexistent/binary"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("missing"); err == nil {
		t.Fatal("a missing binary started")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); out != "" {
		t.Errorf("the monitor logged through slog.Default:\n%s", out)
	}
}

// TestStatsAfterShutdown: the final counters stay readable after Shutdown.
func TestStatsAfterShutdown(t *testing.T) {
	m := newTestMonitor(t, Options{})
	if err := m.Add(Spec{Name: "once", Path: "true"}); err != nil {
		t.Fatal(err)
	}
	sub, _ := m.Subscribe(0)
	if err := m.Start("once"); err != nil {
		t.Fatal(err)
	}
	next(t, sub, is("once", EventExited))
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatalf("Stats after Shutdown: %v", err)
	}
	if st.Spawns != 1 || st.Exits != 1 || st.Processes != 1 {
		t.Errorf("Stats after Shutdown = %+v, want 1 spawn, 1 exit, 1 process", st)
	}
}

// TestMinUptimeZeroIgnoresStartRetries pins the documented rule: with
// MinUptime 0 a crash-looping process is RUNNING at once, each death goes
// through the restart policy and backoff, and StartRetries never makes it
// FATAL.
func TestMinUptimeZeroIgnoresStartRetries(t *testing.T) {
	m := newTestMonitor(t, Options{})
	sub, _ := m.Subscribe(0)
	err := m.Add(Spec{Name: "crash", Path: "false", StartRetries: 1,
		Restart: RestartPolicy{Kind: RestartAlways},
		Backoff: Backoff{Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start("crash"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e := next(t, sub, is("crash", EventExited))
		if e.From != StateRunning || e.State != StateBackoff {
			t.Fatalf("exit %d: %s -> %s, want RUNNING -> BACKOFF", i, e.From, e.State)
		}
	}
}
