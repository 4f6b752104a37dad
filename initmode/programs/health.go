package programs

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral/api"
	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/health"
	"github.com/corralhq/corral/monitor"
)

// initHealth runs the health checks of --config mode and, with
// health_listen, serves /livez and /readyz. The checker acts on
// on_unhealthy itself; shutdown is handed to init's loop through
// shutdown, closed once.
type initHealth struct {
	m        *monitor.Monitor
	log      *slog.Logger
	checker  *health.Checker
	actions  map[string]config.OnUnhealthy
	shutdown chan struct{}
	once     sync.Once
	stopping atomic.Bool
	srv      *http.Server
	wg       sync.WaitGroup // on_unhealthy restarts under way
	// restarts counts, by process, the on_unhealthy restarts under way: a
	// process stopped for one must not look ended to init (Restarting).
	restarts sync.Map // name -> *atomic.Int32
}

// Restarting reports whether an on_unhealthy restart of name is under way:
// its stop is not an end.
func (h *initHealth) Restarting(name string) bool {
	n, ok := h.restarts.Load(name)
	return ok && n.(*atomic.Int32).Load() > 0
}

// startHealth sets up the checks of procs and the health listener. It
// returns a usable value even with no check and no listener.
func startHealth(cfg *config.Config, m *monitor.Monitor, procs []proc, log *slog.Logger) (*initHealth, error) {
	h := &initHealth{m: m, log: log, actions: map[string]config.OnUnhealthy{}, shutdown: make(chan struct{})}
	h.checker = health.New(health.Options{Monitor: m, Logger: log, OnChange: h.onChange})
	for _, p := range procs {
		if hc := p.health; hc != nil {
			h.actions[p.spec.Name] = hc.OnUnhealthy
			h.checker.Set(p.spec.Name, probe(hc, p.spec))
		}
	}
	if addr := cfg.Daemon.HealthListen; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			h.checker.Close()
			return nil, fmt.Errorf("health_listen %q: %w", addr, err)
		}
		h.srv = &http.Server{Handler: api.ServeHealthz(h), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
		go func() { _ = h.srv.Serve(ln) }()
		log.Info("serving /livez and /readyz (health_listen)", "addr", ln.Addr().String())
	}
	return h, nil
}

// probe is a program's check as a health.Probe; an exec probe runs with
// the program's environment, directory and credentials.
func probe(hc *config.Health, spec monitor.Spec) *health.Probe {
	p := &health.Probe{HTTP: hc.HTTP, TCP: hc.TCP, Interval: hc.Interval, Timeout: hc.Timeout,
		StartPeriod: hc.StartPeriod, StartInterval: hc.StartInterval, Retries: hc.Retries}
	if len(hc.Exec) > 0 {
		p.Exec = &monitor.Spec{Path: hc.Exec[0], Args: hc.Exec, Env: spec.Env, Dir: spec.Dir,
			User: spec.User, Group: spec.Group, Groups: spec.Groups, DropGroups: spec.DropGroups,
			Umask: spec.Umask, Rlimits: spec.Rlimits}
	}
	return p
}

// event follows init's monitor events: a spawn resets health, a stop
// clears it.
func (h *initHealth) event(e monitor.Event) {
	switch e.Type {
	case monitor.EventStarting:
		h.checker.Spawned(e.Name, e.Pid, e.Time)
	case monitor.EventStopping, monitor.EventExited:
		h.checker.Stopped(e.Name)
	}
}

// onChange runs on the checker's goroutine and must not block.
func (h *initHealth) onChange(c health.Change) {
	// Readiness (ready = "healthy", requires = ["NAME:healthy"]) follows
	// the current pid's health, as in the daemon.
	if c.Pid != 0 && (c.To == health.StatusHealthy || c.From == health.StatusHealthy) {
		_ = h.m.SetHealth(c.Name, c.Pid, c.To == health.StatusHealthy)
	}
	if c.To != health.StatusUnhealthy || h.stopping.Load() {
		return
	}
	action := h.actions[c.Name]
	h.log.Warn("process unhealthy", "program", c.Name, "action", string(action),
		"exit_code", c.Last.Code(), "http_status", c.Last.HTTPStatus, "err", c.Last.Err)
	switch action {
	case config.UnhealthyRestart:
		h.wg.Add(1)
		n, _ := h.restarts.LoadOrStore(c.Name, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		go func() {
			defer h.wg.Done()
			defer n.(*atomic.Int32).Add(-1)
			if err := h.m.Restart(context.Background(), c.Name); err != nil {
				h.log.Error("on_unhealthy restart failed", "program", c.Name, "err", err)
			}
		}()
	case config.UnhealthyStop:
		_ = h.m.Stop(c.Name)
	case config.UnhealthyShutdown:
		h.once.Do(func() { close(h.shutdown) })
	}
}

// close stops the checks (before init stops the programs: no action
// during the stop) and the listener.
func (h *initHealth) close() {
	h.stopping.Store(true)
	h.checker.Close()
	h.wg.Wait()
	if h.srv != nil {
		_ = h.srv.Close()
	}
}

// Live is /livez: init has not begun to stop.
func (h *initHealth) Live() bool { return !h.stopping.Load() }

// Ready is /readyz, by the daemon's rule.
func (h *initHealth) Ready() (bool, []api.HealthProcess) {
	list, _, err := h.m.Snapshot()
	if err != nil {
		return false, []api.HealthProcess{}
	}
	all, out := true, make([]api.HealthProcess, 0, len(list))
	for _, info := range list {
		var hsp *health.State
		if hs, ok := h.checker.Get(info.Name); ok {
			hsp = &hs
		}
		p, ready := api.ReadyProcess(info.Name, info.State.String(), info.Pid != 0, hsp)
		all = all && ready
		out = append(out, p)
	}
	return all, out
}
