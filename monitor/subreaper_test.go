package monitor

import (
	"context"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func isSubreaper(t *testing.T) bool {
	t.Helper()
	var v int32
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	return v != 0
}

// TestSubreaperIsClearedAfterShutdown: a monitor that made the process a
// child subreaper undoes it when it shuts down, so orphans of later work
// do not become zombies no one reaps (other tests once found them); it
// leaves the setting alone when the process was a subreaper already.
func TestSubreaperIsClearedAfterShutdown(t *testing.T) {
	for _, before := range []bool{false, true} {
		v := 0
		if before {
			v = 1
		}
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, uintptr(v), 0, 0, 0); err != nil {
			t.Fatal(err)
		}
		m, err := New(Options{Subreaper: true})
		if err != nil {
			t.Fatal(err)
		}
		if !isSubreaper(t) {
			t.Errorf("before=%v: not a subreaper while the monitor runs", before)
		}
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		err = m.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if got := isSubreaper(t); got != before {
			t.Errorf("before=%v: subreaper %v after Shutdown", before, got)
		}
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
}
