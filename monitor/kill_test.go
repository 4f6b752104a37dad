package monitor

import (
	"syscall"
	"testing"
	"time"
)

func killPid(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

func waitNoChildren(t testing.TB) {
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.ECHILD {
			return
		}
		if pid == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Errorf("children still alive after %v", hang)
}
