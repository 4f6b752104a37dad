package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The exec tests run this test binary as a child (phase "before"), which
// starts processes, then replaces its own image with the same binary in
// phase "after", which adopts them. The parent test compares what each
// image reported. Everything the kernel is said to do across execve (the
// death signal tied to the forking thread, children staying children,
// zombies keeping their status, carried descriptors) is what this checks.
const execPhaseEnv = "CORRAL_MONITOR_EXEC_PHASE"

type execImage struct {
	Pid       int                     `json:"pid"`
	Procs     map[string]execProc     `json:"procs"`
	Ticks     map[string]uint64       `json:"ticks"`
	Report    AdoptReport             `json:"report"`
	Exits     map[string]int          `json:"exits"`
	Timers    map[string][]SavedTimer `json:"timers"`
	FirstSeq  uint64                  `json:"first_seq"`
	SavedSeq  uint64                  `json:"saved_seq"`
	CountErr  string                  `json:"count_err"`
	Counted   int                     `json:"counted"`
	Zombies   int                     `json:"zombies"`
	ExecError string                  `json:"exec_error"`
	// Subreaper: PR_SET_CHILD_SUBREAPER was still set when the new image
	// started, before its monitor set it.
	Subreaper bool `json:"subreaper"`
}

// execProc is the part of a ProcessInfo the exec test compares (a Spec
// does not marshal: it holds functions and files).
type execProc struct {
	Pid      int
	State    State
	Restarts uint64
	Started  time.Time
	LastExit *ExitInfo
}

func procOf(p ProcessInfo) execProc {
	return execProc{Pid: p.Pid, State: p.State, Restarts: p.Restarts, Started: p.Started, LastExit: p.LastExit}
}

func execSpecs(stdin *os.File, counterOut *os.File) []Spec {
	return []Spec{
		{Name: "counter", Path: "python3", Args: []string{"python3", "-c",
			"import time\ni=0\nwhile True:\n print(i, flush=True)\n i+=1\n time.sleep(0.001)"},
			Stdout: counterOut, Restart: RestartPolicy{Kind: RestartAlways}, DeathSignal: syscall.SIGKILL},
		{Name: "backoff", Path: "false", Restart: RestartPolicy{Kind: RestartAlways},
			Backoff: Backoff{Initial: time.Hour, Max: 2 * time.Hour}, DeathSignal: syscall.SIGKILL},
		{Name: "stopped", Path: "sleep", Args: []string{"sleep", "600"}, DeathSignal: syscall.SIGKILL},
		// Reads its stdin to the end, which comes when the image that
		// holds the write end (close-on-exec) is replaced, then exits 3.
		{Name: "exit3", Path: "sh", Args: []string{"sh", "-c", "cat >/dev/null; exit 3"}, Stdin: stdin,
			Restart: RestartPolicy{Kind: RestartAlways}, Backoff: Backoff{Initial: time.Hour}, DeathSignal: syscall.SIGKILL},
	}
}

func writeImage(dir, name string, img execImage) {
	b, err := json.Marshal(img)
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		panic(err)
	}
}

func init() {
	if os.Getenv(execPhaseEnv) != "" {
		runtime.LockOSThread() // the main thread, for RunSpawner
	}
}

// execPhaseMain runs the test binary as one image of the exec tests, when
// execPhaseEnv says which (TestMain is in spawner_test.go); it never returns
// then.
func execPhaseMain() {
	main := func(f func()) func() int { return func() int { f(); return 2 } }
	switch os.Getenv(execPhaseEnv) {
	case "":
		return
	case "before":
		RunSpawner(main(execBefore))
	case "after", "again":
		RunSpawner(main(execAfter))
	}
	os.Exit(2)
}

// execEnv is the environment of the next image: this one's, with the
// phase and descriptor numbers replaced (a stale EXEC_STATE_FD first in the
// list would win, naming a descriptor the exec did not carry).
func execEnv(phase string, stateFd, counterFd int) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != execPhaseEnv && k != "EXEC_STATE_FD" && k != "EXEC_COUNTER_FD" {
			env = append(env, kv)
		}
	}
	return append(env, execPhaseEnv+"="+phase, "EXEC_STATE_FD="+strconv.Itoa(stateFd), "EXEC_COUNTER_FD="+strconv.Itoa(counterFd))
}

