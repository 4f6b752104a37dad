package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/corralhq/corral/health"
)

// TestReadyHealthyWaitsForTheFirstPassingProbe: a ready = "healthy"
// program stays STARTING while its probe fails and becomes RUNNING with the
// first passing one; a program that requires it NAME:healthy waits until
// then, and starts after.
func TestReadyHealthyWaitsForTheFirstPassingProbe(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ok")
	d := startDaemon(t, writeConfig(t, dir, `
[program.db]
command = "sleep 1000"
start_secs = "0s"
ready = "healthy"
[program.db.health]
exec = ["test", "-e", "`+flag+`"]
interval = "50ms"
timeout = "5s"
retries = 100
on_unhealthy = "ignore"

[program.app]
command = "sleep 1000"
start_secs = "0s"
requires = ["db:healthy"]
`))
	// Probes fail (no flag): db is STARTING, app waits for it.
	if st := waitState(t, d, "app", "WAITING"); st.WaitingFor == "" {
		t.Fatalf("app WAITING without saying for what: %+v", st)
	}
	// A few failing probes later, still not ready.
	waitProbes(t, d, "db", 3)
	if sts, err := d.Status("db"); err != nil || len(sts) != 1 || sts[0].State != "STARTING" {
		t.Fatalf("db with failing probes: %+v, %v; want STARTING", sts, err)
	}
	if sts, err := d.Status("app"); err != nil || len(sts) != 1 || sts[0].State != "WAITING" {
		t.Fatalf("app before db is healthy: %+v, %v; want WAITING", sts, err)
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, d, "db", health.StatusHealthy)
	waitState(t, d, "db", "RUNNING")
	waitState(t, d, "app", "RUNNING")
}

// waitProbes waits until name's check has at least n results.
func waitProbes(t *testing.T, d *Daemon, name string, n int) {
	t.Helper()
	for deadline := time.Now().Add(hang); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, ok := d.Health(name); ok && len(st.Results) >= n {
			return
		}
	}
	t.Fatalf("%s: fewer than %d probe results", name, n)
}
