package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/api"
	"github.com/corralhq/corral/client"
)

// buildCorral builds a real corral binary reporting version
// (daemon.Version) into dir, with the race detector when this test binary
// has it: the upgrade needs main (its fork thread and --handoff-check),
// which the test binary only imitates.
func buildCorral(t testing.TB, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "corral-"+version)
	args := []string{"build", "-o", out, "-ldflags", "-X github.com/corralhq/corral/daemon.Version=" + version}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build corral %s: %v\n%s", version, err, b)
	}
	return out
}

// startDaemonBinary starts `bin daemon` on programs in dir (see startDaemonOn).
func startDaemonBinary(t *testing.T, bin, programs string) *testDaemon {
	t.Helper()
	td := startDaemonOn(t, t.TempDir(), programs, func(c *exec.Cmd) {
		c.Path = bin
		c.Args[0] = bin
	})
	return td
}

// corralCLI runs `bin args...` against td's socket and returns its output
// and exit code.
func corralCLI(t *testing.T, td *testDaemon, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CORRAL_SOCKET="+filepath.Join(td.dir, "corral.sock"))
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// procFacts are what must not change for a process across an upgrade.
type procFacts struct {
	Pid, Ppid  int
	StartTicks string
	State      string
	Restarts   uint64
}

func statusFacts(t *testing.T, td *testDaemon) map[string]procFacts {
	t.Helper()
	st, err := td.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]procFacts{}
	for _, p := range st {
		f := procFacts{Pid: p.Pid, State: p.State, Restarts: p.Restarts}
		if p.Pid != 0 {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid) + "/stat")
			if err != nil {
				t.Fatal(err)
			}
			fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
			f.Ppid, _ = strconv.Atoi(fields[1])
			f.StartTicks = fields[19]
		}
		out[p.Name] = f
	}
	return out
}

// daemonFds counts the daemon's descriptors once its client connections
// are gone.
func daemonFds(t *testing.T, td *testDaemon) int {
	t.Helper()
	return len(daemonFdList(t, td))
}

// daemonFdList lists the daemon's descriptors as "N -> target", for the
// message of a failed comparison.
func daemonFdList(t *testing.T, td *testDaemon) []string {
	t.Helper()
	td.client.Close()
	// Not /proc/PID/fd: that is the spawner thread's own small table (the
	// main thread's); every other thread shares the daemon's.
	pid := td.cmd.Process.Pid
	dir := "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(otherThread(t, pid)) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out = append(out, e.Name()+" -> "+target)
	}
	return out
}

