package monitor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StateWaiting is the state of a process whose dependencies are not met yet
// (see Readiness.Deps). supervisord has no such state: a supervisord-style
// client should be shown STARTING with a description naming what it waits
// for (ProcessInfo.Ready.WaitingFor).
const StateWaiting State = 5

func init() { stateNames[StateWaiting] = "WAITING" }

// ReadyMode says when a STARTING process counts as ready (RUNNING).
type ReadyMode int

const (
	// ReadyStarted, the zero value, is ready once up for MinUptime.
	ReadyStarted ReadyMode = iota
	// ReadyNotified is ready when Monitor.Notify (or Ready, or SetHealth
	// with healthy) says so for its pid, and up for MinUptime: systemd's
	// READY=1, s6's notification fd, or a first passing health probe.
	ReadyNotified
	// ReadyExited is a one-shot: it stays STARTING while it runs and is
	// completed (EXITED, ProcessInfo.Ready.Completed) when it exits with one
	// of ExitCodes. Any other exit is a failed start; it is never restarted
	// after completing.
	ReadyExited
)

// DepCondition is what a dependency must reach.
type DepCondition int

// Dependency conditions: Compose's service_started, service_healthy,
// service_completed_successfully, and "ready" (RUNNING, which means ready).
const (
	CondReady DepCondition = iota
	CondStarted
	CondHealthy
	CondCompleted
)

var condNames = [...]string{CondReady: "ready", CondStarted: "started", CondHealthy: "healthy", CondCompleted: "completed"}

func (c DepCondition) String() string {
	if c >= 0 && int(c) < len(condNames) {
		return condNames[c]
	}
	return "DepCondition(" + strconv.Itoa(int(c)) + ")"
}

// ParseDepCondition reads "ready", "started", "healthy" or "completed".
func ParseDepCondition(s string) (DepCondition, error) {
	for c, n := range condNames {
		if n == s {
			return DepCondition(c), nil
		}
	}
	return 0, fmt.Errorf("unknown dependency condition %q (want started, ready, healthy or completed)", s)
}

// DepKind says what a dependency's failure does to the dependant.
type DepKind int

const (
	// Requires: wait for the condition; fail (FATAL) if the dependency
	// fails. Starting the dependant starts the dependency.
	Requires DepKind = iota
	// Wants: wait for the condition; start anyway if the dependency fails.
	// Starting the dependant starts the dependency.
	Wants
	// After orders only: wait while the dependency is on its way up
	// (WAITING, STARTING, BACKOFF); never start it, never fail because of it.
	After
)

// Dep is one dependency of a process on another process of the monitor.
type Dep struct {
	Name string
	Cond DepCondition
	Kind DepKind
}

func (d Dep) String() string { return d.Name + ":" + d.Cond.String() }

// DepAction is what happens to a running dependant when a Requires or Wants
// dependency exits and is restarted by its policy.
type DepAction int

const (
	// DepNone leaves the dependant alone (the default, as an automatic
	// restart of a systemd Requires= unit does).
	DepNone DepAction = iota
	// DepRestart stops the dependant and starts it again; it then waits
	// for the dependency's condition again.
	DepRestart
	// DepStop stops the dependant.
	DepStop
)

// Readiness holds the readiness, watchdog and dependency settings of a Spec.
// The zero value is today's behaviour: ready after MinUptime, no watchdog,
// no dependencies.
type Readiness struct {
	Mode ReadyMode
	// Timeout, when positive, kills (SIGKILL to the group) a process still
	// STARTING after this long; its death is a failed start (StartRetries,
	// then FATAL). Notify's ExtendTimeout pushes it back.
	Timeout time.Duration
	// Watchdog, when positive, expects a Notify with Watchdog at least this
	// often once spawned; a miss sends SIGABRT to the process (then SIGKILL
	// to the group after StopTimeout) and its exit goes to the restart
	// policy.
	Watchdog time.Duration
	// NotifyAll accepts notifications from any process of the process's
	// group, not only from its main pid (systemd's NotifyAccess=all).
	NotifyAll bool
	// Deps must hold before the process is spawned; until then it is
	// WAITING.
	Deps []Dep
	// OnDepRestart is what happens to the process when a Requires or Wants
	// dependency restarts.
	OnDepRestart DepAction
	// NotifyFD, when >= 3, is the descriptor number at which each process
	// gets the file NotifyFile returns (s6's notification-fd). NotifyFile
	// is called on the loop before each spawn; the monitor closes its copy
	// once the spawn is done, so the descriptor lives only in the child.
	// Such a spec is never spawned through the spawn helper.
	NotifyFD   int
	NotifyFile func() (*os.File, error)
}

func readyFile(s *Spec) (*os.File, error) {
	r := s.Readiness
	if r.NotifyFD < 3 || r.NotifyFile == nil {
		return nil, nil
	}
	f, err := r.NotifyFile()
	if err != nil {
		return nil, fmt.Errorf("notification fd %d: %w", r.NotifyFD, err)
	}
	return f, nil
}

