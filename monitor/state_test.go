package monitor

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// harness drives one process through the state machine with a fake clock.
type harness struct {
	t   *testing.T
	m   *Monitor
	clk *fakeClock
	sub *Subscription
}

func (h *harness) expect(typ EventType) Event {
	h.t.Helper()
	return next(h.t, h.sub, is("p", typ))
}

func (h *harness) start() {
	h.t.Helper()
	if err := h.m.Start("p"); err != nil {
		h.t.Fatalf("start: %v", err)
	}
}

func (h *harness) stop() {
	h.t.Helper()
	if err := h.m.Stop("p"); err != nil {
		h.t.Fatalf("stop: %v", err)
	}
}

func (h *harness) kill() {
	h.t.Helper()
	if err := h.m.Signal("p", syscall.SIGKILL); err != nil {
		h.t.Fatalf("kill: %v", err)
	}
}

// ready declares the named process's current pid ready.
func (h *harness) ready(name string) {
	h.t.Helper()
	info, err := h.m.Process(name)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.m.Ready(name, info.Pid); err != nil {
		h.t.Fatalf("ready %s: %v", name, err)
	}
}

// addD adds d, the dependency of the dependency edges.
func (h *harness) addD(spec Spec) {
	h.t.Helper()
	spec.Name = "d"
	if err := h.m.Add(spec); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { stopQuietly(h.m, "d") })
}

func sh(script string) Spec {
	return Spec{Path: "/bin/sh", Args: []string{"sh", "-c", script}}
}

