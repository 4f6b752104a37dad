package monitor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// groupWorker is a spec whose main process (a shell) starts two children
// that ignore SIGTERM, writes their pids to a file, and waits. The shell
// itself dies of SIGTERM.
func groupWorker(t *testing.T, name string) (Spec, string) {
	t.Helper()
	pids := filepath.Join(t.TempDir(), "pids")
	// The pids are written once the shell takes SIGTERM again, so a test
	// that stops it as soon as it read them never finds TERM still ignored.
	script := `trap '' TERM; sleep 1000 & a=$!; sleep 1000 & b=$!; trap - TERM; echo "$a $b" >> "$1"; wait`
	return Spec{Name: name, Path: "/bin/sh", Args: []string{"sh", "-c", script, "sh", pids}}, pids
}

// groupMembers waits until the worker wrote both child pids and returns them;
// they are killed when the test ends, whatever happens.
func groupMembers(t *testing.T, file string) []int {
	t.Helper()
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(file)
		f := strings.Fields(string(b))
		if len(f) == 2 {
			var pids []int
			for _, s := range f {
				pid, err := strconv.Atoi(s)
				if err != nil {
					t.Fatal(err)
				}
				pids = append(pids, pid)
			}
			for _, pid := range pids {
				killAtCleanup(t, pid)
			}
			return pids
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the worker did not report its children in %v", hang)
	return nil
}

// killAtCleanup kills pid when the test ends, whatever happens, by pidfd so
// that the cleanup can never hit a reused pid.
func killAtCleanup(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	t.Cleanup(func() {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		unix.Close(fd)
	})
}

// procAlive reports whether pid runs (a zombie is dead).
func procAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// waitDead fails unless every pid is dead within hang.
func waitDead(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		left := 0
		for _, pid := range pids {
			if procAlive(pid) {
				left++
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, pid := range pids {
		if procAlive(pid) {
			t.Errorf("group member %d still alive after its main process exited", pid)
		}
	}
}

// TestGroupDiesWithMainProcess: when a worker's main process exits, by a
// crash, a Stop that signals it alone, or Shutdown, the members of its
// process group die too, even those that ignore SIGTERM.
func TestGroupDiesWithMainProcess(t *testing.T) {
	for _, be := range backends {
		for _, how := range []string{"crash", "stop", "shutdown"} {
			t.Run(be.name+"/"+how, func(t *testing.T) {
				m := newTestMonitor(t, be.opts)
				spec, file := groupWorker(t, "w")
				if err := m.Add(spec); err != nil {
					t.Fatal(err)
				}
				if err := m.StartWait(context.Background(), "w"); err != nil {
					t.Fatal(err)
				}
				members := groupMembers(t, file)
				endMainProcess(t, m, "w", how)
				waitDead(t, members)
			})
		}
	}
}

// TestKeepGroupLeavesMembersRunning: with KeepGroup (supervisord's default),
// members outlive a main process that crashed.
func TestKeepGroupLeavesMembersRunning(t *testing.T) {
	m := newTestMonitor(t, Options{Backend: BackendPidfd})
	members := crashKeptGroup(t, m)
	time.Sleep(100 * time.Millisecond)
	for _, pid := range members {
		if !procAlive(pid) {
			t.Errorf("member %d died although the spec keeps the group", pid)
		}
	}
}

// TestShutdownKillsSubreaperOrphans: a subreaper monitor kills and reaps the
// orphans it inherited (here the members of a kept group whose main process
// exited) before Shutdown returns.
func TestShutdownKillsSubreaperOrphans(t *testing.T) {
	m := newTestMonitor(t, Options{Subreaper: true})
	members := crashKeptGroup(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range members {
		if procAlive(pid) {
			t.Errorf("orphan %d alive after Shutdown returned", pid)
		}
	}
	if kids := children(); len(kids) != 0 {
		t.Errorf("children left after Shutdown: %v", kids)
	}
}

// TestSecondReaperMonitorIsRefused: a reaper-backend monitor would steal
// the exits of any other monitor in the process (m1.Command(...).Output()
// hung on the second call), so New refuses the combination with a clear
// error, and accepts a monitor again once the first has shut down.
func TestSecondReaperMonitorIsRefused(t *testing.T) {
	m1 := newTestMonitor(t, Options{})
	for _, opts := range []Options{{}, {Subreaper: true}, {Backend: BackendPidfd}} {
		if m2, err := New(opts); !errors.Is(err, ErrReaperInUse) {
			if m2 != nil {
				_ = m2.Close()
			}
			t.Fatalf("New(%+v) beside a reaper monitor: err = %v, want ErrReaperInUse", opts, err)
		}
	}
	for range 2 {
		if out, err := m1.Command("echo", "ok").Output(); err != nil || string(out) != "ok\n" {
			t.Fatalf("Output = %q, %v", out, err)
		}
	}
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	// Pidfd monitors share the process with each other, not with a reaper.
	p1 := newTestMonitor(t, Options{Backend: BackendPidfd})
	p2 := newTestMonitor(t, Options{Backend: BackendPidfd})
	if m, err := New(Options{}); !errors.Is(err, ErrReaperInUse) {
		if m != nil {
			_ = m.Close()
		}
		t.Fatalf("reaper monitor beside pidfd monitors: err = %v, want ErrReaperInUse", err)
	}
	for _, m := range []*Monitor{p1, p2} {
		if out, err := m.Command("echo", "ok").Output(); err != nil || string(out) != "ok\n" {
			t.Fatalf("Output = %q, %v", out, err)
		}
	}
	_ = p1.Close()
	_ = p2.Close()
	m4, err := New(Options{})
	if err != nil {
		t.Fatalf("reaper monitor after the others shut down: %v", err)
	}
	_ = m4.Close()
}

// crashKeptGroup starts a worker whose spec keeps its group, kills its main
// process from outside (its shell ignores the stop signal), waits for the
// exit event and returns the group's other members.
func crashKeptGroup(t *testing.T, m *Monitor) []int {
	t.Helper()
	spec, file := groupWorker(t, "w")
	spec.KeepGroup = true
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	sub, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := m.StartWait(context.Background(), "w"); err != nil {
		t.Fatal(err)
	}
	members := groupMembers(t, file)
	info, _ := m.Process("w")
	if err := syscall.Kill(info.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next(t, sub, is("w", EventExited))
	return members
}

// endMainProcess ends name's main process the way how says: "crash" (a
// SIGKILL of its own), "stop" (StopWait, which must end it by SIGTERM),
// "stop-timeout" (StopWait, which must end it by SIGKILL once the stop
// timeout passed) or "shutdown" (Shutdown of the monitor).
func endMainProcess(t *testing.T, m *Monitor, name, how string) {
	t.Helper()
	info, _ := m.Process(name)
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	switch how {
	case "crash":
		sub, _ := m.Subscribe(0)
		defer sub.Close()
		if err := syscall.Kill(info.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		next(t, sub, is(name, EventExited))
	case "stop", "stop-timeout":
		if err := m.StopWait(ctx, name); err != nil {
			t.Fatal(err)
		}
		want, why := syscall.SIGTERM, "SIGTERM (not the stop timeout)"
		if how == "stop-timeout" {
			want, why = syscall.SIGKILL, "SIGKILL (the stop timeout)"
		}
		if got, _ := m.Process(name); got.LastExit.Signal != want {
			t.Fatalf("main process ended by %v, want %s", got.LastExit.Signal, why)
		}
	case "shutdown":
		if err := m.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("endMainProcess: unknown way %q", how)
	}
}