// ReadyInfo is the readiness part of a ProcessInfo.
type ReadyInfo struct {
	// Ready: the current pid was declared ready (notify modes).
	Ready bool
	// Healthy: the last SetHealth for the current pid said healthy.
	Healthy bool
	// Completed: a one-shot that exited with an expected code.
	Completed bool
	// Status is the last STATUS= text the process sent.
	Status string
	// MainPid is the last MAINPID= the process sent (0: none).
	MainPid int
	// WaitingFor names the dependencies a WAITING process waits for, as
	// "db:ready, migrate:completed".
	WaitingFor string
}

// Notice is one notification from a process (see Monitor.Notify). The
// fields mirror sd_notify(3)'s assignments.
type Notice struct {
	Ready            bool          // READY=1
	Status           *string       // STATUS=...
	MainPid          int           // MAINPID=...
	Watchdog         bool          // WATCHDOG=1
	WatchdogTrigger  bool          // WATCHDOG=trigger
	WatchdogInterval time.Duration // WATCHDOG_USEC=... (0: unchanged)
	ExtendTimeout    time.Duration // EXTEND_TIMEOUT_USEC=... (0: none)
	Reloading        bool          // RELOADING=1
	Stopping         bool          // STOPPING=1
}

// readyState is the loop's readiness record of a process.
type readyState struct {
	ready, healthy, upLong bool
	completed, failedRun   bool
	restartPending         bool // DepRestart: start again once stopped
	status                 string
	mainPid                int
	waitingFor             string
	failWhy                string // why the loop killed it (ready timeout, watchdog)
	wdDur                  time.Duration
	wdGen, toGen           uint64 // generations of the watchdog and ready-timeout timers
}

// Timers whose generation is their own, not the process's state generation:
// a watchdog survives STARTING -> RUNNING, and a ready timeout can be pushed
// back.
const (
	timerReadyTimeout timerKind = 100 + iota
	timerWatchdog
	timerWatchdogKill
)

func (t timer) current() bool {
	switch t.kind {
	case timerReadyTimeout:
		return t.aux == t.p.rd.toGen
	case timerWatchdog, timerWatchdogKill:
		return t.aux == t.p.rd.wdGen
	}
	return t.gen == t.p.gen
}

func (l *loop) afterAux(p *process, d time.Duration, k timerKind, aux uint64) {
	l.timers.add(timer{at: l.clock.Now().Add(d), kind: k, p: p, gen: p.gen, aux: aux})
	l.armTimer()
}

// armReadiness sets up a new pid's readiness: called by spawned as the
// process becomes STARTING. MinUptime's own timer is spawned's.
func (l *loop) armReadiness(p *process) {
	p.rd.ready, p.rd.healthy, p.rd.upLong = false, false, false
	p.rd.completed, p.rd.failedRun, p.rd.failWhy = false, false, ""
	p.rd.status, p.rd.mainPid = "", 0
	p.rd.toGen++
	p.rd.wdGen++
	r := p.spec.Readiness
	if r.Timeout > 0 && r.Mode != ReadyStarted {
		l.afterAux(p, r.Timeout, timerReadyTimeout, p.rd.toGen)
	}
	p.rd.wdDur = r.Watchdog
	if r.Watchdog > 0 {
		l.afterAux(p, r.Watchdog, timerWatchdog, p.rd.wdGen)
	}
}

// upForMinUptime: the process stayed up for MinUptime. It is RUNNING now if
// ready, otherwise once ready.
func (l *loop) upForMinUptime(p *process) {
	p.rd.upLong = true
	if p.spec.Readiness.Mode == ReadyStarted || p.rd.ready {
		l.running(p)
	}
}

// exitedRun clears the timers of a pid that is gone.
func (l *loop) exitedRun(p *process) {
	p.rd.wdGen++
	p.rd.toGen++
}

// oneshotExit handles the exit of a STARTING one-shot. It returns false when
// the exit is a failed start for exited() to handle as any other.
func (l *loop) oneshotExit(p *process, e *ExitInfo) bool {
	if p.spec.Readiness.Mode != ReadyExited {
		return false
	}
	if !e.Expected {
		p.rd.failedRun = true
		return false
	}
	p.rd.completed = true
	l.transition(p, StateExited, Event{Type: EventExited, Pid: e.Pid, Exit: e})
	return true
}

func (l *loop) onReadyTimer(t timer) {
	p := t.p
	switch t.kind {
	case timerReadyTimeout:
		if p.state == StateStarting && p.pid != 0 {
			p.rd.failWhy = fmt.Sprintf("not ready within %v", p.spec.Readiness.Timeout)
			l.log.Warn("not ready in time, killing process group", "program", p.spec.Name, "pid", p.pid)
			killGroup(p.pid)
		}
	case timerWatchdog:
		if (p.state == StateStarting || p.state == StateRunning) && p.pid != 0 {
			p.rd.failWhy = "watchdog timeout"
			l.log.Warn("watchdog timeout, sending SIGABRT", "program", p.spec.Name, "pid", p.pid)
			_ = syscall.Kill(p.pid, syscall.SIGABRT)
			l.afterAux(p, p.spec.StopTimeout, timerWatchdogKill, p.rd.wdGen)
		}
	case timerWatchdogKill:
		if p.pid != 0 {
			killGroup(p.pid)
		}
	}
}

