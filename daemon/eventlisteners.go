package daemon

import (
	"cmp"
	"context"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/eventlistener"
	"github.com/corralhq/corral/logs"
	"github.com/corralhq/corral/monitor"
)

// listenerState is the daemon's side of supervisord's event listeners: the
// dispatcher (one goroutine, one epoll instance, for every pool) and one
// goroutine that turns the monitor's events into supervisord's
// PROCESS_STATE_* events. Both exist only once a configuration has an
// [eventlistener:x]; neither grows with the number of processes or
// listeners. Fields are guarded by Daemon.mu, except what the forwarding
// goroutine owns.
type listenerState struct {
	disp    *eventlistener.Dispatcher
	sub     *monitor.Subscription
	fwdEnd  chan struct{}
	started bool
	pending []*program     // programs added before Start, announced at Start
	seq     atomic.Uint64  // the last monitor event forwarded
	groups  map[string]int // programs per group, for PROCESS_GROUP_*
}

// ensureListeners starts the dispatcher and the forwarding goroutine.
// Caller holds d.mu.
func (d *Daemon) ensureListeners() *eventlistener.Dispatcher {
	ls := d.listenerBook()
	if ls.disp != nil {
		return ls.disp
	}
	disp, err := eventlistener.New(eventlistener.Options{Identifier: d.cfg.Daemon.Identifier, Logger: d.log})
	if err != nil {
		d.log.Error("event listeners: cannot start the dispatcher", "err", err)
		return nil
	}
	sub, err := d.mon.Subscribe(1 << 16)
	if err != nil {
		_ = disp.Close()
		d.log.Error("event listeners: cannot follow the monitor", "err", err)
		return nil
	}
	ls.disp, ls.sub, ls.fwdEnd = disp, sub, make(chan struct{})
	go d.forwardStates(sub, disp, ls.fwdEnd)
	return disp
}

// listenerBook returns the daemon's listener state. Caller holds d.mu.
func (d *Daemon) listenerBook() *listenerState {
	if d.lis == nil {
		d.lis = &listenerState{groups: map[string]int{}}
	}
	return d.lis
}

// usesListeners reports whether a program's stdio goes through the
// event listeners' dispatcher: a listener's stdin and stdout are its
// protocol, and output with events or capture mode is read by the
// dispatcher before it reaches the log.
func usesListeners(p config.Program) bool {
	return p.Listener != nil || tapped(p.Stdout) || (!p.Stderr.Redirect && tapped(p.Stderr))
}

func tapped(l config.LogSpec) bool { return l.Events || l.CaptureMaxBytes > 0 }

// listenerStdio is the Stdio of a process whose stdio goes through the
// dispatcher (usesListeners): a listener's stdin and stdout are the
// dispatcher's pipes; output with events or capture mode is tapped on its
// way to the log; the rest goes to the log as for any program. Caller
// holds d.mu.
func (d *Daemon) listenerStdio(pr *proc) func() (stdin, stdout, stderr *os.File, err error) {
	disp := d.ensureListeners()
	// Copies of what the spawns need, not the definition: a closure that
	// held it would keep a whole replaced configuration alive after a
	// reload (see program.cfg).
	name, listener := pr.program.cfg.Name, pr.program.cfg.Listener != nil
	outSpec, errSpec := pr.program.cfg.Stdout, pr.program.cfg.Stderr
	return func() (stdin, stdout, stderr *os.File, err error) {
		if disp == nil {
			return nil, nil, nil, eventlistener.ErrClosed
		}
		var drained []<-chan struct{}
		var opened []*os.File
		fail := func(err error) (*os.File, *os.File, *os.File, error) {
			for _, f := range opened {
				f.Close()
			}
			return nil, nil, nil, err
		}
		// output returns the child's end for one channel.
		output := func(s *logs.Stream, spec config.LogSpec, isStderr bool) (*os.File, error) {
			var sink *os.File
			if s != nil {
				w, done, err := s.NewPipe()
				if err != nil {
					return nil, err
				}
				sink, drained = w, append(drained, done)
			}
			if !tapped(spec) {
				return sink, nil
			}
			return disp.Tap(eventlistener.TapOptions{Process: pr.name, Stderr: isStderr, LogEvents: spec.Events,
				CaptureMaxBytes: int(min(spec.CaptureMaxBytes, 1<<30))}, sink)
		}
		if listener {
			in, out, err := disp.Pipes(name, pr.name)
			if err != nil {
				return fail(err)
			}
			stdin, stdout = in, out
			opened = append(opened, in, out)
		} else {
			if stdout, err = output(pr.stdout, outSpec, false); err != nil {
				return fail(err)
			}
			if stdout != nil {
				opened = append(opened, stdout)
			}
		}
		if pr.stderr == nil && errSpec.Redirect {
			stderr = stdout
		} else if stderr, err = output(pr.stderr, errSpec, true); err != nil {
			return fail(err)
		}
		pr.mu.Lock()
		pr.drained = drained
		pr.mu.Unlock()
		return stdin, stdout, stderr, nil
	}
}

