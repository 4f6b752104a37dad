package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOwnIsTheProcessCgroup(t *testing.T) {
	dir, mount, err := Own()
	if err != nil {
		t.Fatalf("this test needs a cgroup v2 hierarchy: %v", err)
	}
	if !strings.HasPrefix(dir, mount) {
		t.Fatalf("own cgroup %s is not under the mount %s", dir, mount)
	}
	pids, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(pids)), fmt.Sprint(os.Getpid())) {
		t.Fatalf("%s/cgroup.procs does not list this process (%d)", dir, os.Getpid())
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/end\04`: `/end\04`} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestKillAndRemoveEndsEveryMember: a process moved into a cgroup, and a
// child it starts in a new session, are killed; the cgroup is then removed.
func TestKillAndRemoveEndsEveryMember(t *testing.T) {
	own, _, err := Own()
	if err != nil {
		t.Fatalf("this test needs a cgroup v2 hierarchy: %v", err)
	}
	dir := filepath.Join(own, fmt.Sprintf("corral-test.%d.%d", os.Getpid(), time.Now().UnixNano()), "leaf")
	if err := Make(dir); err != nil {
		t.Fatalf("this test needs a writable cgroup v2 hierarchy (root or a delegated cgroup): %v", err)
	}
	t.Cleanup(func() { _ = KillAndRemove(filepath.Dir(dir), 10*time.Second) })
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command("/bin/sh", "-c", `setsid sh -c 'echo $$ > "$1"; exec sleep 1000' sh "$1" & wait`, "sh", pidFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var child int
	for deadline := time.Now().Add(10 * time.Second); child == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the shell did not report its child")
		}
		b, _ := os.ReadFile(pidFile)
		fmt.Sscan(string(b), &child)
	}
	pids, err := Procs(filepath.Dir(dir))
	if err != nil || !slices.Contains(pids, cmd.Process.Pid) || !slices.Contains(pids, child) {
		t.Fatalf("Procs = %v, %v; want both %d and %d", pids, err, cmd.Process.Pid, child)
	}
	if pop, err := Populated(dir); err != nil || !pop {
		t.Fatalf("Populated = %v, %v; want true", pop, err)
	}
	if err := KillAndRemove(filepath.Dir(dir), 10*time.Second); err != nil {
		t.Fatal(err) // WaitEmpty failed: a member outlived cgroup.kill
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists: %v", dir, err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the shell ended with %v, want killed", err)
	}
	// The removal proves the setsid child left the cgroup: it ended.
}

// TestPopulatedIgnoresAZombie: Populated is false for a new cgroup, true
// while a process runs in it (or in a cgroup below it), false again as soon
// as that process has exited, before it is reaped (a supervisor asks at
// that moment whether anything else is left), and false for a missing
// directory. Make of an existing directory, and of one whose parent is
// missing, succeeds.
func TestPopulatedIgnoresAZombie(t *testing.T) {
	own, _, err := Own()
	if err != nil {
		t.Fatalf("this test needs a cgroup v2 hierarchy: %v", err)
	}
	top := filepath.Join(own, fmt.Sprintf("corral-test.%d.%d", os.Getpid(), time.Now().UnixNano()))
	dir := filepath.Join(top, "a", "leaf")
	if err := Make(dir); err != nil {
		t.Fatalf("this test needs a writable cgroup v2 hierarchy (root or a delegated cgroup): %v", err)
	}
	t.Cleanup(func() { _ = KillAndRemove(top, 10*time.Second) })
	if err := Make(dir); err != nil {
		t.Fatalf("Make of an existing cgroup: %v", err)
	}
	parent := filepath.Dir(dir)
	if pop, err := Populated(parent); err != nil || pop {
		t.Fatalf("Populated(new cgroup) = %v, %v; want false", pop, err)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	cmd := exec.Command("/bin/sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if pop, err := Populated(parent); err != nil || !pop {
		t.Fatalf("Populated(parent of a running member) = %v, %v; want true", pop, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Wait until it is a zombie, without reaping it.
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if pop, err := Populated(parent); err != nil || pop {
		t.Fatalf("Populated with only a zombie left = %v, %v; want false", pop, err)
	}
	_ = cmd.Wait()
	if pop, err := Populated(filepath.Join(top, "missing")); err != nil || pop {
		t.Fatalf("Populated(missing) = %v, %v; want false, nil", pop, err)
	}
}
