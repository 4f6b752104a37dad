package monitor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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

// fdTableSize is the size of the calling thread's descriptor table
// (FDSize in /proc/thread-self/status), read with raw system calls.
func fdTableSize() (int, error) {
	fd, err := unix.Open("/proc/thread-self/status", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 16<<10)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(buf[:n]), "\n") {
		if v, ok := strings.CutPrefix(line, "FDSize:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New("no FDSize in /proc/thread-self/status")
}

// TestReserveDescriptorsGrowsTheTableAndReplacesNothing: the table holds the
// descriptors asked for at once, and a descriptor already open at the
// number ReserveDescriptors takes stays open and the same.
//
// It runs on a thread with a table of its own (unshare(CLONE_FILES)), sized
// to the descriptors open now rather than to whatever the test process
// grew its table to before (a table never shrinks). The thread ends with
// the goroutine, locked, and its table with it.
func TestReserveDescriptorsGrowsTheTableAndReplacesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held")
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		done <- reserveOnOwnTable(path)
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func reserveOnOwnTable(path string) error {
	if err := unix.Unshare(unix.CLONE_FILES); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	before, err := fdTableSize()
	if err != nil {
		return err
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	want := 4 * before
	if uint64(want) >= lim.Cur {
		return fmt.Errorf("RLIMIT_NOFILE %d leaves no room to grow a table of %d to %d", lim.Cur, before, want)
	}
	if err := ReserveDescriptors(want); err != nil {
		return err
	}
	size, err := fdTableSize()
	if err != nil {
		return err
	}
	if size < want {
		return fmt.Errorf("table holds %d descriptors after growing to %d (was %d)", size, want, before)
	}

	// Again, to the size it has, with its last descriptor in use: where
	// ReserveDescriptors would take its own.
	held := size - 1
	if _, err := unix.FcntlInt(uintptr(held), unix.F_GETFD, 0); err != unix.EBADF {
		return fmt.Errorf("descriptor %d is already open (%v); the test needs it free", held, err)
	}
	f, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer unix.Close(f)
	if err := unix.Dup3(f, held, unix.O_CLOEXEC); err != nil {
		return err
	}
	defer unix.Close(held)
	if err := ReserveDescriptors(size); err != nil {
		return err
	}
	var a, b unix.Stat_t
	if err := unix.Fstat(f, &a); err != nil {
		return err
	}
	if err := unix.Fstat(held, &b); err != nil {
		return fmt.Errorf("descriptor %d was closed: %w", held, err)
	}
	if a.Ino != b.Ino || a.Dev != b.Dev {
		return fmt.Errorf("descriptor %d was replaced: inode %d, want %d", held, b.Ino, a.Ino)
	}
	// Nothing is left open above it.
	if _, err := unix.FcntlInt(uintptr(held+1), unix.F_GETFD, 0); err != unix.EBADF {
		return fmt.Errorf("descriptor %d left open after growing (%v)", held+1, err)
	}
	return nil
}
