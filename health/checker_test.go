package health

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/monitor"
)

// hang bounds every wait; it turns a hang into a failure and times nothing.
const hang = 60 * time.Second

type harness struct {
	c       *Checker
	m       *monitor.Monitor
	changes chan Change
}

// newHarness starts a monitor (a subreaper, so a probe's orphans come back
// to be reaped) and a checker whose changes a test can wait for.
func newHarness(t *testing.T, workers int) *harness {
	t.Helper()
	m, err := monitor.New(monitor.Options{Subreaper: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{m: m, changes: make(chan Change, 100000)}
	h.c = New(Options{Monitor: m, Workers: workers, OnChange: func(c Change) {
		select {
		case h.changes <- c:
		default:
			panic("test change queue full")
		}
	}})
	t.Cleanup(func() {
		h.c.Close()
		_ = m.Close()
	})
	return h
}

// waitStatus waits for name's change to status and returns it, failing on
// any change of name to a status in never first.
func (h *harness) waitStatus(t *testing.T, name string, status Status, never ...Status) Change {
	t.Helper()
	timeout := time.After(hang)
	for {
		select {
		case c := <-h.changes:
			if c.Name != name {
				continue
			}
			for _, n := range never {
				if c.To == n {
					t.Fatalf("%s went %q -> %q before %q (last result %+v)", name, c.From, c.To, status, c.Last)
				}
			}
			if c.To == status {
				return c
			}
		case <-timeout:
			st, _ := h.c.Get(name)
			t.Fatalf("%s never became %q; state %+v", name, status, st)
		}
	}
}

func fast(p Probe) *Probe {
	p.Interval, p.Timeout, p.StartInterval = 20*time.Millisecond, 5*time.Second, 20*time.Millisecond
	if p.Retries == 0 {
		p.Retries = 2
	}
	return &p
}

func TestHTTPProbeHealthyThenUnhealthyThenHealthy(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte("body " + strconv.Itoa(int(status.Load()))))
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, 2)
	h.c.Set("web", fast(Probe{HTTP: srv.URL + "/healthz"}))
	h.c.Spawned("web", 0, time.Now())
	h.waitStatus(t, "web", StatusStarting)
	c := h.waitStatus(t, "web", StatusHealthy, StatusUnhealthy)
	if c.Last.HTTPStatus != 200 || c.Last.Output != "body 200" || !c.Last.OK {
		t.Errorf("healthy on %+v", c.Last)
	}
	status.Store(503)
	c = h.waitStatus(t, "web", StatusUnhealthy)
	if c.Last.HTTPStatus != 503 || c.Last.OK {
		t.Errorf("unhealthy on %+v", c.Last)
	}
	st, _ := h.c.Get("web")
	if st.Failures < 2 || len(st.Results) == 0 || len(st.Results) > Results || st.Kind != "http" {
		t.Errorf("state %+v: want >= 2 failures and 1..%d results", st, Results)
	}
	status.Store(302) // a redirect passes, and is not followed
	c = h.waitStatus(t, "web", StatusHealthy)
	if c.Last.HTTPStatus != 302 {
		t.Errorf("healthy again on %+v", c.Last)
	}
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-accepted })
	h := newHarness(t, 1)
	h.c.Set("db", fast(Probe{TCP: addr}))
	h.c.Spawned("db", 0, time.Now())
	h.waitStatus(t, "db", StatusHealthy, StatusUnhealthy)
	ln.Close()
	<-accepted
	c := h.waitStatus(t, "db", StatusUnhealthy)
	if c.Last.OK || !strings.Contains(c.Last.Err, "refused") {
		t.Errorf("unhealthy on %+v, want connection refused", c.Last)
	}
}

