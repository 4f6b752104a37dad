package daemon

import "golang.org/x/sys/unix"

// The kernel grows a process's descriptor table by doubling it (64, 128,
// 256, ... slots), and while the table is shared by several threads, as a
// Go program's is, each doubling waits for an RCU grace period
// (synchronize_rcu in fs/file.c's expand_fdtable) before it copies the old
// table. On this project's 2-CPU VM that wait is 13-16 ms, and it fell on
// the start's critical path: the monitor loop, making a batch's pipes,
// sat in the pipe2 that crossed 256, 512 and 1,024 descriptors, and the
// spawner with it (three waits to start 1,000 programs, seven to 10,000;
// docs/BENCHMARKS.md, "Issue 14 at 915ab57").
//
// growDescriptorTable makes the table hold n descriptors at once: one
// doubling, and on a goroutine of its own, so that the wait overlaps the
// rest of the start. Meanwhile descriptors still open in the old table
// (the kernel only makes an open wait when it needs a larger table than
// the old one). The table keeps its size, as it would once the programs
// run: 8 bytes of kernel memory per slot.
func growDescriptorTable(n int) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur != unix.RLIM_INFINITY && uint64(n) >= lim.Cur {
		n = int(lim.Cur) - 1
	}
	if n <= 64 { // the table every process starts with
		return
	}
	fd, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	// F_DUPFD takes the lowest free descriptor from n-1 up, so it never
	// replaces one in use (dup2 would), and the table grows to hold it.
	if high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, n-1); err == nil {
		unix.Close(high)
	}
}
