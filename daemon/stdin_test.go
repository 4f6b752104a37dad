package daemon

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A program with stdin = "pipe" reads what SendStdin writes, keeps running
// while nothing is written (cat does not see end of file), and gets a new
// pipe at each restart.
func TestSendStdinReachesTheProcess(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, writeConfig(t, dir, `
[program.cat]
command = ["cat"]
stdin = "pipe"
start_secs = "0s"
restart = "always"
stdout = { file = "`+dir+`/cat.log" }
`))
	first := waitState(t, d, "cat", "RUNNING")
	if err := d.SendStdin("cat", []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(dir, "cat.log"), "hello\n")
	if _, err := d.RestartProcesses(t.Context(), []string{"cat"}, true); err != nil {
		t.Fatal(err)
	}
	second := waitState(t, d, "cat", "RUNNING")
	if second.Pid == first.Pid {
		t.Fatalf("not restarted: pid %d", second.Pid)
	}
	if err := d.SendStdin("cat", []byte("again\n")); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	waitFile(t, filepath.Join(dir, "cat.log"), "hello\nagain\n")
}

// The TOML default is /dev/null: cat ends at once, and SendStdin says there
// is no pipe (ErrNoStdin, supervisord's NO_FILE).
func TestStdinNullIsTheTOMLDefault(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, writeConfig(t, dir, `
[program.cat]
command = ["sh", "-c", "cat; echo eof; sleep 1000.701"]
start_secs = "0s"
stdout = { file = "`+dir+`/cat.log" }
`))
	waitState(t, d, "cat", "RUNNING")
	waitFile(t, filepath.Join(dir, "cat.log"), "eof\n")
	if err := d.SendStdin("cat", []byte("x")); !errors.Is(err, ErrNoStdin) {
		t.Errorf("SendStdin with stdin = null: %v, want ErrNoStdin", err)
	}
}

// A process that does not read fills the pipe: SendStdin fails at once
// with ErrStdinFull and the number of bytes written, never waits; a process
// that closed its stdin gives ErrNoStdin.
func TestSendStdinNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, writeConfig(t, dir, `
[program.deaf]
command = ["sleep", "1000.702"]
stdin = "pipe"
start_secs = "0s"

[program.closed]
command = ["sh", "-c", "exec 0<&-; exec sleep 1000.703"]
stdin = "pipe"
start_secs = "0s"
`))
	waitState(t, d, "deaf", "RUNNING")
	waitState(t, d, "closed", "RUNNING")
	big := bytes.Repeat([]byte("x"), 1<<20)
	done := make(chan error, 1)
	go func() { done <- d.SendStdin("deaf", big) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrStdinFull) || !strings.Contains(err.Error(), "of 1048576 bytes written") {
			t.Errorf("1 MiB to a process that does not read: %v, want ErrStdinFull with the count", err)
		}
	case <-time.After(hang):
		t.Fatal("SendStdin blocked on a full pipe")
	}
	// The shell closes its stdin before sleep starts; wait for sleep.
	waitFor(t, "closed's shell to exec sleep", func() bool {
		st := waitState(t, d, "closed", "RUNNING")
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/comm")
		return string(b) == "sleep\n"
	})
	if err := d.SendStdin("closed", []byte("x\n")); !errors.Is(err, ErrNoStdin) {
		t.Errorf("to a process that closed its stdin: %v, want ErrNoStdin", err)
	}
	if err := d.SendStdin("nope", []byte("x")); !errors.Is(err, ErrNoSuchProgram) && !errors.Is(err, ErrNoSuchProcess) {
		t.Errorf("to an unknown name: %v", err)
	}
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	waitFor(t, path+" to hold "+want, func() bool {
		b, _ := os.ReadFile(path)
		return string(b) == want
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
