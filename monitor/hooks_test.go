package monitor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFile waits until file holds want.
func waitFile(t *testing.T, file, want string) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for {
		b, _ := os.ReadFile(file)
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %q", file, b, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func shArgs(script string, args ...string) []string {
	return append([]string{"sh", "-c", script, "sh"}, args...)
}

func TestPreStartRunsToCompletionBeforeEachStart(t *testing.T) {
	m := newTestMonitor(t, Options{})
	f := filepath.Join(t.TempDir(), "log")
	spec := Spec{Name: "w", Path: "/bin/sh",
		// The hook takes a while: the process must not start before it ends.
		Args:     shArgs(`echo main >> "$1"; exec sleep 1000`, f),
		PreStart: &Hook{Args: shArgs(`sleep 0.2; echo pre >> "$1"`, f)},
		Restart:  RestartPolicy{Kind: RestartAlways}, Backoff: Backoff{Immediate: true}}
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.StartWait(context.Background(), "w"); err != nil {
		t.Fatal(err)
	}
	waitFile(t, f, "pre\nmain\n")
	info, _ := m.Process("w")
	if err := syscall.Kill(info.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFile(t, f, "pre\nmain\npre\nmain\n")
}

func TestPreStartFailureIsAFailedStart(t *testing.T) {
	m := newTestMonitor(t, Options{})
	f := filepath.Join(t.TempDir(), "ran")
	for _, tc := range []struct {
		name string
		hook Hook
		want string
	}{
		{"exit status", Hook{Args: []string{"false"}}, "pre_start failed: exit status 1"},
		{"timeout", Hook{Args: []string{"sleep", "1000"}, Timeout: 100 * time.Millisecond}, "pre_start failed: killed by killed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-")
			h := tc.hook
			spec := Spec{Name: name, Path: "/bin/sh", Args: shArgs(`echo ran >> "$1"; exec sleep 1000`, f),
				PreStart: &h, StartRetries: 1, Backoff: Backoff{Immediate: true}}
			if err := m.Add(spec); err != nil {
				t.Fatal(err)
			}
			sub, _ := m.Subscribe(0)
			defer sub.Close()
			err := m.StartWait(context.Background(), name)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start: %v, want a failed start with %q", err, tc.want)
			}
			next(t, sub, is(name, EventFatal))
			info, _ := m.Process(name)
			if info.State != StateFatal || !strings.Contains(info.Err, tc.want) || !strings.Contains(info.Err, "2 failed starts") {
				t.Fatalf("state %s, err %q; want FATAL after 2 failed starts with %q", info.State, info.Err, tc.want)
			}
			if _, err := os.Stat(f); !os.IsNotExist(err) {
				t.Fatalf("the process ran although its pre_start failed (%v)", err)
			}
		})
	}
}

func TestStopCommandRunsInsteadOfTheStopSignal(t *testing.T) {
	m := newTestMonitor(t, Options{})
	f := filepath.Join(t.TempDir(), "pid")
	spec := Spec{Name: "w", Path: "/bin/sh",
		// Ignores TERM; ends with 7 on USR1, which only the command sends.
		Args:        shArgs(`trap '' TERM; trap 'exit 7' USR1; echo $$ > "$1"; while :; do sleep 0.05; done`, f),
		StopCommand: &Hook{Args: shArgs(`kill -USR1 "$(cat "$1")"`, f)},
		StopTimeout: time.Minute}
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.StartWait(context.Background(), "w"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(hang); ; time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(f); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the process never wrote its pid")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := m.StopWait(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if info, _ := m.Process("w"); info.LastExit == nil || info.LastExit.Code != 7 {
		t.Fatalf("last exit %+v, want code 7 (the stop command's USR1)", info.LastExit)
	}
}

func TestStopCommandStillEndsAtTheStopTimeout(t *testing.T) {
	m := newTestMonitor(t, Options{})
	spec := Spec{Name: "w", Path: "/bin/sh", Args: shArgs(`trap '' TERM; exec sleep 1000`),
		StopCommand: &Hook{Args: []string{"true"}}, StopTimeout: 100 * time.Millisecond}
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.StartWait(context.Background(), "w"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := m.StopWait(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if info, _ := m.Process("w"); info.LastExit == nil || info.LastExit.Signal != syscall.SIGKILL {
		t.Fatalf("last exit %+v, want SIGKILL at the stop timeout", info.LastExit)
	}
}

func TestPostStopRunsAfterEachExit(t *testing.T) {
	m := newTestMonitor(t, Options{})
	f := filepath.Join(t.TempDir(), "log")
	spec := Spec{Name: "w", Path: "/bin/sleep", Args: []string{"sleep", "1000"},
		PostStop: &Hook{Args: shArgs(`echo post >> "$1"`, f)},
		Restart:  RestartPolicy{Kind: RestartAlways}, Backoff: Backoff{Immediate: true}}
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.StartWait(context.Background(), "w"); err != nil {
		t.Fatal(err)
	}
	info, _ := m.Process("w")
	if err := syscall.Kill(info.Pid, syscall.SIGKILL); err != nil { // a death: restarted
		t.Fatal(err)
	}
	waitFile(t, f, "post\n")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := m.StopWait(ctx, "w"); err != nil { // a stop
		t.Fatal(err)
	}
	waitFile(t, f, "post\npost\n")
	if err := m.StartWait(context.Background(), "w"); err != nil {
		t.Fatal(err)
	}
	if err := m.Shutdown(ctx); err != nil { // a shutdown: run before it returns
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f); string(b) != "post\npost\npost\n" {
		t.Fatalf("after shutdown the log holds %q, want three posts", b)
	}
}

func TestStopDuringPreStartKillsTheHook(t *testing.T) {
	m := newTestMonitor(t, Options{})
	f := filepath.Join(t.TempDir(), "ran")
	spec := Spec{Name: "w", Path: "/bin/sh", Args: shArgs(`echo ran > "$1"; exec sleep 1000`, f),
		PreStart: &Hook{Args: []string{"sleep", "1000"}}}
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("w"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := m.StopWait(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if err := m.Shutdown(ctx); err != nil { // waits for the killed hook's reap
		t.Fatal(err)
	}
	if info, _ := m.Process("w"); info.State != StateStopped {
		t.Fatalf("state %s, want STOPPED", info.State)
	}
	if _, err := os.Stat(f); !os.IsNotExist(err) {
		t.Fatalf("the process ran after a stop during its pre_start (%v)", err)
	}
}