// listenersAdded records a program for PROCESS_GROUP_ADDED and creates its
// pool if it is a listener: at Start for the programs of the configuration
// (in priority order, as supervisord adds groups), at once afterwards.
// Caller holds d.mu.
func (d *Daemon) listenersAdded(prog *program) {
	ls := d.listenerBook()
	if !ls.started {
		ls.pending = append(ls.pending, prog)
		return
	}
	d.announceAdded(ls, prog)
}

func (d *Daemon) announceAdded(ls *listenerState, prog *program) {
	if l := prog.cfg.Listener; l != nil && ls.disp != nil {
		var types []eventlistener.Type
		for _, n := range l.Events {
			if t, ok := eventlistener.ParseType(n); ok {
				types = append(types, t)
			}
		}
		ls.disp.AddPool(prog.cfg.Name, types, l.BufferSize)
	}
	ls.groups[prog.cfg.Group]++
	if ls.groups[prog.cfg.Group] == 1 && ls.disp != nil {
		ls.disp.Notify(eventlistener.GroupEvent(eventlistener.ProcessGroupAdded, prog.cfg.Group))
	}
}

// listenersRemoved sends PROCESS_GROUP_REMOVED when a group's last program
// goes, and removes a listener's pool. Caller holds d.mu.
func (d *Daemon) listenersRemoved(prog *program) {
	ls := d.listenerBook()
	if !ls.started {
		ls.pending = slices.DeleteFunc(ls.pending, func(p *program) bool { return p == prog })
		return
	}
	if ls.groups[prog.cfg.Group] > 0 {
		ls.groups[prog.cfg.Group]--
		if ls.groups[prog.cfg.Group] == 0 {
			delete(ls.groups, prog.cfg.Group)
			if ls.disp != nil {
				ls.disp.Notify(eventlistener.GroupEvent(eventlistener.ProcessGroupRemoved, prog.cfg.Group))
			}
		}
	}
	if prog.cfg.Listener != nil && ls.disp != nil {
		ls.disp.RemovePool(prog.cfg.Name)
	}
}

// listenersStart adds the groups in supervisord's order (priority, then
// name; a pool receives PROCESS_GROUP_ADDED for itself and the groups
// after it), then sends SUPERVISOR_STATE_CHANGE_RUNNING.
func (d *Daemon) listenersStart() {
	d.mu.Lock()
	defer d.mu.Unlock()
	ls := d.listenerBook()
	if ls.started {
		return
	}
	ls.started = true
	prio := map[string]int{}
	for _, g := range d.cfg.Groups {
		prio[g.Name] = g.Priority
	}
	groupPrio := func(p *program) int {
		if n, ok := prio[p.cfg.Group]; ok {
			return n
		}
		return p.cfg.Priority
	}
	// supervisord sorts its groups by priority, then name.
	slices.SortStableFunc(ls.pending, func(a, b *program) int {
		return cmp.Or(cmp.Compare(groupPrio(a), groupPrio(b)), strings.Compare(a.cfg.Group, b.cfg.Group))
	})
	for _, p := range ls.pending {
		d.announceAdded(ls, p)
	}
	ls.pending = nil
	if ls.disp != nil {
		ls.disp.Notify(eventlistener.SupervisorEvent(eventlistener.SupervisorStateChangeRunning))
	}
}

// listenersStopping sends SUPERVISOR_STATE_CHANGE_STOPPING.
func (d *Daemon) listenersStopping() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lis != nil && d.lis.disp != nil {
		d.lis.disp.Notify(eventlistener.SupervisorEvent(eventlistener.SupervisorStateChangeStopping))
	}
}

// listenerDrainIdle is how long a shutdown waits for listeners that make
// no progress (answer no event); listenerDrainMax bounds the whole wait.
const (
	listenerDrainIdle = 2 * time.Second
	listenerDrainMax  = 30 * time.Second
)

