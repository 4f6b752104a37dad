package monitor

import (
	"fmt"
	"syscall"
	"time"
)

// Hook is a command the monitor runs around a process's life (see
// Spec.PreStart, Spec.PostStop and Spec.StopCommand). It runs as a process
// of its own, spawned and reaped by the monitor like any other, with the
// spec's environment, directory, credentials and output (Stdio), in a
// process group of its own and outside the spec's Cgroup (so a kill of the
// process's cgroup never ends the hook that cleans up after it). After
// Timeout (default 30s) its group is killed with SIGKILL, and the hook has
// failed.
type Hook struct {
	// Args is the command line; Args[0] is looked up as Spec.Path is.
	Args    []string
	Timeout time.Duration
}

type hookKind int

const (
	hookPreStart hookKind = iota + 1
	hookPostStop
	hookStop
)

func (k hookKind) String() string {
	switch k {
	case hookPreStart:
		return "pre_start"
	case hookPostStop:
		return "post_stop"
	}
	return "stop_command"
}

// hookRun is one running hook, by pid in loop.hooks until reaped.
type hookRun struct {
	p    *process
	kind hookKind
}

// hookTimeoutDefault is a Hook's Timeout when it is zero.
const hookTimeoutDefault = 30 * time.Second

func (l *loop) hookOf(p *process, k hookKind) *Hook {
	switch k {
	case hookPreStart:
		return p.spec.PreStart
	case hookPostStop:
		return p.spec.PostStop
	}
	return p.spec.StopCommand
}

// startHook spawns p's hook of kind k and arms its timeout.
func (l *loop) startHook(p *process, k hookKind) (int, error) {
	h := l.hookOf(p, k)
	if h == nil || len(h.Args) == 0 {
		return 0, fmt.Errorf("%s: no command", k)
	}
	hs := p.spec
	hs.Path, hs.Args, hs.Cgroup = h.Args[0], h.Args, ""
	pid, err := l.startProcess(&hs, l.watch)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", k, err)
	}
	l.hooks[pid] = &hookRun{p: p, kind: k}
	d := h.Timeout
	if d <= 0 {
		d = hookTimeoutDefault
	}
	l.timers.add(timer{at: l.clock.Now().Add(d), kind: timerHook, p: p, pid: pid})
	l.armTimer()
	l.log.Info("hook started", "program", p.spec.Name, "hook", k.String(), "pid", pid)
	return pid, nil
}

// hookTimeout kills a hook still running at its deadline. It is not
// reaped yet, so its pid (and group id) is still its own.
func (l *loop) hookTimeout(pid int) {
	h, ok := l.hooks[pid]
	if !ok {
		return
	}
	l.log.Warn("hook timed out; killing it", "program", h.p.spec.Name, "hook", h.kind.String(), "pid", pid)
	killGroup(pid)
}

// hookExited handles a reaped hook.
func (l *loop) hookExited(pid int, h *hookRun, e *ExitInfo) {
	p := h.p
	ok := e.Signal == 0 && e.Code == 0
	why := ""
	if !ok {
		why = fmt.Sprintf("%s failed: %s", h.kind, describeExit(e))
		l.log.Warn("hook failed", "program", p.spec.Name, "hook", h.kind.String(), "pid", pid, "code", e.Code, "signal", e.Signal)
	} else {
		l.log.Info("hook done", "program", p.spec.Name, "hook", h.kind.String(), "pid", pid)
	}
	if h.kind != hookPreStart || p.preHook != pid {
		return
	}
	p.preHook = 0
	if p.state != StateStarting || p.pid != 0 || l.procs[p.spec.Name] != p {
		return // stopped or removed while the hook ran
	}
	if !ok {
		p.err = why
		l.failedStart(p, why)
		return
	}
	_ = l.spawnMain(p)
}

func describeExit(e *ExitInfo) string {
	if e.Signal != 0 {
		return "killed by " + e.Signal.String()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// spawnWithHook runs p's PreStart hook; the process is spawned when it
// succeeds (hookExited). Until then p is STARTING without a pid.
func (l *loop) spawnWithHook(p *process) error {
	pid, err := l.startHook(p, hookPreStart)
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
	p.preHook = pid
	l.setState(p, StateStarting)
	return nil
}

// stopPreStart stops a process whose PreStart hook still runs: the hook's
// group is killed and the process is STOPPED at once (the hook's exit is
// then ignored).
func (l *loop) stopPreStart(p *process) {
	if p.preHook != 0 {
		killGroup(p.preHook)
	}
	l.transition(p, StateStopped, Event{Type: EventStopped})
}

// sendStop asks p's process to stop: its StopCommand, or its stop signal.
func (l *loop) sendStop(p *process) {
	if p.spec.StopCommand != nil {
		_, err := l.startHook(p, hookStop)
		if err == nil {
			return
		}
		l.log.Warn("stop_command did not start; sending the stop signal", "program", p.spec.Name, "err", err)
	}
	target := p.pid
	if p.spec.StopAsGroup {
		target = -p.pid
	}
	if err := syscall.Kill(target, p.spec.StopSignal); err != nil && err != syscall.ESRCH {
		l.log.Warn("stop signal failed", "program", p.spec.Name, "pid", p.pid, "err", err)
	}
}

// postStop runs p's PostStop hook after an exit of its process.
func (l *loop) postStop(p *process) {
	if p.spec.PostStop == nil {
		return
	}
	if _, err := l.startHook(p, hookPostStop); err != nil {
		l.log.Warn("post_stop did not start", "program", p.spec.Name, "err", err)
	}
}
