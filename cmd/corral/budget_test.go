package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/client"
)

// underPrlimit runs the daemon with RLIMIT_NOFILE set to nofile (soft and
// hard) by util-linux's prlimit, which then execs it (same pid).
func underPrlimit(t testing.TB, nofile int) func(*exec.Cmd) {
	t.Helper()
	return underPrlimits(t, nofile, nofile)
}

func underPrlimits(t testing.TB, soft, hard int) func(*exec.Cmd) {
	t.Helper()
	path, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit (Debian util-linux) is needed: %v", err)
	}
	return func(c *exec.Cmd) {
		c.Path = path
		c.Args = append([]string{"prlimit", fmt.Sprintf("--nofile=%d:%d", soft, hard), "--"}, c.Args...)
	}
}

// pipedPrograms is n programs whose stdout and stderr are each a pipe (to
// AUTO log files).
func pipedPrograms(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[program.%s%03d]\ncommand = \"sleep 100000\"\nstart_secs = \"0s\"\n", prefix, i)
	}
	return b.String()
}

// The daemon's own reserve with one listener: 293 (see daemon.ComputeBudget)
// and 257 for the socket. Under a limit of 600, 5 programs with two pipes
// each need 560 and fit; 30 need 610 and do not.
const (
	budgetLimit = 600
	budgetFits  = 5
	budgetOver  = 30
)

// runDaemonOnce runs `corral daemon` on a configuration that must not start
// and returns its exit error and output.
func runDaemonOnce(t *testing.T, dir, body string, nofile int) (string, error) {
	t.Helper()
	cfg := filepath.Join(dir, "corral.toml")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "daemon", "--config", cfg)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "WORK="+dir)
	underPrlimit(t, nofile)(cmd)
	out, err := cmd.CombinedOutput()
	if left := reapScript(dir); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
	return string(out), err
}

func daemonSection(dir string) string {
	return fmt.Sprintf("[daemon]\nsocket = %q\nstate_dir = %q\nlog_dir = %q\n", dir+"/corral.sock", dir+"/state", dir+"/logs")
}

func TestDaemonRefusesConfigOverDescriptorBudget(t *testing.T) {
	dir := t.TempDir()
	out, err := runDaemonOnce(t, dir, daemonSection(dir)+"\n"+pipedPrograms("p", budgetOver), budgetLimit)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("daemon: %v, want exit 1; output:\n%s", err, out)
	}
	for _, want := range []string{
		"30 programs (30 processes) need 610 file descriptors", "60 for their output pipes",
		"RLIMIT_NOFILE allows 600 (hard limit 600)", "LimitNOFILE=", "ulimit -n", "minfds", "redirect_stderr",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "RLIMIT_NOFILE allows"); n != 1 {
		t.Errorf("the limit is reported %d times, want once:\n%s", n, out)
	}
}

// The daemon runs with its soft RLIMIT_NOFILE raised to the hard one (Go
// does it at start, to one below the hard limit so that it can tell a
// prlimit(1) from outside; its children get the original soft limit back),
// so a configuration that fits the hard limit starts.
func TestDaemonRaisesSoftDescriptorLimitToHard(t *testing.T) {
	dir := t.TempDir()
	td := startDaemonOn(t, dir, pipedPrograms("p", budgetOver), underPrlimits(t, budgetLimit, 2000))
	td.waitRunning(t, budgetOver)
	if got := openFilesLimit(t, td.cmd.Process.Pid); got != "1999 2000" {
		t.Errorf("daemon's open files limit: %q, want 1999 2000", got)
	}
}

// openFilesLimit is the soft and hard "Max open files" of pid.
func openFilesLimit(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); strings.HasPrefix(line, "Max open files") && len(f) >= 5 {
			return f[3] + " " + f[4]
		}
	}
	t.Fatalf("no open files limit in:\n%s", b)
	return ""
}

// A minfds above what even root may set refuses the start with
// supervisord's message.
func TestMinFDsAboveTheSystemMaximumRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	body := strings.Replace(daemonSection(dir), "[daemon]\n", "[daemon]\nmin_fds = 1073741824\n", 1) + "\n" + pipedPrograms("p", 1)
	out, err := runDaemonOnce(t, dir, body, budgetLimit)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("daemon: %v, want exit 1; output:\n%s", err, out)
	}
	want := `The minimum number of file descriptors required to run this process is 1073741824 as per the "minfds" config file setting. The current environment will only allow you to open 600 file descriptors.`
	if !strings.Contains(out, want) {
		t.Errorf("output does not say %q:\n%s", want, out)
	}
}

// A reload or a runtime add past the budget is refused and the programs
// keep running, same pids.
func TestReloadAndAddOverDescriptorBudgetRefused(t *testing.T) {
	dir := t.TempDir()
	td := startDaemonOn(t, dir, pipedPrograms("p", budgetFits), underPrlimit(t, budgetLimit))
	td.waitRunning(t, budgetFits)
	ctx := context.Background()
	pids := func() map[string]int {
		sts, err := td.client.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, st := range sts {
			m[st.Name] = st.Pid
		}
		return m
	}
	before := pids()

	body := "[daemon]\nsocket = \"corral.sock\"\nstate_dir = \"state\"\nlog_dir = \"logs\"\n\n" + pipedPrograms("p", budgetOver)
	if err := os.WriteFile(filepath.Join(dir, "corral.toml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := td.client.Reload(ctx)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusConflict ||
		!strings.Contains(ce.Message, "nothing changed") || !strings.Contains(ce.Message, "need 610 file descriptors") {
		t.Fatalf("reload: %v, want 409 saying nothing changed and 610 descriptors", err)
	}

	// 5 programs use 560 of 600: 21 more processes with two pipes do not fit.
	_, err = td.client.AddProgram(ctx, "many", map[string]any{"command": "sleep 100000", "numprocs": 21, "process_name": "many%(process_num)d"})
	if !errors.As(err, &ce) || ce.Status != http.StatusConflict || !strings.Contains(ce.Message, "need 602 file descriptors") {
		t.Fatalf("add: %v, want 409 naming 602 descriptors", err)
	}

	time.Sleep(200 * time.Millisecond) // let a wrongly applied change show
	after := pids()
	if len(after) != len(before) {
		t.Errorf("processes after the refusals: %v, before: %v", after, before)
	}
	for name, pid := range before {
		if after[name] != pid {
			t.Errorf("%s: pid %d, was %d", name, after[name], pid)
		}
	}
	td.waitRunning(t, budgetFits)
}
