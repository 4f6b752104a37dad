package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `corral daemon` on a corrupt state file (here emptied, as a full disk or
// a bad copy leaves it) refuses to run, says which file and what to do, and
// keeps the file aside (that a second start then begins empty is
// store.TestCorruptStateFileIsRefusedAndMovedAside's).
func TestDaemonRefusesACorruptStateFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "corral.toml")
	body := "[daemon]\nsocket = \"corral.sock\"\nstate_dir = \"state\"\nlog_dir = \"logs\"\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state", "state.db")
	if err := os.MkdirAll(filepath.Dir(state), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "daemon", "--config", cfg)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "WORK="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	t.Cleanup(func() { reapScript(dir) })
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("corral daemon on an empty state.db: %v (%s); want exit status 1", err, stderr.Bytes())
	}
	msg := stderr.String()
	for _, want := range []string{state + " is corrupt", "moved to " + state + ".corrupt-", "Start the daemon again to begin with an empty state"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	kept, _ := filepath.Glob(state + ".corrupt-*")
	if len(kept) != 1 {
		t.Errorf("files kept aside: %v, want one", kept)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state.db still in place: %v", err)
	}
}
