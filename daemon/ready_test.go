package daemon

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needTool fails the test when a tool the test drives is missing: CI
// installs it, and a skipped test must not pass for a run one.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is needed (Debian package %s): %v", name, map[string]string{"systemd-notify": "systemd"}[name], err)
	}
}

// gate returns a shell snippet that waits until the test creates file.
func gate(file string) string {
	return "while [ ! -e " + file + " ]; do sleep 0.02; done"
}

func open(t *testing.T, file string) {
	t.Helper()
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// stillStarting checks that a process is STARTING (not RUNNING) once its
// pid is up and notifying nothing yet.
func stillStarting(t *testing.T, d *Daemon, name string) ProcessStatus {
	t.Helper()
	st := waitState(t, d, name, "STARTING")
	if st.Pid == 0 {
		t.Fatalf("%s STARTING without a pid: %+v", name, st)
	}
	return st
}

func TestSystemdNotifyReadyAndStatus(t *testing.T) {
	needTool(t, "systemd-notify")
	// systemd-notify (252) sends with its parent's pid, the program's
	// main pid here, so notify_access = "main" accepts it.
	for _, access := range []string{"all", "main"} {
		t.Run("notify_access="+access, func(t *testing.T) {
			dir := t.TempDir()
			path := writeConfig(t, dir, `
[program.db]
command = ["sh", "-c", "`+gate(dir+"/go")+`; systemd-notify --ready --status='serving requests'; exec sleep 1000"]
ready = "notify"
notify_access = "`+access+`"
start_secs = "0s"
`)
			d := startDaemon(t, path)
			stillStarting(t, d, "db")
			open(t, dir+"/go")
			st := waitState(t, d, "db", "RUNNING")
			if st.StatusText != "serving requests" {
				t.Fatalf("status text %q, want %q", st.StatusText, "serving requests")
			}
		})
	}
}

func TestNotifyFromAnotherGroupMemberIgnoredWithNotifyAccessMain(t *testing.T) {
	needTool(t, "systemd-notify")
	dir := t.TempDir()
	// systemd-notify runs as a child of the main pid: with "main" it may
	// not declare the program ready; the program stays STARTING until
	// ready_timeout kills it.
	path := writeConfig(t, dir, `
[program.db]
command = ["sh", "-c", "sh -c 'systemd-notify --ready --status=ignored; true'; touch `+dir+`/sent; exec sleep 1000"]
ready = "notify"
notify_access = "main"
ready_timeout = "2s"
start_secs = "0s"
start_retries = 0
`)
	d := startDaemon(t, path)
	st := waitState(t, d, "db", "FATAL")
	if _, err := os.Stat(dir + "/sent"); err != nil {
		t.Fatalf("the notification was never sent: %v", err)
	}
	if !strings.Contains(st.Error, "not ready within 2s") || st.StatusText != "" {
		t.Fatalf("db %+v, want FATAL for not being ready, without the ignored status", st)
	}
}

func TestNotificationFdReady(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[program.svc]
command = ["sh", "-c", "`+gate(dir+"/go")+`; echo >&5; exec sleep 1000 5>&-"]
ready = "fd:5"
start_secs = "0s"
`)
	d := startDaemon(t, path)
	stillStarting(t, d, "svc")
	open(t, dir+"/go")
	waitState(t, d, "svc", "RUNNING")
}

// logTimes reads "WORD NANOS" lines from a program's log, which does not
// exist before the program's first output.
func logTimes(t *testing.T, file string) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				out[f[0]] = n
			}
		}
	}
	return out
}

func TestDependencyChainStartsNothingEarly(t *testing.T) {
	needTool(t, "systemd-notify")
	dir := t.TempDir()
	stamp := func(word string) string { return "echo " + word + " $(date +%s%N)" }
	path := writeConfig(t, dir, `
[program.app]
command = ["sh", "-c", "`+stamp("start")+`; exec sleep 1000"]
requires = ["db", "migrate:completed"]
start_secs = "0s"
stdout = { file = "`+dir+`/app.log" }

[program.migrate]
command = ["sh", "-c", "`+stamp("start")+`; sleep 0.2; `+stamp("done")+`"]
type = "oneshot"
requires = ["db:ready"]
stdout = { file = "`+dir+`/migrate.log" }

[program.db]
command = ["sh", "-c", "`+stamp("start")+`; sleep 0.3; `+stamp("ready")+`; systemd-notify --ready; exec sleep 1000"]
ready = "notify"
notify_access = "all"
start_secs = "0s"
stdout = { file = "`+dir+`/db.log" }
`)
	d := startDaemon(t, path)
	st := waitState(t, d, "app", "WAITING")
	if st.WaitingFor == "" {
		t.Fatalf("app WAITING without saying for what: %+v", st)
	}
	waitState(t, d, "app", "RUNNING")
	if st := waitState(t, d, "migrate", "EXITED"); !st.Completed {
		t.Fatalf("migrate not completed: %+v", st)
	}
	// Output reaches the logs through the capture: wait for the lines.
	var db, migrate, app map[string]int64
	for deadline := time.Now().Add(hang); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		db, migrate, app = logTimes(t, dir+"/db.log"), logTimes(t, dir+"/migrate.log"), logTimes(t, dir+"/app.log")
		if db["ready"] > 0 && migrate["done"] > 0 && app["start"] > 0 {
			break
		}
	}
	if !(db["ready"] > 0 && migrate["start"] > db["ready"] && migrate["done"] > 0 && app["start"] > migrate["done"]) {
		t.Fatalf("started early: db %v, migrate %v, app %v", db, migrate, app)
	}
}

func TestRequiredDependencyFatalFailsWaiterAtOnce(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[program.db]
command = ["sh", "-c", "`+gate(dir+"/go")+`; exit 1"]
ready = "notify"
start_retries = 0

[program.app]
command = "sleep 1000"
requires = ["db"]
`)
	d := startDaemon(t, path)
	waitState(t, d, "app", "WAITING")
	open(t, dir+"/go")
	st := waitState(t, d, "app", "FATAL")
	if want := "dependency db:ready failed: FATAL"; !strings.HasPrefix(st.Error, want) {
		t.Fatalf("app error %q, want it to start with %q", st.Error, want)
	}
	if st.Started != nil || st.LastExit != nil {
		t.Fatalf("app was spawned: %+v", st)
	}
}

