package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/cgroup"
)

// testCgroup returns a fresh cgroup v2 directory under the test's own
// cgroup, killed and removed when the test ends. Cgroups are part of what
// these tests prove, so a host where root cannot make one fails them.
func testCgroup(t *testing.T) string {
	t.Helper()
	own, _, err := cgroup.Own()
	if err != nil {
		t.Fatalf("this test needs a writable cgroup v2 hierarchy: %v", err)
	}
	dir := filepath.Join(own, fmt.Sprintf("corral-test.%d.%d", os.Getpid(), time.Now().UnixNano()))
	if err := cgroup.Make(dir); err != nil {
		t.Fatalf("this test needs a writable cgroup v2 hierarchy (run it as root or in a delegated cgroup): %v", err)
	}
	t.Cleanup(func() {
		if err := cgroup.KillAndRemove(dir, hang); err != nil {
			t.Errorf("test cgroup: %v", err)
		}
	})
	return dir
}

// escapingWorker is a spec whose main shell ignores SIGTERM and starts two
// processes that leave its process group and session (setsid): one its
// child, one by double fork (re-parented away). Each writes its pid to the
// returned file once it is in its new session.
func escapingWorker(t *testing.T, name, cg string) (Spec, string) {
	t.Helper()
	pids := filepath.Join(t.TempDir(), "pids")
	script := `trap '' TERM
setsid sh -c 'echo $$ >> "$1"; exec sleep 1000' sh "$1" </dev/null >/dev/null 2>&1 &
sh -c 'setsid sh -c "echo \$\$ >> \"\$1\"; exec sleep 1000" sh "$1" </dev/null >/dev/null 2>&1 &' sh "$1"
exec sleep 1000`
	return Spec{Name: name, Path: "/bin/sh", Args: []string{"sh", "-c", script, "sh", pids},
		Cgroup: cg, StopTimeout: 200 * time.Millisecond}, pids
}

