package initmode_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// corral init with one child runs on the Go runtime's own threads: the
// main thread, sysmon and one more for the P that main hands off while it
// waits during start-up (package inits run with main locked to the main
// thread) or in a blocking system call. In about one start in ten the
// runtime starts a second such thread before main runs (runtime.main
// waits twice for its GC goroutines, and the thread of the first wait is
// not yet back on the idle list at the second), so the bound is 4, not
// 3. A goroutine per child, os/signal (3 threads) or a second P (2) would
// show here.
func TestInitWithOneChildHasAtMostFourThreads(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Fatalf("package sigqueue has a signal handler of its own on amd64 only; on %s init uses os/signal (5 threads)", runtime.GOARCH)
	}
	requireTools(t)
	dir := t.TempDir()
	// As PID 1 of a namespace (killing unshare at cleanup kills the
	// sleep too); the child sleeps until then.
	r := start(t, dir, pidns([]string{corralBin, "init", "--", "sh", "-c", `touch $D/ready; exec sleep 60`}))
	waitFile(t, filepath.Join(dir, "ready"))
	pid := r.pid1()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			if n < 1 || n > 4 {
				t.Errorf("corral init with one child has %d threads, want at most 4", n)
			}
			return
		}
	}
	t.Fatalf("no Threads line in /proc/%d/status", pid)
}