// TestStateTransitions walks every edge of the state table in doc.go, each
// from a real process, with time moved by a fake clock.
func TestStateTransitions(t *testing.T) {
	long := sh("exec sleep 1000")
	quickFail := sh("exit 3")
	quickFail.MinUptime = time.Hour
	quickFail.StartRetries = 1
	quickOK := sh("exit 0")
	alwaysLong := long
	alwaysLong.Restart = RestartPolicy{Kind: RestartAlways}
	alwaysLong.MinUptime = time.Second
	ignoresTerm := sh("trap '' TERM; sleep 1000 & wait")
	ignoresTerm.StopAsGroup = true
	startFatal := Spec{Path: "/nonexistent/binary", FatalRetry: time.Minute}
	runLong := long
	runLong.MinUptime = time.Second
	notifyLong := runLong
	notifyLong.Readiness = Readiness{Mode: ReadyNotified, Timeout: 5 * time.Second}
	notifyLong.StartRetries = 1
	notifyNow := long
	notifyNow.Readiness.Mode = ReadyNotified
	notifyFails := quickFail
	notifyFails.StartRetries = 0
	notifyFails.Readiness.Mode = ReadyNotified
	oneshot := quickOK
	oneshot.MinUptime = time.Hour
	oneshot.Readiness.Mode = ReadyExited
	watched := alwaysLong
	watched.Readiness.Watchdog = 5 * time.Second
	watched.Rlimits = []Rlimit{{Resource: syscall.RLIMIT_CORE}} // SIGABRT dumps no core
	needsD := long
	needsD.Readiness.Deps = []Dep{{Name: "d", Cond: CondReady, Kind: Requires}}

	tests := []struct {
		from, to State
		via      string
		spec     Spec
		reach    func(h *harness) // brings p to (or just before) from
		act      func(h *harness) // causes the transition
		want     EventType
	}{
		{StateStopped, StateStarting, "start", runLong,
			func(h *harness) {},
			func(h *harness) { h.start() }, EventStarting},
		{StateStarting, StateRunning, "MinUptime elapsed", runLong,
			func(h *harness) { h.start(); h.expect(EventStarting) },
			func(h *harness) { h.clk.Advance(time.Second) }, EventRunning},
		{StateStarting, StateBackoff, "exit before MinUptime", quickFail,
			func(h *harness) {},
			func(h *harness) { h.start() }, EventBackoff},
		{StateStarting, StateFatal, "exit before MinUptime, retries used up", quickFail,
			func(h *harness) { h.start(); h.expect(EventBackoff) },
			func(h *harness) { h.clk.Advance(100 * time.Millisecond) }, EventFatal},
		{StateStarting, StateStopping, "stop", runLong,
			func(h *harness) { h.start(); h.expect(EventStarting) },
			func(h *harness) { h.stop() }, EventStopping},
		{StateBackoff, StateStarting, "backoff delay elapsed", quickFail,
			func(h *harness) { h.start(); h.expect(EventBackoff) },
			func(h *harness) { h.clk.Advance(100 * time.Millisecond) }, EventStarting},
		{StateBackoff, StateStopped, "stop", quickFail,
			func(h *harness) { h.start(); h.expect(EventBackoff) },
			func(h *harness) { h.stop() }, EventStopped},
		{StateRunning, StateExited, "exit, policy no", quickOK,
			func(h *harness) {},
			func(h *harness) { h.start() }, EventExited},
		{StateRunning, StateBackoff, "exit, policy always, ran < reset_after", alwaysLong,
			func(h *harness) { h.start(); h.clk.Advance(time.Second); h.expect(EventRunning) },
			func(h *harness) { h.kill() }, EventBackoff},
		{StateRunning, StateStarting, "exit, policy always, ran >= reset_after", alwaysLong,
			func(h *harness) {
				h.start()
				h.clk.Advance(time.Second)
				h.expect(EventRunning)
				h.clk.Advance(10 * time.Second)
			},
			func(h *harness) { h.kill() }, EventStarting},
		{StateRunning, StateStopping, "stop", runLong,
			func(h *harness) { h.start(); h.clk.Advance(time.Second); h.expect(EventRunning) },
			func(h *harness) { h.stop() }, EventStopping},
		{StateStopping, StateStopped, "exit", runLong,
			func(h *harness) { h.start(); h.expect(EventStarting); h.stop(); h.expect(EventStopping) },
			func(h *harness) {}, EventStopped},
		{StateStopping, StateStopped, "grace elapsed, SIGKILL to the group", ignoresTerm,
			func(h *harness) { h.start(); h.expect(EventRunning); h.stop(); h.expect(EventStopping) },
			func(h *harness) { h.clk.Advance(10 * time.Second) }, EventStopped},
		{StateExited, StateStarting, "start", quickOK,
			func(h *harness) { h.start(); h.expect(EventExited) },
			func(h *harness) { h.start() }, EventStarting},
		{StateFatal, StateStarting, "start (spawn succeeds)", quickFail,
			func(h *harness) { h.start(); h.expect(EventBackoff); h.clk.Advance(time.Second); h.expect(EventFatal) },
			func(h *harness) { h.start() }, EventStarting},
		{StateStopped, StateFatal, "start, spawn error", startFatal,
			func(h *harness) {},
			func(h *harness) { _ = h.m.Start("p") }, EventFatal},
		{StateFatal, StateFatal, "fatal_retry elapsed, spawn fails again", startFatal,
			func(h *harness) { _ = h.m.Start("p"); h.expect(EventFatal) },
			func(h *harness) { h.clk.Advance(time.Minute) }, EventFatal},
		{StateStarting, StateRunning, "Ready for its pid (notify)", notifyLong,
			func(h *harness) { h.start(); h.expect(EventStarting); h.clk.Advance(time.Second) },
			func(h *harness) { h.ready("p") }, EventRunning},
		{StateStarting, StateBackoff, "not ready within Readiness.Timeout", notifyLong,
			func(h *harness) { h.start(); h.expect(EventStarting) },
			func(h *harness) { h.clk.Advance(5 * time.Second) }, EventBackoff},
		{StateStarting, StateExited, "one-shot exits 0 (completed)", oneshot,
			func(h *harness) {},
			func(h *harness) { h.start() }, EventExited},
		{StateRunning, StateBackoff, "watchdog miss: SIGABRT, policy always", watched,
			func(h *harness) { h.start(); h.clk.Advance(time.Second); h.expect(EventRunning) },
			func(h *harness) { h.clk.Advance(5 * time.Second) }, EventBackoff},
		{StateStopped, StateWaiting, "start, dependency not ready", needsD,
			func(h *harness) { h.addD(notifyLong) },
			func(h *harness) { h.start() }, EventWaiting},
		{StateWaiting, StateStarting, "dependency ready", needsD,
			func(h *harness) { h.addD(notifyNow); h.start(); h.expect(EventWaiting) },
			func(h *harness) { h.ready("d") }, EventStarting},
		{StateWaiting, StateFatal, "required dependency goes FATAL", needsD,
			func(h *harness) { h.addD(notifyFails) },
			func(h *harness) { h.start() }, EventFatal},
		{StateWaiting, StateStopped, "stop", needsD,
			func(h *harness) { h.addD(notifyLong); h.start(); h.expect(EventWaiting) },
			func(h *harness) { h.stop() }, EventStopped},
	}
	for _, tt := range tests {
		t.Run(tt.from.String()+"->"+tt.to.String()+" on "+tt.via, func(t *testing.T) {
			clk := newFakeClock()
			m := newTestMonitor(t, Options{Clock: clk})
			sub, err := m.Subscribe(0)
			if err != nil {
				t.Fatal(err)
			}
			spec := tt.spec
			spec.Name = "p"
			if err := m.Add(spec); err != nil {
				t.Fatal(err)
			}
			h := &harness{t: t, m: m, clk: clk, sub: sub}
			tt.reach(h)
			tt.act(h)
			// The edges seen while acting must leave from and end in to.
			var seen []Event
			for {
				e := next(t, sub, func(e Event) bool { return e.Name == "p" })
				seen = append(seen, e)
				if e.Type == tt.want {
					break
				}
			}
			left := false
			for _, e := range seen {
				left = left || e.From == tt.from
			}
			last := seen[len(seen)-1]
			if !left || last.State != tt.to {
				t.Fatalf("events %s, want an edge out of %s ending in %s", edges(seen), tt.from, tt.to)
			}
			stopQuietly(m, "p")
		})
	}
}

func edges(es []Event) string {
	out := ""
	for _, e := range es {
		out += fmt.Sprintf("[%s %s->%s] ", e.Type, e.From, e.State)
	}
	return out
}

// stopQuietly stops p with SIGKILL semantics so fake-clock tests end at once.
func stopQuietly(m *Monitor, name string) {
	info, err := m.Process(name)
	if err != nil || info.Pid == 0 {
		return
	}
	_ = syscall.Kill(-info.Pid, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	_ = m.StopWait(ctx, name)
}
