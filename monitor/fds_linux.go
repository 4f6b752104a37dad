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

// ReserveDescriptors grows this program's descriptor table to hold n
// descriptors (at most RLIMIT_NOFILE) in one step, for a program about to
// open a descriptor or two per process for many processes (their stdio
// pipes).
//
// The kernel grows a descriptor table by doubling it (64, 128, 256, ...
// slots), and while the table is shared by several threads, as every Go
// program's is, each doubling first waits for an RCU grace period
// (synchronize_rcu in expand_fdtable): 13-16 ms on a small VM. Grown one
// pipe at a time, the table waits three times on the way to 1,000 programs
// and seven to 10,000, each time inside the pipe2 of a batch of spawns.
// Grown here it waits once; called from a goroutine of its own, that wait
// overlaps the rest of the program's start, and meanwhile other
// descriptors still open in the old table. The table keeps its size (8
// bytes of kernel memory per slot), as it would once the processes run.
//
// It takes one descriptor with F_DUPFD from n-1 up, which never replaces
// a descriptor in use, and closes it.
func ReserveDescriptors(n int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reserve descriptors: getrlimit: %w", err)
	}
	if lim.Cur != unix.RLIM_INFINITY && uint64(n) >= lim.Cur {
		n = int(lim.Cur) - 1
	}
	if n <= 64 { // every table holds as many
		return nil
	}
	fd, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("reserve descriptors: %w", err)
	}
	defer unix.Close(fd)
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, n-1)
	if err != nil {
		return fmt.Errorf("reserve descriptors: F_DUPFD %d: %w", n-1, err)
	}
	return unix.Close(high)
}
