package monitor

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hang bounds how long a test waits for something that should happen at once;
// it only turns a hang into a failure, it times nothing.
const hang = 60 * time.Second

type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk    *fakeClock
	c      chan time.Time
	at     time.Time
	active bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{clk: c, c: make(chan time.Time, 1)}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(d)
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.active && !t.at.After(c.now) {
			t.active = false
			select {
			case t.c <- c.now:
			default:
			}
		}
	}
	c.mu.Unlock()
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.clk.mu.Lock()
	t.at = t.clk.now.Add(d)
	t.active = true
	fire := !t.at.After(t.clk.now)
	if fire {
		t.active = false
	}
	t.clk.mu.Unlock()
	if fire {
		select {
		case t.c <- t.at:
		default:
		}
	}
}

func (t *fakeTimer) Stop() {
	t.clk.mu.Lock()
	t.active = false
	t.clk.mu.Unlock()
}

// backends are the monitor's two ways of learning of exits, for the tests
// that run once with each.
var backends = []struct {
	name string
	opts Options
}{{"reaper", Options{}}, {"pidfd", Options{Backend: BackendPidfd}}}

// newTestMonitor starts a monitor that is shut down, and checked for leftover
// children and zombies, when the test ends.
func newTestMonitor(t testing.TB, opts Options) *Monitor {
	t.Helper()
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if opts.Backend == BackendReaper {
			reapLeftovers(t)
		}
	})
	return m
}

// reapLeftovers fails the test if children of this process are left, then
// kills and reaps them so the next test starts clean.
func reapLeftovers(t testing.TB) {
	t.Helper()
	kids := children()
	if len(kids) == 0 {
		return
	}
	t.Errorf("%d children left after the monitor stopped: %v", len(kids), kids)
	for pid := range kids {
		_ = killPid(pid)
	}
	waitNoChildren(t)
}

func zombies() int {
	n := 0
	for _, st := range children() {
		if st == "Z" {
			n++
		}
	}
	return n
}

// threads reads the OS thread count of this process.
func threads(t testing.TB) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// next waits for the next event matching ok, failing on a hang.
func next(t testing.TB, s *Subscription, ok match) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	for {
		e, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for event: %v", err)
		}
		if ok(e) {
			return e
		}
	}
}

type match func(Event) bool

func is(name string, typ EventType) match {
	return func(e Event) bool { return e.Name == name && e.Type == typ }
}
