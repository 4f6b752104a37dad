package daemon

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/health"
	"github.com/corralhq/corral/monitor"
)

// healthState is the daemon's side of the health checks: the checker, and
// the functions called at every health change.
type healthState struct {
	checker *health.Checker
	mu      sync.Mutex
	hooks   []func(health.Change)
	subs    map[*HealthEvents]struct{}
	// probed names the processes that have a check: the checker is told
	// of the spawns and stops of those only (it has nothing to do with the
	// others', and a message wakes it).
	probed map[string]bool
}

// hasProbe reports whether the process name has a check.
func (d *Daemon) hasProbe(name string) bool {
	d.health.mu.Lock()
	defer d.health.mu.Unlock()
	return d.health.probed[name]
}

func (d *Daemon) startHealth(opts Options) {
	d.health.checker = health.New(health.Options{
		Monitor: d.mon, Workers: opts.HealthWorkers, Logger: d.log, OnChange: d.onHealthChange,
	})
	d.metrics.registry.MustRegister(healthCollector{d})
}

// OnHealthChange adds f to the functions called at every change of a
// process's health status, in order, on the health checker's goroutine: f
// must not block (hand the change to another goroutine) and must not wait
// for the daemon. A Change to StatusStarting means a new process whose
// health is not known yet; to StatusHealthy, its first (or a new) passing
// probe; to StatusNone, no process. This is the hook for what waits on
// health (requires = ["db:healthy"], ready = "healthy"); Health gives the
// current status without waiting.
func (d *Daemon) OnHealthChange(f func(health.Change)) {
	d.health.mu.Lock()
	d.health.hooks = append(d.health.hooks, f)
	d.health.mu.Unlock()
}

// Health returns a process's health, and false when it has no check.
// It reads a published snapshot and never waits for the monitor's loop.
func (d *Daemon) Health(name string) (health.State, bool) {
	return d.health.checker.Get(name)
}

// HealthSnapshot returns the health of every process that has a check,
// without waiting for the monitor's loop or the checker.
func (d *Daemon) HealthSnapshot() map[string]health.State {
	return d.health.checker.Snapshot()
}

// setHealth gives a process the check of its program (or none). Caller
// holds d.mu.
func (d *Daemon) setHealth(name string, h *config.Health, spec monitor.Spec) {
	d.health.mu.Lock()
	had := d.health.probed[name]
	if h == nil {
		delete(d.health.probed, name)
	} else {
		if d.health.probed == nil {
			d.health.probed = map[string]bool{}
		}
		d.health.probed[name] = true
	}
	d.health.mu.Unlock()
	if h == nil {
		if had {
			d.health.checker.Set(name, nil)
		}
		return
	}
	p := &health.Probe{
		HTTP: h.HTTP, TCP: h.TCP,
		Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod,
		StartInterval: h.StartInterval, Retries: h.Retries,
	}
	if len(h.Exec) > 0 {
		// The program's environment, directory and credentials; nothing of
		// its restart policy or output.
		p.Exec = &monitor.Spec{
			Path: h.Exec[0], Args: h.Exec, Env: spec.Env, ExtraEnv: spec.ExtraEnv, Dir: spec.Dir,
			User: spec.User, Group: spec.Group, Groups: spec.Groups, DropGroups: spec.DropGroups,
			Umask: spec.Umask, Rlimits: spec.Rlimits,
		}
	}
	d.health.checker.Set(name, p)
}

// healthEvent follows the monitor's events: a spawn resets health to
// starting, and a process that stops (or starts stopping) has none, so a
// probe failing during a stop never triggers on_unhealthy.
func (d *Daemon) healthEvent(e monitor.Event) {
	if !d.hasProbe(e.Name) {
		return
	}
	switch e.Type {
	case monitor.EventStarting:
		d.health.checker.Spawned(e.Name, e.Pid, e.Time)
	case monitor.EventStopping, monitor.EventExited:
		d.health.checker.Stopped(e.Name)
	}
}

