package monitor

import (
	"context"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// EventType says what an Event reports.
type EventType int

// Event types. Every exit of a supervised process produces exactly one
// EventExited; state changes that follow it come as their own events.
const (
	// EventAdded: a process was added (state STOPPED).
	EventAdded EventType = iota + 1
	// EventStarting: a process was spawned; Pid is set.
	EventStarting
	// EventRunning: the process stayed up for MinUptime.
	EventRunning
	// EventExited: the process exited; Exit holds the facts.
	EventExited
	// EventBackoff: a restart is scheduled after Delay.
	EventBackoff
	// EventFatal: the process will not be started again; Err says why.
	EventFatal
	// EventStopping: the stop signal was sent.
	EventStopping
	// EventStopped: the process is stopped.
	EventStopped
	// EventRemoved: the process was removed from the monitor.
	EventRemoved
	// EventOrphanReaped: a pid the monitor never started (a re-parented
	// orphan) was reaped; Pid and Exit are set, Name is empty.
	EventOrphanReaped
	// EventMissed: the subscriber's queue overflowed and Missed events were
	// dropped at this point. Re-read the state with Monitor.Snapshot.
	EventMissed
	// EventLost: a process whose exit could not be matched, for example one
	// whose pidfd could not be watched; Err says why.
	EventLost
	// EventWaiting: the process waits for its dependencies (state
	// WAITING); Err says which, as "waiting for db:ready".
	EventWaiting
	// EventStatus: the process sent a status text (STATUS=), in Err; the
	// state does not change.
	EventStatus
)

var eventNames = [...]string{
	EventAdded: "added", EventStarting: "starting", EventRunning: "running",
	EventExited: "exited", EventBackoff: "backoff", EventFatal: "fatal",
	EventStopping: "stopping", EventStopped: "stopped", EventRemoved: "removed",
	EventOrphanReaped: "orphan-reaped", EventMissed: "missed", EventLost: "lost",
	EventWaiting: "waiting", EventStatus: "status",
}

// String returns the event type's name, e.g. "exited".
func (t EventType) String() string {
	if t > 0 && int(t) < len(eventNames) {
		return eventNames[t]
	}
	return "unknown"
}

// Event is one thing that happened to a process, in the order it happened.
type Event struct {
	// Seq numbers events from 1, without gaps, across all processes.
	Seq  uint64
	Type EventType
	Time time.Time
	// Name is the process; empty for EventOrphanReaped and EventMissed.
	Name string
	Pid  int
	// StartTicks is, on EventStarting when the monitor could take it
	// without reading /proc, the process's start time in clock ticks
	// after boot: field 22 of /proc/PID/stat, which tells the process
	// from a later one with the same pid. 0 when not taken.
	StartTicks uint64
	// From is the process state before this event, State the one after.
	// An EventExited has the same edge as the event that follows it (the
	// backoff, fatal or stopped event), which adds the delay or the reason.
	From  State
	State State
	// Exit is set on EventExited and EventOrphanReaped.
	Exit *ExitInfo
	// Delay is the wait before the restart, on EventBackoff.
	Delay time.Duration
	// Err explains EventFatal and EventLost, and a spawn failure on EventBackoff.
	Err string
	// Missed counts the events dropped, on EventMissed.
	Missed uint64
}

// ExitInfo is everything known about one exit.
type ExitInfo struct {
	Pid int
	// Code is the exit status, or -1 when the process was killed by a signal.
	Code int
	// Signal is the signal that killed the process, or 0.
	Signal     syscall.Signal
	CoreDumped bool
	UserCPU    time.Duration
	SysCPU     time.Duration
	// MaxRSS is the peak resident set size in bytes.
	MaxRSS  int64
	Started time.Time
	Ended   time.Time
	// Expected reports whether the exit code is one of the spec's ExitCodes
	// (a death by signal is never expected, unless the process was stopping).
	Expected bool
}

// ExitCode returns the exit code, or -1 when the process was killed by a
// signal, as os.ProcessState.ExitCode does.
func (e *ExitInfo) ExitCode() int {
	if e == nil {
		return -1
	}
	return e.Code
}

// Success reports whether the process exited with code 0.
func (e *ExitInfo) Success() bool { return e != nil && e.Signal == 0 && e.Code == 0 }

// String is "exit status N" or "signal: NAME", as os.ProcessState says it.
func (e *ExitInfo) String() string {
	if e.Signal != 0 {
		s := "signal: " + e.Signal.String()
		if e.CoreDumped {
			s += " (core dumped)"
		}
		return s
	}
	return "exit status " + strconv.Itoa(e.Code)
}

func exitInfo(pid int, ws syscall.WaitStatus, ru *syscall.Rusage) *ExitInfo {
	e := &ExitInfo{Pid: pid, Code: -1}
	switch {
	case ws.Exited():
		e.Code = ws.ExitStatus()
	case ws.Signaled():
		e.Signal = ws.Signal()
		e.CoreDumped = ws.CoreDump()
	}
	if ru != nil {
		e.UserCPU = time.Duration(ru.Utime.Nano())
		e.SysCPU = time.Duration(ru.Stime.Nano())
		e.MaxRSS = ru.Maxrss * 1024
	}
	return e
}

// Subscription receives events in order through a bounded queue. The monitor
// never waits for a subscriber: when the queue is full, events are dropped and
// an EventMissed marker takes their place, so a slow reader learns exactly
// where it lost track.
type Subscription struct {
	m      *Monitor
	notify chan struct{} // capacity 1: "the queue is not empty"

	mu     sync.Mutex // guards the queue only; never held across a send
	q      []Event    // ring buffer, grown on demand up to size+1
	head   int
	n      int
	size   int // events allowed; one more slot is kept for the marker
	closed bool
	after  uint64 // set once, before Subscribe returns
}

// After returns the Seq of the last event published before the
// subscription began (0 if none): its first event is After()+1. A stream
// that ends and resumes elsewhere (the API across a daemon upgrade) can
// count the events it missed even if it had received none.
func (s *Subscription) After() uint64 { return s.after }

func newSubscription(m *Monitor, size int) *Subscription {
	if size <= 0 {
		size = 1024
	}
	// The ring starts small and grows up to size+1 (one slot for the
	// marker), so an idle subscriber with a large bound costs little.
	return &Subscription{m: m, notify: make(chan struct{}, 1), q: make([]Event, min(size+1, 16)), size: size}
}

// slot returns the ring index of the i-th queued event.
func (s *Subscription) slot(i int) int { return (s.head + i) % len(s.q) }

// grow makes room for one more event while the ring is below its bound.
func (s *Subscription) grow() {
	if s.n < len(s.q) || len(s.q) >= s.size+1 {
		return
	}
	q := make([]Event, min(2*len(s.q), s.size+1))
	for i := range s.n {
		q[i] = s.q[s.slot(i)]
	}
	s.q, s.head = q, 0
}

// push is called by the loop; it never blocks on the reader.
func (s *Subscription) push(e Event) (overflowed bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.grow()
	switch {
	case s.n < s.size:
		s.q[s.slot(s.n)] = e
		s.n++
	case s.q[s.slot(s.n-1)].Type == EventMissed:
		// Still full: the marker at the tail grows.
		s.q[s.slot(s.n-1)].Missed++
		overflowed = true
	default:
		// Full: the spare slot takes the marker.
		s.q[s.slot(s.n)] = Event{Type: EventMissed, Time: e.Time, Seq: e.Seq, Missed: 1}
		s.n++
		overflowed = true
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return overflowed
}

// Next returns the next event, waiting for one until ctx is done. It returns
// ErrClosed after Close, or once the monitor has stopped and every queued event
// was read.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		s.mu.Lock()
		if s.n > 0 {
			e := s.q[s.head]
			s.q[s.head] = Event{}
			s.head = (s.head + 1) % len(s.q)
			s.n--
			if s.n == 0 && len(s.q) > 64 {
				// A burst is over: give its memory back.
				s.q, s.head = make([]Event, 16), 0
			}
			s.mu.Unlock()
			return e, nil
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return Event{}, ErrClosed
		}
		select {
		case <-s.notify:
		case <-s.m.done:
			s.mu.Lock()
			empty := s.n == 0
			s.mu.Unlock()
			if empty {
				return Event{}, ErrClosed
			}
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.m.cmds <- func(l *loop) { delete(l.subs, s) }:
	case <-s.m.done:
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}
