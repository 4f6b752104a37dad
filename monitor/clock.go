package monitor

import (
	"container/heap"
	"time"
)

// Clock is the monitor's source of time. Tests inject a fake one so that
// backoff and grace periods pass without sleeping.
type Clock interface {
	Now() time.Time
	// NewTimer returns a stopped-or-running timer like time.NewTimer.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the monitor uses.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time   { return t.t.C }
func (t realTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t realTimer) Stop()                 { t.t.Stop() }

// timerKind says what a due timer does to its process.
type timerKind int

const (
	timerStarted    timerKind = iota + 1 // STARTING -> RUNNING after MinUptime
	timerBackoff                         // BACKOFF -> STARTING
	timerKill                            // STOPPING: grace is over, SIGKILL the group
	timerFatalRetry                      // FATAL -> STARTING
	timerHook                            // a hook's time is up: kill it (pid)
)

// timer is one deadline in the loop's heap. A process's timers are void once
// its generation moves on, so nothing ever has to be removed from the heap.
type timer struct {
	at   time.Time
	kind timerKind
	p    *process
	gen  uint64
	pid  int    // timerHook: the hook
	aux  uint64 // the generation of the readiness timers (timer.current)
}

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = timer{}
	*h = old[:len(old)-1]
	return t
}

func (h *timerHeap) add(t timer) { heap.Push(h, t) }

// popDue removes and returns the earliest timer if it is due at now.
func (h *timerHeap) popDue(now time.Time) (timer, bool) {
	if len(*h) == 0 || (*h)[0].at.After(now) {
		return timer{}, false
	}
	return heap.Pop(h).(timer), true
}
