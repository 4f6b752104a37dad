package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHooksRunWithOutputInTheProgramLog: pre_start before the start,
// stop_command instead of the stop signal (the process ignores TERM and
// the command sends nothing, so the stop timeout's SIGKILL ends it) and
// post_stop after the exit, each writing into the program's log, in that
// order.
func TestHooksRunWithOutputInTheProgramLog(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "w.log")
	path := writeConfig(t, dir, fmt.Sprintf(`
[program.w]
command = ["sh", "-c", "trap '' TERM; echo main; exec sleep 1000"]
pre_start = ["sh", "-c", "echo pre-start"]
stop_command = ["sh", "-c", "echo stop-command"]
post_stop = ["sh", "-c", "echo post-stop"]
stop_timeout = "200ms"
start_secs = "0s"
restart = "no"
stdout = { file = %q }
`, log))
	d := startDaemon(t, path)
	waitState(t, d, "w", "RUNNING")
	waitLog(t, log, "pre-start\nmain\n")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if res, err := d.StopProcesses(ctx, []string{"w"}, true); err != nil {
		t.Fatalf("stop: %+v %v", res, err)
	}
	waitLog(t, log, "pre-start\nmain\nstop-command\npost-stop\n")
	if st := waitState(t, d, "w", "STOPPED"); st.LastExit == nil || st.LastExit.Signal != "KILL" {
		t.Fatalf("last exit %+v, want SIGKILL at the stop timeout", st.LastExit)
	}
}

func waitLog(t *testing.T, file, want string) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for {
		b, _ := os.ReadFile(file)
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %q", file, b, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
