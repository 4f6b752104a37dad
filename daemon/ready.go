package daemon

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/monitor"
)

// readiness fills spec's readiness, dependencies and notification
// environment from the program's configuration. Caller holds d.mu.
func (d *Daemon) readiness(prog config.Program, spec *monitor.Spec) {
	ApplyReadiness(prog, spec, d.processNamesOf, d.notifier)
}

// ApplyReadiness maps a program's readiness, watchdog and dependency keys
// onto spec (a Spec of one of its processes): processNames gives the
// process names of a program a dependency names, and n, when not nil,
// is the notification socket that NOTIFY_SOCKET and ready = "fd:N" use.
func ApplyReadiness(prog config.Program, spec *monitor.Spec, processNames func(program string) []string, n *Notifier) {
	r := prog.Readiness
	var mr monitor.Readiness
	switch {
	case r.Oneshot():
		mr.Mode = monitor.ReadyExited
	case r.Notified():
		mr.Mode = monitor.ReadyNotified
	}
	mr.Timeout = r.ReadyTimeout
	mr.Watchdog = r.Watchdog
	mr.NotifyAll = r.NotifyAccess == "all"
	switch r.OnDependencyRestart {
	case "restart":
		mr.OnDepRestart = monitor.DepRestart
	case "stop":
		mr.OnDepRestart = monitor.DepStop
	}
	for _, l := range []struct {
		kind monitor.DepKind
		deps []string
	}{{monitor.Requires, r.Requires}, {monitor.Wants, r.Wants}, {monitor.After, r.After}} {
		for _, dep := range l.deps {
			name, cond, err := config.ParseDep(dep)
			if err != nil {
				continue // Validate refused it already
			}
			c, _ := monitor.ParseDepCondition(cond)
			for _, pn := range processNames(name) {
				mr.Deps = append(mr.Deps, monitor.Dep{Name: pn, Cond: c, Kind: l.kind})
			}
		}
	}
	if n != nil {
		if fd := r.ReadyFD(); fd > 0 {
			mr.NotifyFD, mr.NotifyFile = fd, n.notifyFile
		}
		if r.WantsNotifySocket() {
			spec.ExtraEnv = append(slices.Clip(spec.ExtraEnv), NotifyEnv+"="+n.addr)
			if r.Watchdog > 0 {
				// WATCHDOG_PID is left out: the environment is fixed before
				// the fork, and sd_watchdog_enabled(3) takes its absence to
				// mean "this process".
				spec.ExtraEnv = append(spec.ExtraEnv, "WATCHDOG_USEC="+strconv.FormatInt(r.Watchdog.Microseconds(), 10))
			}
		}
	}
	spec.Readiness = mr
}

// processNamesOf returns the process names of a program, registered or
// only configured; a program not known yet (added later in the same
// reload) is taken to have one process of its own name. Caller holds d.mu.
func (d *Daemon) processNamesOf(program string) []string {
	if p, ok := d.programs[program]; ok {
		var out []string
		for _, pr := range p.procs {
			out = append(out, pr.name)
		}
		return out
	}
	if p := d.cfg.Program(program); p != nil {
		var out []string
		for _, cp := range p.Processes() {
			out = append(out, cp.FullName())
		}
		return out
	}
	return []string{program}
}

// ProcessReady declares the current pid of a process ready: the entry
// point of readiness sources other than notifications (for ready =
// "healthy", the first passing health probe). It fails when pid is not the
// process's current pid, so a late result for an older pid changes nothing.
func (d *Daemon) ProcessReady(name string, pid int) error {
	if err := d.mon.Ready(name, pid); err != nil {
		return fmt.Errorf("%w: %v", ErrNoSuchProcess, err)
	}
	return nil
}

// HealthChanged records the health of a process's current pid: programs
// waiting for NAME:healthy are re-examined, and a healthy result makes a
// ready = "healthy" process RUNNING. The health checks call it on every
// change of a program's health.
func (d *Daemon) HealthChanged(name string, pid int, healthy bool) error {
	return d.mon.SetHealth(name, pid, healthy)
}

// dependencyDepth ranks each process by its program's place in the
// dependency graph (config.DependencyRanks), so Shutdown stops dependants
// before what they depend on. Caller holds d.mu.
func (d *Daemon) dependencyDepth() map[string]int {
	progs := make([]config.Program, 0, len(d.programs))
	for _, p := range d.programs {
		progs = append(progs, *p.cfg)
	}
	byProgram := config.DependencyRanks(progs)
	rank := make(map[string]int, len(d.procs))
	for name, pr := range d.procs {
		rank[name] = byProgram[pr.program.cfg.Name]
	}
	return rank
}

var descReady = prometheus.NewDesc("corral_process_ready", "1 when the process is ready (RUNNING, or a one-shot that completed), 0 while WAITING, STARTING or down.", []string{"process", "group"}, nil)

func readyValue(st ProcessStatus) float64 {
	if st.State == "RUNNING" || st.Completed {
		return 1
	}
	return 0
}
