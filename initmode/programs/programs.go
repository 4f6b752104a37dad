// Package programs is `corral init --config FILE`: init supervising the
// programs of a configuration file with the daemon's semantics. It is apart
// from package initmode because it links the configuration and daemon
// packages, which the small corral-init binary (command mode only) must not.
//
// Like initmode, it must never wait for a child itself: the monitor owns
// SIGCHLD and all reaping.
package programs

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/initmode"
	"github.com/corralhq/corral/initmode/internal/initcore"
	"github.com/corralhq/corral/monitor"
)

// proc is one process to supervise in --config mode.
type proc struct {
	spec     monitor.Spec
	priority int
	rank     int // dependency rank: dependants stop first
	exitOn   bool
	health   *config.Health
}

// specOf maps one configured process onto a monitor spec with the daemon's
// mapping. Output goes to init's own stdout and stderr: log file settings are
// ignored.
func specOf(p config.Process, base []string, o initmode.Options) (monitor.Spec, error) {
	spec, err := daemon.Spec(p, p.FullName(), base)
	if err != nil {
		return monitor.Spec{}, fmt.Errorf("program %q: %w", p.Program.Name, err)
	}
	spec.Stdout, spec.Stderr = o.Stdout, o.Stderr
	return spec, nil
}

// plan turns a configuration into the processes to run, in ascending
// priority (then name), and checks that every --exit-on name matches one.
func plan(cfg *config.Config, exitOn []string, o initmode.Options, n *daemon.Notifier) ([]proc, error) {
	base := append(os.Environ(), cfg.Daemon.Environment...)
	ranks := config.DependencyRanks(cfg.Programs)
	var out []proc
	matched := map[string]bool{}
	for _, g := range cfg.Programs {
		if !g.Autostart {
			o.Logger.Warn("program has autostart=false: not started in init mode", "program", g.Name)
			continue
		}
		for _, p := range g.Processes() {
			spec, err := specOf(p, base, o)
			if err != nil {
				return nil, err
			}
			daemon.ApplyReadiness(p.Program, &spec, processNames(cfg), n)
			pr := proc{spec: spec, priority: g.Priority, rank: ranks[g.Name], health: g.Health}
			for _, n := range exitOn {
				if n == g.Name || n == p.Name || n == p.FullName() {
					pr.exitOn, matched[n] = true, true
				}
			}
			out = append(out, pr)
		}
	}
	for _, n := range exitOn {
		if !matched[n] {
			return nil, fmt.Errorf("--exit-on %q: no program or process of that name is started", n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no program to start", cfg.File)
	}
	slices.SortStableFunc(out, func(a, b proc) int {
		if a.priority != b.priority {
			return a.priority - b.priority
		}
		return 0
	})
	return out, nil
}

// ended reports whether a process will not run again by itself.
func ended(info monitor.ProcessInfo) bool {
	switch info.State {
	case monitor.StateExited, monitor.StateStopped:
		return true
	case monitor.StateFatal:
		return info.Spec.FatalRetry <= 0
	}
	return false
}

// fatalCode is init's code for a program gone FATAL: its last exit code
// when it ran (never 0: FATAL is a failure), 127 when it never could.
func fatalCode(last *monitor.ExitInfo) int {
	if last == nil {
		return 127
	}
	if c := exitCode(last); c != 0 {
		return c
	}
	return 1
}

// Run supervises the programs of o.Config (o.ExitOn names the programs
// whose end ends init; o.Command must be empty) until init ends (see
// initmode.Help for when) and returns the exit code corral should exit with.
func Run(o initmode.Options) int {
	o = o.WithDefaults()
	log := o.Logger
	if o.Config == "" || len(o.Command) > 0 {
		log.Error("init: give --config FILE and no command")
		return 2
	}
	cfg, err := config.Load(o.Config)
	if err != nil {
		fmt.Fprintf(o.Stderr, "corral init: %v\n", err)
		return 1
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	sigs := initcore.NotifySignals()
	defer signal.Stop(sigs)
	m, sub, err := initcore.NewMonitor(o.Logger)
	if err != nil {
		log.Error("start monitor", "err", err)
		return 1
	}
	// One notification socket (NOTIFY_SOCKET, ready = "fd:N"), in the
	// abstract namespace: init may have no writable directory.
	n, err := daemon.NewNotifier("", fmt.Sprintf("init-%d-%d", os.Getpid(), time.Now().UnixNano()), m, log)
	if err != nil {
		log.Error("notify socket", "err", err)
		_ = m.Close()
		return 1
	}
	defer n.Close()
	procs, err := plan(cfg, o.ExitOn, o, n)
	if err != nil {
		fmt.Fprintf(o.Stderr, "corral init: %v\n", err)
		_ = m.Close()
		return 1
	}
	done := make(chan struct{})
	defer close(done)
	evs := initcore.Events(sub, done)

	byName := map[string]proc{}
	for _, p := range procs {
		byName[p.spec.Name] = p
		if err := m.Add(p.spec); err != nil {
			log.Error("add process", "program", p.spec.Name, "err", err)
			_ = m.Close()
			return 1
		}
	}
	ih, err := startHealth(cfg, m, procs, log)
	if err != nil {
		fmt.Fprintf(o.Stderr, "corral init: %v\n", err)
		_ = m.Close()
		return 1
	}
	for _, p := range procs {
		// A spawn error shows as a FATAL event, handled below.
		_ = m.Start(p.spec.Name)
	}

	lastExit := map[string]*monitor.ExitInfo{} // since the last spawn
	code, stopping := -1, false
	// check decides, after an exit or a FATAL, whether init ends.
	check := func(name string) {
		if stopping || ih.Restarting(name) {
			return
		}
		if p, ok := byName[name]; ok && p.exitOn {
			info, err := m.Process(name) // after the loop's restart decision
			if err == nil && info.State == monitor.StateExited {
				log.Info("exit-on process exited; stopping the others", "program", name)
				code, stopping = exitCode(info.LastExit), true
				return
			}
			if err == nil && info.State == monitor.StateFatal {
				log.Warn("exit-on process is FATAL; stopping the others", "program", name, "err", info.Err)
				code, stopping = fatalCode(lastExit[name]), true
				return
			}
		}
		list, _, err := m.Snapshot()
		if err != nil {
			return
		}
		fatal := false
		for _, info := range list {
			if !ended(info) || ih.Restarting(info.Name) {
				return
			}
			fatal = fatal || info.State == monitor.StateFatal
		}
		code, stopping = 0, true
		if fatal {
			code = 1
		}
	}

	for !stopping {
		select {
		case s := <-sigs:
			sig := s.(syscall.Signal)
			switch {
			case sig == syscall.SIGTERM || sig == syscall.SIGINT || sig == syscall.SIGQUIT:
				log.Info("stopping every program", "signal", sig)
				code, stopping = 0, true
			case initcore.Dropped(sig):
			default:
				for _, p := range procs {
					_ = m.Signal(p.spec.Name, sig)
				}
			}
		case <-ih.shutdown:
			log.Warn("a program with on_unhealthy = shutdown is unhealthy; stopping every program")
			code, stopping = 1, true
		case e, ok := <-evs:
			if !ok {
				ih.close()
				return 1
			}
			ih.event(e)
			switch e.Type {
			case monitor.EventStarting:
				delete(lastExit, e.Name)
			case monitor.EventExited:
				lastExit[e.Name] = e.Exit
				check(e.Name)
			case monitor.EventFatal:
				check(e.Name)
			case monitor.EventMissed:
				for _, p := range procs {
					check(p.spec.Name)
				}
			case monitor.EventOrphanReaped:
				if o.WarnOnReap {
					log.Warn("reaped zombie", "pid", e.Pid, "code", e.Exit.Code, "signal", e.Exit.Signal)
				}
			}
		}
	}

	// Stop in descending priority, one priority at a time; a second
	// SIGTERM, SIGINT or SIGQUIT cuts the grace periods short.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		evs := evs
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGTERM || s == syscall.SIGINT || s == syscall.SIGQUIT {
					log.Warn("second stop signal: killing every process group", "signal", s)
					cancel()
					return
				}
			case _, ok := <-evs: // keep the queue moving; the state is read below
				if !ok {
					evs = nil
				}
			case <-done:
				return
			}
		}
	}()
	ih.close()
	stopAll(ctx, m, procs)
	_ = m.Shutdown(ctx)
	sub.Close()
	return code
}

