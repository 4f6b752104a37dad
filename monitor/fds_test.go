package monitor

import (
	"bufio"
	"os"
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
// (FDSize in /proc/thread-self/status).
func fdTableSize(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "FDSize:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no FDSize in /proc/thread-self/status")
	return 0
}

// TestReserveDescriptorsGrowsTheTableAndReplacesNothing: the table holds the
// descriptors asked for at once, and a descriptor already open at the
// number ReserveDescriptors takes stays open and the same.
func TestReserveDescriptorsGrowsTheTableAndReplacesNothing(t *testing.T) {
	runtime.LockOSThread() // FDSize is read from this thread's table
	defer runtime.UnlockOSThread()
	before := fdTableSize(t)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	want := 4 * before
	if uint64(want) >= lim.Cur {
		t.Fatalf("RLIMIT_NOFILE %d leaves no room to grow a table of %d to %d", lim.Cur, before, want)
	}
	if err := ReserveDescriptors(want); err != nil {
		t.Fatal(err)
	}
	size := fdTableSize(t)
	if size < want {
		t.Fatalf("table holds %d descriptors after growing to %d (was %d)", size, want, before)
	}

	// Again, to the size it has, with its last descriptor in use: where
	// ReserveDescriptors would take its own.
	held := size - 1
	if _, err := unix.FcntlInt(uintptr(held), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("descriptor %d is already open (%v); the test needs it free", held, err)
	}
	f, err := os.CreateTemp(t.TempDir(), "held")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Dup3(int(f.Fd()), held, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(held)
	if err := ReserveDescriptors(size); err != nil {
		t.Fatal(err)
	}
	var a, b unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(held, &b); err != nil {
		t.Fatalf("descriptor %d was closed: %v", held, err)
	}
	if a.Ino != b.Ino || a.Dev != b.Dev {
		t.Fatalf("descriptor %d was replaced: inode %d, want %d", held, b.Ino, a.Ino)
	}
	// Nothing is left open above it.
	if _, err := unix.FcntlInt(uintptr(held+1), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("descriptor %d left open after growing (%v)", held+1, err)
	}
}
