package daemon

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/monitor"
	"github.com/corralhq/corral/store"
)

// crashChildEnv makes the test binary run a daemon (crashChild) instead of
// the tests: a daemon the test can kill with SIGKILL.
const crashChildEnv = "CORRAL_TEST_CRASH_DAEMON"

// init locks the crash child's main goroutine to the main thread, which
// then forks its programs as corral daemon's does (monitor.RunSpawner).
func init() {
	if os.Getenv(crashChildEnv) != "" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(crashChildEnv); cfg != "" {
		monitor.RunSpawner(func() int {
			crashChild(cfg, os.Getenv("CORRAL_TEST_KILL_BEFORE_RECORDING"), os.Getenv("CORRAL_TEST_WAIT_FOR"))
			return 0
		})
	}
	os.Exit(m.Run())
}

// crashChild runs a daemon on the config file path, reloads it on SIGHUP,
// and kills itself with SIGKILL right before it would record the spawn of
// the process named killAt, once the file waitFor has content (written by
// what that process forks).
func crashChild(path, killAt, waitFor string) {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fail := func(err error) {
		log.Error("crash child", "err", err)
		os.Exit(3)
	}
	testHookBeforeRecord = func(batch map[string]*store.Running) {
		if _, ok := batch[killAt]; !ok {
			return
		}
		for deadline := time.Now().Add(hang); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if b, _ := os.ReadFile(waitFor); len(b) > 0 {
				break
			}
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	cfg, err := config.Load(path)
	if err != nil {
		fail(err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	d, err := New(cfg, Options{Logger: log})
	if err != nil {
		fail(err)
	}
	d.Start()
	if err := os.WriteFile(path+".ready", []byte("1"), 0o600); err != nil {
		fail(err)
	}
	for range hup {
		if _, err := d.Reload(context.Background()); err != nil {
			fail(err)
		}
	}
}

// alivePids returns the pids listed in file (one a line) that are alive and
// not zombies.
func alivePids(t *testing.T, file string) (all, alive []int) {
	t.Helper()
	b, _ := os.ReadFile(file)
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid file %s: %q", file, b)
		}
		all = append(all, pid)
		if fs := statFields(pid); len(fs) > 0 && fs[0] != "Z" && fs[0] != "X" {
			alive = append(alive, pid)
		}
	}
	return all, alive
}

// A daemon killed with SIGKILL after a reload spawned a program that forks
// a grandchild, but before it recorded the spawn: the next daemon must end
// the grandchild, so exactly one copy runs beside the program it restarts.
func TestKillDuringReloadLeavesNoSecondCopy(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "grandchild.pids")
	base := `
[program.base]
command = "sleep 1000"
start_secs = "0s"
`
	// The program forks a grandchild that outlives the fork's parent
	// (a double fork, as daemons do), writes its pid, and waits.
	added := base + `
[program.forker]
command = ["sh", "-c", "(sleep 1000 & echo $! >> ` + pids + `); exec sleep 1000"]
start_secs = "0s"
`
	path := writeConfig(t, dir, base)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), crashChildEnv+"="+path, "CORRAL_TEST_KILL_BEFORE_RECORDING=forker", "CORRAL_TEST_WAIT_FOR="+pids)
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
		_, alive := alivePids(t, pids)
		for _, pid := range alive {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	for deadline := time.Now().Add(hang); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path + ".ready"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first daemon never started")
		}
	}
	writeConfig(t, dir, added)
	if err := child.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	err := child.Wait()
	if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("first daemon ended with %v, want SIGKILL from its hook", err)
	}
	first, alive := alivePids(t, pids)
	if len(first) != 1 || len(alive) != 1 {
		t.Fatalf("after the kill: grandchildren %v, alive %v; want one, alive", first, alive)
	}

	d := startDaemon(t, path)
	waitState(t, d, "forker", "RUNNING")
	for deadline := time.Now().Add(hang); ; time.Sleep(10 * time.Millisecond) {
		all, alive := alivePids(t, pids)
		if len(all) == 2 && len(alive) == 1 {
			if alive[0] != all[1] {
				t.Fatalf("the surviving grandchild is %d, want the new one %d (all: %v)", alive[0], all[1], all)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchildren %v, alive %v: want two started, exactly one (the new) alive", all, alive)
		}
	}
}
