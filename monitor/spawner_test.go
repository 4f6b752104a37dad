package monitor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The spawner thread takes the main thread of the process, so its tests run
// in a re-executed copy of the test binary (spawnerTestEnv names the role)
// whose init locks the main goroutine to the main thread, as a daemon's
// does.
const (
	spawnerTestEnv = "CORRAL_SPAWNER_TEST"
	spawnerPidEnv  = "CORRAL_SPAWNER_TEST_PID"
	spawnerFdsEnv  = "CORRAL_SPAWNER_TEST_FDS"
)

func init() {
	if os.Getenv(spawnerTestEnv) != "" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	execPhaseMain() // adopt_test.go's images, if this is one
	switch os.Getenv(spawnerTestEnv) {
	case "":
		os.Exit(m.Run())
	case "exec":
		RunSpawner(spawnerExecChild)
	case "after-exec":
		os.Exit(spawnerAfterExec())
	case "crash":
		RunSpawner(spawnerCrashChild)
	case "batch":
		RunSpawner(spawnerBatchChild)
	case "cgroup":
		RunSpawner(spawnerCgroupChild)
	case "storm":
		RunSpawner(spawnerStormChild)
	case "execfail":
		RunSpawner(execFailChild)
	case "ticks":
		RunSpawner(spawnerTicksChild)
	case "lookup":
		RunSpawner(spawnerLookupChild)
	case "table":
		RunSpawner(spawnerTableChild)
	}
	fmt.Fprintln(os.Stderr, "unknown", spawnerTestEnv)
	os.Exit(2)
}

