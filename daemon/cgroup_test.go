package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/cgroup"
	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/store"
)

// escapingProgram is a program whose main process starts a helper in a new
// session with an empty environment (no run token: only its cgroup ties it
// to the program, as with a container runtime's init) and then becomes
// `sleep`. With ignoreTerm both ignore SIGTERM, so a stop lasts until the
// stop timeout. The helper writes its pid to pids once it is in its session.
func escapingProgram(pids string, ignoreTerm bool) string {
	trap := ""
	if ignoreTerm {
		trap = "trap '' TERM; "
	}
	script := trap + `env -i setsid sh -c 'echo $$ >> "$0"; exec sleep 1000' "$0" </dev/null >/dev/null 2>&1 & exec sleep 1000`
	return fmt.Sprintf(`
[program.esc]
command = ["sh", "-c", %q, %q]
start_secs = "0s"
stop_timeout = "300ms"
restart = "no"
`, script, pids)
}

// helperPid waits for the helper's pid and ends it by pidfd at cleanup (a
// failing test must not leave it; a pidfd never hits a reused pid).
func helperPid(t *testing.T, pids string) int {
	t.Helper()
	for deadline := time.Now().Add(hang); ; time.Sleep(10 * time.Millisecond) {
		all, _ := alivePids(t, pids)
		if len(all) > 0 {
			pid := all[len(all)-1]
			if fd, err := unix.PidfdOpen(pid, 0); err == nil {
				t.Cleanup(func() {
					_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
					unix.Close(fd)
				})
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper never reported its pid")
		}
	}
}

// cgroupOf reads the cgroup v2 directory of pid from /proc.
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	_, mount, err := cgroup.Own()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rel, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Join(mount, rel)
		}
	}
	t.Fatalf("no cgroup v2 line for pid %d: %q", pid, b)
	return ""
}

// waitGone fails unless pid ends (exits; a zombie counts as ended) within hang.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(hang); ; time.Sleep(10 * time.Millisecond) {
		if fs := statFields(pid); len(fs) == 0 || fs[0] == "Z" || fs[0] == "X" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still runs", pid)
		}
	}
}

func needCgroups(t *testing.T, d *Daemon) {
	t.Helper()
	if d.cg.root == "" {
		t.Fatal("the daemon runs without cgroups: these tests need a writable cgroup v2 hierarchy (root, or a delegated subtree)")
	}
}

// TestCgroupStopEndsProcessesThatLeftTheGroup: a helper that left the
// program's process group and session, and carries no run token, ends with
// its program at a stop, at the stop timeout, when the main process is
// killed from outside (a container runtime killed with -9) and at the
// daemon's shutdown; the cgroups are then empty, and removed at shutdown.
func TestCgroupStopEndsProcessesThatLeftTheGroup(t *testing.T) {
	for _, how := range []string{"stop", "stop-timeout", "kill-main", "shutdown"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			pids := filepath.Join(dir, "pids")
			d := startDaemon(t, writeConfig(t, dir, escapingProgram(pids, how == "stop-timeout")))
			needCgroups(t, d)
			st := waitState(t, d, "esc", "RUNNING")
			helper := helperPid(t, pids)
			leaf := d.processCgroup("esc", "esc")
			if got := cgroupOf(t, helper); got != leaf {
				t.Fatalf("helper %d is in %s, want %s", helper, got, leaf)
			}
			if sid, _ := unix.Getsid(helper); sid == st.Pid {
				t.Fatal("the helper did not leave the main process's session; the test proves nothing")
			}
			ctx, cancel := context.WithTimeout(context.Background(), hang)
			defer cancel()
			switch how {
			case "stop", "stop-timeout":
				res, err := d.StopProcesses(ctx, []string{"esc"}, true)
				if err != nil || len(res) != 1 || res[0].Error != "" {
					t.Fatalf("stop: %+v, %v", res, err)
				}
			case "kill-main":
				if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				waitState(t, d, "esc", "EXITED")
			case "shutdown":
				if err := d.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(d.cg.root); !os.IsNotExist(err) {
					t.Fatalf("the daemon's cgroup %s is left after shutdown (%v)", d.cg.root, err)
				}
			}
			waitGone(t, helper)
			if err := cgroup.WaitEmpty(leaf, hang); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCgroupNextDaemonEndsWhatAKilledDaemonLeft: a daemon killed with
// SIGKILL leaves a helper that no record and no run token names; the next
// daemon kills it through the dead daemon's cgroup and removes that.
func TestCgroupNextDaemonEndsWhatAKilledDaemonLeft(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	path := writeConfig(t, dir, escapingProgram(pids, true))
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), crashChildEnv+"="+path, "CORRAL_TEST_KILL_BEFORE_RECORDING=", "CORRAL_TEST_WAIT_FOR=")
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	})
	helper := helperPid(t, pids)
	old := cgroupOf(t, helper)
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	time.Sleep(50 * time.Millisecond)
	if fs := statFields(helper); len(fs) == 0 || fs[0] == "Z" {
		t.Fatalf("the helper died with the daemon (%v): the test proves nothing", fs)
	}
	d := startDaemon(t, path)
	needCgroups(t, d)
	waitGone(t, helper)
	oldRoot := filepath.Dir(filepath.Dir(old))
	if _, err := os.Stat(oldRoot); !os.IsNotExist(err) {
		t.Fatalf("the killed daemon's cgroup %s is left (%v)", oldRoot, err)
	}
	waitState(t, d, "esc", "RUNNING")
}

