package monitor

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// startTicksAgree starts n sleeping processes with m, one Start each, then
// all together with StartEach, and compares the StartTicks of every
// EventStarting with /proc/PID/stat's start time. It returns how many
// events carried one (the others read /proc, as before), or an error for
// the first that disagrees. It stops and removes the processes.
func startTicksAgree(m *Monitor, n int) (int, error) {
	sub, err := m.Subscribe(16 * n)
	if err != nil {
		return 0, err
	}
	defer sub.Close()
	var names []string
	for i := range 2 * n {
		name := fmt.Sprint("ticks", i)
		if err := m.Add(Spec{Name: name, Path: "/bin/sleep", Args: []string{"sleep", "60"}, StopTimeout: 5 * time.Second}); err != nil {
			return 0, err
		}
		names = append(names, name)
	}
	defer func() {
		for _, name := range names {
			_ = m.Remove(name)
		}
	}()
	for _, name := range names[:n] {
		if err := m.Start(name); err != nil {
			return 0, err
		}
	}
	for i, err := range m.StartEach(names[n:]) {
		if err != nil {
			return 0, fmt.Errorf("%s: %w", names[n+i], err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	taken := 0
	for seen := 0; seen < len(names); {
		e, err := sub.Next(ctx)
		if err != nil {
			return taken, err
		}
		if e.Type != EventStarting {
			continue
		}
		seen++
		st, err := readProcStat(e.Pid)
		if err != nil {
			return taken, fmt.Errorf("%s: pid %d: %w", e.Name, e.Pid, err)
		}
		if e.StartTicks == 0 {
			continue
		}
		if e.StartTicks != st.startTicks {
			return taken, fmt.Errorf("%s: pid %d: StartTicks %d, /proc/%d/stat says %d", e.Name, e.Pid, e.StartTicks, e.Pid, st.startTicks)
		}
		taken++
	}
	for _, name := range names {
		if err := m.Stop(name); err != nil {
			return taken, err
		}
	}
	return taken, nil
}

// TestStartTicksMatchProc: a process's start time taken around the fork
// (ticks_linux.go) is the one /proc/PID/stat gives, on the loop thread's
// spawn path. A run where no spawn kept the clock on one tick fails too:
// the shortcut would then never be used.
func TestStartTicksMatchProc(t *testing.T) {
	m := newTestMonitor(t, Options{})
	taken, err := startTicksAgree(m, 20)
	if err != nil {
		t.Fatal(err)
	}
	if taken == 0 {
		t.Fatal("no EventStarting of 40 carried StartTicks")
	}
}

// TestSpawnerStartTicksMatchProc: the same through the spawner thread.
func TestSpawnerStartTicksMatchProc(t *testing.T) {
	lines := spawnerChildLines(t, "ticks")
	wantLines(t, lines, []string{"start ticks: taken and all match /proc"})
}

func spawnerTicksChild() int {
	m := spawnerChildMonitor()
	if m == nil {
		return 1
	}
	taken, err := startTicksAgree(m, 20)
	switch {
	case err != nil:
		fmt.Println("start ticks:", err)
	case taken == 0:
		fmt.Println("start ticks: no EventStarting of 40 carried StartTicks")
	default:
		fmt.Println("start ticks: taken and all match /proc")
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		fmt.Println("shutdown:", err)
		return 1
	}
	return 0
}
