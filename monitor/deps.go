package monitor

import (
	"fmt"
	"strings"
)

// Dependencies are evaluated on the loop, event by event: a WAITING process
// is re-examined whenever one of its dependencies changes state, never
// polled, and nothing waits in a goroutine. A cycle leaves its members
// WAITING (the daemon refuses cycles when it loads a configuration).

// depIndex maps a process name to the names of the processes that depend
// on it.
type depIndex map[string][]string

func (l *loop) indexDeps(p *process) {
	if l.rdeps == nil {
		l.rdeps = depIndex{}
	}
	for _, d := range p.spec.Readiness.Deps {
		l.rdeps[d.Name] = append(l.rdeps[d.Name], p.spec.Name)
	}
}

func (l *loop) unindexDeps(p *process) {
	for _, d := range p.spec.Readiness.Deps {
		list := l.rdeps[d.Name]
		for i, n := range list {
			if n == p.spec.Name {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(l.rdeps, d.Name)
		} else {
			l.rdeps[d.Name] = list
		}
	}
}

type depVerdict int

const (
	depMet depVerdict = iota
	depPending
	depFailed
)

// depStatus says whether d holds, may still hold, or cannot hold, and why.
func (l *loop) depStatus(d Dep) (depVerdict, string) {
	t, ok := l.procs[d.Name]
	if !ok {
		return depFailed, "no such process"
	}
	switch t.state {
	case StateWaiting, StateBackoff:
		if d.Cond == CondCompleted && t.rd.failedRun {
			return depFailed, "exited with " + t.lastExit.String()
		}
		return depPending, ""
	case StateStarting:
		if d.Cond == CondStarted {
			return depMet, ""
		}
		return depPending, ""
	case StateRunning:
		switch d.Cond {
		case CondCompleted:
			return depPending, ""
		case CondHealthy:
			if !t.rd.healthy {
				return depPending, ""
			}
		}
		return depMet, ""
	case StateExited:
		if t.rd.completed {
			return depMet, ""
		}
		return depFailed, "exited"
	case StateStopping:
		return depPending, ""
	case StateFatal:
		return depFailed, "FATAL: " + t.err
	}
	return depFailed, strings.ToLower(t.state.String())
}

// startWithDeps handles Start of a process that has dependencies: it starts
// its Requires and Wants dependencies that are not active, then spawns it if
// every dependency holds, fails it if one cannot, or leaves it WAITING.
func (l *loop) startWithDeps(p *process) error {
	for _, d := range p.spec.Readiness.Deps {
		if d.Kind == After {
			continue
		}
		if t, ok := l.procs[d.Name]; ok && !t.state.Active() && !(t.state == StateExited && t.rd.completed) {
			_ = l.start(t) // its failure shows in its state, judged below
		}
	}
	p.rd.waitingFor = ""
	return l.judge(p)
}

// judge spawns, fails or (keeps) waiting p, whose state is STOPPED, EXITED,
// FATAL or WAITING.
func (l *loop) judge(p *process) error {
	var waiting []string
	for _, d := range p.spec.Readiness.Deps {
		v, why := l.depStatus(d)
		if v == depFailed && d.Kind == Requires {
			msg := fmt.Sprintf("dependency %s failed: %s", d, why)
			l.fatal(p, msg)
			return &StartError{Name: p.spec.Name, State: p.state, Err: msg}
		}
		if v == depPending {
			waiting = append(waiting, d.String())
		}
	}
	if len(waiting) > 0 {
		was := p.rd.waitingFor
		p.rd.waitingFor = strings.Join(waiting, ", ")
		if p.state != StateWaiting {
			l.transition(p, StateWaiting, Event{Type: EventWaiting, Err: "waiting for " + p.rd.waitingFor})
		} else if was != p.rd.waitingFor {
			l.emit(Event{Type: EventWaiting, Name: p.spec.Name, From: p.state, State: p.state, Err: "waiting for " + p.rd.waitingFor})
		}
		return nil
	}
	p.rd.waitingFor = ""
	return l.spawn(p)
}

// depsChanged re-examines the waiting dependants of p after p changed. It
// also starts p again when a DepRestart stop of p has completed. (Running
// dependants are depRestarted's.)
func (l *loop) depsChanged(p *process) {
	if p.rd.restartPending && p.state == StateStopped {
		p.rd.restartPending = false
		if !l.closing {
			_ = l.start(p)
		}
	}
	for _, name := range l.rdeps[p.spec.Name] {
		if w, ok := l.procs[name]; ok && w.state == StateWaiting && !l.closing {
			_ = l.judge(w)
		}
	}
}

// depRestarted applies OnDepRestart to the running dependants of p, whose
// pid exited and which its policy restarts.
func (l *loop) depRestarted(p *process) {
	for _, name := range l.rdeps[p.spec.Name] {
		w, ok := l.procs[name]
		if !ok || (w.state != StateRunning && w.state != StateStarting) {
			continue
		}
		var act DepAction
		for _, d := range w.spec.Readiness.Deps {
			if d.Name == p.spec.Name && d.Kind != After {
				act = w.spec.Readiness.OnDepRestart
			}
		}
		switch act {
		case DepRestart:
			w.rd.restartPending = true
			_ = l.stop(w)
		case DepStop:
			_ = l.stop(w)
		}
	}
}