// stableFds returns the daemon's descriptor count once it reads the same
// three times in a row, 100 ms apart (closed client connections gone).
func stableFds(t *testing.T, td *testDaemon) int {
	t.Helper()
	n, same := daemonFds(t, td), 0
	for deadline := time.Now().Add(10 * time.Second); same < 2 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		m := daemonFds(t, td)
		if m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

// ownFds keeps, from a daemon's descriptor list, those it opened itself
// that an upgrade must carry or reopen: not the ones it inherited from this
// test process (the same file open here), not log files, not the pipes in
// skip.
func ownFds(list []string, skip map[string]bool) []string {
	var out []string
	for _, l := range list {
		n, target, _ := strings.Cut(l, " -> ")
		if mine, err := os.Readlink("/proc/self/fd/" + n); err == nil && mine == target && !strings.HasPrefix(target, "socket:") && !strings.HasPrefix(target, "anon_inode:") {
			continue
		}
		if skip[target] || strings.HasSuffix(target, ".log") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// settledFds waits until the daemon holds want descriptors (connections of
// clients that went close asynchronously) and returns the count it ends
// with, want or not.
func settledFds(t *testing.T, td *testDaemon, want int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	n := daemonFds(t, td)
	for n != want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		n = daemonFds(t, td)
	}
	return n
}

func daemonZombies(pid int) []string {
	var z []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(pid) {
			z = append(z, e.Name())
		}
	}
	return z
}

// upgradePrograms has a program of every kind: a millisecond counter, one
// in BACKOFF (an hour's), one STOPPED, and one that exits 3 as soon as its
// parent's program image changes, that is during the upgrade.
const upgradePrograms = `
[program.counter]
command = ["python3", "-c", "import time\ni=0\nwhile True:\n print(i, flush=True)\n i+=1\n time.sleep(0.001)"]
stdout = { file = "counter.log" }

[program.backoff]
command = "false"
restart = "always"
backoff = { initial = "1h", max = "2h" }

[program.stopped]
command = "sleep 3600"
autostart = false

[program.exit3]
command = ["python3", "-c", "import os,time\np='/proc/%d/exe'%os.getppid()\ne=os.readlink(p)\nprint('armed', flush=True)\nwhile os.readlink(p)==e: time.sleep(0.002)\nos._exit(3)"]
stdout = { file = "exit3.log" }
restart = "always"
backoff = { initial = "1h", max = "2h" }
`

func TestUpgradeKeepsEveryProgram(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("this test needs python3 (Debian package python3)")
	}
	bin := t.TempDir()
	v1, v2 := buildCorral(t, bin, "1.0.0-old"), buildCorral(t, bin, "2.0.0-new")
	td := startDaemonBinary(t, v1, upgradePrograms)
	ctx := context.Background()
	waitStates(t, td, map[string]string{"counter": "RUNNING", "backoff": "BACKOFF", "stopped": "STOPPED", "exit3": "RUNNING"})
	// exit3 has read its parent's image: it exits when that changes.
	waitFor(t, "exit3 armed", func() bool {
		b, _ := os.ReadFile(filepath.Join(td.dir, "exit3.log"))
		return string(b) == "armed\n"
	})
	before := statusFacts(t, td)
	stableFds(t, td)
	fdListBefore := daemonFdList(t, td)
	// exit3 exits during the upgrade: its pipes end with it.
	exit3Pipes := map[string]bool{}
	for _, fd := range []string{"1", "2"} {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", before["exit3"].Pid, fd))
		exit3Pipes[target] = true
	}

	// An event stream and a log follower continue across the upgrade: the
	// old image ends them, saying where to resume, and the client goes on
	// with the new one.
	ectx, ecancel := context.WithCancel(ctx)
	defer ecancel()
	events, err := td.client.Events(ectx)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	type seen struct {
		ev  api.Event
		err error
	}
	evs := make(chan seen, 1024)
	go func() {
		for {
			ev, _, err := events.Next()
			evs <- seen{ev, err}
			if err != nil {
				return
			}
		}
	}()
	follow, err := td.client.Logs(ectx, "counter", client.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer follow.Close()
	var fmu sync.Mutex
	var followed bytes.Buffer
	folDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := follow.Read(buf)
			fmu.Lock()
			followed.Write(buf[:n])
			fmu.Unlock()
			if err != nil {
				folDone <- err
				return
			}
		}
	}()
	followedLines := func() int {
		fmu.Lock()
		defer fmu.Unlock()
		return strings.Count(followed.String(), "\n")
	}
	waitFor(t, "the follower reads the counter", func() bool { return followedLines() > 0 })
	linesBefore := followedLines()

	out, code := corralCLI(t, td, v1, "upgrade", "--binary", v2)
	if code != 0 {
		t.Fatalf("corral upgrade exited %d: %s", code, out)
	}
	if !strings.Contains(out, "1.0.0-old -> 2.0.0-new") {
		t.Errorf("corral upgrade said %q", out)
	}
	info, err := td.client.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Pid != td.cmd.Process.Pid || info.Version != "2.0.0-new" {
		t.Errorf("after the upgrade: pid %d version %s, want pid %d version 2.0.0-new", info.Pid, info.Version, td.cmd.Process.Pid)
	}

	// The same event stream sees the new image's events, numbered on from
	// the old image's (never from 1), with any gap counted by a "missed":
	// the stream may resume after the start below (a race with the
	// requests), so its "starting" may be one of the missed and its
	// "running" the first seen.
	waitStates(t, td, map[string]string{"exit3": "BACKOFF"})
	if _, err := td.client.Start(ctx, []string{"stopped"}, false); err != nil {
		t.Fatal(err)
	}
	var last uint64
	var missed uint64
	for started := false; !started; {
		var s seen
		select {
		case s = <-evs:
		case <-time.After(hang):
			t.Fatal("the event stream saw no event of the new image")
		}
		if s.err != nil {
			t.Fatalf("the event stream ended across the upgrade: %v", s.err)
		}
		switch ev := s.ev; {
		case ev.Type == "missed":
			missed = ev.Missed
		case ev.Seq == 0: // health events are not numbered
		default:
			if last > 0 && ev.Seq != last+1+missed {
				t.Fatalf("event %d after %d (%d counted missed): the sequence broke", ev.Seq, last, missed)
			}
			last, missed = ev.Seq, 0
			started = ev.Name == "stopped" && (ev.Type == "starting" || ev.Type == "running")
		}
	}
	if _, err := td.client.Stop(ctx, []string{"stopped"}, true); err != nil {
		t.Fatal(err)
	}
	// The same follower reads on, from the byte after the last it had.
	waitFor(t, "the follower reads on after the upgrade", func() bool { return followedLines() >= max(2000, linesBefore+500) })
	select {
	case err := <-folDone:
		t.Fatalf("the log follower ended across the upgrade: %v", err)
	default:
	}

	after := statusFacts(t, td)
	for _, name := range []string{"counter", "backoff", "stopped"} {
		b, a := before[name], after[name]
		if b != a {
			t.Errorf("%s changed across the upgrade: %+v -> %+v", name, b, a)
		}
		if b.Pid != 0 && a.Ppid != td.cmd.Process.Pid {
			t.Errorf("%s: parent %d, want the daemon %d", name, a.Ppid, td.cmd.Process.Pid)
		}
	}
	if b, a := before["exit3"], after["exit3"]; a.Restarts != b.Restarts+1 || a.State != "BACKOFF" {
		t.Errorf("exit3: %+v -> %+v, want one more restart, in BACKOFF", b, a)
	}
	p, err := td.client.Inspect(ctx, "exit3")
	if err != nil {
		t.Fatal(err)
	}
	if e := p.Status.LastExit; e == nil || e.Code != 3 || e.Pid != before["exit3"].Pid {
		t.Errorf("exit3 last exit %+v, want code 3 of pid %d", e, before["exit3"].Pid)
	}
	if z := daemonZombies(td.cmd.Process.Pid); len(z) > 0 {
		t.Errorf("zombies under the daemon: %v", z)
	}
	events.Close()
	follow.Close()
	// Compared: what the daemon holds for itself and its running programs.
	// Not compared: descriptors it inherited (close-on-exec since its
	// start, so the exec closes them, by design), exit3's pipes, and log
	// files, which a stream opens when bytes come (see logs.Options). The
	// daemon closes the stream's and the follower's connections after
	// the client did: the list is read until it settles, not once.
	b := ownFds(fdListBefore, exit3Pipes)
	fdListAfter := daemonFdList(t, td)
	a := ownFds(fdListAfter, exit3Pipes)
	for deadline := time.Now().Add(10 * time.Second); len(a) != len(b) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		fdListAfter = daemonFdList(t, td)
		a = ownFds(fdListAfter, exit3Pipes)
	}
	if len(a) != len(b) {
		t.Errorf("daemon descriptors (its own, log files aside): %d before the upgrade, %d after\nbefore: %q\nafter: %q", len(b), len(a), fdListBefore, fdListAfter)
	}
	checkCounterLog(t, filepath.Join(td.dir, "counter.log"), 2000)
	fmu.Lock()
	defer fmu.Unlock()
	checkCounterText(t, "followed log", followed.String(), 2000)
}

