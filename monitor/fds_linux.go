package monitor

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloseOnExecInherited marks every open descriptor above standard error
// close-on-exec, so that the processes a Monitor starts get their stdio and
// nothing this program inherited from its parent.
//
// Go opens all its own descriptors close-on-exec; the ones a parent left open
// (a shell's, a service manager's, a test harness's) are not, and the monitor,
// like os/exec, passes them on to every child. Changing that is a
// process-wide action, so the monitor never does it by itself: a program
// that wants it calls CloseOnExecInherited once at the top of main, before it
// opens any descriptor it means its children to inherit. corral daemon does.
//
// It uses close_range(2) with CLOSE_RANGE_CLOEXEC (Linux 5.11) and falls back
// to walking /proc/self/fd.
func CloseOnExecInherited() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("close_range: %w", err)
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("mark inherited descriptors close-on-exec: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("mark inherited descriptors close-on-exec: %w", err)
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < 3 {
			continue
		}
		// The directory's own descriptor is listed too (and already
		// close-on-exec); one closed since the listing gives EBADF.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return fmt.Errorf("mark descriptor %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}
