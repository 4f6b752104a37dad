package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/logs"
	"github.com/corralhq/corral/monitor"
	"github.com/corralhq/corral/store"
)

// ProcessStatus is what clients see of one process.
type ProcessStatus struct {
	Name      string        `json:"name"`
	Group     string        `json:"group"`
	Program   string        `json:"program"`
	State     string        `json:"state"`
	StateCode int           `json:"state_code"`
	Since     time.Time     `json:"since"`
	Pid       int           `json:"pid,omitempty"`
	Started   *time.Time    `json:"started,omitempty"`
	Uptime    time.Duration `json:"uptime_ns,omitempty"`
	Restarts  uint64        `json:"restarts"`
	LastExit  *ExitStatus   `json:"last_exit,omitempty"`
	Error     string        `json:"error,omitempty"`
	LogError  string        `json:"log_error,omitempty"`
	StdoutLog string        `json:"stdout_log,omitempty"`
	StderrLog string        `json:"stderr_log,omitempty"`
	Priority  int           `json:"priority"`
	// StatusText is the process's last STATUS= notification.
	StatusText string `json:"status_text,omitempty"`
	// WaitingFor names the dependencies a WAITING process waits for.
	WaitingFor string `json:"waiting_for,omitempty"`
	// Completed: a one-shot that exited successfully.
	Completed bool `json:"completed,omitempty"`
	// Healthy: the health checks last said the current pid is healthy.
	Healthy bool `json:"healthy,omitempty"`
	// Health is the health status (starting, healthy, unhealthy) of a
	// running process whose program has a health check.
	Health string `json:"health,omitempty"`
}

// ExitStatus is the last exit of a process.
type ExitStatus struct {
	Pid        int           `json:"pid"`
	Code       int           `json:"code"`
	Signal     string        `json:"signal,omitempty"`
	CoreDumped bool          `json:"core_dumped,omitempty"`
	Expected   bool          `json:"expected"`
	UserCPU    time.Duration `json:"user_cpu_ns"`
	SysCPU     time.Duration `json:"sys_cpu_ns"`
	MaxRSS     int64         `json:"max_rss_bytes"`
	Started    time.Time     `json:"started"`
	Ended      time.Time     `json:"ended"`
}

// NewExitStatus converts the monitor's exit facts.
func NewExitStatus(e *monitor.ExitInfo) *ExitStatus {
	if e == nil {
		return nil
	}
	x := &ExitStatus{
		Pid: e.Pid, Code: e.Code, CoreDumped: e.CoreDumped, Expected: e.Expected,
		UserCPU: e.UserCPU, SysCPU: e.SysCPU, MaxRSS: e.MaxRSS, Started: e.Started, Ended: e.Ended,
	}
	if e.Signal != 0 {
		x.Signal = config.SignalName(e.Signal)
	}
	return x
}

func (d *Daemon) status(info monitor.ProcessInfo, pr *proc, now time.Time) ProcessStatus {
	st := ProcessStatus{
		Name: info.Name, Group: pr.program.cfg.Group, Program: pr.program.cfg.Name,
		State: info.State.String(), StateCode: int(info.State), Since: info.Since,
		Pid: info.Pid, Restarts: info.Restarts, LastExit: NewExitStatus(info.LastExit),
		Error: info.Err, LogError: pr.logErr, Priority: pr.priority,
		StatusText: info.Ready.Status, WaitingFor: info.Ready.WaitingFor, Completed: info.Ready.Completed,
		Healthy: info.Ready.Healthy,
	}
	if st.Group == "" {
		st.Group = st.Program
	}
	if hs, ok := d.health.checker.Get(info.Name); ok {
		st.Health = string(hs.Status)
	}
	if !info.Started.IsZero() {
		t := info.Started
		st.Started = &t
		if info.Pid != 0 {
			st.Uptime = now.Sub(t)
		}
	}
	if pr.stdout != nil {
		st.StdoutLog = pr.stdout.Path()
	}
	if pr.stderr != nil {
		st.StderrLog = pr.stderr.Path()
	} else {
		st.StderrLog = st.StdoutLog
	}
	return st
}

