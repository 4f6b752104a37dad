package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/store"
)

// runDaemon starts a daemon on the configuration at path and returns it
// with a stop function that is safe to call twice (once by the test, once
// by the cleanup).
func runDaemon(t *testing.T, path string, mutate func(*config.Config)) (*Daemon, func()) {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	d, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	return d, stop
}

// At a daemon start the configuration file's autostart decides for its
// programs, as in supervisord: a user's stop or start of the last run is
// not remembered, except under restart = "unless-stopped" (Docker's
// policy, where an operator's stop persists). Programs added at run time
// keep their desired state.
func TestDesiredStateAcrossDaemonRestarts(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[program.plain]
command = "sleep 1000"
start_secs = "0s"
[program.off]
command = "sleep 1000"
start_secs = "0s"
autostart = false
[program.keep]
command = "sleep 1000"
start_secs = "0s"
restart = "unless-stopped"
[program.keepoff]
command = "sleep 1000"
start_secs = "0s"
restart = "unless-stopped"
autostart = false
`)
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	d, stop := runDaemon(t, path, nil)
	waitState(t, d, "plain", "RUNNING")
	waitState(t, d, "keep", "RUNNING")
	rt := config.NewProgram("rt")
	rt.Command = []string{"sleep", "1000"}
	rt.StartPeriod = 0
	if _, err := d.AddProgram(ctx, rt); err != nil {
		t.Fatal(err)
	}
	waitState(t, d, "rt", "RUNNING")
	if _, err := d.StopProcesses(ctx, []string{"plain", "keep", "rt"}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.StartProcesses(ctx, []string{"off", "keepoff"}, true); err != nil {
		t.Fatal(err)
	}
	stop()

	d, _ = runDaemon(t, path, nil)
	for name, want := range map[string]string{
		"plain":   "RUNNING", // autostart = true decides
		"off":     "STOPPED", // autostart = false decides
		"keep":    "STOPPED", // the stop persists
		"keepoff": "RUNNING", // the start persists
		"rt":      "STOPPED", // added at run time: kept
	} {
		waitState(t, d, name, want)
	}
	desired, err := d.store.DesiredStates()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := desired["plain"]; ok || desired["keep"] != store.Stopped || desired["keepoff"] != store.Started || desired["rt"] != store.Stopped {
		t.Errorf("recorded desired states %v", desired)
	}
}

// A state file from before each configuration had its own state directory
// (with desired states the file now overrides) is imported at the first
// start: the programs added at run time come back, and the import happens
// once, into the per-configuration directory only.
func TestSharedStateIsImportedIntoThePerConfigurationDirectory(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	path := writeConfig(t, dir, "[program.pool]\ncommand = \"sleep 1000\"\nstart_secs = \"0s\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()

	// The old layout: the daemon's state in the shared base itself.
	d, stop := runDaemon(t, path, func(c *config.Config) { c.Daemon.StateDir, c.Daemon.SharedStateDir = base, "" })
	rt := config.NewProgram("rt")
	rt.Command = []string{"sleep", "1000"}
	rt.StartPeriod = 0
	if _, err := d.AddProgram(ctx, rt); err != nil {
		t.Fatal(err)
	}
	waitState(t, d, "rt", "RUNNING")
	stop()
	old, err := store.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.SetDesired("pool", store.Stopped); err != nil { // as a shared file held it
		t.Fatal(err)
	}
	old.Close()

	perConfig := config.KeyedStateDir(base, path)
	keyed := func(c *config.Config) { c.Daemon.StateDir, c.Daemon.SharedStateDir = perConfig, base }
	d, stop = runDaemon(t, path, keyed)
	waitState(t, d, "pool", "RUNNING") // autostart decides, not the shared stop
	waitState(t, d, "rt", "RUNNING")
	if got := d.store.Path(); got != filepath.Join(perConfig, store.FileName) {
		t.Errorf("state file %s, want one in %s", got, perConfig)
	}
	if err := d.RemoveProgram(ctx, "rt"); err != nil {
		t.Fatal(err)
	}
	stop()

	// The next start does not import again: the removal holds.
	d, stop = runDaemon(t, path, keyed)
	waitState(t, d, "pool", "RUNNING")
	if _, err := d.Status("rt"); err == nil {
		t.Errorf("a removed program came back from the shared state file")
	}
	stop()

	// A state directory given explicitly (--state-dir) imports nothing.
	explicit := filepath.Join(dir, "explicit")
	d, _ = runDaemon(t, path, func(c *config.Config) { c.Daemon.StateDir, c.Daemon.SharedStateDir = explicit, base })
	waitState(t, d, "pool", "RUNNING")
	if _, err := d.Status("rt"); err == nil {
		t.Errorf("an explicit state directory imported the shared state file")
	}
	if _, err := os.Stat(filepath.Join(base, store.FileName)); err != nil {
		t.Errorf("shared state file: %v", err)
	}
}
