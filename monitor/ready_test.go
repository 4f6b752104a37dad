package monitor

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// groupChild returns a child of pid, waiting for the shell to fork it.
func groupChild(t *testing.T, pid int) int {
	t.Helper()
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
		if f := strings.Fields(string(b)); len(f) > 0 {
			c, _ := strconv.Atoi(f[0])
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d has no child", pid)
	return 0
}

func TestNotifyFromAcceptsMainPidOrGroupWithNotifyAll(t *testing.T) {
	for _, all := range []bool{false, true} {
		t.Run("NotifyAll="+strconv.FormatBool(all), func(t *testing.T) {
			m := newTestMonitor(t, Options{})
			sub, err := m.Subscribe(0)
			if err != nil {
				t.Fatal(err)
			}
			spec := sh("sleep 1000 & wait")
			spec.Name = "p"
			spec.Readiness = Readiness{Mode: ReadyNotified, NotifyAll: all}
			if err := m.Add(spec); err != nil {
				t.Fatal(err)
			}
			if err := m.Start("p"); err != nil {
				t.Fatal(err)
			}
			pid := next(t, sub, is("p", EventStarting)).Pid
			child := groupChild(t, pid)
			status := "loading"
			_, err = m.NotifyFrom(child, pid, Notice{Ready: true, Status: &status})
			if all != (err == nil) {
				t.Fatalf("notification from group member %d with NotifyAll=%v: err %v", child, all, err)
			}
			if !all {
				if _, err := m.NotifyFrom(pid, pid, Notice{Ready: true, Status: &status}); err != nil {
					t.Fatalf("notification from main pid: %v", err)
				}
			}
			next(t, sub, is("p", EventRunning))
			info, _ := m.Process("p")
			if !info.Ready.Ready || info.Ready.Status != "loading" {
				t.Fatalf("ready info %+v, want ready with status loading", info.Ready)
			}
			if _, err := m.NotifyFrom(1, 1, Notice{Ready: true}); err == nil {
				t.Fatal("a notification from a pid of no process was accepted")
			}
		})
	}
}

func TestReadyRefusesAnotherPid(t *testing.T) {
	m := newTestMonitor(t, Options{})
	spec := sh("exec sleep 1000")
	spec.Name = "p"
	spec.Readiness.Mode = ReadyNotified
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("p"); err != nil {
		t.Fatal(err)
	}
	info, _ := m.Process("p")
	if err := m.Ready("p", info.Pid+100000); err == nil {
		t.Fatal("Ready for a pid that is not the process's was accepted")
	}
	if info, _ := m.Process("p"); info.State != StateStarting {
		t.Fatalf("state %s, want STARTING until ready", info.State)
	}
}

func TestCompletedDependencyFailingFailsWaiterAtOnce(t *testing.T) {
	m := newTestMonitor(t, Options{})
	sub, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	migrate := sh("exit 3")
	migrate.Name = "migrate"
	migrate.StartRetries = 5 // it would retry; its dependant must not wait for that
	migrate.Backoff.Initial = time.Hour
	migrate.Readiness.Mode = ReadyExited
	app := sh("exec sleep 1000")
	app.Name = "app"
	app.Readiness.Deps = []Dep{{Name: "migrate", Cond: CondCompleted, Kind: Requires}}
	addAll(t, m, migrate, app)
	if err := m.Start("app"); err != nil {
		t.Fatal(err)
	}
	e := next(t, sub, is("app", EventFatal))
	if want := "dependency migrate:completed failed: exited with exit status 3"; e.Err != want {
		t.Fatalf("app FATAL with %q, want %q", e.Err, want)
	}
	if info, _ := m.Process("migrate"); info.State != StateBackoff {
		t.Fatalf("migrate %s, want BACKOFF (its own retries go on)", info.State)
	}
	_ = m.Stop("migrate")
}

func TestDependencyChainStartsInOrder(t *testing.T) {
	m := newTestMonitor(t, Options{})
	sub, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	db := sh("exec sleep 1000")
	db.Name = "db"
	db.Readiness.Mode = ReadyNotified
	migrate := sh("exit 0")
	migrate.Name = "migrate"
	migrate.Readiness = Readiness{Mode: ReadyExited, Deps: []Dep{{Name: "db", Kind: Requires}}}
	app := sh("exec sleep 1000")
	app.Name = "app"
	app.Readiness.Deps = []Dep{{Name: "migrate", Cond: CondCompleted, Kind: Requires}, {Name: "db", Kind: Requires}}
	addAll(t, m, db, migrate, app)
	// Starting app pulls in migrate, which pulls in db.
	if err := m.Start("app"); err != nil {
		t.Fatal(err)
	}
	dbPid := next(t, sub, is("db", EventStarting)).Pid
	for _, name := range []string{"migrate", "app"} {
		info, _ := m.Process(name)
		if info.State != StateWaiting {
			t.Fatalf("%s %s before db is ready, want WAITING", name, info.State)
		}
	}
	if info, _ := m.Process("app"); info.Ready.WaitingFor != "migrate:completed, db:ready" {
		t.Fatalf("app waits for %q", info.Ready.WaitingFor)
	}
	if err := m.Ready("db", dbPid); err != nil {
		t.Fatal(err)
	}
	var order []string
	for len(order) < 3 {
		e := next(t, sub, func(e Event) bool {
			return e.Type == EventRunning || (e.Type == EventExited && e.Name == "migrate") || (e.Type == EventStarting && e.Name == "app")
		})
		order = append(order, e.Name+":"+e.Type.String())
	}
	if got := strings.Join(order, " "); got != "db:running migrate:exited app:starting" {
		t.Fatalf("order %s", got)
	}
	if info, _ := m.Process("migrate"); !info.Ready.Completed {
		t.Fatalf("migrate not completed: %+v", info)
	}
}

func TestOnDependencyRestartRestartsDependant(t *testing.T) {
	m := newTestMonitor(t, Options{})
	sub, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	db := sh("exec sleep 1000")
	db.Name = "db"
	db.Restart.Kind = RestartAlways
	app := sh("exec sleep 1000")
	app.Name = "app"
	app.Readiness = Readiness{Deps: []Dep{{Name: "db", Kind: Requires}}, OnDepRestart: DepRestart}
	addAll(t, m, db, app)
	if err := m.Start("app"); err != nil {
		t.Fatal(err)
	}
	first := next(t, sub, is("app", EventRunning)).Pid
	if err := m.Signal("db", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next(t, sub, is("app", EventStopped))
	second := next(t, sub, is("app", EventRunning)).Pid
	if second == first {
		t.Fatalf("app kept pid %d across its dependency's restart", first)
	}
}

func TestWantsGoesOnWhenItsDependencyFails(t *testing.T) {
	m := newTestMonitor(t, Options{})
	sub, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	cache := Spec{Name: "cache", Path: "/nonexistent/cache"}
	app := sh("exec sleep 1000")
	app.Name = "app"
	app.Readiness.Deps = []Dep{{Name: "cache", Kind: Wants}, {Name: "missing", Kind: Wants}}
	addAll(t, m, cache, app)
	if err := m.Start("app"); err != nil {
		t.Fatal(err)
	}
	next(t, sub, is("cache", EventFatal))
	next(t, sub, is("app", EventRunning))
}

func TestWatchdogTriggerAbortsAtOnceAndStatusNotes(t *testing.T) {
	m := newTestMonitor(t, Options{})
	sub, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	spec := sh("exec sleep 1000")
	spec.Name = "p"
	spec.Rlimits = []Rlimit{{Resource: syscall.RLIMIT_CORE}}
	spec.Readiness.Watchdog = time.Hour
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("p"); err != nil {
		t.Fatal(err)
	}
	pid := next(t, sub, is("p", EventRunning)).Pid
	// The rlimit goes through the exec shim, this test binary: a SIGABRT
	// before it has exec'd sleep would end it as a Go program ends on one
	// (exit status 2), not as the program the notice speaks for.
	for deadline := time.Now().Add(hang); ; time.Sleep(time.Millisecond) {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); string(b) == "sleep\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the process did not exec sleep")
		}
	}
	status := "draining"
	for range 2 {
		if err := m.Notify("p", pid, Notice{Status: &status, Stopping: true}); err != nil {
			t.Fatal(err)
		}
	}
	if e := next(t, sub, is("p", EventStatus)); e.Err != "stopping draining" {
		t.Fatalf("status event %q, want %q", e.Err, "stopping draining")
	}
	if err := m.Notify("p", pid, Notice{WatchdogTrigger: true}); err != nil {
		t.Fatal(err)
	}
	e := next(t, sub, is("p", EventExited))
	if e.Exit.Signal != syscall.SIGABRT {
		t.Fatalf("exit %v after WATCHDOG=trigger, want SIGABRT", e.Exit)
	}
}

// addAll adds specs to m, failing the test on the first error.
func addAll(t *testing.T, m *Monitor, specs ...Spec) {
	t.Helper()
	for _, s := range specs {
		if err := m.Add(s); err != nil {
			t.Fatal(err)
		}
	}
}