// Status returns the processes named by targets (all when empty), sorted by
// name.
func (d *Daemon) Status(targets ...string) ([]ProcessStatus, error) {
	infos, _, err := d.mon.Snapshot()
	if err != nil {
		return nil, err
	}
	var want map[string]bool
	if len(targets) > 0 {
		names, err := d.Resolve(targets)
		if err != nil {
			return nil, err
		}
		want = map[string]bool{}
		for _, n := range names {
			want[n] = true
		}
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]ProcessStatus, 0, len(infos))
	for _, info := range infos {
		pr, ok := d.procs[info.Name]
		if !ok || (want != nil && !want[info.Name]) {
			continue
		}
		out = append(out, d.status(info, pr, now))
	}
	return out, nil
}

// Resolve turns targets into process names, in priority order. A target is
// "all", "GROUP:*", a process's full name, a group name or a program name.
func (d *Daemon) Resolve(targets []string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := map[string]bool{}
	for _, t := range targets {
		matched := false
		for _, pr := range d.procs {
			if d.matches(pr, t) {
				seen[pr.name] = true
				matched = true
			}
		}
		if !matched {
			return nil, fmt.Errorf("%w: %q", ErrNoSuchProcess, t)
		}
	}
	var out []string
	for _, pr := range d.sortedProcs(false) {
		if seen[pr.name] {
			out = append(out, pr.name)
		}
	}
	return out, nil
}

func (d *Daemon) matches(pr *proc, t string) bool {
	group := pr.program.cfg.Group
	if group == "" {
		group = pr.program.cfg.Name
	}
	switch {
	case t == "all" || t == "*":
		return true
	case strings.HasSuffix(t, ":*"):
		return group == strings.TrimSuffix(t, ":*")
	case pr.name == t:
		return true
	case strings.Contains(t, ":"):
		// "group:process" for a process whose full name omits its group.
		g, n, _ := strings.Cut(t, ":")
		return g == group && strings.TrimPrefix(pr.name, group+":") == n
	}
	return group == t || pr.program.cfg.Name == t
}

// Result is the outcome of an action on one process.
type Result struct {
	Name  string `json:"name"`
	Error string `json:"error,omitempty"`
	// Code classifies Error for the XML-RPC layer: "not_running",
	// "already_started", "spawn_error", "abnormal_termination", "failed".
	Code string `json:"code,omitempty"`
}

// ErrActionFailed is returned (wrapped) when an action failed for some of
// its targets; the results say which.
var ErrActionFailed = errors.New("failed")

