package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/daemon"
)

// TestStatusTreeShowsHelpersOutsideTheGroup: `corral status --tree NAME`
// lists, from the process's cgroup, a helper that left its process group
// and session; --usage shows the process count and the CPU time.
func TestStatusTreeShowsHelpersOutsideTheGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "helper")
	td := startDaemonOn(t, dir, `
[program.esc]
command = ["sh", "-c", "setsid sh -c 'echo $$ > \"$0\"; exec sleep 1000' \"$0\" </dev/null >/dev/null 2>&1 & exec sleep 1000", "`+pidFile+`"]
start_secs = "0s"
`)
	td.waitRunning(t, 1)
	var helper int
	for deadline := time.Now().Add(hang); helper == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the helper never wrote its pid")
		}
		b, _ := os.ReadFile(pidFile)
		helper, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	out, err := runCLI(td, "status", "--tree", "--json", "esc")
	if err != nil {
		t.Fatal(err)
	}
	var trees []daemon.ProcessTree
	if err := json.Unmarshal(out, &trees); err != nil || len(trees) != 1 {
		t.Fatalf("status --tree --json: %s (%v)", out, err)
	}
	tr := trees[0]
	if tr.Cgroup == "" {
		t.Fatalf("no cgroup: the daemon runs without cgroups (%s); this test needs a writable cgroup v2 hierarchy", out)
	}
	var pids []int
	for _, p := range tr.Processes {
		pids = append(pids, p.Pid)
	}
	if len(pids) != 2 || !contains(pids, tr.Pid) || !contains(pids, helper) {
		t.Fatalf("tree pids %v, want the main process %d and the helper %d", pids, tr.Pid, helper)
	}
	if tr.CPUUsec == nil {
		t.Fatalf("no CPU time from cpu.stat: %s", out)
	}
	text, err := runCLI(td, "status", "--tree", "esc")
	if err != nil || !strings.Contains(string(text), strconv.Itoa(helper)+" (ppid") {
		t.Fatalf("status --tree: %s (%v); want the helper %d listed", text, err, helper)
	}
	wide, err := runCLI(td, "status", "--usage")
	if err != nil || !strings.Contains(string(wide), "PROCS") || !strings.Contains(strings.Join(strings.Fields(string(wide)), " "), "esc "+strconv.Itoa(tr.Pid)+" 2 ") {
		t.Fatalf("status --usage: %s (%v); want esc with 2 processes", wide, err)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
