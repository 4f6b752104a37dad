package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/corralhq/corral/client"
	"github.com/corralhq/corral/daemon"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory, unmounted at
// cleanup (root only, as CI runs the tests).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs (the test needs root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
	}
}

// With the state directory's disk full, `corral add` must not print "added"
// and exit 0: the daemon answers 500 with the reason and the CLI exits 1;
// the program is not there, and once there is room the same add works.
func TestAddOnAFullStateDiskFailsAndExitsOne(t *testing.T) {
	state := mountTmpfs(t, "256k")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "corral.toml")
	body := "[daemon]\nsocket = \"corral.sock\"\nstate_dir = \"" + state + "\"\nlog_dir = \"logs\"\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	td := &testDaemon{dir: dir, client: client.New(filepath.Join(dir, "corral.sock"))}
	t.Cleanup(func() { td.client.Close() })
	td.cmd = spawnTestDaemon(t, dir, cfg, nil)
	td.waitRunning(t, 0)

	filler := fill(t, state)
	// A definition larger than the free pages the state file has: its
	// write must grow the file, which the full disk refuses.
	big := "BIG=" + strings.Repeat("x", 64<<10)
	add := func() (string, int) {
		c := exec.Command(os.Args[0], "add", "web", "--env", big, "--", "sleep", "1000")
		c.Env = append(os.Environ(), runMainEnv+"=1", "CORRAL_SOCKET="+td.client.Socket(), "WORK="+dir)
		out, err := c.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return string(out), c.ProcessState.ExitCode()
	}
	out, code := add()
	if code != 1 || strings.Contains(out, "web: added") || !strings.Contains(out, "no space left on device") || !strings.Contains(out, "not added") {
		t.Fatalf("corral add on a full disk: exit %d, output %q; want exit 1 and the reason, not \"web: added\"", code, out)
	}
	if sts, err := runCLI(td, "status", "--json"); err != nil || strings.Contains(string(sts), `"web"`) {
		t.Fatalf("status after the failed add: %s, %v", sts, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if out, code := add(); code != 0 || !strings.Contains(out, "web: added") {
		t.Fatalf("corral add with room again: exit %d, output %q", code, out)
	}
	td.waitRunning(t, 1)
}

// A 5xx answer whose results are all successes (the action went ahead but
// was not saved) is still a failure for the CLI.
func TestUnsavedActionIsAFailureForTheCLI(t *testing.T) {
	ce := &client.Error{Status: 500, Message: "not saved to the state file: ...", Results: []daemon.Result{{Name: "web"}}}
	var out strings.Builder
	err := printResults(&out, "stop", []string{"web"}, ce.Results, ce)
	if err == nil || !strings.Contains(err.Error(), "not saved") {
		t.Fatalf("printResults of a 500 with successful results: %v", err)
	}
	if out.String() != "web: stopped\n" {
		t.Fatalf("output %q", out.String())
	}
}
