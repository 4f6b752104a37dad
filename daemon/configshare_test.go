package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envProgram is a program that appends its BASE, A and CORRAL_PROCESS
// variables to out at each start, then sleeps.
func envProgram(name, out, a string) string {
	script := `echo "$BASE|$A|$` + ProcessEnv + `" >> "$0"; exec sleep 1000`
	return fmt.Sprintf("[program.%s]\ncommand = [\"sh\", \"-c\", %q, %q]\nstart_secs = \"0s\"\nrestart = \"always\"\nbackoff = { initial = \"0s\" }\nenvironment = { A = %q }\n",
		name, script, out, a)
}

// waitLines waits until path holds n lines and returns them.
func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(hang)
	for {
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) > 0 && len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want %d lines", path, b, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReloadedEnvironmentReachesTheNextSpawn: a process's environment is
// the daemon's base, then its program's environment, then its mark
// (without cgroups), put together at each spawn. A reload that changes a
// program's environment restarts it with the new one; a program the reload
// kept gets its own environment again when it restarts later.
func TestReloadedEnvironmentReachesTheNextSpawn(t *testing.T) {
	t.Setenv("CORRAL_NO_CGROUPS", "1")
	dir := t.TempDir()
	path := filepath.Join(dir, "corral.toml")
	changeOut, keepOut := filepath.Join(dir, "change.out"), filepath.Join(dir, "keep.out")
	write := func(a string) {
		body := "[daemon]\nstate_dir = \"" + dir + "/state\"\nlog_dir = \"" + dir + "/logs\"\nenvironment = { BASE = \"base\" }\n\n" +
			envProgram("change", changeOut, a) + envProgram("keep", keepOut, "kept")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("1")
	d := startDaemon(t, path)
	if got := waitLines(t, changeOut, 1); got[0] != "base|1|change" {
		t.Fatalf("first start saw %q, want base|1|change", got[0])
	}
	keep := waitState(t, d, "keep", "RUNNING")

	write("2")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	df, err := d.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(df.Changed, ",") != "change" || len(df.Added)+len(df.Removed) != 0 {
		t.Fatalf("diff %+v, want change changed", df)
	}
	if got := waitLines(t, changeOut, 2); got[1] != "base|2|change" {
		t.Errorf("after the reload change saw %q, want base|2|change", got[1])
	}

	if err := syscall.Kill(keep.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if got := waitLines(t, keepOut, 2); got[0] != "base|kept|keep" || got[1] != "base|kept|keep" {
		t.Errorf("keep saw %q, want base|kept|keep twice", got)
	}
}

// TestReloadLeavesNoProgramOnTheReplacedConfig: after a reload every
// program of the file shares the new configuration's definition when it
// did not change, and one a partial reload left as it was keeps its
// running definition in a copy of its own: none points into the replaced
// configuration, which can then be freed.
func TestReloadLeavesNoProgramOnTheReplacedConfig(t *testing.T) {
	dir := t.TempDir()
	prog := func(name, cmd string) string {
		return fmt.Sprintf("[program.%s]\ncommand = %q\nstart_secs = \"0s\"\n", name, cmd)
	}
	path := writeConfig(t, dir, prog("keep", "sleep 1000")+prog("change", "sleep 1000")+prog("later", "sleep 1000"))
	d := startDaemon(t, path)
	d.mu.Lock()
	old := d.cfg.Programs
	for i := range old {
		if p := d.programs[old[i].Name]; p == nil || p.cfg != &old[i] {
			t.Errorf("program %s does not share the configuration's definition", old[i].Name)
		}
	}
	d.mu.Unlock()

	// A blank line first: every definition moves one line down.
	writeConfig(t, dir, "\n"+prog("keep", "sleep 1000")+prog("change", "sleep 2000")+prog("later", "sleep 3000"))
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if _, err := d.Reload(ctx, "change"); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, p := range d.programs {
		for i := range old {
			if p.cfg == &old[i] {
				t.Errorf("program %s still points into the replaced configuration", name)
			}
		}
	}
	cur := d.cfg.Programs
	for i := range cur {
		p := d.programs[cur[i].Name]
		switch name := cur[i].Name; name {
		case "keep", "change":
			if p.cfg != &cur[i] {
				t.Errorf("program %s does not share the new configuration's definition", name)
			}
		case "later":
			if p.cfg == &cur[i] || strings.Join(p.cfg.Command, " ") != "sleep 1000" {
				t.Errorf("program later, not reloaded, has definition %v, want its running one (sleep 1000) in its own copy", p.cfg.Command)
			}
		}
	}
	if d.programs["keep"].cfg.Source.Line == old[0].Source.Line {
		t.Errorf("keep's definition kept its old line %d", old[0].Source.Line)
	}
}
