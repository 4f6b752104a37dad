package initmode_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/initmode/internal/sigqueue"
)

// recorder is the child: it catches every signal named on its command
// line, appends the number of each one it receives to $D/got, and sleeps.
const recorder = `
import os, signal, sys
d = os.environ["D"]
def record(n, frame):
    with open(d + "/got", "a") as f:
        f.write("%d\n" % n)
for s in sys.argv[1:]:
    signal.signal(int(s), record)
open(d + "/ready", "w").close()
while True:
    signal.pause()
`

// Every signal corral init forwards reaches the child when sent to PID 1
// from outside the namespace, as `docker kill -s` sends it, one by one:
// the standard ones (SIGABRT and SIGSYS too) and the real-time ones.
func TestInitForwardsEverySignalToTheChild(t *testing.T) {
	requireTools(t)
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("python3 is needed for the child that records signals: %v", err)
	}
	var sigs []syscall.Signal
	for _, s := range sigqueue.Catchable() {
		if s != syscall.SIGCHLD && s != syscall.SIGTTIN && s != syscall.SIGTTOU {
			sigs = append(sigs, s)
		}
	}
	// Not a test of the list alone: the signals tini forwards.
	for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGCONT, syscall.SIGTSTP,
		syscall.SIGWINCH, syscall.SIGPROF, syscall.SIGPWR, 34, 64} {
		if !slices.Contains(sigs, s) {
			t.Errorf("corral init does not forward %v (%d)", s, s)
		}
	}
	dir := t.TempDir()
	args := []string{"python3", "-c", recorder}
	for _, s := range sigs {
		args = append(args, strconv.Itoa(int(s)))
	}
	r := start(t, dir, pidns(corral.argv(nil, args...)))
	waitFile(t, filepath.Join(dir, "ready"))
	pid1 := r.pid1()
	got := filepath.Join(dir, "got")
	for i, s := range sigs {
		if err := syscall.Kill(pid1, s); err != nil {
			t.Fatal(err)
		}
		// The child records each signal before the next is sent.
		deadline := time.Now().Add(10 * time.Second)
		for len(recorded(got)) < i+1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if f := recorded(got); len(f) < i+1 || f[i] != strconv.Itoa(int(s)) {
			t.Fatalf("after sending %v (%d): child recorded %v", s, s, f)
		}
	}
}

// recorded lists the signal numbers the recorder wrote to path.
func recorded(path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(string(b))
}