func TestExecProbeOutputAndExitCode(t *testing.T) {
	h := newHarness(t, 1)
	flag := filepath.Join(t.TempDir(), "fail")
	script := `echo out; echo err >&2; if [ -e ` + flag + ` ]; then exit 3; fi`
	h.c.Set("app", fast(Probe{Exec: &monitor.Spec{Path: "sh", Args: []string{"sh", "-c", script}}}))
	h.c.Spawned("app", 0, time.Now())
	c := h.waitStatus(t, "app", StatusHealthy, StatusUnhealthy)
	if c.Last.ExitCode == nil || *c.Last.ExitCode != 0 || c.Last.Output != "out\nerr\n" {
		t.Errorf("healthy on %+v (exit code %v)", c.Last, c.Last.ExitCode)
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c = h.waitStatus(t, "app", StatusUnhealthy)
	if c.Last.ExitCode == nil || *c.Last.ExitCode != 3 || c.Last.OK {
		t.Errorf("unhealthy on %+v, want exit code 3", c.Last)
	}
}

func TestExecProbeOutputKeptTo4KiB(t *testing.T) {
	h := newHarness(t, 1)
	h.c.Set("big", fast(Probe{Exec: &monitor.Spec{Path: "sh", Args: []string{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}}}))
	h.c.Spawned("big", 0, time.Now())
	c := h.waitStatus(t, "big", StatusHealthy, StatusUnhealthy)
	if len(c.Last.Output) != MaxOutput || strings.Trim(c.Last.Output, "x") != "" {
		t.Errorf("output of %d bytes kept, want the first %d", len(c.Last.Output), MaxOutput)
	}
}

// TestExecProbeTimeoutKillsGroupAndReaps runs a probe that hangs with a
// child of its own: at the timeout the whole group is killed, the probe
// counts as failed, and nothing is left, not even a zombie.
func TestExecProbeTimeoutKillsGroupAndReaps(t *testing.T) {
	h := newHarness(t, 1)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	script := "sleep 1000 & echo $! > " + pidFile + "; wait"
	p := fast(Probe{Exec: &monitor.Spec{Path: "sh", Args: []string{"sh", "-c", script}}, Retries: 1})
	p.Timeout = 300 * time.Millisecond
	p.Interval = time.Hour // one probe
	p.StartInterval = time.Hour
	h.c.Set("hung", p)
	h.c.Spawned("hung", 0, time.Now().Add(-time.Hour+20*time.Millisecond))
	c := h.waitStatus(t, "hung", StatusUnhealthy, StatusHealthy)
	if !strings.Contains(c.Last.Err, "timed out") || c.Last.ExitCode == nil || *c.Last.ExitCode != -1 {
		t.Errorf("result %+v (exit code %v): want a timeout and a kill", c.Last, c.Last.ExitCode)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The grandchild, killed with the group, is re-parented to this
	// process (a subreaper) and reaped by the monitor.
	deadline := time.Now().Add(hang)
	for syscall.Kill(child, 0) != syscall.ESRCH || zombies() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("probe's child %d still exists (or zombies: %d) after the timeout", child, zombies())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHealthResetOnEverySpawn: a new process starts over as starting, a
// result of a probe that began before the spawn is not counted, and no
// second probe runs while one is in flight.
func TestHealthResetOnEverySpawn(t *testing.T) {
	var calls, inFlight, maxInFlight atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		if calls.Add(1) == 2 {
			<-release // the second probe hangs until the test lets it go
		}
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, 4)
	h.c.Set("web", fast(Probe{HTTP: srv.URL}))
	h.c.Spawned("web", 0, time.Now())
	h.waitStatus(t, "web", StatusHealthy)
	deadline := time.Now().Add(hang)
	for calls.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("second probe never ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.c.Spawned("web", 0, time.Now()) // a restart while probe 2 hangs
	c := h.waitStatus(t, "web", StatusStarting)
	if c.From != StatusHealthy {
		t.Errorf("change %+v: want healthy -> starting", c)
	}
	if st, _ := h.c.Get("web"); st.Status != StatusStarting {
		t.Errorf("status %q right after the spawn, want starting", st.Status)
	}
	time.Sleep(100 * time.Millisecond) // several intervals: no probe may start meanwhile
	if n := calls.Load(); n != 2 {
		t.Errorf("%d probes while one was in flight, want 2", n)
	}
	close(release)
	h.waitStatus(t, "web", StatusHealthy)
	if n := calls.Load(); n < 3 {
		t.Errorf("healthy after %d probes: the probe begun before the spawn was counted", n)
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("%d probes in flight at once, want 1", m)
	}
	h.c.Stopped("web")
	h.waitStatus(t, "web", StatusNone)
}

func TestStartPeriodFailuresDoNotCount(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, 1)
	p := fast(Probe{HTTP: srv.URL, Retries: 1})
	p.StartPeriod = 500 * time.Millisecond
	h.c.Set("slow", p)
	spawned := time.Now()
	h.c.Spawned("slow", 0, spawned)
	c := h.waitStatus(t, "slow", StatusUnhealthy, StatusHealthy)
	if since := c.Time.Sub(spawned); since < p.StartPeriod {
		t.Errorf("unhealthy %s after the spawn, inside the %s start period", since, p.StartPeriod)
	}
	if st, _ := h.c.Get("slow"); len(st.Results) < 2 {
		t.Errorf("%d results: want the probes of the start period (every start_interval) kept too", len(st.Results))
	}
}

// TestGoroutinesDoNotGrowWithProbes: 10 or 1,000 processes, each with a
// probe (TCP, and exec for one in ten), run on the same goroutines.
func TestGoroutinesDoNotGrowWithProbes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-accepted })
	h := newHarness(t, 4)
	measure := func(prefix string, n int) int {
		for i := range n {
			p := &Probe{TCP: ln.Addr().String(), Interval: 200 * time.Millisecond, Timeout: 10 * time.Second, StartInterval: time.Second, Retries: 3}
			if i%10 == 0 {
				p.Exec, p.TCP = &monitor.Spec{Path: "true"}, ""
				p.Interval = 2 * time.Second
			}
			name := prefix + strconv.Itoa(i)
			h.c.Set(name, p)
			h.c.Spawned(name, 0, time.Now())
		}
		healthy := 0
		timeout := time.After(hang + time.Duration(n)*20*time.Millisecond)
		for healthy < n {
			select {
			case c := <-h.changes:
				if strings.HasPrefix(c.Name, prefix) && c.To == StatusHealthy {
					healthy++
				}
			case <-timeout:
				t.Fatalf("%d of %d healthy", healthy, n)
			}
		}
		g := settle()
		for i := range n {
			h.c.Set(prefix+strconv.Itoa(i), nil)
		}
		return g
	}
	g10 := measure("small", 10)
	g1000 := measure("big", 1000)
	t.Logf("goroutines: %d with 10 probed processes, %d with 1,000", g10, g1000)
	if g1000 > g10 {
		t.Errorf("goroutines grew with probes: %d with 10, %d with 1,000", g10, g1000)
	}
}