func summarize(results []Result) error {
	var bad []string
	for _, r := range results {
		if r.Error != "" {
			bad = append(bad, r.Name+": "+r.Error)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrActionFailed, strings.Join(bad, "; "))
}

func resultFor(name string, err error) Result {
	r := Result{Name: name}
	if err == nil {
		return r
	}
	r.Error = err.Error()
	var se *monitor.StartError
	switch {
	case errors.Is(err, monitor.ErrNotRunning):
		r.Code = "not_running"
	case errors.Is(err, monitor.ErrAlreadyStarted):
		r.Code = "already_started"
	case errors.As(err, &se) && se.Spawn:
		r.Code = "spawn_error"
	case errors.As(err, &se):
		r.Code = "abnormal_termination"
	default:
		r.Code = "failed"
	}
	return r
}

// StartProcesses starts the targets in priority order. With wait it returns
// once each is RUNNING or has failed to start. A user's start is remembered
// across daemon restarts where the program keeps it (see keepsDesired).
func (d *Daemon) StartProcesses(ctx context.Context, targets []string, wait bool) ([]Result, error) {
	names, err := d.Resolve(targets)
	if err != nil {
		return nil, err
	}
	saveErr := d.remember(names, store.Started)
	results, err := d.startNames(ctx, names, wait)
	return results, notSaved(saveErr, err, "start")
}

func (d *Daemon) startNames(ctx context.Context, names []string, wait bool) ([]Result, error) {
	var sub *monitor.Subscription
	if wait {
		var err error
		if sub, err = d.mon.Subscribe(4*len(names) + 64); err != nil {
			return nil, err
		}
		defer sub.Close()
	}
	results := make([]Result, len(names))
	pending := map[string]int{}
	for i, err := range d.mon.StartEach(names) {
		n := names[i]
		results[i] = resultFor(n, err)
		if err == nil && wait {
			pending[n] = i
		}
	}
	if wait {
		d.await(ctx, sub, pending, func(e monitor.Event) (bool, error) {
			switch e.State {
			case monitor.StateRunning:
				return true, nil
			case monitor.StateStarting, monitor.StateWaiting:
				return false, nil
			}
			return true, &monitor.StartError{Name: e.Name, State: e.State, Err: e.Err}
		}, results)
	}
	return results, summarize(results)
}

// await consumes events until every pending process is done by done's
// judgement; on a missed-events marker it re-reads the processes' state.
func (d *Daemon) await(ctx context.Context, sub *monitor.Subscription, pending map[string]int, done func(monitor.Event) (bool, error), results []Result) {
	for len(pending) > 0 {
		e, err := sub.Next(ctx)
		if err != nil {
			for n, i := range pending {
				results[i] = resultFor(n, fmt.Errorf("waiting: %w", err))
			}
			return
		}
		if e.Type == monitor.EventMissed {
			for n, i := range pending {
				info, err := d.mon.Process(n)
				if err != nil {
					results[i] = resultFor(n, err)
					delete(pending, n)
					continue
				}
				if ok, err := done(monitor.Event{Name: n, State: info.State, Err: info.Err}); ok {
					results[i] = resultFor(n, err)
					delete(pending, n)
				}
			}
			continue
		}
		i, ok := pending[e.Name]
		if !ok || e.Type == monitor.EventExited {
			continue // the state change that follows an exit decides
		}
		if fin, err := done(e); fin {
			results[i] = resultFor(e.Name, err)
			delete(pending, e.Name)
		}
	}
}

// StopProcesses stops the targets, highest priority first. With wait it
// returns once each is stopped. A user's stop is remembered across daemon
// restarts where the program keeps it (see keepsDesired).
func (d *Daemon) StopProcesses(ctx context.Context, targets []string, wait bool) ([]Result, error) {
	names, err := d.Resolve(targets)
	if err != nil {
		return nil, err
	}
	slices.Reverse(names)
	saveErr := d.remember(names, store.Stopped)
	results, err := d.stopWait(ctx, names, !wait)
	return results, notSaved(saveErr, err, "stop")
}

func (d *Daemon) stopWait(ctx context.Context, names []string, noWait bool) ([]Result, error) {
	var sub *monitor.Subscription
	if !noWait {
		var err error
		if sub, err = d.mon.Subscribe(4*len(names) + 64); err != nil {
			return nil, err
		}
		defer sub.Close()
	}
	results := make([]Result, len(names))
	pending := map[string]int{}
	for i, n := range names {
		err := d.mon.Stop(n)
		results[i] = resultFor(n, err)
		if err == nil && !noWait {
			info, _ := d.mon.Process(n)
			if info.State.Active() {
				pending[n] = i
			}
		}
	}
	if !noWait {
		d.await(ctx, sub, pending, func(e monitor.Event) (bool, error) {
			return !e.State.Active(), nil
		}, results)
	}
	return results, summarize(results)
}

// RestartProcesses stops the targets that run, waits, and starts them all.
// Once called it completes: a caller that goes away (ctx done) during the
// stop does not leave the processes stopped; ctx only bounds the wait for
// RUNNING.
func (d *Daemon) RestartProcesses(ctx context.Context, targets []string, wait bool) ([]Result, error) {
	names, err := d.Resolve(targets)
	if err != nil {
		return nil, err
	}
	rev := slices.Clone(names)
	slices.Reverse(rev)
	stopRes, _ := d.stopWait(context.WithoutCancel(ctx), rev, false)
	for _, r := range stopRes {
		if r.Error != "" && r.Code != "not_running" {
			return stopRes, summarize(stopRes)
		}
	}
	saveErr := d.remember(names, store.Started)
	results, err := d.startNames(ctx, names, wait)
	return results, notSaved(saveErr, err, "restart")
}

// SignalProcesses sends sig to each target's process.
func (d *Daemon) SignalProcesses(targets []string, sig syscall.Signal) ([]Result, error) {
	names, err := d.Resolve(targets)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(names))
	for i, n := range names {
		results[i] = resultFor(n, d.mon.Signal(n, sig))
	}
	return results, summarize(results)
}

