package daemon

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/store"
)

// startGroupLeader starts `sleep` in a process group of its own, as the
// monitor starts every program, and ends it at cleanup.
func startGroupLeader(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "1000")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	// The environment is read from /proc: wait for the exec to be done.
	deadline := time.Now().Add(hang)
	for {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cmdline")
		if strings.HasPrefix(string(b), "sleep\x00") {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("sleep never started")
		}
		time.Sleep(time.Millisecond)
	}
}

// reclaimWith runs a new daemon's reclaim over a store holding sess and
// left, and returns what it killed.
func reclaimWith(t *testing.T, sess *store.Session, left map[string]*store.Running) []int {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if sess != nil {
		if err := st.SetSession(*sess); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetRunningBatch(left); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{store: st, log: slog.New(slog.NewTextHandler(io.Discard, nil)), runID: newRunID()}
	killed := d.reclaim()
	if running, _ := st.RunningProcesses(); len(running) != 0 {
		t.Errorf("records left after reclaim: %v", running)
	}
	if now, ok, _ := st.PreviousSession(); !ok || now.Token != d.runID || now.BootID != bootID() {
		t.Errorf("this run not recorded: %+v %v", now, ok)
	}
	return killed
}

// assertKilled checks whether cmd died of SIGKILL (want) or still runs.
func assertKilled(t *testing.T, cmd *exec.Cmd, killed []int, want bool) {
	t.Helper()
	pid := cmd.Process.Pid
	if slices.Contains(killed, pid) != want {
		t.Fatalf("reclaim killed %v; pid %d killed: want %v", killed, pid, want)
	}
	if want {
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("pid %d ended with %v, want SIGKILL", pid, err)
		}
		return
	}
	var ws syscall.WaitStatus
	if got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); got != 0 || err != nil {
		t.Fatalf("pid %d ended (%v, %v): it should have been left alone", pid, ws, err)
	}
}

func TestReclaimMatchesExactStartTimeAndBoot(t *testing.T) {
	boot := bootID()
	if boot == "" {
		t.Fatal("no /proc/sys/kernel/random/boot_id")
	}
	for _, tc := range []struct {
		name   string
		boot   string
		offset int64 // recorded start time minus the real one, in ticks
		killed bool
	}{
		{"pid reused by a process started later", boot, -1, false},
		{"pid reused by a process started earlier", boot, +1, false},
		{"exact start time, same boot", boot, 0, true},
		{"exact start time, another boot", "another-boot", 0, false},
		{"exact start time, run unknown", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := startGroupLeader(t)
			pid := cmd.Process.Pid
			ticks := startTicks(pid)
			if ticks == 0 {
				t.Fatalf("no start time for pid %d", pid)
			}
			var sess *store.Session
			if tc.name != "exact start time, run unknown" {
				sess = &store.Session{BootID: tc.boot, Token: newRunID()}
			}
			killed := reclaimWith(t, sess, map[string]*store.Running{
				"web": {Pid: pid, StartTicks: uint64(int64(ticks) + tc.offset)},
			})
			assertKilled(t, cmd, killed, tc.killed)
		})
	}
}

func TestReclaimFindsUnrecordedProcessesByTheRunToken(t *testing.T) {
	token := newRunID()
	mine := startGroupLeader(t, RunEnv+"="+token)
	other := startGroupLeader(t, RunEnv+"="+newRunID())
	killed := reclaimWith(t, &store.Session{BootID: bootID(), Token: token}, nil)
	assertKilled(t, mine, killed, true)
	assertKilled(t, other, killed, false)
}

func TestRunEnvironReplacesAnInheritedToken(t *testing.T) {
	env := runEnviron([]string{"A=1", RunEnv + "=outer"}, []string{"B=2"}, "inner")
	if got := strings.Join(env, " "); got != "A=1 B=2 "+RunEnv+"=inner" {
		t.Fatalf("environment %q", got)
	}
}
