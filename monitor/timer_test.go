package monitor

import (
	"context"
	"sync"
	"testing"
	"time"
)

// queued reports whether an event of type typ waits in s's queue.
func (s *Subscription) queued(typ EventType) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.n {
		if s.q[s.slot(i)].Type == typ {
			return true
		}
	}
	return false
}

// reactingClock is a fake clock that plays a test reacting to an event by
// moving the clock, at the worst moment: the first time the loop reads the
// time after the event was queued, the clock moves right after the read.
type reactingClock struct {
	*fakeClock
	mu    sync.Mutex
	sub   *Subscription
	on    EventType
	by    time.Duration
	fired bool
}

func (c *reactingClock) Now() time.Time {
	now := c.fakeClock.Now()
	c.mu.Lock()
	react := !c.fired && c.sub != nil && c.sub.queued(c.on)
	if react {
		c.fired = true
	}
	c.mu.Unlock()
	if react {
		c.fakeClock.Advance(c.by)
	}
	return now
}

// react moves the clock unless Now already did; it reports whether it did.
func (c *reactingClock) react() bool {
	c.mu.Lock()
	done := c.fired
	c.fired = true
	c.mu.Unlock()
	if !done {
		c.fakeClock.Advance(c.by)
	}
	return !done
}

// TestTimerIsArmedBeforeItsEvent: when a subscriber sees the BACKOFF event
// and moves the (fake) clock past the delay, the backoff timer fires,
// however the move interleaves with the loop. The loop used to arm the
// timer after emitting the event, computing the delay from one reading of
// the clock and the timer's deadline from another: a move in between set
// the deadline past the moved clock and the timer never fired
// (TestStateTransitions hung once on that).
func TestTimerIsArmedBeforeItsEvent(t *testing.T) {
	clk := &reactingClock{fakeClock: newFakeClock(), on: EventBackoff, by: time.Second}
	m := newTestMonitor(t, Options{Clock: clk})
	sub, _ := m.Subscribe(0)
	clk.mu.Lock()
	clk.sub = sub
	clk.mu.Unlock()
	spec := sh("exit 3")
	spec.Name = "p"
	spec.MinUptime = time.Hour
	spec.StartRetries = 1
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("p"); err != nil {
		t.Fatal(err)
	}
	// Leave the event queued a moment, so the loop's next reading of the
	// time moves the clock; if the loop reads none, move it here.
	deadline := time.Now().Add(hang)
	for !sub.queued(EventBackoff) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	clk.react()
	if e := next(t, sub, is("p", EventBackoff)); e.Delay > time.Second {
		t.Fatalf("backoff delay %v is longer than the clock moved", e.Delay)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		e, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("the backoff timer never fired after the clock passed it: %v", err)
		}
		if e.Name == "p" && e.Type == EventStarting {
			break
		}
	}
	stopQuietly(m, "p")
}

// jumpingClock moves by jump right after its next reading, as a test that
// advances a fake clock between the loop's reading of the time and its
// Reset of the timer.
type jumpingClock struct {
	*fakeClock
	jump time.Duration
}

func (c *jumpingClock) Now() time.Time {
	now := c.fakeClock.Now()
	if c.jump > 0 {
		c.fakeClock.Advance(c.jump)
		c.jump = 0
	}
	return now
}

func TestTimerArmedAcrossAClockJump(t *testing.T) {
	clk := &jumpingClock{fakeClock: newFakeClock()}
	l := &loop{clock: clk, timer: clk.NewTimer(time.Hour)}
	due := clk.Now().Add(4 * time.Second)
	l.timers.add(timer{at: due, kind: timerStarted})
	clk.jump = 5 * time.Second // past due, between the reading and the Reset
	l.armTimer()
	select {
	case <-l.timer.C():
	default:
		t.Fatalf("the timer due at %v did not fire with the clock at %v", due, clk.fakeClock.Now())
	}
}
