package initmode_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// corralBin is the corral binary built for these tests: init is tested as
// the real PID 1 of a new PID namespace, which only a separate process can be.
// corral-init is built beside it, as `go install ./cmd/...` installs them,
// so `corral init -- CMD` runs as users run it: corral execs corral-init.
var corralBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "corral-initmode-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	corralBin = filepath.Join(dir, "corral")
	build := exec.Command("go", "build", "-o", dir, "github.com/corralhq/corral/cmd/corral", "github.com/corralhq/corral/cmd/corral-init")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "build corral:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTools fails (never skips) without the tools CI installs.
func requireTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"unshare", "tini"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to test corral init against tini as PID 1: %v", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("tests of corral init as PID 1 need root (unshare --pid)")
	}
}

// impl is an init under test: corral init or Debian's tini, with flags.
type impl string

const (
	corral impl = "corral"
	tini   impl = "tini"
)

func (i impl) argv(flags []string, cmd ...string) []string {
	if i == corral {
		return append(append([]string{corralBin, "init"}, flags...), append([]string{"--"}, cmd...)...)
	}
	return append(append([]string{"tini"}, flags...), append([]string{"--"}, cmd...)...)
}

// pidns runs argv as PID 1 of a new PID namespace with its own /proc;
// killing unshare kills the namespace.
func pidns(argv []string) []string {
	return append([]string{"unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "--"}, argv...)
}

// run is one started init. Its process group is killed at cleanup.
type run struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{}
	code int
}

func start(t *testing.T, dir string, argv []string) *run {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "D="+dir)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	r := &run{t: t, cmd: cmd, done: make(chan struct{}), code: -1}
	go func() {
		defer close(r.done)
		_ = cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
		if t.Failed() {
			t.Logf("output of %v:\n%s", argv, out.String())
		}
	})
	return r
}

// wait returns the exit code, failing the test after a timeout.
func (r *run) wait() int {
	r.t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(20 * time.Second):
		r.t.Fatalf("%v did not exit", r.cmd.Args)
		return -1
	}
}

