package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/corralhq/corral/health"
	"github.com/corralhq/corral/monitor"
)

// healthProgram is a sleeping program whose exec probe passes while flag
// exists.
func healthProgram(name, flag, action string) string {
	return `
[program.` + name + `]
command = "sleep 1000"
start_secs = "0s"
[program.` + name + `.health]
exec = ["test", "-e", "` + flag + `"]
interval = "50ms"
timeout = "5s"
retries = 2
on_unhealthy = "` + action + `"
`
}

func waitHealth(t *testing.T, d *Daemon, name string, want health.Status) health.State {
	t.Helper()
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		if st, ok := d.Health(name); ok && st.Status == want {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, _ := d.Health(name)
	t.Fatalf("%s never %q: %+v", name, want, st)
	return health.State{}
}

// TestOnUnhealthyRestartRestartsAndResetsHealth: a process that turns
// unhealthy is restarted (a new pid) and its health starts over: not
// healthy again until a probe of the new process passes.
func TestOnUnhealthyRestartRestartsAndResetsHealth(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ok")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, writeConfig(t, dir, healthProgram("app", flag, "restart")))
	changes := make(chan health.Change, 1000)
	d.OnHealthChange(func(c health.Change) { changes <- c })
	waitHealth(t, d, "app", health.StatusHealthy)
	before := waitState(t, d, "app", "RUNNING")
	if before.Health != "healthy" {
		t.Errorf("status shows health %q, want healthy", before.Health)
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	// unhealthy, then the restart: none while it stops, starting on the spawn.
	var seen []health.Status
	timeout := time.After(hang)
	for len(seen) == 0 || seen[len(seen)-1] != health.StatusStarting {
		select {
		case c := <-changes:
			if c.Name == "app" && (len(seen) > 0 || c.To == health.StatusUnhealthy) {
				seen = append(seen, c.To)
				if c.To == health.StatusHealthy {
					t.Fatalf("healthy with the flag removed: %v", seen)
				}
			}
		case <-timeout:
			t.Fatalf("no restart after unhealthy; changes %v", seen)
		}
	}
	if len(seen) != 3 || seen[1] != health.StatusNone {
		t.Errorf("changes %v: want unhealthy, none (stopping), starting", seen)
	}
	deadline := time.Now().Add(hang)
	var after ProcessStatus
	for {
		sts, err := d.Status("app")
		if err == nil && len(sts) == 1 && sts[0].State == "RUNNING" && sts[0].Pid != before.Pid {
			after = sts[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never running again with a new pid: %+v", sts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after.Health == "healthy" {
		t.Errorf("the new process shows the old health %q", after.Health)
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, d, "app", health.StatusHealthy)
}

func TestOnUnhealthyStopStopsTheProcess(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, writeConfig(t, dir, healthProgram("app", filepath.Join(dir, "never"), "stop")))
	waitState(t, d, "app", "STOPPED")
	if st, _ := d.Health("app"); st.Status != health.StatusNone {
		t.Errorf("a stopped process has health %q, want none", st.Status)
	}
}

func TestOnUnhealthyShutdownAsksForShutdown(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, writeConfig(t, dir, healthProgram("app", filepath.Join(dir, "never"), "shutdown")))
	select {
	case <-d.Quit():
	case <-time.After(hang):
		t.Fatal("an unhealthy program with on_unhealthy = shutdown did not ask for a shutdown")
	}
}

func TestOnUnhealthyIgnoreKeepsTheProcess(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, writeConfig(t, dir, healthProgram("app", filepath.Join(dir, "never"), "ignore")))
	before := waitState(t, d, "app", "RUNNING")
	waitHealth(t, d, "app", health.StatusUnhealthy)
	// Several more probes, all failing: still the same process.
	n := d.health.checker.Probes()
	for d.health.checker.Probes() < n+4 {
		time.Sleep(10 * time.Millisecond)
	}
	after := waitState(t, d, "app", "RUNNING")
	if after.Pid != before.Pid || after.Health != "unhealthy" {
		t.Errorf("pid %d -> %d, health %q: ignore must leave the process alone", before.Pid, after.Pid, after.Health)
	}
}

// TestHealthAnswersWhileTheLoopIsBusy blocks the monitor's loop (a spawn
// whose stdio callback waits) and reads health meanwhile: the health API
// reads a published snapshot, never the loop's queue.
func TestHealthAnswersWhileTheLoopIsBusy(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ok")
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, writeConfig(t, dir, healthProgram("app", flag, "ignore")))
	waitHealth(t, d, "app", health.StatusHealthy)
	entered, release := make(chan struct{}), make(chan struct{})
	err := d.mon.Add(monitor.Spec{Name: "blocker", Path: "true", Stdio: func() (_, _, _ *os.File, _ error) {
		close(entered)
		<-release
		return nil, nil, nil, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- d.mon.Start("blocker") }()
	t.Cleanup(func() { close(release); <-started })
	<-entered // the loop is inside the callback now
	statusDone := make(chan struct{})
	go func() { _, _, _ = d.mon.Snapshot(); close(statusDone) }()
	snap := d.HealthSnapshot()
	if snap["app"].Status != health.StatusHealthy {
		t.Errorf("snapshot while the loop is busy: %+v", snap)
	}
	if st, ok := d.Health("app"); !ok || st.Status != health.StatusHealthy {
		t.Errorf("Health while the loop is busy: %+v %v", st, ok)
	}
	select {
	case <-statusDone:
		t.Fatal("the loop answered a snapshot: it was not blocked, the test proves nothing")
	default:
	}
}
