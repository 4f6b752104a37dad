package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/cgroup"
)

// Containers as programs (docs/CONTAINERS.md): real runc containers with
// a busybox root file system, run as corral programs with the hooks of the
// recipe. CI installs runc and busybox-static; a host where they are
// missing or runc cannot run a container fails these tests and says why.

// container is one runc container under test: its bundle, runc's state
// directory (--root) and its id.
type container struct {
	runc, root, bundle, id string
}

func needRunc(t *testing.T) string {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal("runc is not installed (Debian: apt-get install runc); these tests run real containers")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Fatal("/bin/busybox is missing (Debian: apt-get install busybox-static); it is the containers' root file system")
	}
	if os.Geteuid() != 0 {
		t.Fatal("runc containers need root here (these tests do not set up rootless containers)")
	}
	return runc
}

// newContainer builds a bundle whose init runs script under busybox sh.
func newContainer(t *testing.T, script string) *container {
	t.Helper()
	c := &container{runc: needRunc(t), root: t.TempDir(), bundle: t.TempDir(),
		id: fmt.Sprintf("corral-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	bin := filepath.Join(c.bundle, "rootfs", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"sh", "sleep", "setsid"} {
		if err := os.Symlink("busybox", filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(c.runc, "spec", "--bundle", c.bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	path := filepath.Join(c.bundle, "config.json")
	var spec map[string]any
	if b, err = os.ReadFile(path); err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"/bin/sh", "-c", script}
	spec["root"].(map[string]any)["readonly"] = true
	if b, err = json.Marshal(spec); err == nil {
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever the test left: the container, by runc's own delete.
		_ = exec.Command(c.runc, "--root", c.root, "delete", "-f", c.id).Run()
	})
	return c
}

// program is the recipe of docs/CONTAINERS.md as a TOML program.
func (c *container) program(name string, stopTimeout time.Duration) string {
	r := func(args ...string) string {
		q := []string{strconv.Quote(c.runc), `"--root"`, strconv.Quote(c.root)}
		for _, a := range args {
			q = append(q, strconv.Quote(a))
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return fmt.Sprintf(`
[program.%s]
command = %s
pre_start = %s
stop_command = %s
post_stop = %s
stop_timeout = %q
start_secs = "0s"
restart = "no"
`, name, r("run", "--bundle", c.bundle, c.id), r("delete", "-f", c.id), r("kill", c.id, "TERM"), r("delete", "-f", c.id), stopTimeout.String())
}

// running waits until the container runs and returns every pid in its
// cgroup (on the host) and that cgroup's directory.
func (c *container) running(t *testing.T) (pids []int, dir string) {
	t.Helper()
	for deadline := time.Now().Add(hang); ; time.Sleep(20 * time.Millisecond) {
		out, err := exec.Command(c.runc, "--root", c.root, "state", c.id).Output()
		var st struct {
			Status string
			Pid    int
		}
		if err == nil && json.Unmarshal(out, &st) == nil && st.Status == "running" && st.Pid > 0 {
			dir = cgroupOf(t, st.Pid)
			if pids, err = cgroup.Procs(dir); err == nil && len(pids) >= 3 {
				return pids, dir // sh, its sleep and the setsid one
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s never ran with its three processes (runc state: %s %v)", c.id, out, err)
		}
	}
}

// assertGone fails unless every pid ended, the container's cgroup is gone
// or empty, and runc has no state left for it.
func (c *container) assertGone(t *testing.T, pids []int, dir string) {
	t.Helper()
	for _, pid := range pids {
		waitGone(t, pid)
	}
	if err := cgroup.WaitEmpty(dir, hang); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(hang); ; time.Sleep(20 * time.Millisecond) {
		_, err := os.Stat(filepath.Join(c.root, c.id))
		if os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			out, _ := exec.Command(c.runc, "--root", c.root, "list").CombinedOutput()
			t.Fatalf("runc state of %s is left (%v): %s", c.id, err, out)
		}
	}
}

const (
	initStops    = `trap 'exit 0' TERM; setsid sleep 1000 & sleep 1000 & wait`
	initIgnoring = `trap '' TERM; setsid sleep 1000 & sleep 1000 & while :; do wait; done`
)

// TestContainerProgramLeavesNothing: a runc container run as a program,
// after a stop, after the stop timeout (an init that ignores TERM), after
// runc itself is killed with SIGKILL, and after the daemon's shutdown: no
// process of it alive and no runtime state left.
func TestContainerProgramLeavesNothing(t *testing.T) {
	for _, how := range []string{"stop", "stop-timeout", "kill-runtime", "shutdown"} {
		t.Run(how, func(t *testing.T) {
			script := initStops
			if how == "stop-timeout" {
				script = initIgnoring
			}
			c := newContainer(t, script)
			dir := t.TempDir()
			d := startDaemon(t, writeConfig(t, dir, c.program("ctr", time.Second)))
			st := waitState(t, d, "ctr", "RUNNING")
			pids, cg := c.running(t)
			ctx, cancel := context.WithTimeout(context.Background(), hang)
			defer cancel()
			switch how {
			case "stop", "stop-timeout":
				if res, err := d.StopProcesses(ctx, []string{"ctr"}, true); err != nil {
					t.Fatalf("stop: %+v %v", res, err)
				}
				sts, _ := d.Status("ctr")
				wantSig := ""
				if how == "stop-timeout" {
					wantSig = "KILL"
				}
				if len(sts) != 1 || sts[0].LastExit == nil || sts[0].LastExit.Signal != wantSig {
					t.Fatalf("status after the stop: %+v; want the runtime ended by %q", sts, wantSig)
				}
			case "kill-runtime":
				if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				waitState(t, d, "ctr", "EXITED")
			case "shutdown":
				if err := d.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
			}
			c.assertGone(t, pids, cg)
		})
	}
}

// TestContainerProgramAfterADaemonKill: a daemon killed with SIGKILL
// leaves its container running (runc gave it a session and a cgroup of its
// own); the next daemon's pre_start ends it and starts a fresh one, and its
// shutdown leaves nothing.
func TestContainerProgramAfterADaemonKill(t *testing.T) {
	c := newContainer(t, initStops)
	dir := t.TempDir()
	path := writeConfig(t, dir, c.program("ctr", time.Second))
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), crashChildEnv+"="+path, "CORRAL_TEST_KILL_BEFORE_RECORDING=", "CORRAL_TEST_WAIT_FOR=")
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	})
	old, oldCg := c.running(t)
	if len(old) == 0 {
		t.Fatal("no container process")
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	for _, pid := range old {
		if fs := statFields(pid); len(fs) == 0 || fs[0] == "Z" {
			t.Fatalf("container process %d died with the daemon: the test proves nothing", pid)
		}
	}
	d := startDaemon(t, path)
	waitState(t, d, "ctr", "RUNNING")
	for _, pid := range old {
		waitGone(t, pid)
	}
	fresh, cg := c.running(t)
	for _, pid := range fresh {
		for _, o := range old {
			if pid == o {
				t.Fatalf("pid %d of the old container is in the new one", pid)
			}
		}
	}
	if pids, _ := cgroup.Procs(oldCg); len(pids) != len(fresh) {
		t.Fatalf("the container's cgroup %s holds %v, want only the fresh container's %v", oldCg, pids, fresh)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.assertGone(t, fresh, cg)
}