// execWithState execs this binary in phase, with the monitor's state in a
// memfd and the counter's pipe.
func execWithState(m *Monitor, phase string, counter int) error {
	return m.Exec(func(s Saved) (ExecRequest, error) {
		b, err := json.Marshal(s)
		if err != nil {
			return ExecRequest{}, err
		}
		fd, err := unix.MemfdCreate("corral-state", unix.MFD_CLOEXEC)
		if err != nil {
			return ExecRequest{}, err
		}
		if _, err := unix.Write(fd, b); err != nil {
			unix.Close(fd)
			return ExecRequest{}, err
		}
		return ExecRequest{Path: "/proc/self/exe", Argv: os.Args, Env: execEnv(phase, fd, counter), Keep: []int{fd, counter}}, nil
	})
}

func execBefore() {
	dir := os.Getenv("EXEC_DIR")
	fail := func(err error) {
		writeImage(dir, "before.json", execImage{ExecError: err.Error()})
		os.Exit(1)
	}
	m, err := New(Options{Subreaper: true})
	if err != nil {
		fail(err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		fail(err)
	}
	cntR, cntW, err := os.Pipe()
	if err != nil {
		fail(err)
	}
	for _, s := range execSpecs(inR, cntW) {
		if err := m.Add(s); err != nil {
			fail(err)
		}
	}
	sub, _ := m.Subscribe(0)
	for _, n := range []string{"counter", "backoff", "exit3"} {
		if err := m.Start(n); err != nil {
			fail(err)
		}
	}
	inR.Close()
	cntW.Close()
	out, err := os.OpenFile(filepath.Join(dir, "counter.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fail(err)
	}
	// Copy the counter until it has printed a few hundred lines and the
	// backoff process is in BACKOFF, then stop copying at a line boundary
	// is not needed: every byte read is written before the exec.
	buf := make([]byte, 4096)
	lines := 0
	for lines < 300 {
		n, err := cntR.Read(buf)
		if err != nil {
			fail(err)
		}
		out.Write(buf[:n])
		lines += bytes.Count(buf[:n], []byte("\n"))
	}
	for {
		info, _ := m.Process("backoff")
		if info.State == StateBackoff {
			break
		}
		if _, err := sub.Next(context.Background()); err != nil {
			fail(err)
		}
	}
	out.Close()
	img := execImage{Pid: os.Getpid(), Procs: map[string]execProc{}, Ticks: map[string]uint64{}}
	snap, seq, _ := m.Snapshot()
	img.SavedSeq = seq
	for _, p := range snap {
		img.Procs[p.Name] = procOf(p)
		if p.Pid != 0 {
			st, _ := readProcStat(p.Pid)
			img.Ticks[p.Name] = st.startTicks
		}
	}
	writeImage(dir, "before.json", img)
	// inW stays open until the exec closes it: exit3's end of input.
	err = execWithState(m, "after", int(cntR.Fd()))
	_ = inW
	fail(fmt.Errorf("exec returned: %v", err))
}

func execAfter() {
	dir := os.Getenv("EXEC_DIR")
	img := execImage{Pid: os.Getpid(), Procs: map[string]execProc{}, Exits: map[string]int{}, Timers: map[string][]SavedTimer{}}
	fail := func(err error) {
		img.ExecError = err.Error()
		writeImage(dir, "after.json", img)
		os.Exit(1)
	}
	fd, _ := strconv.Atoi(os.Getenv("EXEC_STATE_FD"))
	cnt, _ := strconv.Atoi(os.Getenv("EXEC_COUNTER_FD"))
	state := os.NewFile(uintptr(fd), "state")
	if _, err := state.Seek(0, 0); err != nil {
		fail(err)
	}
	var s Saved
	if err := json.NewDecoder(state).Decode(&s); err != nil {
		fail(err)
	}
	state.Close()
	img.SavedSeq = s.Seq
	for _, sp := range s.Processes {
		img.Timers[sp.Name] = sp.Timers
	}
	var sub32 int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&sub32)), 0, 0, 0); err != nil {
		fail(err)
	}
	img.Subreaper = sub32 != 0
	m, err := NewAdopting(Options{Subreaper: true})
	if err != nil {
		fail(err)
	}
	for _, sp := range execSpecs(nil, nil) {
		if err := m.Add(sp); err != nil {
			fail(err)
		}
	}
	sub, _ := m.Subscribe(0)
	if img.Report, err = m.Adopt(s); err != nil {
		fail(err)
	}
	// The exit 3 happened during the first exec: Adopt's reap handles it,
	// once. The second image has no exit to wait for.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := os.Getenv(execPhaseEnv) == "after"
	for first && img.Exits["exit3"] == 0 {
		e, err := sub.Next(ctx)
		if err != nil {
			fail(err)
		}
		if img.FirstSeq == 0 {
			img.FirstSeq = e.Seq
		}
		if e.Type == EventExited {
			img.Exits[e.Name]++
		}
	}
	if err := syscall.SetNonblock(cnt, true); err != nil {
		fail(err)
	}
	cntR := os.NewFile(uintptr(cnt), "counter")
	out, err := os.OpenFile(filepath.Join(dir, "counter.log"), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fail(err)
	}
	buf := make([]byte, 4096)
	for lines := 0; lines < 300; {
		n, err := cntR.Read(buf)
		if err != nil {
			fail(err)
		}
		out.Write(buf[:n])
		lines += bytes.Count(buf[:n], []byte("\n"))
	}
	snap, _, _ := m.Snapshot()
	for _, p := range snap {
		img.Procs[p.Name] = procOf(p)
	}
	img.Zombies = zombies()
	// Drain the events until now, so a second exit of any process shows.
	for {
		ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
		e, err := sub.Next(ctx2)
		cancel2()
		if err != nil {
			break
		}
		if e.Type == EventExited {
			img.Exits[e.Name]++
		}
	}
	if first && os.Getenv("EXEC_TWICE") == "1" {
		// Again, from this image: the processes it adopted were forked by
		// the previous image, so they survive only if both forked and
		// exec'd from the main thread (RunSpawner).
		writeImage(dir, "mid.json", img)
		if err := cntR.SetReadDeadline(time.Time{}); err != nil {
			fail(err)
		}
		rc, err := cntR.SyscallConn()
		if err != nil {
			fail(err)
		}
		var fd int
		_ = rc.Control(func(f uintptr) { fd = int(f) })
		fail(fmt.Errorf("second exec returned: %v", execWithState(m, "again", fd)))
	}
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := m.Shutdown(sctx); err != nil {
		fail(err)
	}
	// The counter's pipe stays open until it is dead: closed earlier (by
	// the finalizer), the counter would die of SIGPIPE and count as an exit.
	runtime.KeepAlive(cntR)
	writeImage(dir, "after.json", img)
	os.Exit(0)
}

