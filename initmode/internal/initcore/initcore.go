// Package initcore holds the monitor side of `corral init --config`
// (package initmode/programs): the signals init catches with os/signal, the
// monitor it reaps with, and the event feed. Command mode (package
// initmode, and the small corral-init binary) does not use it: it has a
// loop of its own and catches signals with package sigqueue.
package initcore

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/corralhq/corral/monitor"
)

// NewMonitor starts a monitor that reaps everything. As PID 1 every orphan
// of the namespace comes to corral anyway; anywhere else it must ask for
// them by becoming a child subreaper.
func NewMonitor(log *slog.Logger) (*monitor.Monitor, *monitor.Subscription, error) {
	m, err := monitor.New(monitor.Options{Subreaper: os.Getpid() != 1, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	// A large queue: orphan reaps come as events too, and a missed marker
	// only costs a re-read of the state.
	sub, err := m.Subscribe(4096)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, sub, nil
}

// Events feeds a subscription into a channel, so it can be selected on with
// signals. It ends when done is closed or the monitor stops.
func Events(sub *monitor.Subscription, done <-chan struct{}) <-chan monitor.Event {
	ch := make(chan monitor.Event)
	go func() {
		defer close(ch)
		for {
			e, err := sub.Next(context.Background())
			if err != nil {
				return
			}
			select {
			case ch <- e:
			case <-done:
				return
			}
		}
	}()
	return ch
}

// NotifySignals subscribes to every signal init handles. SIGCHLD is not
// among them: the monitor owns it.
func NotifySignals() chan os.Signal {
	ch := make(chan os.Signal, 64)
	signal.Notify(ch, HandledSignals()...)
	return ch
}

// HandledSignals lists every catchable signal but SIGCHLD and SIGURG, which
// Go's runtime sends to its own threads to preempt goroutines. The
// reserved real-time signals 32 and 33 belong to the C library.
func HandledSignals() []os.Signal {
	var out []os.Signal
	for s := syscall.Signal(1); s <= 64; s++ {
		switch {
		case s == syscall.SIGKILL, s == syscall.SIGSTOP, s == syscall.SIGCHLD, s == syscall.SIGURG:
		case s == 32, s == 33:
		default:
			out = append(out, s)
		}
	}
	return out
}

// Dropped reports the signals init takes but never passes on: tini ignores
// SIGTTIN and SIGTTOU so that it never stops for a terminal it no longer
// controls. Catching them instead of ignoring them leaves the child with
// their default actions, as tini restores them in its child.
func Dropped(s syscall.Signal) bool {
	return s == syscall.SIGTTIN || s == syscall.SIGTTOU
}