// waitStates polls until each named process is in its state.
func waitStates(t *testing.T, td *testDaemon, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(hang)
	var last map[string]string
	for time.Now().Before(deadline) {
		st, err := td.client.Status(context.Background())
		last = map[string]string{}
		ok := err == nil
		for _, p := range st {
			last[p.Name] = p.State
		}
		for n, s := range want {
			ok = ok && last[n] == s
		}
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("states never became %v; last %v", want, last)
}

func checkCounterLog(t *testing.T, path string, atLeast int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkCounterText(t, path, string(b), atLeast)
}

// checkCounterText asserts text is 0, 1, 2, ... one a line, each exactly
// once, up to a last line that may be cut short.
func checkCounterText(t *testing.T, what, text string, atLeast int) {
	t.Helper()
	lines := strings.Split(text, "\n")
	lines = lines[:len(lines)-1]
	if len(lines) < atLeast {
		t.Fatalf("%s: %d lines, want >= %d", what, len(lines), atLeast)
	}
	for i, l := range lines {
		if l != strconv.Itoa(i) {
			t.Fatalf("%s: line %d is %q, want %d: output lost or duplicated", what, i+1, l, i)
		}
	}
}

// TestUpgradeRefusedLeavesDaemonUntouched: each failure is reported by
// `corral upgrade` (exit 1, the reason), and the old image runs on with
// every process as it was.
func TestUpgradeRefusedLeavesDaemonUntouched(t *testing.T) {
	v1 := buildCorral(t, t.TempDir(), "1.0.0-old")
	td := startDaemonBinary(t, v1, `
[program.a]
command = "sleep 3600"
`)
	waitStates(t, td, map[string]string{"a": "RUNNING"})
	dir := t.TempDir()
	refuses := filepath.Join(dir, "refuses")
	if err := os.WriteFile(refuses, []byte("#!/bin/sh\necho 'corral-handoff refused: handoff state format 1 is not one this binary reads (it reads [2])'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(dir, "notexec")
	if err := os.WriteFile(notExec, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, binary, want string
	}{
		{"missing binary", filepath.Join(dir, "nonexistent"), "no such file"},
		{"not executable", notExec, "not executable"},
		{"refuses the state", refuses, "refuses this daemon's state (format 1)"},
		{"not corral", "/bin/true", "is not a corral binary"},
		{"not corral, fails", "/bin/false", "is not a corral binary"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := statusFacts(t, td)
			fds := stableFds(t, td)
			out, code := corralCLI(t, td, v1, "upgrade", "--binary", c.binary)
			if code != 1 || !strings.Contains(out, c.want) {
				t.Errorf("corral upgrade --binary %s: exit %d, %q; want exit 1 and %q", c.binary, code, out, c.want)
			}
			info, err := td.client.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if info.Pid != td.cmd.Process.Pid || info.Version != "1.0.0-old" {
				t.Errorf("daemon pid %d version %s after a refused upgrade", info.Pid, info.Version)
			}
			if after := statusFacts(t, td); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("processes changed: %v -> %v", before, after)
			}
			if n := settledFds(t, td, fds); n != fds {
				t.Errorf("daemon descriptors %d -> %d after a refused upgrade", fds, n)
			}
		})
	}
}

// TestUpgradeManyTimes upgrades back and forth between two binaries, with
// many programs, and checks after each upgrade that no process was
// restarted or lost and no output was lost. CI runs 200 programs and 10
// upgrades; CORRAL_UPGRADE_PROGRAMS=1000 CORRAL_UPGRADES=50 is the full run
// of issue 13 (see docs/UPGRADE.md for its figures).
func TestUpgradeManyTimes(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("this test needs python3 (Debian package python3)")
	}
	programs, upgrades := envInt(t, "CORRAL_UPGRADE_PROGRAMS", 200), envInt(t, "CORRAL_UPGRADES", 10)
	bin := t.TempDir()
	bins := []string{buildCorral(t, bin, "1.0.0-a"), buildCorral(t, bin, "2.0.0-b")}
	td := startDaemonBinary(t, bins[0], fmt.Sprintf(`
[program.counter]
command = ["python3", "-c", "import time\ni=0\nwhile True:\n print(i, flush=True)\n i+=1\n time.sleep(0.001)"]
stdout = { file = "counter.log" }

[program.worker]
command = ["sh", "-c", "echo started; exec sleep 3600"]
numprocs = %d
`, programs-1))
	td.waitRunning(t, programs)
	before := statusFacts(t, td)
	var took []time.Duration // reported, never asserted
	for i := 1; i <= upgrades; i++ {
		next := bins[i%2]
		start := time.Now()
		out, code := corralCLI(t, td, next, "upgrade", "--binary", next)
		took = append(took, time.Since(start))
		if code != 0 {
			t.Fatalf("upgrade %d: exit %d: %s", i, code, out)
		}
		info, err := td.client.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"1.0.0-a", "2.0.0-b"}[i%2]; info.Version != want || info.Pid != td.cmd.Process.Pid || info.States["RUNNING"] != programs {
			t.Fatalf("after upgrade %d: pid %d version %s states %v; want pid %d version %s, %d RUNNING",
				i, info.Pid, info.Version, info.States, td.cmd.Process.Pid, want, programs)
		}
	}
	slices.Sort(took)
	t.Logf("%d upgrades with %d programs: `corral upgrade` took min %v, median %v, max %v",
		upgrades, programs, took[0], took[len(took)/2], took[len(took)-1])
	after := statusFacts(t, td)
	changed := 0
	for name, b := range before {
		if after[name] != b {
			if changed < 5 {
				t.Errorf("%s: %+v -> %+v", name, b, after[name])
			}
			changed++
		}
	}
	if changed > 0 || len(after) != len(before) {
		t.Errorf("%d of %d processes changed across %d upgrades (%d after)", changed, len(before), upgrades, len(after))
	}
	if z := daemonZombies(td.cmd.Process.Pid); len(z) > 0 {
		t.Errorf("zombies under the daemon: %v", z)
	}
	// Every worker's one line is in its log, once.
	for i := 0; i < programs-1; i++ {
		name := "worker:" + strconv.Itoa(i)
		rc, err := td.client.Logs(context.Background(), name, client.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "started\n" {
			t.Fatalf("%s log %q, want one line", name, b)
		}
	}
	checkCounterLog(t, filepath.Join(td.dir, "counter.log"), 100)
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// TestUpgradeSupervisordInTheBackground upgrades a `corral supervisord`
// that went to the background in another directory, started with a
// relative configuration path: the new image must not go to the background
// again (the old one would be gone with every program) and must read the
// same configuration, then work in the directory the old one was in.
func TestUpgradeSupervisordInTheBackground(t *testing.T) {
	bin := t.TempDir()
	v1, v2 := buildCorral(t, bin, "1.0.0-old"), buildCorral(t, bin, "2.0.0-new")
	dir := t.TempDir()
	conf := filepath.Join(dir, "supervisord.conf")
	writeTestFile(t, conf, "[supervisord]\nchildlogdir = %(here)s\n[unix_http_server]\nfile = %(here)s/s.sock\n[program:web]\ncommand = sleep 1000.507\nstartsecs = 0\n")
	workdir := filepath.Join(dir, "wd")
	if err := os.Mkdir(workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(dir, "s.pid")
	t.Cleanup(func() {
		if left := reapScript(dir); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	cmd := exec.Command(v1, "supervisord", "-c", "supervisord.conf", "-j", pidfile, "-d", workdir)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WORK="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("corral supervisord: %v\n%s", err, out)
	}
	waitFor(t, "the pidfile", func() bool { _, err := os.Stat(pidfile); return err == nil })
	b, _ := os.ReadFile(pidfile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile %q: %v", b, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		waitFor(t, "the daemon to exit", func() bool { return syscall.Kill(pid, 0) != nil })
	})
	c := client.New(filepath.Join(dir, "s.sock"))
	defer c.Close()
	var web int
	waitFor(t, "web RUNNING", func() bool {
		st, err := c.Status(context.Background(), "web")
		if err != nil || len(st) != 1 || st[0].State != "RUNNING" {
			return false
		}
		web = st[0].Pid
		return true
	})
	up := exec.Command(v1, "upgrade", "--binary", v2)
	up.Env = append(os.Environ(), "CORRAL_SOCKET="+filepath.Join(dir, "s.sock"))
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("corral upgrade: %v\n%s", err, out)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Pid != pid || info.Version != "2.0.0-new" {
		t.Errorf("after the upgrade: pid %d version %s, want %d 2.0.0-new", info.Pid, info.Version, pid)
	}
	st, err := c.Status(context.Background(), "web")
	if err != nil || len(st) != 1 || st[0].Pid != web || st[0].State != "RUNNING" {
		t.Errorf("web after the upgrade: %+v %v, want pid %d RUNNING", st, err, web)
	}
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil || cwd != workdir {
		t.Errorf("daemon's directory after the upgrade %q (%v), want %s", cwd, err, workdir)
	}
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("daemon %d: session %d (%v), want its own still", pid, sid, err)
	}
}

// TestUpgradeCarriesTheHealthListener: health_listen's socket is carried as
// the API's are, so a probe of the daemon's own /livez is never refused by an
// upgrade. Port 0 shows it is the same socket: a new one would get another
// port.
func TestUpgradeCarriesTheHealthListener(t *testing.T) {
	bin := t.TempDir()
	v1, v2 := buildCorral(t, bin, "1.0.0-old"), buildCorral(t, bin, "2.0.0-new")
	td := startDaemonBinary(t, v1, "health_listen = \"127.0.0.1:0\"\n\n[program.web]\ncommand = \"sleep 100000\"\nstart_secs = \"0s\"\n")
	td.waitRunning(t, 1)
	b, err := os.ReadFile(filepath.Join(td.dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`health_listen\)" addr=(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("the daemon's log does not say where health_listen listens:\n%s", b)
	}
	livez := "http://" + string(m[1]) + "/livez"
	get := func() int {
		resp, err := http.Get(livez)
		if err != nil {
			t.Fatalf("GET %s: %v", livez, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("GET %s before the upgrade: %d", livez, code)
	}
	if out, code := corralCLI(t, td, v1, "upgrade", "--binary", v2); code != 0 {
		t.Fatalf("corral upgrade exited %d: %s", code, out)
	}
	if code := get(); code != 200 {
		t.Errorf("GET %s after the upgrade: %d", livez, code)
	}
}