// TestCgroupReclaimSparesAReusedPid: the records of a killed daemon name a
// pid now used by an unrelated process (another start time, outside the
// dead daemon's cgroups); the next daemon kills what the dead one's cgroup
// holds and never touches that process.
func TestCgroupReclaimSparesAReusedPid(t *testing.T) {
	own, _, err := cgroup.Own()
	if err != nil {
		t.Fatalf("this test needs cgroup v2: %v", err)
	}
	token := newRunID()
	leaf := filepath.Join(own, "corral."+token, cgroupName("web"), cgroupName("web"))
	if err := cgroup.Make(leaf); err != nil {
		t.Fatalf("this test needs a writable cgroup v2 hierarchy: %v", err)
	}
	t.Cleanup(func() { _ = cgroup.KillAndRemove(filepath.Join(own, "corral."+token), hang) })
	fd, err := unix.Open(leaf, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	left := exec.Command("sleep", "1000")
	left.SysProcAttr = &syscall.SysProcAttr{Setsid: true, UseCgroupFD: true, CgroupFD: fd}
	err = left.Start()
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = left.Process.Kill(); _ = left.Wait() })

	reused := startGroupLeader(t)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetSession(store.Session{BootID: bootID(), Token: token}); err != nil {
		t.Fatal(err)
	}
	ticks := startTicks(reused.Process.Pid)
	if err := st.SetRunningBatch(map[string]*store.Running{"web": {Pid: reused.Process.Pid, StartTicks: ticks - 1}}); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{store: st, log: slog.New(slog.NewTextHandler(io.Discard, nil)), runID: newRunID()}
	d.cg.base = own
	killed := d.reclaim()
	if !slices.Contains(killed, left.Process.Pid) {
		t.Fatalf("reclaim killed %v, not the process %d left in the dead daemon's cgroup", killed, left.Process.Pid)
	}
	if err := left.Wait(); left.ProcessState == nil || left.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the leftover ended with %v, want SIGKILL", err)
	}
	assertKilled(t, reused, killed, false)
	if _, err := os.Stat(filepath.Join(own, "corral."+token)); !os.IsNotExist(err) {
		t.Fatalf("the dead daemon's cgroup is left (%v)", err)
	}
}