// stopAll stops every process, dependants before what they depend on,
// then highest priority number first; the processes of one rank and
// priority stop together.
func stopAll(ctx context.Context, m *monitor.Monitor, procs []proc) {
	procs = slices.Clone(procs)
	slices.SortStableFunc(procs, func(a, b proc) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return a.priority - b.priority
	})
	for i := len(procs); i > 0; {
		j := i - 1
		for j > 0 && procs[j-1].priority == procs[i-1].priority && procs[j-1].rank == procs[i-1].rank {
			j--
		}
		level := procs[j:i]
		for _, p := range level {
			_ = m.Stop(p.spec.Name)
		}
		for _, p := range level {
			if err := m.StopWait(ctx, p.spec.Name); err != nil && ctx.Err() != nil {
				return
			}
		}
		i = j
	}
}

// processNames gives the process names of a configured program, for the
// dependencies of the others.
func processNames(cfg *config.Config) func(string) []string {
	return func(program string) []string {
		p := cfg.Program(program)
		if p == nil {
			return []string{program}
		}
		var out []string
		for _, cp := range p.Processes() {
			out = append(out, cp.FullName())
		}
		return out
	}
}

// exitCode is init's exit code for one exit of a process: the exit status,
// or 128+N for a death by signal N (tini's and the shells' convention).
func exitCode(e *monitor.ExitInfo) int {
	if e == nil {
		return 1
	}
	if e.Signal != 0 {
		return 128 + int(e.Signal)
	}
	return e.Code
}