// listenersDrain, before a shutdown stops the tier names that holds
// listeners, waits until the state events of what stopped before reached
// the listeners and were answered: supervisord stops one priority after the
// other, so its listeners (priority -1, last) see every other process
// stop. A listener that answers nothing for listenerDrainIdle, or a second
// signal (ctx), ends the wait.
func (d *Daemon) listenersDrain(ctx context.Context, names []string) {
	d.mu.Lock()
	ls := d.lis
	has := false
	for _, n := range names {
		if pr := d.procs[n]; pr != nil && pr.program.cfg.Listener != nil {
			has = true
			break
		}
	}
	d.mu.Unlock()
	if !has || ls == nil || ls.disp == nil {
		return
	}
	_, seq, err := d.mon.Snapshot()
	if err != nil {
		return
	}
	max := time.NewTimer(listenerDrainMax)
	defer max.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for ls.seq.Load() < seq {
		select {
		case <-poll.C:
		case <-max.C:
			return
		case <-ctx.Done():
			return
		}
	}
	idle := ls.disp.Idle()
	progress := func() uint64 { s := ls.disp.Stats(); return s.Acked + s.Rejected + s.Sent }
	last := progress()
	stall := time.NewTicker(listenerDrainIdle)
	defer stall.Stop()
	for {
		select {
		case <-idle:
			return
		case <-stall.C:
			now := progress()
			if now == last {
				d.log.Warn("event listeners took no event for a while; stopping them with events still queued", "waited", listenerDrainIdle)
				return
			}
			last = now
		case <-max.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// closeListeners ends the forwarding goroutine and the dispatcher (after
// the monitor closed, which ends the subscription).
func (d *Daemon) closeListeners() {
	d.mu.Lock()
	ls := d.lis
	d.mu.Unlock()
	if ls == nil || ls.disp == nil {
		return
	}
	ls.sub.Close()
	<-ls.fwdEnd
	_ = ls.disp.Close()
}

// SendRemoteCommEvent sends a REMOTE_COMMUNICATION event (XML-RPC's
// supervisor.sendRemoteCommEvent) to the pools subscribed to it.
func (d *Daemon) SendRemoteCommEvent(typ, data string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lis != nil && d.lis.disp != nil {
		d.lis.disp.Notify(eventlistener.RemoteEvent(typ, data))
	}
}

// ListenerStats returns the dispatcher's counters (zero without listeners).
func (d *Daemon) ListenerStats() eventlistener.Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lis == nil || d.lis.disp == nil {
		return eventlistener.Stats{}
	}
	return d.lis.disp.Stats()
}

// supervisord's process state codes.
const (
	svStopped  = 0
	svStarting = 10
	svRunning  = 20
	svBackoff  = 30
	svStopping = 40
	svExited   = 100
	svFatal    = 200
)

// svProc is what supervisord knows of a process and corral's monitor
// reports differently: the state it shows, its backoff count (tries) and
// its pid.
type svProc struct {
	state, tries, pid int
}

// forwardStates turns the monitor's events into supervisord's
// PROCESS_STATE_* events, with supervisord's edges: a start that fails is
// STARTING -> BACKOFF (and, past startretries, BACKOFF -> FATAL); a
// RUNNING process that exits is RUNNING -> EXITED, then STARTING if it
// restarts (corral's restart delay is not a BACKOFF there). It also tells
// the dispatcher when a listener process starts, runs and exits.
func (d *Daemon) forwardStates(sub *monitor.Subscription, disp *eventlistener.Dispatcher, end chan struct{}) {
	defer close(end)
	procs := map[string]*svProc{}
	isListener := func(name string) bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		pr := d.procs[name]
		return pr != nil && pr.program.cfg.Listener != nil
	}
	for {
		e, err := sub.Next(context.Background())
		if err != nil {
			return
		}
		d.lis.seq.Store(e.Seq)
		if e.Type == monitor.EventMissed {
			d.log.Error("event listeners fell behind the monitor; PROCESS_STATE events were lost", "missed", e.Missed)
			continue
		}
		if e.Name == "" {
			continue
		}
		p := procs[e.Name]
		if p == nil {
			p = &svProc{state: svStopped}
			procs[e.Name] = p
		}
		name, group := e.Name, e.Name
		if i := strings.LastIndexByte(e.Name, ':'); i >= 0 {
			group, name = e.Name[:i], e.Name[i+1:]
		}
		emit := func(t eventlistener.Type, to, pid int, expected bool) {
			disp.Notify(eventlistener.StateEvent(t, name, group, eventlistener.StateName(p.state), p.tries, pid, expected))
			p.state = to
		}
		switch e.Type {
		case monitor.EventRemoved:
			delete(procs, e.Name)
		case monitor.EventStarting:
			p.pid = e.Pid
			disp.Started(e.Name, e.Pid) // a listener's, or a tapped output's
			emit(eventlistener.ProcessStateStarting, svStarting, 0, false)
		case monitor.EventRunning:
			p.tries = 0
			if isListener(e.Name) {
				disp.SetRunning(e.Name, p.pid, true)
			}
			emit(eventlistener.ProcessStateRunning, svRunning, p.pid, false)
		case monitor.EventExited:
			if isListener(e.Name) {
				disp.Exited(e.Name, e.Exit.Pid)
			}
			if p.state == svRunning {
				p.tries = 0
				emit(eventlistener.ProcessStateExited, svExited, e.Exit.Pid, e.Exit.Expected)
			}
		case monitor.EventBackoff:
			if p.state == svExited {
				continue // corral's delay before a restart; supervisord restarts at once
			}
			p.tries++
			emit(eventlistener.ProcessStateBackoff, svBackoff, 0, false)
		case monitor.EventFatal:
			if p.state == svStarting {
				p.tries++
				emit(eventlistener.ProcessStateBackoff, svBackoff, 0, false)
			}
			emit(eventlistener.ProcessStateFatal, svFatal, 0, false)
			p.tries = 0
		case monitor.EventStopping:
			if isListener(e.Name) {
				disp.SetRunning(e.Name, p.pid, false)
			}
			emit(eventlistener.ProcessStateStopping, svStopping, p.pid, false)
		case monitor.EventStopped:
			pid := 0
			if p.state == svStopping {
				pid = p.pid
			}
			emit(eventlistener.ProcessStateStopped, svStopped, pid, false)
		}
	}
}