// remember records, in one transaction, the desired state a user gave the
// processes names, for those whose program keeps it across daemon restarts
// (keepsDesired); for the others the configuration file decides at the next
// start, so there is nothing to record.
func (d *Daemon) remember(names []string, want store.Desired) error {
	batch := make(map[string]store.Desired, len(names))
	d.mu.Lock()
	for _, n := range names {
		if pr := d.procs[n]; pr != nil && keepsDesired(pr.program) {
			batch[n] = want
		}
	}
	d.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := d.store.SetDesiredBatch(batch); err != nil {
		d.log.Error("state: cannot record desired state", "processes", names, "desired", want, "err", err)
		return fmt.Errorf("%w: desired state %s of %s: %v", ErrNotSaved, want, strings.Join(names, ", "), err)
	}
	return nil
}

// notSaved is the error of an action that went ahead although its desired
// state could not be saved (a stop is not refused because the disk is
// full): the caller must hear that a daemon restart will not remember it.
func notSaved(saveErr, actionErr error, verb string) error {
	if saveErr == nil {
		return actionErr
	}
	msg := "the " + verb + " went ahead, but a daemon restart will not remember it"
	if actionErr != nil {
		msg += "; and it failed: " + actionErr.Error()
	}
	return fmt.Errorf("%w (%s)", saveErr, msg)
}

// Streams returns a process's stdout and stderr streams (stderr is stdout's
// when redirected).
func (d *Daemon) Streams(name string) (stdout, stderr *logs.Stream, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	pr, ok := d.procs[name]
	if !ok {
		names := []string{}
		for _, p := range d.procs {
			if d.matches(p, name) && !strings.HasSuffix(name, ":*") && name != "all" {
				names = append(names, p.name)
			}
		}
		if len(names) != 1 {
			return nil, nil, fmt.Errorf("%w: %q", ErrNoSuchProcess, name)
		}
		pr = d.procs[names[0]]
	}
	stdout, stderr = pr.stdout, pr.stderr
	if stderr == nil {
		stderr = stdout
	}
	return stdout, stderr, nil
}

// Info describes the daemon.
type Info struct {
	Version    string         `json:"version"`
	Pid        int            `json:"pid"`
	Started    time.Time      `json:"started"`
	Uptime     time.Duration  `json:"uptime_ns"`
	Config     string         `json:"config"`
	Programs   int            `json:"programs"`
	Processes  int            `json:"processes"`
	States     map[string]int `json:"states"`
	Orphans    uint64         `json:"orphans_reaped"`
	Overflows  uint64         `json:"subscriber_overflows"`
	Goroutines int            `json:"goroutines"`
	Threads    int            `json:"threads"`
}

// Info returns the daemon's description and counts.
func (d *Daemon) Info() (Info, error) {
	infos, _, err := d.mon.Snapshot()
	if err != nil {
		return Info{}, err
	}
	st, _ := d.mon.Stats()
	in := Info{
		Version: Version, Pid: pidSelf(), Started: d.started, Uptime: time.Since(d.started),
		Processes: len(infos), States: map[string]int{}, Orphans: st.OrphansReaped,
		Overflows: st.SubscriberOverflows, Goroutines: goroutines(), Threads: threadCount(),
	}
	for _, i := range infos {
		in.States[i.State.String()]++
	}
	d.mu.Lock()
	in.Programs = len(d.programs)
	in.Config = d.cfg.File
	d.mu.Unlock()
	return in, nil
}