// pid1 returns the host pid of PID 1 of the namespace unshare created: its
// only child.
func (r *run) pid1() int {
	r.t.Helper()
	path := fmt.Sprintf("/proc/%d/task/%d/children", r.cmd.Process.Pid, r.cmd.Process.Pid)
	for range 200 {
		b, err := os.ReadFile(path)
		if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
			pid, _ := strconv.Atoi(f[0])
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatalf("no PID 1 under unshare (pid %d)", r.cmd.Process.Pid)
	return 0
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for range 1000 {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "missing"
	}
	return strings.TrimSpace(string(b))
}

// parityCase is one behaviour of an init, run as PID 1 (unless noted)
// under corral and under tini; both must give want.
type parityCase struct {
	name  string
	flags []string
	// outcome runs the init (built by argv) in dir and says what happened.
	outcome func(t *testing.T, dir string, argv func(flags []string, cmd ...string) []string) string
	want    string
}

func exitCodeCase(name string, want int, cmd ...string) parityCase {
	return parityCase{
		name: name,
		outcome: func(t *testing.T, dir string, argv func([]string, ...string) []string) string {
			return "exit " + strconv.Itoa(start(t, dir, pidns(argv(nil, cmd...))).wait())
		},
		want: "exit " + strconv.Itoa(want),
	}
}

// The child traps TERM, and starts a grandchild in its process group that
// traps TERM too; SIGTERM goes to PID 1 from the host.
const groupScript = `
sh -c 'trap "touch $D/grand; exit 0" TERM; touch $D/gready; sleep 30 & wait' &
trap 'touch $D/child; i=0; while [ ! -e $D/grand ] && [ $i -lt 50 ]; do sleep 0.02; i=$((i+1)); done; exit 7' TERM
while [ ! -e $D/gready ]; do sleep 0.01; done
touch $D/ready
sleep 30 & wait
`

func groupCase(name string, flags []string, want string) parityCase {
	return parityCase{
		name: name, flags: flags,
		outcome: func(t *testing.T, dir string, argv func([]string, ...string) []string) string {
			r := start(t, dir, pidns(argv(flags, "sh", "-c", groupScript)))
			waitFile(t, filepath.Join(dir, "ready"))
			if err := syscall.Kill(r.pid1(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("exit %d, child trapped %v, grandchild trapped %v",
				r.wait(), exists(filepath.Join(dir, "child")), exists(filepath.Join(dir, "grand")))
		},
		want: want,
	}
}

// Fifty orphans die as zombies of PID 1; one more waits to be re-parented
// to PID 1 and reports its parent. The child waits until every one of them
// has left /proc (reaped, not only exited), then counts the zombies left in
// the namespace. Every wait is for an event, bounded at about 10 s, so a
// loaded machine only makes the case slower.
const orphanScript = `
for i in $(seq 50); do (sleep 0.05 & echo $! >> $D/orphans); done
(sh -c 'echo $$ >> $D/orphans; i=0
  while :; do read -r a b c ppid rest < /proc/self/stat; [ "$ppid" = 1 ] && break
    i=$((i+1)); [ $i -gt 1000 ] && break; sleep 0.01; done
  echo $ppid > $D/ppid.tmp; mv $D/ppid.tmp $D/ppid' &)
i=0; while [ ! -e $D/ppid ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
i=0
for p in $(cat $D/orphans); do
	while [ -e /proc/$p ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
done
z=0
for f in /proc/[0-9]*/stat; do
	read -r line < $f || continue
	case "${line##*) }" in Z*) z=$((z+1));; esac
done
echo $z > $D/zombies
`

// Outside PID 1 (sh is PID 1 and waits for the init), an orphan must be
// re-parented to the init, a subreaper, and reaped by it. The orphan waits
// to be re-parented to the init and reports its parent; the child then
// waits for it to leave /proc. Each wait is bounded at about 10 s.
const subreaperScript = `
echo $PPID > $D/init
(sh -c 'echo $$ > $D/opid; init=$(cat $D/init); i=0
  while :; do read -r a b c ppid rest < /proc/self/stat; [ "$ppid" = "$init" ] && break
    i=$((i+1)); [ $i -gt 1000 ] && break; sleep 0.01; done
  echo $ppid > $D/ppid.tmp; mv $D/ppid.tmp $D/ppid' &)
i=0; while [ ! -e $D/ppid ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
i=0; while [ -e /proc/$(cat $D/opid) ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
[ -e /proc/$(cat $D/opid) ] && exit 9
exit 0
`

func TestInitParityWithTini(t *testing.T) {
	requireTools(t)
	cases := []parityCase{
		exitCodeCase("child exits 0: exit 0", 0, "sh", "-c", "exit 0"),
		exitCodeCase("child exits 3: exit 3", 3, "sh", "-c", "exit 3"),
		exitCodeCase("child kills itself with SIGKILL: exit 128+9", 137, "sh", "-c", "kill -KILL $$"),
		exitCodeCase("child dies of SIGTERM: exit 128+15", 143, "sh", "-c", "kill -TERM $$"),
		exitCodeCase("command not found: exit 127", 127, "/nonexistent/command"),
		exitCodeCase("command not executable: exit 126", 126, "/etc/passwd"),
		{
			name: "SIGTERM to PID 1 reaches the child (trap exits 42)",
			outcome: func(t *testing.T, dir string, argv func([]string, ...string) []string) string {
				r := start(t, dir, pidns(argv(nil, "sh", "-c", `trap 'exit 42' TERM; sleep 30 & touch $D/ready; wait`)))
				waitFile(t, filepath.Join(dir, "ready"))
				if err := syscall.Kill(r.pid1(), syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				return "exit " + strconv.Itoa(r.wait())
			},
			want: "exit 42",
		},
		groupCase("-g: SIGTERM reaches the whole process group", []string{"-g"}, "exit 7, child trapped true, grandchild trapped true"),
		groupCase("no -g: SIGTERM reaches the child only", nil, "exit 7, child trapped true, grandchild trapped false"),
		{
			name: "orphan zombies are re-parented to PID 1 and reaped",
			outcome: func(t *testing.T, dir string, argv func([]string, ...string) []string) string {
				code := start(t, dir, pidns(argv(nil, "sh", "-c", orphanScript))).wait()
				return fmt.Sprintf("exit %d, orphan's parent %s, zombies left %s",
					code, readTrim(filepath.Join(dir, "ppid")), readTrim(filepath.Join(dir, "zombies")))
			},
			want: "exit 0, orphan's parent 1, zombies left 0",
		},
		{
			name:  "not PID 1: orphans are re-parented to the subreaper and reaped",
			flags: []string{"-s"},
			outcome: func(t *testing.T, dir string, argv func([]string, ...string) []string) string {
				// sh is PID 1 here; the init is its child.
				inner := append([]string{"sh", "-c", `"$@"; echo $? > $D/code`, "sh"}, argv([]string{"-s"}, "sh", "-c", subreaperScript)...)
				start(t, dir, pidns(inner)).wait()
				init := readTrim(filepath.Join(dir, "init"))
				return fmt.Sprintf("exit %s, orphan re-parented to the init %v",
					readTrim(filepath.Join(dir, "code")), init != "missing" && init == readTrim(filepath.Join(dir, "ppid")))
			},
			want: "exit 0, orphan re-parented to the init true",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := map[impl]string{}
			for _, i := range []impl{corral, tini} {
				dir := t.TempDir()
				got[i] = c.outcome(t, dir, i.argv)
				if got[i] != c.want {
					t.Errorf("%s: got %q, want %q", i, got[i], c.want)
				}
			}
			t.Logf("PARITY | %s | %s | %s |", c.name, got[corral], got[tini])
		})
	}
}