func readImage(t *testing.T, dir, name string) execImage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var img execImage
	if err := json.Unmarshal(b, &img); err != nil {
		t.Fatal(err)
	}
	if img.ExecError != "" {
		t.Fatalf("%s: %s", name, img.ExecError)
	}
	return img
}

func runExecHelper(t *testing.T, twice bool) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("this test needs python3 (Debian package python3)")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), execPhaseEnv+"=before", "EXEC_DIR="+dir)
	if twice {
		cmd.Env = append(cmd.Env, "EXEC_TWICE=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// Children of the helper die with it (their death signal), and the
	// helper itself dies with this test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			before, _ := os.ReadFile(filepath.Join(dir, "before.json"))
			after, _ := os.ReadFile(filepath.Join(dir, "after.json"))
			t.Fatalf("helper: %v\n%s\nbefore: %s\nafter: %s", err, stderr.String(), before, after)
		}
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("helper did not finish\n%s", stderr.String())
	}
	return dir
}

// TestExecKeepsEveryProcess runs an image that starts processes of every
// kind and execs itself; the new image adopts them.
func TestExecKeepsEveryProcess(t *testing.T) {
	dir := runExecHelper(t, false)
	before := readImage(t, dir, "before.json")
	after := readImage(t, dir, "after.json")
	checkFirstExec(t, before, after)
	if after.Zombies != 0 {
		t.Errorf("%d zombies after adoption", after.Zombies)
	}
	checkCounter(t, filepath.Join(dir, "counter.log"), 600)
}

