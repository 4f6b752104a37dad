package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/config"
)

const hang = 60 * time.Second

func writeConfig(t *testing.T, dir, programs string) string {
	t.Helper()
	path := filepath.Join(dir, "corral.toml")
	body := "[daemon]\nsocket = \"" + dir + "/sock\"\nstate_dir = \"" + dir + "/state\"\nlog_dir = \"" + dir + "/logs\"\n\n" + programs
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startDaemon(t *testing.T, path string) *Daemon {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return startConfig(t, cfg)
}

// startConfig starts a daemon on cfg and shuts it down at cleanup.
func startConfig(t *testing.T, cfg *config.Config) *Daemon {
	t.Helper()
	d, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	return d
}

func waitState(t *testing.T, d *Daemon, name, state string) ProcessStatus {
	t.Helper()
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		sts, err := d.Status(name)
		if err == nil && len(sts) == 1 && sts[0].State == state {
			return sts[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	sts, _ := d.Status(name)
	t.Fatalf("%s never reached %s: %+v", name, state, sts)
	return ProcessStatus{}
}

func TestReloadAppliesADiffAndKeepsUntouchedPids(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[program.keep]
command = "sleep 1000"
start_secs = "0s"
[program.change]
command = "sleep 1000"
start_secs = "0s"
[program.drop]
command = "sleep 1000"
start_secs = "0s"
`)
	d := startDaemon(t, path)
	keep := waitState(t, d, "keep", "RUNNING")
	change := waitState(t, d, "change", "RUNNING")
	waitState(t, d, "drop", "RUNNING")

	writeConfig(t, dir, `
[program.keep]
command = "sleep 1000"
start_secs = "0s"
[program.change]
command = "sleep 2000"
start_secs = "0s"
[program.add]
command = "sleep 1000"
start_secs = "0s"
`)
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	df, err := d.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(df.Added, ",") != "add" || strings.Join(df.Changed, ",") != "change" || strings.Join(df.Removed, ",") != "drop" {
		t.Fatalf("diff %+v", df)
	}
	if st := waitState(t, d, "keep", "RUNNING"); st.Pid != keep.Pid {
		t.Errorf("untouched program restarted: pid %d -> %d", keep.Pid, st.Pid)
	}
	if st := waitState(t, d, "change", "RUNNING"); st.Pid == change.Pid {
		t.Errorf("changed program kept its pid %d", st.Pid)
	}
	waitState(t, d, "add", "RUNNING")
	if _, err := d.Status("drop"); err == nil {
		t.Errorf("removed program still listed")
	}
}

func TestOutputReachesTheLogFile(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[program.hello]
command = ["sh", "-c", "echo out; echo err >&2"]
restart = "no"
start_secs = "0s"
`)
	d := startDaemon(t, path)
	st := waitState(t, d, "hello", "EXITED")
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		out, _ := os.ReadFile(st.StdoutLog)
		errb, _ := os.ReadFile(st.StderrLog)
		if string(out) == "out\n" && string(errb) == "err\n" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("logs %s / %s never got the output", st.StdoutLog, st.StderrLog)
}
