package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Backend selects how the monitor learns that children exited.
type Backend int

const (
	// BackendReaper, the zero value, reaps with wait4(-1) on every SIGCHLD:
	// it sees every child of the process, orphans included. Nothing else in
	// the process may wait for children (use Monitor.Command instead of
	// os/exec), and no other monitor may run beside it (ErrReaperInUse).
	// It is for a program that owns its process: a supervisor daemon, PID 1.
	BackendReaper Backend = iota
	// BackendPidfd watches one pidfd per child in one epoll loop and reaps
	// only its own children, so os/exec keeps working elsewhere in the
	// process. It cannot reap orphans and needs Linux 5.4 or later.
	BackendPidfd
)

// Options configure a Monitor. The zero value is valid.
type Options struct {
	Backend Backend
	// Subreaper makes the process a child subreaper (PR_SET_CHILD_SUBREAPER)
	// so orphaned grandchildren are re-parented to it and reaped. Reaper
	// backend only. When the monitor's loop ends it clears the setting
	// again, unless the process was a subreaper before New.
	Subreaper bool
	// Clock replaces the real clock (tests).
	Clock Clock
	// Logger receives the monitor's own diagnostics; nil discards them (a
	// library logs nothing unless handed a logger).
	Logger *slog.Logger
	// ShimPath is the executable used to apply Spec.Umask and Spec.Rlimits
	// before exec, and to run the spawn helper; it must be a binary that
	// imports this package. Default "/proc/self/exe".
	ShimPath string
	// SpawnHelper spawns through a helper process with a near-empty
	// descriptor table (reaper backend only). A process holding thousands of
	// descriptors (a daemon with a pipe per program) spawns several times
	// faster this way: fork copies the descriptor table and exec closes it.
	// If the helper fails, the monitor spawns directly and says so. Specs
	// with a DeathSignal are always spawned directly (see helper_linux.go).
	//
	// Deprecated: the spawner thread (RunSpawner) replaces it, with the
	// same spawn cost and the death signal kept; SpawnHelper is ignored
	// when the spawner thread runs. It stays so that programs setting it
	// still build.
	SpawnHelper bool
}

// Errors returned by Monitor methods, wrapped with the process name.
var (
	ErrClosed         = errors.New("monitor closed")
	ErrNotFound       = errors.New("no such process")
	ErrExists         = errors.New("process already exists")
	ErrAlreadyStarted = errors.New("already started")
	ErrNotRunning     = errors.New("not running")
	ErrStillRunning   = errors.New("still running")
	// ErrReaperInUse is returned by New when a BackendReaper monitor would
	// share the process with another monitor: it reaps every child with
	// wait4(-1), so it would steal the other one's exits (and the other
	// would hang or lose them). Share one Monitor, or give every monitor
	// of the process BackendPidfd.
	ErrReaperInUse = errors.New("a BackendReaper monitor reaps every child of the process, so it cannot share the process with another monitor")
)

// inUse counts the running monitors of the process, by backend.
var inUse struct {
	sync.Mutex
	reaper bool
	pidfd  int
}

func claimBackend(b Backend) error {
	inUse.Lock()
	defer inUse.Unlock()
	switch {
	case inUse.reaper:
		return fmt.Errorf("monitor: another monitor with BackendReaper is running in this process: %w; share it, or use BackendPidfd for all of them", ErrReaperInUse)
	case b == BackendReaper && inUse.pidfd > 0:
		return fmt.Errorf("monitor: %d BackendPidfd monitor(s) running in this process: %w; use BackendPidfd for this one too", inUse.pidfd, ErrReaperInUse)
	case b == BackendReaper:
		inUse.reaper = true
	default:
		inUse.pidfd++
	}
	return nil
}

func releaseBackend(b Backend) {
	inUse.Lock()
	defer inUse.Unlock()
	if b == BackendReaper {
		inUse.reaper = false
	} else {
		inUse.pidfd--
	}
}

// StartError reports a process that did not reach RUNNING after StartWait.
type StartError struct {
	Name  string
	State State
	// Spawn is true when the process could not be spawned at all (its Err
	// is the spawn error); otherwise it died before MinUptime.
	Spawn bool
	Err   string
}

// Error says which process failed to start, and how.
func (e *StartError) Error() string {
	if e.Spawn {
		return fmt.Sprintf("start %q: spawn error: %s", e.Name, e.Err)
	}
	if e.Err != "" {
		return fmt.Sprintf("start %q: %s (state %s)", e.Name, e.Err, e.State)
	}
	return fmt.Sprintf("start %q: abnormal termination (state %s)", e.Name, e.State)
}

