package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadRefusesIncludedFifoAndDevZero runs the daemon on a supervisord
// configuration whose [include] glob then matches a named pipe, and later a
// symlink to /dev/zero. Each SIGHUP reload fails at once with an error
// naming the file, the daemon keeps its programs, answers the API, and
// stops on SIGTERM. (A pipe used to block the reload on the daemon's signal
// loop, SIGTERM included, until someone wrote to it; /dev/zero was read
// until memory ran out.)
func TestReloadRefusesIncludedFifoAndDevZero(t *testing.T) {
	var dir string
	td := startTestDaemon(t, "", func(cmd *exec.Cmd) {
		// Swap the TOML file for a supervisord one in the same directory.
		dir = filepath.Dir(cmd.Args[3])
		ini := filepath.Join(dir, "supervisord.conf")
		writeTestFile(t, ini, "[unix_http_server]\nfile = %(here)s/corral.sock\n\n[supervisord]\npidfile = %(here)s/corral.pid\nchildlogdir = %(here)s/logs\n\n[include]\nfiles = conf.d/*.conf\n")
		writeTestFile(t, filepath.Join(dir, "conf.d", "a.conf"), "[program:a]\ncommand = sleep 100000\nstartsecs = 0\n")
		cmd.Args = []string{cmd.Args[0], "daemon", "--config", ini, "--state-dir", filepath.Join(dir, "state")}
	})
	td.waitRunning(t, 1)

	fifo := filepath.Join(dir, "conf.d", "b.conf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Should a reader block on it after all, a writer that comes and goes
	// releases it.
	t.Cleanup(func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	hupAndWaitForLog(t, td, fifo+": not a regular file (a named pipe)")
	if err := os.Remove(fifo); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "conf.d", "z.conf")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	hupAndWaitForLog(t, td, zero+": not a regular file (a character device)")

	// Still serving, with its program, and SIGTERM stops it (the cleanup
	// of startTestDaemon sends it and fails if the daemon does not exit).
	sts, err := td.client.Status(context.Background())
	if err != nil || len(sts) != 1 || sts[0].Name != "a" || sts[0].State != "RUNNING" {
		t.Fatalf("status after the failed reloads: %+v, %v", sts, err)
	}
}

// hupAndWaitForLog sends SIGHUP to the daemon and waits until its log
// reports the failed reload with want.
func hupAndWaitForLog(t *testing.T, td *testDaemon, want string) {
	t.Helper()
	if err := td.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(td.dir, "daemon.log"))
		for line := range bytes.Lines(b) {
			if bytes.Contains(line, []byte("reload failed")) && strings.Contains(string(line), want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP, the daemon log never said the reload failed with %q", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
