package monitor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSubscriberThatNeverReadsGetsMissedMarker(t *testing.T) {
	m := newTestMonitor(t, Options{})
	stuck, err := m.Subscribe(8) // never read until the end
	if err != nil {
		t.Fatal(err)
	}
	live, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	spec := sh("exit 1")
	spec.Name = "crasher"
	spec.Restart = RestartPolicy{Kind: RestartAlways}
	spec.Backoff = Backoff{Initial: time.Millisecond, Max: time.Millisecond}
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("crasher"); err != nil {
		t.Fatal(err)
	}
	// Reaping and restarts go on although one subscriber never reads.
	for i := 0; i < 20; i++ {
		next(t, live, is("crasher", EventExited))
	}
	if err := m.StopWait(context.Background(), "crasher"); err != nil {
		t.Fatal(err)
	}
	var got []Event
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for {
		e, err := stuck.Next(ctx)
		if err != nil {
			break
		}
		got = append(got, e)
	}
	// Once the subscriber reads again, new events follow the marker: an
	// earlier test's child that this monitor reaps as an orphan (seen under
	// load) may be one. None may be the crasher's: it was stopped before.
	kinds := func() []string {
		var kinds []string
		for _, e := range got {
			kinds = append(kinds, fmt.Sprintf("%d:%s:%s:%d", e.Seq, e.Type, e.Name, e.Pid))
		}
		return kinds
	}
	for i, e := range got {
		if e.Type == EventMissed {
			for _, after := range got[i+1:] {
				if after.Name == "crasher" {
					t.Fatalf("the crasher's events after the marker: %v", kinds())
				}
			}
			got = got[:i+1]
			break
		}
	}
	if len(got) != 9 {
		t.Fatalf("stuck subscriber got %d events up to the marker, want 8 and a marker: %v", len(got), kinds())
	}
	mark := got[8]
	if mark.Type != EventMissed || mark.Missed == 0 {
		t.Fatalf("last event %+v, want an EventMissed marker", mark)
	}
	for i, e := range got[:8] {
		if e.Seq != uint64(i)+got[0].Seq {
			t.Fatalf("events before the marker are not contiguous: %v", got)
		}
	}
	if st, _ := m.Stats(); st.SubscriberOverflows != mark.Missed {
		t.Errorf("stats count %d overflows, marker says %d", st.SubscriberOverflows, mark.Missed)
	}
	// The snapshot is fresh after the marker.
	procs, seq, err := m.Snapshot()
	if err != nil || len(procs) != 1 || procs[0].State != StateStopped || seq < mark.Seq {
		t.Fatalf("snapshot %+v seq %d err %v", procs, seq, err)
	}
}

func TestSpawnErrorsAreFatalWithTheMessage(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"missing binary", Spec{Path: "/nonexistent/prog"}, "no such file or directory"},
		{"not in PATH", Spec{Path: "no-such-program-xyz"}, `"no-such-program-xyz": executable file not found in $PATH`},
		{"not executable", Spec{Path: notExec}, "permission denied"},
		{"a directory", Spec{Path: dir}, "is a directory"},
		{"bad directory", Spec{Path: "/bin/true", Dir: "/nonexistent/dir"}, "directory: stat /nonexistent/dir: no such file or directory"},
		{"directory is a file", Spec{Path: "/bin/true", Dir: notExec}, "not a directory"},
		{"unknown user", Spec{Path: "/bin/true", User: "no-such-user-xyz"}, `user "no-such-user-xyz": user: unknown user no-such-user-xyz`},
		{"unknown group", Spec{Path: "/bin/true", Group: "no-such-group-xyz"}, `group "no-such-group-xyz"`},
	}
	m := newTestMonitor(t, Options{})
	sub, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Name = tt.name
			if err := m.Add(spec); err != nil {
				t.Fatal(err)
			}
			err := m.StartWait(context.Background(), tt.name)
			var se *StartError
			if !errors.As(err, &se) || !se.Spawn || !strings.Contains(se.Err, tt.want) {
				t.Fatalf("StartWait: %v, want a spawn error containing %q", err, tt.want)
			}
			e := next(t, sub, is(tt.name, EventFatal))
			if !strings.Contains(e.Err, tt.want) {
				t.Fatalf("fatal event says %q, want %q", e.Err, tt.want)
			}
			info, _ := m.Process(tt.name)
			if info.State != StateFatal || !strings.Contains(info.Err, tt.want) {
				t.Fatalf("process %s %q, want FATAL with %q", info.State, info.Err, tt.want)
			}
		})
	}
}