// spawnerChildLines runs the test binary in role to its end and returns
// what it printed, failing the test if it did not exit 0.
func spawnerChildLines(t *testing.T, role string, env ...string) []string {
	t.Helper()
	cmd, out := runSpawnerChild(t, role, env...)
	var lines []string
	for out.Scan() {
		lines = append(lines, out.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v; output:\n%s", err, strings.Join(lines, "\n"))
	}
	return lines
}

// wantLines fails the test unless a child printed exactly want.
func wantLines(t *testing.T, lines, want []string) {
	t.Helper()
	if !slices.Equal(lines, want) {
		t.Fatalf("child said:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// runSpawnerChild runs the test binary in role and returns a scanner of its
// stdout. The child is killed and waited for when the test ends.
func runSpawnerChild(t *testing.T, role string, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), spawnerTestEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(out)
}

// TestSpawnerExecKeepsChildren: processes forked by the spawner thread
// survive an execve of that thread, still children of the process, and a
// descriptor it carries is open in the new image under the same number; an execve that fails
// leaves the old image running and the spawner serving. It also checks that
// a spawned process gets its stdio and nothing else, even descriptors the
// program left without close-on-exec.
func TestSpawnerExecKeepsChildren(t *testing.T) {
	lines := spawnerChildLines(t, "exec")
	want := []string{
		"spawner: running",
		"inherited the leaked pipe: false",
		"failed exec: exec /nonexistent/corral: no such file or directory",
		"spawned after the failed exec",
		"after exec: child alive and still ours",
		"after exec: carried descriptor is a pipe",
		"after exec: child reaped, killed: true",
	}
	wantLines(t, lines, want)
}

func spawnerExecChild() int {
	fail := func(format string, args ...any) int {
		fmt.Printf(format+"\n", args...)
		return 1
	}
	if err := SpawnerError(); err != nil {
		return fail("spawner: %v", err)
	}
	fmt.Println("spawner: running")
	// A descriptor without close-on-exec, as a careless program leaves one.
	var leak [2]int
	if err := syscall.Pipe(leak[:]); err != nil {
		return fail("pipe: %v", err)
	}
	defer syscall.Close(leak[0])
	defer syscall.Close(leak[1])
	leaked, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", leak[0]))
	if err != nil {
		return fail("readlink: %v", err)
	}
	m, err := New(Options{})
	if err != nil {
		return fail("new: %v", err)
	}
	start := func(name string) int {
		spec := Spec{Name: name, Path: "/bin/sleep", Args: []string{"sleep", "1000"}, DeathSignal: syscall.SIGKILL}
		if err := m.Add(spec); err != nil {
			fail("add: %v", err)
			return 0
		}
		if err := m.Start(name); err != nil {
			fail("start: %v", err)
			return 0
		}
		info, err := m.Process(name)
		if err != nil {
			fail("info: %v", err)
			return 0
		}
		return info.Pid
	}
	pid := start("kept")
	if pid == 0 {
		return 1
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return fail("fds of %d: %v", pid, err)
	}
	// (The dynamic loader may hold a descriptor of its own for a moment.)
	inherited := false
	for _, e := range ents {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		inherited = inherited || link == leaked
	}
	fmt.Printf("inherited the leaked pipe: %v\n", inherited)

	r, w, err := os.Pipe()
	if err != nil {
		return fail("pipe: %v", err)
	}
	defer r.Close()
	defer w.Close()
	// A failed exec that carried a descriptor: the spawner moved its own
	// socket to make room, and must still serve.
	err = spawner.exec(&execJob{path: "/nonexistent/corral", argv: []string{"corral"}, files: []int{int(w.Fd())}})
	fmt.Printf("failed exec: %v\n", err)
	if p := start("after"); p == 0 {
		return 1
	}
	if err := m.StopWait(context.Background(), "after"); err != nil {
		return fail("stop: %v", err)
	}
	fmt.Println("spawned after the failed exec")

	env := append(os.Environ(), spawnerTestEnv+"=after-exec", spawnerPidEnv+"="+strconv.Itoa(pid),
		"CORRAL_SPAWNER_TEST_WANT="+strconv.Itoa(int(w.Fd())))
	env = slices.DeleteFunc(env, func(kv string) bool { return kv == spawnerTestEnv+"=exec" })
	err = spawner.exec(&execJob{path: "/proc/self/exe", argv: []string{os.Args[0], "-test.run=^$"}, env: env,
		files: []int{int(w.Fd())}, fdsEnv: spawnerFdsEnv})
	return fail("exec of the test binary: %v", err)
}

// spawnerAfterExec is the new image: the sleep forked before the exec must
// still be its child, alive.
func spawnerAfterExec() int {
	pid, _ := strconv.Atoi(os.Getenv(spawnerPidEnv))
	var ws syscall.WaitStatus
	got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	if got != 0 || err != nil {
		fmt.Printf("after exec: child %d gone: %d %v %v\n", pid, got, err, ws)
		return 1
	}
	fmt.Println("after exec: child alive and still ours")
	fd, _ := strconv.Atoi(os.Getenv(spawnerFdsEnv))
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		fmt.Printf("after exec: carried descriptor %d: %v, mode %o\n", fd, err, st.Mode)
		return 1
	}
	fmt.Println("after exec: carried descriptor is a pipe")
	if want := os.Getenv("CORRAL_SPAWNER_TEST_WANT"); strconv.Itoa(fd) != want {
		fmt.Printf("after exec: carried descriptor is %d, was %s before the exec\n", fd, want)
		return 1
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		fmt.Printf("kill: %v\n", err)
		return 1
	}
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		fmt.Printf("wait: %v\n", err)
		return 1
	}
	fmt.Printf("after exec: child reaped, killed: %v\n", ws.Signaled() && ws.Signal() == syscall.SIGKILL)
	return 0
}

// TestSpawnerDeathSignalOnCrash: a kill -9 of a process whose programs
// were forked by the spawner thread kills them too (their death signal is
// tied to the main thread, which ends only with the process).
func TestSpawnerDeathSignalOnCrash(t *testing.T) {
	cmd, out := runSpawnerChild(t, "crash")
	var pids []int
	for out.Scan() {
		line := out.Text()
		if line == "ready" {
			break
		}
		pid, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("child: %s", line)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 3 {
		t.Fatalf("child started %d processes before ready, want 3", len(pids))
	}
	for _, pid := range pids {
		if ppid := parentOf(pid); ppid != cmd.Process.Pid {
			t.Fatalf("process %d has parent %d, want the child %d", pid, ppid, cmd.Process.Pid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(hang)
	for _, pid := range pids {
		// Gone, or a zombie of whoever inherited it: not running.
		for running(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("process %d outlived its supervisor's kill -9", pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func spawnerCrashChild() int {
	if err := SpawnerError(); err != nil {
		fmt.Println(err)
		return 1
	}
	m, err := New(Options{Subreaper: true})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	names := []string{"a", "b", "c"}
	for _, name := range names {
		if err := m.Add(Spec{Name: name, Path: "/bin/sleep", Args: []string{"sleep", "1000"}, DeathSignal: syscall.SIGKILL}); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	for i, err := range m.StartEach(names) {
		if err != nil {
			fmt.Println(names[i], err)
			return 1
		}
		info, _ := m.Process(names[i])
		fmt.Println(info.Pid)
	}
	fmt.Println("ready")
	select {}
}

// parentOf reads the parent pid of pid from /proc, or -1.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, os.ErrNotExist) || err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[0] != "Z" && f[0] != "X"
}

// TestSpawnerStartEachMatchesEveryExit: StartEach through the spawner thread
// (batches of requests) starts every process once, reports a duplicate name
// and a missing binary as Start would, and every exit is matched to the pid
// the batch reported, none left for the orphan count.
func TestSpawnerStartEachMatchesEveryExit(t *testing.T) {
	lines := spawnerChildLines(t, "batch")
	want := []string{
		`dup: start "p0": already started (state RUNNING)`,
		`missing: start "missing": spawn error: stat /nonexistent/program: no such file or directory`,
		"300 exits matched, 0 orphans",
	}
	wantLines(t, lines, want)
}

func spawnerBatchChild() int {
	m := spawnerChildMonitor()
	if m == nil {
		return 1
	}
	const n = 300
	sub, _ := m.Subscribe(8 * n)
	var names []string
	for i := range n {
		name := fmt.Sprint("p", i)
		if err := m.Add(Spec{Name: name, Path: "/bin/sh", Args: []string{"sh", "-c", "exit 7"}}); err != nil {
			fmt.Println(err)
			return 1
		}
		names = append(names, name)
		if i == 0 {
			names = append(names, name)
		}
	}
	if err := m.Add(Spec{Name: "missing", Path: "/nonexistent/program"}); err != nil {
		fmt.Println(err)
		return 1
	}
	names = append(names, "missing")
	for i, err := range m.StartEach(names) {
		switch {
		case i == 1:
			fmt.Println("dup:", err)
		case names[i] == "missing":
			fmt.Println("missing:", err)
		case err != nil:
			fmt.Println(names[i], err)
			return 1
		}
	}
	pids := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	err := awaitExits(ctx, sub, n, func(e Event) error {
		switch e.Type {
		case EventStarting:
			pids[e.Name] = e.Pid
		case EventExited:
			if e.Exit.Pid != pids[e.Name] || e.Exit.Code != 7 {
				return fmt.Errorf("%s: exit %+v, started as pid %d", e.Name, *e.Exit, pids[e.Name])
			}
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	st, _ := m.Stats()
	fmt.Printf("%d exits matched, %d orphans\n", n, st.OrphansReaped)
	if err := m.Shutdown(ctx); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}

// TestSpawnerCloneIntoCgroup: a job whose SysProcAttr asks for
// CLONE_INTO_CGROUP (the daemon's Spec.Cgroup builds one) is forked into
// that cgroup by the spawner thread: the cgroup descriptor, a descriptor of
// the shared table, crosses to the spawner's table with the stdio. Needs a
// writable cgroup v2 hierarchy, as the daemon's cgroups do.
func TestSpawnerCloneIntoCgroup(t *testing.T) {
	root := "/sys/fs/cgroup"
	if _, err := os.Stat(root + "/cgroup.controllers"); err != nil {
		root = "/sys/fs/cgroup/unified" // hybrid hierarchy
	}
	dir := fmt.Sprintf("%s/corral-spawner-test-%d", root, os.Getpid())
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("a writable cgroup v2 hierarchy is needed: %v", err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(dir+"/cgroup.kill", []byte("1"), 0)
		for deadline := time.Now().Add(hang); os.Remove(dir) != nil && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	})
	lines := spawnerChildLines(t, "cgroup", "CORRAL_SPAWNER_TEST_CGROUP="+dir)
	want := []string{"in the cgroup: true", "outside: true"}
	wantLines(t, lines, want)
}

func spawnerCgroupChild() int {
	dir := os.Getenv("CORRAL_SPAWNER_TEST_CGROUP")
	cg, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer unix.Close(cg)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer devnull.Close()
	null := int(devnull.Fd())
	sys := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	in := &spawnJob{path: "/bin/sleep", argv: []string{"sleep", "1000"}, files: [3]int{null, null, null},
		sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, UseCgroupFD: true, CgroupFD: cg}}
	out := &spawnJob{path: "/bin/sleep", argv: []string{"sleep", "1000"}, files: [3]int{null, null, null}, sys: sys}
	if err := spawner.spawn([]*spawnJob{in, out}); err != nil || in.err != nil || out.err != nil {
		fmt.Println(err, in.err, out.err)
		return 1
	}
	name := dir[strings.LastIndexByte(dir, '/'):]
	for _, j := range []*spawnJob{in, out} {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", j.pid))
		inside := strings.Contains(string(b), name+"\n")
		if j == in {
			fmt.Println("in the cgroup:", inside)
		} else {
			fmt.Println("outside:", !inside)
		}
		_ = syscall.Kill(j.pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(j.pid, &ws, 0, nil)
	}
	return 0
}

// TestSpawnerKillStormRestartsEach: all processes killed at once are
// restarted through the spawner thread (the restarts of one reap turn go as
// one batch; how many share a turn depends on timing): each exit is matched
// to its pid, each process gets exactly one new pid, and no exit is left
// over.
func TestSpawnerKillStormRestartsEach(t *testing.T) {
	lines := spawnerChildLines(t, "storm")
	want := []string{"200 restarted once each, 400 spawns, 200 exits, 0 orphans"}
	wantLines(t, lines, want)
}

func spawnerStormChild() int {
	fail := func(format string, args ...any) int {
		fmt.Printf(format+"\n", args...)
		return 1
	}
	if err := SpawnerError(); err != nil {
		return fail("%v", err)
	}
	m, err := New(Options{Subreaper: true})
	if err != nil {
		return fail("%v", err)
	}
	const n = 200
	sub, _ := m.Subscribe(16 * n)
	var names []string
	for i := range n {
		name := fmt.Sprint("s", i)
		// No backoff: the restart follows the exit in the same turn.
		spec := Spec{Name: name, Path: "/bin/sleep", Args: []string{"sleep", "1000"}, DeathSignal: syscall.SIGKILL,
			Restart: RestartPolicy{Kind: RestartAlways}, Backoff: Backoff{ResetAfter: time.Nanosecond}}
		if err := m.Add(spec); err != nil {
			return fail("%v", err)
		}
		names = append(names, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	first := map[string]int{}
	for i, err := range m.StartEach(names) {
		if err != nil {
			return fail("%s: %v", names[i], err)
		}
		info, _ := m.Process(names[i])
		first[names[i]] = info.Pid
	}
	for _, pid := range first {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	second := map[string]int{}
	exits := 0
	for len(second) < n {
		e, err := sub.Next(ctx)
		if err != nil {
			return fail("%v", err)
		}
		switch e.Type {
		case EventExited:
			if e.Exit.Pid != first[e.Name] {
				return fail("%s: exit of pid %d, started as %d", e.Name, e.Exit.Pid, first[e.Name])
			}
			exits++
		case EventStarting:
			if e.Pid == first[e.Name] {
				continue // the first start's event
			}
			if _, again := second[e.Name]; again {
				return fail("%s: restarted twice", e.Name)
			}
			second[e.Name] = e.Pid
		}
	}
	st, _ := m.Stats()
	fmt.Printf("%d restarted once each, %d spawns, %d exits, %d orphans\n", len(second), st.Spawns, exits, st.OrphansReaped)
	if err := m.Shutdown(ctx); err != nil {
		return fail("%v", err)
	}
	return 0
}

// TestSpawnerBatchLooksUpEachSearchPath: one batch looks a command and a
// working directory up once (resolved), yet two programs with the same
// command and different PATHs still find different files, or none, and
// a missing directory fails every program that names it.
func TestSpawnerBatchLooksUpEachSearchPath(t *testing.T) {
	empty, bin := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "corral-lookup"), []byte("#!/bin/sh\n/bin/sleep 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	lines := spawnerChildLines(t, "lookup", "LOOKUP_EMPTY="+empty, "LOOKUP_BIN="+bin)
	wantLines(t, lines, []string{
		"a: not found",
		"b: started " + filepath.Join(bin, "corral-lookup"),
		"c: started " + filepath.Join(bin, "corral-lookup"),
		"d: directory error",
		"e: directory error",
		"f: started /bin/sleep",
	})
}

func spawnerLookupChild() int {
	m := spawnerChildMonitor()
	if m == nil {
		return 1
	}
	empty, bin := os.Getenv("LOOKUP_EMPTY"), os.Getenv("LOOKUP_BIN")
	gone := filepath.Join(empty, "gone")
	specs := []Spec{
		{Name: "a", Path: "corral-lookup", Args: []string{"corral-lookup"}, Env: []string{"PATH=" + empty}},
		{Name: "b", Path: "corral-lookup", Args: []string{"corral-lookup"}, Env: []string{"PATH=" + bin}},
		{Name: "c", Path: "corral-lookup", Args: []string{"corral-lookup"}, Env: []string{"PATH=" + empty + ":" + bin}},
		{Name: "d", Path: "/bin/sleep", Args: []string{"sleep", "1000"}, Dir: gone},
		{Name: "e", Path: "/bin/sleep", Args: []string{"sleep", "1000"}, Dir: gone},
		{Name: "f", Path: "/bin/sleep", Args: []string{"sleep", "1000"}, Dir: bin},
	}
	var names []string
	for _, s := range specs {
		s.StopTimeout = 5 * time.Second
		if err := m.Add(s); err != nil {
			fmt.Println(err)
			return 1
		}
		names = append(names, s.Name)
	}
	for i, err := range m.StartEach(names) {
		info, _ := m.Process(names[i])
		switch {
		case err == nil:
			path := ""
			if b := cmdline(info.Pid); b != "" {
				// a script's cmdline is the shell, then the script
				args := strings.Split(b, "\x00")
				path = args[len(args)-1]
				if args[0] == "/bin/sleep" || args[0] == "sleep" {
					path = "/bin/sleep"
				}
			}
			fmt.Printf("%s: started %s\n", names[i], path)
		case strings.Contains(err.Error(), "not found"):
			fmt.Printf("%s: not found\n", names[i])
		case strings.Contains(err.Error(), "directory"):
			fmt.Printf("%s: directory error\n", names[i])
		default:
			fmt.Printf("%s: %v\n", names[i], err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		fmt.Println("shutdown:", err)
		return 1
	}
	return 0
}

// cmdline is pid's command line, its arguments separated by NULs, or ""
// if it has none within a second. A vfork's parent resumes when the child's
// execve has switched to the new memory, before the kernel sets up the
// arguments there (load_elf_binary), so right after a spawn /proc/PID/cmdline
// can still be empty.
func cmdline(pid int) string {
	for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && len(b) > 0 {
			return strings.TrimRight(string(b), "\x00")
		}
		if err != nil || time.Now().After(deadline) {
			return ""
		}
	}
}

// TestSpawnerForkCopiesAFewSpawnsDescriptors: the spawner thread's table
// holds one message's spawns' descriptors when it forks (jobsPerMessage),
// not its batch's, so a fork copies (and an exec closes) a handful whatever
// the batch. Each program counts the spawner's table (/proc/PPID/fd lists
// the main thread's) while the batches of StartEach go on; when the spawner
// held a batch's descriptors until its last fork, the programs of a batch
// of 64 saw up to 200.
func TestSpawnerForkCopiesAFewSpawnsDescriptors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "counts")
	lines := spawnerChildLines(t, "table", "TABLE_OUT="+out)
	wantLines(t, lines, []string{"128 exits"})
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	counts := strings.Fields(string(b))
	if len(counts) != 128 {
		t.Fatalf("%d counts, want 128: %q", len(counts), b)
	}
	most := 0
	for _, c := range counts {
		n, err := strconv.Atoi(c)
		if err != nil {
			t.Fatalf("count %q: %v", c, err)
		}
		most = max(most, n)
	}
	t.Logf("at most %d descriptors in the spawner's table", most)
	// stdio, the runtime's poller and the socket (6), a fork's error pipe
	// (2) and one message's spawns' stdio (3 each): a batch of 64 spawns
	// would be 192.
	if limit := 6 + 2 + 3*jobsPerMessage; most > limit {
		t.Fatalf("a program saw %d descriptors in the spawner's table, want at most %d (counts %v)", most, limit, counts)
	}
}

func spawnerTableChild() int {
	m := spawnerChildMonitor()
	if m == nil {
		return 1
	}
	f, err := os.OpenFile(os.Getenv("TABLE_OUT"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer f.Close()
	const n = 128
	sub, _ := m.Subscribe(8 * n)
	var names []string
	for i := range n {
		name := fmt.Sprint("p", i)
		// Each its own pipe as stdin, as a daemon's programs have
		// theirs: a batch's spawns hold distinct descriptors.
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Println(err)
			return 1
		}
		defer r.Close()
		defer w.Close()
		if err := m.Add(Spec{Name: name, Path: "/bin/sh", Args: []string{"sh", "-c", "ls /proc/$PPID/fd | wc -l"},
			Stdin: r, Stdout: f, Stderr: f}); err != nil {
			fmt.Println(err)
			return 1
		}
		names = append(names, name)
	}
	for i, err := range m.StartEach(names) {
		if err != nil {
			fmt.Println(names[i], err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := awaitExits(ctx, sub, n, func(Event) error { return nil }); err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("%d exits\n", n)
	if err := m.Shutdown(ctx); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}

// awaitExits reads sub until n processes exited, giving each event to
// seen, whose error ends the wait.
func awaitExits(ctx context.Context, sub *Subscription, n int, seen func(Event) error) error {
	for exits := 0; exits < n; {
		e, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		if err := seen(e); err != nil {
			return err
		}
		if e.Type == EventExited {
			exits++
		}
	}
	return nil
}

// spawnerChildMonitor is a spawner child's monitor, or nil, once it printed
// why (the spawner thread does not run, or New failed).
func spawnerChildMonitor() *Monitor {
	if err := SpawnerError(); err != nil {
		fmt.Println(err)
		return nil
	}
	m, err := New(Options{})
	if err != nil {
		fmt.Println(err)
		return nil
	}
	return m
}
