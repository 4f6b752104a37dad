package monitor

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// catFleet starts n cat processes that all read one pipe; closing the pipe's
// write end makes all of them exit at the same moment.
func catFleet(t *testing.T, m *Monitor, sub *Subscription, prefix string, n int) (release func()) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	for i := range n {
		name := fmt.Sprintf("%s%05d", prefix, i)
		if err := m.Add(Spec{Name: name, Path: "/bin/cat", Stdin: r}); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(name); err != nil {
			t.Fatal(err)
		}
	}
	for running := 0; running < n; {
		if e := next(t, sub, func(e Event) bool { return e.Type == EventRunning }); e.Name != "" {
			running++
		}
	}
	return func() { w.Close() }
}

// countExits waits for n EventExited and checks each process exited once,
// with the pid it was started with.
func countExits(t *testing.T, sub *Subscription, n int, pids map[string]int) {
	t.Helper()
	seen := map[string]bool{}
	for len(seen) < n {
		e := next(t, sub, func(e Event) bool { return e.Type == EventExited || e.Type == EventMissed })
		if e.Type == EventMissed {
			t.Fatalf("subscriber missed %d events", e.Missed)
		}
		if seen[e.Name] {
			t.Fatalf("%s exited twice", e.Name)
		}
		seen[e.Name] = true
		if pids != nil && pids[e.Name] != e.Exit.Pid {
			t.Fatalf("%s: exit of pid %d, but it was started as pid %d", e.Name, e.Exit.Pid, pids[e.Name])
		}
	}
}

func settle() (goroutines int) {
	for range 3 {
		runtime.GC()
	}
	time.Sleep(50 * time.Millisecond) // let finished goroutines leave the count
	return runtime.NumGoroutine()
}

func TestTenThousandChildrenExitingAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 10,000 processes")
	}
	m := newTestMonitor(t, Options{})
	sub, err := m.Subscribe(40000)
	if err != nil {
		t.Fatal(err)
	}

	measure := func(prefix string, n int) (goroutines, threadsWhileUp int) {
		release := catFleet(t, m, sub, prefix, n)
		goroutines, threadsWhileUp = settle(), threads(t)
		release()
		countExits(t, sub, n, nil)
		if z := zombies(); z != 0 {
			t.Fatalf("%d zombies after %d exits", z, n)
		}
		return goroutines, threadsWhileUp
	}
	measure("warm", 10) // the runtime grows its thread pool once
	g10, th10 := measure("small", 10)
	g10k, th10k := measure("big", 10000)
	t.Logf("10 children: %d goroutines, %d threads; 10,000 children: %d goroutines, %d threads", g10, th10, g10k, th10k)
	if g10k != g10 {
		t.Errorf("goroutines grew with children: %d at 10, %d at 10,000", g10, g10k)
	}
	// The Go runtime may start an extra idle thread when a spawn keeps the
	// loop's thread in vfork for long (more likely on a loaded machine);
	// growth with the children would be thousands, not this constant.
	const slack = 2
	if th10k > th10+slack || th10k > 16 {
		t.Errorf("threads grew with children: %d at 10, %d at 10,000 (allowed: +%d, at most 16)", th10, th10k, slack)
	}
	st, _ := m.Stats()
	if st.Exits != 10020 {
		t.Errorf("monitor counted %d exits, want 10020", st.Exits)
	}
}

// TestExitBeforeRegistrationIsMatched spawns programs that exit at once: each
// exit must be matched to the process that spawned it.
func TestExitBeforeRegistrationIsMatched(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 10,000 processes")
	}
	const n = 10000
	m := newTestMonitor(t, Options{})
	sub, err := m.Subscribe(4 * n)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("true%05d", i)
		if err := m.Add(Spec{Name: name, Path: "/bin/true"}); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(name); err != nil {
			t.Fatal(err)
		}
	}
	pids := map[string]int{}
	seen := map[string]bool{}
	for len(seen) < n {
		e := next(t, sub, func(e Event) bool { return e.Type == EventStarting || e.Type == EventExited })
		switch e.Type {
		case EventStarting:
			pids[e.Name] = e.Pid
		case EventExited:
			if pids[e.Name] != e.Exit.Pid {
				t.Fatalf("%s: exit of pid %d, started as pid %d", e.Name, e.Exit.Pid, pids[e.Name])
			}
			if seen[e.Name] {
				t.Fatalf("%s exited twice", e.Name)
			}
			if e.Exit.Code != 0 || !e.Exit.Expected || e.State != StateExited {
				t.Fatalf("%s: exit %+v state %s, want code 0, expected, EXITED", e.Name, *e.Exit, e.State)
			}
			seen[e.Name] = true
		}
	}
	if st, _ := m.Stats(); st.OrphansReaped != 0 {
		t.Errorf("%d exits were taken for orphans", st.OrphansReaped)
	}
}

func TestDoubleForkedGrandchildrenAreReaped(t *testing.T) {
	const n = 1000
	m := newTestMonitor(t, Options{Subreaper: true})
	sub, err := m.Subscribe(8 * n)
	if err != nil {
		t.Fatal(err)
	}
	// Each program forks a grandchild that outlives it; as a subreaper the
	// monitor inherits and reaps every grandchild.
	for i := range n {
		name := fmt.Sprintf("df%04d", i)
		spec := sh("(sleep 0.2 &) ; exit 0")
		spec.Name = name
		if err := m.Add(spec); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(name); err != nil {
			t.Fatal(err)
		}
	}
	orphans := 0
	for orphans < n {
		e := next(t, sub, func(e Event) bool { return e.Type == EventOrphanReaped || e.Type == EventMissed })
		if e.Type == EventMissed {
			t.Fatalf("missed %d events", e.Missed)
		}
		orphans++
	}
	st, _ := m.Stats()
	// sh may fork a subshell per program as well: at least n orphans.
	if st.OrphansReaped < n {
		t.Errorf("reaped %d orphans, want %d", st.OrphansReaped, n)
	}
	if z := zombies(); z != 0 {
		t.Errorf("%d zombies left", z)
	}
}