func (d *Daemon) onHealthChange(c health.Change) {
	d.health.mu.Lock()
	hooks := d.health.hooks
	d.health.mu.Unlock()
	for _, f := range hooks {
		f(c)
	}
	// Readiness: ready = "healthy" and requires = ["NAME:healthy"] follow
	// the current pid's health (a late change of an older pid is refused).
	if c.Pid != 0 && (c.To == health.StatusHealthy || c.From == health.StatusHealthy) {
		_ = d.HealthChanged(c.Name, c.Pid, c.To == health.StatusHealthy)
	}
	d.publishHealth(c)
	if c.To != health.StatusUnhealthy {
		if c.To == health.StatusHealthy || c.From == health.StatusUnhealthy {
			d.log.Info("health", "program", c.Name, "from", string(c.From), "to", string(c.To))
		}
		return
	}
	d.mu.Lock()
	var action config.OnUnhealthy
	if pr := d.procs[c.Name]; pr != nil && pr.program.cfg.Health != nil {
		action = pr.program.cfg.Health.OnUnhealthy
	}
	d.mu.Unlock()
	d.log.Warn("process unhealthy", "program", c.Name, "action", string(action),
		"exit_code", c.Last.Code(), "http_status", c.Last.HTTPStatus, "err", c.Last.Err, "output", c.Last.Output)
	switch action {
	case config.UnhealthyRestart:
		// Not on the checker's goroutine: a restart waits for the stop.
		go func() {
			if _, err := d.RestartProcesses(context.Background(), []string{c.Name}, false); err != nil {
				d.log.Error("on_unhealthy restart failed", "program", c.Name, "err", err)
			}
		}()
	case config.UnhealthyStop:
		if err := d.mon.Stop(c.Name); err != nil {
			d.log.Error("on_unhealthy stop failed", "program", c.Name, "err", err)
		}
	case config.UnhealthyShutdown:
		d.RequestShutdown()
	}
}

var (
	descHealth = prometheus.NewDesc("corral_process_health", "1 for the health status of the process (starting, healthy, unhealthy); processes without a check or not running are absent.", []string{"process", "status"}, nil)
	descProbes = prometheus.NewDesc("corral_health_probes_total", "Health probes completed.", nil, nil)
	descFailed = prometheus.NewDesc("corral_health_probe_failures_total", "Health probes that failed.", nil, nil)
)

type healthCollector struct{ d *Daemon }

func (h healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descHealth
	ch <- descProbes
	ch <- descFailed
}

func (h healthCollector) Collect(ch chan<- prometheus.Metric) {
	for name, st := range h.d.health.checker.Snapshot() {
		if st.Status == health.StatusNone {
			continue
		}
		for _, s := range []health.Status{health.StatusStarting, health.StatusHealthy, health.StatusUnhealthy} {
			v := 0.0
			if st.Status == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descHealth, prometheus.GaugeValue, v, name, string(s))
		}
	}
	ch <- prometheus.MustNewConstMetric(descProbes, prometheus.CounterValue, float64(h.d.health.checker.Probes()))
	ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(h.d.health.checker.Failures()))
}

// healthResync follows a re-listing after missed events: a running process
// may be a new one whose spawn was missed, so its health starts over.
func (d *Daemon) healthResync(infos []monitor.ProcessInfo) {
	for _, i := range infos {
		if !d.hasProbe(i.Name) {
			continue
		}
		if i.State == monitor.StateStarting || i.State == monitor.StateRunning {
			d.health.checker.Spawned(i.Name, i.Pid, i.Started)
		} else {
			d.health.checker.Stopped(i.Name)
		}
	}
}

// HealthEvents is a subscription to health changes (SubscribeHealth).
type HealthEvents struct {
	C      <-chan health.Change
	ch     chan health.Change
	missed atomic.Uint64
	d      *Daemon
}

// Missed returns, and resets, the number of changes dropped because the
// subscriber's queue was full: the subscriber should then re-read health
// (HealthSnapshot).
func (s *HealthEvents) Missed() uint64 { return s.missed.Swap(0) }

// Close ends the subscription.
func (s *HealthEvents) Close() {
	s.d.health.mu.Lock()
	delete(s.d.health.subs, s)
	s.d.health.mu.Unlock()
}

// SubscribeHealth returns a subscription to health changes with a queue of
// queue changes; the checker never waits for it: a change that finds the
// queue full is counted in Missed instead.
func (d *Daemon) SubscribeHealth(queue int) *HealthEvents {
	ch := make(chan health.Change, queue)
	s := &HealthEvents{C: ch, ch: ch, d: d}
	d.health.mu.Lock()
	if d.health.subs == nil {
		d.health.subs = map[*HealthEvents]struct{}{}
	}
	d.health.subs[s] = struct{}{}
	d.health.mu.Unlock()
	return s
}

func (d *Daemon) publishHealth(c health.Change) {
	d.health.mu.Lock()
	defer d.health.mu.Unlock()
	for s := range d.health.subs {
		select {
		case s.ch <- c:
		default:
			s.missed.Add(1)
		}
	}
}
