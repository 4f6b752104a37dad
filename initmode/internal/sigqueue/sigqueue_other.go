//go:build !amd64

package sigqueue

import (
	"errors"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

var open atomic.Bool

// A Queue holds the signals caught since the last Wait.
type Queue struct{ ch chan os.Signal }

// Catch subscribes to sigs with os/signal (this architecture has no
// handler of corral's own) and returns the Queue that Wait reads them from.
func Catch(sigs []syscall.Signal) (*Queue, error) {
	if !open.CompareAndSwap(false, true) {
		return nil, errors.New("sigqueue: a Queue is already open")
	}
	q := &Queue{ch: make(chan os.Signal, 128)}
	list := make([]os.Signal, len(sigs))
	for i, s := range sigs {
		list[i] = s
	}
	signal.Notify(q.ch, list...)
	return q, nil
}

// Wait returns the signals caught since the last Wait (or Catch), sleeping
// until there is one.
func (q *Queue) Wait() (Set, error) {
	s := (<-q.ch).(syscall.Signal)
	set := Set(1) << (s - 1)
	for {
		select {
		case s := <-q.ch:
			set |= Set(1) << (s.(syscall.Signal) - 1)
		default:
			return set, nil
		}
	}
}

// Close stops the subscription and releases the Queue.
func (q *Queue) Close() {
	signal.Stop(q.ch)
	open.Store(false)
}