// groupMember is one process of a process group a test watches, held by a
// pidfd so that neither its exit nor a reuse of its pid can be mistaken.
type groupMember struct {
	pid, pidfd int
}

// watchGroup opens pidfds for pids and checks that each is in process group
// pgid. Scanning /proc instead is not atomic while other tests start and
// end processes, and it once counted a group wrong.
func watchGroup(t *testing.T, pgid int, pids []int) []groupMember {
	t.Helper()
	var out []groupMember
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			t.Fatalf("pidfd_open %d: %v", pid, err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if g, err := unix.Getpgid(pid); err != nil || g != pgid {
			t.Fatalf("pid %d: process group %d (%v), want %d", pid, g, err, pgid)
		}
		out = append(out, groupMember{pid, fd})
	}
	return out
}

// alive returns the pids of the members that have not exited (a zombie has
// exited: its pidfd is readable).
func alive(t *testing.T, members []groupMember) []int {
	t.Helper()
	var out []int
	for _, m := range members {
		fds := []unix.PollFd{{Fd: int32(m.pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		for err == unix.EINTR {
			n, err = unix.Poll(fds, 0)
		}
		if err != nil {
			t.Fatalf("poll pidfd of %d: %v", m.pid, err)
		}
		if n == 0 {
			out = append(out, m.pid)
		}
	}
	return out
}

func TestStopKillsTermIgnoringGroupAfterGrace(t *testing.T) {
	clk := newFakeClock()
	m := newTestMonitor(t, Options{Clock: clk, Subreaper: true})
	sub, _ := m.Subscribe(0)
	// A parent that ignores TERM, with three children that ignore it too;
	// it prints their pids and its own.
	spec := sh("trap '' TERM; for i in 1 2 3; do sleep 1000 & echo $!; done; echo $$; echo ready; wait")
	spec.Name = "stubborn"
	r, w, _ := os.Pipe()
	defer r.Close()
	spec.Stdout = w
	spec.StopAsGroup = true
	spec.StopTimeout = 5 * time.Second
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("stubborn"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var pids []int
	lines := bufio.NewScanner(r)
	for lines.Scan() && lines.Text() != "ready" {
		pid, err := strconv.Atoi(lines.Text())
		if err != nil {
			t.Fatalf("script printed %q", lines.Text())
		}
		pids = append(pids, pid)
	}
	info, _ := m.Process("stubborn")
	if len(pids) != 4 || pids[3] != info.Pid {
		t.Fatalf("script printed pids %v, want 3 children and its own pid %d", pids, info.Pid)
	}
	group := watchGroup(t, info.Pid, pids)
	if left := alive(t, group); len(left) != 4 {
		t.Fatalf("group has %v alive, want all 4 of %v", left, pids)
	}
	if err := m.Stop("stubborn"); err != nil {
		t.Fatal(err)
	}
	next(t, sub, is("stubborn", EventStopping))
	if left := alive(t, group); len(left) != 4 {
		t.Fatalf("TERM was not ignored: %v alive of %v", left, pids)
	}
	clk.Advance(5 * time.Second)
	e := next(t, sub, is("stubborn", EventExited))
	if e.Exit.Signal != syscall.SIGKILL {
		t.Errorf("exit %+v, want death by SIGKILL", *e.Exit)
	}
	next(t, sub, is("stubborn", EventStopped))
	// SIGKILL went to the whole group; its members die asynchronously.
	deadline := time.Now().Add(hang)
	for len(alive(t, group)) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if left := alive(t, group); len(left) > 0 {
		t.Fatalf("group members alive after SIGKILL: %v", left)
	}
	// And the group is gone: every member, re-parented to this process
	// (a subreaper), was reaped by the monitor.
	for syscall.Kill(-info.Pid, 0) != syscall.ESRCH && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(-info.Pid, 0); err != syscall.ESRCH {
		t.Fatalf("process group %d still exists after the stop (kill: %v)", info.Pid, err)
	}
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		policy  string
		script  string
		restart bool
	}{
		{"no", "exit 1", false},
		{"always", "exit 0", true},
		{"unless-stopped", "exit 0", true},
		{"on-failure", "exit 2", true},
		{"on-failure", "exit 0", false},
		{"on-failure", "kill -9 $$", true},
		{"unexpected", "exit 0", false},
		{"unexpected", "exit 7", false}, // 7 is listed in ExitCodes
		{"unexpected", "exit 3", true},
	}
	for _, tt := range tests {
		t.Run(tt.policy+" "+tt.script, func(t *testing.T) {
			m := newTestMonitor(t, Options{})
			sub, _ := m.Subscribe(0)
			pol, err := ParseRestartPolicy(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			spec := sh(tt.script)
			spec.Name = "p"
			spec.Restart = pol
			spec.ExitCodes = []int{0, 7}
			if err := m.Add(spec); err != nil {
				t.Fatal(err)
			}
			if err := m.Start("p"); err != nil {
				t.Fatal(err)
			}
			e := next(t, sub, is("p", EventExited))
			if got := e.State != StateExited; got != tt.restart {
				t.Fatalf("exit led to %s; restart=%v, want %v", e.State, got, tt.restart)
			}
			stopQuietly(m, "p")
		})
	}
}

func TestOnFailureStopsAfterMaxRetries(t *testing.T) {
	m := newTestMonitor(t, Options{})
	sub, _ := m.Subscribe(0)
	spec := sh("exit 1")
	spec.Name = "p"
	spec.Restart = RestartPolicy{Kind: RestartOnFailure, MaxRetries: 3}
	spec.Backoff = Backoff{Initial: time.Millisecond}
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("p"); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		e := next(t, sub, is("p", EventExited))
		if e.State == StateExited {
			if i != 3 {
				t.Fatalf("gave up after %d restarts, want 3", i)
			}
			break
		}
	}
}

func TestBackoffDoublesUpToTheCapAndResetsAfterTenSeconds(t *testing.T) {
	clk := newFakeClock()
	m := newTestMonitor(t, Options{Clock: clk})
	sub, _ := m.Subscribe(0)
	spec := sh("exec sleep 1000")
	spec.Name = "p"
	spec.Restart = RestartPolicy{Kind: RestartAlways}
	spec.Backoff = Backoff{Initial: 100 * time.Millisecond, Factor: 2, Max: 500 * time.Millisecond}
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("p"); err != nil {
		t.Fatal(err)
	}
	next(t, sub, is("p", EventRunning))
	var delays []time.Duration
	for range 5 {
		info, _ := m.Process("p")
		_ = syscall.Kill(info.Pid, syscall.SIGKILL)
		e := next(t, sub, is("p", EventBackoff))
		delays = append(delays, e.Delay)
		clk.Advance(e.Delay)
		next(t, sub, is("p", EventRunning))
	}
	want := []time.Duration{100, 200, 400, 500, 500}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if fmt.Sprint(delays) != fmt.Sprint(want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
	// Ten seconds up: the next crash restarts at once and the delay resets.
	clk.Advance(10 * time.Second)
	info, _ := m.Process("p")
	_ = syscall.Kill(info.Pid, syscall.SIGKILL)
	e := next(t, sub, func(e Event) bool { return e.Name == "p" && (e.Type == EventStarting || e.Type == EventBackoff) })
	if e.Type != EventStarting {
		t.Fatalf("after 10s up: %s, want an immediate restart", e.Type)
	}
	next(t, sub, is("p", EventRunning))
	info, _ = m.Process("p")
	_ = syscall.Kill(info.Pid, syscall.SIGKILL)
	if e := next(t, sub, is("p", EventBackoff)); e.Delay != 100*time.Millisecond {
		t.Fatalf("delay after reset %v, want 100ms", e.Delay)
	}
	stopQuietly(m, "p")
}

func TestExitEventCarriesExitFacts(t *testing.T) {
	m := newTestMonitor(t, Options{})
	sub, _ := m.Subscribe(0)
	// Burn a little CPU, then die by SIGSEGV.
	spec := sh("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; kill -SEGV $$")
	spec.Name = "p"
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("p"); err != nil {
		t.Fatal(err)
	}
	start := next(t, sub, is("p", EventStarting))
	e := next(t, sub, is("p", EventExited))
	x := e.Exit
	if x.Pid != start.Pid || x.Signal != syscall.SIGSEGV || x.Code != -1 || x.Expected {
		t.Fatalf("exit %+v, want pid %d killed by SIGSEGV, unexpected", *x, start.Pid)
	}
	if x.UserCPU+x.SysCPU <= 0 || x.MaxRSS <= 0 || !x.Ended.After(x.Started) {
		t.Fatalf("exit %+v lacks rusage or times", *x)
	}
}

func TestCommandRunsThroughTheMonitor(t *testing.T) {
	m := newTestMonitor(t, Options{Subreaper: true})
	out, err := m.Command("/bin/sh", "-c", "echo out; echo err >&2").Output()
	if err != nil || string(out) != "out\n" {
		t.Fatalf("Output: %q, %v", out, err)
	}
	both, err := m.Command("/bin/sh", "-c", "echo out; echo err >&2").CombinedOutput()
	if err != nil || !strings.Contains(string(both), "out\n") || !strings.Contains(string(both), "err\n") {
		t.Fatalf("CombinedOutput: %q, %v", both, err)
	}
	c := m.Command("tr", "a-z", "A-Z")
	c.Stdin = strings.NewReader("hello")
	out, err = c.Output()
	if err != nil || string(out) != "HELLO" {
		t.Fatalf("stdin: %q, %v", out, err)
	}
	_, err = m.Command("/bin/sh", "-c", "echo oops >&2; exit 3").Output()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || string(ee.Stderr) != "oops\n" {
		t.Fatalf("failing command: %v", err)
	}
	if err := m.Command("/nonexistent").Run(); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing command: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c = m.CommandContext(ctx, "sleep", "1000")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := c.Wait(); !errors.As(err, &ee) || ee.Signal != syscall.SIGKILL {
		t.Fatalf("cancelled command: %v", err)
	}
}

func TestPidfdBackendLeavesExecCmdWorking(t *testing.T) {
	m := newTestMonitor(t, Options{Backend: BackendPidfd})
	sub, _ := m.Subscribe(0)
	spec := sh("exit 4")
	spec.Name = "p"
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	// An unrelated child started and waited for with os/exec, while the
	// monitor's own children come and go.
	unrelated := exec.Command("/bin/sh", "-c", "sleep 0.3; exit 5")
	if err := unrelated.Start(); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if err := m.Start("p"); err != nil {
			t.Fatal(err)
		}
		if e := next(t, sub, is("p", EventExited)); e.Exit.Code != 4 {
			t.Fatalf("monitor child exit %+v, want code 4", *e.Exit)
		}
	}
	err := unrelated.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("exec.Cmd.Wait: %v, want exit status 5", err)
	}
	out, err := m.Command("/bin/echo", "hi").Output()
	if err != nil || string(out) != "hi\n" {
		t.Fatalf("monitor Command on pidfd backend: %q %v", out, err)
	}
}

func TestUmaskAndRlimitsAreApplied(t *testing.T) {
	m := newTestMonitor(t, Options{})
	dir := t.TempDir()
	umask := uint32(0o027)
	spec := sh("umask; ulimit -n; touch " + filepath.Join(dir, "f"))
	spec.Name = "p"
	spec.Umask = &umask
	spec.Rlimits = []Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 321, Max: 4096}}
	r, w, _ := os.Pipe()
	defer r.Close()
	spec.Stdout = w
	sub, _ := m.Subscribe(0)
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("p"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	e := next(t, sub, is("p", EventExited))
	if e.Exit.Code != 0 {
		t.Fatalf("exit %+v", *e.Exit)
	}
	buf := make([]byte, 100)
	n, _ := r.Read(buf)
	if got := strings.Fields(string(buf[:n])); len(got) != 2 || got[0] != "0027" || got[1] != "321" {
		t.Fatalf("child saw umask and nofile %q, want 0027 and 321", got)
	}
	fi, err := os.Stat(filepath.Join(dir, "f"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("file made by the child: %v %v, want mode 0640", fi.Mode(), err)
	}
}

// TestBackoffImmediateRestartsAtOnceAndGoesFatalAfterStartRetries: with no
// delay a program that dies at once is retried StartRetries times, each
// BACKOFF lasting 0, then goes FATAL: no restart loop beyond StartRetries.
func TestBackoffImmediateRestartsAtOnceAndGoesFatalAfterStartRetries(t *testing.T) {
	m := newTestMonitor(t, Options{})
	sub, _ := m.Subscribe(0)
	spec := sh("exit 1")
	spec.Name = "p"
	spec.Restart = RestartPolicy{Kind: RestartAlways}
	spec.MinUptime = time.Hour // every death is a failed start
	spec.StartRetries = 3
	spec.Backoff = Backoff{Immediate: true}
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	if err := m.Start("p"); err != nil {
		t.Fatal(err)
	}
	starts, backoffs := 0, 0
	for {
		e := next(t, sub, func(e Event) bool { return e.Name == "p" })
		switch e.Type {
		case EventStarting:
			starts++
		case EventBackoff:
			backoffs++
			if e.Delay != 0 {
				t.Errorf("backoff %d: delay %v, want 0", backoffs, e.Delay)
			}
		}
		if e.Type == EventFatal {
			break
		}
	}
	if starts != 4 || backoffs != 3 {
		t.Errorf("%d starts and %d backoffs before FATAL, want 4 and 3", starts, backoffs)
	}
	if info, _ := m.Process("p"); info.State != StateFatal {
		t.Errorf("state %s, want FATAL", info.State)
	}
}

// TestSubscriptionAfterIsTheSeqBeforeItsFirstEvent: After is 0 on a fresh
// monitor, then the Seq of the last event published before Subscribe, and
// a subscription's first event is After()+1.
func TestSubscriptionAfterIsTheSeqBeforeItsFirstEvent(t *testing.T) {
	m := newTestMonitor(t, Options{})
	first, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if first.After() != 0 {
		t.Fatalf("After on a fresh monitor = %d, want 0", first.After())
	}
	for _, name := range []string{"a", "b", "c"} {
		spec := sh("exit 0")
		spec.Name = name
		if err := m.Add(spec); err != nil {
			t.Fatal(err)
		}
	}
	var last Event
	for range 3 {
		last = next(t, first, func(e Event) bool { return e.Type == EventAdded })
	}
	second, err := m.Subscribe(0)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if second.After() != last.Seq {
		t.Fatalf("After = %d, want %d (the Seq of the last event before Subscribe)", second.After(), last.Seq)
	}
	spec := sh("exit 0")
	spec.Name = "d"
	if err := m.Add(spec); err != nil {
		t.Fatal(err)
	}
	e := next(t, second, func(e Event) bool { return true })
	if e.Seq != second.After()+1 {
		t.Fatalf("first event %d (%s), want Seq %d", e.Seq, e.Type, second.After()+1)
	}
}