// ProcessInfo is a snapshot of one process.
type ProcessInfo struct {
	Name  string
	State State
	// Since is when the process entered State.
	Since time.Time
	Pid   int
	// Started is when the current (or last) pid was spawned.
	Started time.Time
	// Restarts counts automatic restarts since the process was added.
	Restarts uint64
	LastExit *ExitInfo
	// Err is the last spawn error or the reason for FATAL.
	Err  string
	Spec Spec
	// Ready is the readiness of the process (see Readiness).
	Ready ReadyInfo
}

// Stats are the monitor's counters.
type Stats struct {
	Processes           int
	Spawns              uint64
	Exits               uint64
	OrphansReaped       uint64
	SubscriberOverflows uint64
	Subscribers         int
}

// Monitor supervises processes from one event loop goroutine. All methods may
// be called from any goroutine; they talk to the loop by message.
type Monitor struct {
	cmds chan func(*loop)
	done chan struct{}
	opts Options
	log  *slog.Logger
	// final holds the counters when the loop ended; written by the loop
	// before it closes done, read only after done is closed.
	final Stats
}

// New starts a monitor's event loop.
func New(opts Options) (*Monitor, error) { return newMonitor(opts, false) }

func newMonitor(opts Options, adopting bool) (*Monitor, error) {
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.ShimPath == "" {
		opts.ShimPath = "/proc/self/exe"
	}
	m := &Monitor{cmds: make(chan func(*loop)), done: make(chan struct{}), opts: opts}
	m.log = opts.Logger
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	l, err := newLoop(m)
	if err != nil {
		return nil, err
	}
	l.adopting = adopting
	go l.run()
	return m, nil
}

// do runs f on the loop goroutine and waits for it.
func (m *Monitor) do(f func(*loop)) error {
	ran := make(chan struct{})
	select {
	case m.cmds <- func(l *loop) { f(l); close(ran) }:
	case <-m.done:
		return ErrClosed
	}
	<-ran
	return nil
}

// call runs f on the loop and returns its error.
func (m *Monitor) call(f func(*loop) error) error {
	var err error
	if e := m.do(func(l *loop) { err = f(l) }); e != nil {
		return e
	}
	return err
}

// Done is closed when the loop has ended after Shutdown.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// Add registers a process in state STOPPED. Use Start to run it.
func (m *Monitor) Add(spec Spec) error {
	if err := checkAdd(spec); err != nil {
		return err
	}
	spec = withDefaults(spec)
	return m.call(func(l *loop) error { return l.add(spec) })
}

// checkAdd is what Add refuses before asking the loop.
func checkAdd(spec Spec) error {
	if spec.Name == "" {
		return errors.New("add: empty process name")
	}
	if spec.Path == "" {
		return fmt.Errorf("add %q: empty path", spec.Name)
	}
	return nil
}

// AddEach registers many processes, each as Add does, in order, and
// returns one error (or nil) per spec. It asks the loop once per batch of
// specs rather than once per spec, which makes registering thousands of
// processes cheaper (a daemon's start). A spec that Add would refuse gets
// Add's error and does not stop the others.
func (m *Monitor) AddEach(specs []Spec) []error {
	errs := make([]error, len(specs))
	valid := make([]Spec, 0, len(specs))
	at := make([]int, 0, len(specs))
	for i, spec := range specs {
		if errs[i] = checkAdd(spec); errs[i] == nil {
			valid = append(valid, withDefaults(spec))
			at = append(at, i)
		}
	}
	// Adding is cheap on the loop: batches four times StartEach's.
	const batch = 256
	for lo := 0; lo < len(valid); lo += batch {
		hi := min(lo+batch, len(valid))
		err := m.do(func(l *loop) {
			for k := lo; k < hi; k++ {
				errs[at[k]] = l.add(valid[k])
			}
		})
		if err != nil {
			for _, i := range at[lo:] {
				errs[i] = err
			}
			break
		}
	}
	return errs
}

func withDefaults(s Spec) Spec {
	if len(s.Args) == 0 {
		s.Args = []string{s.Path}
	}
	if s.ExitCodes == nil {
		s.ExitCodes = []int{0}
	}
	if s.StopSignal == 0 {
		s.StopSignal = syscall.SIGTERM
	}
	if s.StopTimeout <= 0 {
		s.StopTimeout = 10 * time.Second
	}
	if s.StartRetries < 0 {
		s.StartRetries = 0
	}
	s.Backoff = s.Backoff.withDefaults()
	return s
}

// Remove deletes a process that is not active (use StopWait first).
func (m *Monitor) Remove(name string) error {
	return m.call(func(l *loop) error {
		p, err := l.get(name)
		if err != nil {
			return err
		}
		if p.state.Active() {
			return fmt.Errorf("remove %q: %w (state %s)", name, ErrStillRunning, p.state)
		}
		l.remove(p)
		return nil
	})
}