func TestWatchdogMissAbortsAndRestarts(t *testing.T) {
	needTool(t, "systemd-notify")
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[program.svc]
command = ["sh", "-c", "echo $WATCHDOG_USEC > `+dir+`/usec; systemd-notify --ready; ulimit -c 0; exec sleep 1000"]
ready = "notify"
notify_access = "all"
watchdog = "1s"
start_secs = "0s"
restart = "on-failure"
`)
	d := startDaemon(t, path)
	first := waitState(t, d, "svc", "RUNNING")
	var st ProcessStatus
	for deadline := time.Now().Add(hang); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		sts, err := d.Status("svc")
		if err == nil && len(sts) == 1 && sts[0].LastExit != nil {
			st = sts[0]
			break
		}
	}
	if st.LastExit == nil || st.LastExit.Signal != "ABRT" || st.LastExit.Pid != first.Pid {
		t.Fatalf("after a watchdog miss: %+v, want pid %d killed by SIGABRT", st.LastExit, first.Pid)
	}
	if st.Restarts == 0 {
		t.Fatalf("not restarted after the watchdog miss: %+v", st)
	}
	b, err := os.ReadFile(filepath.Join(dir, "usec"))
	if err != nil || strings.TrimSpace(string(b)) != "1000000" {
		t.Fatalf("WATCHDOG_USEC was %q (%v), want 1000000", b, err)
	}
}

func TestDependencyCycleRefusedAtReloadChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[program.a]
command = "sleep 1000"
start_secs = "0s"
`)
	d := startDaemon(t, path)
	before := waitState(t, d, "a", "RUNNING")
	writeConfig(t, dir, `
[program.a]
command = "sleep 1000"
start_secs = "0s"
requires = ["b"]

[program.b]
command = "sleep 1000"
after = ["a:started"]
`)
	_, err := d.Reload(context.Background())
	want := path + `:10: program "a": key "requires": dependency cycle: a -> b -> a`
	if err == nil || err.Error() != want {
		t.Fatalf("reload error %v\nwant %s", err, want)
	}
	sts, err := d.Status("all")
	if err != nil || len(sts) != 1 || sts[0].Pid != before.Pid || sts[0].State != "RUNNING" {
		t.Fatalf("a refused reload changed something: %+v (%v)", sts, err)
	}
}
