package monitor

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCloseOnExecInheritedMarksEveryDescriptor clears close-on-exec on a
// pipe, as a parent's leftover descriptor would be, and asserts that
// CloseOnExecInherited sets it again and leaves stdio alone.
func TestCloseOnExecInheritedMarksEveryDescriptor(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	fd := r.Fd()
	if _, err := unix.FcntlInt(fd, unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	stdio := make([]int, 3)
	for i := range stdio {
		stdio[i], _ = unix.FcntlInt(uintptr(i), unix.F_GETFD, 0)
	}
	if err := CloseOnExecInherited(); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(fd, unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd %d is not close-on-exec after CloseOnExecInherited", fd)
	}
	for i := range stdio {
		if got, _ := unix.FcntlInt(uintptr(i), unix.F_GETFD, 0); got != stdio[i] {
			t.Errorf("fd %d flags changed from %#x to %#x", i, stdio[i], got)
		}
	}
}