// TestCgroupEndsEscapedDescendants: a process spawned into a cgroup is in
// it from its first instruction, and whatever it started (through setsid or
// a double fork, outside its process group) is killed with it when its main
// process dies, at the stop timeout and at shutdown.
func TestCgroupEndsEscapedDescendants(t *testing.T) {
	for _, be := range backends {
		for _, how := range []string{"crash", "stop-timeout", "shutdown"} {
			t.Run(be.name+"/"+how, func(t *testing.T) {
				cg := filepath.Join(testCgroup(t), "w")
				m := newTestMonitor(t, be.opts)
				spec, file := escapingWorker(t, "w", cg)
				if err := m.Add(spec); err != nil {
					t.Fatal(err)
				}
				if err := m.StartWait(context.Background(), "w"); err != nil {
					t.Fatal(err)
				}
				members := groupMembers(t, file)
				info, _ := m.Process("w")
				in, err := cgroup.Procs(cg)
				if err != nil {
					t.Fatal(err)
				}
				for _, pid := range append([]int{info.Pid}, members...) {
					if !contains(in, pid) {
						t.Fatalf("pid %d is not in the cgroup %s (it holds %v)", pid, cg, in)
					}
					if pid != info.Pid && (pgid(pid) == info.Pid || sid(pid) == sid(info.Pid)) {
						t.Fatalf("pid %d did not leave the main process's group and session; the test proves nothing", pid)
					}
				}
				endMainProcess(t, m, "w", how)
				waitDead(t, members)
				if err := cgroup.WaitEmpty(cg, hang); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestCgroupKeepGroupSparesCgroup: with KeepGroup, a main process's death
// leaves the rest of its cgroup alone, as it leaves its group.
func TestCgroupKeepGroupSparesCgroup(t *testing.T) {
	cg := filepath.Join(testCgroup(t), "w")
	m := newTestMonitor(t, Options{Backend: BackendPidfd})
	spec, file := escapingWorker(t, "w", cg)
	spec.KeepGroup = true
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.StartWait(context.Background(), "w"); err != nil {
		t.Fatal(err)
	}
	members := groupMembers(t, file)
	sub, _ := m.Subscribe(0)
	defer sub.Close()
	info, _ := m.Process("w")
	if err := syscall.Kill(info.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next(t, sub, is("w", EventExited))
	in, _ := cgroup.Procs(cg)
	for _, pid := range members {
		if !procAlive(pid) || !contains(in, pid) {
			t.Errorf("member %d was killed or left the cgroup (cgroup holds %v)", pid, in)
		}
	}
}

// TestCgroupSpawnErrorNamesDirectory: a cgroup that cannot be made fails
// the spawn with the directory in the error.
func TestCgroupSpawnErrorNamesDirectory(t *testing.T) {
	m := newTestMonitor(t, Options{})
	bad := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(bad, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cg := filepath.Join(bad, "w")
	if err := m.Add(Spec{Name: "w", Path: "/bin/true", Cgroup: cg}); err != nil {
		t.Fatal(err)
	}
	err := m.StartWait(context.Background(), "w")
	if err == nil || !strings.Contains(err.Error(), cg) {
		t.Fatalf("start error %v, want one naming %s", err, cg)
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

func pgid(pid int) int { g, _ := syscall.Getpgid(pid); return g }

func sid(pid int) int {
	s, _, _ := syscall.RawSyscall(syscall.SYS_GETSID, uintptr(pid), 0, 0)
	return int(s)
}

// TestCgroupRestartAfterAKillRuns: a main process that dies leaving a
// process behind in its cgroup (one that left its group and session) gets
// that process killed, and its restart runs and stays in the program's
// cgroup subtree: it is spawned into a fresh cgroup below it (k1, then
// k2), since a killed one can kill what is spawned into it later.
func TestCgroupRestartAfterAKillRuns(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			cg := filepath.Join(testCgroup(t), "w")
			m := newTestMonitor(t, be.opts)
			file := filepath.Join(t.TempDir(), "pids")
			script := `setsid sh -c 'echo $$ >> "$1"; exec sleep 1000' sh "$1" </dev/null >/dev/null 2>&1 &
exec sleep 1000`
			if err := m.Add(Spec{Name: "w", Path: "/bin/sh", Args: []string{"sh", "-c", script, "sh", file}, Cgroup: cg,
				MinUptime: 200 * time.Millisecond, Restart: RestartPolicy{Kind: RestartAlways}, Backoff: Backoff{Immediate: true}}); err != nil {
				t.Fatal(err)
			}
			if err := m.StartWait(context.Background(), "w"); err != nil {
				t.Fatal(err)
			}
			sub, _ := m.Subscribe(0) // after the first start's events
			defer sub.Close()
			escaped := escapees(t, file, 1)
			for round := 1; round <= 2; round++ {
				if info, _ := m.Process("w"); sid(escaped[0]) == sid(info.Pid) {
					t.Fatalf("round %d: pid %d did not leave the main process's session; the test proves nothing", round, escaped[0])
				}
				e := killAndRestarted(t, m, sub, "w", round)
				waitDead(t, escaped)
				fresh := filepath.Join(cg, fmt.Sprintf("k%d", round))
				if in := cgroupProcs(t, fresh); !contains(in, e.Pid) {
					t.Fatalf("round %d: the restarted process %d is not in the fresh cgroup %s (it holds %v)", round, e.Pid, fresh, in)
				}
				escaped = escapees(t, file, round+1)
			}
		})
	}
}

// TestCgroupRestartWithNothingLeftReusesCgroup: a main process that dies
// leaving nothing in its cgroup is restarted into the same cgroup: no
// cgroup.kill, no fresh k1 below it.
func TestCgroupRestartWithNothingLeftReusesCgroup(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			cg := filepath.Join(testCgroup(t), "w")
			m := newTestMonitor(t, be.opts)
			if err := m.Add(Spec{Name: "w", Path: "/bin/sleep", Args: []string{"sleep", "1000"}, Cgroup: cg,
				MinUptime: 200 * time.Millisecond, Restart: RestartPolicy{Kind: RestartAlways}, Backoff: Backoff{Immediate: true}}); err != nil {
				t.Fatal(err)
			}
			if err := m.StartWait(context.Background(), "w"); err != nil {
				t.Fatal(err)
			}
			sub, _ := m.Subscribe(0)
			defer sub.Close()
			for round := range 3 {
				e := killAndRestarted(t, m, sub, "w", round)
				if in := cgroupProcs(t, cg); !contains(in, e.Pid) {
					t.Fatalf("round %d: the restarted process %d is not in %s itself (it holds %v)", round, e.Pid, cg, in)
				}
				if _, err := os.Stat(filepath.Join(cg, "k1")); !os.IsNotExist(err) {
					t.Fatalf("round %d: %s/k1 exists (stat: %v): the restart went to a fresh cgroup though nothing was left to kill", round, cg, err)
				}
			}
		})
	}
}

// cgroupProcs lists the pids in dir itself (cgroup.procs), not below it.
func cgroupProcs(t *testing.T, dir string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		pids = append(pids, pid)
	}
	return pids
}

// escapees waits until file holds n pids (one per line, appended by each
// run of a worker) and returns the last one; it is killed by pidfd when the
// test ends, whatever happens.
func escapees(t *testing.T, file string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(file)
		if f := strings.Fields(string(b)); len(f) >= n {
			pid, err := strconv.Atoi(f[n-1])
			if err != nil {
				t.Fatal(err)
			}
			killAtCleanup(t, pid)
			return []int{pid}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the worker did not report %d escaped pids in %v", n, hang)
	return nil
}

// killAndRestarted kills name's main process with SIGKILL and returns the
// event of its restart running, failing the test if the new process exits
// instead.
func killAndRestarted(t *testing.T, m *Monitor, sub *Subscription, name string, round int) Event {
	t.Helper()
	info, _ := m.Process(name)
	if err := syscall.Kill(info.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e := next(t, sub, func(e Event) bool {
		return e.Name == name && e.Pid != info.Pid && (e.Type == EventRunning || e.Type == EventExited)
	})
	if e.Type != EventRunning {
		t.Fatalf("round %d: the restarted process died (%+v) instead of running", round, e.Exit)
	}
	return e
}