// Start spawns the process and returns without waiting for RUNNING. A spawn
// error is returned and also leaves the process FATAL (or BACKOFF when the
// error may pass, like EAGAIN).
func (m *Monitor) Start(name string) error {
	return m.call(func(l *loop) error {
		p, err := l.get(name)
		if err != nil {
			return err
		}
		return l.start(p)
	})
}

// StartEach starts many processes, in order, without waiting for RUNNING,
// and returns one error (or nil) per name. It asks the loop once per batch
// of names rather than once per name, which makes starting thousands of
// processes cheaper, while keeping batches small so the loop stays
// responsive between them.
func (m *Monitor) StartEach(names []string) []error {
	errs := make([]error, len(names))
	const batch = 64
	for lo := 0; lo < len(names); lo += batch {
		hi := min(lo+batch, len(names))
		err := m.do(func(l *loop) { l.startEach(names[lo:hi], errs[lo:hi]) })
		if err != nil {
			for i := lo; i < len(names); i++ {
				errs[i] = err
			}
			break
		}
	}
	return errs
}

// StartWait starts the process and waits until it is RUNNING. It returns a
// *StartError when the process failed to start, with supervisord's semantics:
// any state other than STARTING or RUNNING ends the wait.
func (m *Monitor) StartWait(ctx context.Context, name string) error {
	ch := make(chan error, 1)
	err := m.call(func(l *loop) error {
		p, err := l.get(name)
		if err != nil {
			return err
		}
		if err := l.start(p); err != nil {
			var se *StartError
			if errors.As(err, &se) {
				ch <- err
				return nil
			}
			return err
		}
		l.wait(p, ch, func(p *process) (bool, error) {
			switch p.state {
			case StateRunning:
				return true, nil
			case StateStarting, StateWaiting:
				return false, nil
			}
			return true, &StartError{Name: p.spec.Name, State: p.state, Err: p.err}
		})
		return nil
	})
	if err != nil {
		return err
	}
	return m.await(ctx, ch)
}

func (m *Monitor) await(ctx context.Context, ch chan error) error {
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		select {
		case err := <-ch:
			return err
		default:
			return ErrClosed
		}
	}
}

// Stop sends the stop signal and returns; SIGKILL follows after StopTimeout.
// A process in BACKOFF is stopped at once.
func (m *Monitor) Stop(name string) error {
	return m.call(func(l *loop) error {
		p, err := l.get(name)
		if err != nil {
			return err
		}
		return l.stop(p)
	})
}

// StopWait stops the process and waits until it is no longer active.
func (m *Monitor) StopWait(ctx context.Context, name string) error {
	ch := make(chan error, 1)
	err := m.call(func(l *loop) error {
		p, err := l.get(name)
		if err != nil {
			return err
		}
		if err := l.stop(p); err != nil {
			return err
		}
		l.wait(p, ch, func(p *process) (bool, error) { return !p.state.Active(), nil })
		return nil
	})
	if err != nil {
		return err
	}
	return m.await(ctx, ch)
}

// Restart stops the process if it is active, waits, and starts it again
// without waiting for RUNNING.
func (m *Monitor) Restart(ctx context.Context, name string) error {
	if err := m.StopWait(ctx, name); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return m.Start(name)
}

// Signal sends sig to the process (not its group).
func (m *Monitor) Signal(name string, sig syscall.Signal) error {
	return m.call(func(l *loop) error {
		p, err := l.get(name)
		if err != nil {
			return err
		}
		if p.pid == 0 {
			return fmt.Errorf("signal %q: %w (state %s)", name, ErrNotRunning, p.state)
		}
		if err := syscall.Kill(p.pid, sig); err != nil {
			return fmt.Errorf("signal %q (pid %d): %w", name, p.pid, err)
		}
		return nil
	})
}

// Process returns a snapshot of one process.
func (m *Monitor) Process(name string) (ProcessInfo, error) {
	var info ProcessInfo
	err := m.call(func(l *loop) error {
		p, err := l.get(name)
		if err != nil {
			return err
		}
		info = p.info()
		return nil
	})
	return info, err
}

