package daemon

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/monitor"
)

// readiness fills spec's readiness, dependencies and notification
// environment from the program's configuration. Caller holds d.mu.
func (d *Daemon) readiness(prog config.Program, spec *monitor.Spec) {
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
			for _, pn := range d.processNamesOf(name) {
				mr.Deps = append(mr.Deps, monitor.Dep{Name: pn, Cond: c, Kind: l.kind})
			}
		}
	}
	if d.notifier != nil {
		if fd := r.ReadyFD(); fd > 0 {
			mr.NotifyFD, mr.NotifyFile = fd, d.notifier.notifyFile
		}
		if r.WantsNotifySocket() {
			spec.Env = append(slices.Clip(spec.Env), NotifyEnv+"="+d.notifier.addr)
			if r.Watchdog > 0 {
				// WATCHDOG_PID is left out: the environment is fixed before
				// the fork, and sd_watchdog_enabled(3) takes its absence to
				// mean "this process".
				spec.Env = append(spec.Env, "WATCHDOG_USEC="+strconv.FormatInt(r.Watchdog.Microseconds(), 10))
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

// dependencyDepth gives each process the length of its longest chain of
// dependants, so Shutdown stops dependants before what they depend on.
// Caller holds d.mu.
func (d *Daemon) dependencyDepth() map[string]int {
	deps := map[string][]string{} // process -> processes it depends on
	for _, prog := range d.programs {
		for _, pr := range prog.procs {
			for _, e := range append(append(slices.Clone(prog.cfg.Requires), prog.cfg.Wants...), prog.cfg.After...) {
				name, _, err := config.ParseDep(e)
				if err == nil {
					deps[pr.name] = append(deps[pr.name], d.processNamesOf(name)...)
				}
			}
		}
	}
	// rank(x) = 1 + the largest rank of what x depends on: a dependant
	// ranks above its dependencies and stops first.
	rank := map[string]int{}
	var visit func(n string, seen map[string]bool) int
	visit = func(n string, seen map[string]bool) int {
		if r, ok := rank[n]; ok {
			return r
		}
		if seen[n] {
			return 0 // a cycle (refused at load); do not loop
		}
		seen[n] = true
		r := 0
		for _, dep := range deps[n] {
			r = max(r, visit(dep, seen)+1)
		}
		rank[n] = r
		return r
	}
	for n := range d.procs {
		visit(n, map[string]bool{})
	}
	return rank
}
