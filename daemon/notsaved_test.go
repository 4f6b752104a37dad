package daemon

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/corralhq/corral/config"
)

// With the state file failing every write (as on a full disk), no change is
// acknowledged as if it were durable: an add or a remove is undone or not
// done, a start or a stop goes ahead but returns ErrNotSaved. A program
// whose desired state is not kept across restarts (its autostart decides)
// has nothing to save: its stop is no error.
func TestChangesThatCannotBeSavedAreErrors(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, writeConfig(t, dir, `
[program.web]
command = "sleep 1000"
start_secs = "0s"
restart = "unless-stopped"
[program.plain]
command = "sleep 1000"
start_secs = "0s"
`))
	waitState(t, d, "web", "RUNNING")
	waitState(t, d, "plain", "RUNNING")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	prog := func(name string) config.Program {
		p := config.NewProgram(name)
		p.Command = []string{"sleep", "1000"}
		p.StartPeriod = 0
		return p
	}
	if _, err := d.AddProgram(ctx, prog("kept")); err != nil {
		t.Fatal(err)
	}
	waitState(t, d, "kept", "RUNNING")

	d.store.FailWrites(syscall.ENOSPC)
	notSaved := func(what string, err error, want ...string) {
		t.Helper()
		if !errors.Is(err, ErrNotSaved) {
			t.Fatalf("%s: error %v, want ErrNotSaved", what, err)
		}
		for _, w := range append(want, "no space left on device", d.store.Path()) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", what, err, w)
			}
		}
	}

	_, err := d.AddProgram(ctx, prog("new"))
	notSaved("add", err, `"new" not added`)
	if _, err := d.Status("new"); !errors.Is(err, ErrNoSuchProcess) {
		t.Errorf("a program whose add was not saved is listed: %v", err)
	}
	for _, p := range d.ProgramConfig() {
		if p.Name == "new" {
			t.Errorf("a program whose add was not saved is configured")
		}
	}

	notSaved("remove", d.RemoveProgram(ctx, "kept"), `"kept" not removed`)
	waitState(t, d, "kept", "RUNNING")

	_, err = d.StopProcesses(ctx, []string{"web"}, true)
	notSaved("stop", err, "the stop went ahead", "a daemon restart will not remember it")
	waitState(t, d, "web", "STOPPED")

	_, err = d.StartProcesses(ctx, []string{"web"}, true)
	notSaved("start", err, "the start went ahead")
	waitState(t, d, "web", "RUNNING")

	_, err = d.RestartProcesses(ctx, []string{"web"}, true)
	notSaved("restart", err, "the restart went ahead")
	waitState(t, d, "web", "RUNNING")

	if _, err := d.StopProcesses(ctx, []string{"plain"}, true); err != nil {
		t.Errorf("stop of a program whose autostart decides at the next start: %v", err)
	}
	waitState(t, d, "plain", "STOPPED")

	// Writable again: the same operations succeed.
	d.store.FailWrites(nil)
	if _, err := d.AddProgram(ctx, prog("new")); err != nil {
		t.Fatalf("add once writable: %v", err)
	}
	if err := d.RemoveProgram(ctx, "kept"); err != nil {
		t.Fatalf("remove once writable: %v", err)
	}
}