// Snapshot returns every process, sorted by name, and the sequence number of
// the last event emitted before it was taken: events with a higher Seq
// happened after the snapshot.
func (m *Monitor) Snapshot() ([]ProcessInfo, uint64, error) {
	var out []ProcessInfo
	var seq uint64
	err := m.do(func(l *loop) {
		out = make([]ProcessInfo, 0, len(l.procs))
		for _, p := range l.procs {
			out = append(out, p.info())
		}
		seq = l.seq
	})
	slices.SortFunc(out, func(a, b ProcessInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, seq, err
}

// Stats returns the monitor's counters. After Shutdown it returns the final
// counters, as they were when the loop ended.
func (m *Monitor) Stats() (Stats, error) {
	var s Stats
	err := m.do(func(l *loop) { s = l.statsNow() })
	if errors.Is(err, ErrClosed) {
		return m.final, nil
	}
	return s, err
}

func (l *loop) statsNow() Stats {
	s := l.stats
	s.Processes = len(l.procs)
	s.Subscribers = len(l.subs)
	return s
}

// Subscribe returns a subscription to all events from now on. queue bounds
// the events held for a slow reader (0 means 1024).
func (m *Monitor) Subscribe(queue int) (*Subscription, error) {
	s := newSubscription(m, queue)
	if err := m.do(func(l *loop) { l.subs[s] = struct{}{}; s.after = l.seq }); err != nil {
		return nil, err
	}
	return s, nil
}

// Shutdown stops every process (each with its stop signal and grace period),
// waits until all are stopped, then ends the loop. When ctx ends first, every
// process group is killed with SIGKILL and reaped before the loop ends.
func (m *Monitor) Shutdown(ctx context.Context) error {
	if err := m.do(func(l *loop) { l.shutdown() }); err != nil {
		return nil // already closed
	}
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		_ = m.do(func(l *loop) { l.killAll() })
		<-m.done
		return ctx.Err()
	}
}

// Close is Shutdown without a deadline.
func (m *Monitor) Close() error { return m.Shutdown(context.Background()) }

// process is the loop's record of one supervised process. Only the loop
// goroutine touches it. One is allocated per process: mind its size class
// (TestProcessRecordSize) when adding fields.
type process struct {
	spec     Spec
	state    State
	since    time.Time
	pid      int
	started  time.Time
	gen      uint64 // bumps on every state change: older timers are void
	failures int    // failed starts in a row
	crashes  int    // restarts in the current crash loop, for the backoff
	retries  int    // on-failure restarts since the last Start
	restarts uint64
	lastExit *ExitInfo
	err      string
	waiters  []waiter
	preHook  int // pid of the running PreStart hook, 0 when none
	cgKills  int // kills of its cgroup so far: each later spawn gets a fresh one
	rd       readyState
}

type waiter struct {
	ch   chan error
	done func(*process) (bool, error)
}

func (p *process) info() ProcessInfo {
	return ProcessInfo{
		Name: p.spec.Name, State: p.state, Since: p.since, Pid: p.pid,
		Started: p.started, Restarts: p.restarts, LastExit: p.lastExit,
		Err: p.err, Spec: p.spec, Ready: p.readyInfo(),
	}
}

// loop is the state owned by the event loop goroutine.
type loop struct {
	m        *Monitor
	clock    Clock
	log      *slog.Logger
	procs    map[string]*process
	byPid    map[int]*process
	oneshots map[int]func(*ExitInfo) // one-shot commands and probes, by pid: called on the loop when reaped
	hooks    map[int]*hookRun        // running hooks by pid (hooks.go)
	subs     map[*Subscription]struct{}
	timers   timerHeap
	timer    Timer
	armed    time.Time
	seq      uint64
	stats    Stats
	closing  bool
	sigchld  chan os.Signal
	pidfds   *pidfdWatcher
	rdeps    depIndex // dependants by dependency name
	helper   *spawnHelper
	devnull  *os.File

	// clearSubreaper: the monitor made the process a subreaper and undoes
	// it when its loop ends.
	clearSubreaper bool
	// adopting: NewAdopting made the monitor and Adopt has not run; no
	// exit is reaped until it does (see adopt.go).
	adopting bool
	// warnedStolen: the first exit of a child started by other code was
	// logged at Warn; later ones go to Debug.
	warnedStolen bool
	// respawns are the restarts decided during one reap or timer turn,
	// spawned together at its end (batchRespawns).
	respawns []*process
	batching bool
}

func newLoop(m *Monitor) (*loop, error) {
	l := &loop{
		m: m, clock: m.opts.Clock, log: m.log,
		procs: map[string]*process{}, byPid: map[int]*process{},
		oneshots: map[int]func(*ExitInfo){}, hooks: map[int]*hookRun{}, subs: map[*Subscription]struct{}{},
	}
	var err error
	if l.devnull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	switch m.opts.Backend {
	case BackendReaper:
		// wait4(-1) takes every child of the process: a second reaper would
		// steal the first one's exits (and both would hang or lose them).
		if err := claimBackend(BackendReaper); err != nil {
			l.devnull.Close()
			return nil, err
		}
		if m.opts.Subreaper {
			was, err := setSubreaper()
			if err != nil {
				releaseBackend(BackendReaper)
				l.devnull.Close()
				return nil, fmt.Errorf("monitor: become child subreaper: %w", err)
			}
			l.clearSubreaper = !was
		}
		// Subscribe before the first reap, so no exit falls between them.
		l.sigchld = make(chan os.Signal, 1)
		signal.Notify(l.sigchld, syscall.SIGCHLD)
	case BackendPidfd:
		if m.opts.Subreaper {
			l.devnull.Close()
			return nil, errors.New("monitor: the pidfd backend cannot be a subreaper: it reaps only its own children")
		}
		if err := claimBackend(BackendPidfd); err != nil {
			l.devnull.Close()
			return nil, err
		}
		if l.pidfds, err = newPidfdWatcher(m.done); err != nil {
			releaseBackend(BackendPidfd)
			l.devnull.Close()
			return nil, fmt.Errorf("monitor: pidfd backend: %w", err)
		}
	default:
		l.devnull.Close()
		return nil, fmt.Errorf("monitor: unknown backend %d", m.opts.Backend)
	}
	l.timer = l.clock.NewTimer(time.Hour)
	l.timer.Stop()
	return l, nil
}

func (l *loop) run() {
	// The kernel sends a child's death signal when the thread that forked it
	// exits, so every spawn happens on this one thread, which lives as long
	// as the loop. With the spawner thread every fork happens there, and
	// the loop needs no thread of its own.
	if spawner == nil {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	defer l.finish()
	if l.m.opts.SpawnHelper && l.pidfds == nil && spawner == nil {
		h, err := startHelper(l.m.opts.ShimPath)
		if err != nil {
			l.log.Error("spawning directly: the spawn helper did not start", "err", err)
		}
		l.helper = h
	}
	if l.sigchld != nil && !l.adopting {
		l.reapAll()
	}
	var ready <-chan []int
	if l.pidfds != nil {
		ready = l.pidfds.ready
	}
	for {
		select {
		case f := <-l.m.cmds:
			f(l)
		case <-l.sigchld:
			if !l.adopting {
				l.batchRespawns(l.reapAll)
			}
		case fds := <-ready:
			l.batchRespawns(func() { l.reapPidfds(fds) })
		case <-l.timer.C():
			l.armed = time.Time{}
			l.batchRespawns(l.fireTimers)
		}
		if l.closing && l.idle() {
			return
		}
		l.armTimer()
	}
}

func (l *loop) finish() {
	if l.helper != nil {
		l.helper.close()
		l.helper = nil
	}
	if l.sigchld != nil {
		if l.m.opts.Subreaper {
			// Orphans re-parented to this subreaper are the monitor's
			// responsibility: none outlives Shutdown.
			l.killOrphans()
		}
		if l.clearSubreaper {
			// Orphans from now on go to the process's own ancestors: after
			// Shutdown no one here would reap them.
			if err := clearSubreaper(); err != nil {
				l.log.Warn("cannot stop being a child subreaper", "err", err)
			}
		}
		// Exits that arrived since the last SIGCHLD was handled (orphans
		// of stopped groups, typically) are reaped, not left as zombies.
		l.reapAll()
		signal.Stop(l.sigchld)
		releaseBackend(BackendReaper)
	}
	l.timer.Stop()
	l.m.final = l.statsNow()
	if l.pidfds != nil {
		// Before done is closed: once Shutdown returns, New may claim
		// the reaper backend again.
		releaseBackend(BackendPidfd)
	}
	close(l.m.done)
	if l.pidfds != nil {
		l.pidfds.close()
	}
	l.devnull.Close()
	// Subscribers read what is queued, then Next returns ErrClosed.
}

func (l *loop) idle() bool {
	for _, p := range l.procs {
		if p.state.Active() {
			return false
		}
	}
	return len(l.oneshots) == 0 && len(l.hooks) == 0
}

func (l *loop) armTimer() {
	if len(l.timers) == 0 {
		return
	}
	at := l.timers[0].at
	if !l.armed.IsZero() && !at.Before(l.armed) {
		return
	}
	l.armed = at
	now := l.clock.Now()
	for {
		d := max(at.Sub(now), 0)
		l.timer.Reset(d)
		if d == 0 {
			return
		}
		// Reset takes a duration from the clock's present, which may
		// have moved since it was read: a fake clock advanced by a test
		// in between would leave the deadline late by the whole jump,
		// and the timer would never fire. Set it again from a fresh
		// reading until the clock held still across the Reset.
		later := l.clock.Now()
		if later.Sub(now) < time.Millisecond {
			return
		}
		now = later
	}
}

func (l *loop) fireTimers() {
	now := l.clock.Now()
	for {
		t, ok := l.timers.popDue(now)
		if !ok {
			return
		}
		if t.kind == timerHook {
			l.hookTimeout(t.pid) // a hook's deadline outlives state changes
			continue
		}
		if !t.current() || l.procs[t.p.spec.Name] != t.p {
			continue // void: the process moved on
		}
		l.onTimer(t)
	}
}

func (l *loop) after(p *process, d time.Duration, k timerKind) {
	l.timers.add(timer{at: l.clock.Now().Add(d), kind: k, p: p, gen: p.gen})
	// Armed now, before transition emits the event: a subscriber that
	// reacts by moving a fake clock must find the timer running. Armed
	// after the event, the timer would be reset relative to the moved
	// clock and never fire (TestStateTransitions hung on that).
	l.armTimer()
}

func (l *loop) get(name string) (*process, error) {
	p, ok := l.procs[name]
	if !ok {
		return nil, fmt.Errorf("%q: %w", name, ErrNotFound)
	}
	return p, nil
}

func (l *loop) emit(e Event) {
	l.seq++
	e.Seq = l.seq
	if e.Time.IsZero() {
		e.Time = l.clock.Now()
	}
	for s := range l.subs {
		if s.push(e) {
			l.stats.SubscriberOverflows++
		}
	}
}

// deadline is a timer to arm along with a state change.
type deadline struct {
	after time.Duration
	kind  timerKind
}

// transition moves p to state to, arms the timers of the new state, and only
// then emits e, so a subscriber that reacts to e (a test moving a fake clock)
// finds the state and its deadlines in place.
func (l *loop) transition(p *process, to State, e Event, timers ...deadline) {
	e.Name, e.From, e.State = p.spec.Name, p.state, to
	l.setState(p, to)
	for _, t := range timers {
		l.after(p, t.after, t.kind)
	}
	l.emit(e)
	l.depsChanged(p)
}

// setState moves p to s, voids its timers and wakes its waiters.
func (l *loop) setState(p *process, s State) {
	p.state = s
	p.since = l.clock.Now()
	p.gen++
	if len(p.waiters) == 0 {
		return
	}
	keep := p.waiters[:0]
	for _, w := range p.waiters {
		if done, err := w.done(p); done {
			w.ch <- err
		} else {
			keep = append(keep, w)
		}
	}
	p.waiters = keep
}

func (l *loop) wait(p *process, ch chan error, done func(*process) (bool, error)) {
	if ok, err := done(p); ok {
		ch <- err
		return
	}
	p.waiters = append(p.waiters, waiter{ch: ch, done: done})
}

func (l *loop) add(spec Spec) error {
	if l.closing {
		return fmt.Errorf("add %q: %w", spec.Name, ErrClosed)
	}
	if _, ok := l.procs[spec.Name]; ok {
		return fmt.Errorf("add %q: %w", spec.Name, ErrExists)
	}
	p := &process{spec: spec, state: StateStopped, since: l.clock.Now()}
	l.procs[spec.Name] = p
	l.indexDeps(p)
	l.emit(Event{Type: EventAdded, Name: spec.Name, State: StateStopped})
	return nil
}

func (l *loop) remove(p *process) {
	delete(l.procs, p.spec.Name)
	l.unindexDeps(p)
	p.gen++
	for _, w := range p.waiters {
		w.ch <- fmt.Errorf("%q: %w", p.spec.Name, ErrNotFound)
	}
	p.waiters = nil
	l.emit(Event{Type: EventRemoved, Name: p.spec.Name, State: p.state})
}

// start handles a user's start: counters begin afresh.
func (l *loop) start(p *process) error {
	if err := l.startable(p); err != nil {
		return err
	}
	p.failures, p.crashes, p.retries = 0, 0, 0
	if len(p.spec.Readiness.Deps) > 0 {
		return l.startWithDeps(p)
	}
	return l.spawn(p)
}

// startable says why a user's start of p is refused, or nil.
func (l *loop) startable(p *process) error {
	if l.closing {
		return fmt.Errorf("start %q: %w", p.spec.Name, ErrClosed)
	}
	switch p.state {
	case StateStopped, StateExited, StateFatal:
	default:
		return fmt.Errorf("start %q: %w (state %s)", p.spec.Name, ErrAlreadyStarted, p.state)
	}
	return nil
}

// spawn starts a new pid for p. On failure p goes FATAL (an error that will
// not pass by itself) or is counted as a failed start.
func (l *loop) spawn(p *process) error {
	if p.spec.PreStart != nil {
		return l.spawnWithHook(p)
	}
	return l.spawnMain(p)
}

// spawnMain starts p's process itself (after its PreStart hook, if any).
func (l *loop) spawnMain(p *process) error {
	spec := &p.spec
	if p.cgKills > 0 && spec.Cgroup != "" {
		spec = l.freshCgroup(p)
	}
	pid, ticks, err := l.startProcessTicks(spec, l.watch)
	return l.spawnedAt(p, pid, ticks, err)
}

// spawned records the outcome of p's spawn: its new pid, or the error.
func (l *loop) spawned(p *process, pid int, err error) error {
	return l.spawnedAt(p, pid, 0, err)
}

// spawnedAt is spawned with the process's start time in ticks after boot,
// or 0 when unknown, for its EventStarting.
func (l *loop) spawnedAt(p *process, pid int, ticks uint64, err error) error {
	now := l.clock.Now()
	if err != nil {
		p.err = err.Error()
		l.log.Warn("spawn failed", "program", p.spec.Name, "err", err)
		if isPermanent(err) {
			l.fatal(p, err.Error())
		} else {
			l.failedStart(p, err.Error())
		}
		return &StartError{Name: p.spec.Name, State: p.state, Spawn: true, Err: err.Error()}
	}
	l.stats.Spawns++
	p.pid, p.started, p.err = pid, now, ""
	l.byPid[pid] = p
	l.armReadiness(p)
	if p.spec.MinUptime <= 0 {
		l.transition(p, StateStarting, Event{Type: EventStarting, Pid: pid, StartTicks: ticks})
		l.upForMinUptime(p)
	} else {
		l.transition(p, StateStarting, Event{Type: EventStarting, Pid: pid, StartTicks: ticks}, deadline{p.spec.MinUptime, timerStarted})
	}
	return nil
}

func (l *loop) running(p *process) {
	p.failures = 0
	l.transition(p, StateRunning, Event{Type: EventRunning, Pid: p.pid})
}

func (l *loop) fatal(p *process, why string) {
	p.err = why
	var retry []deadline
	if p.spec.FatalRetry > 0 && !l.closing {
		retry = append(retry, deadline{p.spec.FatalRetry, timerFatalRetry})
	}
	l.transition(p, StateFatal, Event{Type: EventFatal, Err: why}, retry...)
}

// failedStart counts a death before MinUptime (or a passing spawn error).
func (l *loop) failedStart(p *process, why string) {
	p.failures++
	if p.failures > p.spec.StartRetries {
		if why == "" {
			why = "exited too quickly"
		}
		l.fatal(p, fmt.Sprintf("%s (%d failed starts in a row)", why, p.failures))
		return
	}
	l.backoff(p, p.spec.Backoff.delay(p.failures), why)
}

func (l *loop) backoff(p *process, d time.Duration, why string) {
	l.transition(p, StateBackoff, Event{Type: EventBackoff, Delay: d, Err: why}, deadline{d, timerBackoff})
}

func (l *loop) stop(p *process) error {
	switch p.state {
	case StateStarting, StateRunning:
		if p.pid == 0 {
			l.stopPreStart(p)
			return nil
		}
		l.sendStop(p)
		l.transition(p, StateStopping, Event{Type: EventStopping, Pid: p.pid}, deadline{p.spec.StopTimeout, timerKill})
	case StateBackoff, StateWaiting:
		l.transition(p, StateStopped, Event{Type: EventStopped})
	case StateStopping:
	default:
		return fmt.Errorf("stop %q: %w (state %s)", p.spec.Name, ErrNotRunning, p.state)
	}
	return nil
}

func (l *loop) onTimer(t timer) {
	p := t.p
	switch t.kind {
	case timerStarted:
		if p.state == StateStarting {
			l.upForMinUptime(p)
		}
	case timerBackoff:
		if p.state == StateBackoff {
			l.respawn(p)
		}
	case timerFatalRetry:
		if p.state == StateFatal {
			p.failures, p.crashes = 0, 0
			if len(p.spec.Readiness.Deps) > 0 {
				_ = l.startWithDeps(p) // it may have gone FATAL for a dependency
			} else {
				l.respawn(p)
			}
		}
	case timerKill:
		if p.state == StateStopping && p.pid != 0 {
			l.log.Info("grace period over, killing process group", "program", p.spec.Name, "pid", p.pid)
			killGroup(p.pid)
			l.killCgroup(p)
			// Stay STOPPING until the exit is reaped; keep the timer's
			// generation valid for nothing else.
		}
	default:
		l.onReadyTimer(t)
	}
}

func killGroup(pgid int) {
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err == syscall.ESRCH {
		_ = syscall.Kill(pgid, syscall.SIGKILL)
	}
}

// beforeReap runs for a child that has exited but is not reaped yet: its pid,
// and so its process group id, cannot have been reused. Members of the group
// that outlive their main process are killed here, unless the spec keeps
// them; after the reap the group id could name someone else's group.
func (l *loop) beforeReap(pid int) {
	if _, ok := l.hooks[pid]; ok {
		killGroup(pid) // what the hook left in its group
		return
	}
	p, ok := l.byPid[pid]
	if !ok {
		return
	}
	stopping := p.state == StateStopping || l.closing
	if p.spec.KeepGroup && !(stopping && p.spec.StopAsGroup) {
		return
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		l.log.Warn("cannot kill the process group of an exited process", "program", p.spec.Name, "pgid", pid, "err", err)
	}
	l.killCgroup(p)
}

// exited handles one reaped pid. It is the only place exits enter the state
// machine, so each is seen once.
func (l *loop) exited(pid int, ws syscall.WaitStatus, ru *syscall.Rusage) {
	l.stats.Exits++
	now := l.clock.Now()
	if done, ok := l.oneshots[pid]; ok {
		delete(l.oneshots, pid)
		e := exitInfo(pid, ws, ru)
		e.Ended = now
		done(e)
		return
	}
	if h, ok := l.hooks[pid]; ok {
		delete(l.hooks, pid)
		e := exitInfo(pid, ws, ru)
		e.Ended = now
		l.hookExited(pid, h, e)
		return
	}
	p, ok := l.byPid[pid]
	if !ok {
		l.stats.OrphansReaped++
		e := exitInfo(pid, ws, ru)
		e.Ended = now
		if !l.m.opts.Subreaper && !l.warnedStolen && os.Getpid() != 1 {
			// Not an orphan handed to a subreaper: a child that other code
			// in the process started (os/exec, a library) and will now
			// fail to wait for. Said once, loudly; counted always.
			l.warnedStolen = true
			l.log.Warn("reaped a child the monitor did not start: code elsewhere in this process that waits for its own children (os/exec) will fail with ECHILD; use Monitor.Command there, or BackendPidfd for this monitor",
				"pid", pid, "code", e.Code, "signal", e.Signal)
		} else {
			l.log.Debug("reaped a process the monitor did not start", "pid", pid, "code", e.Code, "signal", e.Signal)
		}
		l.emit(Event{Type: EventOrphanReaped, Pid: pid, Exit: e})
		return
	}
	delete(l.byPid, pid)
	defer l.postStop(p) // after the state change: a restart spawned below runs beside it
	e := exitInfo(pid, ws, ru)
	e.Started, e.Ended = p.started, now
	e.Expected = ws.Exited() && slices.Contains(p.spec.ExitCodes, e.Code)
	p.lastExit = e
	p.pid = 0
	l.exitedRun(p)
	prev := p.state

	if prev == StateStopping || l.closing {
		e.Expected = e.Expected || prev == StateStopping
		l.emit(Event{Type: EventExited, Name: p.spec.Name, Pid: pid, From: prev, State: StateStopped, Exit: e})
		l.transition(p, StateStopped, Event{Type: EventStopped})
		return
	}
	if prev == StateStarting && l.oneshotExit(p, e) {
		return
	}
	if prev == StateStarting {
		// Died before MinUptime: a failed start, whatever the policy.
		next := StateBackoff
		if p.failures+1 > p.spec.StartRetries {
			next = StateFatal
		}
		l.emit(Event{Type: EventExited, Name: p.spec.Name, Pid: pid, From: prev, State: next, Exit: e})
		l.failedStart(p, p.rd.failWhy)
		return
	}
	// RUNNING: the restart policy decides.
	if !l.shouldRestart(p, e) {
		l.transition(p, StateExited, Event{Type: EventExited, Pid: pid, Exit: e})
		return
	}
	p.restarts++
	l.depRestarted(p)
	if now.Sub(p.started) >= p.spec.Backoff.ResetAfter {
		p.crashes = 0
		l.transition(p, StateExited, Event{Type: EventExited, Pid: pid, Exit: e})
		l.respawn(p)
		return
	}
	p.crashes++
	d := p.spec.Backoff.delay(p.crashes)
	l.emit(Event{Type: EventExited, Name: p.spec.Name, Pid: pid, From: prev, State: StateBackoff, Exit: e})
	l.backoff(p, d, "")
}

func (l *loop) shouldRestart(p *process, e *ExitInfo) bool {
	pol := p.spec.Restart
	switch pol.Kind {
	case RestartAlways, RestartUnlessStopped:
		return true
	case RestartUnexpected:
		return !e.Expected
	case RestartOnFailure:
		if e.Expected {
			return false
		}
		if pol.MaxRetries > 0 && p.retries >= pol.MaxRetries {
			return false
		}
		p.retries++
		return true
	}
	return false
}

func (l *loop) shutdown() {
	l.closing = true
	for _, p := range l.procs {
		if p.state.Active() {
			_ = l.stop(p)
		}
	}
}

func (l *loop) killAll() {
	for _, p := range l.procs {
		if p.pid != 0 {
			killGroup(p.pid)
			l.killCgroup(p)
		}
	}
	for pid := range l.oneshots {
		killGroup(pid)
	}
	for pid := range l.hooks {
		killGroup(pid)
	}
}
