package health

import (
	"container/heap"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/monitor"
)

// Status is a process's health.
type Status string

// The health statuses. StatusNone is a process without a check, or not
// running.
const (
	StatusNone      Status = ""
	StatusStarting  Status = "starting"
	StatusHealthy   Status = "healthy"
	StatusUnhealthy Status = "unhealthy"
)

// MaxOutput is how much of a probe's output is kept.
const MaxOutput = 4096

// Results is how many results are kept per process.
const Results = 5

// DefaultWorkers is the number of network probe workers when
// Options.Workers is 0.
const DefaultWorkers = 4

// Probe is one process's health check. Exactly one of Exec, HTTP and TCP
// is set.
type Probe struct {
	// Exec is the command of an exec probe: Path, Args, Env, Dir, User and
	// the other credentials are used; stdio and restart fields are not.
	// Exit 0 passes.
	Exec *monitor.Spec
	// HTTP is a URL fetched with GET; 2xx and 3xx pass (redirects are not
	// followed).
	HTTP string
	// TCP is a host:port that must accept a connection.
	TCP string

	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	// Retries is the number of consecutive failures that make a process
	// unhealthy (at least 1).
	Retries int
}

// Result is the outcome of one probe.
type Result struct {
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"duration_ns"`
	OK       bool          `json:"ok"`
	// ExitCode is an exec probe's exit code (-1 when killed by a signal).
	ExitCode *int `json:"exit_code,omitempty"`
	// HTTPStatus is an HTTP probe's response status.
	HTTPStatus int `json:"http_status,omitempty"`
	// Output is the first 4 KiB of an exec probe's output or an HTTP
	// probe's body.
	Output string `json:"output,omitempty"`
	// Err says why a probe failed without a code or status (timeout,
	// connection refused, spawn error).
	Err string `json:"error,omitempty"`
}

// State is a process's health as last published.
type State struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // exec, http or tcp
	Status Status `json:"status"`
	// Since is when Status last changed.
	Since time.Time `json:"since"`
	// Failures counts the failures in a row that count toward Retries.
	Failures int `json:"failures"`
	// Results are the last ones, oldest first.
	Results []Result `json:"results"`
}

// Code is the exit code of an exec probe for a log line, or nil when it
// has none (a network probe, a probe that did not run).
func (r Result) Code() any {
	if r.ExitCode == nil {
		return nil
	}
	return *r.ExitCode
}

// Change is a status change, given to Options.OnChange.
type Change struct {
	Name string
	// Pid is the process's, as given to Spawned (0: not known).
	Pid      int
	From, To Status
	Time     time.Time
	// Last is the result that caused it (zero on Spawned and Stopped).
	Last Result
}

// Options configure a Checker.
type Options struct {
	// Monitor starts and reaps exec probes; required for them.
	Monitor *monitor.Monitor
	// Workers is the number of goroutines running network probes
	// (DefaultWorkers when 0). It bounds the network probes in flight.
	Workers int
	// OnChange, when set, is called on the checker's goroutine at every
	// status change, in order. It must not block or call the Checker.
	//
	// This is the hook for what depends on health: the daemon acts on
	// on_unhealthy with it, and conditions such as requires = ["db:healthy"]
	// or ready = "healthy" wait for a Change to StatusHealthy of the
	// process they name (a Change to StatusStarting means a new process,
	// whose health is not known yet).
	OnChange func(Change)
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// Checker schedules and runs the probes of many processes. Its methods are
// safe for concurrent use and never wait for a probe.
type Checker struct {
	opts   Options
	log    *slog.Logger
	client *http.Client

	mu    sync.Mutex
	inbox []msg
	wake  chan struct{}

	jobs   chan job
	quit   chan struct{}
	done   chan struct{}
	closed sync.Once
	wg     sync.WaitGroup

	// Owned by the scheduler goroutine.
	entries map[string]*entry
	heap    timers
	pending []job // network probes waiting for a worker

	// pub maps each name to its published State; the map is replaced only
	// when names are added or removed, each State on every change.
	pub atomic.Pointer[map[string]*atomic.Pointer[State]]

	probes, failures atomic.Uint64
	seq              uint64 // for gens and flight ids; scheduler only
}

type entry struct {
	name    string
	probe   *Probe
	kind    string
	active  bool      // a process is running
	gen     uint64    // changed by Spawned, Stopped and Set (unique in the checker)
	spawned time.Time // of the current process
	status  Status
	since   time.Time
	fails   int
	results []Result

	inflight  bool
	flight    uint64 // id of the probe in flight (unique in the checker)
	flightGen uint64 // gen when it started: another gen means stale
	timedOut  bool
	pid       int      // of the exec probe in flight
	procPid   int      // of the process checked (Spawned), 0 if not known
	changed   *Change  // set by setStatus, given to OnChange by publish
	out       *os.File // its output
	started   time.Time

	due   time.Time
	after time.Time // the first probe of a process spawned while a probe ran
	index int       // in the heap, or -1
	pub   *atomic.Pointer[State]
}

type msgKind int

const (
	msgSet msgKind = iota
	msgSpawned
	msgStopped
	msgExec
	msgNet
)

type msg struct {
	kind    msgKind
	name    string
	procPid int // msgSpawned: the process's pid
	probe   *Probe
	flight  uint64
	exit    *monitor.ExitInfo
	res     Result
	at      time.Time
}

type job struct {
	name   string
	flight uint64
	probe  *Probe
}

// New starts a Checker's scheduler and workers.
func New(opts Options) *Checker {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	c := &Checker{
		opts: opts, log: opts.Logger,
		wake: make(chan struct{}, 1), jobs: make(chan job), quit: make(chan struct{}), done: make(chan struct{}),
		entries: map[string]*entry{},
		client: &http.Client{
			// No keep-alive: an idle connection costs two goroutines.
			Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	empty := map[string]*atomic.Pointer[State]{}
	c.pub.Store(&empty)
	for range opts.Workers {
		c.wg.Add(1)
		go c.worker()
	}
	go c.run()
	return c
}

// Set gives name a probe, replacing its previous one, or removes it (nil).
// A new probe starts at the next Spawned.
func (c *Checker) Set(name string, p *Probe) {
	if p != nil && (p.Retries < 1 || p.Interval <= 0 || p.Timeout <= 0) {
		panic(fmt.Sprintf("health: probe of %q needs Retries >= 1 and positive Interval and Timeout", name))
	}
	c.post(msg{kind: msgSet, name: name, probe: p})
}

// Spawned tells that a new process of name, pid (0 if not known), was
// spawned at. Its status becomes starting and its probes are scheduled from
// that time; the changes that follow carry pid (Change.Pid).
func (c *Checker) Spawned(name string, pid int, at time.Time) {
	c.post(msg{kind: msgSpawned, name: name, at: at, procPid: pid})
}

// Stopped tells that name has no process any more: its status becomes none
// and a probe in flight is killed (exec) or ignored.
func (c *Checker) Stopped(name string) { c.post(msg{kind: msgStopped, name: name}) }

// Get returns the last published state of name.
func (c *Checker) Get(name string) (State, bool) {
	p, ok := (*c.pub.Load())[name]
	if !ok {
		return State{}, false
	}
	s := p.Load()
	if s == nil {
		return State{}, false
	}
	return *s, true
}

// Snapshot returns every process's last published state. It reads atomic
// values and never waits for the scheduler.
func (c *Checker) Snapshot() map[string]State {
	m := *c.pub.Load()
	out := make(map[string]State, len(m))
	for name, p := range m {
		if s := p.Load(); s != nil {
			out[name] = *s
		}
	}
	return out
}

// Probes returns the number of probes completed so far.
func (c *Checker) Probes() uint64 { return c.probes.Load() }

// Failures returns the number of probes that failed so far.
func (c *Checker) Failures() uint64 { return c.failures.Load() }

// Close stops the scheduler and the workers and kills the exec probes in
// flight. A second call is a no-op.
func (c *Checker) Close() {
	c.closed.Do(func() { close(c.quit) })
	<-c.done
	c.wg.Wait()
}

func (c *Checker) post(m msg) {
	c.mu.Lock()
	c.inbox = append(c.inbox, m)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Checker) run() {
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var inbox []msg
	for {
		if due, ok := c.heap.next(); ok {
			timer.Reset(time.Until(due))
		} else {
			timer.Stop()
		}
		var jobs chan job
		var next job
		if len(c.pending) > 0 {
			jobs, next = c.jobs, c.pending[0]
		}
		select {
		case <-c.quit:
			c.shutdown()
			return
		case <-c.wake:
			c.mu.Lock()
			inbox, c.inbox = c.inbox, inbox[:0]
			c.mu.Unlock()
			for _, m := range inbox {
				c.handle(m)
			}
			clear(inbox)
		case <-timer.C:
			now := time.Now()
			for {
				due, ok := c.heap.next()
				if !ok || due.After(now) {
					break
				}
				c.fire(heap.Pop(&c.heap).(*entry))
			}
		case jobs <- next:
			c.pending[0] = job{}
			c.pending = c.pending[1:]
		}
	}
}

func (c *Checker) shutdown() {
	close(c.jobs)
	for _, e := range c.entries {
		c.abort(e)
		if e.out != nil {
			e.out.Close()
		}
	}
}

func (c *Checker) handle(m msg) {
	e := c.entries[m.name]
	switch m.kind {
	case msgSet:
		if e == nil && m.probe == nil {
			return
		}
		if e == nil {
			e = &entry{name: m.name, index: -1, pub: &atomic.Pointer[State]{}}
			c.entries[m.name] = e
			c.republish()
		}
		c.abort(e)
		if m.probe == nil {
			c.unschedule(e)
			if e.out != nil {
				e.out.Close() // the probe's exit finds no entry
			}
			delete(c.entries, m.name)
			c.republish()
			return
		}
		e.probe, e.kind = m.probe, kind(m.probe)
		e.gen = c.next()
		if !e.inflight {
			c.unschedule(e)
		}
		c.setStatus(e, StatusNone, Result{})
		e.active = false
		c.publish(e)
	case msgSpawned:
		if e == nil {
			return
		}
		e.gen = c.next()
		e.active, e.spawned, e.fails, e.procPid = true, m.at, 0, m.procPid
		c.setStatus(e, StatusStarting, Result{})
		first := e.probe.Interval
		if e.probe.StartPeriod > 0 {
			first = e.probe.StartInterval
		}
		if !e.inflight {
			c.schedule(e, m.at.Add(first))
		} else {
			e.after = m.at.Add(first) // taken up when the old probe ends
		}
		c.publish(e)
	case msgStopped:
		if e == nil {
			return
		}
		e.gen = c.next()
		e.active, e.fails = false, 0
		c.abort(e)
		if !e.inflight {
			c.unschedule(e)
		}
		c.setStatus(e, StatusNone, Result{})
		c.publish(e)
	case msgExec:
		if e == nil || !e.inflight || e.flight != m.flight || e.pid != m.exit.Pid {
			return // a probe of a removed entry (its output file is closed)
		}
		c.unschedule(e) // the timeout
		r := Result{Time: e.started, Duration: m.exit.Ended.Sub(e.started), OK: m.exit.Success()}
		code := m.exit.Code
		r.ExitCode = &code
		r.Output = readOutput(e.out)
		e.out.Close()
		e.out, e.pid = nil, 0
		if e.timedOut {
			r.OK = false
			r.Err = fmt.Sprintf("timed out after %s; process group killed", e.probe.Timeout)
		}
		c.finish(e, r)
	case msgNet:
		if e == nil || !e.inflight || e.flight != m.flight {
			return // a probe of a removed entry
		}
		c.finish(e, m.res)
	}
}

// finish ends the probe in flight: applies its result if it is of the
// current process, and schedules the next one.
func (c *Checker) finish(e *entry, r Result) {
	e.inflight, e.timedOut = false, false
	c.probes.Add(1)
	if !r.OK {
		c.failures.Add(1)
	}
	if e.flightGen != e.gen || !e.active {
		if e.active { // a new process: its first probe, when due
			c.schedule(e, e.after)
		}
		return
	}
	e.results = append(e.results, r)
	if len(e.results) > Results {
		e.results = append(e.results[:0], e.results[len(e.results)-Results:]...)
	}
	now := time.Now()
	inStart := e.probe.StartPeriod > 0 && now.Sub(e.spawned) < e.probe.StartPeriod
	switch {
	case r.OK:
		e.fails = 0
		c.setStatus(e, StatusHealthy, r)
	case inStart && e.status == StatusStarting:
		// Failures in the start period do not count.
	default:
		e.fails++
		if e.fails >= e.probe.Retries {
			c.setStatus(e, StatusUnhealthy, r)
		}
	}
	next := e.probe.Interval
	if e.status == StatusStarting && inStart {
		next = e.probe.StartInterval
	}
	c.schedule(e, now.Add(next))
	c.publish(e)
}

// fire runs when an entry's time comes: a probe is due, or the exec probe
// in flight reached its timeout.
func (c *Checker) fire(e *entry) {
	if e.inflight {
		if e.pid != 0 && !e.timedOut {
			e.timedOut = true
			if err := c.opts.Monitor.KillLaunched(e.pid); err != nil && !errors.Is(err, os.ErrProcessDone) {
				c.log.Warn("health: cannot kill a probe at its timeout", "program", e.name, "pid", e.pid, "err", err)
			}
		}
		return
	}
	if !e.active {
		return
	}
	e.inflight, e.flight, e.flightGen = true, c.next(), e.gen
	e.started = time.Now()
	if e.probe.Exec == nil {
		c.pending = append(c.pending, job{name: e.name, flight: e.flight, probe: e.probe})
		return
	}
	if err := c.launch(e); err != nil {
		c.finish(e, Result{Time: e.started, Err: err.Error()})
	}
}

func (c *Checker) launch(e *entry) error {
	if c.opts.Monitor == nil {
		return errors.New("health: no monitor to run exec probes")
	}
	fd, err := unix.MemfdCreate("corral-probe", unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("probe output: %w", err)
	}
	out := os.NewFile(uintptr(fd), "corral-probe")
	spec := *e.probe.Exec
	spec.Name = "health:" + e.name
	spec.Stdin, spec.Stdout, spec.Stderr = nil, out, out
	name, flight := e.name, e.flight
	pid, err := c.opts.Monitor.Launch(spec, func(x *monitor.ExitInfo) {
		c.post(msg{kind: msgExec, name: name, flight: flight, exit: x})
	})
	if err != nil {
		out.Close()
		return err
	}
	e.pid, e.out = pid, out
	c.schedule(e, e.started.Add(e.probe.Timeout))
	return nil
}

// abort kills an exec probe in flight; its exit still arrives and ends it.
func (c *Checker) abort(e *entry) {
	if e.inflight && e.pid != 0 && c.opts.Monitor != nil {
		_ = c.opts.Monitor.KillLaunched(e.pid)
	}
}

func (c *Checker) next() uint64 {
	c.seq++
	return c.seq
}

func (c *Checker) schedule(e *entry, at time.Time) {
	e.due = at
	if e.index >= 0 {
		heap.Fix(&c.heap, e.index)
	} else {
		heap.Push(&c.heap, e)
	}
}

func (c *Checker) unschedule(e *entry) {
	if e.index >= 0 {
		heap.Remove(&c.heap, e.index)
	}
}

// setStatus changes e's status; the Change goes to OnChange when publish
// has made the new state what Get returns, so that an OnChange that reads
// Get (or a caller woken by it) never sees the state before the change.
func (c *Checker) setStatus(e *entry, s Status, last Result) {
	if e.status == s {
		return
	}
	from := e.status
	e.status, e.since = s, time.Now()
	e.changed = &Change{Name: e.name, Pid: e.procPid, From: from, To: s, Time: e.since, Last: last}
}

func (c *Checker) publish(e *entry) {
	s := &State{Name: e.name, Kind: e.kind, Status: e.status, Since: e.since, Failures: e.fails,
		Results: append([]Result(nil), e.results...)}
	e.pub.Store(s)
	if ch := e.changed; ch != nil {
		e.changed = nil
		if c.opts.OnChange != nil {
			c.opts.OnChange(*ch)
		}
	}
}

func (c *Checker) republish() {
	m := make(map[string]*atomic.Pointer[State], len(c.entries))
	for name, e := range c.entries {
		m[name] = e.pub
	}
	c.pub.Store(&m)
}

func kind(p *Probe) string {
	switch {
	case p.Exec != nil:
		return "exec"
	case p.HTTP != "":
		return "http"
	}
	return "tcp"
}

// readOutput returns the first MaxOutput bytes written to a probe's memfd.
func readOutput(f *os.File) string {
	buf := make([]byte, MaxOutput)
	n, _ := f.ReadAt(buf, 0)
	return string(buf[:n])
}