// TestExecTwiceKeepsEveryProcess execs a second time from the image that
// adopted the processes: they survive only because every fork and exec runs
// on the main thread (RunSpawner).
func TestExecTwiceKeepsEveryProcess(t *testing.T) {
	dir := runExecHelper(t, true)
	before := readImage(t, dir, "before.json")
	mid := readImage(t, dir, "mid.json")
	after := readImage(t, dir, "after.json")
	checkFirstExec(t, before, mid)
	if after.Pid != before.Pid {
		t.Errorf("pid changed across the second exec: %d -> %d", before.Pid, after.Pid)
	}
	if after.Report.Adopted != 4 || len(after.Report.Lost)+len(after.Report.Unknown) != 0 {
		t.Errorf("second adoption %+v, want 4 adopted, none lost or unknown", after.Report)
	}
	for name, m := range mid.Procs {
		a := after.Procs[name]
		if a.Pid != m.Pid || a.State != m.State || a.Restarts != m.Restarts {
			t.Errorf("%s across the second exec: pid %d %s restarts %d -> pid %d %s restarts %d", name, m.Pid, m.State, m.Restarts, a.Pid, a.State, a.Restarts)
		}
		if after.Exits[name] != 0 {
			t.Errorf("%s exited %d times after the second exec", name, after.Exits[name])
		}
	}
	if after.Zombies != 0 {
		t.Errorf("%d zombies after the second adoption", after.Zombies)
	}
	checkCounter(t, filepath.Join(dir, "counter.log"), 900)
}

func checkFirstExec(t *testing.T, before, after execImage) {
	t.Helper()
	if before.Pid != after.Pid {
		t.Errorf("pid changed across exec: %d -> %d", before.Pid, after.Pid)
	}
	if !after.Subreaper {
		t.Error("PR_SET_CHILD_SUBREAPER was not kept across the exec")
	}
	if len(after.Report.Lost)+len(after.Report.Unknown) != 0 || after.Report.Adopted != 4 {
		t.Errorf("adopt report %+v, want 4 adopted, none lost or unknown", after.Report)
	}
	for _, name := range []string{"counter", "backoff", "stopped"} {
		b, a := before.Procs[name], after.Procs[name]
		if a.Pid != b.Pid || a.State != b.State || a.Restarts != b.Restarts || !a.Started.Equal(b.Started) {
			t.Errorf("%s: before pid %d %s restarts %d started %v; after pid %d %s restarts %d started %v",
				name, b.Pid, b.State, b.Restarts, b.Started, a.Pid, a.State, a.Restarts, a.Started)
		}
		if after.Exits[name] != 0 {
			t.Errorf("%s: %d exits after the exec, want none", name, after.Exits[name])
		}
	}
	if after.Procs["stopped"].State != StateStopped {
		t.Errorf("stopped is %s", after.Procs["stopped"].State)
	}
	if st, err := readProcStatIfAny(before.Procs["counter"].Pid); err == nil && st == before.Ticks["counter"] {
		t.Errorf("counter (pid %d) still runs after the helper's shutdown", before.Procs["counter"].Pid)
	}
	if got := after.Exits["exit3"]; got != 1 {
		t.Errorf("exit3: %d exits recorded, want exactly 1", got)
	}
	if b, a := before.Procs["exit3"].Restarts, after.Procs["exit3"].Restarts; a != b+1 {
		t.Errorf("exit3 restarts %d -> %d, want +1", b, a)
	}
	if e := after.Procs["exit3"].LastExit; e == nil || e.Code != 3 {
		t.Errorf("exit3 last exit %+v, want code 3", e)
	}
	bt := after.Timers["backoff"]
	if len(bt) != 1 || bt[0].Kind != "backoff" || bt[0].Remaining <= 50*time.Minute || bt[0].Remaining > time.Hour {
		t.Errorf("backoff timers carried %+v, want one backoff timer with nearly an hour left", bt)
	}
	if after.FirstSeq <= after.SavedSeq {
		t.Errorf("first event after the exec has seq %d, saved seq %d: the sequence went back", after.FirstSeq, after.SavedSeq)
	}
}

func readProcStatIfAny(pid int) (uint64, error) {
	if pid == 0 {
		return 0, errors.New("no pid")
	}
	st, err := readProcStat(pid)
	return st.startTicks, err
}

// checkCounter asserts the log holds 0, 1, 2, ... each exactly once, up to
// a last line that may be cut short.
func checkCounter(t *testing.T, path string, atLeast int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	lines = lines[:len(lines)-1] // after the last newline: a partial line or nothing
	if len(lines) < atLeast {
		t.Fatalf("counter log has %d lines, want >= %d", len(lines), atLeast)
	}
	for i, l := range lines {
		if l != strconv.Itoa(i) {
			t.Fatalf("counter log line %d is %q, want %d: a byte was lost or duplicated across the exec", i+1, l, i)
		}
	}
}