// TestCgroupLimitsAppliedOrRefusedByName: a limit is written to the
// program's cgroup where its controller is enabled, and refused, naming the
// program and the key, where it is not (as on a hybrid host whose v2
// hierarchy has no controllers).
func TestCgroupLimitsAppliedOrRefusedByName(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, writeConfig(t, dir, ""))
	needCgroups(t, d)
	for _, l := range []struct{ key, value, file, want string }{
		{"memory_max", "64M", "memory.max", "67108864"},
		{"pids_max", "50", "pids.max", "50"},
		{"cpu_max", "50%", "cpu.max", "50000 100000"},
	} {
		name := "lim-" + strings.ReplaceAll(l.key, "_", "-")
		p := testProgram(t, name, l.key, l.value)
		_, err := d.AddProgram(context.Background(), p)
		controller := strings.Split(l.file, ".")[0]
		if slices.Contains(d.cg.controllers, controller) {
			if err != nil {
				t.Fatalf("%s: %v", l.key, err)
			}
			b, err := os.ReadFile(filepath.Join(d.programCgroup(name), l.file))
			if err != nil || strings.TrimSpace(string(b)) != l.want {
				t.Errorf("%s: %s holds %q (%v), want %q", l.key, l.file, b, err, l.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), strconv.Quote(name)) || !strings.Contains(err.Error(), l.key) {
			t.Errorf("%s without the %s controller: error %v, want one naming program %q and %s", l.key, controller, err, name, l.key)
		}
	}
}

func testProgram(t *testing.T, name, key, value string) config.Program {
	t.Helper()
	p := config.NewProgram(name)
	p.Command = []string{"sleep", "1000"}
	p.Autostart = false
	p.Stdout, p.Stderr = config.LogSpec{}, config.LogSpec{}
	var err error
	switch key {
	case "memory_max":
		p.MemoryMax, err = config.ParseMemoryMax(value)
	case "pids_max":
		p.PidsMax, err = config.ParsePidsMax(value)
	case "cpu_max":
		p.CPUMax, err = config.ParseCPUMax(value)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCgroupMetricsCountTheWholeTree: the CPU metric of a process counts
// what a helper in another session burned (cpu.stat of its cgroup), not
// only the main process (which only sleeps here).
func TestCgroupMetricsCountTheWholeTree(t *testing.T) {
	dir := t.TempDir()
	burn := `setsid sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 1000' </dev/null >/dev/null 2>&1 & exec sleep 1000`
	d := startDaemon(t, writeConfig(t, dir, fmt.Sprintf("[program.burn]\ncommand = [\"sh\", \"-c\", %q]\nstart_secs = \"0s\"\n", burn)))
	needCgroups(t, d)
	st := waitState(t, d, "burn", "RUNNING")
	for deadline := time.Now().Add(hang); ; time.Sleep(50 * time.Millisecond) {
		fams, err := d.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		cpu := -1.0
		for _, f := range fams {
			if f.GetName() == "corral_process_cpu_seconds_total" {
				for _, m := range f.GetMetric() {
					cpu = m.GetCounter().GetValue()
				}
			}
		}
		if cpu >= 0.1 {
			f := statFields(st.Pid)
			if len(f) < 13 {
				t.Fatalf("no /proc stat for the main process %d", st.Pid)
			}
			ut, _ := strconv.Atoi(f[11])
			sy, _ := strconv.Atoi(f[12])
			if float64(ut+sy)/100 >= 0.1 {
				t.Fatalf("the main process itself used %d ticks: the test proves nothing", ut+sy)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("corral_process_cpu_seconds_total = %v, want >= 0.1 s burned by the helper", cpu)
		}
	}
}

// TestWithoutCgroupsAStopKillsWhatTheProgramLeft: without cgroups, a helper
// that left the process group (and so outlives the group kill) is found
// among the daemon's adopted children by its mark and killed at the stop;
// an unrelated child of the daemon is not touched.
func TestWithoutCgroupsAStopKillsWhatTheProgramLeft(t *testing.T) {
	t.Setenv("CORRAL_NO_CGROUPS", "1")
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	script := `setsid sh -c 'echo $$ >> "$0"; exec sleep 1000' "$0" </dev/null >/dev/null 2>&1 & exec sleep 1000`
	d := startDaemon(t, writeConfig(t, dir, fmt.Sprintf("[program.esc]\ncommand = [\"sh\", \"-c\", %q, %q]\nstart_secs = \"0s\"\n", script, pids)))
	if d.cg.root != "" {
		t.Fatal("CORRAL_NO_CGROUPS did not turn cgroups off")
	}
	waitState(t, d, "esc", "RUNNING")
	helper := helperPid(t, pids)
	other := startGroupLeader(t, ProcessEnv+"=someone-else")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if _, err := d.StopProcesses(ctx, []string{"esc"}, true); err != nil {
		t.Fatal(err)
	}
	waitGone(t, helper)
	assertKilled(t, other, nil, false)
}