func settle() int {
	for range 3 {
		runtime.GC()
	}
	time.Sleep(50 * time.Millisecond)
	return runtime.NumGoroutine()
}

// zombies counts this process's children in state Z.
func zombies() int {
	self := strconv.Itoa(os.Getpid())
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[0] == "Z" && f[1] == self {
			n++
		}
	}
	return n
}

func TestCloseTwiceAndSetAfterClose(t *testing.T) {
	c := New(Options{})
	c.Close()
	c.Close()
	c.Set("x", nil) // posts, never blocks
	if _, ok := c.Get("x"); ok {
		t.Error("Get after Close found a state never set")
	}
}

// TestResultOfARemovedProbeIsIgnored: a program replaced (a reload) while
// its probe runs: the old probe's result, a failure, never reaches the new
// entry of the same name.
func TestResultOfARemovedProbeIsIgnored(t *testing.T) {
	var calls atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, 4)
	h.c.Set("web", fast(Probe{HTTP: srv.URL, Retries: 1}))
	h.c.Spawned("web", 0, time.Now())
	<-entered
	h.c.Set("web", nil)
	h.c.Set("web", fast(Probe{HTTP: srv.URL, Retries: 1}))
	h.c.Spawned("web", 0, time.Now())
	h.waitStatus(t, "web", StatusHealthy, StatusUnhealthy)
	close(release)
	n := h.c.Probes()
	deadline := time.Now().Add(hang)
	for h.c.Probes() < n+5 {
		if time.Now().After(deadline) {
			t.Fatal("probes stopped")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for len(h.changes) > 0 {
		if c := <-h.changes; c.Name == "web" && c.To == StatusUnhealthy {
			t.Fatalf("the removed probe's failure made the new entry unhealthy: %+v", c)
		}
	}
}