// Ready declares the process's current pid ready: a STARTING process goes
// RUNNING (once up for MinUptime). It is the entry point of readiness
// sources other than notifications, such as a first passing health probe.
// It fails when pid is not the process's current pid.
func (m *Monitor) Ready(name string, pid int) error {
	return m.Notify(name, pid, Notice{Ready: true})
}

// SetHealth records the health of the process's current pid. Dependants
// waiting for name:healthy are re-examined; a healthy result also declares
// a process with Readiness.Mode ReadyNotified ready.
func (m *Monitor) SetHealth(name string, pid int, healthy bool) error {
	return m.call(func(l *loop) error {
		p, err := l.pidOf(name, pid)
		if err != nil {
			return err
		}
		if p.rd.healthy == healthy {
			return nil
		}
		p.rd.healthy = healthy
		if healthy && p.spec.Readiness.Mode == ReadyNotified {
			l.declareReady(p)
		}
		l.depsChanged(p)
		return nil
	})
}

// Notify applies one notification from the process's current pid.
func (m *Monitor) Notify(name string, pid int, n Notice) error {
	return m.call(func(l *loop) error {
		p, err := l.pidOf(name, pid)
		if err != nil {
			return err
		}
		l.notify(p, n)
		return nil
	})
}

// NotifyFrom applies a notification from sender, a pid the caller knows
// from the message's credentials, and returns the process it was for. The
// sender must be a process's main pid (or the MAINPID it announced), or,
// with Readiness.NotifyAll, any process of its process group (pgid).
func (m *Monitor) NotifyFrom(sender, pgid int, n Notice) (string, error) {
	var name string
	err := m.call(func(l *loop) error {
		p, ok := l.byPid[sender]
		if !ok {
			if q, ok := l.byPid[pgid]; ok && (q.spec.Readiness.NotifyAll || q.rd.mainPid == sender) {
				p = q
			}
		}
		if p == nil {
			return fmt.Errorf("notification from pid %d: %w", sender, ErrNotFound)
		}
		name = p.spec.Name
		l.notify(p, n)
		return nil
	})
	return name, err
}

func (l *loop) pidOf(name string, pid int) (*process, error) {
	p, err := l.get(name)
	if err != nil {
		return nil, err
	}
	if p.pid == 0 || p.pid != pid {
		return nil, fmt.Errorf("%q: pid %d is not its current pid (%d): %w", name, pid, p.pid, ErrNotRunning)
	}
	return p, nil
}

func (l *loop) notify(p *process, n Notice) {
	if n.Status != nil {
		p.rd.status = *n.Status
	}
	if n.MainPid > 0 {
		p.rd.mainPid = n.MainPid
	}
	for _, note := range []struct {
		on   bool
		word string
	}{{n.Reloading, "reloading"}, {n.Stopping, "stopping"}} {
		if note.on && !strings.HasPrefix(p.rd.status, note.word) {
			p.rd.status = strings.TrimSpace(note.word + " " + p.rd.status)
		}
	}
	if n.WatchdogInterval > 0 {
		p.rd.wdDur = n.WatchdogInterval
		n.Watchdog = true
	}
	if n.Watchdog && p.rd.wdDur > 0 {
		p.rd.wdGen++
		l.afterAux(p, p.rd.wdDur, timerWatchdog, p.rd.wdGen)
	}
	if n.WatchdogTrigger {
		p.rd.wdGen++
		l.afterAux(p, 0, timerWatchdog, p.rd.wdGen)
	}
	if n.ExtendTimeout > 0 && p.state == StateStarting && p.spec.Readiness.Timeout > 0 {
		p.rd.toGen++
		l.afterAux(p, n.ExtendTimeout, timerReadyTimeout, p.rd.toGen)
	}
	if n.Status != nil || n.Reloading || n.Stopping {
		l.emit(Event{Type: EventStatus, Name: p.spec.Name, Pid: p.pid, From: p.state, State: p.state, Err: p.rd.status})
	}
	if n.Ready {
		l.declareReady(p)
	}
}

func (l *loop) declareReady(p *process) {
	if p.spec.Readiness.Mode != ReadyNotified || p.rd.ready {
		return
	}
	p.rd.ready = true
	if p.state == StateStarting && p.rd.upLong {
		l.running(p)
	}
}

func (p *process) readyInfo() ReadyInfo {
	return ReadyInfo{
		Ready: p.rd.ready, Healthy: p.rd.healthy, Completed: p.rd.completed,
		Status: p.rd.status, MainPid: p.rd.mainPid, WaitingFor: p.rd.waitingFor,
	}
}