// TestExecFailureKeepsState: a failed exec (a missing binary, prepare's
// error) leaves the monitor as it was, close-on-exec flags included; Exec
// is refused without the spawner thread. The exec part runs in a child
// with the spawner thread (execFailChild).
func TestExecFailureKeepsState(t *testing.T) {
	m, err := New(Options{Subreaper: true})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	err = m.Exec(func(Saved) (ExecRequest, error) { called = true; return ExecRequest{}, nil })
	if err == nil || !strings.Contains(err.Error(), "RunSpawner") || called {
		t.Errorf("Exec without the spawner thread: %v (prepare called: %v), want a refusal naming RunSpawner before prepare", err, called)
	}
	// The monitor reaps every child of this process (reaper backend): it
	// must be gone before the child below starts, or it could reap the
	// child before cmd.Wait does.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	reapLeftovers(t)
	lines := spawnerChildLines(t, "execfail")
	if len(lines) == 0 || lines[len(lines)-1] != "ok" {
		t.Fatalf("child output:\n%s", strings.Join(lines, "\n"))
	}
}

// execFailChild is TestExecFailureKeepsState's exec part, run with the
// spawner thread; it prints what is wrong, then "ok" if nothing is.
func execFailChild() int {
	bad := func(format string, args ...any) int { fmt.Printf(format+"\n", args...); return 1 }
	if err := SpawnerError(); err != nil {
		return bad("%v", err)
	}
	m, err := New(Options{Subreaper: true})
	if err != nil {
		return bad("%v", err)
	}
	defer m.Close()
	if err := m.Add(Spec{Name: "s", Path: "sleep", Args: []string{"sleep", "600"}}); err != nil {
		return bad("%v", err)
	}
	if err := m.Start("s"); err != nil {
		return bad("%v", err)
	}
	before, _ := m.Process("s")
	r, w, err := os.Pipe()
	if err != nil {
		return bad("%v", err)
	}
	defer r.Close()
	defer w.Close()
	fd := int(r.Fd())
	var saved Saved
	err = m.Exec(func(s Saved) (ExecRequest, error) {
		saved = s
		return ExecRequest{Path: "/nonexistent/corral", Argv: []string{"corral"}, Keep: []int{fd}}, nil
	})
	if err == nil || !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "/nonexistent/corral") {
		return bad("exec of a missing binary: %v, want ENOENT naming the path", err)
	}
	if flags, err := fcntl(fd, syscall.F_GETFD, 0); err != nil || flags&syscall.FD_CLOEXEC == 0 {
		return bad("descriptor %d lost close-on-exec after the failed exec (flags %d, %v)", fd, flags, err)
	}
	after, _ := m.Process("s")
	if after.Pid != before.Pid || (after.State != StateRunning && after.State != StateStarting) {
		return bad("after the failed exec: %+v, want pid %d running", after, before.Pid)
	}
	if len(saved.Processes) != 1 || saved.Processes[0].Pid != before.Pid || saved.Processes[0].StartTicks == 0 {
		return bad("saved state %+v", saved)
	}
	want := errors.New("refused")
	if err := m.Exec(func(Saved) (ExecRequest, error) { return ExecRequest{}, want }); !errors.Is(err, want) {
		return bad("prepare's error: got %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		return bad("shutdown: %v", err)
	}
	fmt.Println("ok")
	return 0
}

func TestAdoptRefusesAnotherProcess(t *testing.T) {
	m, err := NewAdopting(Options{Subreaper: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(); reapLeftovers(t) })
	if err := m.Add(Spec{Name: "gone", Path: "true"}); err != nil {
		t.Fatal(err)
	}
	// Pid 1 is not our child: it must not be adopted.
	r, err := m.Adopt(Saved{Seq: 41, Processes: []SavedProcess{
		{Name: "gone", State: StateRunning, Pid: 1, StartTicks: 12345},
		{Name: "nosuch", State: StateStopped},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lost) != 1 || r.Lost[0] != "gone" || len(r.Unknown) != 1 || r.Unknown[0] != "nosuch" || r.Adopted != 0 {
		t.Errorf("report %+v", r)
	}
	info, _ := m.Process("gone")
	if info.State != StateFatal || info.Pid != 0 || !strings.Contains(info.Err, "pid 1") {
		t.Errorf("gone: %+v, want FATAL naming pid 1", info)
	}
	if _, seq, _ := m.Snapshot(); seq <= 41 {
		t.Errorf("seq %d after adopting saved seq 41", seq)
	}
	if _, err := m.Adopt(Saved{}); !errors.Is(err, ErrAdopted) {
		t.Errorf("second Adopt: %v", err)
	}
}
